package main

import (
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// destRow is one row of the card's destinations table as a technician
// reads it.
type destRow struct {
	Value, Badge, Meta string
}

// destRows reads the card's destinations table.
func destRows(t *testing.T, tb *Tab) []destRow {
	t.Helper()
	var rows []destRow
	tb.Eval(`[...document.querySelectorAll("#dests tbody tr")].map(tr => ({
		Value: (tr.querySelector(".dest-value") || {}).textContent || "",
		Badge: [...tr.querySelectorAll(".badge")].map(b => b.textContent).join(","),
		Meta: (tr.querySelector(".dest-meta") || {}).textContent || ""}))`, &rows)
	return rows
}

// TestBrowserDestinationShields checks the card's shield per destination
// (issue 12): every phone and e-mail is labelled (by its kind when its
// source gave no label), the default of each kind says which kind it is
// default for, and each says when a caller was last verified through it
// and where it came from — read again from the server, not only after a
// verification in this page.
func TestBrowserDestinationShields(t *testing.T) {
	s := startServer(t)
	tech := NewTab(t)
	s.SignIn(t, tech, techEmail, techPassword, "")

	openContact(t, tech, "Sam", "Sam Caller")
	rows := destRows(t, tech)
	require.Len(t, rows, 2, "Sam has a phone and an e-mail")
	assert.Equal(t, []destRow{
		{Value: "Phone: ••••••••••42", Badge: "default phone", Meta: "Never verified · added by hand"},
		{Value: "E-mail: s•••@contoso.example", Badge: "default e-mail", Meta: "Never verified · added by hand"},
	}, rows)

	seen := len(s.Twilio.Messages())
	tech.Click(`button[data-method="sms_code"]`)
	code := s.WaitForSMSCode(t, "+15550100142", seen)
	tech.WaitVisible("#code")
	tech.Type("#code", code)
	tech.Click(`#check button[type="submit"]`)
	tech.WaitClass("#shield", "green")
	tech.WaitTrue("the phone's last verification", `document.querySelector("#dests tbody tr .dest-meta").textContent.startsWith("Last verified")`)
	tech.Screenshot("console-destination-shields")

	// A new page reads it from the server.
	tech.Visit(s.URL + "/app")
	tech.WaitVisible("#search")
	openContact(t, tech, "Sam", "Sam Caller")
	rows = destRows(t, tech)
	require.Len(t, rows, 2)
	assert.Regexp(t, regexp.MustCompile(`^Last verified \d\d:\d\d \(just now\) · added by hand$`), rows[0].Meta)
	assert.Equal(t, "Never verified · added by hand", rows[1].Meta, "only the phone was verified")
	tech.WaitStable("#card", 300*time.Millisecond)
	tech.CheckA11y("console (destination shields)")
}
