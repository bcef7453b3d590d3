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
