package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBrowserMinimumAssurance sets "push or workstation prompt before a
// password or MFA reset" on the policies page (a minimum no allowed method
// meets is refused first, in words), then in the console marks the reason
// "Password or MFA reset": the ways-to-verify list moves SMS, voice and
// e-mail after the allowed methods as not allowed, with the rule; pressing
// SMS code is refused by the server with that rule and nothing is sent.
// The destinations table disables those methods with the reason. Back to
// an identity check, nothing is marked (issue 19.4).
func TestBrowserMinimumAssurance(t *testing.T) {
	s := startServer(t)
	jane := NewTab(t)
	jane.SetViewport(1100, 900)
	s.SignIn(t, jane, techEmail, techPassword, "")

	jane.Visit(s.URL + "/app/admin/policies")
	jane.WaitVisible("#pol-method-sms_code")
	jane.WaitTrue("the policy to load", `document.getElementById("pol-code-digits").value !== ""`)
	setSelect := func(tb *Tab, id, value string) {
		t.Helper()
		tb.Eval(`(() => { const s = document.getElementById(`+jsString(id)+`); s.value = `+jsString(value)+
			`; s.dispatchEvent(new Event("change", { bubbles: true })); return s.value; })()`, new(string))
	}
	// Only SMS and e-mail allowed, with push required for resets: refused.
	jane.Eval(`(() => { for (const b of document.querySelectorAll("#policy-methods input")) b.checked = ["sms_code", "email_link"].includes(b.id.slice(11)); return true; })()`, new(bool))
	setSelect(jane, "pol-reset-min-assurance", "push")
	jane.Click("#policy-save")
	jane.WaitText("#policy-msg", "none of the allowed methods meets the minimum")
	// Every method allowed: saved.
	jane.Eval(`(() => { for (const b of document.querySelectorAll("#policy-methods input")) b.checked = true; return true; })()`, new(bool))
	jane.Click("#policy-save")
	jane.WaitText("#policy-msg", "Policy saved.")
	var saved string
	jane.Eval(`document.getElementById("pol-reset-min-assurance").value`, &saved)
	assert.Equal(t, "push", saved, "the form shows the saved minimum")
	jane.CheckA11y("policies page with minimum assurance")
	jane.Screenshot("policy-minimum-assurance")

	// The console: an identity check lists SMS as usual.
	jane.Visit(s.URL + "/app")
	openContact(t, jane, "Sam", "Sam Caller")
	jane.WaitVisible(`#routes-list li[data-method="sms_code"]`)
	jane.WaitTrue("the routes to load", `!!document.querySelector('#routes-list button[data-route="sms_code"]')`)
	assert.NotContains(t, jane.Text(`#routes-list li[data-method="sms_code"]`), "not allowed")

	// A password reset: SMS, voice and e-mail are not allowed, listed last.
	setSelect(jane, "purpose", "reset")
	jane.WaitText(`#routes-list li[data-method="sms_code"]`, "not allowed: this client requires a push or workstation prompt for password and MFA resets")
	jane.WaitText(`#routes-list li[data-method="email_link"]`, "not allowed")
	var order struct {
		Methods []string `json:"methods"`
		Flags   []bool   `json:"flags"`
	}
	jane.Eval(`(() => { const li = [...document.querySelectorAll("#routes-list li.route")];
		return { methods: li.map(l => l.dataset.method), flags: li.map(l => l.classList.contains("not-allowed")) }; })()`, &order)
	var allowed, below []string
	for i, m := range order.Methods {
		if order.Flags[i] {
			below = append(below, m)
		} else {
			assert.Empty(t, below, "%s is allowed but listed after one that is not: %v", m, order.Methods)
			allowed = append(allowed, m)
		}
	}
	assert.Equal(t, []string{"duo_push", "microsoft_push", "workstation_prompt"}, allowed)
	assert.Equal(t, []string{"sms_code", "voice_code", "sms_link", "email_code", "email_link"}, below)
	var buttons int
	jane.Eval(`document.querySelectorAll('#routes-list li.not-allowed button').length`, &buttons)
	assert.Zero(t, buttons, "no Send button on a method below the minimum")
	jane.CheckA11y("verification card for a password reset")
	jane.Screenshot("routes-below-minimum")

	// The destinations table agrees: SMS, voice and e-mail are disabled,
	// with why beside them; pressing one sends nothing (issue 19.4).
	seen := len(s.Twilio.Messages())
	var dests struct {
		Disabled []string `json:"disabled"`
		Enabled  []string `json:"enabled"`
		Why      []string `json:"why"`
		Desc     bool     `json:"desc"`
	}
	jane.Eval(`(() => ({ disabled: [...document.querySelectorAll("#dests button[data-method]:disabled")].map(b => b.dataset.method),
		enabled: [...document.querySelectorAll("#dests button[data-method]:not(:disabled)")].map(b => b.dataset.method),
		why: [...document.querySelectorAll("#dests .dest-why")].map(p => p.textContent),
		desc: [...document.querySelectorAll("#dests button[data-method]:disabled")].every(b => !!document.getElementById(b.getAttribute("aria-describedby"))) }))()`, &dests)
	assert.ElementsMatch(t, []string{"sms_code", "sms_link", "voice_code", "email_link", "email_code"}, dests.Disabled)
	assert.Empty(t, dests.Enabled)
	require.NotEmpty(t, dests.Why)
	for _, w := range dests.Why {
		assert.Equal(t, "Not allowed: below this client's minimum for password and MFA resets (a push or workstation prompt)", w)
	}
	assert.True(t, dests.Desc, "each disabled button is described by the reason")
	jane.CheckA11y("destinations below the minimum")
	jane.Eval(`(() => { document.querySelector('#dests button[data-method="sms_code"]').click(); return true; })()`, new(bool))
	assert.Len(t, s.Twilio.Messages(), seen, "nothing was sent")

	// Back to an identity check: nothing is marked, and SMS goes.
	setSelect(jane, "purpose", "")
	jane.WaitTrue("SMS allowed again", `!document.querySelector('#routes-list li[data-method="sms_code"]').classList.contains("not-allowed")`)
	jane.WaitTrue("the SMS button enabled again", `!document.querySelector('#dests button[data-method="sms_code"]').disabled`)
	var left int
	jane.Eval(`document.querySelectorAll("#dests .dest-why, #dests button:disabled").length`, &left)
	assert.Zero(t, left, "no reason or disabled button left")
	jane.Click(`#dests button[data-method="sms_code"]`)
	s.WaitForSMSCode(t, "+15550100142", seen)
}
