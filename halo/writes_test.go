package halo_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/halo"
	"github.com/countersign/countersign/halo/halotest"
)

// other is a client besides acme, with a user of its own.
var (
	other = psa.Company{Ref: "1002", Name: "Other Ltd"}
	olga  = psa.Contact{Ref: "2009", CompanyRef: other.Ref, FirstName: "Olga", LastName: "Other",
		Emails: []psa.Email{{Address: "olga@other.example"}}}
)

// warm makes f's client fetch its token and forgets the calls so far, so
// that a test's calls are its own.
func warm(t *testing.T, f *fixture) {
	t.Helper()
	_, err := f.c.IdentifyMember(t.Context())
	require.NoError(t, err)
	f.calls.take()
}

// TestCreateTicketFields: a tray ticket for a user carries the user's own
// site (which Halo wants with a user), a ticket without one the client's
// main site; the setting picks the ticket type; a user of another client,
// a client Halo does not have and an unknown ticket type are refused.
func TestCreateTicketFields(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	f.srv.Seed([]psa.Company{acme, other}, []psa.Contact{alice, alix, olga}, []psa.Ticket{ticket})
	warm(t, f)
	got, err := f.c.CreateTicket(ctx, psa.NewTicket{CompanyRef: acme.Ref, ContactRef: alice.Ref, Summary: " Outlook asks for a password ", Description: "Since Monday."})
	require.NoError(t, err)
	assert.Equal(t, "Outlook asks for a password", got.Summary)
	assert.Equal(t, alice.Ref, got.ContactRef)
	assert.Equal(t, acme.Ref, got.CompanyRef)
	assert.Equal(t, got.Ref, got.Number, "Halo numbers a ticket by its id")
	assert.Equal(t, []string{"GET /api/Users/{id} OK", "POST /api/Tickets Created"}, f.calls.take())
	tickets := f.srv.Tickets()
	require.Len(t, tickets, 2)
	tk := tickets[1]
	assert.Equal(t, "Since Monday.", tk.Details)
	assert.Equal(t, "51001", tk.SiteRef, "alice's site")
	assert.Equal(t, 1, tk.TypeID, "Halo's default ticket type")
	assert.Equal(t, "New", tk.Status)

	got, err = f.c.CreateTicket(ctx, psa.NewTicket{CompanyRef: other.Ref, Summary: "Printer jam"})
	require.NoError(t, err)
	assert.Empty(t, got.ContactRef)
	assert.Equal(t, []string{"GET /api/Client/{id} OK", "POST /api/Tickets Created"}, f.calls.take())
	assert.Equal(t, "51002", f.srv.Tickets()[2].SiteRef, "the client's main site")

	_, err = f.c.CreateTicket(ctx, psa.NewTicket{CompanyRef: acme.Ref, ContactRef: olga.Ref, Summary: "x"})
	assert.Equal(t, core.KindInvalid, core.ErrorKind(err), "%v", err)
	_, err = f.c.CreateTicket(ctx, psa.NewTicket{CompanyRef: "999999", Summary: "x"})
	assert.Equal(t, core.KindNotFound, core.ErrorKind(err), "%v", err)
	_, err = f.c.CreateTicket(ctx, psa.NewTicket{CompanyRef: acme.Ref, Summary: "  "})
	assert.Equal(t, core.KindInvalid, core.ErrorKind(err))

	typed := newFixture(t, func(c *halo.Config) { c.TicketTypeID = "2" })
	_, err = typed.c.CreateTicket(ctx, psa.NewTicket{CompanyRef: acme.Ref, Summary: "Request a laptop"})
	require.NoError(t, err)
	assert.Equal(t, 2, typed.srv.Tickets()[1].TypeID)
	unknown := newFixture(t, func(c *halo.Config) { c.TicketTypeID = "77" })
	_, err = unknown.c.CreateTicket(ctx, psa.NewTicket{CompanyRef: acme.Ref, Summary: "x"})
	require.Error(t, err)
	assert.Equal(t, core.KindInvalid, core.ErrorKind(err))
	assert.Contains(t, err.Error(), "Please select a valid Ticket Type", "Halo's own words")
	_, err = halo.New(halo.Config{InstanceURL: "https://a.halopsa.com", ClientID: "x", ClientSecret: "y", TicketTypeID: "one"}, psa.Deps{})
	assert.Equal(t, core.KindInvalid, core.ErrorKind(err))
}

// TestSetTicketContact: the ticket's user and site change and nothing
// else; a missing ticket or user is not found, a user of another client
// refused before anything is written, the same user again is no write.
func TestSetTicketContact(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	f.srv.Seed([]psa.Company{acme, other}, []psa.Contact{alice, alix, olga}, []psa.Ticket{ticket})
	warm(t, f)
	require.NoError(t, f.c.SetTicketContact(ctx, ticket.Ref, alix.Ref))
	assert.Equal(t, []string{"GET /api/Tickets/{id} OK", "GET /api/Users/{id} OK", "POST /api/Tickets Created"}, f.calls.take())
	got, err := f.c.GetTicketOnly(ctx, ticket.Ref)
	require.NoError(t, err)
	assert.Equal(t, alix.Ref, got.ContactRef)
	assert.Equal(t, ticket.Summary, got.Summary, "nothing else changed")
	assert.Equal(t, acme.Ref, got.CompanyRef)

	f.calls.take()
	require.NoError(t, f.c.SetTicketContact(ctx, ticket.Ref, alix.Ref))
	assert.Equal(t, []string{"GET /api/Tickets/{id} OK", "GET /api/Users/{id} OK"}, f.calls.take(), "already the user: no write")
	assert.Equal(t, core.KindNotFound, core.ErrorKind(f.c.SetTicketContact(ctx, "999999", alix.Ref)))
	assert.Equal(t, core.KindNotFound, core.ErrorKind(f.c.SetTicketContact(ctx, ticket.Ref, "999999")))
	f.calls.take()
	assert.Equal(t, core.KindInvalid, core.ErrorKind(f.c.SetTicketContact(ctx, ticket.Ref, olga.Ref)))
	assert.NotContains(t, f.calls.take(), "POST /api/Tickets Created")
	assert.Equal(t, alix.Ref, f.srv.Tickets()[0].ContactRef)
}

// TestDefaultContact: the main contact of the client's main site; none
// set is no default.
func TestDefaultContact(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	got, err := f.c.DefaultContact(ctx, acme.Ref)
	require.NoError(t, err)
	assert.Empty(t, got, "no main contact")
	f.srv.SetDefaultContact(acme.Ref, alix.Ref)
	f.calls.take()
	got, err = f.c.DefaultContact(ctx, acme.Ref)
	require.NoError(t, err)
	assert.Equal(t, alix.Ref, got)
	assert.Equal(t, []string{"GET /api/Client/{id} OK", "GET /api/Site/{id} OK"}, f.calls.take())
	_, err = f.c.DefaultContact(ctx, "999999")
	assert.Equal(t, core.KindNotFound, core.ErrorKind(err))
	_, err = f.c.DefaultContact(ctx, "x")
	assert.Equal(t, core.KindInvalid, core.ErrorKind(err))
}

// TestSetContactPhone: the field that reads as the old number (stored as
// "(555) 010-0142") takes the new one and only it is sent; a user without
// the old number gets the new one in an empty mobile field; the same
// number again changes nothing; full mobile fields are not overwritten.
func TestSetContactPhone(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	warm(t, f)
	require.NoError(t, f.c.SetContactPhone(ctx, alice.Ref, psa.PhoneChange{Old: "+15550100142", New: "+447700900123", Label: "Mobile"}))
	assert.Equal(t, []psa.Phone{{Number: "+447700900123", Label: "Mobile"}, {Number: "555.010.0143", Label: "Mobile 2"}, {Number: "555-010-0100", Label: "Phone"}},
		f.srv.ContactPhones(alice.Ref), "replaced in place, the others kept")
	assert.Equal(t, []string{"GET /api/Users/{id} OK", "POST /api/Users Created"}, f.calls.take())

	require.NoError(t, f.c.SetContactPhone(ctx, alice.Ref, psa.PhoneChange{Old: "555 010 0100", New: "+15550100111"}))
	assert.Equal(t, "+15550100111", f.srv.ContactPhones(alice.Ref)[2].Number, "the old number was in phonenumber")

	f.calls.take()
	require.NoError(t, f.c.SetContactPhone(ctx, alice.Ref, psa.PhoneChange{Old: "+15550100999", New: "+447700900123"}))
	assert.Equal(t, []string{"GET /api/Users/{id} OK"}, f.calls.take(), "already there: no write")

	err := f.c.SetContactPhone(ctx, alice.Ref, psa.PhoneChange{Old: "+15550100999", New: "+447700900555"})
	assert.Equal(t, core.KindInvalid, core.ErrorKind(err), "both mobiles are taken: %v", err)

	require.NoError(t, f.c.SetContactPhone(ctx, alix.Ref, psa.PhoneChange{Old: "+15550100999", New: "+447700900555", Label: "Mobile"}))
	assert.Equal(t, []psa.Phone{{Number: "555 010 1142", Label: "Mobile"}, {Number: "+447700900555", Label: "Mobile 2"}}, f.srv.ContactPhones(alix.Ref))
	got, err := f.c.GetContact(ctx, alix.Ref)
	require.NoError(t, err)
	assert.Equal(t, "+447700900555", got.Phones[1].Number)

	assert.Equal(t, core.KindNotFound, core.ErrorKind(f.c.SetContactPhone(ctx, "999999", psa.PhoneChange{New: "+447700900555"})))
	assert.Equal(t, core.KindInvalid, core.ErrorKind(f.c.SetContactPhone(ctx, alix.Ref, psa.PhoneChange{New: "07700 900555"})))
}

// TestAddContactNote: a CRM note on the user's client and site, naming the
// user; a missing user is not found.
func TestAddContactNote(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	warm(t, f)
	require.NoError(t, f.c.AddContactNote(ctx, alice.Ref, "SMS opt-in form sent (Countersign ref 8f3c)."))
	assert.Equal(t, []string{"GET /api/Users/{id} OK", "POST /api/CRMNote Created"}, f.calls.take())
	assert.Equal(t, []halotest.CRMNote{{CompanyRef: acme.Ref, SiteRef: "51001", ContactRef: alice.Ref, Note: "SMS opt-in form sent (Countersign ref 8f3c)."}},
		f.srv.CRMNotes())
	assert.Equal(t, []string{"SMS opt-in form sent (Countersign ref 8f3c)."}, f.srv.ContactNotes(alice.Ref))
	assert.Equal(t, core.KindNotFound, core.ErrorKind(f.c.AddContactNote(ctx, "999999", "x")))
	assert.Equal(t, core.KindInvalid, core.ErrorKind(f.c.AddContactNote(ctx, alice.Ref, " ")))
}

// TestListMembersSMS: enabled agents with their e-mail and SMS number; the
// API application's own agent and disabled agents left out; pages are cut
// from the one list Halo sends.
func TestListMembersSMS(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	f.srv.SeedMembers([]psa.Member{
		{Ref: "31", Name: "Nina Night", Email: "nina@msp.example", Phone: "+44 7700 900321"},
		{Ref: "32", Name: "Oscar Former", Email: "oscar@msp.example"},
		{Ref: "33", Name: "Pat Day", Email: "pat@msp.example"},
	}, "32")
	warm(t, f)
	p, err := f.c.ListMembers(ctx, psa.ListOptions{PageSize: 1})
	require.NoError(t, err)
	require.Len(t, p.Items, 1)
	assert.Equal(t, psa.Member{Ref: "31", Name: "Nina Night", Email: "nina@msp.example", Phone: "+44 7700 900321"}, p.Items[0])
	require.NotEmpty(t, p.Next)
	p, err = f.c.ListMembers(ctx, psa.ListOptions{PageSize: 1, Cursor: p.Next})
	require.NoError(t, err)
	assert.Equal(t, []psa.Member{{Ref: "33", Name: "Pat Day", Email: "pat@msp.example"}}, p.Items)
	assert.Empty(t, p.Next)
	assert.Equal(t, []string{"GET /api/Agent OK", "GET /api/Agent OK"}, f.calls.take())
	_, err = f.c.ListMembers(ctx, psa.ListOptions{Cursor: "x"})
	assert.Equal(t, core.KindInvalid, core.ErrorKind(err))
}

// TestWritesRefusedAndRetried: a write the API agent may not make is
// core.ErrForbidden naming the permission to tick; a tray ticket is not
// idempotent, so a 5xx on its POST is not retried (nothing created) while
// a 429 is, once, after Retry-After.
func TestWritesRefusedAndRetried(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	warm(t, f)
	f.srv.Forbid("POST /Tickets")
	_, err := f.c.CreateTicket(ctx, psa.NewTicket{CompanyRef: acme.Ref, Summary: "x"})
	assert.Equal(t, core.KindForbidden, core.ErrorKind(err))
	assert.Contains(t, core.ErrorMessage(err), "edit:tickets")
	f.srv.Forbid("POST /CRMNote")
	err = f.c.AddContactNote(ctx, alice.Ref, "x")
	assert.Equal(t, core.KindForbidden, core.ErrorKind(err))
	assert.Contains(t, core.ErrorMessage(err), "edit:crm")
	f.srv.Forbid("POST /Users")
	err = f.c.SetContactPhone(ctx, alice.Ref, psa.PhoneChange{Old: "+15550100142", New: "+447700900123"})
	assert.Equal(t, core.KindForbidden, core.ErrorKind(err))
	assert.Contains(t, core.ErrorMessage(err), "edit:customers")

	g := newFixture(t, nil)
	warm(t, g)
	g.srv.FailNextWrite(1, 503, "")
	_, err = g.c.CreateTicket(ctx, psa.NewTicket{CompanyRef: acme.Ref, Summary: "After a 503"})
	assert.Equal(t, core.KindUnavailable, core.ErrorKind(err), "%v", err)
	assert.Len(t, g.srv.Tickets(), 1, "not retried: nothing created")
	g.srv.FailNextWrite(1, 429, "1")
	got, err := g.c.CreateTicket(ctx, psa.NewTicket{CompanyRef: acme.Ref, Summary: "After a 429"})
	require.NoError(t, err)
	assert.Len(t, g.srv.Tickets(), 2, "retried once after the 429")
	assert.Equal(t, "After a 429", got.Summary)
}
