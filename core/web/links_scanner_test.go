package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fieldRE finds the form fields a script-free scanner would submit.
var fieldRE = regexp.MustCompile(`<(?:input|button)[^>]*name="([a-z]+)"(?:[^>]*value="([^"]*)")?`)

// pageFields returns a link page's named fields with their values (empty
// when the page has none), the way a form-replaying scanner collects them.
func pageFields(body []byte, action string) url.Values {
	f := url.Values{}
	for _, m := range fieldRE.FindAllSubmatch(body, -1) {
		if string(m[1]) == "action" {
			continue
		}
		f.Set(string(m[1]), string(m[2]))
	}
	f.Set("action", action)
	return f
}

// startSMSLink starts an SMS one-click link (no technician code) for tenant
// a's contact and returns its id and page path.
func (e *env) startSMSLink(t *testing.T, c *http.Client) (id, path string) {
	t.Helper()
	r := e.api(t, c, "POST", "/api/v1/verifications", map[string]string{
		"contact_id": e.a.contact.ID, "method": "sms_link", "ticket_ref": "4821"})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	id, _ = r.JSON(t)["id"].(string)
	e.deliver(t)
	msg, _ := e.sms.last(t)
	path, _ = linkPathIn(t, msg)
	return id, path
}

// Issue 9 items 5 and 6: a scanner replays every link page's form — GET,
// HEAD, and POST with the page's own fields (empty code and number), for
// both buttons, again and again. No verification changes, no attempt is
// used, no failure is counted and no alert (audit event, message) is raised.
func TestScannerReplayChangesNothing(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		c := e.login(t, e.a)
		var smsID, smsPath string
		for _, name := range []string{"email", "sms"} {
			// One live verification per contact: each link is scanned while
			// it is the open one.
			var link struct{ name, id, path string }
			link.name = name
			if name == "email" {
				link.id, _, link.path, _ = e.startLink(t, c)
			} else {
				link.id, link.path = e.startSMSLink(t, c)
				smsID, smsPath = link.id, link.path
			}
			before := e.linkState(t, link.id)
			scanner := e.client(t)
			for range 6 {
				for _, action := range []string{"confirm", "decline"} {
					r := e.do(t, scanner, http.MethodHead, link.path, "", nil, nil)
					require.Equal(t, http.StatusOK, r.status)
					page := e.do(t, scanner, http.MethodGet, link.path, "", nil, nil)
					require.Equal(t, http.StatusOK, page.status)
					f := pageFields(page.body, action)
					require.NotEmpty(t, f.Get("nonce"), "%s: the scanner has the page's nonce", link.name)
					r = e.form(t, scanner, link.path, f, map[string]string{"Origin": publicURL})
					assert.Equal(t, http.StatusBadRequest, r.status, "%s %s: %s", link.name, action, r.body)
					// And the same form again, as replaying scanners do.
					r = e.form(t, scanner, link.path, f, nil)
					// 409 when the first one spent the nonce (an email link's
					// empty code reaches the engine), 400 otherwise.
					assert.Contains(t, []int{http.StatusBadRequest, http.StatusConflict}, r.status, "%s %s replayed", link.name, action)
				}
			}
			after := e.linkState(t, link.id)
			assert.Equal(t, before, after, "%s: nothing changed", link.name)
			assert.Zero(t, after.V.Attempts, "%s: no attempt used", link.name)
			assert.True(t, after.V.Status.Open(), "%s: still open", link.name)
		}
		require.NoError(t, st.View(t.Context(), func(tx core.Tx) error {
			for _, k := range []core.DestinationKind{core.DestEmail, core.DestPhone} {
				n, err := tx.FailureCount(t.Context(), e.a.tenant.ID, e.a.contact.ID, k)
				if err != nil {
					return err
				}
				assert.Zero(t, n, "no consecutive failure counted on %s", k)
			}
			return nil
		}))

		// The person types the number shown: the SMS link confirms once.
		person := e.client(t)
		page := e.do(t, person, http.MethodGet, smsPath, "", nil, nil)
		f := pageFields(page.body, "confirm")
		f.Set("presence", presenceFrom(t, page.body))
		r := e.form(t, person, smsPath, f, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), `class="result confirmed"`)
		assert.Equal(t, core.StatusVerified, e.verification(t, e.a, smsID).Status)
	})
}

// Issue 9 item 6: one nonce carried 50 POSTs. Each page view's nonce now
// answers once: replaying a human's wrong-code POST uses no second attempt.
func TestLinkNonceSingleUse(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		c := e.login(t, e.a)
		id, techCode, path, _ := e.startLink(t, c)
		wrong := "000000"
		if techCode == wrong {
			wrong = "111111"
		}
		browser := e.client(t)
		a := nonceFrom(t, e.do(t, browser, http.MethodGet, path, "", nil, nil).body)
		b := nonceFrom(t, e.do(t, browser, http.MethodGet, path, "", nil, nil).body)
		assert.NotEqual(t, a, b, "every page view has its own nonce")
		f := url.Values{"nonce": {a}, "action": {"confirm"}, "code": {wrong}}
		r := e.form(t, browser, path, f, nil)
		require.Equal(t, http.StatusBadRequest, r.status)
		for range 10 {
			r = e.form(t, browser, path, f, nil)
			assert.Equal(t, http.StatusConflict, r.status, "%s", r.body)
		}
		assert.Equal(t, 1, e.verification(t, e.a, id).Attempts, "the replays used no attempt")
		r = e.form(t, browser, path, url.Values{"nonce": {b}, "action": {"confirm"}, "code": {techCode}}, nil)
		require.Equal(t, http.StatusOK, r.status, "another page view still answers: %s", r.body)
		assert.Equal(t, core.StatusVerified, e.verification(t, e.a, id).Status)
	})
}
