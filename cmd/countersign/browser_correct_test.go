package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/memory"
)

// Browser tests of issue 21: what the technician sees and can do at the
// console and the pod must be correct, not only look right.

// focused describes the focused element: its id, or the method of a
// method button ("method:sms_code").
func focused(tb *Tab) string {
	var got string
	tb.Eval(`(() => { const e = document.activeElement;
		if (!e || e === document.body) return "body";
		if (e.dataset && e.dataset.method) return "method:" + e.dataset.method;
		return e.id || e.tagName.toLowerCase(); })()`, &got)
	return got
}

// TestBrowserNewestVerificationIsTheLiveOne: an SMS code waits, the
// technician sends an email link instead and the caller confirms it. The
// SMS code ended when the link was sent: its code is refused, a reload
// shows no code box waiting, and a second console watching the contact
// switched to the link as soon as it was sent.
func TestBrowserNewestVerificationIsTheLiveOne(t *testing.T) {
	s := startServer(t)
	tech := NewTab(t)
	s.SignIn(t, tech, techEmail, techPassword, "")
	openContact(t, tech, "Sam", "Sam Caller")

	seen := len(s.Twilio.Messages())
	tech.Click(`button[data-method="sms_code"]`)
	tech.WaitVisible("#check")
	code := s.WaitForSMSCode(t, "+15550100142", seen)
	smsID := latestVerification(t, s, s.ContactID)

	// A second console (another tab of the same technician) on the contact.
	watcher := tech.Sibling(t)
	watcher.Visit(s.URL + "/app?contact=" + url.QueryEscape(s.ContactID))
	watcher.WaitText("#active-status", "SMS code")
	watcher.WaitTrue("the live connection", `document.getElementById("live").dataset.state === "online"`)

	seenMail := len(s.Mail.Messages())
	tech.Click(`button[data-method="email_link"]`)
	tech.WaitTrue("the technician code", `/^\d{6}$/.test(document.getElementById("techcode-value").textContent)`)
	techCode := tech.Text("#techcode-value")
	link := s.WaitForLink(t, "sam@contoso.example", seenMail)
	watcher.WaitText("#active-status", "Email link")
	assert.Equal(t, "cancelled", s.Verification(t, smsID)["status"], "the SMS code ended when the link was sent")
	assert.Equal(t, "replaced by a newer verification", s.Verification(t, smsID)["detail"])

	user := NewTab(t)
	user.Visit(link)
	// The link page (no script) refuses what cannot be the code itself.
	user.Type("#code", "abcdef")
	var mismatch bool
	user.Eval(`document.getElementById("code").validity.patternMismatch`, &mismatch)
	assert.True(t, mismatch, "the link page's code box refuses letters")
	user.Run("clear the code box", chromedp.SetValue("#code", "", chromedp.ByID))
	user.Type("#code", techCode[:3]+" "+techCode[3:])
	user.Eval(`document.getElementById("code").validity.valid`, &mismatch)
	assert.True(t, mismatch, "the code with a space is valid input")
	user.Run("clear the code box", chromedp.SetValue("#code", "", chromedp.ByID))
	user.Type("#code", techCode)
	user.Click(`button[value="confirm"]`)
	user.WaitText("main", "you are confirmed")
	tech.WaitClass("#shield", "green")

	// The old SMS code is dead: the server refuses it and counts nothing
	// against the contact's shield.
	status, body := s.API.do("POST", "/verifications/"+smsID+"/check", map[string]string{"code": code})
	assert.Equal(t, http.StatusGone, status, "%v", body)

	tech.Visit(s.URL + "/app?contact=" + url.QueryEscape(s.ContactID))
	tech.WaitClass("#shield", "green")
	tech.WaitStable("#card", 300*time.Millisecond)
	var codeBoxOpen bool
	tech.Eval(`!document.getElementById("active").hidden && !document.getElementById("check").hidden`, &codeBoxOpen)
	assert.False(t, codeBoxOpen, "after a reload, no older code waits beside a newer success")
	assert.Contains(t, tech.Text("#history"), "Cancelled")
}

// TestBrowserTicketRefIsChecked: free text in the Ticket field never
// reaches the caller. The page refuses it, so does the server, and a
// checked reference appears in the SMS, the history and the audit.
func TestBrowserTicketRefIsChecked(t *testing.T) {
	s := startServer(t)
	tech := NewTab(t)
	s.SignIn(t, tech, techEmail, techPassword, "")
	openContact(t, tech, "Sam", "Sam Caller")

	evil := "<img src=x onerror=alert(1)> Call +1 555 0199 now"
	// maxlength stops typing at 20; set the value as a paste could.
	tech.Run("fill the ticket", chromedp.SetValue("#ticket", evil, chromedp.ByID))
	seen := len(s.Twilio.Messages())
	tech.Click(`button[data-method="sms_code"]`)
	tech.WaitText("#msg", "letters, digits, # and -")
	assert.Equal(t, "ticket", focused(tech), "the focus goes to the field to fix")

	// The server refuses it on its own (a script, an old page).
	status, body := s.API.do("POST", "/verifications", map[string]string{"contact_id": s.ContactID, "method": "sms_code", "ticket_ref": evil})
	require.Equal(t, http.StatusBadRequest, status, "%v", body)
	assert.Contains(t, body["error"], "letters, digits, '#' and '-'")
	status, _ = s.API.do("POST", "/verifications", map[string]string{"contact_id": s.ContactID, "method": "sms_code", "ticket_ref": "48213 call 5550199"})
	require.Equal(t, http.StatusBadRequest, status)
	assert.Len(t, s.Twilio.Messages(), seen, "nothing was sent")

	tech.Run("fill the ticket", chromedp.SetValue("#ticket", "", chromedp.ByID))
	tech.Type("#ticket", "T-48213")
	tech.Click(`button[data-method="sms_code"]`)
	tech.WaitVisible("#check")
	s.WaitForSMSCode(t, "+15550100142", seen)
	sms := s.Twilio.Messages()[seen].Body
	assert.Contains(t, sms, "(ticket T-48213)")
	// Item 4: the wording fits a call in either direction.
	assert.Contains(t, sms, "Unexpected? Do not share it with anyone who calls you.")
	assert.NotContains(t, sms, "yourself")
	tech.WaitText("#history", "for ticket T-48213")
}

// TestBrowserCodeBoxRefusesNonCodes: letters or a wrong length typed in
// the code box are refused in the page and by the server, and neither uses
// one of the caller's attempts.
func TestBrowserCodeBoxRefusesNonCodes(t *testing.T) {
	s := startServer(t)
	tech := NewTab(t)
	s.SignIn(t, tech, techEmail, techPassword, "")
	openContact(t, tech, "Sam", "Sam Caller")
	seen := len(s.Twilio.Messages())
	tech.Click(`button[data-method="sms_code"]`)
	tech.WaitVisible("#check")
	code := s.WaitForSMSCode(t, "+15550100142", seen)
	id := latestVerification(t, s, s.ContactID)

	for _, junk := range []string{"abcdef", "12345"} {
		tech.Type("#code", junk)
		tech.Keys(kb.Enter)
		tech.WaitTrue("the code box to say why", `document.getElementById("code").getAttribute("aria-invalid") === "true"`)
		assert.NotEmpty(t, tech.Text("#msg"))
		tech.Run("clear the code box", chromedp.SetValue("#code", "", chromedp.ByID))
	}
	assert.Contains(t, tech.Text("#msg"), "6 digits")
	status, body := s.API.do("POST", "/verifications/"+id+"/check", map[string]string{"code": "abcdef"})
	require.Equal(t, http.StatusBadRequest, status, "%v", body)
	assert.Contains(t, body["error"], "nothing was counted")
	status, _ = s.API.do("POST", "/verifications/"+id+"/check", map[string]string{"code": "1234567"})
	require.Equal(t, http.StatusBadRequest, status)
	assert.EqualValues(t, 0, s.Verification(t, id)["attempts"], "no attempt was used")
	tech.Screenshot("console-code-refused")

	tech.Type("#code", code[:3]+" "+code[3:])
	tech.Keys(kb.Enter)
	tech.WaitClass("#shield", "green")
}

// TestBrowserPodNoteRequired: with a policy that requires a note, a pod
// sending to someone other than the ticket's contact cannot send without
// one (the page holds the form, the server refuses); the note it is given
// lands in the history and the PSA ticket's note.
func TestBrowserPodNoteRequired(t *testing.T) {
	s := startServer(t)
	status, body := s.API.do("PUT", "/policies/default", map[string]any{"note_on_non_default": true, "note_required": true})
	require.Equal(t, http.StatusOK, status, "%v", body)
	psaSrv := memory.NewServer("psa-key-78")
	psaSrv.Seed([]psa.Company{{Ref: "co1", Name: "Fabrikam"}},
		[]psa.Contact{
			{Ref: "c1", CompanyRef: "co1", FirstName: "Pat", LastName: "Pod", Phones: []psa.Phone{{Number: "(555) 010-0177", Default: true}}},
			{Ref: "c2", CompanyRef: "co1", FirstName: "Max", LastName: "Manager", Phones: []psa.Phone{{Number: "(555) 010-0178", Default: true}}},
		},
		[]psa.Ticket{{Ref: "901", Summary: "New laptop", CompanyRef: "co1", ContactRef: "c1"}})
	psaURL := ServeOtherOrigin(t, psaSrv)
	intID := s.AddIntegration(t, memory.ID, "Fabrikam PSA", memory.Config{BaseURL: psaURL, APIKey: "psa-key-78"})
	podURL := s.URL + "/pod/" + testTenantSlug + "/" + intID

	tab := NewTab(t)
	tab.SetViewport(1000, 900)
	tab.Visit(fmt.Sprintf("%s/ui/ticket/901?width=600&pod=%s", psaURL, url.QueryEscape(podURL+"?w=600")))
	pod := tab.FrameTab(t, "w=600")
	s.signInPopOut(t, pod, techEmail, techPassword, "")
	pod.WaitText("#contact-name", "Pat Pod")

	pod.Click("#pod-load-contacts")
	pod.WaitTrue("the company's contacts", `document.querySelectorAll("#pod-contact option").length === 2`)
	pod.WaitText("#pod-switch-msg", "needs a note (your policy requires one)")
	pod.Eval(`(() => { const s = document.getElementById("pod-contact");
		s.value = [...s.options].find(o => o.textContent.startsWith("Max")).value;
		s.dispatchEvent(new Event("change")); return true; })()`, new(bool))
	pod.WaitText("#contact-name", "Max Manager")
	pod.Click(`button[data-method="sms_code"]`)
	pod.WaitVisible("#note-form")
	pod.WaitText("#note-hint", "required")

	// Send with no note (and with only spaces): nothing goes out.
	seen := len(s.Twilio.Messages())
	pod.Click("#note-send")
	pod.Type("#note-text", "   ")
	pod.Click("#note-send")
	pod.WaitText("#msg", "Write a note first")
	var serverSays string
	pod.Eval(`api("POST", "/pod/" + encodeURIComponent(integration) + "/verifications",
		{ scope: ctx.scope, contact_id: card.contact().id, method: "sms_code", note: "  " }).then(() => "sent", (e) => e.message)`, &serverSays)
	assert.Contains(t, serverSays, "a note is required", "the server refuses a send without the note")
	assert.Len(t, s.Twilio.Messages(), seen, "nothing was sent without a note")

	pod.Run("clear the note", chromedp.SetValue("#note-text", "", chromedp.ByID))
	pod.Type("#note-text", "Caller is Pat's manager")
	pod.Click("#note-send")
	pod.WaitVisible("#check")
	code := s.WaitForSMSCode(t, "+15550100178", seen)
	pod.WaitText("#history", "note: Caller is Pat's manager")
	pod.Type("#code", code)
	pod.Keys(kb.Enter)
	pod.WaitClass("#shield", "green")

	deadline := time.Now().Add(waitTimeout)
	for len(psaSrv.Notes("901")) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	notes := psaSrv.Notes("901")
	require.Len(t, notes, 1, "the result is written to the PSA ticket")
	assert.Contains(t, notes[0].Text, "Max Manager was VERIFIED")
	assert.Contains(t, notes[0].Text, "Technician's note: Caller is Pat's manager")
}

// TestBrowserKeyboardOnly goes from the sign-in page to a green shield with
// key events alone: Tab, Enter and typed characters. The skip link jumps
// past the header; choosing a contact moves the focus to the ways to
// verify; sending moves it to the code box.
func TestBrowserKeyboardOnly(t *testing.T) {
	s := startServer(t)
	tab := NewTab(t)
	tab.Visit(s.URL + "/?tenant=" + testTenantSlug)
	tab.WaitVisible("#login")
	press := func(keys ...string) {
		t.Helper()
		for _, k := range keys {
			tab.Keys(k)
		}
	}
	press(kb.Tab)
	require.Equal(t, "tenant", focused(tab))
	press(kb.Tab, techEmail, kb.Tab, techPassword, kb.Enter)
	tab.WaitVisible("#enroll")
	require.Equal(t, "enroll-code", focused(tab), "enrolment puts the focus on its code box")
	secret := tab.Text("#enroll-secret")
	code, err := totp.GenerateCode(secret, time.Now())
	require.NoError(t, err)
	press(code, kb.Enter)
	tab.WaitURL("/app")
	tab.WaitVisible("#search")

	press(kb.Tab)
	var skip string
	tab.Eval(`document.activeElement.classList.contains("skip") ? document.activeElement.textContent : ""`, &skip)
	require.Equal(t, "Skip to contacts", skip, "the first Tab reaches the skip link")
	press(kb.Enter)
	require.Equal(t, "contacts-h", focused(tab), "the skip link moves past the header")
	press(kb.Tab, kb.Tab)
	require.Equal(t, "search", focused(tab))
	press("Sam")
	tab.WaitTrue("Sam in the list", `[...document.querySelectorAll("#contacts button")].some(b => b.textContent.trim() === "Sam Caller")`)
	tab.WaitStable("#contacts", 400*time.Millisecond)
	press(kb.Tab)
	require.Equal(t, "button", focused(tab))
	press(kb.Enter)
	tab.WaitTrue("the focus on the first way to verify", `document.activeElement && document.activeElement.dataset.method === "sms_code"`)
	seen := len(s.Twilio.Messages())
	press(kb.Enter)
	sms := s.WaitForSMSCode(t, "+15550100142", seen)
	tab.WaitTrue("the focus in the code box", `document.activeElement && document.activeElement.id === "code"`)
	press(strings.Join([]string{sms[:3], sms[3:]}, " "), kb.Enter)
	tab.WaitClass("#shield", "green")
	tab.Screenshot("console-keyboard-only-verified")
}
