package main

import (
	"testing"

	"github.com/countersign/countersign/core/twilio/twiliotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBrowserMisconfiguredSMS: with Twilio refusing the server's token, a
// technician who sends an SMS code reads "SMS is not configured correctly
// — ask your admin" on the card instead of "Sending…", and a banner with
// the same words; the admin's console shows the banner with Twilio's code
// and words and a Retry button, which — once Twilio takes the token again
// — sends the parked code (the technician's card moves on by itself) and
// takes the banner away.
func TestBrowserMisconfiguredSMS(t *testing.T) {
	s := startServer(t)
	s.Twilio.SetAuthToken("rotated0token")
	t.Setenv("MISCONF_PASSWORD", techPassword)
	code, out := cli(t, "user", "create", "-db", s.DB, "-tenant", testTenantSlug, "-email", "tom@acme.example", "-name", "Tom Tech",
		"-role", "technician", "-password-env", "MISCONF_PASSWORD")
	require.Equal(t, 0, code, out)

	tom := NewTab(t)
	tom.SetViewport(1100, 900)
	s.SignIn(t, tom, "tom@acme.example", techPassword, "")
	openContact(t, tom, "Sam", "Sam Caller")
	tom.Click(`button[data-method="sms_code"]`)
	tom.WaitText("#active-status", "SMS is not configured correctly — ask your admin")
	tom.Screenshot("misconfigured-sms-technician-card")
	tom.Visit(s.URL + "/app")
	tom.WaitText(".issuebanner", "SMS is not configured correctly — ask your admin.")
	assert.NotContains(t, tom.Text(".issuebanner"), "20003", "the vendor's words are for admins")
	tom.CheckA11y("console with a misconfiguration banner (technician)")

	jane := NewTab(t)
	jane.SetViewport(1100, 900)
	s.SignIn(t, jane, techEmail, techPassword, "")
	jane.WaitText(".issuebanner", "SMS (Twilio) is not configured correctly.")
	jane.WaitText(".issuebanner", "Twilio rejected the account SID and auth token")
	jane.WaitText(".issuebanner", "The service said: 20003 Authenticate")
	jane.WaitText(".issuebanner", "1 waiting to be sent")
	jane.CheckA11y("console with a misconfiguration banner (admin)")
	jane.Screenshot("misconfigured-sms-admin-banner")
	jane.Visit(s.URL + "/app/admin/policies")
	jane.WaitText(".issuebanner", "SMS (Twilio) is not configured correctly.")

	seen := len(s.Twilio.Messages())
	s.Twilio.SetAuthToken(twiliotest.DefaultAuthToken)
	jane.Click(`button[data-retry-channel="sms"]`)
	jane.WaitTrue("the banner to go", `!document.querySelector(".issuebanner")`)
	code6 := s.WaitForSMSCode(t, "+15550100142", seen)
	require.Len(t, code6, 6)
	// Tom's card is still open on the console he reloaded: open the
	// contact again and see the code was sent.
	openContact(t, tom, "Sam", "Sam Caller")
	tom.WaitTrue("the history to show the SMS sent",
		`[...document.querySelectorAll("#history li")].some(li => li.textContent.includes("Sent — waiting for the caller"))`)
}
