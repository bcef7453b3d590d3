package main

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/memory"
)

// lockedDest is a destination button as the card's table shows it.
type lockedDest struct {
	Method   string `json:"m"`
	Disabled bool   `json:"off"`
	Why      string `json:"why"`
}

// destButtons reads the table's buttons of the destinations of kind's
// rows ("Mobile", "E-mail"), with the text that describes each.
func destButtons(t *testing.T, tb *Tab, label string) []lockedDest {
	t.Helper()
	var out []lockedDest
	tb.Eval(fmt.Sprintf(`[...document.querySelectorAll("#dests tbody tr")].filter(tr => tr.querySelector(".dest-value").textContent.startsWith(%s))
		.flatMap(tr => [...tr.querySelectorAll("button[data-method]")]).map(b => ({m: b.dataset.method, off: b.disabled,
		why: (document.getElementById(b.getAttribute("aria-describedby") || "") || {}).textContent || ""}))`, jsString(label)), &out)
	return out
}

// TestBrowserLockedDestinations (issue 12): once the caller's phone is
// locked by consecutive failures, the card's destination table — in the
// pod and in the console — shows the phone's SMS code, SMS link and voice
// code buttons disabled, described by the lock ("Locked after 5
// consecutive failures."), with the next step beside them: the e-mail way
// instead, and "Reset the lock" for an admin or "ask an admin" for a
// technician; the e-mail's buttons stay enabled. The admin's reset from
// the table enables them again. Before, the buttons looked usable and
// pressing one only brought the server's "locked" message.
func TestBrowserLockedDestinations(t *testing.T) {
	s := startServer(t)
	status, body := s.API.do("PUT", "/policies/default", map[string]any{"failure_cap": 5})
	require.Equal(t, http.StatusOK, status, body)
	status, body = s.API.do("POST", "/admin/technicians", map[string]string{
		"name": "Tom Tech", "email": "tom@acme.example", "role": "technician", "password": techPassword})
	require.Equal(t, http.StatusCreated, status, body)
	psaSrv := memory.NewServer("psa-key-12")
	psaSrv.Seed([]psa.Company{{Ref: "co1", Name: "Fabrikam"}},
		[]psa.Contact{{Ref: "c1", CompanyRef: "co1", FirstName: "Pat", LastName: "Pod",
			Phones: []psa.Phone{{Number: "(555) 010-0177", Label: "Mobile", Default: true}},
			Emails: []psa.Email{{Address: "pat@fabrikam.example", Default: true}}}},
		[]psa.Ticket{{Ref: "900", Summary: "Password reset", CompanyRef: "co1", ContactRef: "c1"}})
	psaURL := ServeOtherOrigin(t, psaSrv)
	intID := s.AddIntegration(t, memory.ID, "Fabrikam PSA", memory.Config{BaseURL: psaURL, APIKey: "psa-key-12"})
	podURL := s.URL + "/pod/" + testTenantSlug + "/" + intID
	tab := NewTab(t)
	tab.SetViewport(1000, 900)
	tab.Visit(fmt.Sprintf("%s/ui/ticket/900?width=600&pod=%s", psaURL, url.QueryEscape(podURL+"?w=600")))
	pod := tab.FrameTab(t, "w=600")
	s.signInPopOut(t, pod, techEmail, techPassword, "")
	pod.WaitText("#contact-name", "Pat Pod")

	// Five wrong codes: the code is burned and the phone locked.
	seen := len(s.Twilio.Messages())
	pod.Click(`button[data-method="sms_code"]`)
	code := s.WaitForSMSCode(t, "+15550100177", seen)
	pod.WaitVisible("#code")
	bad := "000000"
	if code == bad {
		bad = "111111"
	}
	for left := 4; left >= 0; left-- {
		pod.Type("#code", bad)
		pod.Click(`#check button[type="submit"]`)
		if left > 0 {
			pod.WaitText("#msg", fmt.Sprintf("(%d attempt", left))
		}
	}
	pod.WaitTrue("the phone's buttons disabled", `[...document.querySelectorAll("#dests button[data-method=sms_code]")].every(b => b.disabled)`)
	locked := "Locked after 5 consecutive failures."
	assert.Equal(t, []lockedDest{{"sms_code", true, locked}, {"sms_link", true, locked}, {"voice_code", true, locked}}, destButtons(t, pod, "Mobile"))
	for _, d := range destButtons(t, pod, "E-mail") {
		assert.False(t, d.Disabled, "%v", d)
	}
	next := pod.Text(`#dests tbody tr:first-child .dest-next`)
	assert.Regexp(t, `^Use Email (code|link) instead Reset the lock$`, next)
	assert.True(t, pod.visible(`#dests button[data-lock-reset]`), "an admin resets it from the table")
	pod.CheckA11y("pod, phone locked")
	tab.Screenshot("pod-locked-destinations")

	// A technician's console says the same, and to ask an admin.
	tom := NewTab(t)
	s.SignIn(t, tom, "tom@acme.example", techPassword, "")
	openContact(t, tom, "Pat", "Pat Pod")
	tom.WaitTrue("the phone's buttons disabled", `[...document.querySelectorAll("#dests button[data-method=sms_code]")].every(b => b.disabled)`)
	assert.Equal(t, []lockedDest{{"sms_code", true, locked}, {"sms_link", true, locked}, {"voice_code", true, locked}}, destButtons(t, tom, "Mobile"))
	assert.Regexp(t, `^Use Email (code|link) instead Or ask an admin to reset the lock\.$`, tom.Text(`#dests tbody tr:first-child .dest-next`))
	assert.False(t, tom.visible(`#dests button[data-lock-reset]`), "no reset for a technician")
	tom.CheckA11y("console, phone locked, technician")
	tom.Screenshot("console-locked-destinations-technician")

	// The admin's reset from the pod's table: the phone's buttons again.
	pod.Click(`#dests button[data-lock-reset]`)
	pod.WaitText("#lock-reset-msg", "Lock reset: every way to verify is offered again.")
	pod.WaitTrue("the phone's buttons enabled", `[...document.querySelectorAll("#dests button[data-method]")].every(b => !b.disabled)`)
	var left int
	pod.Eval(`document.querySelectorAll("#dests .dest-why, #dests .dest-next").length`, &left)
	assert.Zero(t, left, "no lock left to explain")
}
