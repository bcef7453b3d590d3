package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	guidSam   = "0a1b2c3d-0000-4000-8000-000000000001"
	guidPat   = "0a1b2c3d-0000-4000-8000-000000000002"
	guidNobod = "0a1b2c3d-0000-4000-8000-000000000003"
	sidSam    = "S-1-5-21-1004336348-1177238915-682003330-1201"
	sidPat    = "S-1-5-21-1004336348-1177238915-682003330-1202"
	sidNobody = "S-1-5-21-1004336348-1177238915-682003330-1203"
)

func dirUser(guid, sid, given, sur, mail, mobile string) map[string]any {
	u := map[string]any{"guid": guid, "sid": sid, "dn": "CN=" + given + ",OU=Staff,DC=contoso,DC=example",
		"sam_account_name": strings.ToLower(given), "given_name": given, "surname": sur, "enabled": true, "usn_changed": 100}
	if mail != "" {
		u["mail"] = mail
		u["proxy_addresses"] = []string{mail}
	}
	if mobile != "" {
		u["mobile"] = mobile
	}
	return u
}

func matchesOf(t *testing.T, r response) (map[string]map[string]any, map[string]any) {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	body := r.JSON(t)
	out := map[string]map[string]any{}
	for _, m := range body["matches"].([]any) {
		mm := m.(map[string]any)
		out[mm["guid"].(string)] = mm
	}
	return out, body["counts"].(map[string]any)
}

// TestDirectoryUploadAndMatching: a harvester's full and incremental
// uploads, the match report (e-mail, phone, name suggestion, unmatched,
// filters), accept → binding, reject, and scoping: another tenant's
// harvester and technicians see and change nothing here; bad uploads are
// refused whole. On SQLite and PostgreSQL.
func TestDirectoryUploadAndMatching(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.makeAdmin(t, e.a)
		admin := e.login(t, e.a)
		_, cred := e.activate(t, admin, e.a)
		// A second contact of the client, with only a name in common with a user.
		pat, err := e.eng.CreateContact(t.Context(), e.a.tenant.ID, "test", "manual", core.NewContact{
			ClientID: e.a.client.ID, FirstName: "Pat", LastName: "Lee",
			Phones: []core.NewDestination{{Value: "+44 7700 900555", Label: "Mobile"}},
		})
		require.NoError(t, err)

		full := map[string]any{"full": true, "users": []any{
			dirUser(guidSam, sidSam, "Sam", "Caller", "SAM@contoso.example", ""),
			dirUser(guidPat, sidPat, "Pat", "Lee", "", "07700 900999"),
			dirUser(guidNobod, sidNobody, "No", "Body", "nobody@contoso.example", ""),
		}}
		r := e.agentDo(t, http.MethodPost, "/agent/v1/directory", cred, full)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, map[string]any{"full": true, "added": 3.0, "changed": 0.0, "removed": 0.0, "total": 3.0}, r.JSON(t))

		// A technician without the admin role reads the report only.
		plain := e.a
		plain.tech = core.Technician{ID: core.NewID("tec"), TenantID: e.a.tenant.ID, Email: "joe@a.example",
			Name: "Joe Tech", Role: core.RoleTechnician, PasswordHash: cheapHash(password), CreatedAt: e.clk.Now()}
		require.NoError(t, st.Update(t.Context(), func(tx core.Tx) error { return tx.CreateTechnician(t.Context(), &plain.tech) }))
		tech := e.login(t, plain)
		rows, counts := matchesOf(t, e.api(t, tech, http.MethodGet, "/api/v1/clients/"+e.a.client.ID+"/directory/matches", nil))
		assert.Equal(t, map[string]any{"matched": 1.0, "suggested": 1.0, "conflicting": 0.0, "unmatched": 1.0, "accepted": 0.0,
			"selfserve_on": 0.0, "selfserve_active": 0.0}, counts)
		assert.Equal(t, "matched", rows[guidSam]["status"])
		assert.Equal(t, "email", rows[guidSam]["rule"])
		assert.Equal(t, e.a.contact.ID, rows[guidSam]["candidates"].([]any)[0].(map[string]any)["id"])
		assert.Equal(t, "suggested", rows[guidPat]["status"], "a name alone is only a suggestion")
		assert.Equal(t, "unmatched", rows[guidNobod]["status"])

		// Filters.
		rows, _ = matchesOf(t, e.api(t, tech, http.MethodGet, "/api/v1/clients/"+e.a.client.ID+"/directory/matches?status=suggested", nil))
		assert.Len(t, rows, 1)
		assert.Contains(t, rows, guidPat)
		rows, _ = matchesOf(t, e.api(t, tech, http.MethodGet, "/api/v1/clients/"+e.a.client.ID+"/directory/matches?q=NOBODY", nil))
		assert.Len(t, rows, 1)
		assert.Contains(t, rows, guidNobod)
		r = e.api(t, tech, http.MethodGet, "/api/v1/clients/"+e.a.client.ID+"/directory/matches?status=maybe", nil)
		assert.Equal(t, http.StatusBadRequest, r.status)
		// Pages: rows in the report's order (by name), the total of the filter.
		r = e.api(t, tech, http.MethodGet, "/api/v1/clients/"+e.a.client.ID+"/directory/matches?offset=1&limit=1", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		page := r.JSON(t)
		assert.Equal(t, 3.0, page["total"])
		assert.Equal(t, 1.0, page["offset"])
		require.Len(t, page["matches"], 1)
		assert.Equal(t, guidPat, page["matches"].([]any)[0].(map[string]any)["guid"], "No Body, Pat Lee, Sam Caller: the second is Pat")
		for _, q := range []string{"limit=-1", "limit=5001", "offset=x"} {
			r = e.api(t, tech, http.MethodGet, "/api/v1/clients/"+e.a.client.ID+"/directory/matches?"+q, nil)
			assert.Equal(t, http.StatusBadRequest, r.status, q)
		}

		// Incremental: Pat's mobile is changed to the contact's number
		// (written differently: it is compared in E.164), and No Body is
		// deleted; a removed GUID never seen is ignored.
		inc := map[string]any{"full": false, "users": []any{dirUser(guidPat, sidPat, "Pat", "Lee", "", "+44 7700 900555")},
			"removed": []string{guidNobod, "ffffffff-0000-4000-8000-000000000009"}}
		r = e.agentDo(t, http.MethodPost, "/agent/v1/directory", cred, inc)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, map[string]any{"full": false, "added": 0.0, "changed": 1.0, "removed": 1.0, "total": 2.0}, r.JSON(t))
		rows, _ = matchesOf(t, e.api(t, tech, http.MethodGet, "/api/v1/clients/"+e.a.client.ID+"/directory/matches", nil))
		assert.Len(t, rows, 2)
		assert.Equal(t, "matched", rows[guidPat]["status"])
		assert.Equal(t, "phone", rows[guidPat]["rule"])
		assert.Equal(t, pat.ID, rows[guidPat]["candidates"].([]any)[0].(map[string]any)["id"])

		// Decisions: technicians may not; admins accept and reject in bulk.
		decide := map[string]any{"choices": []any{
			map[string]any{"guid": guidSam, "contact_id": e.a.contact.ID, "accept": true},
			map[string]any{"guid": guidPat, "contact_id": pat.ID, "accept": false},
		}}
		r = e.api(t, tech, http.MethodPost, "/api/v1/clients/"+e.a.client.ID+"/directory/matches", decide)
		assert.Equal(t, http.StatusForbidden, r.status)
		r = e.api(t, admin, http.MethodPost, "/api/v1/clients/"+e.a.client.ID+"/directory/matches", decide)
		require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
		rows, counts = matchesOf(t, e.api(t, tech, http.MethodGet, "/api/v1/clients/"+e.a.client.ID+"/directory/matches", nil))
		assert.Equal(t, "accepted", rows[guidSam]["decision"])
		assert.Equal(t, 1.0, counts["accepted"])
		assert.Equal(t, "unmatched", rows[guidPat]["status"], "a rejected pair is not proposed again")
		var b core.Binding
		require.NoError(t, st.View(t.Context(), func(tx core.Tx) error {
			b, err = tx.Binding(t.Context(), e.a.tenant.ID, e.a.client.ID, sidSam)
			return err
		}))
		assert.Equal(t, e.a.contact.ID, b.ContactID)
		assert.Equal(t, core.BindHarvester, b.How)
		assert.Equal(t, core.BindingConfirmed, b.State)
		acts := auditActions(t, e, e.a.tenant.ID)
		assert.Contains(t, acts, core.AuditDirectorySynced)
		assert.Contains(t, acts, core.AuditDirectoryMatchAccepted)
		assert.Contains(t, acts, core.AuditDirectoryMatchRejected)

		// Rejecting the accepted pair takes its binding back; accepting it
		// again binds again.
		r = e.api(t, admin, http.MethodPost, "/api/v1/clients/"+e.a.client.ID+"/directory/matches", map[string]any{"choices": []any{
			map[string]any{"guid": guidSam, "contact_id": e.a.contact.ID, "accept": false}}})
		require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
		err = st.View(t.Context(), func(tx core.Tx) error {
			_, err := tx.Binding(t.Context(), e.a.tenant.ID, e.a.client.ID, sidSam)
			return err
		})
		assert.ErrorIs(t, err, core.ErrNotFound, "the rejected match is still bound")
		assert.Contains(t, auditActions(t, e, e.a.tenant.ID), core.AuditBindingRemoved)
		rows, _ = matchesOf(t, e.api(t, tech, http.MethodGet, "/api/v1/clients/"+e.a.client.ID+"/directory/matches", nil))
		assert.Equal(t, "unmatched", rows[guidSam]["status"])
		r = e.api(t, admin, http.MethodPost, "/api/v1/clients/"+e.a.client.ID+"/directory/matches", map[string]any{"choices": []any{
			map[string]any{"guid": guidSam, "contact_id": e.a.contact.ID, "accept": true}}})
		require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
		require.NoError(t, st.View(t.Context(), func(tx core.Tx) error {
			b, err = tx.Binding(t.Context(), e.a.tenant.ID, e.a.client.ID, sidSam)
			return err
		}))
		assert.Equal(t, e.a.contact.ID, b.ContactID)

		// A bulk decision with one bad row records nothing.
		bad := map[string]any{"choices": []any{
			map[string]any{"guid": guidPat, "contact_id": pat.ID, "accept": true},
			map[string]any{"guid": guidPat, "contact_id": e.b.contact.ID, "accept": true},
		}}
		r = e.api(t, admin, http.MethodPost, "/api/v1/clients/"+e.a.client.ID+"/directory/matches", bad)
		assert.Equal(t, http.StatusNotFound, r.status, "another tenant's contact reads as missing: %s", r.body)
		rows, _ = matchesOf(t, e.api(t, tech, http.MethodGet, "/api/v1/clients/"+e.a.client.ID+"/directory/matches", nil))
		assert.Equal(t, "unmatched", rows[guidPat]["status"], "the good row of a refused batch was not recorded")

		// Another tenant: its harvester writes only its own directory, its
		// technicians cannot read this client's report.
		e.makeAdmin(t, e.b)
		adminB := e.login(t, e.b)
		_, credB := e.activate(t, adminB, e.b)
		r = e.agentDo(t, http.MethodPost, "/agent/v1/directory", credB, map[string]any{"full": true, "users": []any{
			dirUser(guidSam, sidSam, "Evil", "Twin", "sam@contoso.example", ""),
		}})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		rows, _ = matchesOf(t, e.api(t, tech, http.MethodGet, "/api/v1/clients/"+e.a.client.ID+"/directory/matches", nil))
		assert.Equal(t, "Sam Caller", rows[guidSam]["name"], "tenant B's upload of the same GUID changed tenant A's user")
		r = e.api(t, adminB, http.MethodGet, "/api/v1/clients/"+e.a.client.ID+"/directory/matches", nil)
		assert.Equal(t, http.StatusNotFound, r.status)
		r = e.api(t, adminB, http.MethodPost, "/api/v1/clients/"+e.a.client.ID+"/directory/matches", decide)
		assert.Equal(t, http.StatusNotFound, r.status, "%s", r.body)

		// Bad uploads: refused whole, nothing written.
		for name, body := range map[string]any{
			"bad guid": map[string]any{"full": true, "users": []any{dirUser("nope", sidSam, "A", "B", "", "")}},
			"bad sid":  map[string]any{"full": true, "users": []any{dirUser(guidSam, "S-x", "A", "B", "", "")}},
			"twice": map[string]any{"full": true, "users": []any{dirUser(guidSam, sidSam, "A", "B", "", ""),
				dirUser(guidSam, sidSam, "A", "B", "", "")}},
			"bad removed":   map[string]any{"full": false, "users": []any{}, "removed": []string{"x"}},
			"unknown field": map[string]any{"full": true, "users": []any{}, "tenant_id": e.b.tenant.ID},
		} {
			r := e.agentDo(t, http.MethodPost, "/agent/v1/directory", cred, body)
			assert.Equal(t, http.StatusBadRequest, r.status, "%s: %s", name, r.body)
		}
		r = e.agentDo(t, http.MethodPost, "/agent/v1/directory", "csd1.dev_nosuch.AAAA", full)
		assert.Equal(t, http.StatusUnauthorized, r.status)
		rows, _ = matchesOf(t, e.api(t, tech, http.MethodGet, "/api/v1/clients/"+e.a.client.ID+"/directory/matches", nil))
		assert.Len(t, rows, 2, "a refused upload changed the directory")

		// A full upload without Pat removes Pat (and its decisions).
		r = e.agentDo(t, http.MethodPost, "/agent/v1/directory", cred, map[string]any{"full": true, "users": []any{
			dirUser(guidSam, sidSam, "Sam", "Caller", "sam@contoso.example", ""),
		}})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, 1.0, r.JSON(t)["removed"])
		rows, _ = matchesOf(t, e.api(t, tech, http.MethodGet, "/api/v1/clients/"+e.a.client.ID+"/directory/matches", nil))
		assert.Len(t, rows, 1)
		assert.Equal(t, "accepted", rows[guidSam]["decision"], "the unchanged user keeps its decision")
	})
}

// TestDirectorySelfServe: the tenant-wide switch (off by default, and off
// it overrides every user's), per-user switches on and off in bulk (all or
// none, admins only, audited), active only with an e-mail and a mobile —
// the directory's or the bound contact's —, the import-time choice for new
// users, a removed user's switch going with it, and another tenant reaching
// nothing. On SQLite and PostgreSQL.
func TestDirectorySelfServe(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.makeAdmin(t, e.a)
		admin := e.login(t, e.a)
		_, cred := e.activate(t, admin, e.a)
		reportURL := "/api/v1/clients/" + e.a.client.ID + "/directory/matches"
		ssURL := "/api/v1/clients/" + e.a.client.ID + "/directory/selfserve"
		const guidD = "0a1b2c3d-0000-4000-8000-000000000004"
		upload := func(full bool, users ...any) {
			t.Helper()
			r := e.agentDo(t, http.MethodPost, "/agent/v1/directory", cred, map[string]any{"full": full, "users": users})
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		}
		selfServe := func() (map[string]map[string]any, map[string]any) {
			t.Helper()
			rows, counts := matchesOf(t, e.api(t, admin, http.MethodGet, reportURL, nil))
			out := map[string]map[string]any{}
			for g, m := range rows {
				out[g] = m["selfserve"].(map[string]any)
			}
			return out, counts
		}
		// Pat has e-mail and mobile; No Body only e-mail; Sam nothing of
		// its own (its bound contact has both).
		upload(true,
			dirUser(guidPat, sidPat, "Pat", "Lee", "pat@contoso.example", "+44 7700 900999"),
			dirUser(guidNobod, sidNobody, "No", "Body", "nobody@contoso.example", ""),
			dirUser(guidSam, sidSam, "Sam", "Caller", "", ""))
		ss, counts := selfServe()
		assert.Equal(t, map[string]any{"enabled": false, "status": "", "active": false, "missing": []any{"tenant"}, "locked_out": false}, ss[guidPat],
			"off by default")
		assert.Equal(t, 0.0, counts["selfserve_on"])
		r := e.api(t, admin, http.MethodGet, "/api/v1/admin/directory/settings", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, map[string]any{"enabled": false, "new_users_on": false}, r.JSON(t))

		// A technician may change neither switch.
		plain := e.a
		plain.tech = core.Technician{ID: core.NewID("tec"), TenantID: e.a.tenant.ID, Email: "joe@a.example",
			Name: "Joe Tech", Role: core.RoleTechnician, PasswordHash: cheapHash(password), CreatedAt: e.clk.Now()}
		require.NoError(t, st.Update(t.Context(), func(tx core.Tx) error { return tx.CreateTechnician(t.Context(), &plain.tech) }))
		tech := e.login(t, plain)
		all := map[string]any{"guids": []string{guidPat, guidNobod, guidSam}, "enabled": true}
		assert.Equal(t, http.StatusForbidden, e.api(t, tech, http.MethodPost, ssURL, all).status)
		assert.Equal(t, http.StatusForbidden, e.api(t, tech, http.MethodPut, "/api/v1/admin/directory/settings",
			map[string]any{"enabled": true}).status)

		// Bulk on: three change, then none; the tenant switch still off.
		r = e.api(t, admin, http.MethodPost, ssURL, all)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, 3.0, r.JSON(t)["changed"])
		r = e.api(t, admin, http.MethodPost, ssURL, all)
		assert.Equal(t, 0.0, r.JSON(t)["changed"])
		ss, counts = selfServe()
		assert.Equal(t, 3.0, counts["selfserve_on"])
		assert.Equal(t, 0.0, counts["selfserve_active"], "the tenant-wide switch off overrides every user's")

		r = e.api(t, admin, http.MethodPut, "/api/v1/admin/directory/settings", map[string]any{"enabled": true})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		ss, counts = selfServe()
		assert.Equal(t, true, ss[guidPat]["active"])
		assert.Equal(t, []any{"mobile"}, ss[guidNobod]["missing"])
		assert.Equal(t, []any{"email", "mobile"}, ss[guidSam]["missing"])
		assert.Equal(t, 1.0, counts["selfserve_active"])
		// Bound to a contact with an e-mail and a mobile, Sam is active.
		r = e.api(t, admin, http.MethodPost, reportURL, map[string]any{"choices": []any{
			map[string]any{"guid": guidSam, "contact_id": e.a.contact.ID, "accept": true}}})
		require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
		ss, _ = selfServe()
		assert.Equal(t, true, ss[guidSam]["active"], "%v", ss[guidSam])

		// A batch naming a user not on record changes nothing.
		r = e.api(t, admin, http.MethodPost, ssURL, map[string]any{"guids": []string{guidPat, guidD}, "enabled": false})
		assert.Equal(t, http.StatusNotFound, r.status, "%s", r.body)
		ss, _ = selfServe()
		assert.Equal(t, true, ss[guidPat]["enabled"], "the good row of a refused batch was not recorded")
		r = e.api(t, admin, http.MethodPost, ssURL, map[string]any{"guids": []string{guidPat}, "enabled": false})
		assert.Equal(t, 1.0, r.JSON(t)["changed"])
		ss, _ = selfServe()
		assert.Equal(t, false, ss[guidPat]["active"])
		for name, body := range map[string]any{"none": map[string]any{"guids": []string{}, "enabled": true},
			"unknown field": map[string]any{"guids": []string{guidPat}, "tenant_id": e.b.tenant.ID}} {
			assert.Equal(t, http.StatusBadRequest, e.api(t, admin, http.MethodPost, ssURL, body).status, name)
		}
		acts := auditActions(t, e, e.a.tenant.ID)
		assert.Contains(t, acts, core.AuditSelfServeEnabled)
		assert.Contains(t, acts, core.AuditSelfServeDisabled)
		assert.Contains(t, acts, core.AuditSelfServeSettings)

		// Too many wrong codes lock Sam out of the page; an admin clears it.
		lockURL := ssURL + "/" + guidSam + "/lockout"
		require.NoError(t, st.Update(t.Context(), func(tx core.Tx) error {
			return tx.SetSelfServeFailures(t.Context(), e.a.tenant.ID, e.a.client.ID, guidSam, 10, e.clk.Now())
		}))
		ss, _ = selfServe()
		assert.Equal(t, true, ss[guidSam]["locked_out"])
		assert.Equal(t, false, ss[guidSam]["active"])
		assert.Equal(t, []any{"locked"}, ss[guidSam]["missing"])
		assert.Equal(t, http.StatusForbidden, e.api(t, tech, http.MethodDelete, lockURL, nil).status, "admins only")
		assert.Equal(t, http.StatusNotFound, e.api(t, admin, http.MethodDelete, ssURL+"/"+guidD+"/lockout", nil).status, "not on record")
		r = e.api(t, admin, http.MethodDelete, lockURL, nil)
		require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
		ss, _ = selfServe()
		assert.Equal(t, false, ss[guidSam]["locked_out"])
		assert.Equal(t, true, ss[guidSam]["active"])
		assert.Contains(t, auditActions(t, e, e.a.tenant.ID), core.AuditSelfServeLockoutCleared)

		// The import-time choice: a user seen for the first time gets it on;
		// a removed user's switch goes with it.
		r = e.api(t, admin, http.MethodPut, "/api/v1/admin/directory/settings", map[string]any{"enabled": true, "new_users_on": true})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		upload(false, dirUser(guidD, "S-1-5-21-1004336348-1177238915-682003330-1204", "Dee", "New", "dee@contoso.example", "+44 7700 900444"))
		ss, _ = selfServe()
		assert.Equal(t, true, ss[guidD]["enabled"])
		assert.Equal(t, true, ss[guidD]["active"])
		assert.Equal(t, false, ss[guidPat]["enabled"], "users already on record keep their switch")
		require.Equal(t, http.StatusOK, e.api(t, admin, http.MethodPut, "/api/v1/admin/directory/settings",
			map[string]any{"enabled": true, "new_users_on": false}).status)
		upload(true, dirUser(guidPat, sidPat, "Pat", "Lee", "pat@contoso.example", "+44 7700 900999"))
		upload(false, dirUser(guidD, "S-1-5-21-1004336348-1177238915-682003330-1204", "Dee", "New", "dee@contoso.example", "+44 7700 900444"))
		ss, _ = selfServe()
		assert.Equal(t, false, ss[guidD]["enabled"], "a removed user's switch went with it")

		// Another tenant: its settings are its own; it reaches none of these users.
		e.makeAdmin(t, e.b)
		adminB := e.login(t, e.b)
		r = e.api(t, adminB, http.MethodGet, "/api/v1/admin/directory/settings", nil)
		assert.Equal(t, map[string]any{"enabled": false, "new_users_on": false}, r.JSON(t))
		r = e.api(t, adminB, http.MethodPost, ssURL, map[string]any{"guids": []string{guidPat}, "enabled": true})
		assert.Equal(t, http.StatusNotFound, r.status, "%s", r.body)
		ss, _ = selfServe()
		assert.Equal(t, false, ss[guidPat]["enabled"])
	})
}

var welcomeLinkRE = regexp.MustCompile(`https?://\S+/w/[^/\s]+/[A-Za-z0-9_-]+`)

// TestDirectoryWelcome: the welcome e-mail goes only to users with
// self-serve on and an e-mail and a mobile, with the tenant's switch on,
// all or none; its link shows the masked mobile and changes nothing on GET;
// a POST without the page's nonce is refused; "yes" makes the user
// Registration Complete (once: the link then reads as answered), "not my
// number" changes no status; the link of one tenant does not open under
// another's name. On SQLite and PostgreSQL.
func TestDirectoryWelcome(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.makeAdmin(t, e.a)
		admin := e.login(t, e.a)
		_, cred := e.activate(t, admin, e.a)
		cli := "/api/v1/clients/" + e.a.client.ID + "/directory/"
		r := e.agentDo(t, http.MethodPost, "/agent/v1/directory", cred, map[string]any{"full": true, "users": []any{
			dirUser(guidPat, sidPat, "Pat", "Lee", "pat@contoso.example", "+44 7700 900999"),
			dirUser(guidNobod, sidNobody, "No", "Body", "nobody@contoso.example", ""),
			dirUser(guidSam, sidSam, "Sam", "Caller", "sam.c@contoso.example", "+44 7700 900111"),
		}})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		require.Equal(t, http.StatusOK, e.api(t, admin, http.MethodPost, cli+"selfserve",
			map[string]any{"guids": []string{guidPat, guidNobod}, "enabled": true}).status)
		sent := func() int { e.deliver(t); return e.mail.Len() }
		before := sent()

		r = e.api(t, admin, http.MethodPost, cli+"welcome", map[string]any{"guids": []string{guidPat}})
		assert.Equal(t, http.StatusBadRequest, r.status, "the tenant's switch is off: %s", r.body)
		require.Equal(t, http.StatusOK, e.api(t, admin, http.MethodPut, "/api/v1/admin/directory/settings", map[string]any{"enabled": true}).status)
		for name, guids := range map[string][]string{"no mobile": {guidPat, guidNobod}, "self-serve off": {guidSam},
			"unknown": {"0a1b2c3d-0000-4000-8000-00000000beef"}} {
			r = e.api(t, admin, http.MethodPost, cli+"welcome", map[string]any{"guids": guids})
			assert.Contains(t, []int{http.StatusBadRequest, http.StatusNotFound}, r.status, "%s: %s", name, r.body)
		}
		assert.Equal(t, before, sent(), "a refused batch sends nothing")

		r = e.api(t, admin, http.MethodPost, cli+"welcome", map[string]any{"guids": []string{guidPat}})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, 1.0, r.JSON(t)["sent"])
		require.Equal(t, before+1, sent())
		m, _ := e.mail.last(t)
		assert.Equal(t, "pat@contoso.example", m.To)
		assert.Contains(t, m.Subject, "Confirm your mobile number")
		assert.NotContains(t, m.Text, "900999", "the number is masked in the e-mail")
		link := welcomeLinkRE.FindString(m.Text)
		require.NotEmpty(t, link, "no link in %q", m.Text)
		path := link[strings.Index(link, "/w/"):]

		browser := e.client(t)
		r = e.do(t, browser, http.MethodGet, path, "", nil, nil)
		require.Equal(t, http.StatusOK, r.status)
		assert.Contains(t, string(r.body), "Confirm your mobile number")
		assert.Contains(t, string(r.body), "99</dd>", "the last digits are shown")
		assert.NotContains(t, string(r.body), "7700 900999")
		// Another tenant's name on the same token: not valid.
		other := strings.Replace(path, "/w/"+e.a.tenant.Slug+"/", "/w/"+e.b.tenant.Slug+"/", 1)
		assert.Equal(t, http.StatusNotFound, e.do(t, browser, http.MethodGet, other, "", nil, nil).status)
		// A replayed form without this view's nonce changes nothing.
		r = e.form(t, browser, path, url.Values{"answer": {"yes"}, "nonce": {"AAAA"}}, nil)
		assert.Equal(t, http.StatusBadRequest, r.status)
		status := func(guid string) string {
			t.Helper()
			rows, _ := matchesOf(t, e.api(t, admin, http.MethodGet, cli+"matches", nil))
			return rows[guid]["selfserve"].(map[string]any)["status"].(string)
		}
		assert.Equal(t, "", status(guidPat))

		r = e.do(t, browser, http.MethodGet, path, "", nil, nil)
		f := pageFields([]byte(r.body), "")
		f.Del("action")
		f.Set("answer", "yes")
		r = e.form(t, browser, path, f, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "Registration complete")
		assert.Equal(t, "registration_complete", status(guidPat))
		assert.Contains(t, auditActions(t, e, e.a.tenant.ID), core.AuditSelfServeRegistered)
		// Answered: the page says so, a second answer changes nothing.
		r = e.do(t, browser, http.MethodGet, path, "", nil, nil)
		assert.Contains(t, string(r.body), "Already answered")
		r = e.form(t, browser, path, f, nil)
		assert.Equal(t, http.StatusConflict, r.status)

		// A new welcome replaces the old link; "not my number" is audited
		// and leaves the status alone.
		r = e.api(t, admin, http.MethodPost, cli+"welcome", map[string]any{"guids": []string{guidPat}})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		sent()
		m, _ = e.mail.last(t)
		path2 := welcomeLinkRE.FindString(m.Text)
		path2 = path2[strings.Index(path2, "/w/"):]
		require.NotEqual(t, path, path2)
		assert.Equal(t, http.StatusNotFound, e.do(t, browser, http.MethodGet, path, "", nil, nil).status, "the old link is gone")
		r = e.do(t, browser, http.MethodGet, path2, "", nil, nil)
		f = pageFields([]byte(r.body), "")
		f.Del("action")
		f.Set("answer", "no")
		r = e.form(t, browser, path2, f, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "will correct your mobile number")
		assert.Equal(t, "registration_complete", status(guidPat))
		assert.Contains(t, auditActions(t, e, e.a.tenant.ID), core.AuditSelfServeMobileDisputed)

		// "pending": everyone waiting gets one, once. Pat is registered,
		// nobody has no mobile (skipped, not refused); Sam, turned on now,
		// is the one waiting. A second round finds no one.
		require.Equal(t, http.StatusOK, e.api(t, admin, http.MethodPost, cli+"selfserve",
			map[string]any{"guids": []string{guidSam}, "enabled": true}).status)
		n := sent()
		r = e.api(t, admin, http.MethodPost, cli+"welcome", map[string]any{"pending": true})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, 1.0, r.JSON(t)["sent"])
		assert.Equal(t, 0.0, r.JSON(t)["waiting"])
		require.Equal(t, n+1, sent())
		m, _ = e.mail.last(t)
		assert.Equal(t, "sam.c@contoso.example", m.To)
		r = e.api(t, admin, http.MethodPost, cli+"welcome", map[string]any{"pending": true})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, 0.0, r.JSON(t)["sent"], "an outstanding link is not sent again")
		assert.Equal(t, n+1, sent())
		r = e.api(t, admin, http.MethodPost, cli+"welcome", map[string]any{"pending": true, "guids": []string{guidSam}})
		assert.Equal(t, http.StatusBadRequest, r.status)
		// Another tenant's admin reaches none of this client's users.
		e.makeAdmin(t, e.b)
		bAdmin := e.login(t, e.b)
		require.Equal(t, http.StatusOK, e.api(t, bAdmin, http.MethodPut, "/api/v1/admin/directory/settings", map[string]any{"enabled": true}).status)
		r = e.api(t, bAdmin, http.MethodPost, cli+"welcome", map[string]any{"pending": true})
		assert.Equal(t, http.StatusNotFound, r.status, "another tenant's client: %s", r.body)
		r = e.api(t, bAdmin, http.MethodPost, cli+"welcome", map[string]any{"guids": []string{guidSam}})
		assert.Equal(t, http.StatusNotFound, r.status, "another tenant's client: %s", r.body)
		assert.Equal(t, n+1, sent())
	})
}
