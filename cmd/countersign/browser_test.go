package main

import (
	"fmt"
	"image/color"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
)

// Browser tests: the real server (Run) driven through Debian's chromium.
// Helpers are in browser_helpers_test.go; screenshots land in
// artifacts/screenshots (or $COUNTERSIGN_ARTIFACTS).

// TestBrowserSignIn signs a technician in on the real login page: a wrong
// password gets the generic message, the first sign-in enrols TOTP from the
// key the page shows, and a later sign-in uses a code from that key.
func TestBrowserSignIn(t *testing.T) {
	s := startServer(t)
	tab := NewTab(t)

	tab.Visit(s.URL + "/?tenant=" + testTenantSlug)
	tab.WaitVisible("#login")
	tab.CheckA11y("login")
	tab.CheckKeyboard("login")
	tab.Screenshot("login")

	tab.Visit(s.URL + "/?tenant=" + testTenantSlug)
	tab.Type("#email", techEmail)
	tab.Type("#password", "not the password")
	tab.Click(`#login button[type="submit"]`)
	tab.WaitText("#error", "email, password or code is wrong")
	tab.Screenshot("login-wrong-password")
	assert.Equal(t, "/", pathOf(tab.URL()), "a wrong password stays on the sign-in page")

	// An unknown user gets exactly the same message.
	tab.Visit(s.URL + "/?tenant=" + testTenantSlug)
	tab.Type("#email", "nobody@acme.example")
	tab.Type("#password", techPassword)
	tab.Click(`#login button[type="submit"]`)
	tab.WaitText("#error", "email, password or code is wrong")

	secret := s.SignIn(t, tab, techEmail, techPassword, "")
	tab.Screenshot("console-signed-in")

	// Sign out, then in again with the enrolled authenticator.
	tab.Eval(`fetch("/api/v1/logout", {method: "POST"}).then(r => r.status)`, new(int))
	tab.Visit(s.URL + "/app")
	tab.WaitURL("/")
	s.SignIn(t, tab, techEmail, techPassword, secret)
	assert.Equal(t, "/app", pathOf(tab.URL()))
}

// TestBrowserSMSCode runs the SMS-code flow end to end: the technician
// finds the contact, sends a code, types the code that reached the Twilio
// fake, and the shield turns green.
func TestBrowserSMSCode(t *testing.T) {
	s := startServer(t)
	tech := NewTab(t)
	s.SignIn(t, tech, techEmail, techPassword, "")

	openContact(t, tech, "Sam", "Sam Caller")
	tech.WaitStable("main", 400*time.Millisecond)
	tech.CheckA11y("console (contact open)")
	tech.CheckKeyboard("console (contact open)")
	tech.Screenshot("console")

	seen := len(s.Twilio.Messages())
	tech.Click(`button[data-method="sms_code"]`)
	code := s.WaitForSMSCode(t, "+15550100142", seen)
	tech.WaitVisible("#code")
	tech.Type("#code", code)
	tech.Click(`#check button[type="submit"]`)
	tech.WaitClass("#shield", "green")
	tech.Screenshot("console-verified-sms")
	tech.CheckA11y("console (verified)")
}

// TestBrowserEmailLink runs the email-link flow: the technician sends the
// link from the console; the end user, in a browser of their own, opens the
// link from the email (which changes nothing), types the code the
// technician reads out and presses Validate; the technician's shield turns
// green.
func TestBrowserEmailLink(t *testing.T) {
	s := startServer(t)
	s.SetBranding(t, demoBranding())
	tech := NewTab(t)
	s.SignIn(t, tech, techEmail, techPassword, "")
	openContact(t, tech, "Sam", "Sam Caller")

	seen := len(s.Mail.Messages())
	tech.Click(`button[data-method="email_link"]`)
	tech.WaitTrue("the technician code", `/^\d{6}$/.test((document.getElementById("techcode-value") || {}).textContent || "")`)
	techCode := tech.Text("#techcode-value")
	link := s.WaitForLink(t, "sam@contoso.example", seen)
	tech.Screenshot("console-email-link-sent")
	id := latestVerification(t, s, s.ContactID)
	before := s.Verification(t, id)
	require.Contains(t, []any{"pending", "sent"}, before["status"])

	user := NewTab(t)
	user.SetViewport(360, 740)
	user.Visit(link)
	user.WaitVisible("#code")
	assert.Contains(t, user.Text("main"), techName)
	assert.Contains(t, user.Text("main"), testTenantName)
	user.Screenshot("email-flow-link-page")
	// Opening the link (twice, as scanners do) changed nothing.
	user.Visit(link)
	assert.Equal(t, before, s.Verification(t, id), "a GET of the link changed the verification")
	var cookies int
	user.Eval(`document.cookie.length`, &cookies)
	assert.Zero(t, cookies, "the end user's browser holds no cookie of ours")

	user.Type("#code", techCode)
	user.Submit(`button[value="confirm"]`)
	user.WaitVisible(".result.confirmed")
	assert.Contains(t, user.Text(".result"), "you are confirmed")
	user.Screenshot("email-flow-confirmed")

	tech.WaitClass("#shield", "green")
	tech.Screenshot("console-verified-email")
	assert.Equal(t, "verified", s.Verification(t, id)["status"])
}

// TestBrowserLinkPages renders every end-user page in the browser at phone
// and laptop widths, checks labels, contrast and keyboard use on them, and
// validates one link with the keyboard alone.
func TestBrowserLinkPages(t *testing.T) {
	s := startServer(t)
	s.SetBranding(t, demoBranding())
	user := NewTab(t)
	// PerContactHour is 5 by default: two contacts share the links.
	other := s.AddContact(t, "Alex", "Other", "(555) 010-0143", "alex@contoso.example")

	// The question, then Validate with the keyboard only.
	id, techCode, link := s.StartLink(t, s.ContactID, "sam@contoso.example")
	user.Visit(link)
	user.WaitVisible("#code")
	user.ScreenshotWidths("link-form")
	user.SetViewport(360, 740)
	user.CheckA11y("link form (360 px)")
	user.SetViewport(1024, 768)
	user.CheckA11y("link form")
	user.CheckKeyboard("link form")

	user.Visit(link)
	user.FocusStart()
	user.Keys(kb.Tab)
	requireFocus(t, user, "code")
	user.Keys(techCode)
	user.Keys(kb.Tab)
	requireFocus(t, user, "presence") // only "This wasn't me" needs it on an email link
	user.Keys(kb.Tab)
	requireFocus(t, user, "confirm")
	user.MarkPage()
	user.Keys(kb.Enter)
	user.WaitNewPage()
	user.WaitVisible(".result.confirmed")
	assert.Equal(t, "verified", s.Verification(t, id)["status"])
	user.CheckA11y("link confirmed")
	user.ScreenshotWidths("link-confirmed")

	// Opened again: already used.
	user.Visit(link)
	user.WaitVisible(".result.used")
	user.CheckA11y("link used")
	user.ScreenshotWidths("link-used")

	// A wrong code, then "This wasn't me".
	id, _, link = s.StartLink(t, s.ContactID, "sam@contoso.example")
	user.Visit(link)
	user.Type("#code", "000000")
	user.Submit(`button[value="confirm"]`)
	user.WaitVisible(`#code[aria-invalid="true"]`)
	assert.Contains(t, user.Text("#code-error"), "does not match")
	var focused string
	user.Eval(`document.activeElement.id`, &focused)
	assert.Equal(t, "code", focused, "after a wrong code the field has the focus again")
	user.CheckA11y("link wrong code")
	user.ScreenshotWidths("link-wrong-code")
	// "This wasn't me" needs the number shown on the page typed back
	// (issue 9 item 5): without it nothing changes.
	user.Submit(`button[value="decline"]`)
	user.WaitVisible(`#presence[aria-invalid="true"]`)
	assert.Contains(t, []any{"pending", "sent"}, s.Verification(t, id)["status"], "a decline without the number changes nothing")
	user.Type("#presence", user.Text(".eu-presence"))
	user.Submit(`button[value="decline"]`)
	user.WaitVisible(".result.declined")
	assert.Equal(t, "failed", s.Verification(t, id)["status"])
	user.CheckA11y("link declined")
	user.ScreenshotWidths("link-declined")

	// Cancelled by the help desk.
	id, _, link = s.StartLink(t, s.ContactID, "sam@contoso.example")
	status, body := s.API.do("POST", "/verifications/"+id+"/cancel", nil)
	require.Equal(t, 200, status, body)
	user.Visit(link)
	user.WaitVisible(".result.cancelled")
	user.CheckA11y("link cancelled")
	user.ScreenshotWidths("link-cancelled")

	// Five wrong codes burn the link.
	_, _, link = s.StartLink(t, other, "alex@contoso.example")
	user.Visit(link)
	for range 5 {
		user.Type("#code", "000000")
		user.Submit(`button[value="confirm"]`)
	}
	user.WaitVisible(".result.locked")
	user.CheckA11y("link locked")
	user.ScreenshotWidths("link-locked")

	// Expired and unknown links: the same page, byte for byte.
	id, _, link = s.StartLink(t, other, "alex@contoso.example")
	s.ExpireVerification(t, id)
	user.Visit(link)
	user.WaitVisible(".result.invalid")
	user.CheckA11y("link expired")
	user.ScreenshotWidths("link-expired")
	var expiredHTML, unknownHTML string
	user.Eval(`document.documentElement.outerHTML`, &expiredHTML)
	user.Visit(s.URL + "/l/" + testTenantSlug + "/" + randomToken())
	user.WaitVisible(".result.invalid")
	user.Eval(`document.documentElement.outerHTML`, &unknownHTML)
	assert.Equal(t, expiredHTML, unknownHTML, "an expired link and an unknown one look different")
	assert.Contains(t, unknownHTML, "This link is not valid or has expired")
	assert.NotContains(t, unknownHTML, testTenantName)
	user.ScreenshotWidths("link-unknown")

	// Nothing on any of these pages came from another host.
	for _, l := range user.Logs() {
		assert.NotContains(t, l, "Refused to", "CSP refused something: %s", l)
	}
}

// demoBranding is a tenant brand with a logo, colours and a gradient.
func demoBranding() core.Branding {
	return core.Branding{
		PrimaryColor: "#0f4c81", AccentColor: "#00897b",
		GradientFrom: "#0f4c81", GradientTo: "#26a69a",
		LogoDataURI:  logoDataURI(color.RGBA{0x0f, 0x4c, 0x81, 0xff}, color.RGBA{0x26, 0xa6, 0x9a, 0xff}),
		SupportPhone: "+1 555 010 0100",
	}
}

// openContact searches the console for query and opens the contact named
// name, then waits for its verify buttons.
func openContact(t *testing.T, tb *Tab, query, name string) {
	t.Helper()
	tb.Type("#search", query)
	tb.WaitStable("#contacts", 400*time.Millisecond) // the search is debounced
	sel := fmt.Sprintf(`[...document.querySelectorAll("#contacts button")].find(b => b.textContent.trim() === %s)`, jsString(name))
	tb.WaitTrue("the contact "+name+" in the list", "!!"+sel)
	tb.Eval(sel+`.click() || true`, new(bool))
	tb.WaitVisible(`button[data-method="sms_code"]`)
}

// requireFocus fails unless the focused element has id, or is the button
// with value.
func requireFocus(t *testing.T, tb *Tab, idOrValue string) {
	t.Helper()
	var got string
	tb.Eval(`(() => { const e = document.activeElement; return e ? (e.id || e.value || e.tagName) : ""; })()`, &got)
	require.Equal(t, idOrValue, got, "the keyboard focus is on the wrong element")
}

// latestVerification returns the id of the contact's newest verification.
func latestVerification(t *testing.T, s *testServer, contactID string) string {
	t.Helper()
	status, body := s.API.do("GET", "/contacts/"+contactID+"/verifications", nil)
	require.Equal(t, 200, status, body)
	list, _ := body["verifications"].([]any)
	require.NotEmpty(t, list, "the contact has no verification")
	first, _ := list[0].(map[string]any)
	id, _ := first["id"].(string)
	require.NotEmpty(t, id)
	return id
}

func pathOf(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
		if j := strings.IndexByte(u, '/'); j >= 0 {
			u = u[j:]
		} else {
			u = "/"
		}
	}
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	return u
}

// TestBrowserA11yChecker holds the accessibility checker to what it must
// find, on a page built to fail each check.
func TestBrowserA11yChecker(t *testing.T) {
	bad := `<!doctype html><html lang="en"><head><title>bad</title><style>
  body { background: #fff; color: #111; }
  .faint { color: #aaa; }
  .onimg { background: linear-gradient(#000, #fff); color: #777; }
  #b2:focus, #b2:focus-visible { outline: none; box-shadow: none; }
</style></head><body>
<p>Readable text.</p>
<p class="faint">Faint text</p>
<div class="onimg"><span>On a gradient</span></div>
<input id="nolabel">
<label for="good">Good</label><input id="good">
<button id="b1"></button>
<button id="b2">No ring</button>
<a href="#x"><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></a>
<button id="jump" tabindex="2">Jumps the queue</button>
</body></html>`
	origin := ServeOtherOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(bad))
	}))
	tab := NewTab(t)
	tab.Visit(origin + "/")
	got := strings.Join(tab.A11yProblems(), "\n")
	for _, want := range []string{
		`contrast: p.faint "Faint text" is 2.32:1, needs 4.5:1`,
		`contrast: span "On a gradient"`,
		`label: input#nolabel has no <label for>`,
		`name: button#b1 has no accessible name`,
		`alt: img`,
		`name: a`,
		`focus order: button#jump "Jumps the queue" has tabindex=2`,
	} {
		assert.Contains(t, got, want)
	}
	assert.NotContains(t, got, "#good")
	assert.NotContains(t, got, "Readable text")

	keys := strings.Join(tab.KeyboardProblems(), "\n")
	assert.Contains(t, keys, `want button#jump "Jumps the queue" (DOM order)`, "a positive tabindex leaves the DOM order")

	tab.Eval(`document.getElementById("jump").removeAttribute("tabindex") || true`, new(bool))
	keys = strings.Join(tab.KeyboardProblems(), "\n")
	assert.Contains(t, keys, `button#b2 "No ring" shows no focus indicator`)
	assert.NotContains(t, keys, "input#good", "the default focus ring counts")
}
