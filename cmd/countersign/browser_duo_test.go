package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core/duo/duotest"
)

// TestBrowserDuoPushInConnectWisePod presses Push in the ConnectWise pod:
// the routing list names the caller's Duo phone first, the fake Duo
// approves, the shield turns green and the result is noted on the ticket.
// A second push is denied: the pod says so in words, the audit log has the
// answer and the alert, the MSP's admins get the alert by e-mail, and the
// pod offers the next method while pushes to the user are stopped.
func TestBrowserDuoPushInConnectWisePod(t *testing.T) {
	fake := duotest.Start(t, duotest.User{Username: "pat", Aliases: []string{"pat@fabrikam.example"}})
	f := newCWPod(t, "", func(c *Config) {
		c.duoHTTP = fake.HTTPClient()
		c.duoAllowHost = func(h string) bool { return h == fake.Host() }
	})
	s, cw := f.s, f.cw

	// The Duo account, checked live at setup: a wrong secret is refused.
	cfg := fake.Config()
	status, body := s.API.do("POST", "/admin/duo", map[string]any{"name": "MSP Duo", "api_host": cfg.APIHost,
		"integration_key": cfg.IntegrationKey, "secret_key": strings.Repeat("z", 40)})
	require.Equal(t, http.StatusBadRequest, status, body)
	assert.Contains(t, body["error"], "secret key is wrong")
	status, body = s.API.do("POST", "/admin/duo", map[string]any{"name": "MSP Duo", "api_host": cfg.APIHost,
		"integration_key": cfg.IntegrationKey, "secret_key": cfg.SecretKey})
	require.Equal(t, http.StatusCreated, status, body)
	assert.NotContains(t, body, "secret_key", "the secret is never sent back")

	tab := cwBrowser(t, f.port, cw.Site())
	tab.SetViewport(900, 900)
	tab.Visit("https://" + cw.Site() + "/v4_6_release/ConnectWise.aspx?mode=prompt")
	pod := tab.FrameTab(t, "/pod/"+testTenantSlug+"/")
	pod.WaitVisible("#pod-main")
	pod.WaitText("#contact-name", "Pat Pod")

	// The routing list: Duo first (asked live), then what Pat really has.
	pod.WaitText(`#routes-list li[data-method="duo_push"]`, "push to iPhone of pat")
	pod.WaitText(`#routes-list li[data-method="duo_push"]`, "approve-only push")
	pod.WaitText(`#routes-list li[data-method="workstation_prompt"]`, "no Windows user bound")
	// The number's provenance in words ("from ConnectWise PSA on <date>"),
	// not its source id.
	pod.WaitText(`#routes-list li[data-method="sms_code"]`, "(from ConnectWise PSA on ")
	var first string
	pod.Eval(`document.querySelector("#routes-list li").dataset.method`, &first)
	assert.Equal(t, "duo_push", first, "the strongest factor the user has comes first")
	pod.CheckA11y("connectwise pod with routes")
	tab.Screenshot("cw-pod-routes")

	// Push, approved in Duo Mobile (the fake).
	pod.Click(`button[data-route="duo_push"]`)
	pushes := fake.WaitPushes(1, waitTimeout)
	require.Len(t, pushes, 1)
	assert.Equal(t, "pat", pushes[0].Username, "the e-mail is an alias of Duo's user pat")
	assert.Equal(t, cwBrowserTicket, pushes[0].Pushinfo.Get("Ticket"))
	assert.Equal(t, "Jamie Tech", pushes[0].Pushinfo.Get("Technician"))
	assert.Equal(t, testTenantName, pushes[0].Pushinfo.Get("MSP"))
	pod.WaitText("#active-status", "Push sent to iPhone of pat")
	require.True(t, fake.Answer("pat", duotest.Approve))
	pod.WaitClass("#shield", "green")
	pod.WaitText("#shield", "via Duo push")
	tab.Screenshot("cw-pod-duo-verified")

	deadline := time.Now().Add(waitTimeout)
	for len(cw.NoteRecords(cwBrowserTicket)) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	notes := cw.NoteRecords(cwBrowserTicket)
	require.Len(t, notes, 1, "the result is written to the ConnectWise ticket")
	assert.Contains(t, notes[0].Text, "Pat Pod was VERIFIED by Duo push")

	// A second push, denied on the phone.
	pod.Click(`button[data-route="duo_push"]`)
	require.Len(t, fake.WaitPushes(2, waitTimeout), 2)
	require.True(t, fake.Answer("pat", duotest.Deny))
	pod.WaitText("#active-status", "Duo push to")
	pod.WaitText("#active-status", "Failed")
	pod.WaitClass("#shield", "red")
	pod.WaitText(`#routes-list li[data-method="duo_push"]`, "stopped for 24 hours")
	pod.WaitVisible("#next")
	pod.WaitText("#next", "Try SMS code instead")
	// One message: why, and the next steps (an admin may lift the stop);
	// a denied push is not offered again.
	pod.WaitText("#msg", "tapped Deny in Duo Mobile")
	pod.WaitText("#msg", ": the caller is not verified. Try SMS code instead, ask an admin to reset the lock or escalate if the caller cannot verify.")
	var againHidden bool
	pod.Eval(`document.getElementById("again").hidden`, &againHidden)
	assert.True(t, againHidden, "pushes are stopped after a deny: no Push again")
	tab.Screenshot("cw-pod-duo-denied")

	// Push is no longer offered; the API refuses it too, in words.
	var pushButtons int
	pod.Eval(`document.querySelectorAll('button[data-route="duo_push"]').length`, &pushButtons)
	assert.Zero(t, pushButtons, "no Push button while pushes are stopped")
	status, body = s.API.do("GET", "/contacts?q=Pat", nil)
	require.Equal(t, http.StatusOK, status, body)
	contacts := body["contacts"].([]any)
	require.Len(t, contacts, 1)
	status, body = s.API.do("POST", "/pushes", map[string]any{"contact_id": contacts[0].(map[string]any)["id"], "ticket_ref": cwBrowserTicket})
	assert.Equal(t, http.StatusForbidden, status, body)
	assert.Contains(t, body["error"], "stopped for 24 hours")
	assert.Len(t, fake.Pushes(), 2, "no third push")

	// The audit log has Duo's answer and the alert; the admins get it.
	status, body = s.API.do("GET", "/admin/audit?limit=50", nil)
	require.Equal(t, http.StatusOK, status, body)
	var actions []string
	for _, e := range body["events"].([]any) {
		actions = append(actions, e.(map[string]any)["action"].(string))
	}
	assert.Contains(t, actions, "push.answered")
	assert.Contains(t, actions, "push.alert")
	deadline = time.Now().Add(waitTimeout)
	var alerts int
	for time.Now().Before(deadline) {
		alerts = 0
		for _, m := range s.Mail.Messages() {
			if strings.HasPrefix(m.Subject, "Countersign alert: Duo push denied by Pat Pod") {
				alerts++
			}
		}
		if alerts >= 2 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	assert.Equal(t, 2, alerts, "both admins are alerted")
	deadline = time.Now().Add(waitTimeout)
	for len(cw.NoteRecords(cwBrowserTicket)) < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	notes = cw.NoteRecords(cwBrowserTicket)
	require.Len(t, notes, 2)
	assert.Contains(t, notes[1].Text, "tapped Deny")

	// An admin lifts the stop ("admin override only", security.md §4);
	// then a push goes again.
	contactID := contacts[0].(map[string]any)["id"].(string)
	status, body = s.API.do("POST", "/contacts/"+contactID+"/lock-reset", nil)
	require.Equal(t, http.StatusOK, status, body)
	status, body = s.API.do("POST", "/pushes", map[string]any{"contact_id": contactID, "ticket_ref": cwBrowserTicket})
	require.Less(t, status, 300, body)
	require.Len(t, fake.WaitPushes(3, waitTimeout), 3, "a push after the admin's reset")
	require.True(t, fake.Answer("pat", duotest.Approve))
	pod.WaitClass("#shield", "green")
}

// TestBrowserDuoSettings sets up a client's own Duo account on Settings →
// Duo push: Duo's live check refuses a wrong secret and a clock that is
// off, in words, and saves the right keys (the secret never shown again);
// Check now with the clock drifted says so and shows the failure on the
// row, then OK again. The admin maps Sam Caller to the Duo user s.caller
// (his e-mail is not a Duo name), and the console's Push goes to that user
// through the client's account (issue 19.1).
func TestBrowserDuoSettings(t *testing.T) {
	approve := duotest.Approve
	fake := duotest.Start(t, duotest.User{Username: "s.caller", Auto: &approve})
	s := startServer(t, func(c *Config) {
		c.duoHTTP = fake.HTTPClient()
		c.duoAllowHost = func(h string) bool { return h == fake.Host() }
	})
	cfg := fake.Config()
	admin := NewTab(t)
	admin.SetViewport(1100, 900)
	s.SignIn(t, admin, techEmail, techPassword, "")
	admin.Visit(s.URL + "/app/admin/duo")
	admin.WaitText("#duo-empty", "No Duo account yet.")
	admin.WaitTrue("the clients listed", `!!document.querySelector('#duo-client option[value=`+jsString(s.ClientID)+`]')`)
	admin.Eval(`(() => { const s = document.getElementById("duo-client"); s.value = `+jsString(s.ClientID)+`; return s.value; })()`, new(string))
	admin.Type("#duo-name", "Contoso Duo")
	admin.Type("#duo-host", cfg.APIHost)
	admin.Type("#duo-ikey", cfg.IntegrationKey)
	setSecret := func(v string) {
		t.Helper()
		admin.Eval(`(() => { document.getElementById("duo-skey").value = `+jsString(v)+`; return true; })()`, new(bool))
	}

	setSecret(strings.Repeat("z", 40))
	admin.Click("#duo-save")
	admin.WaitText("#duo-form-msg", "Duo refused the signature: the secret key is wrong")
	setSecret(cfg.SecretKey)
	fake.SetClockOffset(20 * time.Minute)
	admin.Click("#duo-save")
	admin.WaitText("#duo-form-msg", "this server's clock is off; keep it NTP-synced")
	admin.WaitVisible("#duo-empty")
	fake.SetClockOffset(0)
	admin.Click("#duo-save")
	admin.WaitText("#duo-form-msg", "Duo accepted the keys; saved.")
	admin.WaitText("#duo-table", "Contoso Duo")
	row := admin.Text("#duo-table tbody tr")
	for _, want := range []string{"Contoso", cfg.APIHost, cfg.IntegrationKey, "OK"} {
		assert.Contains(t, row, want)
	}
	var skey string
	admin.Eval(`document.getElementById("duo-skey").value`, &skey)
	assert.Empty(t, skey, "the form is cleared")
	assert.NotContains(t, admin.Text("#main"), cfg.SecretKey, "the secret is never shown again")

	// Check now: the clock drifted since; the row shows it, then OK again.
	fake.SetClockOffset(-20 * time.Minute)
	admin.Click(`button[aria-label="Check Contoso Duo now"]`)
	admin.WaitText("#duo-list-msg", "Contoso Duo: Duo refused the request's date: this server's clock is off")
	admin.WaitText("#duo-table tbody tr", "clock is off")
	fake.SetClockOffset(0)
	admin.Click(`button[aria-label="Check Contoso Duo now"]`)
	admin.WaitText("#duo-list-msg", "Contoso Duo: Duo accepted the keys, the signature and this server's clock.")
	admin.WaitText("#duo-table tbody tr", "OK")
	assert.NotContains(t, admin.Text("#duo-table tbody tr"), "clock is off")

	// The mapping: Sam Caller is s.caller in Duo.
	admin.Click(`button[aria-label="Users of Contoso Duo"]`)
	admin.WaitText("#duo-users-empty", "No users matched yet")
	admin.Type("#duo-map-search", "Sam")
	admin.WaitTrue("Sam Caller found", `[...document.getElementById("duo-map-contact").options].some((o) => o.textContent.startsWith("Sam Caller"))`)
	admin.Type("#duo-map-user", "s.caller")
	admin.Click("#duo-map-save")
	admin.WaitText("#duo-users-msg", "Saved.")
	admin.WaitText("#duo-users-table tbody", "Sam Caller")
	assert.Contains(t, admin.Text("#duo-users-table tbody tr"), "manual")
	var mapped string
	admin.Eval(`document.querySelector("#duo-users-table tbody input").value`, &mapped)
	assert.Equal(t, "s.caller", mapped)
	admin.CheckA11y("duo settings")
	admin.CheckKeyboard("duo settings")
	admin.Screenshot("duo-settings")

	// The console pushes to the mapped user through the client's account.
	admin.Visit(s.URL + "/app")
	admin.Type("#ticket", "T-48213")
	openContact(t, admin, "Sam", "Sam Caller")
	admin.WaitText(`#routes-list li[data-method="duo_push"]`, "Duo user s.caller")
	admin.Click(`button[data-route="duo_push"]`)
	pushes := fake.WaitPushes(1, waitTimeout)
	require.Len(t, pushes, 1)
	assert.Equal(t, "s.caller", pushes[0].Username)
	admin.WaitClass("#shield", "green")
	assert.NotContains(t, s.Logs.String(), cfg.SecretKey, "the secret is never logged")
}
