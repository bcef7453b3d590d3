package store_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// TestLastVerified reads when each destination of a contact was last
// verified, in one statement: only verifications that verified count,
// the newest wins, and other contacts' and tenants' do not show.
func TestLastVerified(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			var trips atomic.Int64
			s := storetest.Open(t, d, store.CountRoundTrips(&trips))
			f := seed(t, s)
			phone, email := f.contactA.Destinations[0], f.contactA.Destinations[1]
			add := func(dest core.Destination, st core.Status, done time.Time) {
				v := core.Verification{TenantID: f.A.ID, ClientID: f.clientA.ID, ContactID: f.contactA.ID, DestinationID: dest.ID,
					DestKind: dest.Kind, Destination: dest.Value, Method: core.MethodSMSCode, TechnicianID: f.techA.ID, Status: st,
					MaxAttempts: 5, CreatedAt: done.Add(-time.Minute), ExpiresAt: done.Add(5 * time.Minute), CompletedAt: done}
				update(t, s, func(ctx context.Context, tx core.Tx) error { return tx.CreateVerification(ctx, &v) })
			}
			add(phone, core.StatusVerified, t0.Add(time.Hour))
			add(phone, core.StatusVerified, t0.Add(3*time.Hour))
			add(phone, core.StatusFailed, t0.Add(4*time.Hour)) // a later failure is not a verification
			add(email, core.StatusFailed, t0.Add(2*time.Hour))
			require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
				n0 := trips.Load()
				got, err := tx.LastVerified(ctx, f.A.ID, f.contactA.ID)
				require.NoError(t, err)
				assert.Equal(t, int64(1), trips.Load()-n0, "one statement for all destinations")
				assert.Equal(t, map[string]time.Time{phone.ID: t0.Add(3 * time.Hour)}, got)
				got, err = tx.LastVerified(ctx, f.B.ID, f.contactA.ID)
				require.NoError(t, err)
				assert.Empty(t, got, "another tenant sees nothing")
				got, err = tx.LastVerified(ctx, f.A.ID, f.contactB.ID)
				require.NoError(t, err)
				assert.Empty(t, got)
				return nil
			}))
		})
	}
}
