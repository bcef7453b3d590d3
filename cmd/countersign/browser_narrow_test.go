package main

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/memory"
)

// The keyboard-only pass of issue 12 at 400 px, a phone's width: the
// console's navigation collapsed behind Menu, and the pod in a PSA's frame
// that narrow ("the pod at 400 px is fine — keep it so"). Labels, contrast,
// focus order and focus indicators are checked by the same checks as at
// full width, and a verification is done from the top of the page to a
// green shield with key presses alone.

// overflowJS lists the visible elements that stick out past the page's
// right edge, which would make a narrow screen scroll sideways.
const overflowJS = `(() => {
  const w = document.documentElement.clientWidth, out = [];
  for (const e of document.body.querySelectorAll("*")) {
    const r = e.getBoundingClientRect();
    if (r.width > 0 && r.right > w + 0.5 && !e.closest("[hidden]")) out.push(e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + " right=" + Math.round(r.right));
  }
  return out.slice(0, 5);
})()`

// checkNoSideScroll fails when the page is wider than its viewport.
func checkNoSideScroll(t *testing.T, tb *Tab, page string) {
	t.Helper()
	var wide []string
	tb.Eval(overflowJS, &wide)
	assert.Empty(t, wide, "%s scrolls sideways: these stick out past %s", page, "the right edge")
	var sw, cw int
	tb.Eval(`document.documentElement.scrollWidth`, &sw)
	tb.Eval(`document.documentElement.clientWidth`, &cw)
	assert.LessOrEqual(t, sw, cw, "%s: page %d px wide in a %d px viewport", page, sw, cw)
}

// inViewJS reports whether the element (JS) lies inside the viewport.
func inViewJS(elem string) string {
	return `(() => { const e = ` + elem + `; if (!e) return false; const r = e.getBoundingClientRect();
		return r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= document.documentElement.clientWidth; })()`
}

// shieldSize is the shield's box, to see it keeps its size.
func shieldSize(tb *Tab) [2]float64 {
	var b [2]float64
	tb.Eval(`(() => { const r = document.getElementById("shield").getBoundingClientRect(); return [r.width, r.height]; })()`, &b)
	return b
}

// shiftTab presses Shift+Tab.
func shiftTab(tb *Tab) {
	tb.Run("press Shift+Tab", chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(input.ModifierShift)))
}

// TestBrowserNarrowKeyboardConsole: the console at 400 px with keys alone.
// Menu is reached by Tab, opens and closes with Enter, and its links come
// next in the Tab order while it is open; choosing a contact with Space
// brings the card into view with the focus, visible, on the contact's name
// (before, it went to the first way to verify, 1600 px below the view),
// and Tab goes on to the ways to verify; the code is sent and checked to a green shield, which keeps its
// size, and nothing makes the page scroll sideways.
func TestBrowserNarrowKeyboardConsole(t *testing.T) {
	s := startServer(t)
	tab := NewTab(t)
	tab.SetViewport(400, 800)
	s.SignIn(t, tab, techEmail, techPassword, "")
	tab.WaitVisible("#search")
	tab.WaitStable("#contacts", 300*time.Millisecond)
	checkNoSideScroll(t, tab, "console (400 px)")
	tab.CheckA11y("console (400 px)")
	tab.CheckKeyboard("console (400 px)")

	tab.FocusStart()
	pressUntil(t, tab, "Menu", `e.id === "nav-toggle"`, 5)
	tab.Keys(kb.Enter)
	tab.WaitTrue("the menu open", `document.getElementById("nav-toggle").getAttribute("aria-expanded") === "true"`)
	tab.WaitVisible("#console-nav a[href='/app/techverify']")
	tab.CheckA11y("console (400 px, menu open)")
	checkNoSideScroll(t, tab, "console (400 px, menu open)")
	tab.Keys(kb.Tab)
	var href string
	tab.Eval(`document.activeElement.getAttribute("href") || ""`, &href)
	assert.Equal(t, "/app", href, "the menu's first link follows Menu in the Tab order")
	tab.Screenshot("narrow-console-menu")
	shiftTab(tab)
	require.Equal(t, "nav-toggle", focused(tab))
	tab.Keys(kb.Enter)
	tab.WaitTrue("the menu closed", `getComputedStyle(document.getElementById("console-nav")).display === "none"`)

	pressUntil(t, tab, "the search box", `e.id === "search"`, 10)
	tab.Keys("Sam")
	tab.WaitTrue("Sam in the list", `[...document.querySelectorAll("#contacts button")].some(b => b.textContent.includes("Sam Caller"))`)
	tab.WaitStable("#contacts", 400*time.Millisecond)
	pressUntil(t, tab, "Sam in the list", `e.closest("#contacts") && e.textContent.includes("Sam Caller")`, 5)
	tab.Keys(" ")
	tab.WaitText("#contact-name", "Sam Caller")
	tab.WaitStable("#card", 300*time.Millisecond)
	// The card's head comes into view with the focus on the name: the
	// first way to verify is a screen further down.
	tab.WaitTrue("the focus on the contact's name", `document.activeElement && document.activeElement.id === "contact-name"`)
	tab.WaitTrue("the focused name in view", inViewJS(`document.activeElement`))
	tab.WaitTrue("the shield in view", inViewJS(`document.getElementById("shield")`))
	var ring string
	tab.Eval(`getComputedStyle(document.activeElement).outlineStyle`, &ring)
	assert.NotEqual(t, "none", ring, "the focused name shows the focus")
	tab.Screenshot("narrow-console-card")
	pressUntil(t, tab, "the first way to verify", `e.dataset.method === "sms_code"`, 10)
	tab.WaitTrue("the focused way to verify in view", inViewJS(`document.activeElement`))
	grey := shieldSize(tab)
	checkNoSideScroll(t, tab, "console card (400 px)")

	keyboardVerify(t, s, tab, "+15550100142", "console (400 px)")
	assert.Equal(t, grey, shieldSize(tab), "the shield keeps its size when it turns green")
	checkNoSideScroll(t, tab, "console verified (400 px)")
	tab.Screenshot("narrow-console-verified")
}

// TestBrowserNarrowKeyboardPod: the pod in a 400 px frame of a PSA's ticket
// screen, with keys alone from the top of the frame to a green shield that
// keeps its size; the frame never scrolls sideways (before, the reason's
// select stuck 8 px out of the card: a 404 px page), and the note reaches
// the ticket.
func TestBrowserNarrowKeyboardPod(t *testing.T) {
	s := startServer(t)
	psaSrv := memory.NewServer("psa-key-40")
	psaSrv.Seed([]psa.Company{{Ref: "co1", Name: "Fabrikam"}},
		[]psa.Contact{{Ref: "c1", CompanyRef: "co1", FirstName: "Nia", LastName: "Narrow",
			Phones: []psa.Phone{{Number: "(555) 010-0140", Label: "Mobile", Default: true}},
			Emails: []psa.Email{{Address: "nia@fabrikam.example", Default: true}}}},
		[]psa.Ticket{{Ref: "940", Summary: "Locked out on the road", CompanyRef: "co1", ContactRef: "c1"}})
	psaURL := ServeOtherOrigin(t, psaSrv)
	intID := s.AddIntegration(t, memory.ID, "Fabrikam PSA", memory.Config{BaseURL: psaURL, APIKey: "psa-key-40"})
	podURL := s.URL + "/pod/" + testTenantSlug + "/" + intID

	tab := NewTab(t)
	tab.SetViewport(1000, 900)
	tab.Visit(fmt.Sprintf("%s/ui/ticket/940?width=400&pod=%s", psaURL, url.QueryEscape(podURL+"?w=400")))
	pod := tab.FrameTab(t, "w=400")
	s.signInPopOut(t, pod, techEmail, techPassword, "")
	pod.WaitText("#contact-name", "Nia Narrow")
	pod.WaitTrue("the ways to verify", `!!document.querySelector('#routes-list button')`)
	pod.WaitStable("#card", 300*time.Millisecond)
	var frameW int
	pod.Eval(`document.documentElement.clientWidth`, &frameW)
	require.InDelta(t, 400, frameW, 20, "the pod's frame is 400 px wide")
	checkNoSideScroll(t, pod, "pod (400 px)")
	grey := shieldSize(pod)

	pod.FocusStart()
	pressUntil(t, pod, "the SMS code button", `e.dataset.method === "sms_code"`, 30)
	keyboardVerify(t, s, pod, "+15550100140", "pod (400 px)")
	assert.Equal(t, grey, shieldSize(pod), "the shield keeps its size when it turns green")
	checkNoSideScroll(t, pod, "pod verified (400 px)")
	tab.Screenshot("narrow-pod-verified")
	require.Eventually(t, func() bool { return len(psaSrv.Notes("940")) == 1 }, waitTimeout, 50*time.Millisecond, "the note on the ticket")
}
