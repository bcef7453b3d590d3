package main

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/memory"
)

// The keyboard-only pass of issue 12: the console's contact list → card →
// send code → check, and the same in the pod, driven by key events alone
// (Tab, Space, Enter, typed characters); at each step the focus is where
// the next thing to do is, every focusable element shows its focus, the
// fields are labelled, and the shield and the status are live regions that
// speak when something happens, not every second.

// liveRegionsJS reports how the card's shield, status line and message
// are announced: role and aria-live of each.
const liveRegionsJS = `["shield", "active-status", "msg"].map(id => {
  const e = document.getElementById(id);
  return id + ":" + (e.getAttribute("role") || "") + "/" + (e.getAttribute("aria-live") || (e.getAttribute("role") === "alert" ? "assertive" : ""));
})`

// watchLiveJS counts the changes of the live regions' text from now on,
// in window.liveChanges (a screen reader announces each).
const watchLiveJS = `(() => {
  window.liveChanges = {};
  for (const id of ["shield", "active-status"]) {
    window.liveChanges[id] = 0;
    new MutationObserver(() => { window.liveChanges[id]++; }).observe(document.getElementById(id), { childList: true, characterData: true, subtree: true });
  }
  return true;
})()`

// pressUntil presses Tab until want (JS) is true of the focused element,
// at most n times, and fails naming what the walk went through.
func pressUntil(t *testing.T, tb *Tab, what, want string, n int) {
	t.Helper()
	var seen []string
	for range n {
		tb.Keys(kb.Tab)
		var ok bool
		tb.Eval(`(() => { const e = document.activeElement; return !!e && (`+want+`); })()`, &ok)
		if ok {
			return
		}
		seen = append(seen, focused(tb))
	}
	t.Fatalf("Tab did not reach %s in %d presses; it went through %v", what, n, seen)
}

// checkLiveRegions asserts the card's live regions: the shield and the
// status line polite status regions, the message an alert.
func checkLiveRegions(t *testing.T, tb *Tab) {
	t.Helper()
	var got []string
	tb.Eval(liveRegionsJS, &got)
	assert.Equal(t, []string{"shield:status/polite", "active-status:status/polite", "msg:alert/assertive"}, got)
}

// keyboardVerify runs the card's part with the keyboard alone, from the
// focus on the first way to verify: Space sends the SMS code, a wrong code
// is refused with one message and the focus stays in the code box, the
// right one turns the shield green and moves the focus to the shield, in
// view.
func keyboardVerify(t *testing.T, s *testServer, tb *Tab, phone, page string) {
	t.Helper()
	tb.WaitTrue("the focus on the first way to verify", `document.activeElement && document.activeElement.dataset.method === "sms_code"`)
	tb.WaitStable("#card", 300*time.Millisecond)
	tb.CheckKeyboard(page + " (contact open)")
	tb.CheckA11y(page + " (contact open)")
	tb.Eval(`document.querySelector('#dests button[data-method="sms_code"]').focus() || true`, new(bool)) // where the walk left it
	checkLiveRegions(t, tb)

	seen := len(s.Twilio.Messages())
	tb.Keys(" ") // Space activates a button
	code := s.WaitForSMSCode(t, phone, seen)
	tb.WaitTrue("the focus in the code box", `document.activeElement && document.activeElement.id === "code"`)
	tb.WaitStable("#active", 300*time.Millisecond)
	tb.CheckA11y(page + " (code box)")

	// The status line is a live region: the countdown beside it must not
	// make it speak every second.
	tb.Eval(watchLiveJS, new(bool))
	time.Sleep(2500 * time.Millisecond)
	var changes map[string]int
	tb.Eval(`window.liveChanges`, &changes)
	assert.Zero(t, changes["active-status"], "the status line changed %d times in 2.5 s while nothing happened", changes["active-status"])
	assert.Zero(t, changes["shield"], "the shield changed while nothing happened")

	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	tb.Keys(wrong)
	tb.Keys(kb.Enter)
	tb.WaitTrue("the message", `document.getElementById("msg").textContent !== ""`)
	assert.Contains(t, tb.Text("#msg"), "attempt")
	assert.Equal(t, "code", focused(tb), "after a wrong code the focus stays in the code box")

	tb.Keys(code)
	tb.Keys(kb.Enter)
	tb.WaitClass("#shield", "green")
	tb.WaitTrue("the focus on the shield", `document.activeElement && document.activeElement.id === "shield"`)
	tb.WaitTrue("the focused shield in view", inViewJS(`document.activeElement`))
	var outline string
	tb.Eval(`getComputedStyle(document.getElementById("shield")).outlineStyle`, &outline)
	assert.NotEqual(t, "none", outline, "the focused shield shows the focus")
	assert.Equal(t, 1, func() int {
		var n int
		tb.Eval(`window.liveChanges.shield > 0 ? 1 : 0`, &n)
		return n
	}(), "the shield spoke when it turned green")
	tb.WaitStable("#card", 300*time.Millisecond)
	tb.CheckKeyboard(page + " (verified)")
	tb.CheckA11y(page + " (verified)")
}

// TestBrowserKeyboardConsoleCard: from the console's search box to a green
// shield with keys alone; contacts are chosen with Space as well as Enter.
func TestBrowserKeyboardConsoleCard(t *testing.T) {
	s := startServer(t)
	tab := NewTab(t)
	s.SignIn(t, tab, techEmail, techPassword, "")
	tab.WaitVisible("#search")
	tab.CheckKeyboard("console")

	tab.FocusStart()
	pressUntil(t, tab, "the search box", `e.id === "search"`, 30)
	tab.Keys("Sam")
	tab.WaitTrue("Sam in the list", `[...document.querySelectorAll("#contacts button")].some(b => b.textContent.includes("Sam Caller"))`)
	tab.WaitStable("#contacts", 400*time.Millisecond)
	pressUntil(t, tab, "Sam in the list", `e.closest("#contacts") && e.textContent.includes("Sam Caller")`, 5)
	tab.Keys(" ")
	tab.WaitText("#contact-name", "Sam Caller")
	keyboardVerify(t, s, tab, "+15550100142", "console")
	tab.Screenshot("keyboard-console-verified")
}

// TestBrowserKeyboardPod: the pod in a PSA's ticket screen (signed in
// through the pop-out as in TestBrowserPod), from the top of the frame to a
// green shield for the ticket's contact with keys alone, as on the console.
func TestBrowserKeyboardPod(t *testing.T) {
	s := startServer(t)
	psaSrv := memory.NewServer("psa-key-79")
	psaSrv.Seed([]psa.Company{{Ref: "co1", Name: "Fabrikam"}},
		[]psa.Contact{{Ref: "c1", CompanyRef: "co1", FirstName: "Pat", LastName: "Pod",
			Phones: []psa.Phone{{Number: "(555) 010-0177", Label: "Mobile", Default: true}}}},
		[]psa.Ticket{{Ref: "902", Summary: "Locked out", CompanyRef: "co1", ContactRef: "c1"}})
	psaURL := ServeOtherOrigin(t, psaSrv)
	intID := s.AddIntegration(t, memory.ID, "Fabrikam PSA", memory.Config{BaseURL: psaURL, APIKey: "psa-key-79"})
	podURL := s.URL + "/pod/" + testTenantSlug + "/" + intID

	tab := NewTab(t)
	tab.SetViewport(1000, 900)
	tab.Visit(fmt.Sprintf("%s/ui/ticket/902?width=600&pod=%s", psaURL, url.QueryEscape(podURL+"?w=600")))
	pod := tab.FrameTab(t, "w=600")
	s.signInPopOut(t, pod, techEmail, techPassword, "")
	pod.WaitText("#contact-name", "Pat Pod")
	pod.WaitTrue("the ways to verify", `!!document.querySelector('#routes-list button')`)
	pod.WaitStable("#card", 300*time.Millisecond)

	pod.FocusStart()
	pressUntil(t, pod, "the SMS code button", `e.dataset.method === "sms_code"`, 30)
	keyboardVerify(t, s, pod, "+15550100177", "pod")
	tab.Screenshot("keyboard-pod-verified")
	require.Eventually(t, func() bool { return len(psaSrv.Notes("902")) == 1 }, waitTimeout, 50*time.Millisecond, "the note on the ticket")
}
