package core_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// TestIntegrationConfigSealed checks that an integration's settings are
// encrypted at rest, bound to their row, and opened on the way out.
func TestIntegrationConfigSealed(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := t.Context()
		cfg := []byte(`{"private_key":"very-secret-key-123"}`)
		in, err := f.eng.PutIntegration(ctx, f.tenant.ID, "tech:"+f.admin.ID, core.Integration{Kind: "connectwise", Name: "CW", Config: cfg})
		require.NoError(t, err)
		require.NotEmpty(t, in.ID)

		var row core.Integration
		require.NoError(t, st.View(ctx, func(tx core.Tx) error {
			row, err = tx.Integration(ctx, f.tenant.ID, in.ID)
			return err
		}))
		assert.NotContains(t, string(row.Config), "very-secret-key-123", "config is sealed at rest")

		got, err := f.eng.Integration(ctx, f.tenant.ID, in.ID)
		require.NoError(t, err)
		assert.JSONEq(t, string(cfg), string(got.Config))
		all, err := f.eng.Integrations(ctx, f.tenant.ID)
		require.NoError(t, err)
		require.Len(t, all, 1)
		assert.JSONEq(t, string(cfg), string(all[0].Config))

		// A sealed config copied onto another row does not open.
		copied := core.Integration{ID: core.NewID("int"), TenantID: f.tenant.ID, Kind: "connectwise", Name: "Copy", Config: row.Config}
		require.NoError(t, st.Update(ctx, func(tx core.Tx) error { return tx.PutIntegration(ctx, &copied) }))
		_, err = f.eng.Integration(ctx, f.tenant.ID, copied.ID)
		assert.Equal(t, core.KindInternal, kindOf(err))

		_, err = f.eng.PutIntegration(ctx, f.tenant.ID, "x", core.Integration{Kind: "connectwise"})
		assert.Equal(t, core.KindInvalid, kindOf(err), "name required")
		var events []core.AuditEvent
		require.NoError(t, st.View(ctx, func(tx core.Tx) error {
			events, err = tx.AuditEvents(ctx, f.tenant.ID, core.AuditQuery{})
			return err
		}))
		require.NotEmpty(t, events)
		for _, e := range events {
			assert.NotContains(t, fmt.Sprint(e.Detail), "very-secret-key-123", "the audit log never holds the config")
		}
	})
}
