package connectwise_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/connectwise"
	"github.com/countersign/countersign/connectwise/cwtest"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/memory"
	"github.com/countersign/countersign/core/web/webtest"
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

// The ConnectWise integration through the host: set up, edited and
// checked through the admin API of a whole Countersign server
// (core/web/webtest), against the contract-checked fake ConnectWise. The
// host's own tests (core/web) cover the same API on the memory PSA; these
// hold ConnectWise's side of it: its settings, its messages, its hosted
// setup and callbacks.

// newCWEnv is a Countersign server with the ConnectWise plugin among the
// PSAs, its clients talking to a fake ConnectWise tenant.
func newCWEnv(t *testing.T, dialect string) (*webtest.Env, *cwtest.Server) {
	t.Helper()
	cw := cwtest.NewServer(t)
	cw.Seed([]psa.Company{icwCompany}, []psa.Contact{icwAlice}, []psa.Ticket{icwTicket, icwNoContact})
	e := webtest.Open(t, dialect, webtest.Options{
		Descriptors: []psa.Descriptor{memory.Descriptor(), connectwise.Descriptor()},
		Deps:        func(core.Integration) psa.Deps { return cw.Deps(psa.Deps{}) },
	})
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

// createCW sets up the fake as tenant a's ConnectWise integration through
// the API and returns the answer's integration.
func createCW(t *testing.T, e *webtest.Env, c *http.Client, cw *cwtest.Server) map[string]any {
	t.Helper()
	r := e.API(t, c, http.MethodPost, "/api/v1/admin/integrations", integrationBody("connectwise", "ConnectWise", icwSettings(cw)))
	require.Equal(t, http.StatusCreated, r.Status, "create: %s", r.Body)
	return r.JSON(t)["integration"].(map[string]any)
}

func TestIntegrationSetupConnectWise(t *testing.T) {
	webtest.ForEachDialect(t, testIntegrationSetupConnectWise)
}

func testIntegrationSetupConnectWise(t *testing.T, dialect string) {
	e, cw := newCWEnv(t, dialect)
	c := e.AdminClient(t)
	secrets := []string{cwtest.PrivateKey, cwtest.ClientID}

	r := e.API(t, c, http.MethodGet, "/api/v1/admin/integrations", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var list struct {
		Kinds []struct {
			ID     string
			Fields []struct{ Name, Kind string }
		}
		Integrations []any
	}
	require.NoError(t, json.Unmarshal(r.Body, &list))
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
	r = e.API(t, c, http.MethodPost, "/api/v1/admin/integrations", integrationBody("connectwise", "ConnectWise", icwSettings(cw)))
	require.Equal(t, http.StatusCreated, r.Status, "create: %s", r.Body)
	for _, s := range secrets {
		assert.NotContains(t, string(r.Body), s, "a secret was echoed")
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
	require.NoError(t, json.Unmarshal(r.Body, &saved))
	in := saved.Integration
	assert.Equal(t, cw.Site(), in.Settings["site"])
	assert.Equal(t, cwtest.DefaultCodebase, in.Settings["codebase"], "what the check discovered is stored")
	assert.NotContains(t, in.Settings, "private_key")
	assert.ElementsMatch(t, []string{"private_key", "client_id"}, in.SecretsSet)
	assert.Equal(t, "connected to ConnectWise PSA", saved.Check)
	assert.True(t, saved.Callbacks.OK, saved.Callbacks.Message)
	podURL := webtest.PublicURL + "/pod/" + e.A.Tenant.Slug + "/" + in.ID + "?id=[cw_id]&screen=[cw_screen]"
	require.Len(t, in.Setup.Pods, 2)
	for _, p := range in.Setup.Pods {
		assert.Equal(t, podURL, p.URL)
		assert.Equal(t, webtest.PublicURL, p.Origin)
		assert.Equal(t, "Pod", p.Type)
	}
	assert.NotEmpty(t, in.Setup.Permissions)
	assert.True(t, in.CanInstallPods)
	wantCallback := webtest.PublicURL + "/webhooks/psa/" + e.A.Tenant.Slug + "/" + in.ID + "?recordId="
	assert.Equal(t, wantCallback, in.CallbackURL)
	cbs := cw.Callbacks()
	require.Len(t, cbs, 1)
	assert.Equal(t, wantCallback, cbs[0].URL)
	// The plugin's setup help page, shipped in its descriptor.
	require.True(t, strings.HasPrefix(in.SetupHelpURL, "/static/psa/connectwise/setup.html?v="), in.SetupHelpURL)
	help := e.Do(t, e.Client(t), http.MethodGet, in.SetupHelpURL, "", nil, nil)
	require.Equal(t, http.StatusOK, help.Status)
	assert.Contains(t, string(help.Body), "Manage Hosted API")

	stored, err := e.Engine.Integration(t.Context(), e.A.Tenant.ID, in.ID)
	require.NoError(t, err)
	var cfg map[string]string
	require.NoError(t, json.Unmarshal(stored.Config, &cfg))
	assert.Equal(t, cwtest.PrivateKey, cfg["private_key"])
	assert.Equal(t, cwtest.DefaultCodebase, cfg["codebase"])
	var audited []string
	require.NoError(t, e.Store.View(t.Context(), func(tx core.Tx) error {
		evs, err := tx.AuditEvents(t.Context(), e.A.Tenant.ID, core.AuditQuery{Subject: in.ID})
		for _, ev := range evs {
			audited = append(audited, ev.Action)
		}
		return err
	}))
	assert.Equal(t, []string{"integration.saved", "integration.callbacks_registered"}, audited)

	// Edit: blank secrets keep theirs; callbacks are not duplicated.
	r = e.API(t, c, http.MethodPut, "/api/v1/admin/integrations/"+in.ID, integrationBody("", "CW production",
		icwSettings(cw, func(m map[string]string) { m["private_key"], m["client_id"] = "", "" })))
	require.Equal(t, http.StatusOK, r.Status, "edit: %s", r.Body)
	stored, err = e.Engine.Integration(t.Context(), e.A.Tenant.ID, in.ID)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(stored.Config, &cfg))
	assert.Equal(t, cwtest.PrivateKey, cfg["private_key"])
	assert.Equal(t, cwtest.ClientID, cfg["client_id"])
	assert.Equal(t, "CW production", stored.Name)
	assert.Len(t, cw.Callbacks(), 1)
	assert.Contains(t, r.JSON(t)["callbacks"].(map[string]any)["message"], "already registered")

	// The kind of an integration cannot change.
	r = e.API(t, c, http.MethodPut, "/api/v1/admin/integrations/"+in.ID, integrationBody("memory", "x", map[string]string{}))
	assert.Equal(t, http.StatusBadRequest, r.Status)

	// Test the connection, then the setup buttons.
	r = e.API(t, c, http.MethodPost, "/api/v1/admin/integrations/"+in.ID+"/check", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Contains(t, r.JSON(t)["message"], "Connected")

	r = e.API(t, c, http.MethodGet, "/api/v1/admin/integrations/"+in.ID+"/pod-screens", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, map[string]any{"contact": float64(2), "ticket": float64(3)}, r.JSON(t)["suggested"])

	r = e.API(t, c, http.MethodPost, "/api/v1/admin/integrations/"+in.ID+"/pods", map[string]any{"screens": map[string]int{"contact": 2, "ticket": 3}})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	setups := cw.HostedSetups()
	require.Len(t, setups, 2)
	for _, h := range setups {
		assert.Equal(t, podURL, h.URL)
		assert.Equal(t, webtest.PublicURL, h.Origin)
	}
	r = e.API(t, c, http.MethodPost, "/api/v1/admin/integrations/"+in.ID+"/pods", map[string]any{})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Len(t, cw.HostedSetups(), 2, "running it again adds nothing")

	cw.DisableCallback(cbs[0].ID)
	r = e.API(t, c, http.MethodPost, "/api/v1/admin/integrations/"+in.ID+"/callbacks", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Contains(t, r.JSON(t)["message"], "enabled again")
	assert.False(t, cw.Callbacks()[0].Inactive)

	// Reads never hold a secret either.
	for _, p := range []string{"/api/v1/admin/integrations", "/api/v1/admin/integrations/" + in.ID} {
		r = e.API(t, c, http.MethodGet, p, nil)
		require.Equal(t, http.StatusOK, r.Status)
		for _, s := range secrets {
			assert.NotContains(t, string(r.Body), s)
		}
	}
	e.AssertLogsClean(t, secrets...)

	// The page, and who may see it.
	r = e.Do(t, c, http.MethodGet, "/app/admin/integrations", "", nil, nil)
	require.Equal(t, http.StatusOK, r.Status)
	for _, id := range []string{`id="int-form"`, `id="int-pods"`, `id="int-install-pods"`, `id="int-register-callbacks"`, `href="/app/admin/integrations" aria-current="page"`} {
		assert.Contains(t, string(r.Body), id)
	}
	e.SetRole(t, &e.A, core.RoleTechnician)
	r = e.Do(t, c, http.MethodGet, "/app/admin/integrations", "", nil, nil)
	assert.Equal(t, http.StatusForbidden, r.Status)
	r = e.API(t, c, http.MethodGet, "/api/v1/admin/integrations", nil)
	assert.Equal(t, http.StatusForbidden, r.Status)
	r = e.API(t, c, http.MethodPost, "/api/v1/admin/integrations", integrationBody("connectwise", "x", icwSettings(cw)))
	assert.Equal(t, http.StatusForbidden, r.Status)

	// Another tenant's admin sees none of it.
	e.SetRole(t, &e.B, core.RoleAdmin)
	cb := e.Login(t, e.B)
	r = e.API(t, cb, http.MethodGet, "/api/v1/admin/integrations/"+in.ID, nil)
	assert.Equal(t, http.StatusNotFound, r.Status)
	r = e.API(t, cb, http.MethodPut, "/api/v1/admin/integrations/"+in.ID, integrationBody("", "stolen", icwSettings(cw)))
	assert.Equal(t, http.StatusNotFound, r.Status)
}

// TestIntegrationCodebaseChange saves settings whose codebase ConnectWise
// no longer routes (it was upgraded): the check finds the new one, and
// that is what is stored.
func TestIntegrationCodebaseChange(t *testing.T) {
	e, cw := newCWEnv(t, webtest.SQLite)
	c := e.AdminClient(t)
	cw.ChangeCodebase("v2025_2/")
	r := e.API(t, c, http.MethodPost, "/api/v1/admin/integrations", integrationBody("connectwise", "ConnectWise",
		icwSettings(cw, func(m map[string]string) { m["codebase"] = "v2025_1/" })))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	in := r.JSON(t)["integration"].(map[string]any)
	assert.Equal(t, "v2025_2/", in["settings"].(map[string]any)["codebase"])
}

// intState is what the integrations API may change: the store (both
// tenants) and the fake ConnectWise.
type intState struct {
	webtest.State
	Callbacks    int
	HostedSetups int
}

func cwIntState(t *testing.T, e *webtest.Env, cw *cwtest.Server) intState {
	t.Helper()
	return intState{State: e.State(t), Callbacks: len(cw.Callbacks()), HostedSetups: len(cw.HostedSetups())}
}

// TestIntegrationBadInputChangesNothing sends bad ConnectWise settings and
// provokes every fault of ConnectWise's live check: each gets a clear
// message and a status that is not a 2xx (nor a 401, which would sign the
// admin out), and leaves the store and ConnectWise as they were. The
// form's generic faults (bad JSON, names, unknown kinds and settings,
// cross-site posts) are core/web's TestIntegrationBadInputChangesNothing,
// on the memory PSA.
func TestIntegrationBadInputChangesNothing(t *testing.T) {
	e, cw := newCWEnv(t, webtest.SQLite)
	c := e.AdminClient(t)
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
		{name: "script in the site", body: post("CW", set("site", `na.myconnectwise.net"><script>alert(1)</script>`)), status: 400, contains: "Site must not contain < or >"},
		{name: "no site", body: post("CW", set("site", "")), status: 400, contains: "Site is required"},
		{name: "no private key", body: post("CW", set("private_key", "")), status: 400, contains: "Private key is required"},
		{name: "http site", body: post("CW", set("site", "http://na.myconnectwise.net")), status: 400, contains: "https"},
		{name: "site that is no host", body: post("CW", set("site", "na myconnectwise net")), status: 400, contains: "not a host name"},
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
			before := cwIntState(t, e, cw)
			ct := tc.ct
			if ct == "" {
				ct = "application/json"
			}
			var hdr map[string]string
			if tc.origin != "" {
				hdr = map[string]string{"Origin": tc.origin}
			}
			r := e.Do(t, c, http.MethodPost, "/api/v1/admin/integrations", ct, tc.body, hdr)
			require.Equal(t, tc.status, r.Status, "body: %s", r.Body)
			msg, _ := r.JSON(t)["error"].(string)
			assert.Contains(t, msg, tc.contains)
			if tc.checked {
				assert.True(t, strings.HasPrefix(msg, "The connection check failed, so nothing was saved: "), msg)
			}
			assert.Equal(t, before, cwIntState(t, e, cw), "a refused save changed something")
		})
	}
	// Faults left nothing behind, and a good save still works.
	createCW(t, e, c, cw)
	e.AssertLogsClean(t, cwtest.PrivateKey, cwtest.ClientID)
}

// TestIntegrationEditBadInputChangesNothing refuses bad edits of a stored
// integration and keeps it as it was.
func TestIntegrationEditBadInputChangesNothing(t *testing.T) {
	e, cw := newCWEnv(t, webtest.SQLite)
	c := e.AdminClient(t)
	in := createCW(t, e, c, cw)
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
			before := cwIntState(t, e, cw)
			r := e.API(t, c, http.MethodPut, tc.path, tc.body)
			require.Equal(t, tc.status, r.Status, "%s", r.Body)
			assert.Contains(t, r.JSON(t)["error"], tc.contains)
			assert.Equal(t, before, cwIntState(t, e, cw))
		})
	}
	// The live check and the setup buttons explain faults too.
	r := e.API(t, c, http.MethodPost, "/api/v1/admin/integrations/"+id+"/check", nil)
	require.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, r.JSON(t)["error"], "rejected the API keys")
	cw.RejectKeys(false)
	cw.Forbid("", "POST /system/connectwisehostedsetups")
	r = e.API(t, c, http.MethodPost, "/api/v1/admin/integrations/"+id+"/pods", map[string]any{})
	require.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, r.JSON(t)["error"], "Manage Hosted API")
	r = e.API(t, c, http.MethodPost, "/api/v1/admin/integrations/"+id+"/pods", map[string]any{"screens": map[string]int{"desktop": 1}})
	require.Equal(t, http.StatusBadRequest, r.Status)
	cw.SetDown(true)
	r = e.API(t, c, http.MethodPost, "/api/v1/admin/integrations/"+id+"/callbacks", nil)
	require.Equal(t, http.StatusServiceUnavailable, r.Status, "%s", r.Body)
	assert.Contains(t, r.JSON(t)["error"], "Registering the ticket callbacks failed")
}

// TestIntegrationMissingPermission saves keys whose security role may not
// read contacts: the message names the permission, and nothing is stored.
func TestIntegrationMissingPermission(t *testing.T) {
	e, cw := newCWEnv(t, webtest.SQLite)
	c := e.AdminClient(t)
	cw.Forbid("", "GET /company/contacts")
	before := cwIntState(t, e, cw)
	r := e.API(t, c, http.MethodPost, "/api/v1/admin/integrations", integrationBody("connectwise", "CW", icwSettings(cw)))
	require.Equal(t, http.StatusBadRequest, r.Status, "%s", r.Body)
	assert.Equal(t, "The connection check failed, so nothing was saved: ConnectWise refused: the API member's security role does not allow reading contacts (Companies › Contacts, inquire)",
		r.JSON(t)["error"])
	assert.Equal(t, before, cwIntState(t, e, cw))
}
