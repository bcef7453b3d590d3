package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/memory"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// The host's side of the PSA seam — the integrations admin API, a plugin's
// assets, its inbound route — is tested here on the built-in memory PSA,
// registered as a plugin that uses every part of the seam (seamDescriptor).
// No vendor's plugin takes part: each one drives its own integration
// through the host in its own tests (connectwise/host_*_test.go, with
// core/web/webtest).

// seamKind is the descriptor id of the memory PSA registered as seamDescriptor.
const seamKind = "seam"

// seamLegacyPath is the legacy inbound route seamDescriptor declares.
const seamLegacyPath = "/webhooks/seam/"

// seamDescriptor is the memory PSA as a plugin that ships assets (a pod
// script and a setup help page), asks for a query on its event URL, keeps
// a legacy event route, learns a setting while it checks the connection
// (the region field) and reads the PSA as the member looking at the pod,
// as vendor plugins do.
func seamDescriptor() psa.Descriptor {
	d := memory.Descriptor()
	inner := d.New
	d.ID, d.Name = seamKind, "Seam PSA"
	d.Fields = append(d.Fields, psa.Field{Name: "region", Label: "Region", Kind: psa.FieldText, Help: "Leave empty: the check finds it."})
	d.New = func(raw json.RawMessage, deps psa.Deps) (psa.Client, error) {
		var cfg map[string]string
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return nil, core.Errorf(core.KindInvalid, "the settings are not a JSON object")
		}
		delete(cfg, "region") // the memory PSA has no such setting
		raw, _ = json.Marshal(cfg)
		c, err := inner(raw, deps)
		if err != nil {
			return nil, err
		}
		return seamClient{c.(*memory.Client)}, nil
	}
	d.Assets = psa.Assets{FS: fstest.MapFS{
		"pod.js":     {Data: []byte("// the seam PSA's half of the pod\nwindow.seamPodScript = true;\n")},
		"setup.html": {Data: []byte("<!doctype html><title>Seam PSA setup</title><p>Open Seam › Settings › Webhooks.</p>")},
	}, PodScripts: []string{"pod.js"}, SetupHelp: "setup.html"}
	d.Inbound = psa.Inbound{Query: "?via=webhook", LegacyPaths: []string{seamLegacyPath + "{tenant}/{integration}"}}
	return d
}

// seamClient is the memory PSA's client plus a setting it learns, and
// reading as the member looking at the pod (memory's ReadAs).
type seamClient struct{ *memory.Client }

// LearnedSettings implements psa.SettingsLearner.
func (seamClient) LearnedSettings() map[string]string { return map[string]string{"region": "eu-1"} }

// AsMember implements psa.MemberReader.
func (c seamClient) AsMember(ctx context.Context, proof json.RawMessage) (psa.Client, psa.Member, error) {
	as, m, err := c.ReadAs(ctx, proof)
	if err != nil {
		return nil, m, err
	}
	return seamClient{as}, m, nil
}

// newSeamEnv is newEnv whose PSAs are the memory PSA and seamDescriptor,
// with a memory PSA server holding one company, one contact and two
// tickets (the second without a contact).
func newSeamEnv(t *testing.T, st *store.Store) (*env, *memory.Server, string) {
	t.Helper()
	var e *env
	e = newEnv(t, st, envOptions{descriptors: []psa.Descriptor{memory.Descriptor(), seamDescriptor()}, psaDeps: func(core.Integration) psa.Deps {
		// Clients are built on first use, after newEnv returned.
		return psa.Deps{Now: e.clk.Now, Retry: psa.RetryPolicy{Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}}
	}})
	srv := memory.NewServer(seamAPIKey)
	srv.SetMember(psa.Member{Ref: "m1", Identifier: "api", Name: "API member"})
	srv.SetWebhookSecret(seamWebhookSecret)
	srv.SetClock(e.clk.Now)
	srv.Seed([]psa.Company{{Ref: "co1", Name: "Fabrikam"}},
		[]psa.Contact{{Ref: "c1", CompanyRef: "co1", FirstName: "Alice", LastName: "Smith",
			Emails: []psa.Email{{Address: "alice@fabrikam.example", Default: true}},
			Phones: []psa.Phone{{Number: "(555) 010-0177", Label: "Mobile", Default: true}}}},
		[]psa.Ticket{{Ref: "3001", Summary: "Password reset", CompanyRef: "co1", ContactRef: "c1"},
			{Ref: "3002", Summary: "Printer", CompanyRef: "co1"}})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return e, srv, ts.URL
}

const (
	seamAPIKey        = "seam-api-key-0123456789"
	seamWebhookSecret = "seam-webhook-secret-9876543210"
)

// seamSettings is the integration form for the memory PSA at base, with
// change applied.
func seamSettings(base string, change ...func(map[string]string)) map[string]string {
	m := map[string]string{"base_url": base, "api_key": seamAPIKey, "webhook_secret": seamWebhookSecret}
	for _, f := range change {
		f(m)
	}
	return m
}

func integrationBody(kind, name string, settings map[string]string) map[string]any {
	return map[string]any{"kind": kind, "name": name, "settings": settings}
}

// createSeam sets up the memory PSA at base as tenant a's seam integration
// through the API and returns the answer's integration.
func (e *env) createSeam(t *testing.T, c *http.Client, base string) map[string]any {
	t.Helper()
	r := e.api(t, c, http.MethodPost, "/api/v1/admin/integrations", integrationBody(seamKind, "Seam", seamSettings(base)))
	require.Equal(t, http.StatusCreated, r.status, "create: %s", r.body)
	return r.JSON(t)["integration"].(map[string]any)
}

// TestIntegrationSetup walks the integrations admin API on a plugin that
// has every capability: the form comes from the descriptor; a save is
// checked live, stores what the check learned, registers the callbacks
// once and returns the setup to do in the PSA; secrets are never echoed;
// the setup buttons work and are idempotent; only the tenant's admins see
// any of it.
func TestIntegrationSetup(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e, psaSrv, base := newSeamEnv(t, st)
		c := e.adminClient(t)
		secrets := []string{seamAPIKey, seamWebhookSecret}

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
			if k.ID == seamKind {
				fields = map[string]string{}
				for _, f := range k.Fields {
					fields[f.Name] = f.Kind
				}
			}
		}
		assert.Equal(t, map[string]string{"base_url": "url", "api_key": "secret", "webhook_secret": "secret", "region": "text"}, fields,
			"the form comes from the descriptor")

		r = e.api(t, c, http.MethodPost, "/api/v1/admin/integrations", integrationBody(seamKind, "Seam", seamSettings(base)))
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
		assert.Equal(t, base, in.Settings["base_url"])
		assert.Equal(t, "eu-1", in.Settings["region"], "what the check learned is stored")
		assert.NotContains(t, in.Settings, "api_key")
		assert.ElementsMatch(t, []string{"api_key", "webhook_secret"}, in.SecretsSet)
		assert.Equal(t, "connected to Seam PSA", saved.Check)
		assert.True(t, saved.Callbacks.OK, saved.Callbacks.Message)
		podURL := publicURL + "/pod/" + e.a.tenant.Slug + "/" + in.ID
		require.Len(t, in.Setup.Pods, 2)
		for _, p := range in.Setup.Pods {
			assert.Equal(t, podURL, p.URL)
			assert.Equal(t, publicURL, p.Origin)
			assert.Equal(t, "pod", p.Type)
		}
		assert.NotEmpty(t, in.Setup.Permissions)
		assert.True(t, in.CanInstallPods)
		wantCallback := publicURL + "/webhooks/psa/" + e.a.tenant.Slug + "/" + in.ID + "?via=webhook"
		assert.Equal(t, wantCallback, in.CallbackURL, "the generic route, with the plugin's query")
		assert.Equal(t, []string{wantCallback}, psaSrv.Webhooks())
		// The plugin's setup help page, shipped in its descriptor.
		require.True(t, strings.HasPrefix(in.SetupHelpURL, "/static/psa/seam/setup.html?v="), in.SetupHelpURL)
		help := e.do(t, e.client(t), http.MethodGet, in.SetupHelpURL, "", nil, nil)
		require.Equal(t, http.StatusOK, help.status)
		assert.Contains(t, string(help.body), "Seam › Settings › Webhooks")

		stored, err := e.eng.Integration(t.Context(), e.a.tenant.ID, in.ID)
		require.NoError(t, err)
		var cfg map[string]string
		require.NoError(t, json.Unmarshal(stored.Config, &cfg))
		assert.Equal(t, seamAPIKey, cfg["api_key"])
		assert.Equal(t, "eu-1", cfg["region"])
		var audited []string
		evs, err := e.eng.AuditEvents(t.Context(), e.a.tenant.ID, core.AuditQuery{Subject: in.ID})
		require.NoError(t, err)
		for _, ev := range evs {
			audited = append(audited, ev.Action)
		}
		assert.ElementsMatch(t, []string{"integration.saved", "integration.callbacks_registered"}, audited)

		// Edit: blank secrets keep theirs; callbacks are not duplicated.
		r = e.api(t, c, http.MethodPut, "/api/v1/admin/integrations/"+in.ID, integrationBody("", "Seam production",
			seamSettings(base, func(m map[string]string) { m["api_key"], m["webhook_secret"] = "", "" })))
		require.Equal(t, http.StatusOK, r.status, "edit: %s", r.body)
		stored, err = e.eng.Integration(t.Context(), e.a.tenant.ID, in.ID)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(stored.Config, &cfg))
		assert.Equal(t, seamAPIKey, cfg["api_key"])
		assert.Equal(t, seamWebhookSecret, cfg["webhook_secret"])
		assert.Equal(t, "Seam production", stored.Name)
		assert.Len(t, psaSrv.Webhooks(), 1)
		assert.Contains(t, r.JSON(t)["callbacks"].(map[string]any)["message"], "already registered")

		// The kind of an integration cannot change.
		r = e.api(t, c, http.MethodPut, "/api/v1/admin/integrations/"+in.ID, integrationBody(memory.ID, "x", seamSettings(base)))
		assert.Equal(t, http.StatusBadRequest, r.status)

		// Test the connection, then the setup buttons.
		r = e.api(t, c, http.MethodPost, "/api/v1/admin/integrations/"+in.ID+"/check", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, "Connected to Seam PSA.", r.JSON(t)["message"])

		r = e.api(t, c, http.MethodGet, "/api/v1/admin/integrations/"+in.ID+"/pod-screens", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, map[string]any{"contact": float64(1), "ticket": float64(2)}, r.JSON(t)["suggested"])

		r = e.api(t, c, http.MethodPost, "/api/v1/admin/integrations/"+in.ID+"/pods", map[string]any{"screens": map[string]int{"contact": 1, "ticket": 2}})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.ElementsMatch(t, []string{"contact " + podURL, "ticket " + podURL}, psaSrv.Pods())
		r = e.api(t, c, http.MethodPost, "/api/v1/admin/integrations/"+in.ID+"/pods", map[string]any{})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Len(t, psaSrv.Pods(), 2, "running it again adds nothing")

		psaSrv.DisableWebhook(wantCallback)
		r = e.api(t, c, http.MethodPost, "/api/v1/admin/integrations/"+in.ID+"/callbacks", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Contains(t, r.JSON(t)["message"], "enabled again")
		assert.False(t, psaSrv.WebhookDisabled(wantCallback))
		assert.Len(t, psaSrv.Webhooks(), 1)

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
		r = e.api(t, c, http.MethodPost, "/api/v1/admin/integrations", integrationBody(seamKind, "x", seamSettings(base)))
		assert.Equal(t, http.StatusForbidden, r.status)

		// Another tenant's admin sees none of it.
		e.setRole(t, &e.b, core.RoleAdmin)
		cb := e.login(t, e.b)
		r = e.api(t, cb, http.MethodGet, "/api/v1/admin/integrations/"+in.ID, nil)
		assert.Equal(t, http.StatusNotFound, r.status)
		r = e.api(t, cb, http.MethodPut, "/api/v1/admin/integrations/"+in.ID, integrationBody("", "stolen", seamSettings(base)))
		assert.Equal(t, http.StatusNotFound, r.status)
	})
}

// intState is what the integrations API may change: the store (both
// tenants, their integrations) and the PSA's setup.
type intState struct {
	state
	Integrations map[string][]core.Integration
	Webhooks     []string
	Pods         []string
}

func (e *env) intState(t *testing.T, psaSrv *memory.Server) intState {
	t.Helper()
	s := intState{state: e.state(t), Integrations: map[string][]core.Integration{}, Webhooks: psaSrv.Webhooks(), Pods: psaSrv.Pods()}
	for _, d := range []tenantData{e.a, e.b} {
		ins, err := e.eng.Integrations(t.Context(), d.tenant.ID)
		require.NoError(t, err)
		s.Integrations[d.tenant.ID] = ins
	}
	return s
}

// TestIntegrationBadInputChangesNothing sends bad forms and provokes every
// fault of the live check: each gets a clear message and a status that is
// not a 2xx (nor a 401, which would sign the admin out), and leaves the
// store and the PSA as they were.
func TestIntegrationBadInputChangesNothing(t *testing.T) {
	e, psaSrv, base := newSeamEnv(t, storetest.Open(t, store.SQLite))
	c := e.adminClient(t)
	set := func(k, v string) func(map[string]string) { return func(m map[string]string) { m[k] = v } }
	post := func(name string, change ...func(map[string]string)) map[string]any {
		return integrationBody(seamKind, name, seamSettings(base, change...))
	}
	fail := func(n, status int, retryAfter string) func() func() {
		return func() func() { psaSrv.FailNext(n, status, retryAfter); return func() { psaSrv.FailNext(0, 0, "") } }
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
		{name: "not json", body: "base_url=x", ct: "application/x-www-form-urlencoded", status: 400, contains: "application/json"},
		{name: "malformed json", body: `{"kind":"seam",`, status: 400, contains: "malformed JSON"},
		{name: "unknown field", body: `{"kind":"seam","name":"x","settings":{},"admin":true}`, status: 400, contains: `unknown field "admin"`},
		{name: "no kind", body: integrationBody("", "x", seamSettings(base)), status: 400, contains: "choose the PSA"},
		{name: "unknown kind", body: integrationBody("nosuchpsa", "x", seamSettings(base)), status: 400, contains: `PSA called "nosuchpsa"`},
		{name: "no name", body: post("  "), status: 400, contains: "give the integration a name"},
		{name: "long name", body: post(strings.Repeat("n", 101)), status: 400, contains: "at most 100"},
		{name: "script in the name", body: post(`<script>alert(1)</script>`), status: 400, contains: "< or >"},
		{name: "script in a setting", body: post("Seam", set("region", `eu"><script>alert(1)</script>`)), status: 400, contains: "Region must not contain < or >"},
		{name: "control character", body: post("Seam", set("region", "eu\nx")), status: 400, contains: "one line"},
		{name: "long setting", body: post("Seam", set("region", strings.Repeat("k", 1001))), status: 400, contains: "at most 1000"},
		{name: "required setting missing", body: post("Seam", set("api_key", "")), status: 400, contains: "API key is required"},
		{name: "unknown setting", body: post("Seam", set("password", "x")), status: 400, contains: `no setting called "password"`},
		{name: "settings the plugin refuses", body: post("Seam", set("base_url", "ftp://psa.example")), status: 400, contains: "must be an http or https URL"},
		{name: "cross-site post", body: post("Seam"), origin: "https://evil.example", status: 403, contains: "cross-origin"},
		{name: "wrong key", checked: true, body: post("Seam", set("api_key", "not-the-key")), status: 400},
		{name: "keys revoked", checked: true, body: post("Seam"), fault: func() func() { psaSrv.RejectCredentials(true); return func() { psaSrv.RejectCredentials(false) } }, status: 400},
		{name: "server errors", checked: true, body: post("Seam"), fault: fail(20, 500, ""), status: 503},
		{name: "throttled", checked: true, body: post("Seam"), fault: fail(20, 429, "1"), status: 429},
		{name: "not found", checked: true, body: post("Seam"), fault: fail(1, 404, ""), status: 400},
		{name: "forbidden", checked: true, body: post("Seam"), fault: fail(1, 403, ""), status: 400},
		{name: "unauthorized", checked: true, body: post("Seam"), fault: fail(1, 401, ""), status: 400},
		{name: "malformed answer", checked: true, body: post("Seam"), fault: func() func() { psaSrv.MalformedNext(); return func() {} }, status: 503},
		{name: "psa down", checked: true, body: post("Seam"), fault: func() func() { psaSrv.SetDown(true); return func() { psaSrv.SetDown(false) } }, status: 503},
		{name: "nothing listening", checked: true, body: post("Seam", set("base_url", "http://127.0.0.1:1")), status: 503},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fault != nil {
				undo := tc.fault()
				defer undo()
			}
			before := e.intState(t, psaSrv)
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
				assert.Greater(t, len(msg), len("The connection check failed, so nothing was saved: "), "the plugin says what went wrong: %s", msg)
			}
			assert.Equal(t, before, e.intState(t, psaSrv), "a refused save changed something")
		})
	}
	// Faults left nothing behind, and a good save still works.
	e.createSeam(t, c, base)
	e.assertLogsClean(t, seamAPIKey, seamWebhookSecret)
}

// TestIntegrationEditBadInputChangesNothing refuses bad edits of a stored
// integration and keeps it as it was; the live check and the setup
// buttons explain the PSA's faults.
func TestIntegrationEditBadInputChangesNothing(t *testing.T) {
	e, psaSrv, base := newSeamEnv(t, storetest.Open(t, store.SQLite))
	c := e.adminClient(t)
	in := e.createSeam(t, c, base)
	id := in["id"].(string)
	for _, tc := range []struct {
		name     string
		path     string
		body     map[string]any
		fault    func()
		status   int
		contains string
	}{
		{name: "unknown integration", path: "/api/v1/admin/integrations/int_nope", body: integrationBody("", "x", seamSettings(base)), status: 404},
		{name: "script", path: "/api/v1/admin/integrations/" + id, body: integrationBody("", "<img src=x onerror=alert(1)>", seamSettings(base)), status: 400, contains: "< or >"},
		{name: "keys revoked", path: "/api/v1/admin/integrations/" + id, body: integrationBody("", "Seam", seamSettings(base)), fault: func() { psaSrv.RejectCredentials(true) },
			status: 400, contains: "nothing was saved"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fault != nil {
				tc.fault()
			}
			before := e.intState(t, psaSrv)
			r := e.api(t, c, http.MethodPut, tc.path, tc.body)
			require.Equal(t, tc.status, r.status, "%s", r.body)
			assert.Contains(t, r.JSON(t)["error"], tc.contains)
			assert.Equal(t, before, e.intState(t, psaSrv))
		})
	}
	r := e.api(t, c, http.MethodPost, "/api/v1/admin/integrations/"+id+"/check", nil)
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	assert.True(t, strings.HasPrefix(r.JSON(t)["error"].(string), "The connection check failed: "), "%s", r.body)
	psaSrv.RejectCredentials(false)
	psaSrv.FailNext(1, http.StatusForbidden, "")
	r = e.api(t, c, http.MethodPost, "/api/v1/admin/integrations/"+id+"/pods", map[string]any{})
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	assert.NotEmpty(t, r.JSON(t)["error"])
	assert.Empty(t, psaSrv.Pods())
	r = e.api(t, c, http.MethodPost, "/api/v1/admin/integrations/"+id+"/pods", map[string]any{"screens": map[string]int{"desktop": 1}})
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	psaSrv.SetDown(true)
	r = e.api(t, c, http.MethodPost, "/api/v1/admin/integrations/"+id+"/callbacks", nil)
	require.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r.body)
	assert.Contains(t, r.JSON(t)["error"], "Registering the ticket callbacks failed")
	failed, err := e.eng.AuditEvents(t.Context(), e.a.tenant.ID, core.AuditQuery{Action: string(core.AuditIntegrationCallbacksFailed)})
	require.NoError(t, err)
	assert.Len(t, failed, 1, "the failure is audited")
}
