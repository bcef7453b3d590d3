package autotask_test

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/autotask"
	"github.com/countersign/countersign/autotask/autotasktest"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

var globex = psa.Company{Ref: "1002", Name: "Globex"}

// carol is a contact of another company.
var carol = psa.Contact{Ref: "2003", CompanyRef: globex.Ref, FirstName: "Carol", LastName: "Other",
	Emails: []psa.Email{{Address: "carol@globex.example"}}}

func seedTwo(e env) {
	e.fake.Seed([]psa.Company{acme, globex}, []psa.Contact{alice, bob, carol}, []psa.Ticket{ticket})
}

// TestCreateTicketFields: a tray ticket carries every field Autotask
// requires, from the tenant's own picklists (the default status and
// priority, the first queue when none is set, the queue set otherwise);
// a contact of another company and a missing company are refused in
// Autotask's words as invalid (HTTP 500 with errors[], which was "try
// again later" before isValidationError), a field the tenant requires that
// Countersign does not fill is refused before anything is written, and the
// calls are three cold, two warm.
func TestCreateTicketFields(t *testing.T) {
	e := newEnv(t, nil)
	seedTwo(e)
	ctx := t.Context()
	got, err := e.client.CreateTicket(ctx, psa.NewTicket{CompanyRef: acme.Ref, ContactRef: alice.Ref,
		Summary: "  Outlook   asks for a password ", Description: "Since this morning."})
	require.NoError(t, err)
	assert.Equal(t, "Outlook asks for a password", got.Summary)
	assert.Equal(t, alice.Ref, got.ContactRef)
	assert.Equal(t, acme.Ref, got.CompanyRef)
	assert.Regexp(t, `^T\d{8}\.\d{4}$`, got.Number)
	assert.Equal(t, []string{"GET /V1.0/ZoneInformation 200", "GET /V1.0/Tickets/entityInformation/fields 200", "POST /V1.0/Tickets 200",
		"GET /V1.0/Tickets/{id} 200"}, e.calls.Take(), "zone discovery, then three")
	tickets := e.fake.Tickets()
	require.Len(t, tickets, 2)
	tk := tickets[1]
	assert.Equal(t, got.Ref, tk.Ref)
	assert.Equal(t, "Since this morning.", tk.Description)
	assert.Equal(t, autotasktest.TicketStatusNew, tk.Status, "the default status")
	assert.Equal(t, autotasktest.TicketPriorityMedium, tk.Priority, "the default priority")
	assert.Equal(t, autotasktest.QueueLevelI, tk.QueueID, "no default queue: the first")
	assert.Equal(t, int64(autotasktest.APIUserID), tk.CreatorResourceID)

	_, err = e.client.CreateTicket(ctx, psa.NewTicket{CompanyRef: acme.Ref, Summary: "Printer jam"})
	require.NoError(t, err)
	assert.Equal(t, []string{"POST /V1.0/Tickets 200", "GET /V1.0/Tickets/{id} 200"}, e.calls.Take(), "picklists cached")

	_, err = e.client.CreateTicket(ctx, psa.NewTicket{CompanyRef: acme.Ref, ContactRef: carol.Ref, Summary: "x"})
	require.Error(t, err)
	assert.Equal(t, core.KindInvalid, core.ErrorKind(err), "%v", err)
	assert.Contains(t, err.Error(), "Value does not reference an existing entity for contactID", "Autotask's own words")
	_, err = e.client.CreateTicket(ctx, psa.NewTicket{CompanyRef: "999999", Summary: "x"})
	assert.Equal(t, core.KindInvalid, core.ErrorKind(err), "%v", err)
	_, err = e.client.CreateTicket(ctx, psa.NewTicket{CompanyRef: acme.Ref, Summary: " "})
	assert.Equal(t, core.KindInvalid, core.ErrorKind(err))

	q := newEnv(t, func(c *autotask.Config) { c.TicketQueue = strconv.Itoa(autotasktest.QueueLevelII) })
	_, err = q.client.CreateTicket(ctx, psa.NewTicket{CompanyRef: acme.Ref, Summary: "Scanner"})
	require.NoError(t, err)
	assert.Equal(t, autotasktest.QueueLevelII, q.fake.Tickets()[1].QueueID, "the queue set at setup")

	r := newEnv(t, nil)
	r.fake.RequireField("Tickets", "issueType")
	before := len(r.fake.Tickets())
	_, err = r.client.CreateTicket(ctx, psa.NewTicket{CompanyRef: acme.Ref, Summary: "Scanner"})
	require.ErrorIs(t, err, core.ErrInvalid)
	assert.Contains(t, core.ErrorMessage(err), `"issueType"`)
	assert.Len(t, r.fake.Tickets(), before, "nothing is written")
	assert.Empty(t, e.fake.TakeViolations())
}

// TestSetTicketContact: a PATCH of contactID alone; a missing ticket or
// contact is not found, a contact of another company or an inactive one
// invalid, and the ticket keeps its contact then.
func TestSetTicketContact(t *testing.T) {
	e := newEnv(t, nil)
	seedTwo(e)
	ctx := t.Context()
	require.NoError(t, e.client.SetTicketContact(ctx, ticket.Ref, bob.Ref))
	assert.Equal(t, bob.Ref, e.fake.TicketContact(ticket.Ref))
	got, err := e.client.GetTicketOnly(ctx, ticket.Ref)
	require.NoError(t, err)
	assert.Equal(t, ticket.Summary, got.Summary, "nothing else changed")
	var patch string
	for _, r := range e.fake.Log() {
		if r.Route == "PATCH /V1.0/Tickets" {
			patch = r.Body
		}
	}
	assert.JSONEq(t, `{"id":3001,"contactID":2002}`, patch)

	assert.Equal(t, core.KindNotFound, core.ErrorKind(e.client.SetTicketContact(ctx, "999999", bob.Ref)))
	assert.Equal(t, core.KindNotFound, core.ErrorKind(e.client.SetTicketContact(ctx, ticket.Ref, "999999")))
	assert.Equal(t, core.KindInvalid, core.ErrorKind(e.client.SetTicketContact(ctx, ticket.Ref, carol.Ref)))
	e.fake.SetContactActive(alice.Ref, false)
	assert.Equal(t, core.KindInvalid, core.ErrorKind(e.client.SetTicketContact(ctx, ticket.Ref, alice.Ref)))
	assert.Equal(t, bob.Ref, e.fake.TicketContact(ticket.Ref))
	assert.Empty(t, e.fake.TakeViolations())
}

// TestSetContactPhone: the slot that reads as the old number (stored as
// "(555) 010-0142") gets the new one; a number that is not there goes to
// the first empty slot, mobile first; the same number again writes
// nothing; a contact with three other numbers is refused.
func TestSetContactPhone(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	require.NoError(t, e.client.SetContactPhone(ctx, alice.Ref, psa.PhoneChange{Old: "+15550100142", New: "+447700900123", Label: "Mobile"}))
	assert.Equal(t, []psa.Phone{{Number: "+447700900123", Label: "Mobile"}, {Number: "555.010.0100", Label: "Phone"}},
		e.fake.ContactPhones(alice.Ref), "the mobile replaced in place")
	got, err := e.client.GetContact(ctx, alice.Ref)
	require.NoError(t, err)
	assert.Equal(t, "+447700900123", got.Phones[0].Number)

	e.calls.Take()
	require.NoError(t, e.client.SetContactPhone(ctx, alice.Ref, psa.PhoneChange{Old: "+15550100999", New: "+447700900555"}))
	assert.Equal(t, []psa.Phone{{Number: "+447700900123", Label: "Mobile"}, {Number: "555.010.0100", Label: "Phone"},
		{Number: "+447700900555", Label: "Alternate"}}, e.fake.ContactPhones(alice.Ref), "added in the empty slot")
	assert.Equal(t, []string{"GET /V1.0/Contacts/{id} 200", "PATCH /V1.0/Companies/{parentId}/Contacts 200"}, e.calls.Take())
	require.NoError(t, e.client.SetContactPhone(ctx, alice.Ref, psa.PhoneChange{New: "+447700900555"}))
	assert.Equal(t, []string{"GET /V1.0/Contacts/{id} 200"}, e.calls.Take(), "already there: no write")

	err = e.client.SetContactPhone(ctx, alice.Ref, psa.PhoneChange{Old: "+15550100999", New: "+447700900777"})
	assert.Equal(t, core.KindInvalid, core.ErrorKind(err), "three numbers already: %v", err)
	require.NoError(t, e.client.SetContactPhone(ctx, bob.Ref, psa.PhoneChange{New: "+15550100188", Label: "Direct"}))
	assert.Equal(t, []psa.Phone{{Number: "+15550100188", Label: "Phone"}}, e.fake.ContactPhones(bob.Ref), "a number that is not a mobile goes to phone")
	assert.Equal(t, core.KindNotFound, core.ErrorKind(e.client.SetContactPhone(ctx, "999999", psa.PhoneChange{New: "+447700900555"})))
	assert.Equal(t, core.KindInvalid, core.ErrorKind(e.client.SetContactPhone(ctx, alice.Ref, psa.PhoneChange{New: "07700 900555"})))
	assert.Empty(t, e.fake.TakeViolations())
}

// TestDefaultContact: the company's one active primary contact; none, an
// inactive one, or two, is no default; another company's is not this one's.
func TestDefaultContact(t *testing.T) {
	e := newEnv(t, nil)
	seedTwo(e)
	ctx := t.Context()
	got, err := e.client.DefaultContact(ctx, acme.Ref)
	require.NoError(t, err)
	assert.Empty(t, got, "no primary contact")
	e.fake.SetDefaultContact(acme.Ref, bob.Ref)
	e.fake.SetDefaultContact(globex.Ref, carol.Ref)
	got, err = e.client.DefaultContact(ctx, acme.Ref)
	require.NoError(t, err)
	assert.Equal(t, bob.Ref, got)
	e.fake.SetContactActive(bob.Ref, false)
	got, err = e.client.DefaultContact(ctx, acme.Ref)
	require.NoError(t, err)
	assert.Empty(t, got, "an inactive primary contact")
	e.fake.SetContactActive(bob.Ref, true)
	e.fake.SetPrimaryContact(bob.Ref, alice.Ref) // Autotask keeps one; two are no default
	got, err = e.client.DefaultContact(ctx, acme.Ref)
	require.NoError(t, err)
	assert.Empty(t, got, "two: the technician picks")
	_, err = e.client.DefaultContact(ctx, "x")
	assert.Equal(t, core.KindInvalid, core.ErrorKind(err))
	assert.Empty(t, e.fake.TakeViolations())
}

// TestAddContactNote: a company note naming the contact, of the default
// action type (or the one set), assigned to the API user (or the resource
// acted as), completed at once; a missing contact is not found and an
// inactive one refused.
func TestAddContactNote(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	require.NoError(t, e.client.AddContactNote(ctx, alice.Ref, "SMS opt-in form sent\nby J. Tech"))
	assert.Equal(t, []string{"GET /V1.0/ZoneInformation 200", "GET /V1.0/Contacts/{id} 200", "GET /V1.0/CompanyNotes/entityInformation/fields 200",
		"GET /V1.0/Resources/query 200", "POST /V1.0/Companies/{parentId}/Notes 200"}, e.calls.Take(), "cold: zone, then four")
	notes := e.fake.CompanyNotes()
	require.Len(t, notes, 1)
	n := notes[0]
	assert.Equal(t, int64(1001), n.CompanyID)
	assert.Equal(t, int64(2001), n.ContactID)
	assert.Equal(t, autotasktest.ActionTypeGeneral, n.ActionType, "the default action type")
	assert.Equal(t, int64(autotasktest.APIUserID), n.AssignedResourceID)
	assert.Equal(t, "SMS opt-in form sent", n.Name)
	assert.Equal(t, "SMS opt-in form sent\nby J. Tech", n.Note)
	assert.NotEmpty(t, n.Completed, "a note, not a to-do")
	assert.Equal(t, []string{"SMS opt-in form sent\nby J. Tech"}, e.fake.ContactNotes(alice.Ref))

	e.calls.Take()
	require.NoError(t, e.client.AddContactNote(ctx, bob.Ref, "again"))
	assert.Equal(t, []string{"GET /V1.0/Contacts/{id} 200", "POST /V1.0/Companies/{parentId}/Notes 200"}, e.calls.Take(), "warm: two calls")

	assert.Equal(t, core.KindNotFound, core.ErrorKind(e.client.AddContactNote(ctx, "999999", "x")))
	e.fake.SetContactActive(bob.Ref, false)
	assert.Equal(t, core.KindInvalid, core.ErrorKind(e.client.AddContactNote(ctx, bob.Ref, "x")))

	p := newEnv(t, func(c *autotask.Config) { c.ContactNoteType = strconv.Itoa(autotasktest.ActionTypePhoneCall) })
	p.fake.AddResource(tech, true)
	as, err := p.client.AsResource(tech.Ref)
	require.NoError(t, err)
	require.NoError(t, as.AddContactNote(ctx, alice.Ref, "as the technician"))
	n = p.fake.CompanyNotes()[0]
	assert.Equal(t, autotasktest.ActionTypePhoneCall, n.ActionType)
	assert.Equal(t, int64(42), n.AssignedResourceID)
	assert.Equal(t, int64(autotasktest.APIUserID), n.ImpersonatorCreatorResourceID)

	r := newEnv(t, nil)
	r.fake.RequireField("CompanyNotes", "opportunityID")
	assert.ErrorIs(t, r.client.AddContactNote(ctx, alice.Ref, "x"), core.ErrInvalid)
	assert.Empty(t, r.fake.CompanyNotes(), "nothing is written")
	assert.Empty(t, e.fake.TakeViolations())
}

// TestListMembersLeavesOutTheAPIUser: the integration's own resource is
// not a technician to copy; a resource's office phone stands in for a
// missing mobile.
func TestListMembersLeavesOutTheAPIUser(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.SeedMembers([]psa.Member{{Ref: "31", Identifier: "nnight", Name: "Nina Night", Email: "nina@msp.example", Phone: "+15550100131"}})
	e.fake.AddResource(tech, false)
	p, err := e.client.ListMembers(t.Context(), psa.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, p.Next)
	require.Len(t, p.Items, 2, "%v", p.Items)
	assert.Equal(t, psa.Member{Ref: "31", Identifier: "nnight", Name: "Nina Night", Email: "nina@msp.example", Phone: "+15550100131"}, p.Items[0])
	assert.Equal(t, tech.Ref, p.Items[1].Ref)
	assert.Empty(t, e.fake.TakeViolations())
}

// TestWriteChoices: the queue and contact note type settings offer the
// tenant's picklists.
func TestWriteChoices(t *testing.T) {
	e := newEnv(t, nil)
	qc, err := e.client.Choices(t.Context(), "ticket_queue")
	require.NoError(t, err)
	assert.Equal(t, []psa.Choice{{Value: "8", Label: "Level I Support"}, {Value: "9", Label: "Level II Support"}}, qc.Options)
	assert.Empty(t, qc.Suggested, "no default queue")
	nc, err := e.client.Choices(t.Context(), "contact_note_type")
	require.NoError(t, err)
	assert.Len(t, nc.Options, 2)
	assert.Equal(t, strconv.Itoa(autotasktest.ActionTypeGeneral), nc.Suggested)
}

// TestWritesWhoseAnswerWasLost: a ticket or contact note Autotask wrote
// before its answer was lost (a 504 after the work) is found by the next
// attempt, never written twice; a different one is written.
func TestWritesWhoseAnswerWasLost(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	in := psa.NewTicket{CompanyRef: acme.Ref, ContactRef: alice.Ref, Summary: "Scanner offline", Description: "Floor 2."}
	e.fake.LoseAnswers(1)
	_, err := e.client.CreateTicket(ctx, in)
	require.ErrorIs(t, err, core.ErrUnavailable)
	require.Len(t, e.fake.Tickets(), 2, "Autotask created it")
	got, err := e.client.CreateTicket(ctx, in)
	require.NoError(t, err, "the retry finds it")
	assert.Len(t, e.fake.Tickets(), 2, "never twice")
	assert.Equal(t, e.fake.Tickets()[1].Ref, got.Ref)
	_, err = e.client.CreateTicket(ctx, psa.NewTicket{CompanyRef: acme.Ref, ContactRef: alice.Ref, Summary: "Scanner offline", Description: "Floor 3."})
	require.NoError(t, err)
	assert.Len(t, e.fake.Tickets(), 3, "another ticket is created")

	e.fake.LoseAnswers(1)
	require.ErrorIs(t, e.client.AddContactNote(ctx, alice.Ref, "SMS opt-in form sent (ver_l1)"), core.ErrUnavailable)
	require.Len(t, e.fake.ContactNotes(alice.Ref), 1, "Autotask wrote it")
	require.NoError(t, e.client.AddContactNote(ctx, alice.Ref, "SMS opt-in form sent (ver_l1)"), "the retry finds it")
	assert.Len(t, e.fake.ContactNotes(alice.Ref), 1, "never twice")
	require.NoError(t, e.client.AddContactNote(ctx, alice.Ref, "SMS opt-in form sent (ver_l2)"))
	assert.Len(t, e.fake.ContactNotes(alice.Ref), 2)
	assert.Empty(t, e.fake.TakeViolations())
}

// TestWriteSettingsValidated: the queue and note type settings are
// picklist values, never free text.
func TestWriteSettingsValidated(t *testing.T) {
	f := autotasktest.NewServer(t)
	for _, change := range []func(*autotask.Config){
		func(c *autotask.Config) { c.TicketQueue = "Level I" },
		func(c *autotask.Config) { c.ContactNoteType = "-2" },
	} {
		cfg := f.Config()
		change(&cfg)
		_, err := autotask.New(cfg, f.Deps(psa.Deps{}))
		assert.ErrorIs(t, err, core.ErrInvalid)
	}
}
