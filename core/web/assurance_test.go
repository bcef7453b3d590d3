package web_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// TestPolicyMinimumAssuranceAPI: the admin API validates the minimums (4xx
// on a level it does not know, on methods none of which meets the
// minimum); the routes of a contact for a reset mark the
// weaker methods; a start below the minimum is 403 with kind
// assurance_too_low, an unknown purpose 400, and an identity check still
// goes. On SQLite and PostgreSQL.
func TestPolicyMinimumAssuranceAPI(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.makeAdmin(t, e.a)
		admin := e.login(t, e.a)
		tech := admin
		scope := "/api/v1/admin/policies/" + e.a.client.ID

		r := e.api(t, admin, http.MethodPut, scope, map[string]any{"reset_min_assurance": "gold"})
		assert.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), `not \"gold\"`)
		r = e.api(t, admin, http.MethodPut, scope, map[string]any{"min_assurance": 3})
		assert.Equal(t, http.StatusBadRequest, r.status, "a number is not a level: %s", r.body)
		r = e.api(t, admin, http.MethodPut, scope, map[string]any{"methods": []string{"sms_code", "email_link"}, "reset_min_assurance": "push"})
		assert.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "none of the allowed methods meets the minimum")

		r = e.api(t, admin, http.MethodPut, scope, map[string]any{"reset_min_assurance": "push"})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, "push", r.JSON(t)["policy"].(map[string]any)["reset_min_assurance"])
		r = e.api(t, admin, http.MethodGet, "/api/v1/admin/policies", nil)
		assert.Equal(t, []any{"phone", "push", "strong"}, r.JSON(t)["assurances"])

		// The routes of the contact, for a reset and for an identity check.
		routes := func(q string) []map[string]any {
			t.Helper()
			r := e.api(t, tech, http.MethodGet, "/api/v1/contacts/"+e.a.contact.ID+"/routes"+q, nil)
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			var out []map[string]any
			for _, x := range r.JSON(t)["routes"].([]any) {
				out = append(out, x.(map[string]any))
			}
			return out
		}
		reset := routes("?purpose=reset")
		require.NotEmpty(t, reset)
		seenBelow := false
		for _, rt := range reset {
			below, _ := rt["below_minimum"].(bool)
			if rt["method"] == "workstation_prompt" {
				assert.False(t, below, "a prompt meets push")
			}
			if rt["method"] == "sms_code" {
				assert.True(t, below)
				assert.Equal(t, false, rt["available"])
				assert.Contains(t, rt["reason"], "this client requires a push or workstation prompt for password and MFA resets")
			}
			if below {
				seenBelow = true
			} else {
				assert.False(t, seenBelow, "allowed %v listed after a method below the minimum", rt["method"])
			}
		}
		for _, rt := range routes("") {
			assert.Nil(t, rt["below_minimum"], "identity check: %v", rt["method"])
		}
		assert.Equal(t, http.StatusBadRequest, e.api(t, tech, http.MethodGet, "/api/v1/contacts/"+e.a.contact.ID+"/routes?purpose=x", nil).status)

		start := func(purpose string) response {
			return e.api(t, tech, http.MethodPost, "/api/v1/verifications", map[string]any{"contact_id": e.a.contact.ID,
				"method": "sms_code", "ticket_ref": "T-1", "purpose": purpose})
		}
		r = start("reset")
		assert.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
		assert.Equal(t, "assurance_too_low", r.JSON(t)["kind"])
		assert.Equal(t, "this client requires a push or workstation prompt for password and MFA resets; SMS code is not enough", r.JSON(t)["error"])
		assert.Equal(t, http.StatusBadRequest, start("payroll").status)
		r = start("")
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		assert.Nil(t, r.JSON(t)["purpose"])
	})
}

// TestSelfServeResetNeedsAssurance: a client whose policy wants a push or
// more before a reset gets no reset from the self-serve page (a text
// message) even with the right code — the page says why, nothing is queued
// for the harvester, and it is audited — while an unlock still goes.
func TestSelfServeResetNeedsAssurance(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e, cred := selfServeEnv(t, st)
		admin := e.login(t, e.a)
		r := e.api(t, admin, http.MethodPut, "/api/v1/admin/policies/"+e.a.client.ID, map[string]any{"reset_min_assurance": "push"})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)

		browser := e.client(t)
		page := "/r/" + e.a.tenant.Slug
		submit := func(f url.Values, code, action string) response {
			t.Helper()
			g := url.Values{}
			for k, v := range f {
				g[k] = v
			}
			g.Set("code", code)
			g.Set("action", action)
			g.Set("password", "Spring-Tulip-42")
			g.Set("password2", "Spring-Tulip-42")
			return e.form(t, browser, page+"/code", g, nil)
		}
		f := selfServeStart(t, e, browser, "pat")
		e.deliver(t)
		m, _ := e.sms.last(t)
		r = submit(f, codeIn(t, m), "reset")
		assert.Equal(t, http.StatusForbidden, r.status)
		assert.Contains(t, string(r.body), "requires a push or workstation prompt for password resets")
		assert.Empty(t, fetchTasks(t, e, cred).Tasks, "no reset queued")
		assert.Contains(t, auditActions(t, e, e.a.tenant.ID), core.AuditSelfServeResetRefused)

		e.clk.Add(time.Minute) // past the resend cooldown
		f = selfServeStart(t, e, browser, "pat")
		e.deliver(t)
		m, _ = e.sms.last(t)
		r = submit(f, codeIn(t, m), "unlock")
		require.Equal(t, http.StatusSeeOther, r.status, "an unlock is not a reset: %s", r.body)
		tasks := fetchTasks(t, e, cred)
		require.Len(t, tasks.Tasks, 1)
		assert.Equal(t, string(core.TaskDirectoryUnlock), tasks.Tasks[0].Kind)
	})
}

// TestCardDestinationsBelowMinimum: the contact card names, per purpose,
// the destination methods below the client's minimum with the reason the
// destinations table shows — the same methods the routes mark and the
// start refuses (issue 19.4). On SQLite and PostgreSQL.
func TestCardDestinationsBelowMinimum(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.makeAdmin(t, e.a)
		c := e.login(t, e.a)
		card := func() map[string]any {
			t.Helper()
			r := e.api(t, c, http.MethodGet, "/api/v1/contacts/"+e.a.contact.ID, nil)
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			return r.JSON(t)["policy"].(map[string]any)
		}
		assert.Nil(t, card()["below_minimum"], "no minimum, nothing marked")

		r := e.api(t, c, http.MethodPut, "/api/v1/admin/policies/"+e.a.client.ID, map[string]any{"min_assurance": "phone", "reset_min_assurance": "push"})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		below := card()["below_minimum"].(map[string]any)
		every := "below this client's minimum for every verification (a text, call, push or workstation prompt)"
		reset := "below this client's minimum for password and MFA resets (a push or workstation prompt)"
		assert.Equal(t, map[string]any{"email_link": every, "email_code": every}, below["identity"])
		assert.Equal(t, map[string]any{"email_link": reset, "email_code": reset, "sms_code": reset, "sms_link": reset, "voice_code": reset}, below["reset"])

		// The same methods the routes mark and the start refuses.
		for _, purpose := range []string{"identity", "reset"} {
			q := ""
			if purpose == "reset" {
				q = "?purpose=reset"
			}
			r := e.api(t, c, http.MethodGet, "/api/v1/contacts/"+e.a.contact.ID+"/routes"+q, nil)
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			for _, x := range r.JSON(t)["routes"].([]any) {
				rt := x.(map[string]any)
				m := rt["method"].(string)
				if _, isDest := map[string]bool{"email_link": true, "email_code": true, "sms_code": true, "sms_link": true, "voice_code": true}[m]; !isDest {
					continue
				}
				_, marked := below[purpose].(map[string]any)[m]
				assert.Equal(t, marked, rt["below_minimum"] == true, "%s %s", purpose, m)
			}
		}
		var email string
		for _, d := range e.a.contact.Destinations {
			if d.Kind == core.DestEmail {
				email = d.ID
			}
		}
		require.NotEmpty(t, email)
		r = e.api(t, c, http.MethodPost, "/api/v1/verifications", map[string]any{"contact_id": e.a.contact.ID,
			"method": "email_link", "destination_id": email, "ticket_ref": "T-1"})
		assert.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
	})
}
