package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/autotask"
	"github.com/countersign/countersign/autotask/autotasktest"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/halo"
)

// The tech-verify inbox in every PSA's embedding: the Autotask ticket
// Insight and the Halo ticket custom tab frame the same pod page as the
// ConnectWise pod (TestBrowserPodTechVerify), and these tests prove the
// inbox works there too: a #verify texted through the signed webhook while
// the embedding is open appears in it live, the claim shows the caller's
// code and assigns the request to the embedding's ticket, and the caller's
// #confirm writes the outcome to that ticket in the PSA's fake.

// embeddedTechVerify drives the inbox of a signed-in pod on ticket: it
// returns once the PSA's ticket has the note (notes reads them).
func embeddedTechVerify(t *testing.T, tab, pod *Tab, text func(from, body, token string) (int, string), ticket, shot string, notes func() []string) {
	t.Helper()
	pod.WaitTrue("the inbox's live connection", `document.getElementById("pod-tv").dataset.live === "online"`)
	pod.WaitTrue("the inbox's first load", `document.getElementById("pod-tv-status").textContent !== ""`)
	var hidden bool
	pod.Eval(`document.getElementById("pod-tv").hidden`, &hidden)
	assert.True(t, hidden, "no caller waits: no inbox")

	sent := time.Now()
	_, reply := text("+15550100142", "#verify", tenantToken)
	m := regexp.MustCompile(`code is (\d{3}) (\d{3})`).FindStringSubmatch(reply)
	require.NotNil(t, m, "no code in the reply: %s", reply)
	pod.WaitVisible(`#pod-tv[open] li[data-status="open"] .tv-claim`)
	// Live, not the inbox's 30 s safety-net timer.
	assert.Less(t, time.Since(sent), 5*time.Second, "the request appears without a reload")
	assert.Equal(t, "1", pod.Text("#pod-tv-count"))
	assert.Contains(t, pod.Text(`#pod-tv li[data-status="open"]`), "Sam Caller (Contoso)")
	assert.Contains(t, pod.Text(`#pod-tv .tv-claim`), "noted on this ticket")
	pod.CheckA11y(shot)
	tab.Screenshot(shot)

	pod.Click(`#pod-tv .tv-claim`)
	pod.WaitText(`#pod-tv li[data-status="open"] .tv-code`, m[1]+" "+m[2])
	pod.WaitText(`#pod-tv li[data-status="open"]`, "ticket "+ticket)
	tab.Screenshot(shot + "-claimed")

	_, reply = text("+15550100142", "#confirm "+m[1]+m[2], tenantToken)
	assert.Contains(t, reply, "complete")
	pod.WaitTrue("the confirmed request leaves the list", `document.getElementById("pod-tv").hidden`)
	deadline := time.Now().Add(waitTimeout)
	for len(notes()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	got := notes()
	require.Len(t, got, 1, "the outcome is written to the PSA's ticket")
	assert.Contains(t, got[0], "Sam Caller checked technician "+techName+" by text and CONFIRMED")
	assert.NotContains(t, strings.ReplaceAll(got[0], " ", ""), m[1]+m[2], "never the code")
}

// TestBrowserAutotaskInsightTechVerify: the inbox in the Autotask ticket
// Insight (sandboxed iframe at the tenant's Autotask origin).
func TestBrowserAutotaskInsightTechVerify(t *testing.T) {
	at := autotasktest.NewServer(t)
	at.Seed([]psa.Company{{Ref: "1301", Name: "Contoso"}},
		[]psa.Contact{{Ref: "2301", CompanyRef: "1301", FirstName: "Ada", LastName: "Insight",
			Phones: []psa.Phone{{Number: "(555) 010-0195", Label: "Mobile"}}}},
		[]psa.Ticket{{Ref: atBrowserTicket, Summary: "Is this really IT calling?", CompanyRef: "1301", ContactRef: "2301"}})
	s, _ := startChannelServer(t, func(c *Config) { c.psaHTTP = at.HTTPClient() })
	text := setupBrowserTechVerify(t, s)
	cfg := at.Config()
	cfg.ZoneURL, cfg.WebURL = at.ZoneURL(), at.WebURL()
	intID := s.AddIntegration(t, autotask.ID, "Autotask", cfg)
	podURL := s.URL + "/pod/" + testTenantSlug + "/" + intID
	webHost := strings.TrimPrefix(at.WebOrigin(), "https://")
	parent := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, atParentPage, atSandbox, atInsightURL(podURL, false), "#eef1f5", "#222", 400)
	}))
	parent.StartTLS()
	t.Cleanup(parent.Close)

	tab := cwBrowser(t, parent.Listener.Addr().(*net.TCPAddr).Port, webHost)
	tab.SetViewport(1000, 900)
	tab.Visit("https://" + webHost + "/Mvc/ServiceDesk/TicketDetail.mvc")
	pod := tab.FrameTab(t, "entityid="+atBrowserTicket)
	s.signInPopOut(t, pod, techEmail, techPassword, "")
	pod.WaitText("#contact-name", "Ada Insight")
	embeddedTechVerify(t, tab, pod, text, atBrowserTicket, "autotask-insight-techverify", func() []string {
		var out []string
		for _, n := range at.NoteRecords(atBrowserTicket) {
			out = append(out, n.Description)
		}
		return out
	})
}

// TestBrowserHaloTabTechVerify: the inbox in the Halo ticket custom tab
// (framed from the instance's origin), signed in with Countersign's
// pop-out.
func TestBrowserHaloTabTechVerify(t *testing.T) {
	hs := haloFake(t)
	s, _ := startChannelServer(t, func(c *Config) { c.psaHTTP = hs.HTTPClient() })
	text := setupBrowserTechVerify(t, s)
	cfg := hs.Config()
	cfg.AuthURL, cfg.Tenant = hs.URL()+"/auth", hs.Tenant()
	intID := s.AddIntegration(t, halo.ID, "Halo", cfg)
	tabURL := fmt.Sprintf("%s/pod/%s/%s?ticket=%s", s.URL, testTenantSlug, intID, haloTicket)
	hs.ServePage("/tickets/600", fmt.Sprintf(haloTicketPage, haloTicket, tabURL, "600"))

	tab := cwBrowser(t, hs.Port(), hs.Host())
	tab.SetViewport(900, 900)
	tab.Visit(hs.URL() + "/tickets/600")
	pod := tab.FrameTab(t, "/pod/"+testTenantSlug+"/")
	s.signInPopOut(t, pod, techEmail, techPassword, "")
	pod.WaitText("#pod-title", "Ticket #"+haloTicket)
	pod.WaitText("#contact-name", "Hal User")
	embeddedTechVerify(t, tab, pod, text, haloTicket, "halo-tab-techverify", func() []string {
		var out []string
		for _, a := range hs.Actions(haloTicket) {
			out = append(out, a.Note)
		}
		return out
	})
}
