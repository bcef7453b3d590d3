package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

func TestTechnicianLinks(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		f := seed(t, s)
		other := core.Technician{TenantID: f.A.ID, Email: "other@acme.example", Name: "Otto", Role: core.RolePodOnly, CreatedAt: t0}
		update(t, s, func(ctx context.Context, tx core.Tx) error {
			require.NoError(t, tx.CreateTechnician(ctx, &other))
			return tx.LinkTechnician(ctx, f.A.ID, f.integrationA.ID, "42", f.techA.ID, t0)
		})
		require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
			got, err := tx.LinkedTechnician(ctx, f.A.ID, f.integrationA.ID, "42")
			require.NoError(t, err)
			assert.Equal(t, f.techA.ID, got.ID)
			_, err = tx.LinkedTechnician(ctx, f.A.ID, f.integrationA.ID, "43")
			assert.Equal(t, core.KindNotFound, core.ErrorKind(err))
			_, err = tx.LinkedTechnician(ctx, f.B.ID, f.integrationA.ID, "42")
			assert.Equal(t, core.KindNotFound, core.ErrorKind(err), "another tenant sees no link")
			return nil
		}))
		// Relinking moves the member to another technician.
		update(t, s, func(ctx context.Context, tx core.Tx) error {
			return tx.LinkTechnician(ctx, f.A.ID, f.integrationA.ID, "42", other.ID, t0)
		})
		require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
			got, err := tx.LinkedTechnician(ctx, f.A.ID, f.integrationA.ID, "42")
			require.NoError(t, err)
			assert.Equal(t, other.ID, got.ID)
			return nil
		}))
		// A link cannot point at another tenant's technician or integration.
		err := s.Update(t.Context(), func(tx core.Tx) error {
			return tx.LinkTechnician(t.Context(), f.B.ID, f.integrationA.ID, "7", f.techA.ID, t0)
		})
		assert.Error(t, err)
	})
}
