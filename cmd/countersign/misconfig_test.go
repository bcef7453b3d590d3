package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/memory"
	"github.com/countersign/countersign/core/twilio/twiliotest"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pageHTML fetches a console page with c's session.
func pageHTML(t *testing.T, c *apiClient, url string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	require.NoError(t, err)
	resp, err := c.http.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	return string(b)
}

// addTechnician creates a technician (not an admin) and signs them in.
func addTechnician(t *testing.T, s *testServer, email string) *apiClient {
	t.Helper()
	t.Setenv("MISCONF_PASSWORD", techPassword)
	code, out := cli(t, "user", "create", "-db", s.DB, "-tenant", testTenantSlug, "-email", email, "-name", "Tom Tech",
		"-role", "technician", "-password-env", "MISCONF_PASSWORD")
	require.Equal(t, 0, code, out)
	c := newAPIClient(t, "http://"+s.Addr+"/api/v1")
	status, body := c.do("POST", "/login", map[string]string{"tenant": testTenantSlug, "email": email, "password": techPassword})
	require.Equal(t, http.StatusOK, status, body)
	otp, err := totp.GenerateCode(body["secret"].(string), time.Now())
	require.NoError(t, err)
	status, body = c.do("POST", "/login/totp", map[string]string{"code": otp})
	require.Equal(t, http.StatusOK, status, body)
	return c
}

// waitFor polls cond until it holds or waitTimeout passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWrongTwilioCredentials: the account's auth token was rotated in
// Twilio, so the server's is wrong. The first SMS is refused (20003) and
// parked: the outbox does not ask Twilio again however long it runs, the
// verification says what is wrong instead of "Sending…", new SMS are
// refused at once (an admin reads the fix, a technician whom to ask), and
// every console page shows the banner. Once Twilio takes the token again
// and the admin presses Retry, the parked SMS goes out, audited.
func TestWrongTwilioCredentials(t *testing.T) {
	s := startServer(t, func(c *Config) { c.OutboxPoll = 50 * time.Millisecond })
	s.Twilio.SetAuthToken("rotated0token")
	before := s.Twilio.Requests()

	status, body := s.API.do("POST", "/verifications", map[string]string{"contact_id": s.ContactID, "method": "sms_code"})
	require.Equal(t, http.StatusCreated, status, body)
	id := body["id"].(string)
	waitFor(t, "the verification to show the misconfiguration", func() bool {
		return s.Verification(t, id)["delivery_status"] == core.DeliveryMisconfigured
	})
	v := s.Verification(t, id)
	assert.Equal(t, "pending", v["status"])
	assert.Equal(t, "SMS is not configured correctly — ask your admin", v["detail"])

	time.Sleep(time.Second) // twenty outbox passes
	assert.Equal(t, 1, s.Twilio.Requests()-before, "one refused request, no retry storm")

	status, body = s.API.do("POST", "/verifications", map[string]string{"contact_id": s.ContactID, "method": "sms_link"})
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "misconfigured", body["kind"])
	assert.Contains(t, body["error"], "Twilio rejected the account SID and auth token", "an admin reads what to fix")
	tom := addTechnician(t, s, "tom@acme.example")
	status, body = tom.do("POST", "/verifications", map[string]string{"contact_id": s.ContactID, "method": "sms_code"})
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "SMS is not configured correctly — ask your admin", body["error"], "a technician reads whom to ask")
	other := s.AddContact(t, "Eve", "Other", "(555) 010-0155", "eve@contoso.example")
	status, body = s.API.do("POST", "/verifications", map[string]string{"contact_id": other, "method": "email_link"})
	require.Equal(t, http.StatusCreated, status, "email is not affected: %v", body)
	assert.Equal(t, 1, s.Twilio.Requests()-before)

	admin := pageHTML(t, s.API, "http://"+s.Addr+"/app")
	assert.Contains(t, admin, "SMS (Twilio) is not configured correctly.")
	assert.Contains(t, admin, "The service said: 20003 Authenticate")
	assert.Contains(t, admin, `data-retry-channel="sms"`)
	for _, page := range []string{"/app/admin/policies", "/app/admin/integrations"} {
		assert.Contains(t, pageHTML(t, s.API, "http://"+s.Addr+page), "SMS (Twilio) is not configured correctly.", page)
	}
	techPage := pageHTML(t, tom, "http://"+s.Addr+"/app")
	assert.Contains(t, techPage, "SMS is not configured correctly — ask your admin.")
	assert.NotContains(t, techPage, "20003", "the vendor's words are for admins")
	status, body = tom.do("GET", "/admin/channel-issues", nil)
	assert.Equal(t, http.StatusForbidden, status, body)
	status, body = s.API.do("GET", "/admin/channel-issues", nil)
	require.Equal(t, http.StatusOK, status, body)
	issues := body["issues"].([]any)
	require.Len(t, issues, 1)
	assert.Equal(t, "20003", issues[0].(map[string]any)["code"])
	assert.Nil(t, issues[0].(map[string]any)["settings_url"], "the server's own account is fixed in its configuration, not on the tenant's channels page")

	// The fix: Twilio takes the token again, and the admin retries.
	s.Twilio.SetAuthToken(twiliotest.DefaultAuthToken)
	status, body = s.API.do("POST", "/admin/channel-issues/retry", map[string]string{"channel": "sms"})
	require.Equal(t, http.StatusOK, status, body)
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	msg, err := s.Twilio.WaitForMessage(ctx, "+15550100142")
	require.NoError(t, err, "the parked SMS went out")
	assert.Regexp(t, `\d{3} ?\d{3}`, msg.Body)
	waitFor(t, "the verification to be sent", func() bool { return s.Verification(t, id)["status"] == "sent" })
	assert.Empty(t, s.Verification(t, id)["detail"])
	assert.NotContains(t, pageHTML(t, s.API, "http://"+s.Addr+"/app"), "is not configured correctly")
	status, body = s.API.do("GET", "/audit?action="+core.AuditChannelFixed, nil)
	require.Equal(t, http.StatusOK, status, body)
	assert.NotEmpty(t, body["events"], "the fix is audited")
	status, body = s.API.do("POST", "/admin/channel-issues/retry", map[string]string{"channel": "../etc"})
	assert.Equal(t, http.StatusBadRequest, status, body)
}

// TestPSARefusesNoteKeys: the PSA's API key was rotated, so the note of a
// verification made from its pod is refused with a 401. The note is parked
// (one request to the PSA), the banner names the integration and the
// PSA's words, and saving the integration with the new key writes it.
func TestPSARefusesNoteKeys(t *testing.T) {
	s := startServer(t)
	psaSrv := memory.NewServer("psa-key-79")
	psaSrv.Seed([]psa.Company{{Ref: "co1", Name: "Fabrikam"}},
		[]psa.Contact{{Ref: "c1", CompanyRef: "co1", FirstName: "Pat", LastName: "Pod",
			Phones: []psa.Phone{{Number: "(555) 010-0177", Default: true}}}},
		[]psa.Ticket{{Ref: "900", Summary: "Password reset", CompanyRef: "co1", ContactRef: "c1"}})
	psaSrv.SetMember(psa.Member{Ref: "m1", Name: "Jane Tech", Email: techEmail})
	psaURL := ServeOtherOrigin(t, psaSrv)
	intID := s.AddIntegration(t, memory.ID, "Fabrikam PSA", memory.Config{BaseURL: psaURL, APIKey: "psa-key-79"})
	cookie := podSignIn(t, s)
	api := "http://" + s.Addr + "/api/v1"

	status, pc, _ := rawDo(t, "GET", api+"/pod/"+intID+"/context?ticket=900", nil, cookie)
	require.Equal(t, http.StatusOK, status, pc)
	contact := pc["contact"].(map[string]any)
	seen := len(s.Twilio.Messages())
	status, v, _ := rawDo(t, "POST", api+"/pod/"+intID+"/verifications",
		map[string]string{"scope": pc["scope"].(string), "contact_id": contact["id"].(string), "method": "sms_code"}, cookie)
	require.Equal(t, http.StatusCreated, status, v)
	code := s.WaitForSMSCode(t, "+15550100177", seen)

	psaSrv.SetAPIKey("psa-key-80") // rotated in the PSA
	before := psaSrv.Requests()
	status, v, _ = rawDo(t, "POST", api+"/verifications/"+v["id"].(string)+"/check", map[string]string{"code": code}, cookie)
	require.Equal(t, http.StatusOK, status, v)
	require.Equal(t, "verified", v["status"], "a PSA that refuses notes does not fail the verification")
	var issue map[string]any
	waitFor(t, "the integration to be marked misconfigured", func() bool {
		_, body := s.API.do("GET", "/admin/channel-issues", nil)
		list, _ := body["issues"].([]any)
		if len(list) == 1 {
			issue = list[0].(map[string]any)
		}
		return issue != nil
	})
	assert.Equal(t, core.PSAChannel(intID), issue["channel"])
	assert.Equal(t, "401", issue["code"])
	assert.Equal(t, "missing or wrong API key", issue["vendor_message"], "the PSA's own words from its 401 body")
	assert.EqualValues(t, 1, issue["waiting"])
	time.Sleep(time.Second)
	assert.Equal(t, 1, psaSrv.Requests()-before, "the refused note is not retried like an outage")
	assert.Empty(t, psaSrv.Notes("900"))
	page := pageHTML(t, s.API, "http://"+s.Addr+"/app/admin/integrations")
	assert.Contains(t, page, "PSA integration “Fabrikam PSA”")
	assert.Contains(t, page, "The service said: 401 missing or wrong API key")
	assert.Contains(t, page, `href="/app/admin/integrations#`+intID+`"`)

	// The fix: the admin saves the integration with the new key.
	status, body := s.API.do("PUT", "/admin/integrations/"+intID, map[string]any{"name": "Fabrikam PSA",
		"settings": map[string]string{"base_url": psaURL, "api_key": "psa-key-80"}})
	require.Equal(t, http.StatusOK, status, body)
	waitFor(t, "the parked note", func() bool { return len(psaSrv.Notes("900")) == 1 })
	assert.Contains(t, psaSrv.Notes("900")[0].Text, "Pat Pod was VERIFIED by SMS code")
	_, body = s.API.do("GET", "/admin/channel-issues", nil)
	assert.Empty(t, body["issues"])
	assert.True(t, strings.Contains(pageHTML(t, s.API, "http://"+s.Addr+"/app"), "Contacts") &&
		!strings.Contains(pageHTML(t, s.API, "http://"+s.Addr+"/app"), "is not configured correctly"))
}
