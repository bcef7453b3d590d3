package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/memory"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

func psaDescriptors(t *testing.T) []psa.Descriptor {
	t.Helper()
	prover := memory.Descriptor()
	prover.ID = "proving"
	inner := prover.New
	prover.New = func(raw json.RawMessage, deps psa.Deps) (psa.Client, error) {
		c, err := inner(raw, deps)
		if err != nil {
			return nil, err
		}
		return provingClient{c.(*memory.Client)}, nil
	}
	return []psa.Descriptor{memory.Descriptor(), prover}
}

// provingClient is the memory PSA plus a PSA that vouches for its members:
// it accepts the proof {"member":REF,"secret":"valid"} as member REF.
type provingClient struct{ *memory.Client }

func (provingClient) ProveMember(_ context.Context, proof json.RawMessage) (psa.Member, error) {
	var p struct{ Member, Secret string }
	if json.Unmarshal(proof, &p) != nil || p.Secret != "valid" {
		return psa.Member{}, core.Errorf(core.KindUnauthorized, "the PSA did not accept the member's authentication")
	}
	return psa.Member{Ref: p.Member, Identifier: "m" + p.Member, Name: "Member " + p.Member, Email: "m" + p.Member + "@psa.example"}, nil
}

// podFixture is a memory PSA holding one company, two contacts and a
// ticket, connected to tenant a as an integration.
type podFixture struct {
	psa         *memory.Server
	psaURL      string
	integration core.Integration
	podPath     string // /pod/{tenant}/{integration}
}

func newPodFixture(t *testing.T, e *env) podFixture {
	t.Helper()
	srv := memory.NewServer("psa-key-1")
	srv.Seed([]psa.Company{{Ref: "co1", Name: "Fabrikam"}},
		[]psa.Contact{
			{Ref: "c1", CompanyRef: "co1", FirstName: "Pat", LastName: "Pod", Phones: []psa.Phone{{Number: "(555) 010-0177", Default: true}}},
			{Ref: "c2", CompanyRef: "co1", FirstName: "Max", LastName: "Manager", Phones: []psa.Phone{{Number: "(555) 010-0178", Default: true}}},
		},
		[]psa.Ticket{{Ref: "900", Summary: "Password reset", CompanyRef: "co1", ContactRef: "c1"}})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	cfg, _ := json.Marshal(memory.Config{BaseURL: ts.URL, APIKey: "psa-key-1"})
	in, err := e.eng.PutIntegration(t.Context(), e.a.tenant.ID, "test", core.Integration{Kind: memory.ID, Name: "Memory", Config: cfg})
	require.NoError(t, err)
	return podFixture{psa: srv, psaURL: ts.URL, integration: in, podPath: "/pod/" + e.a.tenant.Slug + "/" + in.ID}
}

// podSignIn runs the pop-out sign-in and the handoff, and returns the pod's
// session cookie (the test client's jar keeps no Secure cookies over http,
// so the cookie travels by hand as the browser would send it).
func podSignIn(t *testing.T, e *env, d tenantData) *http.Cookie {
	t.Helper()
	nonce := strings.Repeat("n0nce-", 4)
	popout := e.client(t)
	r := e.api(t, popout, http.MethodPost, "/api/v1/login", map[string]string{
		"tenant": d.tenant.Slug, "email": d.tech.Email, "password": password, "pod_nonce": nonce})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	token, _ := r.JSON(t)["handoff"].(string)
	require.NotEmpty(t, token)
	for _, c := range r.header.Values("Set-Cookie") {
		assert.NotContains(t, c, "cs_session=", "the pop-out gets no console session")
	}
	pod := e.client(t)
	r = e.api(t, pod, http.MethodPost, "/api/v1/pod/session", map[string]string{"token": token, "nonce": nonce})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	cookie := (&http.Response{Header: r.header}).Cookies()
	require.Len(t, cookie, 1)
	c := cookie[0]
	assert.Equal(t, "cs_pod", c.Name)
	assert.True(t, c.Secure && c.HttpOnly && c.Partitioned, "Secure; HttpOnly; Partitioned")
	assert.Equal(t, http.SameSiteNoneMode, c.SameSite)

	again := e.api(t, e.client(t), http.MethodPost, "/api/v1/pod/session", map[string]string{"token": token, "nonce": nonce})
	assert.Equal(t, http.StatusUnauthorized, again.status, "a handoff token works once")
	return c
}

func podDo(t *testing.T, e *env, cookie *http.Cookie, method, path string, body any) response {
	t.Helper()
	return asResponse(e.kit.PodDo(t, cookie, nil, method, path, body))
}

func TestPodPageFramingAndErrors(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		f := newPodFixture(t, e)
		c := e.client(t)

		r := e.do(t, c, http.MethodGet, f.podPath+"?ticket=900", "", nil, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		csp := r.header.Get("Content-Security-Policy")
		assert.Contains(t, csp, "frame-ancestors "+f.psaURL+";", "only the PSA's origin may frame the pod")
		assert.NotContains(t, csp, "frame-ancestors 'none'")
		assert.Empty(t, r.header.Get("X-Frame-Options"))
		assert.NotContains(t, string(r.body), "Password reset", "the shell shows nothing before sign-in")

		for name, path := range map[string]string{
			"unknown integration":        "/pod/" + e.a.tenant.Slug + "/int_nope?ticket=900",
			"other tenant's integration": "/pod/" + e.b.tenant.Slug + "/" + f.integration.ID + "?ticket=900",
			"unknown tenant":             "/pod/nobody/" + f.integration.ID + "?ticket=900",
		} {
			r := e.do(t, c, http.MethodGet, path, "", nil, nil)
			assert.Equal(t, http.StatusNotFound, r.status, name)
			assert.Contains(t, r.header.Get("Content-Security-Policy"), "frame-ancestors 'none'", name)
		}
		r = e.do(t, c, http.MethodGet, f.podPath, "", nil, nil)
		assert.Equal(t, http.StatusBadRequest, r.status, "no contact or ticket in the URL")
		assert.Contains(t, string(r.body), "names no contact or ticket")
		r = e.do(t, c, http.MethodGet, f.podPath+"?ticket="+strings.Repeat("9", 65), "", nil, nil)
		assert.Equal(t, http.StatusBadRequest, r.status)

		r = e.do(t, c, http.MethodGet, "/pod/signin?nonce=short", "", nil, nil)
		assert.Equal(t, http.StatusBadRequest, r.status)
		r = e.do(t, c, http.MethodGet, "/pod/signin?nonce="+strings.Repeat("a", 24)+"&tenant="+e.a.tenant.Slug, "", nil, nil)
		require.Equal(t, http.StatusOK, r.status)
		assert.Contains(t, string(r.body), `data-pod-nonce="`+strings.Repeat("a", 24)+`"`)
		assert.Contains(t, r.header.Get("Content-Security-Policy"), "frame-ancestors 'none'", "the pop-out is never framed")
	})
}

func TestPodSignInAndVerifyOnTicket(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		f := newPodFixture(t, e)
		ctxPath := "/api/v1/pod/" + f.integration.ID + "/context?ticket=900"

		r := podDo(t, e, nil, http.MethodGet, ctxPath, nil)
		assert.Equal(t, http.StatusUnauthorized, r.status, "no pod session, no context")

		r = e.api(t, e.client(t), http.MethodPost, "/api/v1/pod/session", map[string]string{"token": "forged", "nonce": strings.Repeat("x", 20)})
		assert.Equal(t, http.StatusUnauthorized, r.status)

		cookie := podSignIn(t, e, e.a)
		before := f.psa.Requests()
		r = podDo(t, e, cookie, http.MethodGet, ctxPath, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var pc struct {
			Screen  string `json:"screen"`
			Ticket  struct{ Ref, Number, Summary string }
			Contact struct {
				ID           string `json:"id"`
				FirstName    string `json:"first_name"`
				Destinations []struct {
					ID string `json:"id"`
				} `json:"destinations"`
				Policy struct {
					Methods []string `json:"methods"`
				} `json:"policy"`
			} `json:"contact"`
			Alternates []struct{ ID, Name string } `json:"alternates"`
			Scope      string                      `json:"scope"`
		}
		require.NoError(t, json.Unmarshal(r.body, &pc))
		assert.Equal(t, "ticket", pc.Screen)
		assert.Equal(t, "Password reset", pc.Ticket.Summary)
		assert.Equal(t, "Pat", pc.Contact.FirstName, "the ticket's contact, mirrored from the PSA")
		assert.NotEmpty(t, pc.Contact.Policy.Methods)
		assert.Equal(t, 2, f.psa.Requests()-before, "a cold load reads the ticket and the contact")

		// A second load finds the mirror: only the ticket is read.
		before = f.psa.Requests()
		r = podDo(t, e, cookie, http.MethodGet, ctxPath, nil)
		require.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, 1, f.psa.Requests()-before)

		// The other contact of the company, once mirrored, is an alternate.
		r = podDo(t, e, cookie, http.MethodGet, "/api/v1/pod/"+f.integration.ID+"/context?contact=c2", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var c2 struct {
			Contact struct{ ID string } `json:"contact"`
		}
		require.NoError(t, json.Unmarshal(r.body, &c2))
		r = podDo(t, e, cookie, http.MethodGet, ctxPath, nil)
		require.NoError(t, json.Unmarshal(r.body, &pc))
		require.Len(t, pc.Alternates, 2)

		r = podDo(t, e, cookie, http.MethodPost, "/api/v1/pod/"+f.integration.ID+"/company-contacts", map[string]string{"scope": pc.Scope})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Len(t, r.JSON(t)["contacts"], 2, "the ticket company's contacts, from the PSA")
		r = podDo(t, e, cookie, http.MethodPost, "/api/v1/pod/"+f.integration.ID+"/company-contacts", map[string]string{"scope": "forged"})
		assert.Equal(t, http.StatusBadRequest, r.status)

		p := core.DefaultPolicy()
		p.NoteOnNonDefault, p.NoteRequired = true, true
		require.NoError(t, e.eng.PutPolicy(t.Context(), e.a.tenant.ID, "test", "", p))

		start := "/api/v1/pod/" + f.integration.ID + "/verifications"
		r = podDo(t, e, cookie, http.MethodPost, start, map[string]string{"scope": pc.Scope, "contact_id": c2.Contact.ID, "method": "sms_code"})
		assert.Equal(t, http.StatusBadRequest, r.status, "another contact than the ticket's needs a note")
		assert.Contains(t, string(r.body), "other than the ticket's contact")

		r = podDo(t, e, cookie, http.MethodPost, start, map[string]string{"scope": pc.Scope + "x", "contact_id": pc.Contact.ID, "method": "sms_code"})
		assert.Equal(t, http.StatusBadRequest, r.status, "a tampered scope is refused")
		assert.Contains(t, string(r.body), "reload the pod")

		r = podDo(t, e, cookie, http.MethodPost, start, map[string]string{"scope": pc.Scope, "contact_id": pc.Contact.ID, "method": "sms_code", "ticket_ref": "666"})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		v := r.JSON(t)
		assert.Equal(t, "900", v["ticket_ref"], "the scope's ticket, not the client's")
		e.deliver(t)
		msg, _ := e.sms.last(t)
		r = podDo(t, e, cookie, http.MethodPost, "/api/v1/verifications/"+v["id"].(string)+"/check", map[string]string{"code": codeIn(t, msg)})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, "verified", r.JSON(t)["status"])
		e.deliver(t)
		notes := f.psa.Notes("900")
		require.Len(t, notes, 1, "the result is written to the ticket")
		assert.False(t, notes[0].Public, "internal by default")
		assert.Contains(t, notes[0].Text, "Pat Pod was VERIFIED by SMS code")

		r = podDo(t, e, cookie, http.MethodPost, start, map[string]string{"scope": pc.Scope, "contact_id": c2.Contact.ID, "method": "sms_code", "note": "Manager approval"})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)

		// The pod session is no console session.
		r = podDo(t, e, cookie, http.MethodGet, "/app", nil)
		assert.Equal(t, http.StatusSeeOther, r.status)

		// Another tenant's technician cannot use tenant a's integration.
		other := podSignIn(t, e, e.b)
		r = podDo(t, e, other, http.MethodGet, ctxPath, nil)
		assert.Equal(t, http.StatusNotFound, r.status)
		r = podDo(t, e, other, http.MethodPost, start, map[string]string{"scope": pc.Scope, "contact_id": pc.Contact.ID, "method": "sms_code"})
		assert.Equal(t, http.StatusBadRequest, r.status, "a scope signed for another tenant is refused")
	})
}

func TestPodSignInNonceAndRoles(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		c := e.client(t)
		r := e.api(t, c, http.MethodPost, "/api/v1/login", map[string]string{
			"tenant": e.a.tenant.Slug, "email": e.a.tech.Email, "password": password, "pod_nonce": "bad nonce!"})
		assert.Equal(t, http.StatusBadRequest, r.status)

		nonce := strings.Repeat("k", 22)
		r = e.api(t, c, http.MethodPost, "/api/v1/login", map[string]string{
			"tenant": e.a.tenant.Slug, "email": e.a.tech.Email, "password": password, "pod_nonce": nonce})
		require.Equal(t, http.StatusOK, r.status)
		token := r.JSON(t)["handoff"].(string)
		r = e.api(t, c, http.MethodPost, "/api/v1/pod/session", map[string]string{"token": token, "nonce": strings.Repeat("j", 22)})
		assert.Equal(t, http.StatusUnauthorized, r.status, "the token is bound to the pod's nonce")
		r = e.api(t, c, http.MethodPost, "/api/v1/pod/session", map[string]string{"token": token, "nonce": nonce})
		assert.Equal(t, http.StatusOK, r.status, "a wrong nonce does not burn the token")

		// A pod-only technician signs in to pods but never to the console.
		podOnly := e.a.tech
		podOnly.ID, podOnly.Email, podOnly.Role = core.NewID("tec"), "pod@acme.example", core.RolePodOnly
		require.NoError(t, st.Update(t.Context(), func(tx core.Tx) error { return tx.CreateTechnician(t.Context(), &podOnly) }))
		login := map[string]string{"tenant": e.a.tenant.Slug, "email": podOnly.Email, "password": password}
		r = e.api(t, e.client(t), http.MethodPost, "/api/v1/login", login)
		assert.Equal(t, http.StatusForbidden, r.status)
		login["pod_nonce"] = nonce
		r = e.api(t, e.client(t), http.MethodPost, "/api/v1/login", login)
		assert.Equal(t, http.StatusOK, r.status)
		assert.NotEmpty(t, r.JSON(t)["handoff"])
	})
}

func TestPodFrameAncestorsFollowIntegration(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		cfg, _ := json.Marshal(memory.Config{BaseURL: "http://psa.example:8080", APIKey: "k"})
		in, err := e.eng.PutIntegration(t.Context(), e.a.tenant.ID, "test", core.Integration{Kind: memory.ID, Name: "M", Config: cfg})
		require.NoError(t, err)
		r := e.do(t, e.client(t), http.MethodGet, "/pod/"+e.a.tenant.Slug+"/"+in.ID+"?contact=1", "", nil, nil)
		require.Equal(t, http.StatusOK, r.status)
		assert.Contains(t, r.header.Get("Content-Security-Policy"), "frame-ancestors http://psa.example:8080;")
	})
}

func TestPodMemberProof(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		f := newPodFixture(t, e)
		cfg, _ := json.Marshal(memory.Config{BaseURL: f.psaURL, APIKey: "psa-key-1"})
		in, err := e.eng.PutIntegration(t.Context(), e.a.tenant.ID, "test", core.Integration{Kind: "proving", Name: "Proving", Config: cfg})
		require.NoError(t, err)
		member := func(proof string) response {
			return e.api(t, e.client(t), http.MethodPost, "/api/v1/pod/member",
				map[string]any{"tenant": e.a.tenant.Slug, "integration": in.ID, "proof": json.RawMessage(proof)})
		}

		r := member(`{"member":"42","secret":"forged"}`)
		assert.Equal(t, http.StatusUnauthorized, r.status, "a proof the PSA refuses gets nothing")
		r = member(`{"member":"42","secret":"valid"}`)
		require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
		assert.Equal(t, true, r.JSON(t)["link_required"], "an unlinked member signs in once")
		r = e.api(t, e.client(t), http.MethodPost, "/api/v1/pod/member",
			map[string]any{"tenant": e.a.tenant.Slug, "integration": f.integration.ID, "proof": json.RawMessage(`{"member":"42","secret":"valid"}`)})
		assert.Equal(t, http.StatusUnauthorized, r.status, "the memory PSA proves members by its own sessions only: this proof is not one")

		// Signing in through the pop-out with the proof links the member.
		nonce := strings.Repeat("m", 20)
		r = e.api(t, e.client(t), http.MethodPost, "/api/v1/login", map[string]string{
			"tenant": e.a.tenant.Slug, "email": e.a.tech.Email, "password": password, "pod_nonce": nonce})
		require.Equal(t, http.StatusOK, r.status)
		r = e.api(t, e.client(t), http.MethodPost, "/api/v1/pod/session", map[string]any{"token": r.JSON(t)["handoff"], "nonce": nonce,
			"integration": in.ID, "member_proof": json.RawMessage(`{"member":"42","secret":"valid"}`)})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		r = member(`{"member":"42","secret":"valid"}`)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, e.a.tech.ID, r.JSON(t)["id"], "the linked technician")
		require.Len(t, (&http.Response{Header: r.header}).Cookies(), 1, "a pod session")

		// With auto-creation allowed, a new member becomes a pod-only technician.
		p := core.DefaultPolicy()
		p.AutoCreatePodTechnicians = true
		require.NoError(t, e.eng.PutPolicy(t.Context(), e.a.tenant.ID, "test", "", p))
		r = member(`{"member":"77","secret":"valid"}`)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		body := r.JSON(t)
		assert.Equal(t, "pod-only", body["role"])
		assert.Equal(t, "Member 77", body["name"])
		again := member(`{"member":"77","secret":"valid"}`)
		assert.Equal(t, body["id"], again.JSON(t)["id"], "the same technician next time")

		r = e.api(t, e.client(t), http.MethodPost, "/api/v1/pod/member",
			map[string]any{"tenant": e.b.tenant.Slug, "integration": in.ID, "proof": json.RawMessage(`{"member":"42","secret":"valid"}`)})
		assert.Equal(t, http.StatusNotFound, r.status, "another tenant's integration")
	})
}
