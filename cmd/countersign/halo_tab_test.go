package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/halo"
	"github.com/countersign/countersign/halo/halotest"
)

// The Halo custom tab over HTTP, with the real server (Run), the real halo
// client and the contract-checked fake Halo: the call budget of a tab load
// on a ticket, an SMS-code verification and the note the outbox writes,
// counted on the fake's side (token requests included).

const (
	haloTicket = "3201"
	haloPhone  = "+15550100193"
)

func haloFake(t *testing.T) *halotest.Server {
	t.Helper()
	hs := halotest.NewServer(t)
	hs.Seed([]psa.Company{{Ref: "1201", Name: "Northwind"}},
		[]psa.Contact{{Ref: "2201", CompanyRef: "1201", FirstName: "Hal", LastName: "User",
			Phones: []psa.Phone{{Number: "(555) 010-0193", Label: "Mobile"}},
			Emails: []psa.Email{{Address: "hal@northwind.example"}}}},
		[]psa.Ticket{{Ref: haloTicket, Summary: "VPN down", CompanyRef: "1201", ContactRef: "2201"}})
	return hs
}

// rawDo makes one request with cookies given by hand (the pod's cookie is
// Secure, which Go's cookie jar keeps from http://localhost) and returns
// the status, the decoded JSON and the response's cookies.
func rawDo(t *testing.T, method, url string, body any, cookies ...*http.Cookie) (int, map[string]any, []*http.Cookie) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, resp.Cookies()
}

// podSignIn signs Jane in the way the pod's pop-out does (password, TOTP
// enrolment, handoff) and returns the pod's session cookie.
func podSignIn(t *testing.T, s *testServer) *http.Cookie {
	t.Helper()
	api := "http://" + s.Addr + "/api/v1"
	nonce := strings.Repeat("n", 22)
	pop := newAPIClient(t, api)
	status, body := pop.do("POST", "/login", map[string]string{"tenant": testTenantSlug, "email": techEmail, "password": techPassword, "pod_nonce": nonce})
	require.Equal(t, http.StatusOK, status, body)
	secret, _ := body["secret"].(string)
	require.NotEmpty(t, secret, "%v", body)
	code, err := totp.GenerateCode(secret, time.Now())
	require.NoError(t, err)
	status, body = pop.do("POST", "/login/totp", map[string]string{"code": code})
	require.Equal(t, http.StatusOK, status, body)
	handoff, _ := body["handoff"].(string)
	require.NotEmpty(t, handoff, "%v", body)
	status, body, cookies := rawDo(t, "POST", api+"/pod/session", map[string]string{"token": handoff, "nonce": nonce})
	require.Equal(t, http.StatusOK, status, body)
	for _, c := range cookies {
		if c.Name == "cs_pod" {
			return c
		}
	}
	t.Fatalf("no pod cookie")
	return nil
}

// TestHaloTabCallBudget: at most 4 Halo calls cold (token, ticket, user,
// action) and 2 warm (ticket, action) for a tab load, an SMS-code
// verification and its note.
func TestHaloTabCallBudget(t *testing.T) {
	hs := haloFake(t)
	s := startServer(t, func(c *Config) { c.psaHTTP = hs.HTTPClient() })
	cfg := hs.Config()
	cfg.AuthURL, cfg.Tenant = hs.URL()+"/auth", hs.Tenant() // stored at set-up
	intID := s.AddIntegration(t, halo.ID, "Halo", cfg)
	cookie := podSignIn(t, s)
	api := "http://" + s.Addr + "/api/v1"

	round := func(t *testing.T) []string {
		t.Helper()
		start := len(hs.Log())
		actions := len(hs.Actions(haloTicket))
		req, err := http.NewRequestWithContext(t.Context(), "GET", "http://"+s.Addr+"/pod/"+testTenantSlug+"/"+intID+"?ticket="+haloTicket, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "frame-ancestors "+hs.URL()+";", "only the instance frames the tab")

		status, pc, _ := rawDo(t, "GET", api+"/pod/"+intID+"/context?ticket="+haloTicket, nil, cookie)
		require.Equal(t, http.StatusOK, status, pc)
		contact := pc["contact"].(map[string]any)
		assert.Equal(t, "Hal", contact["first_name"])
		seen := len(s.Twilio.Messages())
		status, v, _ := rawDo(t, "POST", api+"/pod/"+intID+"/verifications",
			map[string]string{"scope": pc["scope"].(string), "contact_id": contact["id"].(string), "method": "sms_code"}, cookie)
		require.Equal(t, http.StatusCreated, status, v)
		code := s.WaitForSMSCode(t, haloPhone, seen)
		status, v, _ = rawDo(t, "POST", api+"/verifications/"+v["id"].(string)+"/check", map[string]string{"code": code}, cookie)
		require.Equal(t, http.StatusOK, status, v)
		require.Equal(t, "verified", v["status"])
		// The fake stores the action inside its handler but logs the request
		// only when the handler returns, so wait for both: reading the log as
		// soon as the action shows lost the note's entry under load.
		logged := func() []string {
			var routes []string
			for _, r := range hs.Log()[start:] {
				routes = append(routes, r.Route)
			}
			return routes
		}
		deadline := time.Now().Add(waitTimeout)
		for (len(hs.Actions(haloTicket)) == actions || !slices.Contains(logged(), "POST /Actions")) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		require.Len(t, hs.Actions(haloTicket), actions+1, "the note was written")
		return logged()
	}
	cold := round(t)
	assert.Equal(t, []string{"POST /auth/token", "GET /Tickets/{id}", "GET /Users/{id}", "POST /Actions"}, cold)
	assert.LessOrEqual(t, len(cold), 4, "cold budget, token fetch included")
	t.Logf("Halo calls, cold tab load + SMS verification + note: %d %v", len(cold), cold)
	warm := round(t)
	assert.Equal(t, []string{"GET /Tickets/{id}", "POST /Actions"}, warm)
	assert.LessOrEqual(t, len(warm), 2, "warm budget")
	t.Logf("Halo calls, warm tab load + SMS verification + note: %d %v", len(warm), warm)

	a := hs.Actions(haloTicket)[0]
	assert.Contains(t, a.Note, "Hal User was VERIFIED by SMS code")
	require.NotNil(t, a.HiddenFromUser)
	assert.True(t, *a.HiddenFromUser, "hidden from the end user")
	require.NotNil(t, a.SendEmail)
	assert.False(t, *a.SendEmail)
	assert.Equal(t, 7, a.OutcomeID)
}

// TestHaloWebhooks posts Halo webhook deliveries to the real server's
// event route: forged, replayed and huge ones get 401/404/413 (or are
// dropped) and change nothing; a genuine one for a ticket that does not
// exist is dropped with a log line; a genuine one for a new ticket is read
// again through the API.
func TestHaloWebhooks(t *testing.T) {
	hs := haloFake(t)
	s := startServer(t, func(c *Config) { c.psaHTTP = hs.HTTPClient() })
	cfg := hs.Config()
	cfg.AuthURL, cfg.Tenant = hs.URL()+"/auth", hs.Tenant()
	intID := s.AddIntegration(t, halo.ID, "Halo", cfg)
	hook := "http://" + s.Addr + "/webhooks/psa/" + testTenantSlug + "/" + intID
	ctx := t.Context()
	before := len(hs.Log())

	post := func(url, user, pass string, body []byte) int {
		t.Helper()
		status, err := hs.Post(ctx, url, user, pass, body)
		require.NoError(t, err)
		return status
	}
	_, body := hs.SignedEvent("ticket", psa.CallbackAdded, haloTicket)
	assert.Equal(t, http.StatusUnauthorized, post(hook, "", "", body), "no credentials")
	assert.Equal(t, http.StatusUnauthorized, post(hook, halotest.WebhookUser, "guess", body), "wrong password")
	assert.Equal(t, http.StatusUnauthorized, post(hook, "admin", halotest.WebhookPassword, body), "wrong user")
	assert.Equal(t, http.StatusNotFound, post("http://"+s.Addr+"/webhooks/psa/"+testTenantSlug+"/int_nosuchintegration", halotest.WebhookUser, halotest.WebhookPassword, body), "unknown path")
	assert.Equal(t, http.StatusNotFound, post("http://"+s.Addr+"/webhooks/psa/other-tenant/"+intID, halotest.WebhookUser, halotest.WebhookPassword, body), "another tenant's path")
	huge := []byte(`{"ticket":{"id":` + haloTicket + `},"x":"` + strings.Repeat("a", 2<<20) + `"}`)
	assert.Equal(t, http.StatusRequestEntityTooLarge, post(hook, halotest.WebhookUser, halotest.WebhookPassword, huge), "huge")
	assert.Equal(t, before, len(hs.Log()), "nothing forged reached Halo")
	assert.Contains(t, s.Logs.String(), "psa event: bad signature")

	// A genuine delivery for a ticket Halo does not have: dropped, logged.
	_, ghost := hs.SignedEvent("ticket", psa.CallbackAdded, "999999")
	assert.Equal(t, http.StatusOK, post(hook, halotest.WebhookUser, halotest.WebhookPassword, ghost))
	assert.Empty(t, hs.Actions("999999"))

	// A genuine delivery for a new ticket, then Halo re-sending it.
	assert.Equal(t, http.StatusOK, post(hook, halotest.WebhookUser, halotest.WebhookPassword, body))
	// Acting on the events happens after the answer, from the outbox.
	reads := func() (ghostRead, read bool) {
		for _, r := range hs.Log()[before:] {
			if r.Route == "GET /Tickets/{id}" {
				ghostRead = ghostRead || r.Status == http.StatusNotFound
				read = read || r.Status == http.StatusOK
			}
		}
		return ghostRead, read
	}
	deadline := time.Now().Add(waitTimeout)
	for g, r := reads(); !(g && r) && time.Now().Before(deadline); g, r = reads() {
		time.Sleep(50 * time.Millisecond)
	}
	ghostRead, read := reads()
	assert.True(t, ghostRead, "the unknown ticket is looked up: %v", hs.Log()[before:])
	assert.Contains(t, grepLines(s.Logs.String(), `"msg":"psa event dropped: the ticket is not in the PSA"`), `"ticket":"999999"`,
		"the dropped delivery is logged with its ticket")
	assert.True(t, read, "the new ticket is read again through the API: %v", hs.Log()[before:])
	// Counted as ticket reads, not all requests: acting on the first
	// delivery may still be reading the ticket's user when it is re-sent.
	ticketReads := func() (n int) {
		for _, r := range hs.Log()[before:] {
			if r.Route == "GET /Tickets/{id}" && r.Status == http.StatusOK {
				n++
			}
		}
		return n
	}
	require.Equal(t, 1, ticketReads())
	assert.Equal(t, http.StatusOK, post(hook, halotest.WebhookUser, halotest.WebhookPassword, body), "a re-sent delivery is acknowledged")
	time.Sleep(300 * time.Millisecond) // one outbox poll: a second act would read the ticket again
	assert.Equal(t, 1, ticketReads(), "and acted on once: %v", hs.Log()[before:])
	assert.Empty(t, hs.Actions(haloTicket), "a webhook writes nothing to the ticket by itself")
	assert.NotContains(t, s.Logs.String(), halotest.WebhookPassword, "the webhook password is never logged")
	t.Logf("server log lines about events:\n%s", grepLines(s.Logs.String(), "event"))
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
