package psa_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/memory"
)

// TestContactSenderLostAnswer: the PSA creates the contact but its answer
// is lost on the way (a 502 from a proxy after the PSA did the work); the
// retry finds the contact by its address and creates no second one.
func TestContactSenderLostAnswer(t *testing.T) {
	srv := memory.NewServer("k")
	srv.Seed([]psa.Company{{Ref: "co1", Name: "Fabrikam"}}, nil, nil)
	var lost atomic.Bool
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && !lost.Load() {
			lost.Store(true)
			srv.ServeHTTP(httptest.NewRecorder(), r) // done in the PSA, answer dropped
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	reg, err := psa.NewRegistry(memory.Descriptor())
	require.NoError(t, err)
	cfg, err := json.Marshal(memory.Config{BaseURL: ts.URL, APIKey: "k"})
	require.NoError(t, err)
	in := core.Integration{ID: "int1", TenantID: "ten1", Kind: memory.ID, Config: cfg}
	s := &psa.ContactSender{Clients: psa.NewClients(reg, nil), Load: func(context.Context, string, string) (core.Integration, error) { return in, nil }}
	m := core.Outbound{Kind: core.OutboxPSAContact, Tenant: "ten1", Integration: "int1", CompanyRef: "co1",
		To: "dana@fabrikam.example", FirstName: "Dana", LastName: "Dent"}

	_, err = s.Send(t.Context(), m)
	require.Error(t, err)
	var perm *core.PermanentError
	assert.NotErrorAs(t, err, &perm, "a lost answer is retried")
	require.Len(t, srv.Contacts(), 1, "the PSA did create the contact")

	ref, err := s.Send(t.Context(), m)
	require.NoError(t, err)
	assert.Equal(t, "contact:"+srv.Contacts()[0].Ref, ref)
	assert.Len(t, srv.Contacts(), 1, "no second contact")

	m.To = "eli@fabrikam.example"
	ref, err = s.Send(t.Context(), m)
	require.NoError(t, err)
	require.Len(t, srv.Contacts(), 2)
	got := srv.Contacts()[1]
	assert.Equal(t, "contact:"+got.Ref, ref)
	assert.Equal(t, "co1", got.CompanyRef)
	assert.Equal(t, []psa.Email{{Address: "eli@fabrikam.example", Default: true}}, got.Emails)
}
