package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core/twilio/twiliotest"
)

// evalAsync evaluates js, awaiting the promise it returns, into out.
func (tb *Tab) evalAsync(what, js string, out any) {
	tb.t.Helper()
	tb.Run(what, chromedp.Evaluate(js, out, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
		return p.WithAwaitPromise(true)
	}))
}

// TestBrowserLiveUpdates drives assets/static/live.js in chromium against
// the real server: the indicator says "Live", a verification completed
// elsewhere arrives as an event, a server restart shows "Offline —
// reconnecting…", and once the server is back the page is live again and
// told to refetch.
func TestBrowserLiveUpdates(t *testing.T) {
	tb := NewTab(t)
	port := freePort(t)
	masterKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	t.Setenv("COUNTERSIGN_MASTER_KEY", masterKey)
	t.Setenv("LIVE_PASSWORD", techPassword)
	db := filepath.Join(t.TempDir(), "cs.db")
	for _, args := range [][]string{
		{"tenant", "create", "-db", db, "-slug", testTenantSlug, "-name", testTenantName},
		{"user", "create", "-db", db, "-tenant", testTenantSlug, "-email", techEmail, "-name", techName, "-role", "admin", "-password-env", "LIVE_PASSWORD"},
	} {
		code, out := cli(t, args...)
		require.Equal(t, 0, code, "%v: %s", args, out)
	}
	tw := twiliotest.New(t)
	// A fixed port, so the restarted server is where the page reconnects.
	cfg := Config{
		Listen: fmt.Sprintf("127.0.0.1:%d", port), PublicURL: fmt.Sprintf("http://localhost:%d", port), Database: db,
		MasterKey: masterKey, RequireTOTP: true, OutboxPoll: 200 * time.Millisecond,
		TwilioAccountSID: twiliotest.DefaultAccountSID, TwilioSecret: twiliotest.DefaultAuthToken, TwilioFrom: "+15550100000",
		twilioHTTP: tw.HTTPClient(),
	}
	_, stop, _ := startNode(t, cfg)
	srv := &testServer{URL: cfg.PublicURL}
	srv.SignIn(t, tb, techEmail, techPassword, "")

	// Seed a contact through the page's own session.
	var contactID string
	tb.evalAsync("create a contact", `(async () => {
		const post = async (path, body) => {
			const r = await fetch("/api/v1" + path, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
			if (!r.ok) throw new Error(path + ": " + r.status + " " + await r.text());
			return r.json();
		};
		const cl = await post("/clients", {name: "Contoso"});
		const c = await post("/contacts", {client_id: cl.id, first_name: "Sam", last_name: "Caller", phones: [{value: "(555) 010-0142", default: true}]});
		return c.id;
	})()`, &contactID)

	// The page under test loads live.js (unless it already does) and
	// watches the contact with the indicator helper.
	var ok bool
	tb.evalAsync("load live.js", `(async () => {
		if (!window.CSLive) {
			await new Promise((resolve, reject) => {
				const s = document.createElement("script");
				s.src = "/static/live.js";
				s.onload = resolve;
				s.onerror = () => reject(new Error("live.js did not load"));
				document.head.append(s);
			});
		}
		const el = document.createElement("p");
		el.id = "live-test-indicator";
		document.body.prepend(el);
		const show = CSLive.indicator(el);
		window.__live = {events: [], states: []};
		window.__live.w = CSLive.watch({contact: `+jsString(contactID)+`},
			e => window.__live.events.push(e),
			s => { window.__live.states.push(s); show(s); });
		return true;
	})()`, &ok)
	tb.WaitText("#live-test-indicator", "Live")
	var role string
	tb.Eval(`document.getElementById("live-test-indicator").getAttribute("role")`, &role)
	require.Equal(t, "status", role)

	// A verification completed through the API shows up as an event.
	var id string
	tb.evalAsync("start a verification", `(async () => {
		const r = await fetch("/api/v1/verifications", {method: "POST", headers: {"Content-Type": "application/json"},
			body: JSON.stringify({contact_id: `+jsString(contactID)+`, method: "sms_code", ticket_ref: "4821"})});
		if (!r.ok) throw new Error(r.status + " " + await r.text());
		return (await r.json()).id;
	})()`, &id)
	wctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	sms, err := tw.WaitForMessage(wctx, "+15550100142")
	require.NoError(t, err)
	smsCode := regexp.MustCompile(`\d{6}`).FindString(strings.ReplaceAll(sms.Body, " ", ""))
	require.NotEmpty(t, smsCode)
	tb.evalAsync("check the code", `(async () => {
		const r = await fetch("/api/v1/verifications/`+id+`/check", {method: "POST", headers: {"Content-Type": "application/json"},
			body: JSON.stringify({code: `+jsString(smsCode)+`})});
		return r.ok;
	})()`, &ok)
	require.True(t, ok)
	tb.WaitTrue("the verified event", `window.__live.events.some(e => e.type === "verification.verified" && e.verification_id === `+jsString(id)+` && e.status === "verified")`)
	tb.Eval(`window.__live.events.some(e => e.type === "resync")`, &ok)
	require.False(t, ok, "no resync before any reconnect")

	// The server goes away: the page says so.
	require.NoError(t, stop())
	tb.WaitText("#live-test-indicator", "Offline — reconnecting…")

	// It comes back: live again, and told to refetch what it missed.
	startNode(t, cfg)
	tb.WaitText("#live-test-indicator", "Live")
	tb.WaitTrue("a resync after reconnecting", `window.__live.events.some(e => e.type === "resync")`)
	var states []string
	tb.Eval(`window.__live.states`, &states)
	require.Equal(t, []string{"connecting", "online", "offline", "online"}, states, "no flicker through the retries")

	// close() stops for good.
	tb.Eval(`window.__live.w.close(), true`, &ok)
}
