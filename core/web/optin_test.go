package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	optInPathRE  = regexp.MustCompile(`/o/[^/\s]+/[A-Za-z0-9_-]{43}`)
	optInNonceRE = regexp.MustCompile(`name="nonce" value="([^"]+)"`)
)

// optInPath sends an opt-in form to d's contact from the card's route and
// returns the path of its link, from the e-mail.
func (e *env) optInPath(t *testing.T, c *http.Client, d tenantData, channel string) string {
	t.Helper()
	r := e.api(t, c, "POST", "/api/v1/contacts/"+d.contact.ID+"/optin", map[string]string{"channel": channel})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.InDelta(t, 1, r.JSON(t)["sent"], 0)
	e.deliver(t)
	m, _ := e.mail.last(t)
	if channel == "sms" {
		m, _ = e.sms.last(t)
	}
	p := optInPathRE.FindString(m.Text)
	require.NotEmpty(t, p, "no opt-in link in %q", m.Text)
	return p
}

// optInNonce opens the page at path and returns its form's nonce.
func (e *env) optInNonce(t *testing.T, path string) string {
	t.Helper()
	r := e.do(t, e.client(t), "GET", path, "", nil, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	g := optInNonceRE.FindSubmatch(r.body)
	require.NotNil(t, g, "no nonce on the page")
	return string(g[1])
}

func optInStateOf(t *testing.T, card map[string]any) string {
	t.Helper()
	o, ok := card["sms_opt_in"].(map[string]any)
	require.True(t, ok, "no sms_opt_in in %v", card)
	return o["state"].(string)
}

// TestOptInHTTP drives the opt-in form end to end over HTTP on both
// stores: the card's send, the end user's page (GET changes nothing, HEAD
// too), the answer, the green check on the card and the list, and every
// bad input: no nonce, a reused or expired link, another tenant's slug,
// another tenant's contact, a number without a country code.
func TestOptInHTTP(t *testing.T) {
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			e := newEnv(t, storetest.Open(t, dialect))
			c := e.login(t, e.a)
			path := e.optInPath(t, c, e.a, "")
			m, _ := e.mail.last(t)
			assert.Equal(t, "sam@contoso.example", m.To)

			card := e.api(t, c, "GET", "/api/v1/contacts/"+e.a.contact.ID, nil).JSON(t)
			assert.Equal(t, "none", optInStateOf(t, card))

			// The page: no-store, no referrer, and reading it changes nothing.
			anon := e.client(t)
			r := e.do(t, anon, "HEAD", path, "", nil, nil)
			assert.Equal(t, http.StatusOK, r.status)
			r = e.do(t, anon, "GET", path, "", nil, nil)
			require.Equal(t, http.StatusOK, r.status)
			assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
			assert.Equal(t, "no-referrer", r.header.Get("Referrer-Policy"))
			assert.Contains(t, string(r.body), "May we text you?")
			assert.NotContains(t, string(r.body), "oi-phone\"", "no number field unless the MSP allows corrections")
			assert.NotContains(t, string(r.body), "<script")
			card = e.api(t, c, "GET", "/api/v1/contacts/"+e.a.contact.ID, nil).JSON(t)
			assert.Equal(t, "none", optInStateOf(t, card), "GET and HEAD answer nothing")

			// No nonce, a forged one, another origin: refused.
			r = e.form(t, anon, path, url.Values{"answer": {"yes"}}, nil)
			assert.Equal(t, http.StatusBadRequest, r.status)
			r = e.form(t, anon, path, url.Values{"answer": {"yes"}, "nonce": {"AAAA"}}, nil)
			assert.Equal(t, http.StatusBadRequest, r.status)
			nonce := e.optInNonce(t, path)
			r = e.form(t, anon, path, url.Values{"answer": {"yes"}, "nonce": {nonce}}, map[string]string{"Origin": "https://evil.example"})
			assert.Equal(t, http.StatusForbidden, r.status)

			e.clk.Add(time.Minute)
			r = e.form(t, anon, path, url.Values{"answer": {"yes"}, "nonce": {nonce}}, nil)
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			assert.Contains(t, string(r.body), "may now text you")

			// Reused: the old form again, and a fresh page's form.
			r = e.form(t, anon, path, url.Values{"answer": {"no"}, "nonce": {nonce}}, nil)
			assert.Equal(t, http.StatusConflict, r.status)
			r = e.do(t, anon, "GET", path, "", nil, nil)
			assert.Equal(t, http.StatusOK, r.status)
			assert.Contains(t, string(r.body), "Already answered")
			assert.NotRegexp(t, optInNonceRE, string(r.body), "an answered form offers no form")

			// The green check, with its date, on the card and the list.
			card = e.api(t, c, "GET", "/api/v1/contacts/"+e.a.contact.ID, nil).JSON(t)
			assert.Equal(t, "opted_in", optInStateOf(t, card))
			assert.NotEmpty(t, card["sms_opt_in"].(map[string]any)["at"])
			list := e.api(t, c, "GET", "/api/v1/contacts", nil).JSON(t)["contacts"].([]any)
			require.NotEmpty(t, list)
			assert.Equal(t, "opted_in", optInStateOf(t, list[0].(map[string]any)))

			// Another tenant's slug, or its technician: nothing.
			other := strings.Replace(path, "/o/"+e.a.tenant.Slug+"/", "/o/"+e.b.tenant.Slug+"/", 1)
			assert.Equal(t, http.StatusNotFound, e.do(t, anon, "GET", other, "", nil, nil).status)
			cb := e.login(t, e.b)
			r = e.api(t, cb, "POST", "/api/v1/contacts/"+e.a.contact.ID+"/optin", map[string]string{})
			assert.Equal(t, http.StatusNotFound, r.status, "%s", r.body)
			r = e.api(t, cb, "POST", "/api/v1/optin/send", map[string]any{"contact_ids": []string{e.a.contact.ID}})
			assert.Equal(t, http.StatusNotFound, r.status, "%s", r.body)

			// Expired.
			path2 := e.optInPath(t, c, e.a, "email")
			e.clk.Add(core.OptInTTL + time.Minute)
			assert.Equal(t, http.StatusNotFound, e.do(t, anon, "GET", path2, "", nil, nil).status)
			c = e.login(t, e.a) // a week later: the session has ended too

			// Corrections: admins only may allow them; a number without its
			// country code is refused on the page and nothing is written.
			r = e.api(t, c, "PUT", "/api/v1/optin/settings", map[string]bool{"allow_correction": true})
			assert.Equal(t, http.StatusForbidden, r.status)
			e.setRole(t, &e.a, core.RoleAdmin)
			c = e.login(t, e.a)
			r = e.api(t, c, "PUT", "/api/v1/optin/settings", map[string]bool{"allow_correction": true})
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			path3 := e.optInPath(t, c, e.a, "email")
			nonce = e.optInNonce(t, path3)
			r = e.form(t, anon, path3, url.Values{"answer": {"yes"}, "nonce": {nonce}, "phone": {"07700 900123"}}, nil)
			assert.Equal(t, http.StatusUnprocessableEntity, r.status)
			assert.Contains(t, string(r.body), "country code")
			assert.Contains(t, string(r.body), `value="07700 900123"`, "what was typed is shown again")
			g := optInNonceRE.FindSubmatch(r.body)
			require.NotNil(t, g, "the form again, with a fresh nonce")
			got, err := e.eng.Contact(t.Context(), e.a.tenant.ID, e.a.contact.ID)
			require.NoError(t, err)
			mobile, _ := got.OptInPhone()
			assert.Equal(t, "+15550100142", mobile.Value, "nothing written")
			r = e.form(t, anon, path3, url.Values{"answer": {"yes"}, "nonce": {string(g[1])}, "phone": {"+1 555 010 0199"}}, nil)
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			got, err = e.eng.Contact(t.Context(), e.a.tenant.ID, e.a.contact.ID)
			require.NoError(t, err)
			mobile, _ = got.OptInPhone()
			assert.Equal(t, "+15550100199", mobile.Value)
			card = e.api(t, c, "GET", "/api/v1/contacts/"+e.a.contact.ID, nil).JSON(t)
			var prov []string
			for _, d := range card["destinations"].([]any) {
				prov = append(prov, d.(map[string]any)["provenance"].(string))
			}
			assert.Contains(t, prov, "corrected by the contact on the SMS opt-in form", "the technician sees where the new number came from")
		})
	}
}

// TestOptInBulkHTTP: the review flags the number written without a
// country code; a bulk send by SMS skips a number that replied STOP and
// sends it nothing; the single send says to use e-mail instead.
func TestOptInBulkHTTP(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"))
	c := e.login(t, e.a)
	uk, err := e.eng.CreateContact(t.Context(), e.a.tenant.ID, "test", "manual", core.NewContact{ClientID: e.a.client.ID, FirstName: "Una", LastName: "Kay",
		Phones: []core.NewDestination{{Value: "+15550100155", Label: "Mobile"}}, Emails: []core.NewDestination{{Value: "una@contoso.example"}}})
	require.NoError(t, err)
	r := e.api(t, c, "GET", "/api/v1/optin/candidates?client="+e.a.client.ID, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	rows := map[string]map[string]any{}
	for _, x := range r.JSON(t)["contacts"].([]any) {
		row := x.(map[string]any)
		rows[row["id"].(string)] = row
	}
	require.Len(t, rows, 2)
	flags := rows[e.a.contact.ID]["flags"].([]any)
	require.Len(t, flags, 1)
	assert.Contains(t, flags[0], "no country code")
	assert.Empty(t, rows[uk.ID]["flags"])
	assert.NotContains(t, r.body, []byte("+15550100142"), "numbers stay masked")
	r = e.api(t, c, "GET", "/api/v1/optin/candidates?phone=call+me", nil)
	assert.Equal(t, http.StatusBadRequest, r.status)

	_, err = e.eng.ReceiveSMS(t.Context(), e.a.tenant.ID, core.InboundSMS{MessageSID: "SM" + strings.Repeat("7", 32), From: "+15550100142", To: "+15550109999", Body: "STOP"})
	require.NoError(t, err)
	r = e.api(t, c, "POST", "/api/v1/contacts/"+e.a.contact.ID+"/optin", map[string]string{"channel": "sms"})
	assert.Equal(t, http.StatusForbidden, r.status)
	assert.Contains(t, r.JSON(t)["error"], "e-mail")
	r = e.api(t, c, "POST", "/api/v1/optin/send", map[string]any{"contact_ids": []string{e.a.contact.ID, uk.ID}, "channel": "sms"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	j := r.JSON(t)
	assert.InDelta(t, 1, j["sent"], 0)
	require.Len(t, j["skipped"], 1)
	e.deliver(t)
	for _, m := range e.sms.Messages() {
		assert.NotEqual(t, "+15550100142", m.To, "no SMS to an opted-out number")
	}
	m, _ := e.sms.last(t)
	assert.Equal(t, "+15550100155", m.To)
	assert.Contains(t, m.Text, "STOP")
	r = e.api(t, c, "POST", "/api/v1/optin/send", map[string]any{"contact_ids": []string{}, "channel": "email"})
	assert.Equal(t, http.StatusBadRequest, r.status)
	r = e.api(t, c, "POST", "/api/v1/optin/send", map[string]any{"contact_ids": []string{uk.ID}, "channel": "fax"})
	assert.Equal(t, http.StatusBadRequest, r.status)
}
