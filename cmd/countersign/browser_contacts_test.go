package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBrowserContactList checks the console's contact list and narrow
// screens (issue 12): each row shows company, default phone and email
// (masked) and the shield state; search finds by name, email, phone and
// company; an empty search says what to try; with no contact chosen the
// card's half says what to do and lists the tenant's latest verifications,
// those waiting for the caller apart, a name opening the card. At 400 px the
// navigation collapses behind Menu, and choosing a contact brings the card
// into view.
func TestBrowserContactList(t *testing.T) {
	s := startServer(t)
	alex := s.AddContact(t, "Alex", "Other", "(555) 010-0199", "alex@contoso.example")
	tech := NewTab(t)
	secret := s.SignIn(t, tech, techEmail, techPassword, "")
	tech.WaitVisible("#welcome")
	tech.WaitText("#welcome", "Choose the caller in the list")

	row := func(name string) string {
		t.Helper()
		var text string
		tech.Eval(`(() => { const b = [...document.querySelectorAll("#contacts li.crow button")].find(b => b.textContent.trim() === `+
			jsString(name)+`); return b ? b.closest("li").textContent : ""; })()`, &text)
		return text
	}
	tech.WaitTrue("Sam in the list", `document.querySelectorAll("#contacts li.crow").length === 2`)
	sam := row("Sam Caller")
	assert.Contains(t, sam, "Not verified")
	assert.Contains(t, sam, "Contoso · ••••••••••42 · s•••@contoso.example")
	assert.NotContains(t, sam, "0142", "the phone is masked")
	assert.NotContains(t, sam, "sam@", "the email is masked")

	search := func(q string, want ...string) {
		t.Helper()
		tech.Eval(`(() => { const i = document.getElementById("search"); i.value = ""; return true; })()`, new(bool))
		tech.Type("#search", q)
		tech.WaitStable("#contacts", 400*time.Millisecond)
		var names []string
		tech.Eval(`[...document.querySelectorAll("#contacts li.crow button")].map(b => b.textContent.trim())`, &names)
		assert.ElementsMatch(t, want, names, "search %q", q)
	}
	search("contoso", "Sam Caller", "Alex Other")
	search("alex@contoso", "Alex Other")
	search("010-0142", "Sam Caller")
	search("Caller", "Sam Caller")
	search("nobody here")
	tech.WaitText("#contacts-msg", "No contact matches \u201cnobody here\u201d. Search by name, email, phone or company.")

	// A verified contact: its row says so, and the empty card lists it.
	search("Sam", "Sam Caller")
	tech.Eval(`[...document.querySelectorAll("#contacts li.crow button")][0].click() || true`, new(bool))
	tech.WaitVisible(`button[data-method="sms_code"]`)
	assert.False(t, tech.visible("#welcome"), "the card replaces the empty state")
	seen := len(s.Twilio.Messages())
	tech.Click(`button[data-method="sms_code"]`)
	code := s.WaitForSMSCode(t, "+15550100142", seen)
	tech.Type("#code", code)
	tech.Click(`#check button[type="submit"]`)
	tech.WaitClass("#shield", "green")
	// Alex is sent a code by another technician and has not answered.
	seen = len(s.Twilio.Messages())
	status, body := s.API.do("POST", "/verifications", map[string]string{"contact_id": alex, "method": "sms_code", "ticket_ref": "T-77"})
	require.Equal(t, 201, status, body)
	s.WaitForSMSCode(t, "+15550100199", seen)
	tech.Visit(s.URL + "/app")
	tech.WaitVisible("#welcome")
	tech.WaitText("#contacts li.crow", "Verified")
	// The tenant's latest, whoever the caller: Sam verified, Alex waited
	// for, each with when, how, by whom and for which ticket.
	tech.WaitText("#recent-outcomes-list li", "Sam Caller — ")
	assert.Regexp(t, `^Sam Caller — \d\d:\d\d \(just now\) — SMS code to ••••••••••42 by Jane Tech: Verified$`, tech.Text("#recent-outcomes-list li"))
	tech.WaitText("#recent-waiting-list li", "Alex Other — ")
	assert.Regexp(t, `^Alex Other — \d\d:\d\d \(just now\) — SMS code to ••••••••••99 by .+ for ticket T-77: .*waiting for the caller$`, tech.Text("#recent-waiting-list li"))
	tech.CheckA11y("console, no contact chosen")
	tech.Screenshot("console-empty-state")
	// A name there opens the caller's card, with the code still waiting.
	tech.Click("#recent-waiting-list li button")
	tech.WaitText("#contact-name", "Alex Other")
	tech.WaitVisible("#check")
	tech.Visit(s.URL + "/app")
	tech.WaitVisible("#welcome")

	// 400 px: one line of header, Menu opens the navigation; the card comes
	// into view when a contact is chosen.
	narrow := NewTab(t)
	narrow.SetViewport(400, 800)
	s.SignIn(t, narrow, techEmail, techPassword, secret)
	var headerH float64
	narrow.Eval(`document.querySelector("header.bar").getBoundingClientRect().height`, &headerH)
	assert.Less(t, headerH, 70.0, "the navigation does not wrap onto several lines")
	assert.False(t, narrow.visible("#console-nav"), "collapsed")
	narrow.Click("#nav-toggle")
	narrow.WaitVisible("#console-nav a[href='/app/techverify']")
	var expanded string
	narrow.Eval(`document.getElementById("nav-toggle").getAttribute("aria-expanded")`, &expanded)
	assert.Equal(t, "true", expanded)
	narrow.Click("#nav-toggle")
	narrow.WaitTrue("the menu closed", `getComputedStyle(document.getElementById("console-nav")).display === "none"`)
	narrow.Screenshot("console-400")

	narrow.Eval(`[...document.querySelectorAll("#contacts li.crow button")].find(b => b.textContent.trim() === "Alex Other").click() || true`, new(bool))
	narrow.WaitText("#contact-name", "Alex Other")
	narrow.WaitTrue("the card in view", `(() => { const r = document.getElementById("contact-name").getBoundingClientRect();
		return r.top >= 0 && r.bottom <= innerHeight && scrollY > 0; })()`)
	narrow.Screenshot("console-400-card")
	require.True(t, narrow.visible("#card"))
}

// visible reports whether sel matches an element that is displayed.
func (tb *Tab) visible(sel string) bool {
	tb.t.Helper()
	var ok bool
	tb.Eval(`(() => { const e = document.querySelector(`+jsString(sel)+`); return !!e && e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden"; })()`, &ok)
	return ok
}
