package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/connectwise"
	"github.com/countersign/countersign/connectwise/cwtest"
	"github.com/countersign/countersign/core/psa"
)

// The ConnectWise pod in a real browser: a page playing ConnectWise, served
// at ConnectWise's own origin (https://na.myconnectwise.net, mapped to a
// loopback TLS server by the test's own chromium), frames the pod and
// answers its Hosted API postMessage protocol (connectwise.md §8.4–§8.5);
// the server checks the member with the fake ConnectWise (cwtest), and the
// verification's note lands on the fake's ticket.

const (
	cwBrowserTicket = "3101"
	cwBrowserPhone  = "+15550100191"
)

// cwBrowser starts a chromium of the test's own (the harness's flags) in
// which host resolves to 127.0.0.1:port and certificate errors are
// ignored, and returns its first tab. The browser ends with the test.
func cwBrowser(t *testing.T, host string, port int) *Tab {
	t.Helper()
	path := chromiumPath()
	dir := t.TempDir() // removed after the browser has stopped (cleanups run last-in first-out)
	opts := append(chromiumOptions(path, dir),
		// ConnectWise's host is the fake page's server; its self-signed
		// certificate is accepted.
		chromedp.Flag("host-resolver-rules", fmt.Sprintf("MAP %s 127.0.0.1:%d", host, port)),
		chromedp.Flag("ignore-certificate-errors", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	quiet := func(string, ...any) {}
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(quiet), chromedp.WithLogf(quiet))
	// Tab.Fail counts its screenshots in the shared browser's map, which
	// stays nil when only this test's browser runs.
	shared.mu.Lock()
	if shared.shots == nil {
		shared.shots = map[string]int{}
	}
	shared.mu.Unlock()
	return startTab(t, ctx, cancel)
}

// cwParentPage is ConnectWise's ticket screen with the pod registered in
// Manage Hosted API: it frames the pod and plays ConnectWise's side of the
// postMessage protocol. Every message is a JSON string; what the pod sends
// is kept in window.__got.
const cwParentPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Service Ticket #%[1]s - ConnectWise Manage</title></head>
<body style="font-family: sans-serif; margin: 0; background: #eef1f5">
<header style="background: #026cb6; color: #fff; padding: 10px 16px">ConnectWise Manage · Service Ticket #%[1]s</header>
<script>
(() => {
  const podOrigin = %[2]s, auth = %[3]s, ticket = %[4]s;
  window.__got = [];
  window.addEventListener("message", (ev) => {
    const frame = document.getElementById("pod");
    if (ev.origin !== podOrigin || !frame || ev.source !== frame.contentWindow) return;
    let m;
    try { m = JSON.parse(ev.data); } catch (e) { window.__got.push({ unparsed: String(ev.data) }); return; }
    window.__got.push(m);
    const reply = (o) => frame.contentWindow.postMessage(JSON.stringify(o), podOrigin);
    if (m.message === "ready") {
      reply({ MessageFrameID: "frame-1" });
      reply({ event: "onLoad", _id: 1, data: { screenObject: { screen: "ticket", id: ticket } } });
    } else if (m.hosted_request === "getMemberAuthentication") {
      reply({ response: "getmemberauthentication", data: auth });
    }
  });
})();
</script>
<main style="padding: 16px">
<iframe id="pod" title="Countersign" src="%[5]s" width="800" height="760" style="border: 1px solid #c3c9d2; background: #fff"></iframe>
</main>
</body></html>`

// TestBrowserConnectWisePod runs the whole SMS-code flow in the ConnectWise
// pod: no pop-out sign-in (the tenant lets ConnectWise members become
// pod-only technicians, and the fake ConnectWise vouches for the member
// the parent page hands over), the ticket's contact, the code from the
// Twilio fake, the green shield, and the internal note on the ticket.
func TestBrowserConnectWisePod(t *testing.T) {
	start := time.Now()
	cw := cwtest.NewServer(t)
	cw.Seed([]psa.Company{{Ref: "1101", Name: "Fabrikam"}},
		[]psa.Contact{{Ref: "2101", CompanyRef: "1101", FirstName: "Pat", LastName: "Pod",
			Phones: []psa.Phone{{Number: "(555) 010-0191", Label: "Mobile", Default: true}},
			Emails: []psa.Email{{Address: "pat@fabrikam.example", Default: true}}}},
		[]psa.Ticket{{Ref: cwBrowserTicket, Summary: "Password reset", CompanyRef: "1101", ContactRef: "2101"}})
	auth := connectwise.MemberAuth{MemberID: "jtech", Hash: "h4sh+of/jtech-browser==", Context: "ctx-b7"}
	cw.AddPodMember(psa.Member{Ref: "42", Identifier: "jtech", Name: "Jamie Tech", Email: "jamie@msp.example"}, auth, false)

	s := startServer(t, func(c *Config) { c.psaHTTP = cw.HTTPClient() })
	cfg := cw.Config()
	cfg.Codebase = cwtest.DefaultCodebase // stored at set-up, so a cold client does not discover it
	intID := s.AddIntegration(t, connectwise.ID, "CW", cfg)

	// ConnectWise members may become pod-only technicians.
	status, body := s.API.do("GET", "/admin/policies/default", nil)
	require.Equal(t, http.StatusOK, status, body)
	policy := body["policy"].(map[string]any)
	policy["auto_create_pod_technicians"] = true
	status, body = s.API.do("PUT", "/admin/policies/default", policy)
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, true, body["policy"].(map[string]any)["auto_create_pod_technicians"])

	// The page playing ConnectWise, served over TLS at ConnectWise's
	// origin, without a CSP of its own (its script is inline).
	podURL := fmt.Sprintf("%s/pod/%s/%s?id=%s&screen=ticket", s.URL, testTenantSlug, intID, cwBrowserTicket)
	proof, err := json.Marshal(map[string]string{"site": "https://" + cw.Site() + "/", "companyid": cw.CompanyID(),
		"memberid": auth.MemberID, "memberHash": auth.Hash, "memberContext": auth.Context, "memberEmail": "jamie@msp.example"})
	require.NoError(t, err)
	page := fmt.Sprintf(cwParentPage, cwBrowserTicket, jsString(s.URL), proof, cwBrowserTicket, podURL)
	parent := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v4_6_release/ConnectWise.aspx" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(page))
	}))
	parent.StartTLS()
	t.Cleanup(parent.Close)
	port := parent.Listener.Addr().(*net.TCPAddr).Port

	tab := cwBrowser(t, cw.Site(), port)
	tab.SetViewport(900, 860)
	tab.Visit("https://" + cw.Site() + "/v4_6_release/ConnectWise.aspx")
	var origin string
	tab.Eval(`location.origin`, &origin)
	require.Equal(t, "https://"+cw.Site(), origin, "the parent page runs at ConnectWise's origin")

	// The pod signs itself in with ConnectWise's word for the member.
	pod := tab.FrameTab(t, "/pod/"+testTenantSlug+"/")
	pod.WaitVisible("#pod-main")
	pod.WaitText("#pod-who", "Jamie Tech")
	pod.WaitText("#pod-title", "Ticket #"+cwBrowserTicket)
	pod.WaitText("#contact-name", "Pat Pod")
	pod.WaitTrue("the live connection", `document.getElementById("live").dataset.state === "online"`)
	infos, err := chromedp.Targets(tab.Ctx)
	require.NoError(t, err)
	for _, in := range infos {
		assert.NotContains(t, in.URL, "/pod/signin", "no sign-in pop-out")
	}
	pod.CheckA11y("connectwise pod")

	// The protocol as the parent page saw it.
	type msg struct {
		Message  string `json:"message"`
		Request  string `json:"hosted_request"`
		Event    string `json:"event"`
		ID       *int   `json:"_id"`
		Result   string `json:"result"`
		FrameID  string `json:"frameID"`
		Unparsed string `json:"unparsed"`
	}
	tab.WaitTrue("the onLoad acknowledgement", `window.__got.some(m => m.event === "onLoad")`)
	var got []msg
	tab.Eval(`window.__got`, &got)
	require.NotEmpty(t, got)
	assert.Equal(t, "ready", got[0].Message, "the pod says ready first")
	var ack, req *msg
	for i := range got {
		assert.Empty(t, got[i].Unparsed, "every message is a JSON string")
		switch {
		case got[i].Event == "onLoad":
			ack = &got[i]
		case got[i].Request != "":
			assert.Equal(t, "getMemberAuthentication", got[i].Request)
			req = &got[i]
		}
	}
	require.NotNil(t, ack, "%+v", got)
	assert.Equal(t, "success", ack.Result)
	require.NotNil(t, ack.ID)
	assert.Equal(t, 1, *ack.ID)
	assert.Equal(t, "frame-1", ack.FrameID)
	require.NotNil(t, req, "the pod asked for the member's authentication: %+v", got)
	assert.Equal(t, "frame-1", req.FrameID)
	tab.Screenshot("cw-pod")

	// The SMS-code flow.
	seen := len(s.Twilio.Messages())
	pod.Click(`button[data-method="sms_code"]`)
	pod.WaitVisible("#check")
	code := s.WaitForSMSCode(t, cwBrowserPhone, seen)
	pod.Type("#code", code)
	pod.Click(`#check button[type="submit"]`)
	pod.WaitClass("#shield", "green")
	pod.WaitText("#shield", "Verified by Jamie Tech")
	tab.Screenshot("cw-pod-verified")

	// The outbox writes the result to the ConnectWise ticket.
	deadline := time.Now().Add(waitTimeout)
	for len(cw.NoteRecords(cwBrowserTicket)) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	notes := cw.NoteRecords(cwBrowserTicket)
	require.Len(t, notes, 1, "the result is written to the ConnectWise ticket")
	assert.Contains(t, notes[0].Text, "Pat Pod was VERIFIED by SMS code")
	assert.True(t, notes[0].InternalAnalysis, "an internal note")
	assert.False(t, notes[0].DetailDescription, "not in the customer's discussion")

	// The member's ConnectWise credentials never reach the logs.
	logs := s.Logs.String()
	assert.NotContains(t, logs, auth.Hash)
	assert.False(t, strings.Contains(logs, `"`+auth.Context+`"`), "the member context is not logged")
	t.Logf("ConnectWise pod flow in %s", time.Since(start).Round(time.Millisecond))
}
