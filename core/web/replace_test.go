package web_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// TestNewerStartKillsTheOldLink: an email link waits; the technician sends
// an SMS code instead. The link's page now says it was withdrawn and a
// newer message may have come, and confirming it with the right code is
// refused (issue 21 item 1).
func TestNewerStartKillsTheOldLink(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		c := e.login(t, e.a)
		browser := e.client(t)
		id, techCode, path, _ := e.startLink(t, c)
		nonce := nonceFrom(t, e.do(t, browser, "GET", path, "", nil, nil).body)

		r := e.api(t, c, "POST", "/api/v1/verifications", map[string]string{"contact_id": e.a.contact.ID, "method": "sms_code"})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		old := e.verification(t, e.a, id)
		assert.Equal(t, core.StatusCancelled, old.Status)

		r = e.do(t, browser, "GET", path, "", nil, nil)
		require.Equal(t, http.StatusOK, r.status)
		assert.Contains(t, string(r.body), "If Acme IT has sent you a newer message, use that one")
		r = e.form(t, browser, path, url.Values{"nonce": {nonce}, "action": {"confirm"}, "code": {techCode}}, nil)
		assert.Equal(t, http.StatusGone, r.status)
		assert.Equal(t, core.StatusCancelled, e.verification(t, e.a, id).Status, "the old link confirms nothing")
	})
}
