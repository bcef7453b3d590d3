package main

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/memory"
)

// TestBrowserTicketNoteState follows a verification's note to its PSA
// ticket as the technician sees it (issue 12): in the pod, the note of a
// verification made while the PSA is down shows as retrying with the
// reason, then as written with a link to the ticket once the PSA takes it;
// the PSA's ticket page lists the note; a note the PSA refuses (the ticket
// is gone) shows as failed with the PSA's reason, in the pod's card and in
// the console's history of the same contact.
func TestBrowserTicketNoteState(t *testing.T) {
	s := startServer(t)
	psaSrv := memory.NewServer("psa-key-12")
	companies := []psa.Company{{Ref: "co1", Name: "Fabrikam"}}
	contacts := []psa.Contact{{Ref: "c1", CompanyRef: "co1", FirstName: "Nora", LastName: "Note",
		Phones: []psa.Phone{{Number: "(555) 010-0112", Label: "Mobile", Default: true}}}}
	psaSrv.Seed(companies, contacts, []psa.Ticket{{Ref: "912", Summary: "New laptop", CompanyRef: "co1", ContactRef: "c1"}})
	psaURL := ServeOtherOrigin(t, psaSrv)
	intID := s.AddIntegration(t, memory.ID, "Fabrikam PSA", memory.Config{BaseURL: psaURL, APIKey: "psa-key-12"})
	podURL := s.URL + "/pod/" + testTenantSlug + "/" + intID

	tab := NewTab(t)
	tab.SetViewport(1000, 900)
	tab.Visit(fmt.Sprintf("%s/ui/ticket/912?width=600&pod=%s", psaURL, url.QueryEscape(podURL)))
	tab.WaitText("#notes-empty", "No notes on this ticket yet.")
	pod := tab.FrameTab(t, "/pod/")
	secret := s.signInPopOut(t, pod, techEmail, techPassword, "")
	pod.WaitVisible("#pod-main")
	pod.WaitText("#contact-name", "Nora Note")
	pod.WaitTrue("the live connection", `document.getElementById("live").dataset.state === "online"`)

	// Verified while the PSA is down: the note is retrying, with why.
	seen := len(s.Twilio.Messages())
	pod.Click(`button[data-method="sms_code"]`)
	pod.WaitVisible("#check")
	code := s.WaitForSMSCode(t, "+15550100112", seen)
	psaSrv.SetDown(true)
	pod.Type("#code", code)
	pod.Click(`#check button[type="submit"]`)
	pod.WaitClass("#shield", "green")
	pod.WaitTrue("the note retrying on the card", `(() => { const n = document.querySelector("#active-note [data-note-state]");
		return !!n && n.dataset.noteState === "retrying" && !document.getElementById("active-note").hidden; })()`)
	retry := pod.Text("#active-note")
	assert.Regexp(t, `^Ticket note not written yet: the service is unavailable\. Trying again at .+\.$`, retry)
	pod.WaitTrue("the note retrying in the history",
		`document.querySelector("#history li [data-note-state]").dataset.noteState === "retrying"`)
	tab.Screenshot("note-retrying")

	// The PSA is back: the next try writes the note, and the card says so
	// by itself (a live event), with a link to the ticket.
	psaSrv.SetDown(false)
	pod.WaitTrue("the note written on the card",
		`document.querySelector("#active-note [data-note-state]").dataset.noteState === "written"`)
	assert.Equal(t, "Note written to the ticket. Open the ticket", pod.Text("#active-note"))
	var link string
	pod.Eval(`document.querySelector("#active-note a.note-link").href`, &link)
	assert.Equal(t, psaURL+"/ui/ticket/912", link)
	pod.WaitTrue("the note written in the history", `(() => { const n = document.querySelector("#history li [data-note-state]");
		return n.dataset.noteState === "written" && !!n.querySelector("a.note-link"); })()`)
	notes := psaSrv.Notes("912")
	require.Len(t, notes, 1, "written once, after the outage")
	assert.Contains(t, notes[0].Text, "Nora Note was VERIFIED by SMS code")
	tab.Screenshot("note-written")

	// The link's page, the PSA's ticket screen, lists the note.
	page := NewTab(t)
	page.Visit(link)
	page.WaitText("#notes li", "Nora Note was VERIFIED by SMS code")
	page.WaitText("#notes li", "Internal note")
	page.Screenshot("psa-ticket-notes")

	// The ticket is deleted in the PSA; a cancelled verification's note is
	// refused for good: failed, with the PSA's reason and what to do.
	seen = len(s.Twilio.Messages())
	pod.Click(`button[data-method="sms_code"]`)
	pod.WaitVisible("#check")
	s.WaitForSMSCode(t, "+15550100112", seen)
	psaSrv.Seed(companies, contacts, nil)
	pod.Click("#cancel")
	pod.WaitTrue("the note failed on the card",
		`document.querySelector("#active-note [data-note-state]")?.dataset.noteState === "failed"`)
	failed := pod.Text("#active-note")
	assert.Equal(t, "Ticket note failed: the PSA refused the note: no such ticket. Add the result to the ticket by hand.", failed)
	tab.Screenshot("note-failed")

	// The console shows the same history for the contact.
	var contactID string
	pod.Eval(`card.contact().id`, &contactID)
	require.NotEmpty(t, contactID)
	con := NewTab(t)
	s.SignIn(t, con, techEmail, techPassword, secret)
	con.Visit(s.URL + "/app?contact=" + url.QueryEscape(contactID))
	con.WaitText("#contact-name", "Nora Note")
	con.WaitTrue("both notes in the console's history", `(() => {
		const states = [...document.querySelectorAll("#history li [data-note-state]")].map(n => n.dataset.noteState);
		return states.join(",") === "failed,written"; })()`)
	con.WaitText("#history li", failed)
	con.CheckA11y("console with note states")
	con.Screenshot("console-note-states")

	// Nothing asks the PSA again about a note it refused.
	before := len(psaSrv.Notes("912"))
	time.Sleep(500 * time.Millisecond)
	assert.Equal(t, before, len(psaSrv.Notes("912")))
}
