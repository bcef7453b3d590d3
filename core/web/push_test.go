package web_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/duo"
	"github.com/countersign/countersign/core/duo/duotest"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// newDuoEnv is newEnv with Duo push reaching a fake Duo whose one user is
// tenant a's contact (by e-mail), answering every push with approve.
func newDuoEnv(t *testing.T, st *store.Store) (*env, *duotest.Server) {
	t.Helper()
	approve := duotest.Approve
	fake := duotest.Start(t, duotest.User{Username: "sam@contoso.example", Auto: &approve})
	conn := duo.Connector(duo.Options{HTTPClient: fake.HTTPClient(), AllowHost: func(h string) bool { return h == fake.Host() }})
	return newEnv(t, st, envOptions{duo: conn}), fake
}

func duoForm(fake *duotest.Server, clientID string) map[string]any {
	c := fake.Config()
	return map[string]any{"client_id": clientID, "name": "Contoso Duo", "integration_key": c.IntegrationKey,
		"secret_key": c.SecretKey, "api_host": c.APIHost}
}

// TestDuoAdminAPI: only an admin sets Duo up; the secret key goes in and
// never comes out (answers, list, logs); wrong keys are refused with Duo's
// reason and nothing saved; another tenant sees none of it and can change
// none of it.
func TestDuoAdminAPI(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e, fake := newDuoEnv(t, st)
		tech := e.login(t, e.a)
		r := e.api(t, tech, http.MethodGet, "/api/v1/admin/duo", nil)
		assert.Equal(t, http.StatusForbidden, r.status, "a technician cannot read the Duo setup: %s", r.body)
		r = e.api(t, tech, http.MethodPost, "/api/v1/admin/duo", duoForm(fake, e.a.client.ID))
		assert.Equal(t, http.StatusForbidden, r.status, "nor save one: %s", r.body)

		admin := e.adminClient(t)
		wrong := duoForm(fake, e.a.client.ID)
		wrong["secret_key"] = strings.Repeat("y", 40)
		r = e.api(t, admin, http.MethodPost, "/api/v1/admin/duo", wrong)
		assert.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "secret key is wrong")
		r = e.api(t, admin, http.MethodPost, "/api/v1/admin/duo", map[string]any{"client_id": e.a.client.ID, "integration_key": "x", "api_host": "evil.example"})
		assert.Equal(t, http.StatusBadRequest, r.status, "a host that is not Duo's is refused: %s", r.body)
		r = e.api(t, admin, http.MethodGet, "/api/v1/admin/duo", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Empty(t, r.JSON(t)["accounts"], "a refused account is not saved")

		r = e.api(t, admin, http.MethodPost, "/api/v1/admin/duo", duoForm(fake, e.a.client.ID))
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		id, _ := r.JSON(t)["id"].(string)
		require.NotEmpty(t, id)
		assert.NotContains(t, string(r.body), duotest.DefaultSKey)
		r = e.api(t, admin, http.MethodGet, "/api/v1/admin/duo", nil)
		require.Equal(t, http.StatusOK, r.status)
		assert.Contains(t, string(r.body), "Contoso Duo")
		assert.NotContains(t, string(r.body), duotest.DefaultSKey, "the secret key is write-only")

		// Tenant b's admin, with a's account id: not found, nothing changed.
		e.setRole(t, &e.b, core.RoleAdmin)
		other := e.login(t, e.b)
		taken := duoForm(fake, "")
		taken["secret_key"] = ""
		for _, req := range []struct {
			method, path string
			body         any
		}{
			{http.MethodPost, "/api/v1/admin/duo/" + id + "/check", nil},
			{http.MethodPut, "/api/v1/admin/duo/" + id, taken},
			{http.MethodGet, "/api/v1/admin/duo/" + id + "/users", nil},
			{http.MethodPut, "/api/v1/admin/duo/" + id + "/users/" + e.a.contact.ID, map[string]string{"username": "mallory"}},
			{http.MethodDelete, "/api/v1/admin/duo/" + id, nil},
		} {
			r := e.api(t, other, req.method, req.path, req.body)
			assert.Equal(t, http.StatusNotFound, r.status, "%s %s from another tenant: %s", req.method, req.path, r.body)
		}
		r = e.api(t, other, http.MethodGet, "/api/v1/admin/duo", nil)
		assert.NotContains(t, string(r.body), id, "another tenant's list")
		r = e.api(t, admin, http.MethodPost, "/api/v1/admin/duo/"+id+"/check", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, "ok", r.JSON(t)["check_result"], "the account is untouched")

		// The admin's mapping is kept and listed.
		r = e.api(t, admin, http.MethodPut, "/api/v1/admin/duo/"+id+"/users/"+e.a.contact.ID, map[string]string{"username": "sam"})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		r = e.api(t, admin, http.MethodGet, "/api/v1/admin/duo/"+id+"/users", nil)
		assert.Contains(t, string(r.body), `"username":"sam"`)
		assert.Contains(t, string(r.body), "Sam Caller")

		e.assertLogsClean(t, duotest.DefaultSKey)
	})
}

// TestPushAPI: Push from the console pushes to the contact's Duo user and
// the verification turns verified when Duo says allow; another tenant's
// contact is not found and Duo is never asked.
func TestPushAPI(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e, fake := newDuoEnv(t, st)
		admin := e.adminClient(t)
		r := e.api(t, admin, http.MethodPost, "/api/v1/admin/duo", duoForm(fake, ""))
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)

		other := e.login(t, e.b)
		r = e.api(t, other, http.MethodPost, "/api/v1/pushes", map[string]string{"contact_id": e.a.contact.ID, "ticket_ref": "4821"})
		assert.Equal(t, http.StatusNotFound, r.status, "another tenant's contact: %s", r.body)
		r = e.api(t, other, http.MethodGet, "/api/v1/contacts/"+e.a.contact.ID+"/routes", nil)
		assert.Equal(t, http.StatusNotFound, r.status, "another tenant's routes: %s", r.body)
		r = e.api(t, other, http.MethodPost, "/api/v1/pushes", map[string]string{"contact_id": e.b.contact.ID, "ticket_ref": "4821"})
		assert.Equal(t, http.StatusBadRequest, r.status, "tenant b has no Duo: %s", r.body)
		assert.Contains(t, string(r.body), "Duo is not set up")
		assert.Empty(t, fake.Pushes(), "Duo was never asked")

		r = e.api(t, admin, http.MethodGet, "/api/v1/contacts/"+e.a.contact.ID+"/routes", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), `"method":"duo_push"`)

		r = e.api(t, admin, http.MethodPost, "/api/v1/pushes", map[string]string{"contact_id": e.a.contact.ID, "ticket_ref": "4821", "note": "password reset"})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		id, _ := r.JSON(t)["id"].(string)
		require.NotEmpty(t, id)
		require.Len(t, fake.WaitPushes(1, 5*time.Second), 1)
		e.eng.Wait()
		v := e.verification(t, e.a, id)
		assert.Equal(t, core.StatusVerified, v.Status, "Duo's allow/allow verifies")

		r = e.api(t, admin, http.MethodPost, "/api/v1/pushes", `{"contact_id": 7}`)
		assert.Equal(t, http.StatusBadRequest, r.status, "bad JSON: %s", r.body)
	})
}

// TestPushBombingHTTP is security.md §4's push bombing through the API: a
// technician's console sends 20 pushes for one user at once, four times
// within a minute. Duo gets exactly one push a round for three rounds (one
// pending at a time: the 19 others are 409), and the fourth round is 429
// whole (3 in 15 minutes); nothing else answers, no 500. Both dialects.
func TestPushBombingHTTP(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		fake := duotest.Start(t, duotest.User{Username: "sam@contoso.example"}) // pushes wait for an answer
		conn := duo.Connector(duo.Options{HTTPClient: fake.HTTPClient(), AllowHost: func(h string) bool { return h == fake.Host() }})
		e := newEnv(t, st, envOptions{duo: conn})
		admin := e.adminClient(t)
		r := e.api(t, admin, http.MethodPost, "/api/v1/admin/duo", duoForm(fake, ""))
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		tech := e.login(t, e.a)

		press := func() map[int]int {
			var (
				mu       sync.Mutex
				wg       sync.WaitGroup
				statuses = map[int]int{}
			)
			for range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := e.api(t, tech, http.MethodPost, "/api/v1/pushes", map[string]string{"contact_id": e.a.contact.ID, "ticket_ref": "4821"})
					mu.Lock()
					statuses[r.status]++
					mu.Unlock()
				}()
			}
			wg.Wait()
			return statuses
		}
		for round := 1; round <= 4; round++ {
			got := press()
			if round <= 3 {
				assert.Equal(t, map[int]int{http.StatusCreated: 1, http.StatusConflict: 19}, got, "round %d: one push, the others see it pending", round)
				require.Len(t, fake.WaitPushes(round, 5*time.Second), round)
				require.True(t, fake.Answer("sam@contoso.example", duotest.Timeout))
				e.eng.Wait()
			} else {
				assert.Equal(t, map[int]int{http.StatusTooManyRequests: 20}, got, "round 4: the limit refuses every press")
			}
			e.clk.Add(10 * time.Second)
		}
		assert.Len(t, fake.Pushes(), 3, "pushes sent: exactly the limit")
	})
}
