package web_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// TestRecentVerifications: GET /api/v1/verifications/recent answers the
// tenant's latest verifications whatever the contact, newest first, each
// with its contact's name and the status it has now (issue 12: the
// console's card before a contact is chosen); another tenant's never
// appear, and the route is not taken for a verification id.
func TestRecentVerifications(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		c := e.login(t, e.a)
		r := e.api(t, c, "GET", "/api/v1/verifications/recent", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Empty(t, r.JSON(t)["verifications"], "none yet")

		var ids []string
		for _, m := range []string{"sms_code", "email_link"} {
			r = e.api(t, c, "POST", "/api/v1/verifications", map[string]string{"contact_id": e.a.contact.ID, "method": m, "ticket_ref": "T-12"})
			require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
			ids = append(ids, r.JSON(t)["id"].(string))
			e.clk.Add(time.Second)
		}
		// The second start replaced (cancelled) the first.
		cb := e.login(t, e.b)
		r = e.api(t, cb, "POST", "/api/v1/verifications", map[string]string{"contact_id": e.b.contact.ID, "method": "sms_code"})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		other := r.JSON(t)["id"].(string)

		r = e.api(t, c, "GET", "/api/v1/verifications/recent", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		list := r.JSON(t)["verifications"].([]any)
		require.Len(t, list, 2, "%s", r.body)
		name := e.a.contact.FirstName + " " + e.a.contact.LastName
		for i, want := range []struct {
			id     string
			status []any
		}{{ids[1], []any{"pending", "sent"}}, {ids[0], []any{"cancelled"}}} {
			v := list[i].(map[string]any)
			assert.Equal(t, want.id, v["id"], "newest first")
			assert.Contains(t, want.status, v["status"])
			assert.Equal(t, name, v["contact_name"])
			assert.Equal(t, e.a.contact.ID, v["contact_id"])
			assert.Equal(t, "T-12", v["ticket_ref"])
		}
		assert.NotContains(t, string(r.body), other, "another tenant's verification")

		r = e.api(t, cb, "GET", "/api/v1/verifications/recent", nil)
		require.Equal(t, http.StatusOK, r.status)
		blist := r.JSON(t)["verifications"].([]any)
		require.Len(t, blist, 1)
		assert.Equal(t, other, blist[0].(map[string]any)["id"])

		// A week on, they are no longer recent.
		e.clk.Add(core.RecentWindow)
		r = e.api(t, e.login(t, e.a), "GET", "/api/v1/verifications/recent", nil)
		require.Equal(t, http.StatusOK, r.status)
		assert.Empty(t, r.JSON(t)["verifications"])
	})
}
