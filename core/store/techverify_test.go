package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTechVerifyRequests: requests and replies round-trip on both stores,
// stay in their tenant, and the confirmation is one conditional update that
// succeeds once, only while open and unexpired.
func TestTechVerifyRequests(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		f := seed(t, s)
		phone := "+15550100100"
		r := core.TechVerifyRequest{TenantID: f.A.ID, Phone: phone, Number: "+15550109999", MessageSID: "SM" + "1",
			ContactID: f.contactA.ID, ClientID: f.clientA.ID, Matches: 1, Provenance: "psa:connectwise", Status: core.TechVerifyOpen,
			CodeHash: []byte("hash"), CodeSealed: []byte("sealed"), CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)}
		unknown := core.TechVerifyRequest{TenantID: f.A.ID, Phone: "+15550100999", Number: "+15550109999", MessageSID: "SM2",
			Status: core.TechVerifyUnknown, CreatedAt: t0.Add(time.Second), ClosedAt: t0.Add(time.Second), Detail: "not on file"}
		update(t, s, func(ctx context.Context, tx core.Tx) error {
			require.NoError(t, tx.CreateTechVerify(ctx, &r))
			require.NoError(t, tx.CreateTechVerify(ctx, &unknown))
			require.NoError(t, tx.RecordTechVerifyReply(ctx, f.A.ID, phone, "code", t0))
			require.NoError(t, tx.RecordTechVerifyReply(ctx, f.A.ID, "+15550100999", "unknown", t0))
			require.NoError(t, tx.RecordTechVerifyReply(ctx, f.B.ID, phone, "code", t0))
			return nil
		})
		require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
			got, err := tx.TechVerify(ctx, f.A.ID, r.ID)
			require.NoError(t, err)
			assert.Equal(t, r, got)
			_, err = tx.TechVerify(ctx, f.B.ID, r.ID)
			assert.ErrorIs(t, err, core.ErrNotFound, "another tenant's request")
			open, err := tx.OpenTechVerifies(ctx, f.A.ID, phone)
			require.NoError(t, err)
			require.Len(t, open, 1)
			open, err = tx.OpenTechVerifies(ctx, f.B.ID, phone)
			require.NoError(t, err)
			assert.Empty(t, open)
			n, err := tx.CountTechVerifies(ctx, f.A.ID, phone, t0, true)
			require.NoError(t, err)
			assert.Equal(t, 1, n)
			n, err = tx.CountTechVerifies(ctx, f.A.ID, "+15550100999", t0, true)
			require.NoError(t, err)
			assert.Zero(t, n, "an unknown caller's request has no code")
			n, err = tx.CountTechVerifies(ctx, f.A.ID, "+15550100999", t0, false)
			require.NoError(t, err)
			assert.Equal(t, 1, n)
			n, err = tx.CountTechVerifies(ctx, f.A.ID, phone, t0.Add(time.Second), false)
			require.NoError(t, err)
			assert.Zero(t, n, "since is inclusive of later requests only")
			list, err := tx.ListTechVerifies(ctx, f.A.ID, t0, 10)
			require.NoError(t, err)
			require.Len(t, list, 2)
			assert.Equal(t, unknown.ID, list[0].ID, "newest first")
			list, err = tx.ListTechVerifies(ctx, f.B.ID, t0, 10)
			require.NoError(t, err)
			assert.Empty(t, list)
			for _, c := range []struct {
				phone, kind string
				want        int
			}{{phone, "", 1}, {"", "", 2}, {"", "unknown", 1}, {phone, "unknown", 0}} {
				n, err := tx.CountTechVerifyReplies(ctx, f.A.ID, c.phone, c.kind, t0)
				require.NoError(t, err)
				assert.Equal(t, c.want, n, "%+v", c)
			}
			n, err = tx.CountTechVerifyReplies(ctx, f.A.ID, "", "", t0.Add(time.Second))
			require.NoError(t, err)
			assert.Zero(t, n)
			return nil
		}))

		update(t, s, func(ctx context.Context, tx core.Tx) error {
			ok, err := tx.ConfirmTechVerify(ctx, f.B.ID, r.ID, "x", t0.Add(time.Minute))
			require.NoError(t, err)
			assert.False(t, ok, "another tenant cannot confirm it")
			ok, err = tx.ConfirmTechVerify(ctx, f.A.ID, r.ID, "x", t0.Add(5*time.Minute))
			require.NoError(t, err)
			assert.False(t, ok, "not at the expiry instant")
			ok, err = tx.ConfirmTechVerify(ctx, f.A.ID, r.ID, "confirmed", t0.Add(time.Minute))
			require.NoError(t, err)
			assert.True(t, ok)
			ok, err = tx.ConfirmTechVerify(ctx, f.A.ID, r.ID, "again", t0.Add(2*time.Minute))
			require.NoError(t, err)
			assert.False(t, ok, "a second confirmation changes nothing")
			return nil
		})
		require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
			got, err := tx.TechVerify(ctx, f.A.ID, r.ID)
			require.NoError(t, err)
			assert.Equal(t, core.TechVerifyConfirmed, got.Status)
			assert.Empty(t, got.CodeSealed, "the sealed code goes when it ends")
			assert.Equal(t, "confirmed", got.Detail)
			assert.Equal(t, t0.Add(time.Minute), got.ClosedAt)
			return nil
		}))

		r.Status, r.Attempts, r.ClaimedBy, r.ClaimedAt, r.Detail = core.TechVerifyFailed, 5, f.techA.ID, t0.Add(time.Minute), "wrong codes"
		r.CodeSealed, r.ClosedAt, r.IntegrationID, r.TicketRef = nil, t0.Add(3*time.Minute), f.integrationA.ID, "T-9"
		update(t, s, func(ctx context.Context, tx core.Tx) error {
			require.NoError(t, tx.UpdateTechVerify(ctx, &r))
			wrong := r
			wrong.TenantID = f.B.ID
			assert.ErrorIs(t, tx.UpdateTechVerify(ctx, &wrong), core.ErrNotFound)
			return nil
		})
		require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
			got, err := tx.TechVerify(ctx, f.A.ID, r.ID)
			require.NoError(t, err)
			assert.Equal(t, 5, got.Attempts)
			assert.Equal(t, f.techA.ID, got.ClaimedBy)
			assert.Equal(t, t0.Add(time.Minute), got.ClaimedAt)
			assert.Empty(t, got.CodeSealed)
			assert.Equal(t, f.integrationA.ID, got.IntegrationID)
			assert.Equal(t, "T-9", got.TicketRef)
			return nil
		}))
	})
}
