package superops_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// TestCreateTicketFields: a tray ticket is sent with source INTEGRATION,
// the requester, the user's words as its description and the status the
// reference calls mandatory ("Open", from getStatusList); a requester of
// another client is refused with SuperOps' code, in a 200.
func TestCreateTicketFields(t *testing.T) {
	srv, c, calls := setup(t)
	ctx := t.Context()
	got, err := c.CreateTicket(ctx, psa.NewTicket{CompanyRef: globex.Ref, ContactRef: ryan.Ref, Summary: "Scanner offline", Description: "Floor 2."})
	require.NoError(t, err)
	assert.Equal(t, []string{"query getStatusList", "mutation createTicket"}, calls.take())
	assert.Equal(t, "Scanner offline", got.Summary)
	assert.Equal(t, ryan.Ref, got.ContactRef)
	assert.Regexp(t, `^\d{6}-\d{4}$`, got.Number, "the display id")
	tk := srv.Tickets()
	require.Len(t, tk, 1)
	assert.Equal(t, "INTEGRATION", tk[0].Source)
	assert.Equal(t, "Open", tk[0].Status)
	assert.Equal(t, "Floor 2.", tk[0].Description)

	other := psa.Company{Ref: "7928838372746166277", Name: "Initech"}
	srv.Seed([]psa.Company{globex, other}, []psa.Contact{ryan, pam}, nil)
	_, err = c.CreateTicket(ctx, psa.NewTicket{CompanyRef: other.Ref, ContactRef: ryan.Ref, Summary: "x"})
	require.Error(t, err)
	assert.Equal(t, core.KindInvalid, core.ErrorKind(err), "%v", err)
	assert.Contains(t, err.Error(), "referred_value_does_not_exist")
	assert.Empty(t, srv.TakeViolations())
}

// TestSetTicketRequester: updateTicket names the ticket and the requester
// only; a missing ticket or requester is not found.
func TestSetTicketRequester(t *testing.T) {
	srv, c, _ := setup(t)
	ctx := t.Context()
	require.NoError(t, c.SetTicketContact(ctx, ticket.Ref, pam.Ref))
	assert.Equal(t, pam.Ref, srv.TicketRequester(ticket.Ref))
	got, err := c.GetTicketOnly(ctx, ticket.Ref)
	require.NoError(t, err)
	assert.Equal(t, ticket.Summary, got.Summary)
	assert.Equal(t, core.KindNotFound, core.ErrorKind(c.SetTicketContact(ctx, "999999", pam.Ref)))
	assert.Equal(t, core.KindNotFound, core.ErrorKind(c.SetTicketContact(ctx, ticket.Ref, "999999")))
	assert.Equal(t, pam.Ref, srv.TicketRequester(ticket.Ref))
	assert.Empty(t, srv.TakeViolations())
}

// TestPrimaryContact: the client's primaryContact; none is "".
func TestPrimaryContact(t *testing.T) {
	srv, c, _ := setup(t)
	got, err := c.DefaultContact(t.Context(), globex.Ref)
	require.NoError(t, err)
	assert.Empty(t, got)
	srv.SetPrimaryContact(globex.Ref, pam.Ref)
	got, err = c.DefaultContact(t.Context(), globex.Ref)
	require.NoError(t, err)
	assert.Equal(t, pam.Ref, got, "all 19 digits")
	_, err = c.DefaultContact(t.Context(), "999999")
	assert.Equal(t, core.KindNotFound, core.ErrorKind(err))
	assert.Empty(t, srv.TakeViolations())
}

// TestSetRequesterPhone: the mobile custom field that reads as the old
// number is replaced; a number in contactNumber likewise; a requester
// without one gets it in the empty slot; with both slots taken by other
// numbers it is refused; the same number again writes nothing.
func TestSetRequesterPhone(t *testing.T) {
	srv, c, calls := setup(t)
	ctx := t.Context()
	_, err := c.GetContact(ctx, ryan.Ref) // cached
	require.NoError(t, err)
	require.NoError(t, c.SetContactPhone(ctx, ryan.Ref, psa.PhoneChange{Old: "+16412349876", New: "+447700900123", Label: "Mobile"}))
	num, mobile := srv.Requester(ryan.Ref)
	assert.Equal(t, "+447700900123", mobile, "the mobile field, stored as (641) 234-9876")
	assert.Equal(t, "+1 641 555 0100", num, "contactNumber untouched")
	got, err := c.GetContact(ctx, ryan.Ref)
	require.NoError(t, err)
	assert.Equal(t, "+447700900123", got.Phones[0].Number, "read afresh, not from the cache")

	calls.take()
	require.NoError(t, c.SetContactPhone(ctx, ryan.Ref, psa.PhoneChange{Old: "+16412349876", New: "+447700900123"}))
	assert.Equal(t, []string{"query getClientUser"}, calls.take(), "already there: no write")

	require.NoError(t, c.SetContactPhone(ctx, ryan.Ref, psa.PhoneChange{Old: "+16415550100", New: "+447700900555"}))
	num, _ = srv.Requester(ryan.Ref)
	assert.Equal(t, "+447700900555", num, "the old number was contactNumber")

	// Pam has a work number and no mobile: the new one goes to the mobile field.
	require.NoError(t, c.SetContactPhone(ctx, pam.Ref, psa.PhoneChange{Old: "+15550100999", New: "+447700900777", Label: "Mobile"}))
	num, mobile = srv.Requester(pam.Ref)
	assert.Equal(t, "+447700900777", mobile)
	assert.Equal(t, "+1 641 555 0111", num)
	err = c.SetContactPhone(ctx, pam.Ref, psa.PhoneChange{Old: "+15550100999", New: "+447700900888"})
	assert.Equal(t, core.KindInvalid, core.ErrorKind(err), "both numbers taken: %v", err)
	assert.Equal(t, core.KindNotFound, core.ErrorKind(c.SetContactPhone(ctx, "999999", psa.PhoneChange{New: "+447700900555"})))
	assert.Empty(t, srv.TakeViolations())
}
