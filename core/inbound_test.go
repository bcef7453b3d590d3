package core_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// TestInboundEvents checks that a PSA event is recorded once per key, acted
// on from the outbox (again after a failure), and listed with its outcome,
// per integration and tenant.
func TestInboundEvents(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := t.Context()
		in, err := f.eng.PutIntegration(ctx, f.tenant.ID, "test", core.Integration{Kind: "memory", Name: "PSA", Config: []byte(`{}`)})
		require.NoError(t, err)

		// Acting on it fails once (the PSA is slow), then works.
		f.inbound.fail = []error{errors.New("psa: 503")}
		ev := core.InboundEvent{IntegrationID: in.ID, Key: "6dd82302|ticket|4821", Type: "Ticket", Action: "added", Ref: "4821"}
		first, created, err := f.eng.RecordInboundEvent(ctx, f.tenant.ID, ev)
		require.NoError(t, err)
		require.True(t, created)
		assert.Equal(t, core.InboundReceived, first.Status)
		assert.Equal(t, "ticket", first.Type)
		again, created, err := f.eng.RecordInboundEvent(ctx, f.tenant.ID, ev)
		require.NoError(t, err)
		assert.False(t, created, "the PSA's retry of the same event")
		assert.Empty(t, again.ID)

		f.deliver(t)
		assert.Empty(t, f.inbound.fail, "the first try failed")
		f.clk.Add(time.Minute)
		f.deliver(t)
		require.Len(t, f.inbound.msgs, 1, "acted on once, from the outbox")
		m := f.inbound.msgs[0]
		assert.Equal(t, core.OutboxInboundEvent, m.Kind)
		assert.Equal(t, first.ID, m.To)
		assert.Equal(t, f.tenant.ID, m.Tenant)
		assert.Equal(t, in.ID, m.Integration)
		f.clk.Add(time.Hour)
		f.deliver(t)
		assert.Len(t, f.inbound.msgs, 1, "and never again")

		require.NoError(t, f.eng.FinishInboundEvent(ctx, f.tenant.ID, first.ID, core.InboundDone, "recorded; "+strings.Repeat("x", 600)))
		_, _, err = f.eng.RecordInboundEvent(ctx, f.tenant.ID, core.InboundEvent{IntegrationID: in.ID, Key: "other", Type: "contact", Action: "updated", Ref: "7"})
		require.NoError(t, err)
		evs, err := f.eng.InboundEvents(ctx, f.tenant.ID, in.ID, 10)
		require.NoError(t, err)
		require.Len(t, evs, 2)
		assert.Equal(t, "contact", evs[0].Type, "newest first")
		assert.Equal(t, core.InboundDone, evs[1].Status)
		assert.Len(t, evs[1].Outcome, 500, "outcomes are bounded")
		assert.False(t, evs[1].DoneAt.IsZero())
		assert.Equal(t, 1, evs[1].Attempts)

		// Another tenant sees none of it, and cannot record against this
		// tenant's integration.
		other := core.Tenant{ID: core.NewID("ten"), Slug: "other-" + core.NewID("x")[2:8], Name: "Other", CreatedAt: f.clk.Now()}
		require.NoError(t, st.Update(ctx, func(tx core.Tx) error { return tx.CreateTenant(ctx, &other) }))
		evs, err = f.eng.InboundEvents(ctx, other.ID, in.ID, 10)
		require.NoError(t, err)
		assert.Empty(t, evs)
		_, _, err = f.eng.RecordInboundEvent(ctx, other.ID, ev)
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = f.eng.InboundEvent(ctx, other.ID, first.ID)
		require.ErrorIs(t, err, core.ErrNotFound)

		_, _, err = f.eng.RecordInboundEvent(ctx, f.tenant.ID, core.InboundEvent{IntegrationID: in.ID, Key: strings.Repeat("k", 201)})
		require.ErrorIs(t, err, core.ErrInvalid)
	})
}
