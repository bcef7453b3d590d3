package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var optInInMail = regexp.MustCompile(`http://localhost:\d+/o/[a-z0-9-]+/[A-Za-z0-9_-]{43}`)

// waitForOptInLink waits for an e-mail to `to` after the first `seen`
// messages of the SMTP fake and returns the opt-in link in it.
func (s *testServer) waitForOptInLink(t *testing.T, to string, seen int) string {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		msgs := s.Mail.Messages()
		for _, m := range msgs[min(seen, len(msgs)):] {
			if containsAddr(m.To, to) {
				link := optInInMail.FindString(m.Text)
				require.NotEmpty(t, link, "no opt-in link in the email:\n%s", m.Text)
				return link
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no email to %s in %s", to, waitTimeout)
	return ""
}

// TestBrowserOptIn: SMS opt-in forms in the browser. The bulk page's
// review flags Sam's number, written without a country code, and leaves
// him unticked; the form goes by e-mail to Una; her page changes nothing
// until she presses Yes; her card then shows the green check; the card's
// own button sends Sam a form.
func TestBrowserOptIn(t *testing.T) {
	s := startServer(t)
	s.SetBranding(t, demoBranding())
	s.AddContact(t, "Una", "Kay", "+1 555 010 0155", "una@contoso.example")
	tech := NewTab(t)
	s.SignIn(t, tech, techEmail, techPassword, "")
	tech.Visit(s.URL + "/app/optin")
	tech.WaitVisible("#oi-find")
	tech.CheckA11y("optin")
	tech.Click("#oi-find")
	tech.WaitVisible(`#oi-table tbody tr[data-contact]`)
	sam := `#oi-table tbody tr[data-contact="` + s.ContactID + `"]`
	assert.Contains(t, tech.Text(sam), "no country code")
	assert.Contains(t, tech.Text(sam), "(555) 010-0142")
	var samTicked, unaTicked bool
	tech.Eval(`document.querySelector(`+jsString(sam+` input`)+`).checked`, &samTicked)
	assert.False(t, samTicked, "a flagged number is left for the technician to tick")
	una := `[...document.querySelectorAll("#oi-table tbody tr")].find(r => r.textContent.includes("Una Kay"))`
	tech.Eval(una+`.querySelector("input").checked`, &unaTicked)
	assert.True(t, unaTicked)
	assert.Contains(t, tech.Text("#oi-count"), "1 chosen")
	assert.Contains(t, tech.Text("#oi-summary"), "2 numbers to check (1 without a country code, left unticked)")
	assert.Contains(t, tech.Text("#oi-table"), "not written in E.164", "Una's spaces are flagged, but she keeps her tick")
	tech.CheckA11y("optin-review")
	tech.Screenshot("optin-review")

	seen := len(s.Mail.Messages())
	tech.Click("#oi-send")
	tech.WaitText("#oi-result", "1 form sent by e-mail")
	link := s.waitForOptInLink(t, "una@contoso.example", seen)
	require.True(t, strings.HasPrefix(link, s.URL+"/o/"), "the link is under the public URL")

	user := NewTab(t)
	user.SetViewport(360, 740)
	user.Visit(link)
	user.WaitVisible("#oi-yes")
	assert.Contains(t, user.Text("main"), "May we text you?")
	assert.Contains(t, user.Text("main"), "STOP")
	user.CheckA11y("optin-form")
	user.Screenshot("optin-form")
	user.Visit(link) // twice, as link scanners do: nothing changes
	user.WaitVisible("#oi-yes")
	user.Submit("#oi-yes")
	user.WaitVisible(".result.consented")
	assert.Contains(t, user.Text(".result"), "may now text you")
	user.Screenshot("optin-consented")
	user.Visit(link)
	user.WaitVisible(".result.used")

	tech.Visit(s.URL + "/app")
	openContact(t, tech, "Una", "Una Kay")
	tech.WaitText("#optin-state", "Opted in to texts")
	tech.WaitClass("#optin-state", "opted_in")
	tech.Screenshot("optin-card-green")

	tech.Visit(s.URL + "/app") // a fresh search box
	openContact(t, tech, "Sam", "Sam Caller")
	tech.WaitText("#optin-state", "Not opted in")
	tech.CheckA11y("optin-card")
	seen = len(s.Mail.Messages())
	tech.Click("#optin-send")
	tech.WaitText("#optin-msg", "Form sent by e-mail")
	s.waitForOptInLink(t, "sam@contoso.example", seen)
}
