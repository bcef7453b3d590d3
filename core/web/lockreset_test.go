package web_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// TestLockResetNeedsAnAdmin: POST /api/v1/contacts/{id}/lock-reset is an
// admin's (a technician is refused, 403, with what it needs), of the
// admin's own tenant (another's contact is 404), and says when there is
// nothing to reset (409). The reset itself: TestFailureCapLocksChannel and
// TestBrowserLockReset.
func TestLockResetNeedsAnAdmin(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		path := "/api/v1/contacts/" + e.a.contact.ID + "/lock-reset"
		r := e.api(t, e.login(t, e.a), "POST", path, nil)
		assert.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "admin or owner")
		admin := e.adminClient(t)
		r = e.api(t, admin, "POST", path, nil)
		assert.Equal(t, http.StatusConflict, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "nothing to reset")
		r = e.api(t, admin, "POST", "/api/v1/contacts/"+e.b.contact.ID+"/lock-reset", nil)
		assert.Equal(t, http.StatusNotFound, r.status, "%s", r.body)
	})
}
