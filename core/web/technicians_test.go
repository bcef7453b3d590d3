package web_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dialLiveWithCookie opens a live socket as a pod does: its partitioned
// cookie travels by hand (the test jar keeps no Secure cookies over http).
func (e *env) dialLiveWithCookie(t *testing.T, cookie *http.Cookie, query string) *websocket.Conn {
	t.Helper()
	h := http.Header{"Origin": {publicURL}, "Cookie": {cookie.Name + "=" + cookie.Value}}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, res, err := d.DialContext(t.Context(), "ws"+strings.TrimPrefix(e.srv.URL, "http")+"/api/v1/live?"+query, h)
	require.NoError(t, err, "dial: %v", statusOf(res))
	t.Cleanup(func() { conn.Close() })
	require.Equal(t, map[string]any{"type": "hello"}, readLive(t, conn, time.Second))
	return conn
}

// closedWith reads conn until it closes and returns the close frame, failing
// when that takes longer than within.
func closedWith(t *testing.T, conn *websocket.Conn, within time.Duration) *websocket.CloseError {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(within)))
	for {
		_, _, err := conn.ReadMessage()
		if err == nil {
			continue // an event that was already on its way
		}
		var ce *websocket.CloseError
		require.True(t, errors.As(err, &ce), "socket did not close with a close frame within %v: %v", within, err)
		return ce
	}
}

// techRow returns technician id's row of the admin list.
func techRow(t *testing.T, e *env, c *http.Client, id string) map[string]any {
	t.Helper()
	r := e.api(t, c, http.MethodGet, "/api/v1/admin/technicians", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	for _, row := range r.JSON(t)["technicians"].([]any) {
		if m := row.(map[string]any); m["id"] == id {
			return m
		}
	}
	t.Fatalf("technician %s not listed", id)
	return nil
}

// TestTechnicianLifecycle disables a signed-in technician: the console and
// pod sessions end at once and their live sockets close within a second with
// the reason; sign-in is refused until an admin re-enables the account, and
// sessions from before stay ended. TOTP reset and "sign out everywhere" end
// sessions the same way, and the last sign-in is listed.
func TestTechnicianLifecycle(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.setRole(t, &e.a, core.RoleOwner)
		owner := e.login(t, e.a)
		tom := tenantData{tenant: e.a.tenant, contact: e.a.contact,
			tech: e.addTech(t, e.a, "Tom Tech", "tom@acme.example", core.RoleTechnician)}
		assert.Nil(t, techRow(t, e, owner, tom.tech.ID)["last_login_at"], "never signed in")

		e.clk.Add(time.Minute)
		console := e.login(t, tom)
		pod := podSignIn(t, e, tom)
		assert.Equal(t, e.clk.Now().Format(time.RFC3339), techRow(t, e, owner, tom.tech.ID)["last_login_at"])
		consoleLive := e.watchLive(t, console, "contact="+e.a.contact.ID)
		podLive := e.dialLiveWithCookie(t, pod, "contact="+e.a.contact.ID)
		ownerLive := e.watchLive(t, owner, "contact="+e.a.contact.ID)

		start := time.Now()
		r := e.api(t, owner, http.MethodPost, "/api/v1/admin/technicians/"+tom.tech.ID+"/disable", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, true, r.JSON(t)["technician"].(map[string]any)["disabled"])
		for name, conn := range map[string]*websocket.Conn{"console": consoleLive, "pod": podLive} {
			ce := closedWith(t, conn, time.Second)
			assert.Equal(t, 4001, ce.Code, name)
			assert.Contains(t, ce.Text, "disabled your account", name)
		}
		assert.Less(t, time.Since(start), time.Second, "both sockets closed within a second of the disable")
		assertSilent(t, ownerLive, 100*time.Millisecond)

		r = e.api(t, console, http.MethodGet, "/api/v1/me", nil)
		assert.Equal(t, http.StatusUnauthorized, r.status)
		assert.Contains(t, r.JSON(t)["error"], "disabled")
		r = podDo(t, e, pod, http.MethodGet, "/api/v1/me", nil)
		assert.Equal(t, http.StatusUnauthorized, r.status, "the pod session ended too")
		r = e.api(t, e.client(t), http.MethodPost, "/api/v1/login", loginBody(tom, password, ""))
		assert.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
		assert.Contains(t, r.JSON(t)["error"], "disabled")
		conn, res, err := dialLive(t, e.srv.URL, console, "contact="+e.a.contact.ID, publicURL)
		require.Error(t, err)
		require.Nil(t, conn)
		assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "no new socket either")

		// Re-enabled: a new sign-in works, the sessions from before stay ended.
		r = e.api(t, owner, http.MethodPost, "/api/v1/admin/technicians/"+tom.tech.ID+"/enable", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		r = e.api(t, console, http.MethodGet, "/api/v1/me", nil)
		assert.Equal(t, http.StatusUnauthorized, r.status, "an old session does not come back")
		assert.Contains(t, r.JSON(t)["error"], "sign in again")
		console = e.login(t, tom)
		require.Equal(t, http.StatusOK, e.api(t, console, http.MethodGet, "/api/v1/me", nil).status)

		// Sign out everywhere.
		consoleLive = e.watchLive(t, console, "contact="+e.a.contact.ID)
		r = e.api(t, owner, http.MethodPost, "/api/v1/admin/technicians/"+tom.tech.ID+"/signout", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, 4001, closedWith(t, consoleLive, time.Second).Code)
		assert.Equal(t, http.StatusUnauthorized, e.api(t, console, http.MethodGet, "/api/v1/me", nil).status)

		// TOTP reset: the authenticator is gone and so are the sessions.
		console = e.login(t, tom)
		require.NoError(t, st.Update(t.Context(), func(tx core.Tx) error {
			tt, err := tx.Technician(t.Context(), e.a.tenant.ID, tom.tech.ID)
			if err != nil {
				return err
			}
			tt.TOTPSecret, tt.LastTOTPStep = []byte("sealed-secret"), 42
			return tx.UpdateTechnician(t.Context(), &tt)
		}))
		assert.Equal(t, true, techRow(t, e, owner, tom.tech.ID)["totp"])
		r = e.api(t, owner, http.MethodDelete, "/api/v1/admin/technicians/"+tom.tech.ID+"/totp", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, false, techRow(t, e, owner, tom.tech.ID)["totp"])
		assert.Equal(t, http.StatusUnauthorized, e.api(t, console, http.MethodGet, "/api/v1/me", nil).status)

		actions := e.auditActions(t, e.a)
		for _, a := range []string{core.AuditTechnicianDisabled, core.AuditTechnicianEnabled,
			core.AuditTechnicianSignedOut, core.AuditTechnicianTOTPReset} {
			assert.Contains(t, actions, a)
		}
	})
}

// TestTechnicianLifecycleRefusals: every refused lifecycle request answers
// with a clear 4xx and changes nothing.
func TestTechnicianLifecycleRefusals(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	e.setRole(t, &e.a, core.RoleOwner)
	owner := e.login(t, e.a)
	ada := e.addTech(t, e.a, "Ada Admin", "ada@acme.example", core.RoleAdmin)
	admin := e.loginAs(t, e.a, ada.Email, password)
	tom := e.addTech(t, e.a, "Tom Tech", "tom@acme.example", core.RoleTechnician)
	tech := e.loginAs(t, e.a, tom.Email, password)
	path := func(id, what string) string { return "/api/v1/admin/technicians/" + id + "/" + what }

	tests := []struct {
		name   string
		c      *http.Client
		method string
		path   string
		status int
		msg    string
	}{
		{"disable yourself", owner, "POST", path(e.a.tech.ID, "disable"), 403, "cannot disable yourself"},
		{"admin disables an owner", admin, "POST", path(e.a.tech.ID, "disable"), 403, "only an owner"},
		{"admin resets an owner's authenticator", admin, "DELETE", path(e.a.tech.ID, "totp"), 403, "only an owner"},
		{"admin signs out an owner", admin, "POST", path(e.a.tech.ID, "signout"), 403, "only an owner"},
		{"technician disables someone", tech, "POST", path(ada.ID, "disable"), 403, "admin or owner"},
		{"enable an enabled technician", owner, "POST", path(tom.ID, "enable"), 409, "already enabled"},
		{"reset a missing authenticator", owner, "DELETE", path(tom.ID, "totp"), 409, "no authenticator"},
		{"other tenant's technician", owner, "POST", path(e.b.tech.ID, "disable"), 404, ""},
		{"unknown technician", owner, "POST", path("tec_nope", "disable"), 404, ""},
		{"wrong method", owner, "GET", path(tom.ID, "disable"), 405, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.adminState(t)
			r := e.api(t, tc.c, tc.method, tc.path, nil)
			require.Equal(t, tc.status, r.status, "%s", r.body)
			if tc.msg != "" {
				assert.Contains(t, r.JSON(t)["error"], tc.msg)
			}
			assert.Equal(t, before, e.adminState(t))
		})
	}
	// Disabling twice: the second is a conflict, and the technician stays
	// disabled once.
	require.Equal(t, http.StatusOK, e.api(t, owner, "POST", path(tom.ID, "disable"), nil).status)
	before := e.adminState(t)
	r := e.api(t, owner, "POST", path(tom.ID, "disable"), nil)
	assert.Equal(t, http.StatusConflict, r.status)
	assert.Contains(t, r.JSON(t)["error"], "already disabled")
	assert.Equal(t, before, e.adminState(t))
}
