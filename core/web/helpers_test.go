package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign/assets"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/auth"
	"github.com/countersign/countersign/core/live"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/secret"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/twilio"
	"github.com/countersign/countersign/core/web"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/argon2"
)

const (
	publicURL   = "http://127.0.0.1"
	twilioToken = "token123"
	password    = "correct horse battery staple"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// capture is a Sender that records what it is given and answers with a
// unique provider reference, like Twilio's MessageSid.
type capture struct {
	mu     sync.Mutex
	prefix string
	msgs   []core.Outbound
	refs   []string
}

func (c *capture) Send(ctx context.Context, m core.Outbound) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b [16]byte
	_, _ = rand.Read(b[:])
	ref := c.prefix + hex.EncodeToString(b[:])
	c.msgs = append(c.msgs, m)
	c.refs = append(c.refs, ref)
	return ref, nil
}

// last returns the last message sent and its provider reference.
func (c *capture) last(t *testing.T) (core.Outbound, string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	require.NotEmpty(t, c.msgs, "no message was sent")
	return c.msgs[len(c.msgs)-1], c.refs[len(c.refs)-1]
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var (
	codeRE  = regexp.MustCompile(`\b(\d{3}) ?(\d{3})\b`)
	linkRE  = regexp.MustCompile(`https?://\S+/l/[^/\s]+/[A-Za-z0-9_-]+`)
	nonceRE = regexp.MustCompile(`name="nonce" value="([^"]*)"`)
)

func codeIn(t *testing.T, m core.Outbound) string {
	t.Helper()
	g := codeRE.FindStringSubmatch(m.Text)
	require.NotNil(t, g, "no code in the message")
	return g[1] + g[2]
}

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

// cheapHash is an argon2id PHC hash with low cost, so sign-in tests stay
// fast under -race; core/auth accepts any parameters up to its maximum.
func cheapHash(pw string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, 1, 1024, 1, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=1024,t=1,p=1$%s$%s", argon2.Version,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// tenantData is one tenant with a client, a contact (phone + email) and a
// technician who can sign in with password.
type tenantData struct {
	tenant  core.Tenant
	client  core.Client
	contact core.Contact
	tech    core.Technician
}

// env is a Countersign server over a real store, a fake clock and capturing
// senders, served by httptest.
type env struct {
	st              *store.Store
	eng             *core.Engine
	clk             *clock
	sms, mail, call *capture
	logs            *syncBuffer
	srv             *httptest.Server
	web             *web.Server // acts on inbound PSA events from the outbox
	psa             *psa.Clients
	hub             *live.Hub      // the engine publishes here; /api/v1/live watches it
	bridge          *live.PGBridge // nil unless envOptions.bridgeDSN
	a, b            tenantData     // b is another tenant, for isolation checks
	keys            *secret.Keyring
}

type envOptions struct {
	requireTOTP bool
	// psaRegistry and psaDeps build the server's PSA clients; nil means
	// psaRegistry(t) and the zero Deps.
	psaRegistry *psa.Registry
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
	e := &env{st: st, clk: &clock{t: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)},
		sms: &capture{prefix: "SM"}, mail: &capture{prefix: "EM"}, call: &capture{prefix: "CA"}, logs: &syncBuffer{}}
	// Times and durations are dropped so that their digits cannot look like
	// a leaked code.
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "duration" {
				return slog.Attr{}
			}
			return a
		}}))
	keys, err := secret.NewKeyring("k1", map[string][]byte{"k1": bytes.Repeat([]byte{7}, 32)})
	require.NoError(t, err)
	msgs, err := assets.NewMessages()
	require.NoError(t, err)
	metrics := web.NewMetrics()
	e.hub = live.NewHub(0)
	var publisher core.Publisher = e.hub
	if o.bridgeDSN != "" {
		e.bridge = startBridge(t, e.hub, o.bridgeDSN, o.bridgeBackoff, logger)
		publisher = e.bridge
	}
	if o.psaRegistry == nil {
		o.psaRegistry = psaRegistry(t)
	}
	e.psa = psa.NewClients(o.psaRegistry, o.psaDeps)
	notes := &psa.NoteSender{Clients: e.psa, Load: func(ctx context.Context, tenantID, id string) (core.Integration, error) {
		return e.eng.Integration(ctx, tenantID, id)
	}}
	e.eng, err = core.NewEngine(core.Config{
		Store: st, Renderer: msgs, Sealer: keys, CodeKey: keys.Derive("code-hmac"), PublicURL: publicURL,
		Senders: map[core.OutboxKind]core.Sender{core.OutboxSMS: e.sms, core.OutboxEmail: e.mail, core.OutboxVoice: e.call,
			core.OutboxTicketNote: notes, core.OutboxInboundEvent: core.SenderFunc(func(ctx context.Context, m core.Outbound) (string, error) {
				return e.web.ActOnInboundEvent(ctx, m)
			}), core.OutboxPSATicket: &psa.TicketSender{Clients: e.psa, Load: notes.Load},
			core.OutboxPSAContact: &psa.ContactSender{Clients: e.psa, Load: notes.Load}},
		Observer: metrics, Publisher: publisher, StatusCallbacks: true, Now: e.clk.Now, Logger: logger,
		Channels: captureChannels{e}, Duo: o.duo, Microsoft: o.microsoft,
	})
	require.NoError(t, err)
	t.Cleanup(e.eng.Wait) // runs before the store closes
	e.a = e.seedTenant(t, "acme", "Acme IT")
	e.b = e.seedTenant(t, "other", "Other MSP")

	pages, err := assets.Pages(assets.TemplatesFS(), assets.StaticFS())
	require.NoError(t, err)
	pa := &web.PasswordAuth{Engine: e.eng, Keys: keys, Now: e.eng.Now, RequireTOTP: o.requireTOTP, SkipRehash: true}
	if o.auth != nil {
		o.auth(pa)
	}
	e.keys = keys
	switch o.metricsToken {
	case "":
		o.metricsToken = metricsToken
	case "-":
		o.metricsToken = ""
	}
	if o.publicURL == "" {
		o.publicURL = publicURL
	}
	srv, err := web.New(web.Config{
		MetricsToken: o.metricsToken,
		Engine:       e.eng, Auth: pa, AddressThrottle: o.addrThrottle, TenantThrottle: o.tenantThrottle, SelfServeThrottle: o.selfServeThrottle, TrustedProxies: o.trustedProxies,
		Pages: pages, Static: assets.StaticHandler(assets.StaticFS()), SessionKey: bytes.Repeat([]byte{9}, 32),
		PublicURL: o.publicURL, TwilioStatus: twilio.NewWebhookValidator(publicURL, twilioToken),
		TwilioAccountSID: "AC0123456789abcdef0123456789abcdef",
		TwilioWebhookValidator: func(tokens ...string) web.StatusWebhook {
			return twilio.NewWebhookValidator(publicURL, tokens...)
		},
		Metrics: metrics, Logger: logger, PSA: e.psa, Live: e.hub, TechnicianCacheTTL: o.techCacheTTL,
	})
	require.NoError(t, err)
	e.web = srv
	e.srv = httptest.NewServer(srv)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) seedTenant(t *testing.T, slugPrefix, name string) tenantData {
	t.Helper()
	ctx := t.Context()
	now := e.clk.Now()
	d := tenantData{tenant: core.Tenant{ID: core.NewID("ten"), Slug: slugPrefix + "-" + core.NewID("x")[2:8], Name: name, CreatedAt: now}}
	d.client = core.Client{ID: core.NewID("cli"), TenantID: d.tenant.ID, Name: "Contoso", CreatedAt: now}
	d.tech = core.Technician{ID: core.NewID("tec"), TenantID: d.tenant.ID, Email: "jane@" + slugPrefix + ".example",
		Name: "Jane Tech", Role: core.RoleTechnician, PasswordHash: cheapHash(password), CreatedAt: now}
	require.NoError(t, e.st.Update(ctx, func(tx core.Tx) error {
		if err := tx.CreateTenant(ctx, &d.tenant); err != nil {
			return err
		}
		if err := tx.CreateClient(ctx, &d.client); err != nil {
			return err
		}
		return tx.CreateTechnician(ctx, &d.tech)
	}))
	var err error
	d.contact, err = e.eng.CreateContact(ctx, d.tenant.ID, "test", "manual", core.NewContact{
		ClientID: d.client.ID, FirstName: "Sam", LastName: "Caller",
		Phones: []core.NewDestination{{Value: "(555) 010-0142", Label: "Mobile", Default: true}},
		Emails: []core.NewDestination{{Value: "sam@contoso.example", Default: true}},
	})
	require.NoError(t, err)
	return d
}

// client returns an HTTP client with its own cookie jar that does not
// follow redirects.
func (e *env) client(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
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
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body is not a JSON object: %s", r.body)
	return m
}

// do sends one request. body may be nil, a string (sent as is) or anything
// else (sent as JSON).
func (e *env) do(t *testing.T, c *http.Client, method, path, contentType string, body any, hdr map[string]string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, e.srv.URL+path, rd)
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return response{status: res.StatusCode, header: res.Header, body: raw}
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
	c := e.client(t)
	r := e.api(t, c, http.MethodPost, "/api/v1/login", loginBody(d, password, ""))
	require.Equal(t, http.StatusOK, r.status, "login: %s", r.body)
	return c
}

// deliver waits for the sends started right after commits and then runs
// the outbox once for anything left to the worker.
func (e *env) deliver(t *testing.T) {
	t.Helper()
	e.eng.Wait()
	_, err := e.eng.DeliverDue(t.Context())
	require.NoError(t, err)
	e.eng.Wait()
}

func (e *env) verification(t *testing.T, d tenantData, id string) core.Verification {
	t.Helper()
	v, err := e.eng.Verification(t.Context(), d.tenant.ID, id)
	require.NoError(t, err)
	return v
}

// state is what the store holds for both tenants, to prove a request
// changed nothing.
type state struct {
	Contacts      map[string]int
	Verifications map[string][]core.Verification
	Outbox        map[string]int
	AuditSeq      map[string]int64
	Technicians   map[string]core.Technician
}

func (e *env) state(t *testing.T) state {
	t.Helper()
	ctx := t.Context()
	s := state{Contacts: map[string]int{}, Verifications: map[string][]core.Verification{}, Outbox: map[string]int{},
		AuditSeq: map[string]int64{}, Technicians: map[string]core.Technician{}}
	require.NoError(t, e.st.View(ctx, func(tx core.Tx) error {
		for _, d := range []tenantData{e.a, e.b} {
			cs, err := tx.SearchContacts(ctx, d.tenant.ID, core.ContactQuery{Limit: 200})
			if err != nil {
				return err
			}
			s.Contacts[d.tenant.ID] = len(cs)
			for _, c := range cs {
				vs, err := tx.ListVerifications(ctx, d.tenant.ID, c.ID, 1000)
				if err != nil {
					return err
				}
				s.Verifications[c.ID] = vs
			}
			ob, err := tx.ListOutbox(ctx, d.tenant.ID, 1000)
			if err != nil {
				return err
			}
			s.Outbox[d.tenant.ID] = len(ob)
			seq, _, err := tx.AuditHead(ctx, d.tenant.ID)
			if err != nil {
				return err
			}
			s.AuditSeq[d.tenant.ID] = seq
			tech, err := tx.Technician(ctx, d.tenant.ID, d.tech.ID)
			if err != nil {
				return err
			}
			s.Technicians[tech.ID] = tech
		}
		return nil
	}))
	return s
}

// assertLogsClean fails if any secret appears in the captured logs.
func (e *env) assertLogsClean(t *testing.T, secrets ...string) {
	t.Helper()
	logs := e.logs.String()
	require.NotEmpty(t, logs, "expected the server to have logged something")
	for _, s := range secrets {
		require.NotEmpty(t, s)
		if regexp.MustCompile(`^\d+$`).MatchString(s) {
			// A numeric code counts when it stands alone (also as "123 456"),
			// not inside a longer run of digits or an id.
			re := regexp.MustCompile(`(^|[^0-9A-Za-z_])(` + s + `|` + s[:3] + ` ` + s[3:] + `)([^0-9A-Za-z_]|$)`)
			require.False(t, re.MatchString(logs), "code %s reached the logs:\n%s", s, logs)
			continue
		}
		require.NotContains(t, logs, s, "a secret reached the logs")
	}
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
