package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTechVerifyInboxLive: a socket watching the tech-verify inbox hears
// each change of its tenant's requests — a #verify, a claim, an
// assignment, a #confirm — as "techverify.changed", and nothing of another
// tenant's; a text that changes no request (a replayed #verify) is not
// announced. The event carries no phone, contact or code.
func TestTechVerifyInboxLive(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.setupSMSChannels(t)
		e.setupTechVerify(t, e.a)
		c := e.login(t, e.a)
		inbox := e.watchLive(t, c, "techverify=1")
		other := e.watchLive(t, e.login(t, e.b), "techverify=1")
		changed := func(what string) {
			t.Helper()
			m := readLive(t, inbox, 2*time.Second)
			assert.Equal(t, "techverify.changed", m["type"], what)
			assert.Empty(t, m["contact_id"], what)
			assert.Empty(t, m["verification_id"], what)
		}

		verify := inboundForm(fmt.Sprintf("SM%032d", 8101), callerPhone, ownNumber, "#verify", ownAccount)
		reply := twimlReply(t, e.postSMS(t, verify, ownToken))
		m := sixDigits.FindStringSubmatch(reply)
		require.NotNil(t, m, "no code in %q", reply)
		changed("#verify")
		// A replay answers nothing and changes nothing: after the claim,
		// only the claim's event arrives. (A read that timed out ends a
		// gorilla socket, so the silence is checked last and the rest
		// watches on a new socket.)
		assert.Empty(t, twimlReply(t, e.postSMS(t, verify, ownToken)), "a replay answers nothing")
		id := e.techVerifyItems(t, c)[0]["id"].(string)
		r := e.api(t, c, "POST", "/api/v1/techverify/"+id+"/claim", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		changed("claim")
		assertSilent(t, inbox, 200*time.Millisecond)
		inbox = e.watchLive(t, c, "techverify=1")

		newPodFixture(t, e)
		r = e.api(t, c, "POST", "/api/v1/techverify/"+id+"/ticket", map[string]string{"ticket_ref": "900"})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		changed("assign")
		confirm := inboundForm(fmt.Sprintf("SM%032d", 8102), callerPhone, ownNumber, "#confirm "+m[1]+m[2], ownAccount)
		assert.Contains(t, twimlReply(t, e.postSMS(t, confirm, ownToken)), "complete")
		changed("#confirm")

		// A refused claim changes nothing and says nothing.
		assert.Equal(t, http.StatusConflict, e.api(t, c, "POST", "/api/v1/techverify/"+id+"/claim", nil).status)
		assertSilent(t, inbox, 200*time.Millisecond)
		assertSilent(t, other, 50*time.Millisecond)

		conn, res, err := dialLive(t, e.srv.URL, c, "techverify=yes", publicURL)
		require.Error(t, err)
		require.Nil(t, conn)
		assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	})
}

// TestPodTechVerifyClaim: the pod's inbox claims a #verify request and
// assigns it to the pod's ticket in one step, so that the outcome is noted
// there; a pod-only technician, refused by the console's claim, may claim
// from the pod; a forged or foreign scope is refused and claims nothing.
func TestPodTechVerifyClaim(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.setupSMSChannels(t)
		e.setupTechVerify(t, e.a)
		f := newPodFixture(t, e)
		podOnly := e.a
		podOnly.tech = e.addTech(t, e.a, "Pia Pod", "pia@acme.example", core.RolePodOnly)
		cookie := podSignIn(t, e, podOnly)
		r := podDo(t, e, cookie, http.MethodGet, "/api/v1/pod/"+f.integration.ID+"/context?ticket=900", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		scope := r.JSON(t)["scope"].(string)

		verify := inboundForm(fmt.Sprintf("SM%032d", 8201), callerPhone, ownNumber, "#verify", ownAccount)
		m := sixDigits.FindStringSubmatch(twimlReply(t, e.postSMS(t, verify, ownToken)))
		require.NotNil(t, m)
		r = podDo(t, e, cookie, http.MethodGet, "/api/v1/techverify", nil)
		require.Equal(t, http.StatusOK, r.status, "the pod lists the inbox: %s", r.body)
		items := r.JSON(t)["items"].([]any)
		require.Len(t, items, 1)
		id := items[0].(map[string]any)["id"].(string)

		claim := "/api/v1/pod/" + f.integration.ID + "/techverify/" + id + "/claim"
		assert.Equal(t, http.StatusForbidden, podDo(t, e, cookie, "POST", "/api/v1/techverify/"+id+"/claim", nil).status,
			"the console's claim stays closed to pod-only technicians")
		assert.Equal(t, http.StatusBadRequest, podDo(t, e, cookie, "POST", claim, map[string]string{"scope": "forged"}).status)
		assert.Equal(t, http.StatusBadRequest, podDo(t, e, cookie, "POST", "/api/v1/pod/int_other/techverify/"+id+"/claim",
			map[string]string{"scope": scope}).status, "a scope of another integration")
		assert.NotContains(t, e.auditActions(t, e.a), core.AuditTechVerifyClaimed, "nothing claimed by a refused request")

		r = podDo(t, e, cookie, "POST", claim, map[string]string{"scope": scope})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, m[1]+" "+m[2], r.JSON(t)["code"])
		assert.Equal(t, "900", r.JSON(t)["ticket_ref"])
		assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
		actions := e.auditActions(t, e.a)
		assert.Contains(t, actions, core.AuditTechVerifyClaimed)
		assert.Contains(t, actions, core.AuditTechVerifyAssigned)

		// Claimed again from the pod: the same code, still on ticket 900.
		r = podDo(t, e, cookie, "POST", claim, map[string]string{"scope": scope})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, "900", r.JSON(t)["ticket_ref"])

		// #confirm: the note goes to the pod's ticket.
		confirm := inboundForm(fmt.Sprintf("SM%032d", 8202), callerPhone, ownNumber, "#confirm "+m[1]+m[2], ownAccount)
		assert.Contains(t, twimlReply(t, e.postSMS(t, confirm, ownToken)), "complete")
		e.deliver(t)
		notes := f.psa.Notes("900")
		require.Len(t, notes, 1)
		assert.Contains(t, notes[0].Text, "CONFIRMED")
		assert.True(t, strings.Contains(notes[0].Text, "Pia Pod"), "the note names the technician: %s", notes[0].Text)
	})
}
