package kaseya_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// TestCreateTicketFields: a tray ticket carries every field TicketInputDto
// requires, from BMS's own lookups (the account's main location, the
// default priority, the first active status) and the settings (type and
// source 1); a contact of another account and a missing account are
// refused as BMS refuses them, and every call is one the document lists.
func TestCreateTicketFields(t *testing.T) {
	srv, c, _, calls := setup(t)
	ctx := t.Context()
	got, err := c.CreateTicket(ctx, psa.NewTicket{CompanyRef: acme.Ref, ContactRef: alice.Ref, Summary: "Outlook asks for a password"})
	require.NoError(t, err)
	assert.Equal(t, "Outlook asks for a password", got.Summary)
	assert.Equal(t, alice.Ref, got.ContactRef)
	assert.Regexp(t, `^T\d{8}\.\d{4}$`, got.Number)
	tickets := srv.Tickets()
	require.Len(t, tickets, 1)
	tk := tickets[0]
	assert.Equal(t, "Outlook asks for a password", tk.Details, "no words of the user's: the summary is the details BMS requires")
	assert.Equal(t, 7000, tk.LocationID, "the account's main location")
	assert.Equal(t, 2, tk.Priority, "the default priority")
	assert.Equal(t, 10, tk.StatusID, "the first active status")
	assert.Equal(t, "New", tk.Status)
	assert.Equal(t, 1, tk.TypeID)
	assert.Equal(t, 1, tk.SourceID)
	assert.Contains(t, calls.take(), "POST /v2/servicedesk/tickets")

	other := psa.Contact{Ref: "602", CompanyRef: "502", FirstName: "Olga", LastName: "Other"}
	srv.Seed([]psa.Company{acme, {Ref: "502", Name: "Other"}}, []psa.Contact{alice, other}, nil)
	_, err = c.CreateTicket(ctx, psa.NewTicket{CompanyRef: acme.Ref, ContactRef: other.Ref, Summary: "x"})
	require.Error(t, err)
	assert.Equal(t, core.KindInvalid, core.ErrorKind(err), "%v", err)
	assert.Contains(t, err.Error(), "ContactId is not a contact of the account", "BMS's own words")
	_, err = c.CreateTicket(ctx, psa.NewTicket{CompanyRef: acme.Ref, Summary: " "})
	assert.Equal(t, core.KindInvalid, core.ErrorKind(err))
	assert.Empty(t, srv.TakeViolations())
}

// TestSetTicketContact: a JSON-Patch replace of ContactId, nothing else;
// a missing ticket is not found, a contact of another account refused.
func TestSetTicketContact(t *testing.T) {
	srv, c, _, _ := setup(t)
	ctx := t.Context()
	bob := psa.Contact{Ref: "603", CompanyRef: acme.Ref, FirstName: "Bob", LastName: "Jones"}
	other := psa.Contact{Ref: "604", CompanyRef: "502", FirstName: "Olga", LastName: "Other"}
	srv.Seed([]psa.Company{acme, {Ref: "502", Name: "Other"}}, []psa.Contact{alice, bob, other}, []psa.Ticket{ticket})
	require.NoError(t, c.SetTicketContact(ctx, ticket.Ref, bob.Ref))
	assert.Equal(t, bob.Ref, srv.TicketContact(ticket.Ref))
	got, err := c.GetTicketOnly(ctx, ticket.Ref)
	require.NoError(t, err)
	assert.Equal(t, ticket.Summary, got.Summary, "nothing else changed")
	assert.Equal(t, core.KindNotFound, core.ErrorKind(c.SetTicketContact(ctx, "999999", bob.Ref)))
	assert.Equal(t, core.KindInvalid, core.ErrorKind(c.SetTicketContact(ctx, ticket.Ref, other.Ref)))
	assert.Equal(t, bob.Ref, srv.TicketContact(ticket.Ref))
	assert.Empty(t, srv.TakeViolations())
}

// TestSetContactPhone: the number that reads as the old one (stored as
// "(555) 010-0142") is replaced in place, type kept; a contact without it
// gets the new number added under its Mobile type; the same number again
// changes nothing; the cached contact is read afresh.
func TestSetContactPhone(t *testing.T) {
	srv, c, _, calls := setup(t)
	ctx := t.Context()
	_, err := c.GetContact(ctx, alice.Ref) // cached
	require.NoError(t, err)
	require.NoError(t, c.SetContactPhone(ctx, alice.Ref, psa.PhoneChange{Old: "+15550100142", New: "+447700900123", Label: "Mobile"}))
	assert.Equal(t, []psa.Phone{{Number: "+447700900123", Label: "Mobile", Default: true}}, srv.ContactPhones(alice.Ref))
	got, err := c.GetContact(ctx, alice.Ref)
	require.NoError(t, err)
	assert.Equal(t, "+447700900123", got.Phones[0].Number, "not the cached number")

	calls.take()
	require.NoError(t, c.SetContactPhone(ctx, alice.Ref, psa.PhoneChange{Old: "+15550100999", New: "+447700900555", Label: "Mobile"}))
	assert.Equal(t, []psa.Phone{{Number: "+447700900123", Label: "Mobile", Default: true}, {Number: "+447700900555", Label: "Mobile"}},
		srv.ContactPhones(alice.Ref), "added under the contact's Mobile type, not as its default")
	assert.Equal(t, []string{"GET /v2/crm/contacts/summary/{id}", "PATCH /v2/crm/contacts/{contactId}/phones"}, calls.take())
	require.NoError(t, c.SetContactPhone(ctx, alice.Ref, psa.PhoneChange{Old: "+15550100999", New: "+447700900555"}))
	assert.Equal(t, []string{"GET /v2/crm/contacts/summary/{id}"}, calls.take(), "already there: no write")
	assert.Len(t, srv.ContactPhones(alice.Ref), 2)
	assert.Equal(t, core.KindNotFound, core.ErrorKind(c.SetContactPhone(ctx, "999999", psa.PhoneChange{New: "+447700900555"})))
	assert.Empty(t, srv.TakeViolations())
}

// TestDefaultContact: the account's one point of contact; none, or two,
// is no default.
func TestDefaultContact(t *testing.T) {
	srv, c, _, _ := setup(t)
	ctx := t.Context()
	bob := psa.Contact{Ref: "603", CompanyRef: acme.Ref, FirstName: "Bob", LastName: "Jones"}
	other := psa.Contact{Ref: "604", CompanyRef: "502", FirstName: "Olga", LastName: "Other"}
	srv.Seed([]psa.Company{acme, {Ref: "502", Name: "Other"}}, []psa.Contact{alice, bob, other}, nil)
	got, err := c.DefaultContact(ctx, acme.Ref)
	require.NoError(t, err)
	assert.Empty(t, got, "no point of contact")
	srv.SetPointOfContact(bob.Ref, other.Ref)
	got, err = c.DefaultContact(ctx, acme.Ref)
	require.NoError(t, err)
	assert.Equal(t, bob.Ref, got, "another account's point of contact is not Acme's")
	srv.SetPointOfContact(alice.Ref)
	got, err = c.DefaultContact(ctx, acme.Ref)
	require.NoError(t, err)
	assert.Empty(t, got, "two points of contact: the technician picks")
	_, err = c.DefaultContact(ctx, "x")
	assert.Equal(t, core.KindInvalid, core.ErrorKind(err))
	assert.Empty(t, srv.TakeViolations())
}
