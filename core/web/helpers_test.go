package web_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/auth"
	"github.com/countersign/countersign/core/live"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/secret"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/testkit"
	"github.com/countersign/countersign/core/twilio"
	"github.com/countersign/countersign/core/web"
	"github.com/countersign/countersign/core/web/webtest"
	"github.com/stretchr/testify/require"
)

const (
	publicURL = webtest.PublicURL
	// twilioToken signs the Twilio status callbacks the server accepts:
	// webtest's.
	twilioToken = "token123"
	password    = webtest.Password
)

// clock is the server's settable clock.
type clock = testkit.Clock

// capture is a Sender that records what it is given and answers with a
// unique provider reference, like Twilio's MessageSid.
type capture struct{ *testkit.Capture }

// last returns the last message sent and its provider reference.
func (c *capture) last(t *testing.T) (core.Outbound, string) {
	t.Helper()
	return c.LastRef(t)
}

var (
	codeRE  = regexp.MustCompile(`\b(\d{3}) ?(\d{3})\b`)
	linkRE  = regexp.MustCompile(`https?://\S+/l/[^/\s]+/[A-Za-z0-9_-]+`)
	nonceRE = regexp.MustCompile(`name="nonce" value="([^"]*)"`)
)

// codeIn returns the six-digit code in m.
var codeIn = webtest.CodeIn

// linkPathIn returns the path (/l/{slug}/{token}) and the token of the link
// in m.
func linkPathIn(t *testing.T, m core.Outbound) (path, token string) {
	t.Helper()
	link := linkRE.FindString(m.Text)
	require.NotEmpty(t, link, "no link in the message")
	u, err := url.Parse(link)
	require.NoError(t, err)
	parts := strings.Split(u.Path, "/")
	require.Len(t, parts, 4)
	return u.Path, parts[3]
}

// cheapHash is a cheap argon2id hash of a technician's password.
var cheapHash = webtest.PasswordHash

// tenantData is one tenant with a client, a contact (phone + email) and a
// technician who can sign in with password.
type tenantData struct {
	tenant  core.Tenant
	client  core.Client
	contact core.Contact
	tech    core.Technician
}

// tenantOf is a tenant of the kit's server as these tests name its parts.
func tenantOf(k webtest.Tenant) tenantData {
	return tenantData{tenant: k.Tenant, client: k.Client, contact: k.Contact, tech: k.Tech}
}

// kit is d as webtest names its parts.
func (d tenantData) kit() webtest.Tenant {
	return webtest.Tenant{Tenant: d.tenant, Client: d.client, Contact: d.contact, Tech: d.tech}
}

// env is a Countersign server over a real store, a fake clock and capturing
// senders, served by httptest: webtest's server, with what these tests
// choose about it (envOptions) and their names for its parts.
type env struct {
	kit             *webtest.Env
	st              *store.Store
	eng             *core.Engine
	clk             *clock
	sms, mail, call *capture
	logs            *testkit.LogBuffer
	srv             struct{ URL string } // where the server listens
	web             *web.Server          // acts on inbound PSA events from the outbox
	psa             *psa.Clients
	hub             *live.Hub      // the engine publishes here; /api/v1/live watches it
	bridge          *live.PGBridge // nil unless envOptions.bridgeDSN
	a, b            tenantData     // b is another tenant, for isolation checks
	keys            *secret.Keyring
}

type envOptions struct {
	requireTOTP bool
	// descriptors and psaDeps build the server's PSA clients; nil means
	// psaDescriptors(t) and webtest's Deps.
	descriptors []psa.Descriptor
	psaDeps     func(core.Integration) psa.Deps
	// auth, when set, is changed before the server uses it (a gate, a
	// lockout); addrThrottle and tenantThrottle replace the default
	// sign-in throttles, trustedProxies the default of none.
	auth                         func(*web.PasswordAuth)
	addrThrottle, tenantThrottle *auth.Throttle
	// selfServeThrottle replaces the self-serve page's wrong-code throttle.
	selfServeThrottle *auth.Throttle
	trustedProxies    []netip.Prefix
	// metricsToken replaces the default metricsToken; "-" means none.
	metricsToken string
	// publicURL replaces the server's default publicURL.
	publicURL string
	// duo, when set, makes Duo push available (a connector to a fake Duo).
	duo core.DuoConnector
	// microsoft, when set, makes Microsoft 365 available (a connector to
	// a fake tenant).
	microsoft core.MicrosoftConnector
	// bridgeDSN, when set, links the hub to the other servers on that
	// PostgreSQL database (live.PGBridge, run until the test ends, with
	// bridgeBackoff between reconnections; zero means 50 ms); newEnv
	// returns once it listens.
	bridgeDSN     string
	bridgeBackoff time.Duration
	// techCacheTTL is web.Config.TechnicianCacheTTL.
	techCacheTTL time.Duration
}

// metricsToken is the bearer token of the test servers' /metrics.
const metricsToken = "metrics-token-0123456789"

func newEnv(t *testing.T, st *store.Store, opts ...envOptions) *env {
	t.Helper()
	var o envOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.descriptors == nil {
		o.descriptors = psaDescriptors(t)
	}
	e := &env{st: st}
	metrics := web.NewMetrics()
	e.kit = webtest.New(t, st, webtest.Options{Descriptors: o.descriptors, Deps: o.psaDeps,
		Engine: func(k *webtest.Env, c *core.Config) {
			e.clk, e.logs, e.hub, e.keys, e.psa = k.Clock, k.Logs, k.Hub, k.Keys, k.PSA
			e.sms, e.mail, e.call = &capture{k.SMS}, &capture{k.Mail}, &capture{k.Call}
			if o.bridgeDSN != "" {
				e.bridge = startBridge(t, k.Hub, o.bridgeDSN, o.bridgeBackoff, k.Logger)
				c.Publisher = e.bridge
			}
			c.Observer, c.Channels, c.Duo, c.Microsoft = metrics, captureChannels{e}, o.duo, o.microsoft
		},
		Server: func(_ *webtest.Env, c *web.Config) {
			pa := c.Auth.(*web.PasswordAuth)
			pa.RequireTOTP = o.requireTOTP
			if o.auth != nil {
				o.auth(pa)
			}
			switch o.metricsToken {
			case "":
				c.MetricsToken = metricsToken
			case "-":
			default:
				c.MetricsToken = o.metricsToken
			}
			if o.publicURL != "" {
				c.PublicURL = o.publicURL
			}
			c.AddressThrottle, c.TenantThrottle, c.SelfServeThrottle = o.addrThrottle, o.tenantThrottle, o.selfServeThrottle
			c.TrustedProxies = o.trustedProxies
			c.TwilioAccountSID = "AC0123456789abcdef0123456789abcdef"
			c.TwilioWebhookValidator = func(tokens ...string) web.StatusWebhook {
				return twilio.NewWebhookValidator(publicURL, tokens...)
			}
			c.Metrics, c.TechnicianCacheTTL = metrics, o.techCacheTTL
		}})
	e.eng, e.web, e.srv.URL = e.kit.Engine, e.kit.Web, e.kit.URL
	e.a, e.b = tenantOf(e.kit.A), tenantOf(e.kit.B)
	return e
}

// client returns an HTTP client with its own cookie jar that does not
// follow redirects.
func (e *env) client(t *testing.T) *http.Client {
	t.Helper()
	return e.kit.Client(t)
}

// response is a read HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

// JSON decodes the body as a JSON object.
func (r response) JSON(t *testing.T) map[string]any {
	t.Helper()
	return webtest.Response{Status: r.status, Header: r.header, Body: r.body}.JSON(t)
}

// do sends one request. body may be nil, a string (sent as is) or anything
// else (sent as JSON).
func (e *env) do(t *testing.T, c *http.Client, method, path, contentType string, body any, hdr map[string]string) response {
	t.Helper()
	return asResponse(e.kit.Do(t, c, method, path, contentType, body, hdr))
}

// asResponse is webtest's response as these tests name its parts.
func asResponse(r webtest.Response) response {
	return response{status: r.Status, header: r.Header, body: r.Body}
}

// api sends a JSON API request.
func (e *env) api(t *testing.T, c *http.Client, method, path string, body any) response {
	t.Helper()
	ct := ""
	if body != nil {
		ct = "application/json"
	}
	return e.do(t, c, method, path, ct, body, nil)
}

// form posts a URL-encoded form.
func (e *env) form(t *testing.T, c *http.Client, path string, f url.Values, hdr map[string]string) response {
	t.Helper()
	return e.do(t, c, http.MethodPost, path, "application/x-www-form-urlencoded", f.Encode(), hdr)
}

func loginBody(d tenantData, pw, code string) map[string]string {
	return map[string]string{"tenant": d.tenant.Slug, "email": d.tech.Email, "password": pw, "totp": code}
}

// login returns a client signed in as tenant d's technician.
func (e *env) login(t *testing.T, d tenantData) *http.Client {
	t.Helper()
	return e.kit.Login(t, d.kit())
}

// deliver waits for the sends started right after commits and then runs
// the outbox once for anything left to the worker.
func (e *env) deliver(t *testing.T) {
	t.Helper()
	e.kit.Deliver(t)
}

func (e *env) verification(t *testing.T, d tenantData, id string) core.Verification {
	t.Helper()
	v, err := e.eng.Verification(t.Context(), d.tenant.ID, id)
	require.NoError(t, err)
	return v
}

// state is what the store holds for both tenants, to prove a request
// changed nothing (webtest's State), with every technician by ID.
type state struct {
	webtest.State
	Technicians map[string]core.Technician
}

func (e *env) state(t *testing.T) state {
	t.Helper()
	s := state{State: e.kit.State(t), Technicians: map[string]core.Technician{}}
	for _, techs := range s.State.Technicians {
		for _, tech := range techs {
			s.Technicians[tech.ID] = tech
		}
	}
	return s
}

// assertLogsClean fails if any secret appears in the captured logs.
func (e *env) assertLogsClean(t *testing.T, secrets ...string) {
	t.Helper()
	e.kit.AssertLogsClean(t, secrets...)
}

// captureChannels sends a tenant's own-account messages to the env's
// captures too; its live checks accept the Twilio token ownToken and any
// mail server.
type captureChannels struct{ e *env }

func (c captureChannels) SMS(core.TwilioSettings) (core.Sender, error)   { return c.e.sms, nil }
func (c captureChannels) Voice(core.TwilioSettings) (core.Sender, error) { return c.e.call, nil }
func (c captureChannels) Email(core.EmailSettings) (core.Sender, error)  { return c.e.mail, nil }
func (c captureChannels) CheckTwilio(_ context.Context, t core.TwilioSettings) error {
	if t.Secret != ownToken {
		return core.Errorf(core.KindInvalid, "Twilio rejected the credentials (error 20003)")
	}
	return nil
}
func (c captureChannels) CheckEmail(context.Context, core.EmailSettings) error { return nil }

// adminClient signs in tenant a's technician as an admin.
func (e *env) adminClient(t *testing.T) *http.Client {
	t.Helper()
	e.setRole(t, &e.a, core.RoleAdmin)
	return e.login(t, e.a)
}

// startBridge runs a PGBridge for hub on dsn until t ends and waits until it
// listens.
func startBridge(t *testing.T, hub *live.Hub, dsn string, backoff time.Duration, log *slog.Logger) *live.PGBridge {
	t.Helper()
	b := live.NewPGBridge(hub, dsn, log)
	if backoff <= 0 {
		backoff = 50 * time.Millisecond
	}
	b.MinBackoff, b.MaxBackoff = backoff, backoff
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		b.Close()
	})
	select {
	case <-b.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("the live bridge never listened")
	}
	return b
}

// verifiedBy stores a verification of d's contact by SMS code to its first
// phone, run by technician techID and verified at done (as if it took a
// minute; green for an hour after).
func (e *env) verifiedBy(t *testing.T, d tenantData, techID string, done time.Time) {
	t.Helper()
	ctx := t.Context()
	c := d.contact
	v := core.Verification{TenantID: d.tenant.ID, ClientID: c.ClientID, ContactID: c.ID, DestinationID: c.Destinations[0].ID,
		DestKind: core.DestPhone, Destination: c.Destinations[0].Value, Method: core.MethodSMSCode, TechnicianID: techID,
		Status: core.StatusVerified, MaxAttempts: 5, CreatedAt: done.Add(-time.Minute), ExpiresAt: done.Add(4 * time.Minute),
		CompletedAt: done, VerifiedUntil: done.Add(time.Hour)}
	require.NoError(t, e.st.Update(ctx, func(tx core.Tx) error { return tx.CreateVerification(ctx, &v) }))
}
