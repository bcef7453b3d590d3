package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestBrowserPolicyPushLimits sets the push limits on the policies page: a
// value looser than security.md §4 allows is refused by the server in
// words and the form keeps what was typed; values within the bounds are
// saved and shown again after a reload (issue 19.5).
func TestBrowserPolicyPushLimits(t *testing.T) {
	s := startServer(t)
	jane := NewTab(t)
	jane.SetViewport(1100, 900)
	s.SignIn(t, jane, techEmail, techPassword, "")

	jane.Visit(s.URL + "/app/admin/policies")
	jane.WaitVisible("#pol-push-contact-15m")
	jane.WaitTrue("the policy to load", `document.getElementById("pol-push-contact-15m").value !== ""`)
	shown := func() map[string]string {
		var out map[string]string
		jane.Eval(`(() => { const o = {}; for (const id of ["pol-push-contact-15m", "pol-push-contact-day", "pol-push-technician-hour", "pol-push-denied-block"]) o[id] = document.getElementById(id).value; return o; })()`, &out)
		return out
	}
	assert.Equal(t, map[string]string{"pol-push-contact-15m": "3", "pol-push-contact-day": "10", "pol-push-technician-hour": "20",
		"pol-push-denied-block": "24h0m0s"}, shown(), "the defaults")
	setValue := func(id, v string) {
		t.Helper()
		jane.Eval(`(() => { const i = document.getElementById(`+jsString(id)+`); i.value = `+jsString(v)+`; return true; })()`, new(bool))
	}

	setValue("pol-push-contact-15m", "5")
	jane.Click("#policy-save")
	jane.WaitText("#policy-msg", "pushes per user in 15 minutes must be 1 to 3, not 5")
	assert.Equal(t, "5", shown()["pol-push-contact-15m"], "what was typed stays for correcting")

	setValue("pol-push-contact-15m", "2")
	setValue("pol-push-denied-block", "12h")
	jane.Click("#policy-save")
	jane.WaitText("#policy-msg", "the block after a denied push must be between 24h and 168h, not 12h0m0s")

	setValue("pol-push-contact-day", "6")
	setValue("pol-push-technician-hour", "12")
	setValue("pol-push-denied-block", "72h")
	jane.Click("#policy-save")
	jane.WaitText("#policy-msg", "Policy saved.")
	jane.CheckA11y("policies page with push limits")
	jane.Screenshot("policy-push-limits")

	jane.Visit(s.URL + "/app/admin/policies")
	jane.WaitTrue("the policy to load", `document.getElementById("pol-push-contact-15m").value !== ""`)
	assert.Equal(t, map[string]string{"pol-push-contact-15m": "2", "pol-push-contact-day": "6", "pol-push-technician-hour": "12",
		"pol-push-denied-block": "72h0m0s"}, shown(), "saved by the server")
}
