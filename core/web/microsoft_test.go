package web_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/microsoft"
	"github.com/countersign/countersign/core/microsoft/microsofttest"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

const msSam = "sam@contoso.example"

// newMicrosoftEnv is newEnv with Microsoft 365 reaching a fake tenant
// whose users are Sam (tenant a's contact, by mail, with Authenticator,
// answering every push with approve) and Kim (no Authenticator).
func newMicrosoftEnv(t *testing.T, st *store.Store) (*env, *microsofttest.Server) {
	t.Helper()
	approve := microsofttest.Approve
	fake := microsofttest.Start(t,
		microsofttest.User{UPN: msSam, Mail: msSam, DisplayName: "Sam Caller", Auto: &approve},
		microsofttest.User{UPN: "kim@contoso.example", DisplayName: "Kim Nomfa", Synced: true,
			Methods: []string{microsofttest.MethodPassword, microsofttest.MethodPhone}})
	conn := microsoft.Connector(microsoft.Options{HTTPClient: fake.HTTPClient(), LoginURL: fake.URL(), GraphURL: fake.URL(),
		ConnectorURL: fake.URL(), GraphResource: "https://graph.microsoft.com", MaxRetryWait: 3 * time.Second})
	return newEnv(t, st, envOptions{microsoft: conn}), fake
}

func microsoftForm(fake *microsofttest.Server, clientID string) map[string]any {
	c := fake.Config()
	return map[string]any{"client_id": clientID, "name": "Contoso 365", "entra_tenant": c.TenantID, "app_client_id": c.ClientID,
		"client_secret": c.ClientSecret, "connector_secret": c.ConnectorSecret, "push_enabled": true}
}

// usersByUPN indexes a users answer.
func usersByUPN(t *testing.T, r response) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, u := range r.JSON(t)["users"].([]any) {
		m := u.(map[string]any)
		out[m["upn"].(string)] = m
	}
	return out
}

// TestMicrosoftAdminAPI: only an admin connects a tenant; wrong
// credentials are refused with Microsoft's reason and nothing is saved;
// the secrets go in and never come out (answers, list, logs); the import
// lists each user's Authenticator status and contact; an admin's match
// is kept; another tenant's admin finds none of it and changes none of it.
func TestMicrosoftAdminAPI(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e, fake := newMicrosoftEnv(t, st)
		tech := e.login(t, e.a)
		r := e.api(t, tech, http.MethodGet, "/api/v1/admin/microsoft", nil)
		assert.Equal(t, http.StatusForbidden, r.status, "a technician cannot read the Microsoft 365 setup: %s", r.body)
		r = e.api(t, tech, http.MethodPost, "/api/v1/admin/microsoft", microsoftForm(fake, e.a.client.ID))
		assert.Equal(t, http.StatusForbidden, r.status, "nor save one: %s", r.body)

		admin := e.adminClient(t)
		wrong := microsoftForm(fake, e.a.client.ID)
		wrong["client_secret"] = "not-the-secret"
		r = e.api(t, admin, http.MethodPost, "/api/v1/admin/microsoft", wrong)
		assert.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "Microsoft refused the client secret")
		wrong = microsoftForm(fake, e.a.client.ID)
		wrong["connector_secret"] = "not-the-connector-secret"
		r = e.api(t, admin, http.MethodPost, "/api/v1/admin/microsoft", wrong)
		assert.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "MFA connector secret")
		wrong = microsoftForm(fake, e.a.client.ID)
		wrong["entra_tenant"] = "contoso.example/../evil"
		r = e.api(t, admin, http.MethodPost, "/api/v1/admin/microsoft", wrong)
		assert.Equal(t, http.StatusBadRequest, r.status, "a tenant that is no id or domain: %s", r.body)
		r = e.api(t, admin, http.MethodPost, "/api/v1/admin/microsoft", microsoftForm(fake, ""))
		assert.Equal(t, http.StatusBadRequest, r.status, "a tenant is connected for one client: %s", r.body)
		r = e.api(t, admin, http.MethodPost, "/api/v1/admin/microsoft", microsoftForm(fake, e.b.client.ID))
		assert.Equal(t, http.StatusNotFound, r.status, "another tenant's client: %s", r.body)
		r = e.api(t, admin, http.MethodPost, "/api/v1/admin/microsoft", `{"client_id": 7}`)
		assert.Equal(t, http.StatusBadRequest, r.status, "bad JSON: %s", r.body)
		r = e.api(t, admin, http.MethodGet, "/api/v1/admin/microsoft", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Empty(t, r.JSON(t)["connections"], "a refused connection is not saved")
		assert.Equal(t, publicURL+core.MicrosoftConsentPath, r.JSON(t)["redirect_uri"])

		r = e.api(t, admin, http.MethodPost, "/api/v1/admin/microsoft", microsoftForm(fake, e.a.client.ID))
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		id, _ := r.JSON(t)["id"].(string)
		require.NotEmpty(t, id)
		assert.Equal(t, true, r.JSON(t)["push_enabled"])
		assert.Equal(t, true, r.JSON(t)["has_connector_secret"])
		r = e.api(t, admin, http.MethodPost, "/api/v1/admin/microsoft", microsoftForm(fake, e.a.client.ID))
		assert.Equal(t, http.StatusConflict, r.status, "one tenant per client: %s", r.body)
		secrets := []string{microsofttest.DefaultClientSecret, microsofttest.DefaultConnectorSecret}
		r = e.api(t, admin, http.MethodGet, "/api/v1/admin/microsoft", nil)
		require.Equal(t, http.StatusOK, r.status)
		assert.Contains(t, string(r.body), "Contoso 365")
		for _, s := range secrets {
			assert.NotContains(t, string(r.body), s, "secrets are write-only")
		}

		// An edit without secrets keeps them (the check passes with them).
		edit := microsoftForm(fake, e.b.client.ID) // ignored: an edit keeps the client
		edit["name"], edit["client_secret"], edit["connector_secret"] = "Contoso M365", "", ""
		r = e.api(t, admin, http.MethodPut, "/api/v1/admin/microsoft/"+id, edit)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, "Contoso M365", r.JSON(t)["name"])
		assert.Equal(t, e.a.client.ID, r.JSON(t)["client_id"], "the client stays")

		r = e.api(t, admin, http.MethodPost, "/api/v1/admin/microsoft/"+id+"/import", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		n := r.JSON(t)
		assert.Equal(t, float64(2), n["users"])
		assert.Equal(t, float64(1), n["authenticator"])
		assert.Equal(t, float64(1), n["synced"])
		assert.Equal(t, float64(1), n["matched"])
		r = e.api(t, admin, http.MethodGet, "/api/v1/admin/microsoft/"+id+"/users", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		users := usersByUPN(t, r)
		require.Len(t, users, 2)
		assert.Equal(t, true, users[msSam]["authenticator"])
		assert.Equal(t, e.a.contact.ID, users[msSam]["contact_id"])
		assert.Equal(t, "Sam Caller", users[msSam]["contact_name"])
		assert.Equal(t, "mail", users[msSam]["matched_by"])
		assert.Equal(t, core.MicrosoftCloudOnly, users[msSam]["source"])
		kim := users["kim@contoso.example"]
		assert.Equal(t, false, kim["authenticator"])
		assert.Equal(t, "phone", kim["methods"])
		assert.Equal(t, core.MicrosoftSynced, kim["source"])
		assert.Nil(t, kim["contact_id"])

		// The admin matches Kim by hand; an import keeps it; a contact of
		// another tenant is not found.
		kimPath := "/api/v1/admin/microsoft/" + id + "/users/" + url.PathEscape(kim["object_id"].(string))
		r = e.api(t, admin, http.MethodPut, kimPath, map[string]string{"contact_id": e.b.contact.ID})
		assert.Equal(t, http.StatusNotFound, r.status, "another tenant's contact: %s", r.body)
		r = e.api(t, admin, http.MethodPut, "/api/v1/admin/microsoft/"+id+"/users/nobody", map[string]string{"contact_id": e.a.contact.ID})
		assert.Equal(t, http.StatusNotFound, r.status, "no such user: %s", r.body)
		r = e.api(t, admin, http.MethodPut, kimPath, map[string]string{"contact_id": e.a.contact.ID})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, "manual", r.JSON(t)["matched_by"])
		r = e.api(t, admin, http.MethodPost, "/api/v1/admin/microsoft/"+id+"/import", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		r = e.api(t, admin, http.MethodGet, "/api/v1/admin/microsoft/"+id+"/users", nil)
		kim = usersByUPN(t, r)["kim@contoso.example"]
		assert.Equal(t, "manual", kim["matched_by"], "the import keeps the admin's match")
		assert.Equal(t, "Sam Caller", kim["contact_name"])
		r = e.api(t, admin, http.MethodPut, kimPath, map[string]string{"contact_id": ""})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Nil(t, r.JSON(t)["contact_id"], "cleared")

		// The connector certificate: the certificate comes back, never its key.
		r = e.api(t, admin, http.MethodPost, "/api/v1/admin/microsoft/"+id+"/certificate", nil)
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		assert.Contains(t, r.JSON(t)["connector_cert"], "BEGIN CERTIFICATE")
		assert.NotContains(t, string(r.body), "PRIVATE KEY")
		r = e.api(t, admin, http.MethodGet, "/api/v1/admin/microsoft", nil)
		assert.Contains(t, string(r.body), "BEGIN CERTIFICATE", "offered for download again")
		assert.NotContains(t, string(r.body), "PRIVATE KEY")

		// Tenant b's admin, with a's connection id: not found, nothing changed.
		e.setRole(t, &e.b, core.RoleAdmin)
		other := e.login(t, e.b)
		taken := microsoftForm(fake, "")
		for _, req := range []struct {
			method, path string
			body         any
		}{
			{http.MethodPost, "/api/v1/admin/microsoft/" + id + "/check", nil},
			{http.MethodPut, "/api/v1/admin/microsoft/" + id, taken},
			{http.MethodPost, "/api/v1/admin/microsoft/" + id + "/import", nil},
			{http.MethodGet, "/api/v1/admin/microsoft/" + id + "/users", nil},
			{http.MethodPut, kimPath, map[string]string{"contact_id": e.b.contact.ID}},
			{http.MethodPost, "/api/v1/admin/microsoft/" + id + "/certificate", nil},
			{http.MethodDelete, "/api/v1/admin/microsoft/" + id, nil},
		} {
			r := e.api(t, other, req.method, req.path, req.body)
			assert.Equal(t, http.StatusNotFound, r.status, "%s %s from another tenant: %s", req.method, req.path, r.body)
		}
		r = e.api(t, other, http.MethodGet, "/api/v1/admin/microsoft", nil)
		assert.NotContains(t, string(r.body), id, "another tenant's list")
		r = e.api(t, admin, http.MethodGet, "/api/v1/admin/microsoft", nil)
		assert.Contains(t, string(r.body), "Contoso M365", "a's connection is untouched")
		r = e.api(t, admin, http.MethodGet, "/api/v1/admin/microsoft/"+id+"/users", nil)
		assert.Len(t, usersByUPN(t, r), 2, "and its users")

		// The certificate is not registered with Microsoft yet: the check
		// says so in words (it is preferred over the secret).
		r = e.api(t, admin, http.MethodPost, "/api/v1/admin/microsoft/"+id+"/check", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, false, r.JSON(t)["ok"])
		assert.Contains(t, r.JSON(t)["check_result"], "does not accept Countersign's connector certificate yet")

		actions := e.auditActions(t, e.a)
		for _, a := range []string{core.AuditMicrosoftSaved, core.AuditMicrosoftImported, core.AuditMicrosoftUserMatched,
			core.AuditMicrosoftCertGenerated, core.AuditMicrosoftChecked} {
			assert.Contains(t, actions, a)
		}
		r = e.api(t, admin, http.MethodDelete, "/api/v1/admin/microsoft/"+id, nil)
		assert.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
		r = e.api(t, admin, http.MethodGet, "/api/v1/admin/microsoft", nil)
		assert.Empty(t, r.JSON(t)["connections"])
		assert.Contains(t, e.auditActions(t, e.a), core.AuditMicrosoftDeleted)

		e.assertLogsClean(t, secrets...)
	})
}

// TestMicrosoftPushAPI: the routes list Microsoft Authenticator for a
// contact who has it; Push with method microsoft_push sends it and the
// verification turns verified on Microsoft's Success; an unknown method is
// refused; another tenant's contact is not found and Microsoft is never
// asked.
func TestMicrosoftPushAPI(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e, fake := newMicrosoftEnv(t, st)
		admin := e.adminClient(t)
		r := e.api(t, admin, http.MethodPost, "/api/v1/admin/microsoft", microsoftForm(fake, e.a.client.ID))
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		id := r.JSON(t)["id"].(string)
		r = e.api(t, admin, http.MethodPost, "/api/v1/admin/microsoft/"+id+"/import", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)

		tech := e.login(t, e.b)
		r = e.api(t, tech, http.MethodPost, "/api/v1/pushes", map[string]string{"method": "microsoft_push", "contact_id": e.a.contact.ID, "ticket_ref": "4821"})
		assert.Equal(t, http.StatusNotFound, r.status, "another tenant's contact: %s", r.body)
		r = e.api(t, tech, http.MethodGet, "/api/v1/contacts/"+e.a.contact.ID+"/routes", nil)
		assert.Equal(t, http.StatusNotFound, r.status, "another tenant's routes: %s", r.body)
		r = e.api(t, tech, http.MethodPost, "/api/v1/pushes", map[string]string{"method": "microsoft_push", "contact_id": e.b.contact.ID, "ticket_ref": "4821"})
		assert.Equal(t, http.StatusBadRequest, r.status, "tenant b has no Microsoft 365: %s", r.body)
		assert.Contains(t, string(r.body), "no Microsoft 365 tenant is connected")
		r = e.api(t, admin, http.MethodPost, "/api/v1/pushes", map[string]string{"method": "carrier_pigeon", "contact_id": e.a.contact.ID, "ticket_ref": "4821"})
		assert.Equal(t, http.StatusBadRequest, r.status, "an unknown method: %s", r.body)
		assert.Contains(t, string(r.body), "method must be duo_push or microsoft_push")
		assert.Empty(t, fake.Requests(), "Microsoft was never asked")

		r = e.api(t, admin, http.MethodGet, "/api/v1/contacts/"+e.a.contact.ID+"/routes", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var ms map[string]any
		for _, x := range r.JSON(t)["routes"].([]any) {
			if x.(map[string]any)["method"] == "microsoft_push" {
				ms = x.(map[string]any)
			}
		}
		require.NotNil(t, ms, "the routes list Microsoft Authenticator: %s", r.body)
		assert.Equal(t, true, ms["available"], ms["reason"])
		assert.Contains(t, ms["reason"], "tell the caller to expect an Approve/Deny prompt")
		assert.Equal(t, "Medium — approve-only push", ms["assurance"])

		r = e.api(t, admin, http.MethodPost, "/api/v1/pushes", map[string]string{"method": "microsoft_push", "contact_id": e.a.contact.ID, "ticket_ref": "4821"})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		vid, _ := r.JSON(t)["id"].(string)
		require.NotEmpty(t, vid)
		assert.Equal(t, "microsoft_push", r.JSON(t)["method"])
		require.Len(t, fake.WaitPushes(1, 5*time.Second), 1)
		e.eng.Wait()
		v := e.verification(t, e.a, vid)
		assert.Equal(t, core.StatusVerified, v.Status, v.Detail)
		assert.Equal(t, core.MethodMicrosoftPush, v.Method)
		assert.Equal(t, msSam, fake.Pushes()[0].UPN)
		e.assertLogsClean(t, microsofttest.DefaultClientSecret, microsofttest.DefaultConnectorSecret)
	})
}

// startConsent starts admin consent as c and returns the state Microsoft
// would send back.
func startConsent(t *testing.T, e *env, c *http.Client, body map[string]string) string {
	t.Helper()
	r := e.api(t, c, http.MethodPost, "/api/v1/admin/microsoft/consent", body)
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	u, err := url.Parse(r.JSON(t)["url"].(string))
	require.NoError(t, err)
	assert.Equal(t, "login.microsoftonline.com", u.Host)
	assert.Equal(t, publicURL+core.MicrosoftConsentPath, u.Query().Get("redirect_uri"), "the redirect URI comes from the public URL")
	state := u.Query().Get("state")
	require.NotEmpty(t, state)
	return state
}

// TestMicrosoftConsentReturn: the admin-consent pop-out's round trip — the
// start gives Microsoft's URL; the return page accepts the answer only for
// the admin who started it, in their tenant, once; a refusal is shown in
// words; the tenant id then prefills the form; the state is never logged.
func TestMicrosoftConsentReturn(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e, _ := newMicrosoftEnv(t, st)
		plain := e.addTech(t, e.a, "Tess Tech", "tess@acme.example", core.RoleTechnician)
		tech := e.loginAs(t, e.a, plain.Email, password)
		start := map[string]string{"client_id": e.a.client.ID, "app_client_id": microsofttest.DefaultClientID}
		r := e.api(t, tech, http.MethodPost, "/api/v1/admin/microsoft/consent", start)
		assert.Equal(t, http.StatusForbidden, r.status, "a technician cannot start consent: %s", r.body)
		admin := e.adminClient(t)
		r = e.api(t, admin, http.MethodPost, "/api/v1/admin/microsoft/consent", map[string]string{"client_id": e.b.client.ID, "app_client_id": microsofttest.DefaultClientID})
		assert.Equal(t, http.StatusNotFound, r.status, "another tenant's client: %s", r.body)
		r = e.api(t, admin, http.MethodPost, "/api/v1/admin/microsoft/consent", map[string]string{"client_id": e.a.client.ID, "app_client_id": "x"})
		assert.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
		r = e.api(t, admin, http.MethodGet, "/api/v1/admin/microsoft/consented?client_id="+e.a.client.ID, nil)
		assert.Equal(t, http.StatusNotFound, r.status, "no consent yet: %s", r.body)

		state := startConsent(t, e, admin, start)
		back := func(c *http.Client, q url.Values) response {
			t.Helper()
			return e.do(t, c, http.MethodGet, core.MicrosoftConsentPath+"?"+q.Encode(), "", nil, nil)
		}
		granted := url.Values{"admin_consent": {"True"}, "tenant": {microsofttest.DefaultTenantID}, "state": {state}}

		// Not signed in: the sign-in page; a technician: the refusal page;
		// another admin of the tenant, and another tenant's admin: refused,
		// and the consent stays usable by the admin who started it.
		r = back(e.client(t), granted)
		assert.Equal(t, http.StatusSeeOther, r.status)
		r = back(tech, granted)
		assert.Equal(t, http.StatusForbidden, r.status)
		ops := e.addTech(t, e.a, "Ops Admin", "ops@acme.example", core.RoleAdmin)
		r = back(e.loginAs(t, e.a, ops.Email, password), granted)
		assert.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "started by someone else")
		e.setRole(t, &e.b, core.RoleAdmin)
		r = back(e.login(t, e.b), granted)
		assert.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "was not started here")

		r = back(admin, granted)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), `data-granted="true"`)
		assert.Contains(t, string(r.body), `data-tenant="`+microsofttest.DefaultTenantID+`"`)
		assert.Contains(t, string(r.body), `data-client="`+e.a.client.ID+`"`)
		assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
		r = back(admin, granted)
		assert.Equal(t, http.StatusBadRequest, r.status, "a replay: %s", r.body)
		assert.Contains(t, string(r.body), "used already")

		r = e.api(t, admin, http.MethodGet, "/api/v1/admin/microsoft/consented?client_id="+e.a.client.ID, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, microsofttest.DefaultTenantID, r.JSON(t)["entra_tenant"])
		assert.Equal(t, microsofttest.DefaultClientID, r.JSON(t)["app_client_id"])
		r = e.api(t, e.login(t, e.b), http.MethodGet, "/api/v1/admin/microsoft/consented?client_id="+e.a.client.ID, nil)
		assert.Equal(t, http.StatusNotFound, r.status, "another tenant: %s", r.body)

		// The customer's admin declines.
		declined := startConsent(t, e, admin, map[string]string{"client_id": e.a.client.ID, "app_client_id": microsofttest.DefaultClientID,
			"entra_tenant": "contoso.onmicrosoft.com"})
		r = back(admin, url.Values{"error": {"access_denied"}, "error_description": {"AADSTS65004: User declined to consent.\r\nTrace ID: 1"}, "state": {declined}})
		assert.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "declined the consent (AADSTS65004: User declined to consent.)")
		assert.Contains(t, string(r.body), `data-granted="false"`)
		r = back(admin, url.Values{"admin_consent": {"True"}, "tenant": {microsofttest.DefaultTenantID}})
		assert.Equal(t, http.StatusBadRequest, r.status, "no state: %s", r.body)

		assert.Contains(t, e.auditActions(t, e.a), core.AuditMicrosoftConsented)
		e.assertLogsClean(t, state, declined)
	})
}

// TestMicrosoftUsersPaged: the users list comes a page at a time by UPN,
// each page's "next" leads to the following one and the last has none;
// a bad limit or cursor is 400. On SQLite and PostgreSQL.
func TestMicrosoftUsersPaged(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e, fake := newMicrosoftEnv(t, st)
		e.makeAdmin(t, e.a)
		admin := e.login(t, e.a)
		r := e.api(t, admin, http.MethodPost, "/api/v1/admin/microsoft", microsoftForm(fake, e.a.client.ID))
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		id := r.JSON(t)["id"].(string)
		r = e.api(t, admin, http.MethodPost, "/api/v1/admin/microsoft/"+id+"/import", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)

		users := "/api/v1/admin/microsoft/" + id + "/users"
		var got []string
		next, pages := "", 0
		for {
			q := "?limit=1"
			if next != "" {
				q += "&after=" + next
			}
			r = e.api(t, admin, http.MethodGet, users+q, nil)
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			page := r.JSON(t)["users"].([]any)
			require.LessOrEqual(t, len(page), 1)
			for _, u := range page {
				got = append(got, u.(map[string]any)["upn"].(string))
			}
			pages++
			next = r.JSON(t)["next"].(string)
			if next == "" || pages > 5 {
				break
			}
		}
		assert.Equal(t, []string{"kim@contoso.example", msSam}, got, "every user once, by UPN")
		assert.Equal(t, 2, pages)
		r = e.api(t, admin, http.MethodGet, users, nil)
		assert.Len(t, r.JSON(t)["users"], 2, "the default page holds both")
		assert.Empty(t, r.JSON(t)["next"])
		for _, q := range []string{"?limit=0x", "?limit=-1", "?limit=501", "?after=%21%21"} {
			assert.Equal(t, http.StatusBadRequest, e.api(t, admin, http.MethodGet, users+q, nil).status, q)
		}
	})
}
