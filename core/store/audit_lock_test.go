package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// TestAppendAuditAfterInsertsConcurrently runs many transactions that each
// insert a row referencing the tenant (which takes FOR KEY SHARE on the
// tenant's row in PostgreSQL) and then append to its audit log (which
// locks the same row): the engine's usual shape, e.g. mirroring a PSA
// contact. Locking the head FOR UPDATE made these deadlock with each
// other, a second at a time, until they timed out; FOR NO KEY UPDATE
// serialises the appends without conflicting with the inserts.
func TestAppendAuditAfterInsertsConcurrently(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		ten := core.Tenant{ID: core.NewID("ten"), Slug: "locks", Name: "Locks", CreatedAt: t0}
		require.NoError(t, st.Update(ctx, func(tx core.Tx) error { return tx.CreateTenant(ctx, &ten) }))
		const writers = 12
		start := make(chan struct{})
		errs := make([]error, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = st.Update(ctx, func(tx core.Tx) error {
					c := core.Client{ID: core.NewID("cli"), TenantID: ten.ID, Name: "Client", CreatedAt: t0}
					if err := tx.CreateClient(ctx, &c); err != nil {
						return err
					}
					time.Sleep(20 * time.Millisecond) // the others insert too, before anyone appends
					return tx.AppendAudit(ctx, &core.AuditEvent{TenantID: ten.ID, At: t0, Actor: "test", Action: core.AuditClientCreated, Subject: c.ID})
				})
			}()
		}
		began := time.Now()
		close(start)
		wg.Wait()
		for i, err := range errs {
			assert.NoError(t, err, "writer %d", i)
		}
		assert.Less(t, time.Since(began), 5*time.Second, "the writers waited on each other's locks")
		var seq int64
		require.NoError(t, st.View(ctx, func(tx core.Tx) error {
			var err error
			seq, _, err = tx.AuditHead(ctx, ten.ID)
			return err
		}))
		assert.Equal(t, int64(writers), seq, "every append made it, one after the other")
	})
}
