package store_test

import (
	"context"
	"testing"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVerificationPurpose: a verification's purpose (migration 00171) is
// written once and read back by every read of verifications, and a
// policy's minimum assurances survive the policy's JSON (issue 19.4).
func TestVerificationPurpose(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		f := seed(t, s)
		v := core.Verification{TenantID: f.A.ID, ClientID: f.clientA.ID, ContactID: f.contactA.ID,
			DestinationID: f.contactA.Destinations[0].ID, DestKind: core.DestPhone, Destination: "+15550100100",
			Method: core.MethodSMSCode, TechnicianID: f.techA.ID, Purpose: core.PurposeReset, Status: core.StatusSent,
			MaxAttempts: 5, CreatedAt: t0, ExpiresAt: t0.Add(300e9)}
		update(t, s, func(ctx context.Context, tx core.Tx) error { return tx.CreateVerification(ctx, &v) })
		v.Status, v.Detail = core.StatusVerified, "verified by sms_code"
		update(t, s, func(ctx context.Context, tx core.Tx) error { return tx.UpdateVerification(ctx, &v) })
		pol := core.Policy{MinAssurance: core.AssurancePhone, ResetMinAssurance: core.AssurancePush}
		update(t, s, func(ctx context.Context, tx core.Tx) error { return tx.PutPolicy(ctx, f.A.ID, f.clientA.ID, pol) })
		update(t, s, func(ctx context.Context, tx core.Tx) error {
			got, err := tx.Verification(ctx, f.A.ID, v.ID)
			require.NoError(t, err)
			assert.Equal(t, core.PurposeReset, got.Purpose)
			assert.Equal(t, core.StatusVerified, got.Status)
			list, err := tx.ListVerifications(ctx, f.A.ID, f.contactA.ID, 0)
			require.NoError(t, err)
			purposes := map[string]core.Purpose{}
			for _, x := range list {
				purposes[x.ID] = x.Purpose
			}
			assert.Equal(t, map[string]core.Purpose{v.ID: core.PurposeReset, f.verA.ID: core.PurposeIdentity}, purposes)
			locked, _, err := tx.LockVerificationFor(ctx, f.A.ID, f.techA.ID, v.ID)
			require.NoError(t, err)
			assert.Equal(t, core.PurposeReset, locked.Purpose)
			p, err := tx.Policy(ctx, f.A.ID, f.clientA.ID)
			require.NoError(t, err)
			assert.Equal(t, core.AssurancePhone, p.MinAssurance)
			assert.Equal(t, core.AssurancePush, p.ResetMinAssurance)
			return nil
		})
	})
}
