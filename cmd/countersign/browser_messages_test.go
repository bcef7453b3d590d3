package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestBrowserFailureMessages checks what the card says when a check fails
// (issue 12): one message per failure, a sentence, with the next step; the
// status line does not repeat it; after the last attempt the card offers a
// new code and another method; once the phone is locked by consecutive
// failures it offers only the other method, and says so.
func TestBrowserFailureMessages(t *testing.T) {
	s := startServer(t)
	tech := NewTab(t)
	s.SignIn(t, tech, techEmail, techPassword, "")
	openContact(t, tech, "Sam", "Sam Caller")

	// errorTexts are the non-empty error and alert texts on the card.
	errorTexts := func() []string {
		var out []string
		tech.Eval(`[...document.querySelectorAll("#card .error, #card [role=alert]")].map(e => e.textContent.trim()).filter(Boolean)`, &out)
		return out
	}
	wrong := func(code string) {
		t.Helper()
		tech.Type("#code", code)
		tech.Click(`#check button[type="submit"]`)
	}
	seen := len(s.Twilio.Messages())
	tech.Click(`button[data-method="sms_code"]`)
	code := s.WaitForSMSCode(t, "+15550100142", seen)
	tech.WaitVisible("#code")
	bad := "000000"
	if code == bad {
		bad = "111111"
	}

	wrong(bad)
	tech.WaitText("#msg", "Wrong code: ask the caller to read it again (4 attempts left).")
	assert.Equal(t, []string{"Wrong code: ask the caller to read it again (4 attempts left)."}, errorTexts())
	status := tech.Text("#active-status")
	assert.NotContains(t, status, "attempt", "the status line does not repeat the message")
	assert.Contains(t, status, "SMS code to")
	var page string
	tech.Eval(`document.body.innerText`, &page)
	assert.Equal(t, 1, strings.Count(page, "attempts left"), "said once")
	tech.Screenshot("msg-wrong-code")

	// Each answer is awaited before the next code is typed, as the
	// technician reads it: typed while a check is in flight, a code can be
	// wiped by the answer's redraw (seen under CI load: 3 checks of 4).
	wrong(bad)
	tech.WaitText("#msg", "(3 attempts left)")
	wrong(bad)
	tech.WaitText("#msg", "(2 attempts left)")
	wrong(bad)
	tech.WaitText("#msg", "(1 attempt left)")
	wrong(bad)

	// The last attempt: one message with the next steps, and buttons for them.
	tech.WaitVisible("#again")
	tech.WaitTrue("the failure's message", `document.getElementById("msg").textContent.includes("not verified")`)
	msg := tech.Text("#msg")
	assert.Regexp(t, `^Too many wrong codes were entered: the caller is not verified\. Send a new code, try .+ instead or escalate if the caller cannot verify\.$`, msg)
	assert.Equal(t, []string{msg}, errorTexts(), "one message")
	assert.Regexp(t, `^SMS code to .+: Failed$`, tech.Text("#active-status"))
	assert.Equal(t, "Send a new code", tech.Text("#again"))
	tech.WaitTrue("the focus on the next step", `document.activeElement && document.activeElement.id === "again"`)
	tech.WaitVisible("#next")
	assert.Regexp(t, `^Try .+ instead$`, tech.Text("#next"))
	tech.Eval(`document.body.innerText`, &page)
	assert.Equal(t, 1, strings.Count(page, "not verified"), "the failure is told once")
	tech.CheckA11y("console after a failed verification")
	tech.Screenshot("msg-last-attempt")

	// "Send a new code" sends one to the same phone; the message goes.
	seen = len(s.Twilio.Messages())
	tech.Click("#again")
	s.WaitForSMSCode(t, "+15550100142", seen)
	tech.WaitVisible("#check")
	assert.Empty(t, errorTexts())

	// Five more wrong codes: ten in a row lock the phone (the policy's
	// failure cap); the card offers the email instead, not a new code.
	for i := 0; i < 5; i++ {
		wrong(bad)
		if i < 4 {
			tech.WaitText("#msg", "attempt")
		}
	}
	tech.WaitTrue("the phone's ways locked", `[...document.querySelectorAll("#routes-list li[data-method=sms_code]")].every(li => li.classList.contains("unavailable"))`)
	tech.WaitTrue("the next step after the lockout", `document.getElementById("again").hidden && !document.getElementById("next").hidden`)
	tech.WaitText("#next", "Try Email")
	msg = tech.Text("#msg")
	assert.Regexp(t, `^Too many wrong codes were entered: the caller is not verified\. Try Email .+ instead or escalate if the caller cannot verify\.$`, msg)
	assert.Equal(t, []string{msg}, errorTexts())
	tech.Screenshot("msg-locked")
}
