package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/assets"
	"github.com/countersign/countersign/connectwise"
	"github.com/countersign/countersign/connectwise/cwtest"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/live"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/memory"
	"github.com/countersign/countersign/core/secret"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/countersign/countersign/core/twilio"
	"github.com/countersign/countersign/core/web"
)

// The fake ConnectWise tenant's records, in the psatest style.
var (
	icwCompany = psa.Company{Ref: "1001", Name: "Acme Dental"}
	icwAlice   = psa.Contact{Ref: "2001", CompanyRef: icwCompany.Ref, FirstName: "Alice", LastName: "Smith",
		Emails: []psa.Email{{Address: "alice@acme-dental.example", Default: true}},
		Phones: []psa.Phone{{Number: "(555) 010-0177", Label: "Mobile", Default: true}}}
	icwTicket    = psa.Ticket{Ref: "3001", Summary: "Password reset", CompanyRef: icwCompany.Ref, ContactRef: icwAlice.Ref}
	icwNoContact = psa.Ticket{Ref: "3002", Summary: "Printer", CompanyRef: icwCompany.Ref}
)

// newCWEnv is newEnv with the ConnectWise plugin among the PSAs, its
// clients talking to a fake ConnectWise tenant: the server, engine and
// note sender all share one client cache, as cmd/countersign wires them.
func newCWEnv(t *testing.T, st *store.Store) (*env, *cwtest.Server) {
	t.Helper()
	cw := cwtest.NewServer(t)
	cw.Seed([]psa.Company{icwCompany}, []psa.Contact{icwAlice}, []psa.Ticket{icwTicket, icwNoContact})
	e := &env{st: st, clk: &clock{t: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)},
		sms: &capture{prefix: "SM"}, mail: &capture{prefix: "EM"}, call: &capture{prefix: "CA"}, logs: &syncBuffer{}}
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
	reg, err := psa.NewRegistry(memory.Descriptor(), connectwise.Descriptor())
	require.NoError(t, err)
	e.psa = psa.NewClients(reg, func(in core.Integration) psa.Deps {
		return cw.Deps(psa.Deps{Logger: logger.With("integration", in.ID), Now: e.clk.Now,
			Retry: psa.RetryPolicy{Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}})
	})
	e.hub = live.NewHub(0)
	notes := &psa.NoteSender{Clients: e.psa, Load: func(ctx context.Context, tenantID, id string) (core.Integration, error) {
		return e.eng.Integration(ctx, tenantID, id)
	}}
	e.eng, err = core.NewEngine(core.Config{
		Store: st, Renderer: msgs, Sealer: keys, CodeKey: keys.Derive("code-hmac"), PublicURL: publicURL,
		Senders: map[core.OutboxKind]core.Sender{core.OutboxSMS: e.sms, core.OutboxEmail: e.mail, core.OutboxVoice: e.call,
			core.OutboxTicketNote: notes, core.OutboxInboundEvent: core.SenderFunc(func(ctx context.Context, m core.Outbound) (string, error) {
				return e.web.ActOnInboundEvent(ctx, m)
			})},
		Publisher: e.hub, Now: e.clk.Now, Logger: logger,
	})
	require.NoError(t, err)
	t.Cleanup(e.eng.Wait)
	e.a = e.seedTenant(t, "acme", "Acme IT")
	e.b = e.seedTenant(t, "other", "Other MSP")
	pages, err := assets.Pages(assets.TemplatesFS(), assets.StaticFS())
	require.NoError(t, err)
	srv, err := web.New(web.Config{
		Engine: e.eng, Auth: &web.PasswordAuth{Engine: e.eng, Keys: keys, Now: e.eng.Now, SkipRehash: true},
		Pages: pages, Static: assets.StaticHandler(assets.StaticFS()), SessionKey: bytes.Repeat([]byte{9}, 32),
		PublicURL: publicURL, TwilioStatus: twilio.NewWebhookValidator(publicURL, twilioToken),
		Logger: logger, PSA: e.psa, Live: e.hub,
	})
	require.NoError(t, err)
	e.web = srv
	e.srv = httptest.NewServer(srv)
	t.Cleanup(e.srv.Close)
	return e, cw
}

// icwSettings is the integration form for the fake, with change applied.
func icwSettings(cw *cwtest.Server, change ...func(map[string]string)) map[string]string {
	c := cw.Config()
	m := map[string]string{"site": c.Site, "company_id": c.CompanyID, "public_key": c.PublicKey,
		"private_key": c.PrivateKey, "client_id": c.ClientID}
	for _, f := range change {
		f(m)
	}
	return m
}

func integrationBody(kind, name string, settings map[string]string) map[string]any {
	return map[string]any{"kind": kind, "name": name, "settings": settings}
}

// adminClient signs in tenant a's technician as an admin.
func (e *env) adminClient(t *testing.T) *http.Client {
	t.Helper()
	e.setRole(t, &e.a, core.RoleAdmin)
	return e.login(t, e.a)
}

// createCW sets up the fake as tenant a's ConnectWise integration through
// the API and returns the answer's integration.
func (e *env) createCW(t *testing.T, c *http.Client, cw *cwtest.Server) map[string]any {
	t.Helper()
	r := e.api(t, c, http.MethodPost, "/api/v1/admin/integrations", integrationBody("connectwise", "ConnectWise", icwSettings(cw)))
	require.Equal(t, http.StatusCreated, r.status, "create: %s", r.body)
	return r.JSON(t)["integration"].(map[string]any)
}

func TestIntegrationSetupConnectWise(t *testing.T) {
	storetest.ForEachDialect(t, testIntegrationSetupConnectWise)
}

func testIntegrationSetupConnectWise(t *testing.T, st *store.Store) {
	e, cw := newCWEnv(t, st)
	c := e.adminClient(t)
	secrets := []string{cwtest.PrivateKey, cwtest.ClientID}

	r := e.api(t, c, http.MethodGet, "/api/v1/admin/integrations", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var list struct {
		Kinds []struct {
			ID     string
			Fields []struct{ Name, Kind string }
		}
		Integrations []any
	}
	require.NoError(t, json.Unmarshal(r.body, &list))
	require.Empty(t, list.Integrations)
	var fields map[string]string
	for _, k := range list.Kinds {
		if k.ID == "connectwise" {
			fields = map[string]string{}
			for _, f := range k.Fields {
				fields[f.Name] = f.Kind
			}
		}
	}
	assert.Equal(t, "secret", fields["private_key"], "the form comes from the descriptor")
	assert.Equal(t, "text", fields["site"])

	// Create: checked live, stored with the learned codebase, callbacks
	// registered, and the setup to do in ConnectWise returned.
	r = e.api(t, c, http.MethodPost, "/api/v1/admin/integrations", integrationBody("connectwise", "ConnectWise", icwSettings(cw)))
	require.Equal(t, http.StatusCreated, r.status, "create: %s", r.body)
	for _, s := range secrets {
		assert.NotContains(t, string(r.body), s, "a secret was echoed")
	}
	var saved struct {
		Integration struct {
			ID           string
			Settings     map[string]string
			SecretsSet   []string `json:"secrets_set"`
			CallbackURL  string   `json:"callback_url"`
			SetupHelpURL string   `json:"setup_help_url"`
			Setup        struct {
				Pods []struct {
					Screen, URL, Origin, Type string
				}
				Permissions []struct{ Area, Access string }
			}
			CanInstallPods bool `json:"can_install_pods"`
		}
		Check     string
		Callbacks struct {
			OK      bool
			Message string
		}
	}
	require.NoError(t, json.Unmarshal(r.body, &saved))
	in := saved.Integration
	assert.Equal(t, cw.Site(), in.Settings["site"])
	assert.Equal(t, cwtest.DefaultCodebase, in.Settings["codebase"], "what the check discovered is stored")
	assert.NotContains(t, in.Settings, "private_key")
	assert.ElementsMatch(t, []string{"private_key", "client_id"}, in.SecretsSet)
	assert.Equal(t, "connected to ConnectWise PSA", saved.Check)
	assert.True(t, saved.Callbacks.OK, saved.Callbacks.Message)
	podURL := publicURL + "/pod/" + e.a.tenant.Slug + "/" + in.ID + "?id=[cw_id]&screen=[cw_screen]"
	require.Len(t, in.Setup.Pods, 2)
	for _, p := range in.Setup.Pods {
		assert.Equal(t, podURL, p.URL)
		assert.Equal(t, publicURL, p.Origin)
		assert.Equal(t, "Pod", p.Type)
	}
	assert.NotEmpty(t, in.Setup.Permissions)
	assert.True(t, in.CanInstallPods)
	wantCallback := publicURL + "/webhooks/psa/" + e.a.tenant.Slug + "/" + in.ID + "?recordId="
	assert.Equal(t, wantCallback, in.CallbackURL)
	cbs := cw.Callbacks()
	require.Len(t, cbs, 1)
	assert.Equal(t, wantCallback, cbs[0].URL)
	// The plugin's setup help page, shipped in its descriptor.
	require.True(t, strings.HasPrefix(in.SetupHelpURL, "/static/psa/connectwise/setup.html?v="), in.SetupHelpURL)
	help := e.do(t, e.client(t), http.MethodGet, in.SetupHelpURL, "", nil, nil)
	require.Equal(t, http.StatusOK, help.status)
	assert.Contains(t, string(help.body), "Manage Hosted API")

	stored, err := e.eng.Integration(t.Context(), e.a.tenant.ID, in.ID)
	require.NoError(t, err)
	var cfg map[string]string
	require.NoError(t, json.Unmarshal(stored.Config, &cfg))
	assert.Equal(t, cwtest.PrivateKey, cfg["private_key"])
	assert.Equal(t, cwtest.DefaultCodebase, cfg["codebase"])
	var audited []string
	require.NoError(t, e.st.View(t.Context(), func(tx core.Tx) error {
		evs, err := tx.AuditEvents(t.Context(), e.a.tenant.ID, core.AuditQuery{Subject: in.ID})
		for _, ev := range evs {
			audited = append(audited, ev.Action)
		}
		return err
	}))
	assert.Equal(t, []string{"integration.saved", "integration.callbacks_registered"}, audited)

	// Edit: blank secrets keep theirs; callbacks are not duplicated.
	r = e.api(t, c, http.MethodPut, "/api/v1/admin/integrations/"+in.ID, integrationBody("", "CW production",
		icwSettings(cw, func(m map[string]string) { m["private_key"], m["client_id"] = "", "" })))
	require.Equal(t, http.StatusOK, r.status, "edit: %s", r.body)
	stored, err = e.eng.Integration(t.Context(), e.a.tenant.ID, in.ID)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(stored.Config, &cfg))
	assert.Equal(t, cwtest.PrivateKey, cfg["private_key"])
	assert.Equal(t, cwtest.ClientID, cfg["client_id"])
	assert.Equal(t, "CW production", stored.Name)
	assert.Len(t, cw.Callbacks(), 1)
	assert.Contains(t, r.JSON(t)["callbacks"].(map[string]any)["message"], "already registered")

	// The kind of an integration cannot change.
	r = e.api(t, c, http.MethodPut, "/api/v1/admin/integrations/"+in.ID, integrationBody("memory", "x", map[string]string{}))
	assert.Equal(t, http.StatusBadRequest, r.status)

	// Test the connection, then the setup buttons.
	r = e.api(t, c, http.MethodPost, "/api/v1/admin/integrations/"+in.ID+"/check", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Contains(t, r.JSON(t)["message"], "Connected")

	r = e.api(t, c, http.MethodGet, "/api/v1/admin/integrations/"+in.ID+"/pod-screens", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, map[string]any{"contact": float64(2), "ticket": float64(3)}, r.JSON(t)["suggested"])

	r = e.api(t, c, http.MethodPost, "/api/v1/admin/integrations/"+in.ID+"/pods", map[string]any{"screens": map[string]int{"contact": 2, "ticket": 3}})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	setups := cw.HostedSetups()
	require.Len(t, setups, 2)
	for _, h := range setups {
		assert.Equal(t, podURL, h.URL)
		assert.Equal(t, publicURL, h.Origin)
	}
	r = e.api(t, c, http.MethodPost, "/api/v1/admin/integrations/"+in.ID+"/pods", map[string]any{})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Len(t, cw.HostedSetups(), 2, "running it again adds nothing")

	cw.DisableCallback(cbs[0].ID)
	r = e.api(t, c, http.MethodPost, "/api/v1/admin/integrations/"+in.ID+"/callbacks", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Contains(t, r.JSON(t)["message"], "enabled again")
	assert.False(t, cw.Callbacks()[0].Inactive)

	// Reads never hold a secret either.
	for _, p := range []string{"/api/v1/admin/integrations", "/api/v1/admin/integrations/" + in.ID} {
		r = e.api(t, c, http.MethodGet, p, nil)
		require.Equal(t, http.StatusOK, r.status)
		for _, s := range secrets {
			assert.NotContains(t, string(r.body), s)
		}
	}
	e.assertLogsClean(t, secrets...)

	// The page, and who may see it.
	r = e.do(t, c, http.MethodGet, "/app/admin/integrations", "", nil, nil)
	require.Equal(t, http.StatusOK, r.status)
	for _, id := range []string{`id="int-form"`, `id="int-pods"`, `id="int-install-pods"`, `id="int-register-callbacks"`, `href="/app/admin/integrations" aria-current="page"`} {
		assert.Contains(t, string(r.body), id)
	}
	e.setRole(t, &e.a, core.RoleTechnician)
	r = e.do(t, c, http.MethodGet, "/app/admin/integrations", "", nil, nil)
	assert.Equal(t, http.StatusForbidden, r.status)
	r = e.api(t, c, http.MethodGet, "/api/v1/admin/integrations", nil)
	assert.Equal(t, http.StatusForbidden, r.status)
	r = e.api(t, c, http.MethodPost, "/api/v1/admin/integrations", integrationBody("connectwise", "x", icwSettings(cw)))
	assert.Equal(t, http.StatusForbidden, r.status)

	// Another tenant's admin sees none of it.
	e.setRole(t, &e.b, core.RoleAdmin)
	cb := e.login(t, e.b)
	r = e.api(t, cb, http.MethodGet, "/api/v1/admin/integrations/"+in.ID, nil)
	assert.Equal(t, http.StatusNotFound, r.status)
	r = e.api(t, cb, http.MethodPut, "/api/v1/admin/integrations/"+in.ID, integrationBody("", "stolen", icwSettings(cw)))
	assert.Equal(t, http.StatusNotFound, r.status)
}

// TestIntegrationCodebaseChange saves settings whose codebase ConnectWise
// no longer routes (it was upgraded): the check finds the new one, and
// that is what is stored.
func TestIntegrationCodebaseChange(t *testing.T) {
	e, cw := newCWEnv(t, storetest.Open(t, store.SQLite))
	c := e.adminClient(t)
	cw.ChangeCodebase("v2025_2/")
	r := e.api(t, c, http.MethodPost, "/api/v1/admin/integrations", integrationBody("connectwise", "ConnectWise",
		icwSettings(cw, func(m map[string]string) { m["codebase"] = "v2025_1/" })))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	in := r.JSON(t)["integration"].(map[string]any)
	assert.Equal(t, "v2025_2/", in["settings"].(map[string]any)["codebase"])
}

// intState is what the integrations API may change: the store (both
// tenants) and the fake ConnectWise.
type intState struct {
	state
	Integrations map[string][]core.Integration
	Callbacks    int
	HostedSetups int
}

func (e *env) intState(t *testing.T, cw *cwtest.Server) intState {
	t.Helper()
	s := intState{state: e.state(t), Integrations: map[string][]core.Integration{}, Callbacks: len(cw.Callbacks()), HostedSetups: len(cw.HostedSetups())}
	for _, d := range []tenantData{e.a, e.b} {
		ins, err := e.eng.Integrations(t.Context(), d.tenant.ID)
		require.NoError(t, err)
		s.Integrations[d.tenant.ID] = ins
	}
	return s
}

// TestIntegrationBadInputChangesNothing sends bad forms and provokes
// every fault of the live check: each gets a clear message and a status
// that is not a 2xx (nor a 401, which would sign the admin out), and
// leaves the store and ConnectWise as they were.
func TestIntegrationBadInputChangesNothing(t *testing.T) {
	e, cw := newCWEnv(t, storetest.Open(t, store.SQLite))
	c := e.adminClient(t)
	set := func(k, v string) func(map[string]string) { return func(m map[string]string) { m[k] = v } }
	post := func(name string, change ...func(map[string]string)) map[string]any {
		return integrationBody("connectwise", name, icwSettings(cw, change...))
	}
	tests := []struct {
		name     string
		body     any // JSON unless a string
		ct       string
		origin   string
		fault    func() (undo func())
		status   int
		contains string
		checked  bool // refused by the live check
	}{
		{name: "empty body", body: "", status: 400, contains: "empty"},
		{name: "not json", body: "site=x", ct: "application/x-www-form-urlencoded", status: 400, contains: "application/json"},
		{name: "malformed json", body: `{"kind":"connectwise",`, status: 400, contains: "malformed JSON"},
		{name: "unknown field", body: `{"kind":"connectwise","name":"x","settings":{},"admin":true}`, status: 400, contains: `unknown field "admin"`},
		{name: "no kind", body: integrationBody("", "x", icwSettings(cw)), status: 400, contains: "choose the PSA"},
		{name: "unknown kind", body: integrationBody("autotask", "x", icwSettings(cw)), status: 400, contains: `PSA called "autotask"`},
		{name: "no name", body: post("  "), status: 400, contains: "give the integration a name"},
		{name: "long name", body: post(strings.Repeat("n", 101)), status: 400, contains: "at most 100"},
		{name: "script in the name", body: post(`<script>alert(1)</script>`), status: 400, contains: "< or >"},
		{name: "script in the site", body: post("CW", set("site", `na.myconnectwise.net"><script>alert(1)</script>`)), status: 400, contains: "Site must not contain < or >"},
		{name: "control character", body: post("CW", set("company_id", "acme\nx")), status: 400, contains: "one line"},
		{name: "long setting", body: post("CW", set("public_key", strings.Repeat("k", 1001))), status: 400, contains: "at most 1000"},
		{name: "no site", body: post("CW", set("site", "")), status: 400, contains: "Site is required"},
		{name: "no private key", body: post("CW", set("private_key", "")), status: 400, contains: "Private key is required"},
		{name: "unknown setting", body: post("CW", set("password", "x")), status: 400, contains: `no setting called "password"`},
		{name: "http site", body: post("CW", set("site", "http://na.myconnectwise.net")), status: 400, contains: "https"},
		{name: "site that is no host", body: post("CW", set("site", "na myconnectwise net")), status: 400, contains: "not a host name"},
		{name: "cross-site post", body: post("CW"), origin: "https://evil.example", status: 403, contains: "cross-origin"},
		{name: "wrong keys", checked: true, body: post("CW"), fault: func() func() { cw.RejectKeys(true); return func() { cw.RejectKeys(false) } },
			status: 400, contains: "rejected the API keys for company"},
		{name: "wrong private key", checked: true, body: post("CW", set("private_key", "not-the-key")), status: 400, contains: "rejected the API keys"},
		{name: "wrong company", checked: true, body: post("CW", set("company_id", "nosuchmsp")), status: 400, contains: `has no company "nosuchmsp"`},
		{name: "wrong site", checked: true, body: post("CW", set("site", "eu.myconnectwise.net")), status: 503, contains: "does not exist: check the site"},
		{name: "keys on the ui host", checked: true, body: post("CW", set("api_host", cw.Site())), status: 400, contains: "api- host"},
		{name: "server errors", checked: true, body: post("CW"), fault: func() func() { cw.FailNext(20, 500, ""); return func() { cw.FailNext(0, 0, "") } },
			status: 503, contains: "not working properly (HTTP 500)"},
		{name: "throttled", checked: true, body: post("CW"), fault: func() func() { cw.FailNext(20, 429, "1"); return func() { cw.FailNext(0, 0, "") } },
			status: 429, contains: "throttling"},
		{name: "not found", checked: true, body: post("CW"), fault: func() func() { cw.FailNext(1, 404, ""); return func() { cw.FailNext(0, 0, "") } },
			status: 400, contains: "ConnectWise found nothing"},
		{name: "forbidden", checked: true, body: post("CW"), fault: func() func() { cw.FailNext(1, 403, ""); return func() { cw.FailNext(0, 0, "") } },
			status: 400, contains: "security role does not allow"},
		{name: "unauthorized", checked: true, body: post("CW"), fault: func() func() { cw.FailNext(1, 401, ""); return func() { cw.FailNext(0, 0, "") } },
			status: 400, contains: "rejected the API keys"},
		{name: "malformed answer", checked: true, body: post("CW"), fault: func() func() { cw.MalformedNext(); return func() {} },
			status: 503, contains: "not the JSON it should be"},
		{name: "connectwise down", checked: true, body: post("CW"), fault: func() func() { cw.SetDown(true); return func() { cw.SetDown(false) } },
			status: 503, contains: "not working properly (HTTP 503)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fault != nil {
				undo := tc.fault()
				defer undo()
			}
			before := e.intState(t, cw)
			ct := tc.ct
			if ct == "" {
				ct = "application/json"
			}
			var hdr map[string]string
			if tc.origin != "" {
				hdr = map[string]string{"Origin": tc.origin}
			}
			r := e.do(t, c, http.MethodPost, "/api/v1/admin/integrations", ct, tc.body, hdr)
			require.Equal(t, tc.status, r.status, "body: %s", r.body)
			msg, _ := r.JSON(t)["error"].(string)
			assert.Contains(t, msg, tc.contains)
			if tc.checked {
				assert.True(t, strings.HasPrefix(msg, "The connection check failed, so nothing was saved: "), msg)
			}
			assert.Equal(t, before, e.intState(t, cw), "a refused save changed something")
		})
	}
	// Faults left nothing behind, and a good save still works.
	e.createCW(t, c, cw)
	e.assertLogsClean(t, cwtest.PrivateKey, cwtest.ClientID)
}

// TestIntegrationEditBadInputChangesNothing refuses bad edits of a stored
// integration and keeps it as it was.
func TestIntegrationEditBadInputChangesNothing(t *testing.T) {
	e, cw := newCWEnv(t, storetest.Open(t, store.SQLite))
	c := e.adminClient(t)
	in := e.createCW(t, c, cw)
	id := in["id"].(string)
	for _, tc := range []struct {
		name     string
		path     string
		body     map[string]any
		fault    func()
		status   int
		contains string
	}{
		{name: "unknown integration", path: "/api/v1/admin/integrations/int_nope", body: integrationBody("", "x", icwSettings(cw)), status: 404},
		{name: "script", path: "/api/v1/admin/integrations/" + id, body: integrationBody("", "<img src=x onerror=alert(1)>", icwSettings(cw)), status: 400, contains: "< or >"},
		{name: "keys revoked", path: "/api/v1/admin/integrations/" + id, body: integrationBody("", "CW", icwSettings(cw)), fault: func() { cw.RejectKeys(true) },
			status: 400, contains: "nothing was saved"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fault != nil {
				tc.fault()
			}
			before := e.intState(t, cw)
			r := e.api(t, c, http.MethodPut, tc.path, tc.body)
			require.Equal(t, tc.status, r.status, "%s", r.body)
			assert.Contains(t, r.JSON(t)["error"], tc.contains)
			assert.Equal(t, before, e.intState(t, cw))
		})
	}
	// The live check and the setup buttons explain faults too.
	r := e.api(t, c, http.MethodPost, "/api/v1/admin/integrations/"+id+"/check", nil)
	require.Equal(t, http.StatusBadRequest, r.status)
	assert.Contains(t, r.JSON(t)["error"], "rejected the API keys")
	cw.RejectKeys(false)
	cw.Forbid("", "POST /system/connectwisehostedsetups")
	r = e.api(t, c, http.MethodPost, "/api/v1/admin/integrations/"+id+"/pods", map[string]any{})
	require.Equal(t, http.StatusBadRequest, r.status)
	assert.Contains(t, r.JSON(t)["error"], "Manage Hosted API")
	r = e.api(t, c, http.MethodPost, "/api/v1/admin/integrations/"+id+"/pods", map[string]any{"screens": map[string]int{"desktop": 1}})
	require.Equal(t, http.StatusBadRequest, r.status)
	cw.SetDown(true)
	r = e.api(t, c, http.MethodPost, "/api/v1/admin/integrations/"+id+"/callbacks", nil)
	require.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r.body)
	assert.Contains(t, r.JSON(t)["error"], "Registering the ticket callbacks failed")
}

// TestIntegrationMissingPermission saves keys whose security role may not
// read contacts: the message names the permission, and nothing is stored.
func TestIntegrationMissingPermission(t *testing.T) {
	e, cw := newCWEnv(t, storetest.Open(t, store.SQLite))
	c := e.adminClient(t)
	cw.Forbid("", "GET /company/contacts")
	before := e.intState(t, cw)
	r := e.api(t, c, http.MethodPost, "/api/v1/admin/integrations", integrationBody("connectwise", "CW", icwSettings(cw)))
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	assert.Equal(t, "The connection check failed, so nothing was saved: ConnectWise refused: the API member's security role does not allow reading contacts (Companies › Contacts, inquire)",
		r.JSON(t)["error"])
	assert.Equal(t, before, e.intState(t, cw))
}
