package web_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// smsTo returns the texts sent to phone, oldest first.
func (c *capture) smsTo(phone string) []core.Outbound {
	var out []core.Outbound
	for _, m := range c.Messages() {
		if m.To == phone {
			out = append(out, m)
		}
	}
	return out
}

var hiddenPhoneRE = regexp.MustCompile(`name="phone" value="([^"]*)"`)

// TestVerifyTechnicianPage: "Verify my technician" from the end-user page.
// A number on file opens a request as #verify does: the code goes to that
// number by SMS and to the on-call technician, never onto the page, and
// the request is in the inbox; a wrong code typed back is refused and
// counted, the right one confirms the check. A number on file for no one
// gets the same page and nothing else. A forged nonce or another site's
// POST changes nothing; an unknown tenant is a 404; a tenant that takes no
// technician checks says so.
func TestVerifyTechnicianPage(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.setupSMSChannels(t)
		page := "/v/" + e.a.tenant.Slug
		c := e.client(t)

		// Before any group hears about #verify: not available, said plainly.
		r := e.do(t, c, http.MethodGet, page, "", nil, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		f := url.Values{"nonce": {nonceFrom(t, r.body)}, "phone": {"(555) 010-0142"}}
		r = e.form(t, c, page, f, nil)
		assert.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "does not take technician checks here yet")

		e.setupTechVerify(t, e.a)
		start := func(phone string) response {
			t.Helper()
			r := e.do(t, c, http.MethodGet, page, "", nil, nil)
			require.Equal(t, http.StatusOK, r.status)
			return e.form(t, c, page, url.Values{"nonce": {nonceFrom(t, r.body)}, "phone": {phone}}, nil)
		}

		// A stranger's number: the same page, no text, no request.
		r = start("(555) 010-0777")
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "a 6-digit code is on its way")
		e.deliver(t)
		assert.Empty(t, e.sms.smsTo("+15550100777"), "no text to a number on file for no one")
		c1 := e.login(t, e.a)
		assert.Empty(t, e.techVerifyItems(t, c1), "no request for it either")
		assert.Contains(t, e.auditActions(t, e.a), core.AuditTechVerifyRejected)

		r = start("(555) 010-0142")
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "a 6-digit code is on its way")
		startPage := string(r.body)
		g := hiddenPhoneRE.FindSubmatch(r.body)
		require.NotNil(t, g)
		assert.Equal(t, callerPhone, html.UnescapeString(string(g[1])))
		codeForm := url.Values{"nonce": {nonceFrom(t, r.body)}, "phone": {html.UnescapeString(string(g[1]))}}
		e.deliver(t)
		toCaller := e.sms.smsTo(callerPhone)
		require.Len(t, toCaller, 1, "the code goes to the number on file")
		code := codeIn(t, toCaller[0])
		assert.NotContains(t, startPage, code, "no code on the page")
		assert.NotContains(t, startPage, code[:3]+" "+code[3:], "no code on the page")
		toOnCall := e.sms.smsTo(onCallPhone)
		require.Len(t, toOnCall, 1)
		assert.Equal(t, code, codeIn(t, toOnCall[0]), "the on-call technician has the same code")
		items := e.techVerifyItems(t, c1)
		require.Len(t, items, 1)
		assert.Equal(t, "open", items[0]["status"])
		assert.Equal(t, "Sam Caller", items[0]["contact_name"])

		// Refused without effect: another site's POST, a stale nonce.
		wrong := url.Values{"nonce": codeForm["nonce"], "phone": codeForm["phone"], "code": {code}}
		r = e.form(t, c, page+"/code", wrong, map[string]string{"Origin": "https://evil.example"})
		assert.Equal(t, http.StatusForbidden, r.status)
		wrong.Set("nonce", "forged")
		r = e.form(t, c, page+"/code", wrong, nil)
		assert.Equal(t, http.StatusBadRequest, r.status)
		assert.Equal(t, "open", e.techVerifyItems(t, c1)[0]["status"])

		// A wrong code: refused, the request stays open with one attempt.
		wrong.Set("nonce", codeForm.Get("nonce"))
		wrong.Set("code", wrongFor(code))
		r = e.form(t, c, page+"/code", wrong, nil)
		assert.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "not the code we texted you")
		items = e.techVerifyItems(t, c1)
		assert.Equal(t, "open", items[0]["status"])
		assert.EqualValues(t, 1, items[0]["attempts"])

		codeForm.Set("nonce", nonceFrom(t, r.body))
		codeForm.Set("code", code[:3]+" "+code[3:])
		r = e.form(t, c, page+"/code", codeForm, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "Confirmed")
		assert.Contains(t, string(r.body), "the technician check is complete")
		assert.Equal(t, "confirmed", e.techVerifyItems(t, c1)[0]["status"])
		assert.Contains(t, e.auditActions(t, e.a), core.AuditTechVerifyConfirmed)

		// Again: nothing open any more.
		codeForm.Set("nonce", nonceFrom(t, e.do(t, c, http.MethodGet, page, "", nil, nil).body))
		r = e.form(t, c, page+"/code", codeForm, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "Not confirmed")

		assert.Equal(t, http.StatusNotFound, e.do(t, c, http.MethodGet, "/v/nobody", "", nil, nil).status)
		r = start("not a number")
		assert.Equal(t, http.StatusBadRequest, r.status)
		assert.Contains(t, string(r.body), "type your mobile number")
	})
}
