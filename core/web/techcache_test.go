package web_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// me returns the status of GET /api/v1/me on e and the technician it names.
func me(t *testing.T, e *env, c *http.Client) (int, map[string]any) {
	t.Helper()
	r := e.api(t, c, http.MethodGet, "/api/v1/me", nil)
	if r.status != http.StatusOK {
		return r.status, nil
	}
	tech, _ := r.JSON(t)["technician"].(map[string]any)
	return r.status, tech
}

// warm makes e cache c's technician: the first request reads it, the
// second is served from the cache (TestTechnicianCacheSavesTheRead).
func warm(t *testing.T, e *env, c *http.Client) {
	t.Helper()
	for range 2 {
		status, _ := me(t, e, c)
		require.Equal(t, http.StatusOK, status)
	}
}

// Issue 11.4: a request with a session read its technician every time.
// With the cache warm, a request costs exactly what its handler reads (GET
// /api/v1/me reads the tenant), and no technician read; the same request on
// a server without the cache costs more, which is what this test would see
// if the cache were not used.
func TestTechnicianCacheSavesTheRead(t *testing.T) {
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			var trips atomic.Int64
			st := storetest.Open(t, dialect, store.CountRoundTrips(&trips))
			cached := newEnv(t, st)
			uncached := newEnv(t, st, envOptions{techCacheTTL: -1})
			tripsOf := func(f func()) int64 {
				n := trips.Load()
				f()
				return trips.Load() - n
			}
			tenantRead := tripsOf(func() {
				_, err := cached.eng.Tenant(t.Context(), cached.a.tenant.ID)
				require.NoError(t, err)
			})
			got := map[string]int64{}
			for name, e := range map[string]*env{"cached": cached, "uncached": uncached} {
				c := e.login(t, e.a)
				warm(t, e, c)
				got[name] = tripsOf(func() { warm(t, e, c) }) / 2
			}
			assert.Equal(t, tenantRead, got["cached"], "a cached request reads its tenant and nothing else")
			assert.Greater(t, got["uncached"], tenantRead, "without the cache the technician is read")
			t.Logf("%s: GET /api/v1/me costs %d round trips cached, %d uncached", dialect, got["cached"], got["uncached"])
		})
	}
}

// checkRevocation signs tom in and changes him through owner's session on
// changer while tom's requests go to observer (the same server, or another
// node on the same database), with observer's cache warm before each
// change: every change applies to observer's very next request.
func checkRevocation(t *testing.T, changer, observer *env, owner *http.Client, tom core.Technician) {
	t.Helper()
	admin := func(method, path string, body any) response {
		t.Helper()
		r := changer.api(t, owner, method, "/api/v1/admin/technicians/"+tom.ID+path, body)
		require.Equal(t, http.StatusOK, r.status, "%s %s: %s", method, path, r.body)
		return r
	}
	adminList := func(c *http.Client) int {
		return observer.api(t, c, http.MethodGet, "/api/v1/admin/technicians", nil).status
	}
	pw := password
	c := changer.loginAs(t, changer.a, tom.Email, pw)
	warm(t, observer, c)
	require.Equal(t, http.StatusForbidden, adminList(c))

	// Role changes, both ways.
	admin(http.MethodPut, "", map[string]string{"role": "admin"})
	assert.Equal(t, http.StatusOK, adminList(c), "promoted: the next request is an admin's")
	_, tech := me(t, observer, c)
	assert.Equal(t, "admin", tech["role"])
	warm(t, observer, c)
	admin(http.MethodPut, "", map[string]string{"role": "technician"})
	assert.Equal(t, http.StatusForbidden, adminList(c), "demoted: the next request is refused admin pages")

	// Disabled.
	warm(t, observer, c)
	admin(http.MethodPost, "/disable", nil)
	status, _ := me(t, observer, c)
	assert.Equal(t, http.StatusUnauthorized, status, "disabled: the next request is refused")
	admin(http.MethodPost, "/enable", nil)

	// Password reset.
	c = changer.loginAs(t, changer.a, tom.Email, pw)
	warm(t, observer, c)
	pw = admin(http.MethodPost, "/password", map[string]string{}).JSON(t)["password"].(string)
	status, _ = me(t, observer, c)
	assert.Equal(t, http.StatusUnauthorized, status, "password reset: the next request is refused")

	// Signed out everywhere.
	c = changer.loginAs(t, changer.a, tom.Email, pw)
	warm(t, observer, c)
	admin(http.MethodPost, "/signout", nil)
	status, _ = me(t, observer, c)
	assert.Equal(t, http.StatusUnauthorized, status, "signed out: the next request is refused")

	// Authenticator reset (enrolled straight in the store: the change is
	// announced like any other, and the cache warmed again after it).
	c = changer.loginAs(t, changer.a, tom.Email, pw)
	require.NoError(t, changer.st.Update(t.Context(), func(tx core.Tx) error {
		cur, err := tx.Technician(t.Context(), tom.TenantID, tom.ID)
		if err != nil {
			return err
		}
		cur.TOTPSecret = []byte("sealed-secret")
		return tx.UpdateTechnician(t.Context(), &cur)
	}))
	changer.techChanged(changer.a, tom.ID)
	require.Eventually(t, func() bool { // another node hears the trigger
		_, tech := me(t, observer, c)
		return tech != nil
	}, 2*time.Second, 5*time.Millisecond)
	warm(t, observer, c)
	admin(http.MethodDelete, "/totp", nil)
	status, _ = me(t, observer, c)
	assert.Equal(t, http.StatusUnauthorized, status, "authenticator reset: the next request is refused")
}

// seedOwnerAndTom makes e.a's technician an owner signed in on e, and adds
// Tom, a technician.
func seedOwnerAndTom(t *testing.T, e *env) (*http.Client, core.Technician) {
	t.Helper()
	e.setRole(t, &e.a, core.RoleOwner)
	return e.login(t, e.a), e.addTech(t, e.a, "Tom Tech", "tom@acme.example", core.RoleTechnician)
}

func TestTechnicianCacheRevokesAtOnce(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		owner, tom := seedOwnerAndTom(t, e)
		checkRevocation(t, e, e, owner, tom)
	})
}

// twoNodes starts two servers on one fresh PostgreSQL database, each with
// its own store and its own live bridge (listener), as two processes
// would; b reconnects after bBackoff.
func twoNodes(t *testing.T, bBackoff time.Duration) (dsn string, a, b *env) {
	t.Helper()
	dsn = storetest.PostgresDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st1, err := store.Open(ctx, store.Postgres, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { st1.Close() })
	st2, err := store.Open(ctx, store.Postgres, dsn, store.SkipMigrate())
	require.NoError(t, err)
	t.Cleanup(func() { st2.Close() })
	a = newEnv(t, st1, envOptions{bridgeDSN: dsn})
	b = newEnv(t, st2, envOptions{bridgeDSN: dsn, bridgeBackoff: bBackoff})
	return dsn, a, b
}

// The same changes made on node A apply to node B's next request: B's
// cache hears of them from the database (live.TechnicianChannel).
func TestTechnicianCacheRevokesOnEveryNode(t *testing.T) {
	_, a, b := twoNodes(t, 0)
	owner, tom := seedOwnerAndTom(t, a)
	checkRevocation(t, a, b, owner, tom)
}

// sql runs one statement on dsn outside any server, as an operator's psql
// session would.
func sql(t *testing.T, dsn, stmt string, args ...any) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(t.Context(), stmt, args...)
	require.NoError(t, err)
}

// Fail safe: while a node's listener is disconnected it cannot hear of
// changes, so its cache empties and stays empty (every request reads) until
// the listener is back; a change made meanwhile is seen at once. A change
// made outside any server (psql) reaches the cache too.
func TestTechnicianCacheFailSafe(t *testing.T) {
	dsn, a, b := twoNodes(t, 3*time.Second)
	_, tom := seedOwnerAndTom(t, a)
	c := a.loginAs(t, a.a, tom.Email, password)
	name := func() any {
		_, tech := me(t, b, c)
		require.NotNil(t, tech)
		return tech["name"]
	}
	// A change made in psql is not followed by the engine's barrier;
	// rename makes one, as the engine does after its own changes, so that
	// B must have heard the database's notification before the next
	// request (when its listener is up).
	rename := func(to string) {
		sql(t, dsn, `UPDATE technicians SET name = $1 WHERE tenant_id = $2 AND id = $3`, to, tom.TenantID, tom.ID)
		require.NoError(t, a.bridge.Barrier(t.Context()))
	}
	warm(t, b, c)
	rename("Tom by psql")
	assert.Equal(t, "Tom by psql", name(), "a change outside the engine reaches the cache")

	warm(t, b, c)
	sql(t, dsn, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`,
		"countersign live listener "+b.bridge.Node())
	require.Eventually(t, func() bool { return !b.hub.InSync() }, 5*time.Second, time.Millisecond)
	require.False(t, b.bridge.Listening())
	// b reconnects no sooner than 1.5 s from now (bBackoff, with jitter).
	rename("Tom while B was deaf")
	assert.Equal(t, "Tom while B was deaf", name(), "nothing is served from the cache while its node cannot hear changes")
	rename("Tom again")
	assert.Equal(t, "Tom again", name(), "nor cached meanwhile")
	require.True(t, b.hub.InSync() == false, "the test's changes were made while B was disconnected")

	require.Eventually(t, func() bool { return b.bridge.Listening() && b.hub.InSync() }, 10*time.Second, 5*time.Millisecond)
	warm(t, b, c)
	rename("Tom after the reconnection")
	assert.Equal(t, "Tom after the reconnection", name(), "caching again, and hearing changes again")
}
