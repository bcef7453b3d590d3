// Package webtest starts a whole Countersign server — the real core/web
// handlers and engine over a real store (SQLite, and PostgreSQL when the
// test environment names one), with a settable clock and capturing senders
// — around the PSA descriptors a test gives it. It is how a PSA plugin's
// own tests drive its integration through the host end to end (set it up
// through the admin API, sign in from a pod, post its inbound events)
// without the host's tests knowing the plugin exists: core/web's tests use
// only the built-in memory PSA, and a plugin's tests use this kit.
//
//	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
//		e := webtest.Open(t, dialect, webtest.Options{Descriptors: []psa.Descriptor{vendor.Descriptor()}})
//		r := e.API(t, e.AdminClient(t), http.MethodPost, "/api/v1/admin/integrations", body)
//		…
//	})
//
// The server has two tenants, [Env.A] and [Env.B] (B for isolation
// checks), each with a client, a contact and a technician who signs in
// with [Password]. Messages go to [Env.SMS], [Env.Mail] and [Env.Call];
// nothing is sent until [Env.Deliver] runs the outbox.
package webtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/argon2"

	"github.com/countersign/countersign/assets"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/live"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/secret"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/countersign/countersign/core/testkit"
	"github.com/countersign/countersign/core/twilio"
	"github.com/countersign/countersign/core/web"
)

const (
	// PublicURL is the server's public URL: where it says pods, links and
	// inbound events live.
	PublicURL = "http://127.0.0.1"
	// Password is every seeded technician's password.
	Password = "correct horse battery staple"
	// twilioToken signs the Twilio status callbacks the server accepts.
	twilioToken = "token123"
)

// Options are what a test chooses about the server. The zero value is a
// server whose only PSA is none.
type Options struct {
	// Descriptors are the PSAs the server knows.
	Descriptors []psa.Descriptor
	// Deps builds the Deps of an integration's client (the fake's TLS
	// client, a call counter, a clock); nil means the zero Deps with the
	// server's clock and retries that do not sleep.
	Deps func(core.Integration) psa.Deps
	// Engine, when set, changes the engine's configuration before the
	// engine is made (a Duo connector, a tenant's own channels, an
	// observer); Server likewise the server's (sign-in throttles, trusted
	// proxies, a metrics token). Both see the Env as it is then: its
	// captures, clock, hub and logger, but no engine yet.
	Engine func(*Env, *core.Config)
	Server func(*Env, *web.Config)
}

// Env is a running server and what the test can see of it.
type Env struct {
	Store  core.Store
	Engine *core.Engine
	Web    *web.Server
	Hub    *live.Hub // the engine publishes here; /api/v1/live watches it
	Clock  *testkit.Clock
	// SMS, Mail and Call capture what the outbox sends.
	SMS, Mail, Call *testkit.Capture
	Logs            *testkit.LogBuffer // the server's logs, without times or durations
	Logger          *slog.Logger       // writes to Logs
	Keys            *secret.Keyring
	PSA             *psa.Clients // the integrations' clients
	// URL is where the server listens (an httptest server).
	URL  string
	A, B Tenant
}

// Tenant is a seeded tenant with a client, a contact (phone and e-mail)
// and a technician who signs in with [Password].
type Tenant struct {
	Tenant  core.Tenant
	Client  core.Client
	Contact core.Contact
	Tech    core.Technician
}

// SQLite is the dialect every test environment has.
const SQLite = store.SQLite

// ForEachDialect runs fn once per store dialect the test environment
// offers (SQLite always, PostgreSQL when configured), as subtests named
// after the dialect; fn opens its server with [Open].
func ForEachDialect(t *testing.T, fn func(t *testing.T, dialect string)) {
	t.Helper()
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { fn(t, d) })
	}
}

// Open returns a server over a fresh store of dialect, closed when the
// test ends.
func Open(t *testing.T, dialect string, o Options) *Env {
	t.Helper()
	return New(t, storetest.Open(t, dialect), o)
}

// New returns a server over st, which the test opened (and closes).
func New(t *testing.T, st *store.Store, o Options) *Env {
	t.Helper()
	e := &Env{Store: st, Clock: testkit.NewClock(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)),
		SMS: testkit.NewCapture("SM"), Mail: testkit.NewCapture("EM"), Call: testkit.NewCapture("CA"), Logs: &testkit.LogBuffer{}}
	// Times and durations are dropped so that their digits cannot look
	// like a leaked code.
	e.Logger = slog.New(slog.NewTextHandler(e.Logs, &slog.HandlerOptions{Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "duration" {
				return slog.Attr{}
			}
			return a
		}}))
	logger := e.Logger
	keys, err := secret.NewKeyring("k1", map[string][]byte{"k1": bytes.Repeat([]byte{7}, 32)})
	require.NoError(t, err)
	e.Keys = keys
	msgs, err := assets.NewMessages()
	require.NoError(t, err)
	reg, err := psa.NewRegistry(o.Descriptors...)
	require.NoError(t, err)
	deps := o.Deps
	if deps == nil {
		deps = func(core.Integration) psa.Deps { return psa.Deps{} }
	}
	e.PSA = psa.NewClients(reg, func(in core.Integration) psa.Deps {
		d := deps(in)
		if d.Logger == nil {
			d.Logger = logger.With("integration", in.ID)
		}
		if d.Now == nil {
			d.Now = e.Clock.Now
		}
		if d.Retry.Sleep == nil {
			d.Retry.Sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
		}
		return d
	})
	e.Hub = live.NewHub(0)
	load := func(ctx context.Context, tenantID, id string) (core.Integration, error) {
		return e.Engine.Integration(ctx, tenantID, id)
	}
	ecfg := core.Config{
		Store: st, Renderer: msgs, Sealer: keys, CodeKey: keys.Derive("code-hmac"), PublicURL: PublicURL,
		Senders: map[core.OutboxKind]core.Sender{core.OutboxSMS: e.SMS, core.OutboxEmail: e.Mail, core.OutboxVoice: e.Call,
			core.OutboxTicketNote: &psa.NoteSender{Clients: e.PSA, Load: load},
			core.OutboxInboundEvent: core.SenderFunc(func(ctx context.Context, m core.Outbound) (string, error) {
				return e.Web.ActOnInboundEvent(ctx, m)
			}),
			core.OutboxPSATicket: &psa.TicketSender{Clients: e.PSA, Load: load}, core.OutboxPSAContact: &psa.ContactSender{Clients: e.PSA, Load: load},
			core.OutboxContactNote:  &psa.ContactWriteSender{Clients: e.PSA, Load: load},
			core.OutboxContactPhone: &psa.ContactWriteSender{Clients: e.PSA, Load: load}},
		Publisher: e.Hub, StatusCallbacks: true, Now: e.Clock.Now, Logger: logger,
	}
	if o.Engine != nil {
		o.Engine(e, &ecfg)
	}
	e.Engine, err = core.NewEngine(ecfg)
	require.NoError(t, err)
	t.Cleanup(e.Engine.Wait) // runs before the store closes
	e.A = e.seedTenant(t, "acme", "Acme IT")
	e.B = e.seedTenant(t, "other", "Other MSP")
	pages, err := assets.Pages(assets.TemplatesFS(), assets.StaticFS())
	require.NoError(t, err)
	wcfg := web.Config{
		Engine: e.Engine, Auth: &web.PasswordAuth{Engine: e.Engine, Keys: keys, Now: e.Engine.Now, SkipRehash: true},
		Pages: pages, Static: assets.StaticHandler(assets.StaticFS()), SessionKey: bytes.Repeat([]byte{9}, 32),
		PublicURL: PublicURL, TwilioStatus: twilio.NewWebhookValidator(PublicURL, twilioToken),
		Logger: logger, PSA: e.PSA, Live: e.Hub,
	}
	if o.Server != nil {
		o.Server(e, &wcfg)
	}
	e.Web, err = web.New(wcfg)
	require.NoError(t, err)
	srv := httptest.NewServer(e.Web)
	t.Cleanup(srv.Close)
	e.URL = srv.URL
	return e
}

func (e *Env) seedTenant(t *testing.T, slugPrefix, name string) Tenant {
	t.Helper()
	ctx := t.Context()
	now := e.Clock.Now()
	d := Tenant{Tenant: core.Tenant{ID: core.NewID("ten"), Slug: slugPrefix + "-" + core.NewID("x")[2:8], Name: name, CreatedAt: now}}
	d.Client = core.Client{ID: core.NewID("cli"), TenantID: d.Tenant.ID, Name: "Contoso", CreatedAt: now}
	d.Tech = core.Technician{ID: core.NewID("tec"), TenantID: d.Tenant.ID, Email: "jane@" + slugPrefix + ".example",
		Name: "Jane Tech", Role: core.RoleTechnician, PasswordHash: PasswordHash(Password), CreatedAt: now}
	require.NoError(t, e.Store.Update(ctx, func(tx core.Tx) error {
		if err := tx.CreateTenant(ctx, &d.Tenant); err != nil {
			return err
		}
		if err := tx.CreateClient(ctx, &d.Client); err != nil {
			return err
		}
		return tx.CreateTechnician(ctx, &d.Tech)
	}))
	var err error
	d.Contact, err = e.Engine.CreateContact(ctx, d.Tenant.ID, "test", "manual", core.NewContact{
		ClientID: d.Client.ID, FirstName: "Sam", LastName: "Caller",
		Phones: []core.NewDestination{{Value: "(555) 010-0142", Label: "Mobile", Default: true}},
		Emails: []core.NewDestination{{Value: "sam@contoso.example", Default: true}},
	})
	require.NoError(t, err)
	return d
}

// PasswordHash is an argon2id PHC hash of pw with low cost, so sign-in
// stays fast under -race; core/auth accepts any parameters up to its
// maximum.
func PasswordHash(pw string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, 1, 1024, 1, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=1024,t=1,p=1$%s$%s", argon2.Version,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}
