package web_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// TestContactListRoundTrips checks that a page of the contact list costs
// the same database round trips (store.CountRoundTrips) whatever the
// number of contacts on it (issue 12): the shields are one read for the
// page, not a history read per contact (up to 200 a page before). The
// shields are still right.
func TestContactListRoundTrips(t *testing.T) {
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			var trips atomic.Int64
			st := storetest.Open(t, dialect, store.CountRoundTrips(&trips))
			e := newEnv(t, st)
			c := e.login(t, e.a)
			ctx := t.Context()
			now := e.clk.Now()
			sam := e.a.contact
			e.verifiedBy(t, e.a, e.a.tech.ID, now.Add(-time.Minute))

			list := func() (int64, map[string]string) {
				n0 := trips.Load()
				r := e.api(t, c, "GET", "/api/v1/contacts?limit=200", nil)
				n := trips.Load() - n0
				require.Equal(t, 200, r.status, "%s", r.body)
				shields := map[string]string{}
				for _, x := range r.JSON(t)["contacts"].([]any) {
					co := x.(map[string]any)
					shields[co["id"].(string)] = co["shield"].(map[string]any)["state"].(string)
				}
				return n, shields
			}
			list() // warm
			one, shields := list()
			require.Len(t, shields, 1)
			assert.Equal(t, "green", shields[sam.ID])
			for i := range 20 {
				_, err := e.eng.CreateContact(ctx, e.a.tenant.ID, "test", "manual", core.NewContact{ClientID: e.a.client.ID,
					FirstName: "Extra", LastName: fmt.Sprintf("Contact %02d", i),
					Phones: []core.NewDestination{{Value: fmt.Sprintf("(555) 010-02%02d", i), Default: true}}})
				require.NoError(t, err)
			}
			many, shields := list()
			require.Len(t, shields, 21)
			assert.Equal(t, "green", shields[sam.ID])
			assert.Equal(t, "grey", shields[shieldsOtherThan(shields, sam.ID)])
			assert.Equal(t, one, many, "%s: round trips of a list of 1 and of 21 contacts", dialect)
			t.Logf("%s: a contact-list page is %d round trips", dialect, many)
		})
	}
}

// shieldsOtherThan returns some contact id of shields other than id.
func shieldsOtherThan(shields map[string]string, id string) string {
	for k := range shields {
		if k != id {
			return k
		}
	}
	return ""
}
