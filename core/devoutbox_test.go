package core_test

import (
	"context"
	"sync"
	"testing"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDevOutboxEvent: in dev delivery mode, each message kept in the
// outbox is announced once it is written (outbox.changed, for the dev
// outbox panel to refetch), with nothing of the message in it; a real send
// announces nothing.
func TestDevOutboxEvent(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		for _, dev := range []bool{true, false} {
			var (
				mu     sync.Mutex
				events []core.Event
			)
			f := newFixture(t, st, func(c *core.Config) {
				c.DevDelivery = dev
				c.Publisher = core.PublisherFunc(func(_ context.Context, ev core.Event) {
					mu.Lock()
					defer mu.Unlock()
					if ev.Type == core.EventOutboxChanged {
						events = append(events, ev)
					}
				})
			})
			f.start(t, core.MethodSMSCode)
			f.deliver(t)
			mu.Lock()
			got := append([]core.Event(nil), events...)
			mu.Unlock()
			if !dev {
				assert.Empty(t, got, "a message really sent is not a dev outbox message")
				assert.Len(t, f.sms.msgs, 1)
				continue
			}
			require.Len(t, got, 1, "the kept SMS is announced once")
			assert.Equal(t, core.Event{Type: core.EventOutboxChanged, TenantID: f.tenant.ID, At: f.clk.Now()}, got[0],
				"the tenant and the time only")
			assert.Empty(t, f.sms.msgs, "dev delivery sends nothing")
		}
	})
}
