package web_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// TestContactCardTechnicianNames: the card names the technician of each
// verification in its history from the cache of signed-in technicians,
// reading only the ones it lacks one by one; it no longer lists every
// technician of the tenant on each card (issue 11.4's load test found that
// list the card's main cost). A technician no longer on record is nameless,
// not an error.
func TestContactCardTechnicianNames(t *testing.T) {
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			var trips atomic.Int64
			st := storetest.Open(t, dialect, store.CountRoundTrips(&trips))
			e := newEnv(t, st)
			c := e.login(t, e.a)
			now := e.clk.Now()
			sam := e.a.contact
			e.verifiedBy(t, e.a, e.a.tech.ID, now.Add(-2*time.Minute))
			card := func() (int64, map[string]any) {
				n0 := trips.Load()
				r := e.api(t, c, "GET", "/api/v1/contacts/"+sam.ID, nil)
				n := trips.Load() - n0
				require.Equal(t, 200, r.status, "%s", r.body)
				return n, r.JSON(t)
			}
			card() // warm: the signed-in technician is cached
			n, body := card()
			assert.Equal(t, e.a.tech.Name, body["history"].([]any)[0].(map[string]any)["technician_name"])
			assert.Equal(t, e.a.tech.Name, body["shield"].(map[string]any)["technician_name"])
			t.Logf("%s: a contact card is %d round trips", dialect, n)
			// 17 while the card listed the tenant's technicians (a read of its own),
			// 14 while the contact's destinations and its policy were reads apart;
			// 11 before the card showed the mobile's SMS opt-in state (one read
			// of consents and opt-outs in the card's transaction, issue 18.4);
			// 12 while the card read the contact, its history and its policy
			// in three transactions (one now: Engine.ContactCard).
			assert.Equal(t, int64(6), n, "%s: round trips of a card verified by the signed-in technician", dialect)

			e.verifiedBy(t, e.a, "tec_gone", now.Add(-time.Minute))
			_, body = card()
			hist := body["history"].([]any)
			require.Len(t, hist, 2)
			assert.Nil(t, hist[0].(map[string]any)["technician_name"], "a technician no longer on record")
			assert.Equal(t, e.a.tech.Name, hist[1].(map[string]any)["technician_name"])
		})
	}
}
