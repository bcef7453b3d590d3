package web_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// auditOf returns tenant's audit events about subject with action.
func auditOf(t *testing.T, e *env, tenantID, subject, action string) []core.AuditEvent {
	t.Helper()
	var out []core.AuditEvent
	require.NoError(t, e.st.View(t.Context(), func(tx core.Tx) error {
		evs, err := tx.AuditEvents(t.Context(), tenantID, core.AuditQuery{Limit: 500})
		for _, ev := range evs {
			if ev.Subject == subject && ev.Action == action {
				out = append(out, ev)
			}
		}
		return err
	}))
	return out
}

// bindingsOf is what the store holds of the bindings of the device's two
// users, to show an answer bound no one.
func (p promptEnv) bindingsOf(t *testing.T) []core.Binding {
	t.Helper()
	var out []core.Binding
	require.NoError(t, p.st.View(t.Context(), func(tx core.Tx) error {
		for _, sid := range []string{testSID, "S-1-5-21-1-2-3-500"} {
			b, err := tx.Binding(t.Context(), p.a.tenant.ID, p.a.client.ID, sid)
			if err != nil && !errors.Is(err, core.ErrNotFound) {
				return err
			}
			out = append(out, b)
		}
		return nil
	}))
	return out
}

// TestWorkstationPromptBadAnswers: a prompt answered twice, by another
// computer the same user is seen on, with a wrong number, or after it
// expired is refused; each refusal is audited with its reason; none
// changes a decided verification, sends an alert, or binds anyone.
func TestWorkstationPromptBadAnswers(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		p := newPromptEnv(t, st)
		tenant := p.a.tenant.ID
		bound := p.bindingsOf(t)
		mails := func() int { p.deliver(t); return p.mail.Len() }
		mailsBefore := mails()

		// Answered twice: the second answer, and a "This is not me" after
		// it, change nothing.
		id, number := p.prompt(t)
		r := p.answer(t, id, map[string]any{"sid": testSID, "choice": number})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		r = p.answer(t, id, map[string]any{"sid": testSID, "choice": number})
		assert.Equal(t, http.StatusGone, r.status, "%s", r.body)
		r = p.answer(t, id, map[string]any{"sid": testSID, "not_me": true})
		assert.Equal(t, http.StatusGone, r.status, "%s", r.body)
		assert.Equal(t, core.StatusVerified, p.verification(t, p.a, id).Status, "a late answer does not undo the decision")
		refused := auditOf(t, p.env, tenant, id, "verification.failed_attempt")
		require.Len(t, refused, 2, "both late answers are audited")
		assert.Equal(t, "answered after verified", refused[0].Detail["reason"])
		assert.Empty(t, auditOf(t, p.env, tenant, id, "prompt.denied"), "no alert for a late \"This is not me\"")

		// Another computer the same Windows user is seen on may not answer
		// this one's prompt; the prompt stays open.
		r = p.api(t, p.admin, http.MethodGet, "/api/v1/clients/"+p.a.client.ID+"/activation-key", nil)
		require.Equal(t, http.StatusOK, r.status)
		r = p.agentDo(t, http.MethodPost, "/agent/v1/activate", "", map[string]any{"activation_key": r.JSON(t)["activation_key"], "device": deviceBody(testSID)})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		second := r.JSON(t)
		id, number = p.prompt(t)
		target, other := p.cred, second["credential"].(string)
		if p.verification(t, p.a, id).DestinationID == second["device_id"] {
			target, other = other, target
		}
		r = p.agentDo(t, http.MethodPost, "/agent/v1/prompts/"+id+"/answer", other, map[string]any{"sid": testSID, "choice": number})
		assert.Equal(t, http.StatusNotFound, r.status, "%s", r.body)
		assert.True(t, p.verification(t, p.a, id).Status.Open())
		require.Len(t, auditOf(t, p.env, tenant, id, "prompt.answer_refused"), 1)

		// A wrong number fails the prompt; the right one after it is late.
		wrong := "10"
		if number == wrong {
			wrong = "11"
		}
		r = p.agentDo(t, http.MethodPost, "/agent/v1/prompts/"+id+"/answer", target, map[string]any{"sid": testSID, "choice": wrong})
		assert.Equal(t, http.StatusGone, r.status, "%s", r.body)
		r = p.agentDo(t, http.MethodPost, "/agent/v1/prompts/"+id+"/answer", target, map[string]any{"sid": testSID, "choice": number})
		assert.Equal(t, http.StatusGone, r.status, "%s", r.body)
		v := p.verification(t, p.a, id)
		assert.Equal(t, core.StatusFailed, v.Status)
		assert.Contains(t, v.Detail, "did not read out")
		refused = auditOf(t, p.env, tenant, id, "verification.failed_attempt")
		require.Len(t, refused, 2)
		assert.Contains(t, refused[0].Detail["reason"], "did not read out")
		assert.Equal(t, "answered after failed", refused[1].Detail["reason"])

		// After expiry, even the right number is refused.
		for _, c := range []string{p.cred, second["credential"].(string)} {
			r = p.agentDo(t, http.MethodPost, "/agent/v1/heartbeat", c, deviceBody(testSID))
			require.Equal(t, http.StatusNoContent, r.status)
		}
		id, number = p.prompt(t)
		target = p.cred
		if p.verification(t, p.a, id).DestinationID == second["device_id"] {
			target = second["credential"].(string)
		}
		p.clk.Add(3 * time.Minute)
		r = p.agentDo(t, http.MethodPost, "/agent/v1/prompts/"+id+"/answer", target, map[string]any{"sid": testSID, "choice": number})
		assert.Equal(t, http.StatusGone, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "expired")
		assert.Equal(t, core.StatusExpired, p.verification(t, p.a, id).Status)
		refused = auditOf(t, p.env, tenant, id, "verification.failed_attempt")
		require.Len(t, refused, 1)
		assert.Contains(t, refused[0].Detail["reason"], "expired")

		assert.Equal(t, bound, p.bindingsOf(t), "no answer bound anyone")
		assert.Equal(t, mailsBefore, mails(), "no alert went out")
	})
}
