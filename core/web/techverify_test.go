package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/countersign/countersign/core/twilio"
	"github.com/countersign/countersign/core/twilio/twiliotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const onCallPhone = "+15550100301"

// setupTechVerify turns technician verification on for tenant d: a group
// told about #verify with one user on call around the clock by SMS.
func (e *env) setupTechVerify(t *testing.T, d tenantData) {
	t.Helper()
	ctx := t.Context()
	e.eng.SetTechVerifyHandler(e.eng.TechVerifyHandler())
	g, err := e.eng.CreateNotifyGroup(ctx, d.tech, core.NotifyGroup{Name: "Desk", Events: []core.NotifyEvent{core.NotifyTechVerify}})
	require.NoError(t, err)
	_, err = e.eng.AddNotifyUser(ctx, d.tech, core.NotifyUser{GroupID: g.ID, Name: "Olly On-call", SMS: onCallPhone, BySMS: true,
		Schedule: core.Schedule{{From: "2026-10-01", Until: "2027-09-30", Start: "00:00", End: "24:00", Days: core.AllDays, EveryDays: 1, OnDays: 1}}})
	require.NoError(t, err)
}

// twimlReply returns the one <Message> of a TwiML answer ("" for none).
func twimlReply(t *testing.T, r response) string {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	if string(r.body) == emptyTwiML {
		return ""
	}
	m := twimlMessage.FindStringSubmatch(string(r.body))
	require.NotNil(t, m, "%s", r.body)
	return m[1]
}

func (e *env) techVerifyItems(t *testing.T, c *http.Client) []map[string]any {
	t.Helper()
	r := e.api(t, c, "GET", "/api/v1/techverify", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var out struct {
		Items []map[string]any `json:"items"`
	}
	require.NoError(t, json.Unmarshal(r.body, &out))
	return out.Items
}

var sixDigits = regexp.MustCompile(`(\d{3}) ?(\d{3})`)

// TestTechVerifyWebhook drives technician verification end to end through
// the real, signed Twilio webhook: #verify → the same code to the end user
// (TwiML) and the on-call technician (SMS), claimed in the console's inbox
// API; forged, replayed and foreign #confirms change nothing; #confirm with
// the code closes it once.
func TestTechVerifyWebhook(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.setupSMSChannels(t)
		e.setupTechVerify(t, e.a)
		sidN := 0
		text := func(from, body string) url.Values {
			sidN++
			return inboundForm(fmt.Sprintf("SM%032d", 7000+sidN), from, ownNumber, body, ownAccount)
		}

		verify := text(callerPhone, "#verify")
		reply := twimlReply(t, e.postSMS(t, verify, ownToken))
		m := sixDigits.FindStringSubmatch(reply)
		require.NotNil(t, m, "no code in %q", reply)
		code := m[1] + m[2]
		assert.Contains(t, reply, "#confirm")
		e.deliver(t)
		sms, _ := e.sms.last(t)
		assert.Equal(t, onCallPhone, sms.To)
		assert.Equal(t, code, codeIn(t, sms), "the on-call technician gets the end user's code")

		// The inbox lists it without its code; a claim shows the code.
		c := e.login(t, e.a)
		r := e.api(t, c, "GET", "/api/v1/techverify", nil)
		require.Equal(t, http.StatusOK, r.status)
		assert.NotContains(t, string(r.body), code[:3]+" "+code[3:])
		assert.NotContains(t, string(r.body), code)
		assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
		items := e.techVerifyItems(t, c)
		require.Len(t, items, 1)
		assert.Equal(t, "open", items[0]["status"])
		assert.Equal(t, "Sam Caller", items[0]["contact_name"])
		assert.Equal(t, "Contoso", items[0]["client_name"])
		assert.Equal(t, "added by hand", items[0]["provenance"], "where the number came from, in words")
		id := items[0]["id"].(string)
		r = e.api(t, c, "POST", "/api/v1/techverify/"+id+"/claim", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, code, strings.ReplaceAll(r.JSON(t)["code"].(string), " ", ""))

		// Assigned to the memory PSA's ticket 900.
		pf := newPodFixture(t, e)
		r = e.api(t, c, "POST", "/api/v1/techverify/"+id+"/ticket", map[string]string{"ticket_ref": "900"})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, "900", e.techVerifyItems(t, c)[0]["ticket_ref"])

		// Tenant b sees none of it and cannot claim it.
		cb := e.login(t, e.b)
		assert.Empty(t, e.techVerifyItems(t, cb))
		assert.Equal(t, http.StatusNotFound, e.api(t, cb, "POST", "/api/v1/techverify/"+id+"/claim", nil).status)
		assert.Equal(t, http.StatusNotFound, e.api(t, cb, "POST", "/api/v1/techverify/"+id+"/ticket", map[string]string{"ticket_ref": "1"}).status)
		// Unauthenticated: no list.
		assert.Equal(t, http.StatusUnauthorized, e.api(t, e.client(t), "GET", "/api/v1/techverify", nil).status)

		// Forged: a #confirm with the right code but no valid signature.
		forged := text(callerPhone, "#confirm "+code)
		hdr := map[string]string{twilio.SignatureHeader: twiliotest.SignRequest(publicURL+smsPath, forged, "not-the-token")}
		assert.Equal(t, http.StatusForbidden, e.form(t, e.client(t), smsPath, forged, hdr).status)
		// From another number (tenant a's other contact would do; a stranger here).
		assert.Empty(t, twimlReply(t, e.postSMS(t, text("+15550100777", "#confirm "+code), ownToken)))
		// To another tenant's number: b has no request from this phone.
		bconfirm := inboundForm("SM"+strings.Repeat("8", 32), callerPhone, sharedNum, "#confirm "+code, "AC0123456789abcdef0123456789abcdef")
		assert.Empty(t, twimlReply(t, e.postSMS(t, bconfirm, twilioToken)))
		// A replay of the #verify: nothing new.
		assert.Empty(t, twimlReply(t, e.postSMS(t, verify, ownToken)))
		items = e.techVerifyItems(t, c)
		require.Len(t, items, 1)
		assert.Equal(t, "open", items[0]["status"], "nothing confirmed yet")
		assert.NotContains(t, e.auditActions(t, e.a), core.AuditTechVerifyConfirmed)

		reply = twimlReply(t, e.postSMS(t, text(callerPhone, "#confirm "+wrongFor(code)), ownToken))
		assert.Contains(t, reply, "not the code")
		confirm := text(callerPhone, "#Confirm "+code)
		assert.Contains(t, twimlReply(t, e.postSMS(t, confirm, ownToken)), "complete")
		assert.Empty(t, twimlReply(t, e.postSMS(t, confirm, ownToken)), "a replayed #confirm")
		assert.Contains(t, twimlReply(t, e.postSMS(t, text(callerPhone, "#confirm"), ownToken)), "no open technician check")
		items = e.techVerifyItems(t, c)
		assert.Equal(t, "confirmed", items[0]["status"])
		e.deliver(t)
		notes := pf.psa.Notes("900")
		require.Len(t, notes, 1, "the outcome is noted on the PSA ticket")
		assert.Contains(t, notes[0].Text, "Sam Caller checked technician Jane Tech by text and CONFIRMED")
		n := 0
		for _, a := range e.auditActions(t, e.a) {
			if a == core.AuditTechVerifyConfirmed {
				n++
			}
		}
		assert.Equal(t, 1, n)

		// An unknown number: a clear line, no code, listed as unknown.
		e.clk.Add(time.Second)
		reply = twimlReply(t, e.postSMS(t, text("+15550100778", "#verify"), ownToken))
		assert.Contains(t, reply, "cannot check a technician")
		assert.NotRegexp(t, sixDigits, reply)
		items = e.techVerifyItems(t, c)
		assert.Equal(t, "unknown", items[0]["status"])

		// The console page.
		page := e.api(t, c, "GET", "/app/techverify", nil)
		require.Equal(t, http.StatusOK, page.status)
		assert.Contains(t, string(page.body), "Tech verify")
		assert.Equal(t, http.StatusSeeOther, e.api(t, e.client(t), "GET", "/app/techverify", nil).status)
		e.assertLogsClean(t, code)
	})
}

// wrongFor returns a 6-digit code other than code.
func wrongFor(code string) string {
	if code == "123456" {
		return "654321"
	}
	return "123456"
}
