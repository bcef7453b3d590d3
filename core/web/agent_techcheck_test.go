package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// TestAgentTechCheck drives "POST /agent/v1/users/{sid}/tech-checks": the
// tray's answer for a technician "Who's calling me?" listed. "confirm" and
// "not_the_person" are taken, audited and noted on the technician's PSA
// ticket, the latter alerting the MSP; an unknown technician, another
// tenant's, a user of the device who is not bound, a user the device
// never reported, another tenant's device, malformed bodies, and a fourth
// answer in an hour are refused with a clear 4xx and audited.
func TestAgentTechCheck(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		p := newPromptEnv(t, st)
		pf := newPodFixture(t, p.env)
		ctx := t.Context()
		tenant := p.a.tenant.ID
		prompt := func() {
			t.Helper()
			r := p.agentDo(t, http.MethodPost, "/agent/v1/heartbeat", p.cred, deviceBody(testSID)) // stay online
			require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
			_, err := p.eng.StartPrompt(ctx, core.PromptRequest{TenantID: tenant, TechnicianID: p.a.tech.ID,
				ContactID: p.a.contact.ID, TicketRef: "900", IntegrationID: pf.integration.ID})
			require.NoError(t, err)
		}
		check := func(cred, sid string, body any) response {
			t.Helper()
			return p.agentDo(t, http.MethodPost, "/agent/v1/users/"+sid+"/tech-checks", cred, body)
		}
		prompt()

		r := p.agentDo(t, http.MethodGet, "/agent/v1/users/"+testSID+"/technicians", p.cred, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		techs := r.JSON(t)["technicians"].([]any)
		require.Len(t, techs, 1)
		assert.Equal(t, map[string]any{"id": p.a.tech.ID, "name": "Jane Tech"}, techs[0])

		// Malformed requests: 400, before anything is counted.
		for name, c := range map[string]struct {
			sid  string
			body any
		}{
			"bad sid":       {"robert'); DROP TABLE", map[string]string{"technician_id": p.a.tech.ID, "answer": "confirm"}},
			"bad answer":    {testSID, map[string]string{"technician_id": p.a.tech.ID, "answer": "yes"}},
			"no technician": {testSID, map[string]string{"answer": "confirm"}},
			"unknown field": {testSID, map[string]string{"technician_id": p.a.tech.ID, "answer": "confirm", "sid": "S-1-5-21-1-2-3-500"}},
			"not json":      {testSID, "confirm"},
		} {
			r := check(p.cred, c.sid, c.body)
			assert.Equal(t, http.StatusBadRequest, r.status, "%s: %s", name, r.body)
		}
		r = check("", testSID, map[string]string{"technician_id": p.a.tech.ID, "answer": "confirm"})
		assert.Equal(t, http.StatusUnauthorized, r.status, "no device credential")

		// Jane's open card on the contact hears the answer live; tenant B's
		// technician, watching their own, does not.
		mine := p.watchLive(t, p.admin, "contact="+p.a.contact.ID)
		theirs := p.watchLive(t, p.login(t, p.b), "contact="+p.b.contact.ID)
		r = check(p.cred, testSID, map[string]string{"technician_id": p.a.tech.ID, "answer": "confirm"})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		m := r.JSON(t)
		assert.Equal(t, "confirm", m["answer"])
		assert.Equal(t, "900", m["ticket"])
		assert.Equal(t, false, m["alerted"])
		told := readLive(t, mine, 2*time.Second)
		assert.Equal(t, "techcheck.answered", told["type"])
		assert.Equal(t, "confirm", told["answer"])
		assert.Equal(t, p.a.contact.ID, told["contact_id"])
		assert.Equal(t, "900", told["ticket_ref"])
		assert.Contains(t, told["reason"], "confirmed from the Countersign tray on CONTOSO-PC1")
		assert.Contains(t, told["reason"], "you are the technician working with them")
		assert.NotContains(t, told, "technician_id")

		// An unknown technician and another tenant's: the same 404, audited.
		for _, id := range []string{"tec_nosuchtechnician", p.b.tech.ID} {
			r = check(p.cred, testSID, map[string]string{"technician_id": id, "answer": "not_the_person"})
			assert.Equal(t, http.StatusNotFound, r.status, "%s: %s", id, r.body)
			assert.Contains(t, string(r.body), "not working with you now")
		}
		assert.Len(t, auditOf(t, p.env, tenant, testSID, core.AuditTechCheckRefused), 2)
		// Refused answers tell no one (a read that timed out ends a gorilla
		// socket: the silence is checked once, and Jane watches anew).
		assertSilent(t, mine, 200*time.Millisecond)
		assertSilent(t, theirs, 50*time.Millisecond)
		mine = p.watchLive(t, p.admin, "contact="+p.a.contact.ID)

		// The fourth answer within the hour: 429 with a wait, audited, not acted on.
		r = check(p.cred, testSID, map[string]string{"technician_id": p.a.tech.ID, "answer": "not_the_person"})
		assert.Equal(t, http.StatusTooManyRequests, r.status, "%s", r.body)
		assert.Equal(t, "3600", r.header.Get("Retry-After"))
		assert.Len(t, auditOf(t, p.env, tenant, testSID, core.AuditTechCheckRateLimited), 1)
		assert.Empty(t, auditOf(t, p.env, tenant, testSID, core.AuditTechCheckNotThePerson))
		p.deliver(t)
		mails := p.mail.Len()

		// An hour on, with a new prompt from Jane: "not the person" alerts
		// the MSP's admins (no on-call group is set up) and is noted.
		p.clk.Add(time.Hour + time.Second)
		prompt()
		r = check(p.cred, testSID, map[string]string{"technician_id": p.a.tech.ID, "answer": "not_the_person"})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		assert.Equal(t, true, r.JSON(t)["alerted"])
		for {
			told = readLive(t, mine, 2*time.Second)
			if told["type"] == "techcheck.answered" {
				break // after the new prompt's own events
			}
		}
		assert.Equal(t, "not_the_person", told["answer"])
		assert.Contains(t, told["reason"], "that you are NOT the person on the phone with them")
		p.deliver(t)
		require.Equal(t, mails+1, p.mail.Len())
		alert, _ := p.mail.last(t)
		assert.Equal(t, p.a.tech.Email, alert.To)
		assert.Contains(t, alert.Subject, "says the caller is not Jane Tech")
		require.Len(t, auditOf(t, p.env, tenant, testSID, core.AuditTechCheckNotThePerson), 1)
		var texts []string
		for _, n := range pf.psa.Notes("900") {
			texts = append(texts, n.Text)
		}
		joined := strings.Join(texts, "\n")
		assert.Contains(t, joined, "Jane Tech IS the technician working with them")
		assert.Contains(t, joined, "Jane Tech is NOT the person on the phone with them")

		// The device's other user (seen, not bound), a user the device never
		// reported, and another tenant's device with the same SID: 404.
		for _, sid := range []string{"S-1-5-21-1-2-3-500", "S-1-5-21-9-9-9-1001"} {
			r = check(p.cred, sid, map[string]string{"technician_id": p.a.tech.ID, "answer": "not_the_person"})
			assert.Equal(t, http.StatusNotFound, r.status, "%s: %s", sid, r.body)
		}
		p.makeAdmin(t, p.b)
		_, strangerCred := p.activate(t, p.login(t, p.b), p.b)
		r = check(strangerCred, testSID, map[string]string{"technician_id": p.a.tech.ID, "answer": "not_the_person"})
		assert.Equal(t, http.StatusNotFound, r.status, "%s", r.body)
		assert.Len(t, auditOf(t, p.env, tenant, testSID, core.AuditTechCheckNotThePerson), 1, "nothing more taken")
		assert.Contains(t, p.logs.String(), "not working with you now", "refusals are logged")
	})
}
