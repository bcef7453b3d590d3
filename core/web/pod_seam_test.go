package web_test

import (
	"context"
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
		// Retries of the PSA's 503s do not sleep: the outbox's backoff is
		// what this checks.
		e := newEnv(t, st, envOptions{psaDeps: func(core.Integration) psa.Deps {
			return psa.Deps{Retry: psa.RetryPolicy{Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}}
		}})
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
// mirrors them, and — on a ticket without a contact, when the policy says
// so — makes them the ticket's contact, so that they are its default
// caller; a ticket that has a contact keeps it; a contact screen's
// verification writes no note.
func TestPodCreatesContact(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		f := newPodFixture(t, e)
		f.psa.Seed([]psa.Company{{Ref: "co1", Name: "Fabrikam"}},
			[]psa.Contact{{Ref: "c1", CompanyRef: "co1", FirstName: "Pat", LastName: "Pod", Phones: []psa.Phone{{Number: "(555) 010-0177", Default: true}}}},
			[]psa.Ticket{{Ref: "900", Summary: "Password reset", CompanyRef: "co1", ContactRef: "c1"}, {Ref: "901", Summary: "Someone called", CompanyRef: "co1"}})
		p := core.DefaultPolicy()
		p.NoteOnNonDefault, p.NoteRequired = true, true
		require.NoError(t, e.eng.PutPolicy(t.Context(), e.a.tenant.ID, "test", "", p))
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
		inPSA := func(first string) psa.Contact {
			for _, c := range f.psa.Contacts() {
				if c.FirstName == first {
					return c
				}
			}
			t.Fatalf("no contact %s in the PSA", first)
			return psa.Contact{}
		}

		scope, contact := load("ticket=901")
		require.Empty(t, contact, "the ticket has no contact")
		r := create(scope, map[string]string{"first_name": "Nia"})
		assert.Equal(t, http.StatusBadRequest, r.status, "a contact needs a way to verify them: %s", r.body)
		r = create(scope, map[string]string{"first_name": "Nia", "last_name": "New", "phone": "(555) 010-0190"})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		assert.Equal(t, false, r.JSON(t)["ticket_contact"], "the policy does not write contacts back")
		assert.Empty(t, f.psa.TicketContact("901"))
		nia := inPSA("Nia")
		assert.Equal(t, "co1", nia.CompanyRef, "under the ticket's company")
		cs, err := e.eng.SearchContacts(t.Context(), e.a.tenant.ID, core.ContactQuery{PSAKind: memory.ID, PSARef: nia.Ref})
		require.NoError(t, err)
		require.Len(t, cs, 1, "mirrored at once")

		p.PodContactToTicket = true
		require.NoError(t, e.eng.PutPolicy(t.Context(), e.a.tenant.ID, "test", "", p))
		r = create(scope, map[string]string{"first_name": "Ola", "last_name": "Other", "email": "ola@fabrikam.example"})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		out := r.JSON(t)
		assert.Equal(t, true, out["ticket_contact"])
		created := out["contact"].(map[string]any)
		assert.Equal(t, "Ola Other", created["name"])
		assert.Equal(t, inPSA("Ola").Ref, f.psa.TicketContact("901"), "the new contact is the ticket's contact in the PSA")
		// The new scope makes Ola the default caller: no note asked for.
		r = podDo(t, e, cookie, http.MethodPost, "/api/v1/pod/"+f.integration.ID+"/verifications",
			map[string]string{"scope": out["scope"].(string), "contact_id": created["id"].(string), "method": "email_code"})
		assert.Equal(t, http.StatusCreated, r.status, "%s", r.body)

		// A ticket that has a contact keeps it.
		scope, _ = load("ticket=900")
		r = create(scope, map[string]string{"first_name": "Pia", "phone": "(555) 010-0191"})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		assert.Equal(t, false, r.JSON(t)["ticket_contact"])
		assert.Equal(t, "c1", f.psa.TicketContact("900"))

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

// TestPodDefaultContact checks a PSA's default contact: a ticket without
// a contact is about its company's default contact, who is then the pod's
// default caller (no alternate-contact note).
func TestPodDefaultContact(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		f := newPodFixture(t, e)
		f.psa.Seed([]psa.Company{{Ref: "co1", Name: "Fabrikam"}},
			[]psa.Contact{
				{Ref: "c1", CompanyRef: "co1", FirstName: "Pat", LastName: "Pod", Phones: []psa.Phone{{Number: "(555) 010-0177", Default: true}}},
				{Ref: "c2", CompanyRef: "co1", FirstName: "Max", LastName: "Manager", Phones: []psa.Phone{{Number: "(555) 010-0178", Default: true}}},
			},
			[]psa.Ticket{{Ref: "900", Summary: "Password reset", CompanyRef: "co1", ContactRef: "c1"}, {Ref: "901", Summary: "Someone called", CompanyRef: "co1"}})
		p := core.DefaultPolicy()
		p.NoteOnNonDefault, p.NoteRequired = true, true
		require.NoError(t, e.eng.PutPolicy(t.Context(), e.a.tenant.ID, "test", "", p))
		cookie := podSignIn(t, e, e.a)
		type podCtx struct {
			Contact *struct {
				ID        string `json:"id"`
				FirstName string `json:"first_name"`
			} `json:"contact"`
			Notice string `json:"notice"`
			Scope  string `json:"scope"`
		}
		load := func(query string) podCtx {
			r := podDo(t, e, cookie, http.MethodGet, "/api/v1/pod/"+f.integration.ID+"/context?"+query, nil)
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			var pc podCtx
			require.NoError(t, json.Unmarshal(r.body, &pc))
			return pc
		}

		pc := load("ticket=901")
		assert.Nil(t, pc.Contact, "the company names no default contact")
		assert.Contains(t, pc.Notice, "no contact")

		f.psa.SetDefaultContact("co1", "c2")
		pc = load("ticket=901")
		require.NotNil(t, pc.Contact, "the company's default contact")
		assert.Equal(t, "Max", pc.Contact.FirstName)
		assert.Contains(t, pc.Notice, "default contact")
		r := podDo(t, e, cookie, http.MethodPost, "/api/v1/pod/"+f.integration.ID+"/verifications",
			map[string]string{"scope": pc.Scope, "contact_id": pc.Contact.ID, "method": "sms_code"})
		assert.Equal(t, http.StatusCreated, r.status, "the default caller needs no note: %s", r.body)

		pc = load("ticket=900")
		assert.Equal(t, "Pat", pc.Contact.FirstName, "a ticket's own contact comes first")
	})
}

// TestPodReadsWithTheMembersRights checks a plugin that reads the PSA as
// the member looking at the pod (psa.MemberReader; the memory PSA's
// ReadAs, in seamDescriptor): of two members whose PSA rights differ, the
// one who may not see a company sees none of its tickets or contacts
// through the pod — not even contacts the other one's pod mirrored
// already — while the other sees them; a pod without the PSA's sign-in
// reads nothing, and one technician cannot read with another's.
func TestPodReadsWithTheMembersRights(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e, srv, base := newSeamEnv(t, st)
		srv.Seed([]psa.Company{{Ref: "co1", Name: "Fabrikam"}, {Ref: "co2", Name: "Contoso Board"}},
			[]psa.Contact{
				{Ref: "c1", CompanyRef: "co1", FirstName: "Alice", LastName: "Smith", Phones: []psa.Phone{{Number: "(555) 010-0177", Default: true}}},
				{Ref: "c2", CompanyRef: "co1", FirstName: "Max", LastName: "Manager", Phones: []psa.Phone{{Number: "(555) 010-0178", Default: true}}},
				{Ref: "c3", CompanyRef: "co2", FirstName: "Chris", LastName: "Chair", Phones: []psa.Phone{{Number: "(555) 010-0179", Default: true}}},
			},
			[]psa.Ticket{{Ref: "3001", Summary: "Password reset", CompanyRef: "co1", ContactRef: "c1"},
				{Ref: "3003", Summary: "Board laptop", CompanyRef: "co2", ContactRef: "c3"}})
		cfg, _ := json.Marshal(memory.Config{BaseURL: base, APIKey: seamAPIKey})
		in, err := e.eng.PutIntegration(t.Context(), e.a.tenant.ID, "test", core.Integration{Kind: seamKind, Name: "Seam", Config: cfg})
		require.NoError(t, err)
		p := core.DefaultPolicy()
		p.AutoCreatePodTechnicians = true
		require.NoError(t, e.eng.PutPolicy(t.Context(), e.a.tenant.ID, "test", "", p))
		jamie := psa.Member{Ref: "42", Identifier: "jtech", Name: "Jamie Tech"}
		harper := psa.Member{Ref: "43", Identifier: "hdesk", Name: "Harper Desk"}
		srv.SetMemberCompanies(harper.Ref, "co1")
		jamieProof, harperProof := srv.MemberProof(jamie), srv.MemberProof(harper)

		signIn := func(proof json.RawMessage) *http.Cookie {
			r := asResponse(e.kit.PodMember(t, e.a.kit(), in.ID, proof))
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			return podCookie(t, r)
		}
		jamieCookie, harperCookie := signIn(jamieProof), signIn(harperProof)
		send := func(cookie *http.Cookie, proof json.RawMessage, method, path string, body any) response {
			return asResponse(e.kit.PodDo(t, cookie, proof, method, path, body))
		}
		get := func(cookie *http.Cookie, proof json.RawMessage, query string) response {
			return send(cookie, proof, http.MethodGet, "/api/v1/pod/"+in.ID+"/context?"+query, nil)
		}

		// Jamie may see the board's ticket and its contact; the pod
		// mirrors them.
		r := get(jamieCookie, jamieProof, "ticket=3003")
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "Chris")
		r = get(jamieCookie, jamieProof, "contact=c3")
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)

		// Harper may not: neither the ticket nor the contact, though it is
		// mirrored locally by now.
		for _, q := range []string{"ticket=3003", "contact=c3"} {
			r = get(harperCookie, harperProof, q)
			assert.Equal(t, http.StatusForbidden, r.status, "%s: %s", q, r.body)
			assert.NotContains(t, string(r.body), "Chris", q)
		}
		// On a ticket Harper may see, the company's contacts are Fabrikam's.
		r = get(harperCookie, harperProof, "ticket=3001")
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var pc struct {
			Alternates []struct{ ID, Name string } `json:"alternates"`
			Scope      string                      `json:"scope"`
		}
		require.NoError(t, json.Unmarshal(r.body, &pc))
		for _, a := range pc.Alternates {
			assert.NotEqual(t, "Chris Chair", a.Name)
		}
		r = send(harperCookie, harperProof, http.MethodPost, "/api/v1/pod/"+in.ID+"/company-contacts", map[string]string{"scope": pc.Scope})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.NotContains(t, string(r.body), "Chris")
		assert.Contains(t, string(r.body), "Max Manager")
		assert.Contains(t, srv.MemberCalls(), "43 GET /api/v1/tickets/3001", "pod reads run as the member, not with the API key")
		assert.Contains(t, srv.MemberCalls(), "43 GET /api/v1/contacts")

		// No PSA sign-in: nothing is read, and the pod is told to get one.
		// Another technician's sign-in: refused.
		calls := len(srv.MemberCalls())
		r = get(harperCookie, nil, "ticket=3001")
		assert.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
		assert.Equal(t, true, r.JSON(t)["member_required"])
		r = get(harperCookie, jamieProof, "ticket=3003")
		assert.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "another technician's")
		assert.NotContains(t, string(r.body), "Chris")
		assert.Len(t, srv.MemberCalls(), calls, "nothing was read for them")
		e.assertLogsClean(t, strings.Trim(string(jamieProof), `{}"token:`), strings.Trim(string(harperProof), `{}"token:`))
	})
}
