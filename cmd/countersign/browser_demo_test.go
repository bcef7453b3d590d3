package main

import (
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBrowserDemoOutboxPanel runs `countersign demo` as a new user would
// and verifies a caller without leaving the console (issue 12): the dev
// outbox is a panel beside the card, each message says when it was queued
// and for whom, and the SMS code is read from it. The panel is live: a
// message shows well within the old two-second poll, pushed over the live
// socket, and an idle panel fetches nothing (before, outbox.js fetched
// GET /api/v1/outbox every 2 s).
func TestBrowserDemoOutboxPanel(t *testing.T) {
	addr := freeAddr(t)
	t.Setenv("COUNTERSIGN_LISTEN", addr)
	t.Setenv("COUNTERSIGN_PSA_LISTEN", "127.0.0.1:0")
	t.Setenv("COUNTERSIGN_DATA", filepath.Join(t.TempDir(), "demo"))
	out := runDemo(t)
	m := regexp.MustCompile(`password (\S+)`).FindStringSubmatch(out)
	require.Len(t, m, 2, "the demo prints the technician's password:\n%s", out)

	tab := NewTab(t)
	tab.SetViewport(1280, 800)
	tab.Visit("http://" + addr + "/?tenant=" + demoTenantSlug)
	tab.WaitVisible("#login")
	tab.Type("#email", demoEmail)
	tab.Type("#password", m[1])
	tab.Click(`#login button[type="submit"]`)
	tab.WaitURL("/app")
	tab.WaitVisible("#devpanel")
	tab.WaitVisible("#devpanel-empty")

	// How often the page asked for the outbox, from the browser's own
	// record of its requests.
	fetches := func() int {
		var n int
		tab.Eval(`performance.getEntriesByType("resource").filter(e => new URL(e.name).pathname === "/api/v1/outbox").length`, &n)
		return n
	}
	tab.WaitTrue("the panel's socket is up", `performance.getEntriesByType("resource").some(e => new URL(e.name).pathname === "/api/v1/outbox")`)
	time.Sleep(4500 * time.Millisecond) // two of the old poll's rounds
	assert.Equal(t, 1, fetches(), "an idle panel fetched the outbox once, when it loaded")

	openContact(t, tab, "Alice", "Alice Smith")
	var before float64
	tab.Eval(`performance.now()`, &before)
	tab.Click(`button[data-method="sms_code"]`)
	tab.WaitTrue("the SMS in the panel", `!!document.querySelector('#devpanel-items li[data-kind="sms"]')`)
	var after float64
	tab.Eval(`performance.now()`, &after)
	assert.Less(t, after-before, 1000.0, "the SMS shows within a second of the click (pushed, not polled)")
	tab.WaitVisible("#code")
	pushed := fetches()
	assert.LessOrEqual(t, pushed, 3, "one fetch for each message kept (the SMS; the history's note at most), no more")
	time.Sleep(4500 * time.Millisecond)
	assert.Equal(t, pushed, fetches(), "and nothing while nothing is kept")
	assert.False(t, tab.Text("#devpanel-items") == "", "the panel lists the SMS")
	var empty bool
	tab.Eval(`document.getElementById("devpanel-empty").hidden`, &empty)
	assert.True(t, empty, "the empty state goes once a message is there")
	sms := tab.Text(`#devpanel-items li[data-kind="sms"]`)
	assert.Regexp(t, `^SMS for Alice Smith\s+\d\d:\d\d\n`, sms, "kind, contact and time on the message")
	assert.Contains(t, sms, "To +15550100142 · kept, not sent")
	code := regexp.MustCompile(`code (\d+)`).FindStringSubmatch(sms)
	require.Len(t, code, 2, "the code in the SMS: %q", sms)

	// Beside the card, not below it or on another page.
	type rect struct{ Left, Right, Top, Bottom float64 }
	box := func(id string) rect {
		var r rect
		tab.Eval(`(() => { const r = document.getElementById(`+jsString(id)+`).getBoundingClientRect();
			return {Left: r.left, Right: r.right, Top: r.top, Bottom: r.bottom}; })()`, &r)
		return r
	}
	card, panel := box("card"), box("devpanel")
	assert.LessOrEqual(t, card.Right, panel.Left, "the panel is right of the card")
	assert.Less(t, panel.Top, card.Bottom, "and level with it")
	assert.LessOrEqual(t, panel.Right, 1280.0, "within the window")
	tab.WaitStable("main", 300*time.Millisecond)
	tab.CheckA11y("console with the dev outbox")
	tab.Screenshot("demo-console-outbox-panel")

	tab.Type("#code", code[1])
	tab.Click(`#check button[type="submit"]`)
	tab.WaitClass("#shield", "green")

	// A second message goes on top; the first stays where it was.
	tab.Click(`button[data-method="email_code"]`)
	tab.WaitTrue("the e-mail in the panel", `document.querySelector('#devpanel-items li').dataset.kind === "email"`)
	assert.Contains(t, tab.Text(`#devpanel-items li[data-kind="email"]`), "E-mail for Alice Smith")
	var kinds []string
	tab.Eval(`[...document.querySelectorAll("#devpanel-items li")].map(li => li.dataset.kind)`, &kinds)
	assert.Equal(t, []string{"email", "sms"}, kinds, "newest first, only what the caller would get")
}
