package connectwise_test

import (
	"testing"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestContactWrites: a note goes on the contact; a corrected number
// replaces the phone item that reads as the old number (written as typed,
// "(555) 010-0142"), keeping its type; a contact without it gets a new
// Mobile item; every call is one the contract describes.
func TestContactWrites(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	require.NoError(t, e.client.AddContactNote(ctx, alice.Ref, "Countersign: an SMS opt-in form was sent"))
	assert.Equal(t, []string{"Countersign: an SMS opt-in form was sent"}, e.srv.ContactNotes(alice.Ref))
	assert.Equal(t, core.KindNotFound, core.ErrorKind(e.client.AddContactNote(ctx, "999999", "x")))

	require.NoError(t, e.client.SetContactPhone(ctx, alice.Ref, psa.PhoneChange{Old: "+15550100142", New: "+447700900123", Label: "Mobile"}))
	got, err := e.client.GetContact(ctx, alice.Ref)
	require.NoError(t, err)
	require.Len(t, got.Phones, 1)
	assert.Equal(t, psa.Phone{Number: "+447700900123", Label: "Mobile", Default: true}, got.Phones[0], "replaced in place, type and default kept")

	require.NoError(t, e.client.SetContactPhone(ctx, alice.Ref, psa.PhoneChange{Old: "+15550100999", New: "+447700900555", Label: "Mobile"}))
	require.NoError(t, e.client.SetContactPhone(ctx, alice.Ref, psa.PhoneChange{Old: "+15550100999", New: "+447700900555"}), "already there")
	got, err = e.client.GetContact(ctx, alice.Ref)
	require.NoError(t, err)
	require.Len(t, got.Phones, 2)
	assert.Equal(t, psa.Phone{Number: "+447700900555", Label: "Mobile"}, got.Phones[1], "added under the Mobile type")
	assert.Equal(t, core.KindNotFound, core.ErrorKind(e.client.SetContactPhone(ctx, "999999", psa.PhoneChange{New: "+447700900555"})))
	assert.Empty(t, e.srv.TakeViolations(), "every call follows the contract")
}
