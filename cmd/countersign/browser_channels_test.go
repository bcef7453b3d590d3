package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core/twilio"
	"github.com/countersign/countersign/core/twilio/twiliotest"
)

// The tenant's own Twilio account in these tests (a fake of its own).
const (
	tenantAccount = "AC" + "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f"
	tenantToken   = "tenanttoken42"
	tenantNumber  = "+15550104242"
)

// startChannelServer starts a server without server-wide Twilio, its
// Twilio traffic going to own, the tenant's account.
func startChannelServer(t *testing.T, opts ...func(*Config)) (*testServer, *twiliotest.Server) {
	t.Helper()
	own := &twiliotest.Server{AccountSID: tenantAccount, AuthToken: tenantToken, Numbers: []string{"+15550109999", tenantNumber}}
	own.Start(t)
	s := startServer(t, func(c *Config) {
		c.TwilioAccountSID, c.TwilioSecret, c.TwilioFrom = "", "", ""
		c.twilioHTTP = own.HTTPClient()
		for _, o := range opts {
			o(c)
		}
	})
	return s, own
}

// TestBrowserChannelSettings: an admin enters the MSP's own Twilio
// account on Settings → Channels; a wrong auth token is caught by the live
// check with what to fix, the right one passes, secrets are never shown
// again, and texts then go out through the tenant's account from its number.
func TestBrowserChannelSettings(t *testing.T) {
	s, own := startChannelServer(t)
	tab := NewTab(t)
	s.SignIn(t, tab, techEmail, techPassword, "")
	tab.Visit(s.URL + "/app/admin/channels")
	tab.WaitVisible("#ch-tw-account")
	tab.WaitText("#ch-tenant-country", "US")
	assert.Contains(t, tab.Text("#ch-tw-number-hint"), s.URL+"/webhooks/twilio/sms")
	tab.CheckA11y("channels")

	tab.Type("#ch-tw-account", tenantAccount)
	tab.Type("#ch-tw-secret", "wrongtoken1")
	tab.Type("#ch-tw-number", tenantNumber)
	tab.Type("#ch-sms-countries", "US, CA")
	tab.Click("#ch-save")
	tab.WaitText("#ch-check-twilio", "rejected the credentials")
	tab.WaitClass("#ch-check-twilio", "error")
	assert.Contains(t, tab.Text("#ch-check-email"), "uses the server's account")
	tab.Screenshot("channels-wrong-token")

	tab.Type("#ch-tw-secret", tenantToken)
	tab.Click("#ch-save")
	tab.WaitText("#ch-check-twilio", "Twilio works.")
	tab.WaitClass("#ch-check-twilio", "ok")
	tab.WaitText("#ch-tw-secret-state", "A secret is stored")
	var secretValue string
	tab.Eval(`document.getElementById("ch-tw-secret").value`, &secretValue)
	assert.Empty(t, secretValue, "the secret field is emptied after saving")
	tab.Screenshot("channels-saved")

	// A reload shows the account, never the secret.
	tab.Visit(s.URL + "/app/admin/channels")
	tab.WaitTrue("account shown", `document.getElementById("ch-tw-account").value === `+jsString(tenantAccount))
	tab.WaitText("#ch-tw-secret-state", "A secret is stored")
	var html string
	tab.Eval(`document.documentElement.outerHTML`, &html)
	assert.NotContains(t, html, tenantToken)
	_, body := s.API.do("GET", "/admin/channels", nil)
	raw := strings.ToLower(strings.Join(flatten(body), " "))
	assert.NotContains(t, raw, strings.ToLower(tenantToken), "the API never returns the secret")
	assert.Equal(t, "US, CA", strings.Join(toStrings(body["sms_countries"]), ", "))

	// Saving again with the secret left empty keeps it: the check passes.
	tab.Type("#ch-help", "Acme IT: call +1 555 010 0000 for help. Reply STOP to opt out.")
	tab.Click("#ch-save")
	tab.WaitText("#ch-check-twilio", "Twilio works.")
	tab.CheckA11y("channels (saved)")

	// A verification text goes through the tenant's own account, from its number.
	status, body := s.API.do("POST", "/verifications", map[string]string{"contact_id": s.ContactID, "method": "sms_code"})
	require.Equal(t, http.StatusCreated, status, body)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	msg, err := own.WaitForMessage(ctx, "+15550100142")
	require.NoError(t, err)
	assert.Equal(t, tenantAccount, msg.AccountSID)
	assert.Equal(t, tenantNumber, msg.From)
	assert.Contains(t, msg.Body, "Acme")

	// The MSP rotates its auth token in Twilio: the next text is refused
	// (20003) and waits; the banner sends the admin to this page, where
	// saving the new token sends it.
	own.SetAuthToken("rotatedtoken7")
	status, body = s.API.do("POST", "/verifications", map[string]string{"contact_id": s.ContactID, "method": "sms_link"})
	require.Equal(t, http.StatusCreated, status, body)
	sent := len(own.Messages())
	waitFor(t, "the SMS channel to be marked misconfigured", func() bool {
		_, body := s.API.do("GET", "/admin/channel-issues", nil)
		list, _ := body["issues"].([]any)
		return len(list) == 1
	})
	tab.Visit(s.URL + "/app")
	tab.WaitText(".issuebanner", "SMS (Twilio) is not configured correctly.")
	tab.WaitText(".issuebanner", "20003")
	var href string
	tab.Eval(`document.querySelector(".issuebanner a").getAttribute("href")`, &href)
	assert.Equal(t, "/app/admin/channels#twilio", href, "the tenant's own account is fixed on its channels page")
	tab.Screenshot("channels-banner")
	tab.Click(".issuebanner a")
	tab.WaitURL("/app/admin/channels")
	tab.WaitTrue("account shown", `document.getElementById("ch-tw-account").value === `+jsString(tenantAccount))
	tab.Type("#ch-tw-secret", "rotatedtoken7")
	tab.Click("#ch-save")
	tab.WaitText("#ch-check-twilio", "Twilio works.")
	waitFor(t, "the parked text to leave", func() bool { return len(own.Messages()) == sent+1 })
	last := own.Messages()[sent]
	assert.Equal(t, tenantNumber, last.From)
	tab.Visit(s.URL + "/app")
	tab.WaitVisible("#logout")
	var banners int
	tab.Eval(`document.querySelectorAll(".issuebanner").length`, &banners)
	assert.Zero(t, banners, "the banner is gone once the fix is saved")
}

// TestInboundSMSEndToEnd: texts to the tenant's number, signed by its own
// Twilio account, reach the server over HTTP; STOP blocks every later SMS to
// the number with a clear error, HELP is answered, START lets texts through
// again, and a text to a country outside the allow-list is refused.
func TestInboundSMSEndToEnd(t *testing.T) {
	s, own := startChannelServer(t)
	status, body := s.API.do("PUT", "/admin/channels", map[string]any{
		"twilio": map[string]any{"account_sid": tenantAccount, "secret": tenantToken, "number": tenantNumber},
		"email":  map[string]any{"shared": true}})
	require.Equal(t, http.StatusOK, status, body)

	n := 0
	text := func(from, body, token string) (int, string) {
		t.Helper()
		n++
		f := url.Values{"MessageSid": {"SM" + strings.Repeat("7", 30) + string(rune('a'+n/10)) + string(rune('0'+n%10))},
			"AccountSid": {tenantAccount}, "From": {from}, "To": {tenantNumber}, "Body": {body}, "NumMedia": {"0"}}
		req, err := http.NewRequestWithContext(t.Context(), "POST", "http://"+s.Addr+"/webhooks/twilio/sms", strings.NewReader(f.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(twilio.SignatureHeader, twiliotest.SignRequest(s.URL+"/webhooks/twilio/sms", f, token))
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, string(b)
	}
	code, _ := text("+15550100142", "STOP", "forgedtoken")
	assert.Equal(t, http.StatusForbidden, code, "a text not signed by the tenant's account is refused")
	status, body = s.API.do("POST", "/verifications", map[string]string{"contact_id": s.ContactID, "method": "sms_code"})
	require.Equal(t, http.StatusCreated, status, "a forged STOP changed nothing: %v", body)
	wctx, wcancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer wcancel()
	_, err := own.WaitForMessage(wctx, "+15550100142")
	require.NoError(t, err)

	code, reply := text("+15550100142", "stop", tenantToken)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, `<?xml version="1.0" encoding="UTF-8"?><Response/>`, reply)
	before := len(own.Messages())
	require.Equal(t, 1, before)
	for _, m := range []string{"sms_code", "sms_link"} {
		status, body = s.API.do("POST", "/verifications", map[string]string{"contact_id": s.ContactID, "method": m})
		assert.Equal(t, http.StatusForbidden, status)
		assert.Contains(t, body["error"], "opted out")
		assert.Contains(t, body["error"], "e-mail or a voice call")
	}
	status, _ = s.API.do("POST", "/verifications", map[string]string{"contact_id": s.ContactID, "method": "email_link"})
	assert.Equal(t, http.StatusCreated, status, "e-mail still works")
	_, reply = text("+15550100142", "HELP", tenantToken)
	assert.NotContains(t, reply, "<Message>", "no text of ours to an opted-out number")
	assert.Len(t, own.Messages(), before, "no SMS to an opted-out number")

	_, reply = text("+15550100142", "START", tenantToken)
	assert.NotContains(t, reply, "<Message>")
	_, reply = text("+15550100142", "help", tenantToken)
	assert.Contains(t, reply, "<Message>Acme IT identity verification.")
	assert.Contains(t, reply, "Reply STOP to opt out.")
	status, body = s.API.do("POST", "/verifications", map[string]string{"contact_id": s.ContactID, "method": "sms_code"})
	require.Equal(t, http.StatusCreated, status, body)

	// A contact abroad: refused before anything is sent, and audited.
	abroad := s.AddContact(t, "Ann", "Abroad", "+44 7700 900123", "ann@contoso.example")
	status, body = s.API.do("POST", "/verifications", map[string]string{"contact_id": abroad, "method": "sms_code"})
	assert.Equal(t, http.StatusForbidden, status)
	assert.Contains(t, body["error"], "text messages to GB are not allowed")
	_, ok := own.LastMessageTo("+447700900123")
	assert.False(t, ok)
	status, body = s.API.do("GET", "/admin/audit?action=send.refused_country", nil)
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, strings.Join(flatten(body), " "), "GB")
}

// flatten lists every string and number in a decoded JSON value.
func flatten(v any) []string {
	switch x := v.(type) {
	case map[string]any:
		var out []string
		for _, e := range x {
			out = append(out, flatten(e)...)
		}
		return out
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, flatten(e)...)
		}
		return out
	case nil:
		return nil
	default:
		return []string{fmt.Sprint(x)}
	}
}

// toStrings reads a decoded JSON array of strings.
func toStrings(v any) []string {
	var out []string
	for _, e := range v.([]any) {
		out = append(out, e.(string))
	}
	return out
}
