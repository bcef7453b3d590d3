package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core/duo/duotest"
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
	// The next way offered: none here, no push or prompt being set up.
	jane.WaitText("#dests .dest-next", "No way that meets it is available for this person: escalate if the caller cannot verify.")
	var nextButtons int
	jane.Eval(`document.querySelectorAll("#dests .dest-next button").length`, &nextButtons)
	assert.Zero(t, nextButtons)
	jane.CheckA11y("destinations below the minimum")
	jane.Eval(`(() => { document.querySelector('#dests button[data-method="sms_code"]').click(); return true; })()`, new(bool))
	assert.Len(t, s.Twilio.Messages(), seen, "nothing was sent")

	// Back to an identity check: nothing is marked, and SMS goes.
	setSelect(jane, "purpose", "")
	jane.WaitTrue("SMS allowed again", `!document.querySelector('#routes-list li[data-method="sms_code"]').classList.contains("not-allowed")`)
	jane.WaitTrue("the SMS button enabled again", `!document.querySelector('#dests button[data-method="sms_code"]').disabled`)
	var left int
	jane.Eval(`document.querySelectorAll("#dests .dest-why, #dests .dest-next, #dests button:disabled").length`, &left)
	assert.Zero(t, left, "no reason or disabled button left")
	jane.Click(`#dests button[data-method="sms_code"]`)
	s.WaitForSMSCode(t, "+15550100142", seen)
}

// TestBrowserBelowMinimumOffersNext: with a push required before a
// password or MFA reset and the caller in Duo, the destinations table
// disables SMS, voice and e-mail with the reason and offers, beside each,
// the next way that meets the minimum in the policy's order — Duo push;
// pressing it pushes to the caller's phone for that ticket (marked as a
// reset), nothing is texted, and Duo's approval turns the shield green
// (issue 19.4).
func TestBrowserBelowMinimumOffersNext(t *testing.T) {
	fake := duotest.Start(t, duotest.User{Username: "sam@contoso.example"})
	s := startServer(t, func(c *Config) {
		c.duoHTTP = fake.HTTPClient()
		c.duoAllowHost = func(h string) bool { return h == fake.Host() }
	})
	cfg := fake.Config()
	status, body := s.API.do("POST", "/admin/duo", map[string]any{"name": "MSP Duo", "api_host": cfg.APIHost,
		"integration_key": cfg.IntegrationKey, "secret_key": cfg.SecretKey})
	require.Equal(t, http.StatusCreated, status, body)
	status, body = s.API.do("PUT", "/admin/policies/default", map[string]any{"reset_min_assurance": "push"})
	require.Equal(t, http.StatusOK, status, body)

	jane := NewTab(t)
	jane.SetViewport(1100, 900)
	s.SignIn(t, jane, techEmail, techPassword, "")
	jane.Visit(s.URL + "/app")
	jane.Type("#ticket", "T-48213")
	openContact(t, jane, "Sam", "Sam Caller")
	jane.WaitText(`#routes-list li[data-method="duo_push"]`, "push to")
	// An identity check has no minimum: nothing disabled, nothing offered.
	var offered int
	jane.Eval(`document.querySelectorAll("#dests .dest-next button, #dests button:disabled").length`, &offered)
	assert.Zero(t, offered)

	jane.Eval(`(() => { const s = document.getElementById("purpose"); s.value = "reset";
		s.dispatchEvent(new Event("change", { bubbles: true })); return true; })()`, new(bool))
	jane.WaitTrue("Duo push offered beside the disabled methods", `!!document.querySelector('#dests .dest-next button[data-next-route="duo_push"]')`)
	var rows struct {
		Why  []string `json:"why"`
		Next []string `json:"next"`
	}
	jane.Eval(`(() => ({ why: [...document.querySelectorAll("#dests .dest-why")].map(p => p.textContent),
		next: [...document.querySelectorAll("#dests .dest-next")].map(p => p.textContent) }))()`, &rows)
	require.Len(t, rows.Why, 2, "the phone and the e-mail rows")
	assert.Equal(t, []string{"Use Duo push instead", "Use Duo push instead"}, rows.Next)
	jane.CheckA11y("destinations below the minimum with the next way")
	jane.Screenshot("dests-below-minimum-next")

	seen := len(s.Twilio.Messages())
	jane.Click(`#dests .dest-next button[data-next-route="duo_push"]`)
	pushes := fake.WaitPushes(1, waitTimeout)
	require.Len(t, pushes, 1)
	assert.Equal(t, "sam@contoso.example", pushes[0].Username)
	assert.Equal(t, "T-48213", pushes[0].Pushinfo.Get("Ticket"))
	jane.WaitText("#active-status", "Push sent to")
	require.True(t, fake.Answer("sam@contoso.example", duotest.Approve))
	jane.WaitClass("#shield", "green")
	jane.WaitText("#shield", "via Duo push")
	assert.Len(t, s.Twilio.Messages(), seen, "nothing was texted")

	status, body = s.API.do("GET", "/verifications/"+latestVerification(t, s, s.ContactID), nil)
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, "duo_push", body["method"])
	assert.Equal(t, "reset", body["purpose"], "the push counts for the reset it was offered for")
}
