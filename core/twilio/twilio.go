// Package twilio delivers Countersign's SMS and voice-call messages through
// Twilio's Programmable Messaging and Voice APIs (twilio-go), and checks the
// X-Twilio-Signature of Twilio's webhooks.
//
// [SMS] and [Voice] implement core.Sender. Both map Twilio's error codes to
// core's taxonomy: recipient problems that retrying cannot fix (invalid or
// opted-out number, geo permissions, …) become *core.PermanentError; wrong
// or revoked credentials and a sender the account does not own become a
// *core.MisconfiguredError (the outbox parks the message until an
// administrator fixes the settings); rate limits, 5xx and network failures
// are plain errors the outbox retries.
//
// twilio-go calls take no context. Each Send therefore builds a short-lived
// twilio-go client whose HTTP transport carries Send's ctx, so cancelling ctx
// aborts the HTTP request; see shared/reference/channels.md §1 for the library
// facts this relies on.
package twilio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/countersign/countersign/core"
)

// DefaultTimeout bounds one Twilio REST request when Config.HTTPClient has no
// timeout of its own; it matches twilio-go's default client.
const DefaultTimeout = 10 * time.Second

// Config is one Twilio account as Countersign uses it.
type Config struct {
	// AccountSID is the account ("AC…"); it goes into every REST path.
	AccountSID string
	// APIKeySID is an API key ("SK…") to authenticate REST calls with; ""
	// means authenticate as AccountSID with the auth token in Secret. API
	// keys can be revoked without rotating the auth token.
	APIKeySID string
	// Secret is the API key secret when APIKeySID is set, else the auth token.
	Secret string
	// AuthToken is the account auth token that signs webhooks (Twilio signs
	// with it even when REST calls use an API key). "" means Secret when
	// APIKeySID is empty. Only WebhookValidator uses it.
	AuthToken string
	// From is the default E.164 sender for SMS and the caller ID for calls;
	// Outbound.From overrides it per message.
	From string
	// MessagingServiceSID ("MG…") sends SMS through a Messaging Service; ""
	// means send from From. Calls always need a From.
	MessagingServiceSID string
	// HTTPClient carries REST calls; nil means a client with DefaultTimeout
	// that does not follow redirects (twilio-go's default). Tests pass
	// twiliotest.Server.HTTPClient.
	HTTPClient *http.Client
}

// Client sends SMS and calls for one Twilio account. It is safe for
// concurrent use.
type Client struct {
	cfg     Config
	http    *http.Client
	timeout time.Duration
}

var (
	// twilio-go rejects non-alphanumeric credentials before sending
	// (errors 21222/21224); checking in New turns that into a startup error.
	alnum = regexp.MustCompile(`^[a-zA-Z0-9]+$`)
	e164  = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)
)

// New checks cfg and returns a Client for it.
func New(cfg Config) (*Client, error) {
	switch {
	case len(cfg.AccountSID) < 3 || cfg.AccountSID[:2] != "AC" || !alnum.MatchString(cfg.AccountSID):
		return nil, core.Errorf(core.KindInvalid, "twilio: account SID must look like AC…")
	case cfg.APIKeySID != "" && (cfg.APIKeySID[:min(2, len(cfg.APIKeySID))] != "SK" || !alnum.MatchString(cfg.APIKeySID)):
		return nil, core.Errorf(core.KindInvalid, "twilio: API key SID must look like SK…")
	case !alnum.MatchString(cfg.Secret):
		return nil, core.Errorf(core.KindInvalid, "twilio: secret must be non-empty and alphanumeric")
	case cfg.From != "" && !e164.MatchString(cfg.From):
		return nil, core.Errorf(core.KindInvalid, "twilio: from number must be E.164, e.g. +15550100100")
	case cfg.MessagingServiceSID != "" && (len(cfg.MessagingServiceSID) < 3 || cfg.MessagingServiceSID[:2] != "MG"):
		return nil, core.Errorf(core.KindInvalid, "twilio: messaging service SID must look like MG…")
	case cfg.From == "" && cfg.MessagingServiceSID == "":
		return nil, core.Errorf(core.KindInvalid, "twilio: a from number or messaging service is required")
	}
	if cfg.AuthToken == "" && cfg.APIKeySID == "" {
		cfg.AuthToken = cfg.Secret
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	timeout := hc.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Client{cfg: cfg, http: hc, timeout: timeout}, nil
}

// SMS returns the sender for text messages.
func (c *Client) SMS() *SMS { return &SMS{c: c} }

// Voice returns the sender for calls that read a code.
func (c *Client) Voice() *Voice { return &Voice{c: c} }

// WebhookValidator returns a validator for this account's webhooks served
// under publicBaseURL, keyed with Config.AuthToken plus any nextTokens
// (during auth-token rotation).
func (c *Client) WebhookValidator(publicBaseURL string, nextTokens ...string) *WebhookValidator {
	return NewWebhookValidator(publicBaseURL, append([]string{c.cfg.AuthToken}, nextTokens...)...)
}

// api returns a twilio-go API service bound to ctx. twilio-go builds its
// requests with context.Background, so ctx reaches the wire only through the
// transport; a fresh service per call keeps one call's ctx out of another's.
// The handler is built directly, not with NewRequestHandler, so the
// TWILIO_EDGE/TWILIO_REGION environment cannot redirect tenant traffic.
func (c *Client) api(ctx context.Context) *api.ApiService {
	next := c.http.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	hc := &http.Client{
		Transport:     ctxTransport{ctx: ctx, next: next},
		CheckRedirect: c.http.CheckRedirect,
		Jar:           c.http.Jar,
		// No Timeout: callers put the deadline on ctx instead, because the
		// client's own deadline would be dropped when the transport swaps ctx.
	}
	user := c.cfg.AccountSID
	if c.cfg.APIKeySID != "" {
		user = c.cfg.APIKeySID
	}
	tc := &client.Client{Credentials: client.NewCredentials(user, c.cfg.Secret), HTTPClient: hc}
	tc.SetAccountSid(c.cfg.AccountSID)
	return api.NewApiService(&client.RequestHandler{Client: tc})
}

// ctxTransport attaches a context to requests built without one.
type ctxTransport struct {
	ctx  context.Context
	next http.RoundTripper
}

func (t ctxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.next.RoundTrip(r.WithContext(t.ctx))
}

// mapError translates a twilio-go error. See the package doc for the policy.
func mapError(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("twilio: %s: %w", op, ctxErr)
	}
	var rest *client.TwilioRestError
	if !errors.As(err, &rest) {
		return fmt.Errorf("twilio: %s: %w", op, err)
	}
	code := fmt.Sprint(rest.Code)
	if fix, ok := misconfiguredCodes[rest.Code]; ok || rest.Status == http.StatusUnauthorized {
		// Wrong or revoked credentials, a sender the account does not
		// own: not the recipient's fault (a PermanentError would read as a
		// problem with the number) and no outage either. The outbox parks
		// the message until an administrator saves a fix.
		if !ok {
			fix = misconfiguredCodes[20003]
		}
		return core.Misconfigured(fix, code, rest.Message, fmt.Errorf("twilio: %s: %w", op, rest))
	}
	if reason, ok := permanentCodes[rest.Code]; ok {
		return &core.PermanentError{Code: code, Reason: reason, Err: fmt.Errorf("twilio: %s: %w", op, rest)}
	}
	// 429, 5xx and codes we do not know: retry with backoff.
	return fmt.Errorf("twilio: %s: %w", op, rest)
}

// misconfiguredCodes are Twilio errors about our account or sender that
// only an administrator can fix, with what to fix.
// https://www.twilio.com/docs/api/errors
var misconfiguredCodes = map[int]string{
	20003: "Twilio rejected the account SID and auth token (or API key): check them in the SMS settings; a revoked API key needs a new one",
	20005: "the Twilio account is suspended or closed: reactivate it in the Twilio console",
	21212: "the sender number is not a valid phone number: check the from number in the SMS settings",
	21210: "the caller ID is not a number of this Twilio account or a verified caller ID: check the from number in the SMS settings",
	21659: "the sender number is not a number of this Twilio account: check the from number in the SMS settings",
	21701: "the Twilio messaging service does not exist: check the messaging service SID in the SMS settings",
	21703: "the Twilio messaging service has no phone number to send from: add one to it in the Twilio console",
}

// permanentCodes are Twilio errors about the recipient or the message that
// no retry can fix, with the reason shown to the technician.
// https://www.twilio.com/docs/api/errors
var permanentCodes = map[int]string{
	13224: "the number is not a valid phone number for calls",
	13227: "calls to this country are not enabled (geo permissions)",
	21211: "the phone number is not valid",
	21214: "the phone number cannot be reached",
	21215: "calls to this number are not allowed (geo permissions)",
	21216: "calls to this number are blocked",
	21217: "the phone number does not appear to be valid",
	21219: "the number is not verified for this trial account",
	21408: "SMS to this country is not enabled (geo permissions)",
	21602: "the message is empty",
	21606: "the sender number cannot send SMS to this recipient",
	21608: "the number is not verified for this trial account",
	21610: "recipient has opted out of SMS from this number",
	21612: "this number cannot receive SMS from our sender",
	21614: "the number cannot receive SMS (not a mobile number)",
	21617: "the message is too long",
	21635: "the number cannot receive SMS (landline)",
}

// seconds rounds d up to whole seconds and clamps it to [lo, hi].
func seconds(d time.Duration, lo, hi int) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(lo, min(s, hi))
}
