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
// which each of hosts resolves to 127.0.0.1:port and certificate errors
// are ignored, and returns its first tab. The browser ends with the test.
func cwBrowser(t *testing.T, port int, hosts ...string) *Tab {
	t.Helper()
	path := chromiumPath()
	dir := t.TempDir() // removed after the browser has stopped (cleanups run last-in first-out)
	opts := append(chromiumOptions(path, dir),
		// ConnectWise's host is the fake page's server; its self-signed
		// certificate is accepted.
		chromedp.Flag("host-resolver-rules", hostRules(port, hosts)),
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

func hostRules(port int, hosts []string) string {
	var rules []string
	for _, h := range hosts {
		rules = append(rules, fmt.Sprintf("MAP %s 127.0.0.1:%d", h, port))
	}
	return strings.Join(rules, ", ")
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
  // mode is how this ConnectWise hands out its frame id: "prompt" (at
  // once after ready; requests must carry it), "late" (6 s after ready;
  // requests must carry it) or "never" (requests without one, or with
  // null, are answered).
  const podOrigin = %[2]s, auth = %[3]s, ticket = %[4]s, mode = %[6]s;
  window.__got = [];
  window.__readyAt = 0;
  window.__frameAt = 0;
  window.addEventListener("message", (ev) => {
    const frame = document.getElementById("pod");
    if (ev.origin !== podOrigin || !frame || ev.source !== frame.contentWindow) return;
    let m;
    try { m = JSON.parse(ev.data); } catch (e) { window.__got.push({ unparsed: String(ev.data) }); return; }
    m.at = Date.now();
    window.__got.push(m);
    const reply = (o) => frame.contentWindow.postMessage(JSON.stringify(o), podOrigin);
    const sendFrame = () => {
      window.__frameAt = Date.now();
      reply({ MessageFrameID: "frame-1" });
      reply({ event: "onLoad", _id: 1, data: { screenObject: { screen: "ticket", id: ticket } } });
    };
    if (m.message === "ready") {
      window.__readyAt = Date.now();
      if (mode === "prompt") sendFrame();
      if (mode === "late") setTimeout(sendFrame, 6000);
    } else if (m.hosted_request === "getMemberAuthentication") {
      const ok = mode === "never" ? m.frameID === undefined || m.frameID === null : m.frameID === "frame-1";
      m.answered = ok;
      if (ok) reply({ response: "getmemberauthentication", data: auth });
    }
  });
})();
</script>
<main style="padding: 16px">
<iframe id="pod" title="Countersign" src="%[5]s" width="800" height="760" style="border: 1px solid #c3c9d2; background: #fff"></iframe>
</main>
</body></html>`

// cwPod is a Countersign server with a ConnectWise integration on a fake
// ConnectWise tenant (one ticket, its contact, a technician whose pod
// hands over auth), whose policy lets ConnectWise members become pod-only
// technicians, and a TLS server that serves the page playing ConnectWise
// at any host the browser maps to it.
type cwPod struct {
	s     *testServer
	cw    *cwtest.Server
	intID string
	auth  connectwise.MemberAuth
	port  int
}

// newCWPod starts a cwPod whose integration also takes ConnectWise at
// origins (Config.Origins). The parent page's ?mode= says how it hands
// out its frame id (cwParentPage).
func newCWPod(t *testing.T, origins string, opts ...func(*Config)) *cwPod {
	t.Helper()
	cw := cwtest.NewServer(t)
	cw.Seed([]psa.Company{{Ref: "1101", Name: "Fabrikam"}},
		[]psa.Contact{{Ref: "2101", CompanyRef: "1101", FirstName: "Pat", LastName: "Pod",
			Phones: []psa.Phone{{Number: "(555) 010-0191", Label: "Mobile", Default: true}},
			Emails: []psa.Email{{Address: "pat@fabrikam.example", Default: true}}}},
		[]psa.Ticket{{Ref: cwBrowserTicket, Summary: "Password reset", CompanyRef: "1101", ContactRef: "2101"}})
	auth := connectwise.MemberAuth{MemberID: "jtech", Hash: "h4sh+of/jtech-browser==", Context: "ctx-b7"}
	cw.AddPodMember(psa.Member{Ref: "42", Identifier: "jtech", Name: "Jamie Tech", Email: "jamie@msp.example"}, auth, false)

	s := startServer(t, append([]func(*Config){func(c *Config) { c.psaHTTP = cw.HTTPClient() }}, opts...)...)
	cfg := cw.Config()
	cfg.Codebase = cwtest.DefaultCodebase // stored at set-up, so a cold client does not discover it
	cfg.Origins = origins
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
	parent := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v4_6_release/ConnectWise.aspx" {
			http.NotFound(w, r)
			return
		}
		// ConnectWise's member authentication names the site the
		// technician opened it at.
		proof, err := json.Marshal(map[string]string{"site": "https://" + r.Host + "/", "companyid": cw.CompanyID(),
			"memberid": auth.MemberID, "memberHash": auth.Hash, "memberContext": auth.Context, "memberEmail": "jamie@msp.example"})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		page := fmt.Sprintf(cwParentPage, cwBrowserTicket, jsString(s.URL), proof, cwBrowserTicket, podURL, jsString(r.URL.Query().Get("mode")))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(page))
	}))
	parent.StartTLS()
	t.Cleanup(parent.Close)
	port := parent.Listener.Addr().(*net.TCPAddr).Port

	return &cwPod{s: s, cw: cw, intID: intID, auth: auth, port: port}
}

// TestBrowserConnectWisePod runs the whole SMS-code flow in the ConnectWise
// pod: no pop-out sign-in (the tenant lets ConnectWise members become
// pod-only technicians, and the fake ConnectWise vouches for the member
// the parent page hands over), the ticket's contact, the code from the
// Twilio fake, the green shield, and the internal note on the ticket.
func TestBrowserConnectWisePod(t *testing.T) {
	start := time.Now()
	f := newCWPod(t, "")
	s, cw, auth := f.s, f.cw, f.auth
	tab := cwBrowser(t, f.port, cw.Site())
	tab.SetViewport(900, 860)
	tab.Visit("https://" + cw.Site() + "/v4_6_release/ConnectWise.aspx?mode=prompt")
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

	// The SMS opt-in form from the pod (issue 18 item 4): by e-mail, with
	// its note on the ConnectWise contact, written by the outbox.
	pod.WaitText("#optin-state", "Not opted in")
	seenMail := len(s.Mail.Messages())
	pod.Click("#optin-send")
	pod.WaitText("#optin-msg", "Form sent by e-mail")
	s.waitForOptInLink(t, "pat@fabrikam.example", seenMail)
	for len(cw.ContactNotes("2101")) == 0 && time.Now().Before(deadline.Add(waitTimeout)) {
		time.Sleep(50 * time.Millisecond)
	}
	cnotes := cw.ContactNotes("2101")
	require.Len(t, cnotes, 1, "the form's note is on the ConnectWise contact")
	assert.Contains(t, cnotes[0], "SMS opt-in form was sent to Pat Pod by e-mail")
	assert.NotContains(t, cnotes[0], "/o/", "never the end user's link")

	// The member's ConnectWise credentials never reach the logs.
	logs := s.Logs.String()
	assert.NotContains(t, logs, auth.Hash)
	assert.False(t, strings.Contains(logs, `"`+auth.Context+`"`), "the member context is not logged")
	t.Logf("ConnectWise pod flow in %s", time.Since(start).Round(time.Millisecond))
}

// TestBrowserConnectWisePodHandshake holds the pod to the ConnectWise
// parents seen in the wild: one that hands out its frame id only after
// 6 s (longer than the pod used to wait), and one, at another ConnectWise
// address configured on the integration, that never sends a frame id and
// answers requests without one. Either way the pod signs in with the
// member's ConnectWise sign-in, not the pop-out; the sign-in button is
// there while it waits.
func TestBrowserConnectWisePodHandshake(t *testing.T) {
	const otherHost = "cw.msp.example"
	f := newCWPod(t, otherHost)
	tab := cwBrowser(t, f.port, f.cw.Site(), otherHost)
	tab.SetViewport(900, 860)

	type msg struct {
		Message string           `json:"message"`
		Request string           `json:"hosted_request"`
		FrameID *json.RawMessage `json:"frameID"`
		At      float64          `json:"at"`
		// Answered: the parent answered this request (it carried the
		// frame id the mode asks for).
		Answered bool `json:"answered"`
	}
	requests := func() []msg {
		var got []msg
		tab.Eval(`window.__got`, &got)
		var out []msg
		for _, m := range got {
			if m.Request != "" {
				assert.Equal(t, "getMemberAuthentication", m.Request)
				out = append(out, m)
			}
		}
		return out
	}
	signedIn := func(pod *Tab) {
		pod.WaitVisible("#pod-main")
		pod.WaitText("#pod-who", "Jamie Tech")
		pod.WaitText("#contact-name", "Pat Pod")
		infos, err := chromedp.Targets(tab.Ctx)
		require.NoError(t, err)
		for _, in := range infos {
			assert.NotContains(t, in.URL, "/pod/signin", "no sign-in pop-out")
		}
	}

	// Late: nothing for 6 s after ready, then the frame id.
	tab.Visit("https://" + f.cw.Site() + "/v4_6_release/ConnectWise.aspx?mode=late")
	pod := tab.FrameTab(t, "/pod/"+testTenantSlug+"/")
	pod.WaitVisible("#signin")
	pod.WaitText("#signin-msg", "Checking your PSA sign-in")
	tab.WaitTrue("the frame id, 6 s after ready", `window.__frameAt > 0`)
	signedIn(pod)
	var readyAt, frameAt float64
	tab.Eval(`window.__readyAt`, &readyAt)
	tab.Eval(`window.__frameAt`, &frameAt)
	assert.GreaterOrEqual(t, frameAt-readyAt, 6000.0)
	reqs := requests()
	require.NotEmpty(t, reqs)
	assert.Nil(t, reqs[0].FrameID, "the first request goes without a frame id: %+v", reqs[0])
	// The answered request, not the last one: a retry without the frame id
	// (the pod alternates) may still go out while the answer is on its way
	// back, and is recorded after it.
	var answered *msg
	for i := range reqs {
		if reqs[i].Answered {
			answered = &reqs[i]
			break
		}
	}
	require.NotNil(t, answered, "a request was answered: %+v", reqs)
	require.NotNil(t, answered.FrameID, "the answered request carries the frame id")
	assert.JSONEq(t, `"frame-1"`, string(*answered.FrameID))
	assert.GreaterOrEqual(t, answered.At, frameAt, "sent once the frame id came")
	assert.Less(t, answered.At-frameAt, 1000.0, "at once, not at the next retry")
	tab.Screenshot("cw-pod-late-frame")

	// Never: another configured ConnectWise address whose parent sends no
	// frame id at all. The pod's cookie is partitioned by the top-level
	// site, so this pod starts signed out.
	tab.Visit("https://" + otherHost + "/v4_6_release/ConnectWise.aspx?mode=never")
	var origin string
	tab.Eval(`location.origin`, &origin)
	require.Equal(t, "https://"+otherHost, origin)
	pod = tab.FrameTab(t, "/pod/"+testTenantSlug+"/")
	signedIn(pod)
	reqs = requests()
	require.NotEmpty(t, reqs, "the pod asked without waiting for a frame id")
	for _, r := range reqs {
		if r.FrameID != nil {
			assert.JSONEq(t, "null", string(*r.FrameID), "no frame id to send")
		}
	}
	tab.Screenshot("cw-pod-no-frame")
	assert.NotContains(t, f.s.Logs.String(), f.auth.Hash)
}
