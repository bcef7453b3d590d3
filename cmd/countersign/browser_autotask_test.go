package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/autotask"
	"github.com/countersign/countersign/autotask/autotasktest"
	"github.com/countersign/countersign/core/psa"
)

// The Autotask ticket Insight in a real browser: a page playing Autotask's
// ticket detail, served at the tenant's own UI origin
// (https://ww5.autotask.net, mapped to a loopback TLS server by the test's
// chromium), frames the Insight with the sandbox attribute and the query
// parameters Autotask's page uses (autotask.md, "Insights"); the
// technician signs in through the pop-out, verifies the ticket's contact
// by SMS code, and the note lands on the fake Autotask's ticket.

const (
	atBrowserTicket = "3301"
	atBrowserPhone  = "+15550100195"
	// atSandbox is the sandbox attribute of Autotask's insight iframe.
	atSandbox = "allow-forms allow-modals allow-popups allow-same-origin allow-scripts"
)

// atParentPage is Autotask's ticket detail page with the Insight in it.
const atParentPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ticket T20260101.0001 - Autotask</title></head>
<body style="font-family: sans-serif; margin: 0; background: %[3]s">
<header style="background: #1c2b39; color: #fff; padding: 10px 16px">Autotask · Ticket T20260101.0001 · VPN down</header>
<main style="display: flex; gap: 16px; padding: 16px">
<section style="flex: 1; color: %[4]s">Ticket details…</section>
<aside><h2 style="font-size: 14px; color: %[4]s">Insights</h2>
<iframe id="insight" title="Countersign" sandbox="%[1]s" src="%[2]s" width="%[5]d" height="720" style="border: 1px solid #c3c9d2"></iframe>
</aside></main></body></html>`

// atInsightURL is the Insight's referenceUrl with what Autotask appends.
func atInsightURL(podURL string, dark bool) string {
	q := url.Values{}
	q.Set("isdarktheme", map[bool]string{true: "True", false: "False"}[dark])
	q.Set("psaversion", "2025.5.4.114022")
	q.Set("resourceid", "29682999") // a hint only: nobody signs in by it
	q.Set("insightkey", "cs-ticket")
	q.Set("vendorid", "0")
	q.Set("vendorsuppliedid", "countersign")
	q.Set("entityid", atBrowserTicket)
	q.Set("signature", "dGhpcyBpcyBub3QgYSBzaWduYXR1cmU=")
	return podURL + "?" + q.Encode()
}

func TestBrowserAutotaskInsight(t *testing.T) {
	at := autotasktest.NewServer(t)
	at.Seed([]psa.Company{{Ref: "1301", Name: "Contoso"}},
		[]psa.Contact{{Ref: "2301", CompanyRef: "1301", FirstName: "Ada", LastName: "Insight",
			Phones: []psa.Phone{{Number: "(555) 010-0195", Label: "Mobile"}},
			Emails: []psa.Email{{Address: "ada@contoso.example"}}}},
		[]psa.Ticket{{Ref: atBrowserTicket, Summary: "VPN down", CompanyRef: "1301", ContactRef: "2301"}})

	s := startServer(t, func(c *Config) { c.psaHTTP = at.HTTPClient() })
	cfg := at.Config()
	cfg.ZoneURL, cfg.WebURL = at.ZoneURL(), at.WebURL() // stored by the live check at setup
	intID := s.AddIntegration(t, autotask.ID, "Autotask", cfg)
	podURL := s.URL + "/pod/" + testTenantSlug + "/" + intID
	webHost := strings.TrimPrefix(at.WebOrigin(), "https://")

	parent := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/Mvc/ServiceDesk/TicketDetail.mvc" {
			http.NotFound(w, r)
			return
		}
		dark := r.URL.Query().Get("dark") == "1"
		bg, fg := "#eef1f5", "#222"
		if dark {
			bg, fg = "#1e1e1e", "#ddd"
		}
		width := 400
		fmt.Sscan(r.URL.Query().Get("w"), &width)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, atParentPage, atSandbox, atInsightURL(podURL, dark), bg, fg, width)
	}))
	parent.StartTLS()
	t.Cleanup(parent.Close)
	port := parent.Listener.Addr().(*net.TCPAddr).Port

	tab := cwBrowser(t, port, webHost)
	tab.SetViewport(1000, 860)
	tab.Visit("https://" + webHost + "/Mvc/ServiceDesk/TicketDetail.mvc?w=400")
	var origin, sandbox string
	tab.Eval(`location.origin`, &origin)
	require.Equal(t, at.WebOrigin(), origin, "the parent page runs at the tenant's Autotask origin")
	tab.Eval(`document.getElementById("insight").getAttribute("sandbox")`, &sandbox)
	require.Equal(t, atSandbox, sandbox)

	pod := tab.FrameTab(t, "entityid="+atBrowserTicket)
	s.signInPopOut(t, pod, techEmail, techPassword, "")
	pod.WaitVisible("#pod-main")
	pod.WaitText("#contact-name", "Ada Insight")
	pod.WaitText("#pod-title", "T20260101.0001")
	tab.Screenshot("autotask-insight-400")

	seen := len(s.Twilio.Messages())
	pod.Click(`button[data-method="sms_code"]`)
	pod.WaitVisible("#check")
	code := s.WaitForSMSCode(t, atBrowserPhone, seen)
	pod.Type("#code", code)
	pod.Click(`#check button[type="submit"]`)
	pod.WaitClass("#shield", "green")
	tab.Screenshot("autotask-insight-400-verified")

	deadline := time.Now().Add(waitTimeout)
	for len(at.NoteRecords(atBrowserTicket)) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	notes := at.NoteRecords(atBrowserTicket)
	require.Len(t, notes, 1, "the result is written to the Autotask ticket")
	assert.Contains(t, notes[0].Description, "Ada Insight was VERIFIED by SMS code")
	assert.Equal(t, autotasktest.PublishInternal, notes[0].Publish, "an internal note")
	assert.NotEmpty(t, notes[0].Title)
	assert.EqualValues(t, autotasktest.APIUserID, notes[0].CreatorResourceID,
		"written as the API user: the resourceid in the URL is never acted on")

	// Wider Insights, and Autotask's dark theme, in the same browser: the
	// partitioned cookie is there, so no sign-in.
	for _, tc := range []struct {
		w    int
		dark string
	}{{600, "0"}, {800, "1"}} {
		tab2 := tab.Sibling(t)
		tab2.SetViewport(1300, 860)
		tab2.Visit(fmt.Sprintf("https://%s/Mvc/ServiceDesk/TicketDetail.mvc?w=%d&dark=%s", webHost, tc.w, tc.dark))
		p2 := tab2.FrameTab(t, "isdarktheme="+map[string]string{"0": "False", "1": "True"}[tc.dark])
		p2.WaitVisible("#pod-main")
		p2.WaitClass("#shield", "green")
		var theme, bg string
		p2.Eval(`document.documentElement.dataset.theme || ""`, &theme)
		if tc.dark == "1" {
			assert.Equal(t, "dark", theme, "Autotask's dark theme is honoured")
			p2.WaitTrue("the dark stylesheet", `getComputedStyle(document.body).backgroundColor === "rgb(32, 33, 36)"`)
		} else {
			assert.Empty(t, theme)
			p2.Eval(`getComputedStyle(document.body).backgroundColor`, &bg)
			assert.Equal(t, "rgb(255, 255, 255)", bg)
		}
		tab2.Screenshot(fmt.Sprintf("autotask-insight-%d", tc.w))
	}
}

// TestAutotaskInsightCallBudget: with the real server (Run), the real
// autotask client and the contract-checked fake, an Insight load on a
// ticket, an SMS-code verification and its note cost at most 4 Autotask
// calls cold (ticket, contact, note: 3) and 2 warm (ticket, note),
// counted on the fake's side.
func TestAutotaskInsightCallBudget(t *testing.T) {
	at := autotasktest.NewServer(t)
	at.Seed([]psa.Company{{Ref: "1301", Name: "Contoso"}},
		[]psa.Contact{{Ref: "2301", CompanyRef: "1301", FirstName: "Ada", LastName: "Insight",
			Phones: []psa.Phone{{Number: "(555) 010-0195", Label: "Mobile"}}}},
		[]psa.Ticket{{Ref: atBrowserTicket, Summary: "VPN down", CompanyRef: "1301", ContactRef: "2301"}})
	s := startServer(t, func(c *Config) { c.psaHTTP = at.HTTPClient() })
	cfg := at.Config()
	cfg.ZoneURL, cfg.WebURL = at.ZoneURL(), at.WebURL()
	intID := s.AddIntegration(t, autotask.ID, "Autotask", cfg)
	cookie := podSignIn(t, s)
	api := "http://" + s.Addr + "/api/v1"
	insight := atInsightURL("http://"+s.Addr+"/pod/"+testTenantSlug+"/"+intID, false)
	q := insight[strings.Index(insight, "?")+1:]

	round := func(t *testing.T) []string {
		t.Helper()
		start := len(at.Log())
		notes := len(at.NoteRecords(atBrowserTicket))
		req, err := http.NewRequestWithContext(t.Context(), "GET", insight, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "frame-ancestors "+at.WebOrigin()+";", "only the tenant's Autotask frames the Insight")

		status, pc, _ := rawDo(t, "GET", api+"/pod/"+intID+"/context?"+q, nil, cookie)
		require.Equal(t, http.StatusOK, status, pc)
		contact := pc["contact"].(map[string]any)
		assert.Equal(t, "Ada", contact["first_name"])
		seen := len(s.Twilio.Messages())
		status, v, _ := rawDo(t, "POST", api+"/pod/"+intID+"/verifications",
			map[string]string{"scope": pc["scope"].(string), "contact_id": contact["id"].(string), "method": "sms_code"}, cookie)
		require.Equal(t, http.StatusCreated, status, v)
		code := s.WaitForSMSCode(t, atBrowserPhone, seen)
		status, v, _ = rawDo(t, "POST", api+"/verifications/"+v["id"].(string)+"/check", map[string]string{"code": code}, cookie)
		require.Equal(t, http.StatusOK, status, v)
		require.Equal(t, "verified", v["status"])
		// The fake stores the note inside its handler but logs the request
		// when the handler returns: wait for both, as TestHaloTabCallBudget.
		logged := func() []string {
			var routes []string
			for _, r := range at.Log()[start:] {
				routes = append(routes, r.Route)
			}
			return routes
		}
		deadline := time.Now().Add(waitTimeout)
		for (len(at.NoteRecords(atBrowserTicket)) == notes || !slices.Contains(logged(), "POST /V1.0/Tickets/{parentId}/Notes")) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		require.Len(t, at.NoteRecords(atBrowserTicket), notes+1, "the note was written")
		return logged()
	}
	cold := round(t)
	assert.Equal(t, []string{"GET /V1.0/Tickets/{id}", "GET /V1.0/Contacts/{id}", "POST /V1.0/Tickets/{parentId}/Notes"}, cold)
	assert.LessOrEqual(t, len(cold), 4, "cold budget")
	t.Logf("Autotask calls, cold Insight load + SMS verification + note: %d %v", len(cold), cold)
	warm := round(t)
	assert.Equal(t, []string{"GET /V1.0/Tickets/{id}", "POST /V1.0/Tickets/{parentId}/Notes"}, warm)
	assert.LessOrEqual(t, len(warm), 2, "warm budget")
	t.Logf("Autotask calls, warm Insight load + SMS verification + note: %d %v", len(warm), warm)
}

// TestAutotaskNewTicketWebhook: the setup page registers the ticket
// webhook on the fake Autotask; a new ticket's signed delivery is accepted
// once (a replay is dropped, a forgery refused with 401) and, as the
// policy says, sends the ticket's contact a code.
func TestAutotaskNewTicketWebhook(t *testing.T) {
	at := autotasktest.NewServer(t)
	at.Seed([]psa.Company{{Ref: "1301", Name: "Contoso"}},
		[]psa.Contact{{Ref: "2301", CompanyRef: "1301", FirstName: "Ada", LastName: "Insight",
			Phones: []psa.Phone{{Number: "(555) 010-0195", Label: "Mobile"}}}}, nil)
	s := startServer(t, func(c *Config) { c.psaHTTP = at.HTTPClient() })
	cfg := at.Config()
	cfg.ZoneURL, cfg.WebURL = at.ZoneURL(), at.WebURL()
	intID := s.AddIntegration(t, autotask.ID, "Autotask", cfg)

	status, body := s.API.do("GET", "/admin/policies/default", nil)
	require.Equal(t, http.StatusOK, status, body)
	policy := body["policy"].(map[string]any)
	policy["on_new_ticket"], policy["auto_send_method"] = "auto_send", "sms_code"
	status, body = s.API.do("PUT", "/admin/policies/default", policy)
	require.Equal(t, http.StatusOK, status, body)

	status, body = s.API.do("POST", "/admin/integrations/"+intID+"/callbacks", nil)
	require.Equal(t, http.StatusOK, status, body)
	hooks := at.Webhooks()
	require.Len(t, hooks, 1)
	assert.Equal(t, s.URL+"/webhooks/psa/"+testTenantSlug+"/"+intID, hooks[0].URL)

	at.AddTicket(psa.Ticket{Ref: "3302", Summary: "Locked out", CompanyRef: "1301", ContactRef: "2301"})
	ev := at.TicketEvent("3302", "Create", time.Now())
	post := func(body []byte, h http.Header) (int, string) {
		req, err := http.NewRequestWithContext(t.Context(), "POST", ev.URL, strings.NewReader(string(body)))
		require.NoError(t, err)
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, fmt.Sprint(out["result"])
	}
	seen := len(s.Twilio.Messages())
	code, result := post(ev.Body, ev.Header)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "accepted", result)
	s.WaitForSMSCode(t, atBrowserPhone, seen)

	code, result = post(ev.Body, ev.Header)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ignored: this event was delivered already", result, "a replay is dropped")

	forged := strings.Replace(string(ev.Body), `"Id":3302`, `"Id":3303`, 1)
	code, _ = post([]byte(forged), ev.Header)
	assert.Equal(t, http.StatusUnauthorized, code, "a forged delivery is refused")
}
