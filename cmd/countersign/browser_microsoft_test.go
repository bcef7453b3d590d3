package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core/microsoft"
	"github.com/countersign/countersign/core/microsoft/microsofttest"
)

const patUPN = "pat@fabrikam.example"

// TestBrowserMicrosoftPushInConnectWisePod connects the ticket's client to
// its Microsoft 365 tenant on Settings → Microsoft 365 (admin consent in
// the pop-out fills the tenant id, a wrong secret is refused by the live
// check, the import shows who has Microsoft Authenticator and whom they
// matched), then presses Push in the ConnectWise pod: the routing list
// offers the approve-only push, the fake connector's approval turns the
// shield green and notes the ticket; a second push denied on the phone
// shows Microsoft's answer in words, turns the shield red, stops pushes,
// is audited with its alert and e-mails the admins.
func TestBrowserMicrosoftPushInConnectWisePod(t *testing.T) {
	fake := &microsofttest.Server{Domain: "fabrikam.example"}
	fake.AddUser(microsofttest.User{UPN: patUPN, Mail: patUPN, DisplayName: "Pat Pod"})
	fake.AddUser(microsofttest.User{UPN: "lee@fabrikam.example", DisplayName: "Lee Nomfa", Synced: true,
		Methods: []string{microsofttest.MethodPassword, microsofttest.MethodPhone}})
	fake.Serve(t)
	f := newCWPod(t, "", func(c *Config) {
		c.microsoft = &microsoft.Options{HTTPClient: fake.HTTPClient(), LoginURL: fake.URL(), GraphURL: fake.URL(),
			ConnectorURL: fake.URL(), GraphResource: "https://graph.microsoft.com", MaxRetryWait: 3 * time.Second}
	})
	s, cw := f.s, f.cw

	// The pod first: it mirrors the ticket's contact and client, which
	// has no Microsoft 365 tenant yet.
	tab := cwBrowser(t, f.port, cw.Site())
	tab.SetViewport(900, 900)
	openPod := func() *Tab {
		tab.Visit("https://" + cw.Site() + "/v4_6_release/ConnectWise.aspx?mode=prompt")
		pod := tab.FrameTab(t, "/pod/"+testTenantSlug+"/")
		pod.WaitVisible("#pod-main")
		pod.WaitText("#contact-name", "Pat Pod")
		return pod
	}
	pod := openPod()
	pod.WaitText(`#routes-list li[data-method="microsoft_push"]`, "no Microsoft 365 tenant connected for this client")

	// Settings → Microsoft 365, as an admin, in the same browser.
	admin := tab.Sibling(t)
	s.SignIn(t, admin, techEmail, techPassword, "")
	admin.Visit(s.URL + "/app/admin/microsoft")
	admin.WaitVisible("#ms-form")
	admin.WaitText("#ms-empty", "No Microsoft 365 tenant connected yet")
	admin.WaitText("#ms-redirect", s.URL+"/app/admin/microsoft/consent")
	admin.WaitTrue("the pod's client in the list", `[...document.getElementById("ms-client").options].some((o) => o.textContent === "Company 1101")`)
	var picked string
	admin.Eval(`(() => { const s = document.getElementById("ms-client");
		const o = [...s.options].find((o) => o.textContent === "Company 1101"); s.value = o ? o.value : "";
		s.dispatchEvent(new Event("change")); return s.value; })()`, &picked)
	require.NotEmpty(t, picked, "the pod's client is listed")
	cfg := fake.Config()
	admin.Type("#ms-name", "Fabrikam 365")
	admin.Type("#ms-app", cfg.ClientID)

	// Admin consent: the pop-out goes to Microsoft (recorded here: the
	// test has no Microsoft), and Microsoft's answer comes back to the
	// return page in a real pop-out, which tells this page the tenant id.
	admin.Eval(`window.__realOpen = window.open; window.__opened = []; window.open = (u, n) => { const w = { location: {}, close() {} }; window.__opened.push(w); return w; }; true`, nil)
	admin.Click("#ms-consent")
	var consentURL string
	admin.WaitTrue("the pop-out sent to Microsoft", `window.__opened.length === 1 && !!window.__opened[0].location.href`)
	admin.Eval(`window.__opened[0].location.href`, &consentURL)
	u, err := url.Parse(consentURL)
	require.NoError(t, err)
	assert.Equal(t, "login.microsoftonline.com", u.Host)
	assert.Equal(t, "/organizations/adminconsent", u.Path)
	assert.Equal(t, cfg.ClientID, u.Query().Get("client_id"))
	assert.Equal(t, s.URL+"/app/admin/microsoft/consent", u.Query().Get("redirect_uri"))
	back := url.Values{"admin_consent": {"True"}, "tenant": {cfg.TenantID}, "state": {u.Query().Get("state")}}
	admin.Eval(`(() => { window.open = window.__realOpen; const b = document.createElement("button"); b.id = "test-return"; b.type = "button";
		b.textContent = "return"; b.onclick = () => window.open(`+jsString("/app/admin/microsoft/consent?"+back.Encode())+`, "ms-consent");
		document.body.append(b); return true; })()`, nil)
	admin.Click("#test-return")
	admin.WaitText("#ms-consent-msg", "Consent granted for tenant "+cfg.TenantID)
	var tenantField string
	admin.Eval(`document.getElementById("ms-tenant").value`, &tenantField)
	assert.Equal(t, cfg.TenantID, tenantField, "the return page filled in the tenant id")
	admin.Eval(`document.getElementById("test-return").remove(); true`, nil)

	// A wrong secret is refused by the live check; the right one saves.
	admin.Type("#ms-secret", "not-the-secret")
	admin.Type("#ms-connector", cfg.ConnectorSecret)
	admin.Click("#ms-push")
	admin.Click("#ms-save")
	admin.WaitText("#ms-form-msg", "Microsoft refused the client secret")
	admin.Eval(`document.getElementById("ms-secret").value = ""; true`, nil)
	admin.Type("#ms-secret", cfg.ClientSecret)
	admin.Click("#ms-save")
	admin.WaitText("#ms-form-msg", "Microsoft accepted the credentials; saved.")
	admin.WaitText("#ms-table", "Fabrikam 365")
	row := admin.Text("#ms-table tbody tr")
	assert.Contains(t, row, "On (secret)")
	assert.Contains(t, row, "Not yet")
	assert.NotContains(t, admin.Text("#main"), cfg.ClientSecret)

	// The import: who has Microsoft Authenticator, and whom they are.
	admin.Click(`button[aria-label="Users of Fabrikam 365"]`)
	admin.WaitVisible("#ms-users-box")
	admin.Click("#ms-import")
	admin.WaitText("#ms-import-msg", "Imported 2 users: 1 with Microsoft Authenticator, 1 synced from Active Directory, 1 matched to contacts")
	admin.WaitText(`tr[data-upn="`+patUPN+`"]`, "Registered")
	assert.Contains(t, admin.Text(`tr[data-upn="`+patUPN+`"]`), "Pat Pod (by mail)")
	assert.Contains(t, admin.Text(`tr[data-upn="lee@fabrikam.example"]`), "Not registered (has phone)")
	assert.Contains(t, admin.Text(`tr[data-upn="lee@fabrikam.example"]`), "synced")
	admin.CheckA11y("microsoft 365 settings")
	admin.CheckKeyboard("microsoft 365 settings")
	admin.Screenshot("microsoft-settings")

	// The pod again: the approve-only push is offered, with what to say.
	// The ConnectWise tab comes to the front (a background tab renders
	// no frames, so its screenshots would wait forever).
	tab.Run("bring the ConnectWise tab to the front", page.BringToFront())
	pod = openPod()
	pod.WaitText(`#routes-list li[data-method="microsoft_push"]`, "approve-only push to "+patUPN)
	pod.WaitText(`#routes-list li[data-method="microsoft_push"]`, "tell the caller to expect an Approve/Deny prompt")
	pod.CheckA11y("connectwise pod with the Microsoft route")

	// Push, approved in Microsoft Authenticator (the fake).
	pod.Click(`button[data-route="microsoft_push"]`)
	pushes := fake.WaitPushes(1, waitTimeout)
	require.Len(t, pushes, 1)
	assert.Equal(t, patUPN, pushes[0].UPN)
	assert.Equal(t, microsofttest.PhoneAppNotification, pushes[0].Method)
	pod.WaitText("#active-status", "Approve-only push sent to Microsoft Authenticator")
	require.True(t, fake.Answer(patUPN, microsofttest.Approve))
	pod.WaitClass("#shield", "green")
	pod.WaitText("#shield", "via Microsoft Authenticator push")
	tab.Screenshot("cw-pod-microsoft-verified")
	waitNotes := func(n int) []string {
		t.Helper()
		deadline := time.Now().Add(waitTimeout)
		for len(cw.NoteRecords(cwBrowserTicket)) < n && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		var out []string
		for _, r := range cw.NoteRecords(cwBrowserTicket) {
			out = append(out, r.Text)
		}
		require.Len(t, out, n)
		return out
	}
	notes := waitNotes(1)
	assert.Contains(t, notes[0], "Pat Pod was VERIFIED by Microsoft Authenticator push (approve-only)")

	// A second push, denied on the phone.
	pod.Click(`button[data-route="microsoft_push"]`)
	require.Len(t, fake.WaitPushes(2, waitTimeout), 2)
	require.True(t, fake.Answer(patUPN, microsofttest.Deny))
	pod.WaitText("#active-status", "Microsoft Authenticator push to")
	pod.WaitText("#active-status", "Failed")
	pod.WaitClass("#shield", "red")
	pod.WaitText(`#routes-list li[data-method="microsoft_push"]`, "stopped for 24 hours")
	pod.WaitVisible("#next")
	pod.WaitText("#next", "Try SMS code instead")
	// One message: Microsoft's answer in words and the next steps (an admin may lift the stop); a
	// denied push is not offered again.
	pod.WaitText("#msg", "The user denied the request in Microsoft Authenticator")
	pod.WaitText("#msg", ": the caller is not verified. Try SMS code instead, ask an admin to reset the lock or escalate if the caller cannot verify.")
	var againHidden bool
	pod.Eval(`document.getElementById("again").hidden`, &againHidden)
	assert.True(t, againHidden, "pushes are stopped after a deny: no Push again")
	tab.Screenshot("cw-pod-microsoft-denied")
	var pushButtons int
	pod.Eval(`document.querySelectorAll('button[data-route="microsoft_push"]').length`, &pushButtons)
	assert.Zero(t, pushButtons, "no Push button while pushes are stopped")

	// The audit log has the answer and the alert; the admins get it; the
	// ticket has the denial.
	status, body := s.API.do("GET", "/admin/audit?limit=80", nil)
	require.Equal(t, http.StatusOK, status, body)
	var actions []string
	for _, e := range body["events"].([]any) {
		actions = append(actions, e.(map[string]any)["action"].(string))
	}
	for _, a := range []string{"push.answered", "push.alert", "microsoft.connection_saved", "microsoft.users_imported", "microsoft.consented"} {
		assert.Contains(t, actions, a)
	}
	deadline := time.Now().Add(waitTimeout)
	var alerts int
	for time.Now().Before(deadline) {
		alerts = 0
		for _, m := range s.Mail.Messages() {
			if strings.HasPrefix(m.Subject, "Countersign alert: Microsoft Authenticator push") && strings.HasSuffix(m.Subject, "by Pat Pod") {
				alerts++
			}
		}
		if alerts >= 2 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	assert.Equal(t, 2, alerts, "both admins are alerted")
	notes = waitNotes(2)
	assert.Contains(t, notes[1], "denied the request in Microsoft Authenticator")
	assert.Len(t, fake.Pushes(), 2, "no third push")
	assert.NotContains(t, s.Logs.String(), cfg.ClientSecret, "the secret is never logged")
	assert.NotContains(t, s.Logs.String(), cfg.ConnectorSecret)
}

// TestBrowserMicrosoftUsersMore imports a tenant of 105 users, which Graph
// gives in pages of 40 (and throttles once, with Retry-After), and lists
// them on Settings → Microsoft 365 a page at a time: the first 100 by UPN
// with More users, which appends the last 5 once each and then hides; the
// Users button starts again at the first page (issue 19.2).
func TestBrowserMicrosoftUsersMore(t *testing.T) {
	const total = 105
	fake := &microsofttest.Server{Domain: "contoso.example", PageSize: 40}
	fake.AddUser(microsofttest.User{UPN: "sam@contoso.example", Mail: "sam@contoso.example", DisplayName: "Sam Caller"})
	var want []string // by UPN: sam@ sorts before user000@
	want = append(want, "sam@contoso.example")
	for i := range total - 1 {
		u := microsofttest.User{UPN: fmt.Sprintf("user%03d@contoso.example", i), DisplayName: fmt.Sprintf("User %03d", i)}
		if i%2 == 1 {
			u.Methods = []string{microsofttest.MethodPassword, microsofttest.MethodPhone}
		}
		fake.AddUser(u)
		want = append(want, u.UPN)
	}
	fake.Serve(t)
	s := startServer(t, func(c *Config) {
		c.microsoft = &microsoft.Options{HTTPClient: fake.HTTPClient(), LoginURL: fake.URL(), GraphURL: fake.URL(),
			ConnectorURL: fake.URL(), GraphResource: "https://graph.microsoft.com", MaxRetryWait: 3 * time.Second}
	})
	cfg := fake.Config()
	status, body := s.API.do("POST", "/admin/microsoft", map[string]any{"client_id": s.ClientID, "name": "Contoso 365",
		"entra_tenant": cfg.TenantID, "app_client_id": cfg.ClientID, "client_secret": cfg.ClientSecret})
	require.Equal(t, http.StatusCreated, status, body)

	admin := NewTab(t)
	admin.SetViewport(1100, 900)
	s.SignIn(t, admin, techEmail, techPassword, "")
	admin.Visit(s.URL + "/app/admin/microsoft")
	admin.WaitText("#ms-table", "Contoso 365")
	admin.Click(`button[aria-label="Users of Contoso 365"]`)
	admin.WaitVisible("#ms-users-box")
	admin.WaitVisible("#ms-users-empty")

	pages := fake.Count("graph")
	fake.Throttle(1, 1)
	admin.Click("#ms-import")
	admin.WaitText("#ms-import-msg", fmt.Sprintf("Imported %d users: %d with Microsoft Authenticator", total, total/2+1))
	assert.Equal(t, 1, fake.Count("throttled"), "Graph throttled the import once; it waited and went on")
	assert.Greater(t, fake.Count("graph")-pages, 3, "the users came in pages of 40")

	shown := func() []string {
		var upns []string
		admin.Eval(`[...document.querySelectorAll("#ms-users-table tbody tr")].map((r) => r.dataset.upn)`, &upns)
		return upns
	}
	moreHidden := func() bool {
		var h bool
		admin.Eval(`document.getElementById("ms-users-more").hidden`, &h)
		return h
	}
	admin.WaitTrue("the first page", `document.querySelectorAll("#ms-users-table tbody tr").length === 100`)
	assert.Equal(t, want[:100], shown(), "the first 100 by UPN")
	assert.False(t, moreHidden(), "more users to show")
	assert.Contains(t, admin.Text(`tr[data-upn="sam@contoso.example"]`), "Sam Caller (by mail)")
	assert.Contains(t, admin.Text(`tr[data-upn="user001@contoso.example"]`), "Not registered (has phone)")
	admin.CheckA11y("microsoft 365 users, first page")

	admin.Click("#ms-users-more")
	admin.WaitTrue("the last page", `document.querySelectorAll("#ms-users-table tbody tr").length === `+fmt.Sprint(total))
	assert.Equal(t, want, shown(), "every user once, in order")
	assert.True(t, moreHidden(), "nothing more after the last page")
	admin.Screenshot("microsoft-users-more")

	// Users again: the first page again, not appended.
	admin.Click(`button[aria-label="Users of Contoso 365"]`)
	admin.WaitTrue("back to the first page", `document.querySelectorAll("#ms-users-table tbody tr").length === 100`)
	assert.Equal(t, want[:100], shown())
	assert.False(t, moreHidden())
}
