package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNotifyCopyPSAMember: an admin copies one of the MSP's technicians
// from the PSA into an on-call group. The list holds the active members
// only; the copy is what the PSA says (read again, whatever the page
// sent), with its e-mail on and its phone, in E.164, off until ticked; it
// stays as copied when the PSA changes; an inactive member, another
// tenant's integration or a technician who is not an admin get nothing;
// a PSA that fails is named with its error.
func TestNotifyCopyPSAMember(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		f := newPodFixture(t, e)
		f.psa.SeedMembers([]psa.Member{
			{Ref: "7", Identifier: "nina", Name: "Nina Night", Email: "Nina@MSP.example", Phone: "(555) 010-0108"},
			{Ref: "8", Identifier: "oscar", Name: "Oscar Former", Email: "oscar@msp.example"},
			{Ref: "9", Identifier: "desk", Name: "", Email: "", Phone: "ext. 12"},
		}, "8")
		e.makeAdmin(t, e.a)
		admin := e.login(t, e.a)
		r := e.api(t, admin, http.MethodPost, "/api/v1/admin/notify/groups", map[string]any{"name": "Desk", "events": []string{"tech_verify"}})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		gid := r.JSON(t)["id"].(string)

		r = e.api(t, admin, http.MethodGet, "/api/v1/admin/notify/members", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		members := r.JSON(t)["members"].([]any)
		require.Len(t, members, 2, "active members only: %s", r.body)
		first := members[0].(map[string]any)
		assert.Equal(t, map[string]any{"integration_id": f.integration.ID, "integration": "Memory", "ref": "7", "name": "Nina Night",
			"email": "Nina@MSP.example", "phone": "(555) 010-0108"}, first)
		assert.Empty(t, r.JSON(t)["errors"])

		copyMember := func(c *http.Client, integration, ref string) response {
			return e.api(t, c, http.MethodPost, "/api/v1/admin/notify/groups/"+gid+"/members", map[string]any{"integration_id": integration, "member_ref": ref})
		}
		r = copyMember(admin, f.integration.ID, "7")
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		u := r.JSON(t)
		assert.Equal(t, "Nina Night", u["name"])
		assert.Equal(t, "nina@msp.example", u["email"])
		assert.Equal(t, "+15550100108", u["sms"])
		assert.Equal(t, "+15550100108", u["voice"])
		assert.Equal(t, true, u["by_email"])
		assert.Equal(t, false, u["by_sms"], "a PSA's number may be a desk line: SMS waits for the admin")
		assert.Equal(t, "psa:"+f.integration.ID+":7", u["source"])

		// A name-less member is copied by its login; a number that is none is left out.
		r = copyMember(admin, f.integration.ID, "9")
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		assert.Equal(t, "desk", r.JSON(t)["name"])
		assert.Empty(t, r.JSON(t)["sms"])
		assert.Equal(t, false, r.JSON(t)["by_email"])

		// A copy: the PSA's later change does not follow.
		f.psa.SeedMembers([]psa.Member{{Ref: "7", Identifier: "nina", Name: "Nina Renamed", Email: "new@msp.example"}})
		r = e.api(t, admin, http.MethodGet, "/api/v1/admin/notify", nil)
		require.Equal(t, http.StatusOK, r.status)
		assert.Contains(t, string(r.body), "Nina Night")
		assert.NotContains(t, string(r.body), "Nina Renamed")

		assert.Equal(t, http.StatusNotFound, copyMember(admin, f.integration.ID, "8").status, "an inactive member is not copied")
		assert.Equal(t, http.StatusNotFound, copyMember(admin, "int_nope", "7").status)
		assert.Equal(t, http.StatusBadRequest, copyMember(admin, f.integration.ID, "").status)
		e.makeAdmin(t, e.b)
		assert.Equal(t, http.StatusNotFound, e.api(t, e.login(t, e.b), http.MethodPost, "/api/v1/admin/notify/groups/"+gid+"/members",
			map[string]any{"integration_id": f.integration.ID, "member_ref": "7"}).status, "another tenant's integration and group")
		tech := e.addTech(t, e.a, "Terry Tech", "terry@acme.example", core.RoleTechnician)
		c := e.loginAs(t, e.a, tech.Email, password)
		assert.Equal(t, http.StatusForbidden, e.api(t, c, http.MethodGet, "/api/v1/admin/notify/members", nil).status)
		assert.Equal(t, http.StatusForbidden, copyMember(c, f.integration.ID, "7").status)

		actions := e.auditActions(t, e.a)
		assert.Contains(t, actions, core.AuditNotifyUserAdded)

		// The PSA refuses: the page says which PSA and why.
		f.psa.FailNext(1000, http.StatusUnauthorized, "")
		r = e.api(t, admin, http.MethodGet, "/api/v1/admin/notify/members", nil)
		f.psa.FailNext(0, 0, "")
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		errs := r.JSON(t)["errors"].([]any)
		require.Len(t, errs, 1)
		assert.Equal(t, "Memory", errs[0].(map[string]any)["integration"])
		assert.True(t, strings.TrimSpace(errs[0].(map[string]any)["error"].(string)) != "")
	})
}
