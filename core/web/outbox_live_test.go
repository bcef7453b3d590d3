package web_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDevOutboxLive: a socket opened with ?outbox=1 (the dev outbox panel)
// hears its tenant's outbox.changed, nothing of another tenant's, and no
// contact's events; any other value of outbox is refused.
func TestDevOutboxLive(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		c := e.login(t, e.a)
		outbox := e.watchLive(t, c, "outbox=1")
		other := e.watchLive(t, e.login(t, e.b), "outbox=1")

		e.hub.Publish(t.Context(), core.Event{Type: core.EventVerificationVerified, TenantID: e.a.tenant.ID, ContactID: e.a.contact.ID})
		e.hub.Publish(t.Context(), core.Event{Type: core.EventOutboxChanged, TenantID: e.a.tenant.ID, At: e.clk.Now()})
		m := readLive(t, outbox, 2*time.Second)
		assert.Equal(t, "outbox.changed", m["type"], "the first message is the outbox's: a contact's event is not for the panel")
		assertSilent(t, other, 100*time.Millisecond)

		conn, res, err := dialLive(t, e.srv.URL, c, "outbox=yes", publicURL)
		require.Error(t, err)
		require.Nil(t, conn)
		assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	})
}
