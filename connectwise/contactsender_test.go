package connectwise_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/connectwise"
	"github.com/countersign/countersign/connectwise/cwtest"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// TestContactSenderConnectWise: the outbox's contact step for a first
// ticket from the tray (core.OutboxPSAContact) creates the contact in
// ConnectWise with POST /company/contacts, as the contract has it (the
// fake fails the test on any undeclared field), under the client's company
// with the address filed as an e-mail; sent again (a retry), it finds that
// contact by its address and creates none.
func TestContactSenderConnectWise(t *testing.T) {
	cw := cwtest.NewServer(t)
	cw.Seed([]psa.Company{acme}, nil, nil)
	reg, err := psa.NewRegistry(connectwise.Descriptor())
	require.NoError(t, err)
	cfg, err := json.Marshal(cw.Config())
	require.NoError(t, err)
	in := core.Integration{ID: "int1", TenantID: "ten1", Kind: connectwise.ID, Config: cfg}
	s := &psa.ContactSender{Clients: psa.NewClients(reg, func(core.Integration) psa.Deps { return cw.Deps(psa.Deps{}) }),
		Load: func(context.Context, string, string) (core.Integration, error) { return in, nil }}
	m := core.Outbound{Kind: core.OutboxPSAContact, Tenant: "ten1", Integration: "int1", CompanyRef: acme.Ref,
		To: "dana@acme-dental.example", FirstName: "Dana", LastName: "Dent"}

	ref, err := s.Send(t.Context(), m)
	require.NoError(t, err)
	posts := 0
	for _, r := range cw.Log() {
		if r.Route == "POST /company/contacts" {
			posts++
		}
	}
	assert.Equal(t, 1, posts)
	psaRef, ok := strings.CutPrefix(ref, "contact:")
	require.True(t, ok, ref)
	got, err := cw.NewClient(t, psa.Deps{}).GetContact(t.Context(), psaRef)
	require.NoError(t, err)
	assert.Equal(t, acme.Ref, got.CompanyRef)
	assert.Equal(t, "Dana", got.FirstName)
	assert.Equal(t, "Dent", got.LastName)
	require.Len(t, got.Emails, 1)
	assert.Equal(t, "dana@acme-dental.example", got.Emails[0].Address)

	again, err := s.Send(t.Context(), m)
	require.NoError(t, err)
	assert.Equal(t, ref, again, "the retry finds the contact")
	posts = 0
	for _, r := range cw.Log() {
		if r.Route == "POST /company/contacts" {
			posts++
		}
	}
	assert.Equal(t, 1, posts, "no second POST")
	assert.Empty(t, cw.TakeViolations())
}
