package memory_test

import (
	"testing"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestContactWrites: the memory PSA writes contact notes and replaces a
// contact's number read in E.164 (or adds one), as opt-in forms need.
func TestContactWrites(t *testing.T) {
	srv, ts := newServer(t)
	ct := psa.Contact{Ref: "7", CompanyRef: "1", FirstName: "Jane", Phones: []psa.Phone{{Number: "(555) 010-0100", Label: "Mobile"}, {Number: "555-010-0199", Label: "Office"}}}
	srv.Seed([]psa.Company{{Ref: "1", Name: "Contoso"}}, []psa.Contact{ct}, nil)
	cl, err := memory.New(memory.Config{BaseURL: ts.URL, APIKey: testKey}, psa.Deps{})
	require.NoError(t, err)
	ctx := t.Context()

	var got psa.Contact
	require.NoError(t, cl.AddContactNote(ctx, ct.Ref, "opt-in form sent"))
	assert.Equal(t, []string{"opt-in form sent"}, srv.ContactNotes(ct.Ref))
	assert.Equal(t, core.KindNotFound, core.ErrorKind(cl.AddContactNote(ctx, "999999", "x")))

	require.NoError(t, cl.SetContactPhone(ctx, ct.Ref, psa.PhoneChange{Old: "+15550100100", New: "+447700900123"}))
	got, err = cl.GetContact(ctx, ct.Ref)
	require.NoError(t, err)
	assert.Equal(t, []psa.Phone{{Number: "+447700900123", Label: "Mobile"}, {Number: "555-010-0199", Label: "Office"}}, got.Phones)

	require.NoError(t, cl.SetContactPhone(ctx, ct.Ref, psa.PhoneChange{Old: "+15550100111", New: "+447700900999", Label: "Cell"}), "no such number: added")
	require.NoError(t, cl.SetContactPhone(ctx, ct.Ref, psa.PhoneChange{Old: "+15550100111", New: "+447700900999"}), "already there: nothing changes")
	got, err = cl.GetContact(ctx, ct.Ref)
	require.NoError(t, err)
	require.Len(t, got.Phones, 3)
	assert.Equal(t, psa.Phone{Number: "+447700900999", Label: "Cell"}, got.Phones[2])
	assert.Equal(t, core.KindNotFound, core.ErrorKind(cl.SetContactPhone(ctx, "999999", psa.PhoneChange{New: "+447700900999"})))
}
