package web_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/memory"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// The pod through the seam, on the memory PSA: a plugin's own pod script,
// the member proof its PSA hands the pod, and the PSA being down while a
// result waits to be written.

// podCookie returns the pod session cookie a response set.
func podCookie(t *testing.T, r response) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "cs_pod" {
			return c
		}
	}
	t.Fatalf("no pod session cookie in %v", r.header)
	return nil
}

// TestPodLoadsPluginScripts checks that the pod page of a plugin that
// ships pod scripts (psa.Assets.PodScripts) loads them, fingerprinted and
// cached, under its CSP, and tells them the PSA's origins; a plugin that
// ships none gets none.
func TestPodLoadsPluginScripts(t *testing.T) {
	e, _, base := newSeamEnv(t, storetest.Open(t, store.SQLite))
	cfg, _ := json.Marshal(memory.Config{BaseURL: base, APIKey: seamAPIKey})
	seam, err := e.eng.PutIntegration(t.Context(), e.a.tenant.ID, "test", core.Integration{Kind: seamKind, Name: "Seam", Config: cfg})
	require.NoError(t, err)
	plain, err := e.eng.PutIntegration(t.Context(), e.a.tenant.ID, "test", core.Integration{Kind: memory.ID, Name: "Memory", Config: cfg})
	require.NoError(t, err)

	page := e.do(t, e.client(t), http.MethodGet, "/pod/"+e.a.tenant.Slug+"/"+seam.ID+"?ticket=3001", "", nil, nil)
	require.Equal(t, http.StatusOK, page.status, "%s", page.body)
	assert.Contains(t, page.header.Get("Content-Security-Policy"), "frame-ancestors "+base+";")
	assert.Contains(t, page.header.Get("Content-Security-Policy"), "script-src 'self';", "the plugin's script is served by us, under our CSP")
	assert.Contains(t, string(page.body), `data-psa-origins="`+base+`"`)
	m := regexp.MustCompile(`<script src="(/static/psa/seam/pod\.js\?v=[0-9a-f]+)" defer>`).FindSubmatch(page.body)
	require.NotNil(t, m, "the pod loads the plugin's own pod script: %s", page.body)
	assert.Less(t, strings.Index(string(page.body), string(m[1])), strings.Index(string(page.body), "/static/pod.js?v="), "before the pod's own script")
	js := e.do(t, e.client(t), http.MethodGet, string(m[1]), "", nil, nil)
	require.Equal(t, http.StatusOK, js.status)
	assert.Contains(t, string(js.body), "seamPodScript", "served from the plugin's embedded assets")
	assert.Contains(t, js.header.Get("Cache-Control"), "immutable")
	r := e.do(t, e.client(t), http.MethodGet, "/static/psa/seam/secret.txt", "", nil, nil)
	assert.Equal(t, http.StatusNotFound, r.status, "only what the plugin ships")

	page = e.do(t, e.client(t), http.MethodGet, "/pod/"+e.a.tenant.Slug+"/"+plain.ID+"?ticket=3001", "", nil, nil)
	require.Equal(t, http.StatusOK, page.status, "%s", page.body)
	assert.NotContains(t, string(page.body), "/static/psa/", "a plugin without pod scripts gets none")
}

// TestPodMemberSignIn checks the sign-in a pod gets from its PSA (the
// memory PSA confirms its own member sessions): nothing the pod sends is
// taken on trust, a member no technician is linked to signs in once
// through the pop-out, and — when the tenant allows it — a new member
// becomes a pod-only technician named as in the PSA.
func TestPodMemberSignIn(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		f := newPodFixture(t, e)
		jamie := psa.Member{Ref: "42", Identifier: "jtech", Name: "Jamie Tech", Email: "jamie@msp.example"}
		proof := f.psa.MemberProof(jamie)
		member := func(d tenantData, proof json.RawMessage) response {
			return e.api(t, e.client(t), http.MethodPost, "/api/v1/pod/member",
				map[string]any{"tenant": d.tenant.Slug, "integration": f.integration.ID, "proof": proof})
		}

		before := e.state(t)
		techs, err := e.eng.Technicians(t.Context(), e.a.tenant.ID)
		require.NoError(t, err)
		for name, tc := range map[string]struct {
			proof  json.RawMessage
			status int
		}{
			"forged session":       {proof: json.RawMessage(`{"token":"mps_00000000000000000000000000000000"}`), status: http.StatusUnauthorized},
			"not the PSA's":        {proof: json.RawMessage(`{"member":"42","secret":"valid"}`), status: http.StatusUnauthorized},
			"not json":             {proof: json.RawMessage(`"mps_x"`), status: http.StatusUnauthorized},
			"too long for the PSA": {proof: json.RawMessage(`{"token":"mps_` + strings.Repeat("a", 600) + `"}`), status: http.StatusUnauthorized},
			"too long for us":      {proof: json.RawMessage(`{"token":"mps_` + strings.Repeat("a", 17<<10) + `"}`), status: http.StatusBadRequest},
			"another tenant's":     {proof: proof, status: http.StatusNotFound},
			"session of nothing":   {proof: json.RawMessage(`{"token":""}`), status: http.StatusUnauthorized},
		} {
			d := e.a
			if name == "another tenant's" {
				d = e.b
			}
			r := member(d, tc.proof)
			assert.Equal(t, tc.status, r.status, "%s: %s", name, r.body)
			assert.Empty(t, r.header.Values("Set-Cookie"), "%s: no session", name)
		}
		assert.Equal(t, before, e.state(t), "nothing changed")
		after, err := e.eng.Technicians(t.Context(), e.a.tenant.ID)
		require.NoError(t, err)
		assert.Len(t, after, len(techs), "no technician created")

		r := member(e.a, proof)
		require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
		assert.Equal(t, true, r.JSON(t)["link_required"], "not allowed to create one: the technician signs in")

		// The pop-out sign-in links the member to Jane.
		nonce := strings.Repeat("c", 22)
		r = e.api(t, e.client(t), http.MethodPost, "/api/v1/login", map[string]string{
			"tenant": e.a.tenant.Slug, "email": e.a.tech.Email, "password": password, "pod_nonce": nonce})
		require.Equal(t, http.StatusOK, r.status)
		r = e.api(t, e.client(t), http.MethodPost, "/api/v1/pod/session", map[string]any{"token": r.JSON(t)["handoff"], "nonce": nonce,
			"integration": f.integration.ID, "member_proof": proof})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		r = member(e.a, f.psa.MemberProof(jamie))
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, e.a.tech.ID, r.JSON(t)["id"], "the linked technician, next time without signing in")
		cookie := podCookie(t, r)
		ctx := podDo(t, e, cookie, http.MethodGet, "/api/v1/pod/"+f.integration.ID+"/context?ticket=900", nil)
		require.Equal(t, http.StatusOK, ctx.status, "the member's pod session reads the pod: %s", ctx.body)

		// With auto-creation allowed, a new member becomes a pod-only
		// technician.
		p := core.DefaultPolicy()
		p.AutoCreatePodTechnicians = true
		require.NoError(t, e.eng.PutPolicy(t.Context(), e.a.tenant.ID, "test", "", p))
		harper := psa.Member{Ref: "43", Identifier: "hdesk", Name: "Harper Desk", Email: "harper@msp.example"}
		r = member(e.a, f.psa.MemberProof(harper))
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		created := r.JSON(t)
		assert.Equal(t, "pod-only", created["role"])
		assert.Equal(t, "Harper Desk", created["name"], "the PSA's name for the member")
		again := member(e.a, f.psa.MemberProof(harper))
		require.Equal(t, http.StatusOK, again.status, "%s", again.body)
		assert.Equal(t, created["id"], again.JSON(t)["id"], "the same technician next time")
		e.assertLogsClean(t, strings.Trim(string(proof), `{}"token:`))
	})
}

// TestPodNoteWaitsForPSA checks that a verification result due while the
// PSA is down is written once it is back, once; the pod says the PSA is
// down meanwhile.
func TestPodNoteWaitsForPSA(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		f := newPodFixture(t, e)
		cookie := podSignIn(t, e, e.a)
		ctxPath := "/api/v1/pod/" + f.integration.ID + "/context?ticket=900"
		r := podDo(t, e, cookie, http.MethodGet, ctxPath, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var pc struct {
			Contact struct{ ID string } `json:"contact"`
			Scope   string              `json:"scope"`
		}
		require.NoError(t, json.Unmarshal(r.body, &pc))

		r = podDo(t, e, cookie, http.MethodPost, "/api/v1/pod/"+f.integration.ID+"/verifications",
			map[string]string{"scope": pc.Scope, "contact_id": pc.Contact.ID, "method": "sms_code"})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		id := r.JSON(t)["id"].(string)
		e.deliver(t)
		msg, _ := e.sms.last(t)

		f.psa.SetDown(true)
		r = podDo(t, e, cookie, http.MethodPost, "/api/v1/verifications/"+id+"/check", map[string]string{"code": codeIn(t, msg)})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, "verified", r.JSON(t)["status"], "the verification does not wait for the PSA")
		e.deliver(t)
		e.clk.Add(10 * time.Minute)
		e.deliver(t)
		assert.Empty(t, f.psa.Notes("900"), "the PSA is down")
		r = podDo(t, e, cookie, http.MethodGet, ctxPath, nil)
		assert.Equal(t, http.StatusServiceUnavailable, r.status, "the pod says the PSA is down: %s", r.body)

		f.psa.SetDown(false)
		e.clk.Add(15 * time.Minute) // past the outbox backoff
		e.deliver(t)
		notes := f.psa.Notes("900")
		require.Len(t, notes, 1, "the note landed once the PSA was back")
		assert.Contains(t, notes[0].Text, "Pat Pod was VERIFIED by SMS code")
		e.clk.Add(time.Hour)
		e.deliver(t)
		assert.Len(t, f.psa.Notes("900"), 1, "written once")
	})
}

// TestPodCreatesContact checks the caller the company does not have on
// file: the pod creates them in the PSA under the ticket's company and
// mirrors them; a PSA that cannot set a ticket's contact says so when the
// policy asks for it, the contact being created all the same; a contact
// screen's verification writes no note.
func TestPodCreatesContact(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		f := newPodFixture(t, e)
		f.psa.Seed([]psa.Company{{Ref: "co1", Name: "Fabrikam"}},
			[]psa.Contact{{Ref: "c1", CompanyRef: "co1", FirstName: "Pat", LastName: "Pod", Phones: []psa.Phone{{Number: "(555) 010-0177", Default: true}}}},
			[]psa.Ticket{{Ref: "900", Summary: "Password reset", CompanyRef: "co1", ContactRef: "c1"}, {Ref: "901", Summary: "Someone called", CompanyRef: "co1"}})
		cookie := podSignIn(t, e, e.a)
		load := func(query string) (scope string, contact string) {
			r := podDo(t, e, cookie, http.MethodGet, "/api/v1/pod/"+f.integration.ID+"/context?"+query, nil)
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			var pc struct {
				Contact *struct{ ID string } `json:"contact"`
				Scope   string               `json:"scope"`
			}
			require.NoError(t, json.Unmarshal(r.body, &pc))
			if pc.Contact != nil {
				contact = pc.Contact.ID
			}
			return pc.Scope, contact
		}
		create := func(scope string, body map[string]string) response {
			body["scope"] = scope
			return podDo(t, e, cookie, http.MethodPost, "/api/v1/pod/"+f.integration.ID+"/contacts", body)
		}

		scope, contact := load("ticket=901")
		require.Empty(t, contact, "the ticket has no contact")
		r := create(scope, map[string]string{"first_name": "Nia"})
		assert.Equal(t, http.StatusBadRequest, r.status, "a contact needs a way to verify them: %s", r.body)
		r = create(scope, map[string]string{"first_name": "Nia", "last_name": "New", "phone": "(555) 010-0190"})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		assert.Equal(t, false, r.JSON(t)["ticket_contact"], "the policy does not write contacts back")
		var nia psa.Contact
		for _, c := range f.psa.Contacts() {
			if c.FirstName == "Nia" {
				nia = c
			}
		}
		require.NotEmpty(t, nia.Ref, "created in the PSA")
		assert.Equal(t, "co1", nia.CompanyRef, "under the ticket's company")
		cs, err := e.eng.SearchContacts(t.Context(), e.a.tenant.ID, core.ContactQuery{PSAKind: memory.ID, PSARef: nia.Ref})
		require.NoError(t, err)
		require.Len(t, cs, 1, "mirrored at once")

		p := core.DefaultPolicy()
		p.PodContactToTicket = true
		require.NoError(t, e.eng.PutPolicy(t.Context(), e.a.tenant.ID, "test", "", p))
		r = create(scope, map[string]string{"first_name": "Ola", "email": "ola@fabrikam.example"})
		assert.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
		assert.Contains(t, r.JSON(t)["error"], "cannot set a ticket's contact; the contact was created")

		// On a contact screen there is no ticket to write to.
		scope, contact = load("contact=" + nia.Ref)
		require.NotEmpty(t, contact)
		r = podDo(t, e, cookie, http.MethodPost, "/api/v1/pod/"+f.integration.ID+"/verifications",
			map[string]string{"scope": scope, "contact_id": contact, "method": "sms_code"})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		id := r.JSON(t)["id"].(string)
		e.deliver(t)
		msg, _ := e.sms.last(t)
		r = podDo(t, e, cookie, http.MethodPost, "/api/v1/verifications/"+id+"/check", map[string]string{"code": codeIn(t, msg)})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		e.deliver(t)
		assert.Empty(t, f.psa.Notes("900"))
		assert.Empty(t, f.psa.Notes("901"), "no ticket, no note")
	})
}
