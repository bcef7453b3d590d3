package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/halo"
	"github.com/countersign/countersign/halo/halotest"
)

// The Halo custom tab in a real browser: a page playing Halo's ticket
// screen, served by the fake Halo at the instance's own origin
// (https://acme.halopsa.com, mapped to the fake by the test's chromium),
// frames the tab from Countersign's origin; the technician signs in with
// Halo agent sign-in in a pop-out against the fake's authorize endpoint,
// runs the SMS-code flow, and the result lands on the fake's ticket as an
// action hidden from the end user.

// haloTicketPage is Halo's ticket screen with the custom tab.
const haloTicketPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ticket %[1]s - HaloPSA</title></head>
<body style="font-family: sans-serif; margin: 0; background: #f4f6f8">
<header style="background: #1c2b3a; color: #fff; padding: 10px 16px">HaloPSA · Ticket %[1]s · Countersign tab</header>
<main style="padding: 16px">
<iframe id="tab" title="Countersign" src="%[2]s" width="%[3]s" height="760" style="border: 1px solid #c3c9d2; background: #fff"></iframe>
</main>
</body></html>`

func TestBrowserHaloTab(t *testing.T) {
	start := time.Now()
	hs := haloFake(t)
	jamie := psa.Member{Ref: "42", Name: "Jamie Tech", Email: "jamie@msp.example"}
	hs.AddAgent(jamie, false)

	s := startServer(t, func(c *Config) { c.psaHTTP = hs.HTTPClient() })
	hs.AllowRedirect(s.URL + halo.AgentCallbackPath)
	cfg := hs.Config()
	cfg.AuthURL, cfg.Tenant = hs.URL()+"/auth", hs.Tenant() // stored at set-up
	cfg.AgentClientID = halotest.AgentClientID
	intID := s.AddIntegration(t, halo.ID, "Halo", cfg)

	// Halo agents may become pod-only technicians.
	status, body := s.API.do("GET", "/admin/policies/default", nil)
	require.Equal(t, http.StatusOK, status, body)
	policy := body["policy"].(map[string]any)
	policy["auto_create_pod_technicians"] = true
	status, body = s.API.do("PUT", "/admin/policies/default", policy)
	require.Equal(t, http.StatusOK, status, body)

	tabURL := fmt.Sprintf("%s/pod/%s/%s?ticket=%s", s.URL, testTenantSlug, intID, haloTicket)
	for _, w := range []string{"800", "600", "400"} {
		hs.ServePage("/tickets/"+w, fmt.Sprintf(haloTicketPage, haloTicket, tabURL, w))
	}
	tab := cwBrowser(t, hs.Port(), hs.Host())
	tab.SetViewport(900, 860)
	tab.Visit(hs.URL() + "/tickets/800")
	var origin string
	tab.Eval(`location.origin`, &origin)
	require.Equal(t, hs.URL(), origin, "the ticket screen runs at the instance's origin")

	pod := tab.FrameTab(t, "/pod/"+testTenantSlug+"/")
	pod.WaitVisible("#halo-signin")
	pod.WaitText("#signin-msg", "with your Halo account")
	tab.Screenshot("halo-tab-signin")

	// Halo agent sign-in in the pop-out, against the fake's authorize page.
	popc := chromedp.WaitNewTarget(pod.Ctx, func(in *target.Info) bool { return strings.Contains(in.URL, "/auth/authorize") })
	pod.Click("#halo-signin")
	var popID target.ID
	select {
	case popID = <-popc:
	case <-time.After(waitTimeout):
		pod.Fail("open the Halo sign-in pop-out", fmt.Errorf("no pop-out window opened"))
	}
	pctx, cancel := chromedp.NewContext(pod.Ctx, chromedp.WithTargetID(popID))
	pop := startFrameTab(t, pctx, cancel)
	pop.WaitVisible("#halo-sign-in")
	pop.Screenshot("halo-agent-signin-popout")
	pop.Click("#halo-sign-in")

	// Halo sends the pop-out to our callback page, which hands the code to
	// the tab; the server redeems it and asks Halo who signed in.
	pod.WaitVisible("#pod-main")
	pod.WaitText("#pod-who", "Jamie Tech")
	pod.WaitText("#pod-title", "Ticket #"+haloTicket)
	pod.WaitText("#contact-name", "Hal User")
	pod.WaitTrue("the live connection", `document.getElementById("live").dataset.state === "online"`)
	pod.CheckA11y("halo tab")
	tab.Screenshot("halo-tab")

	// The SMS-code flow.
	seen := len(s.Twilio.Messages())
	pod.Click(`button[data-method="sms_code"]`)
	pod.WaitVisible("#check")
	code := s.WaitForSMSCode(t, haloPhone, seen)
	pod.Type("#code", code)
	pod.Click(`#check button[type="submit"]`)
	pod.WaitClass("#shield", "green")
	pod.WaitText("#shield", "Verified by Jamie Tech")
	tab.Screenshot("halo-tab-verified")

	// The outbox writes the result to the Halo ticket as a private action.
	deadline := time.Now().Add(waitTimeout)
	for len(hs.Actions(haloTicket)) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	acts := hs.Actions(haloTicket)
	require.Len(t, acts, 1, "the result is written to the Halo ticket")
	assert.Contains(t, acts[0].Note, "Hal User was VERIFIED by SMS code")
	assert.Contains(t, acts[0].Note, "Jamie Tech")
	require.NotNil(t, acts[0].HiddenFromUser)
	assert.True(t, *acts[0].HiddenFromUser, "hidden from the end user")
	require.NotNil(t, acts[0].SendEmail)
	assert.False(t, *acts[0].SendEmail, "no e-mail to the end user")
	assert.Equal(t, 1, hs.TicketStatus(haloTicket), "the ticket's status is untouched")

	// The tab at the narrower widths Halo's layouts give it.
	for _, w := range []string{"600", "400"} {
		tab.Visit(hs.URL() + "/tickets/" + w)
		narrow := tab.FrameTab(t, "/pod/"+testTenantSlug+"/")
		narrow.WaitVisible("#pod-main")
		narrow.WaitText("#contact-name", "Hal User")
		tab.Screenshot("halo-tab-" + w)
	}
	t.Logf("Halo tab flow in %s", time.Since(start).Round(time.Millisecond))
}

// TestBrowserHaloWebhookCredentials: an admin adds a Halo integration on
// the integrations page leaving the webhook's user and password blank;
// Countersign makes them, creates Halo's webhook with them, and shows them
// once. Deliveries with them are taken; the page never shows the password
// again, and "Make a new one" replaces it (the old one then fails).
func TestBrowserHaloWebhookCredentials(t *testing.T) {
	hs := haloFake(t)
	s := startServer(t, func(c *Config) { c.psaHTTP = hs.HTTPClient() })
	tech := NewTab(t)
	s.SignIn(t, tech, techEmail, techPassword, "")
	tech.Visit(s.URL + "/app/admin/integrations")
	tech.WaitVisible("#int-new")
	tech.Click("#int-new")
	tech.WaitVisible("#int-kind")
	tech.Eval(`(() => { const k = document.getElementById("int-kind"); k.value = "`+halo.ID+`";
		k.dispatchEvent(new Event("change")); return true })()`, new(bool))
	tech.WaitVisible("#int-field-webhook_password")
	for field, v := range map[string]string{"instance_url": hs.URL(), "tenant": hs.Tenant(), "client_id": halotest.ClientID,
		"client_secret": halotest.ClientSecret, "auth_url": hs.URL() + "/auth"} {
		tech.Type("#int-field-"+field, v)
	}
	tech.Click("#int-save")
	tech.WaitVisible("#int-generated")
	user, password := tech.Text("#int-generated-webhook_user"), tech.Text("#int-generated-webhook_password")
	assert.Regexp(t, `^countersign-[0-9a-f]{12}$`, user)
	assert.Regexp(t, `^[A-Za-z0-9_-]{43}$`, password)
	tech.CheckA11y("integrations (generated credentials)")
	tech.Screenshot("integrations-halo-generated-webhook-credentials")

	hooks := hs.Webhooks()
	require.Len(t, hooks, 1, "Countersign created Halo's webhook")
	assert.Equal(t, user, hooks[0]["basic_username"])
	assert.Equal(t, password, hooks[0]["basic_password"])
	hook, _ := hooks[0]["url"].(string)
	require.Contains(t, hook, "/webhooks/psa/"+testTenantSlug+"/")
	_, body := hs.SignedEvent("ticket", psa.CallbackAdded, haloTicket)
	post := func(user, pass string) int {
		t.Helper()
		status, err := hs.Post(t.Context(), hook, user, pass, body)
		require.NoError(t, err)
		return status
	}
	assert.Equal(t, http.StatusOK, post(user, password), "the generated credentials are taken")
	assert.Equal(t, http.StatusUnauthorized, post(halotest.WebhookUser, halotest.WebhookPassword), "no other")

	// Shown once: a reload shows the user (not secret) in the form but the
	// password nowhere.
	tech.Visit(s.URL + "/app/admin/integrations")
	tech.WaitVisible("#int-new")
	var html string
	tech.Eval(`document.documentElement.outerHTML`, &html)
	assert.NotContains(t, html, password)
	assert.NotContains(t, s.Logs.String(), password, "nor in the server's log")

	// A new password on request: the old one stops working.
	id := strings.TrimPrefix(hook[strings.LastIndex(hook, "/"):], "/")
	tech.WaitVisible("#int-edit-" + id)
	tech.Click("#int-edit-" + id)
	tech.WaitVisible("#int-field-webhook_password-regenerate")
	tech.Click("#int-field-webhook_password-regenerate")
	tech.Click("#int-save")
	tech.WaitVisible("#int-generated-webhook_password")
	renewed := tech.Text("#int-generated-webhook_password")
	assert.NotEqual(t, password, renewed)
	assert.Equal(t, http.StatusUnauthorized, post(user, password), "the replaced password fails")
	assert.Equal(t, http.StatusOK, post(user, renewed))
}
