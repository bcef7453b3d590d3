package web_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// TestAdminNotifyAPI: the On call page's API. Admins create a group with
// its events, add a user with ways and a schedule rule, copy a technician
// in, set the zone, and the Test view says who is on call at a moment and
// the user's periods, in that zone; bad input is a 400 that names the
// field; technicians and other tenants reach none of it.
func TestAdminNotifyAPI(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.makeAdmin(t, e.a)
		admin := e.login(t, e.a)

		r := e.api(t, admin, http.MethodPost, "/api/v1/admin/notify/groups", map[string]any{"name": "Desk", "events": []string{"nope"}})
		assert.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "unknown event")
		r = e.api(t, admin, http.MethodPost, "/api/v1/admin/notify/groups", map[string]any{"name": "Desk", "events": []string{"tech_verify"}})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		gid := r.JSON(t)["id"].(string)
		r = e.api(t, admin, http.MethodPost, "/api/v1/admin/notify/groups", map[string]any{"name": "Desk", "events": []string{}})
		assert.Equal(t, http.StatusConflict, r.status, "one name per group: %s", r.body)

		r = e.api(t, admin, http.MethodPut, "/api/v1/admin/notify/timezone", map[string]any{"time_zone": "Mars/Olympus"})
		assert.Equal(t, http.StatusBadRequest, r.status)
		r = e.api(t, admin, http.MethodPut, "/api/v1/admin/notify/timezone", map[string]any{"time_zone": "America/New_York"})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)

		// Working days 09:00–17:00 New York time, through 2027.
		rule := map[string]any{"from": "2026-11-01", "until": "2027-10-31", "start": "09:00", "end": "17:00", "days": 0x3e, "every_days": 1, "on_days": 1}
		user := map[string]any{"name": "Dana Day", "sms": "+15550100401", "by_sms": true, "by_email": true, "schedule": []any{rule}}
		r = e.api(t, admin, http.MethodPost, "/api/v1/admin/notify/groups/"+gid+"/users", user)
		assert.Equal(t, http.StatusBadRequest, r.status, "e-mail ticked without an address: %s", r.body)
		assert.Contains(t, string(r.body), "no e-mail address")
		user["by_email"] = false
		r = e.api(t, admin, http.MethodPost, "/api/v1/admin/notify/groups/"+gid+"/users", user)
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		uid := r.JSON(t)["id"].(string)
		bad := map[string]any{"from": "2026-11-01", "until": "2028-11-01", "start": "09:00", "end": "17:00", "days": 0x3e, "every_days": 1, "on_days": 1}
		user["schedule"] = []any{rule, bad}
		r = e.api(t, admin, http.MethodPut, "/api/v1/admin/notify/users/"+uid, user)
		assert.Equal(t, http.StatusBadRequest, r.status, "a rule longer than a year: %s", r.body)
		assert.Contains(t, string(r.body), "rule 2")
		r = e.api(t, admin, http.MethodPost, "/api/v1/admin/notify/groups/"+gid+"/technicians", map[string]any{"technician_id": e.a.tech.ID})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		assert.Equal(t, "technician:"+e.a.tech.ID, r.JSON(t)["source"])

		r = e.api(t, admin, http.MethodGet, "/api/v1/admin/notify", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		body := r.JSON(t)
		assert.Equal(t, "America/New_York", body["time_zone"])
		groups := body["groups"].([]any)
		require.Len(t, groups, 1)
		assert.Len(t, groups[0].(map[string]any)["users"], 2)
		assert.Len(t, body["events"], len(core.NotifyEvents))

		// Monday 2 November 2026, 10:00 in New York (a local time, read in
		// the schedules' zone) and 03:00 UTC (22:00 the evening before).
		r = e.api(t, admin, http.MethodGet, "/api/v1/admin/notify/test?at=2026-11-02T10:00", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		test := r.JSON(t)
		assert.Equal(t, "2026-11-02T10:00:00-05:00", test["at"])
		users := test["groups"].([]any)[0].(map[string]any)["users"].([]any)
		byName := map[string]map[string]any{}
		for _, u := range users {
			byName[u.(map[string]any)["name"].(string)] = u.(map[string]any)
		}
		assert.Equal(t, true, byName["Dana Day"]["active"])
		assert.Equal(t, false, byName[e.a.tech.Name]["active"], "a copied technician has no rule yet")
		periods := byName["Dana Day"]["periods"].([]any)
		require.Len(t, periods, 6, "five working days and the next Monday's first hour, in the 7 days from Monday 10:00")
		assert.Equal(t, "2026-11-02T10:00:00-05:00", periods[0].(map[string]any)["start"], "the first period starts at the window")
		assert.Equal(t, "2026-11-02T17:00:00-05:00", periods[0].(map[string]any)["end"])
		assert.Equal(t, "2026-11-09T10:00:00-05:00", periods[5].(map[string]any)["end"], "the last ends with the window")
		r = e.api(t, admin, http.MethodGet, "/api/v1/admin/notify/test?at=2026-11-02T03:00:00Z", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, false, r.JSON(t)["groups"].([]any)[0].(map[string]any)["users"].([]any)[0].(map[string]any)["active"])
		r = e.api(t, admin, http.MethodGet, "/api/v1/admin/notify/test?at=tomorrow", nil)
		assert.Equal(t, http.StatusBadRequest, r.status)
		r = e.api(t, admin, http.MethodGet, "/api/v1/admin/notify/test?from=2026-11-01T00:00:00Z&to=2027-01-15T00:00:00Z", nil)
		assert.Equal(t, http.StatusBadRequest, r.status, "at most 62 days")

		// Technicians and the other tenant reach none of it.
		plain := e.a
		plain.tech = core.Technician{ID: core.NewID("tec"), TenantID: e.a.tenant.ID, Email: "joe@a.example",
			Name: "Joe Tech", Role: core.RoleTechnician, PasswordHash: cheapHash(password), CreatedAt: e.clk.Now()}
		require.NoError(t, st.Update(t.Context(), func(tx core.Tx) error { return tx.CreateTechnician(t.Context(), &plain.tech) }))
		tech := e.login(t, plain)
		assert.Equal(t, http.StatusForbidden, e.api(t, tech, http.MethodGet, "/api/v1/admin/notify", nil).status)
		assert.Equal(t, http.StatusForbidden, e.api(t, tech, http.MethodDelete, "/api/v1/admin/notify/groups/"+gid, nil).status)
		e.makeAdmin(t, e.b)
		other := e.login(t, e.b)
		assert.Equal(t, http.StatusNotFound, e.api(t, other, http.MethodDelete, "/api/v1/admin/notify/users/"+uid, nil).status)
		assert.Equal(t, http.StatusNotFound, e.api(t, other, http.MethodPut, "/api/v1/admin/notify/groups/"+gid,
			map[string]any{"name": "Mine", "events": []string{}}).status)
		r = e.api(t, other, http.MethodGet, "/api/v1/admin/notify", nil)
		assert.Empty(t, r.JSON(t)["groups"])

		require.Equal(t, http.StatusNoContent, e.api(t, admin, http.MethodDelete, "/api/v1/admin/notify/users/"+uid, nil).status)
		require.Equal(t, http.StatusNoContent, e.api(t, admin, http.MethodDelete, "/api/v1/admin/notify/groups/"+gid, nil).status)
		acts := auditActions(t, e, e.a.tenant.ID)
		for _, a := range []string{core.AuditNotifyGroupCreated, core.AuditNotifyUserAdded, core.AuditNotifyTimeZone, core.AuditNotifyUserRemoved, core.AuditNotifyGroupDeleted} {
			assert.Contains(t, acts, a)
		}
	})
}
