package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// TestTechDirectoryMalformedAudited: a reset or unlock request the route
// cannot read (no JSON, the wrong content type, an unknown field, a field
// of the wrong type, a body over the cap) or that is no reset or unlock
// (an unknown action, an unlock with a password) is refused with a 400
// and its words, and audited as a refusal (reason "malformed") in the
// technician's tenant, by that technician, about the verification of the
// path — and nothing else is written. Another tenant's technician sending
// the same with a's verification leaves the trace in their own tenant's
// log, not in a's. On SQLite and PostgreSQL.
func TestTechDirectoryMalformedAudited(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		a, b := e.login(t, e.a), e.login(t, e.b)
		e.verifiedBy(t, e.a, e.a.tech.ID, e.clk.Now())
		vs := e.state(t).Verifications[e.a.contact.ID]
		require.Len(t, vs, 1)
		path := "/api/v1/verifications/" + vs[0].ID + "/directory"

		cases := []struct {
			name, contentType string
			body              any
			says              string
		}{
			{"not JSON", "application/json", `{"action":`, "malformed JSON"},
			{"form encoded", "application/x-www-form-urlencoded", "action=unlock", "application/json"},
			{"unknown field", "application/json", `{"action":"unlock","force":true}`, "unknown field"},
			{"wrong type", "application/json", `{"action":"reset","generate":"yes"}`, "must be a bool"},
			{"too large", "application/json", `{"password":"` + strings.Repeat("x", 70<<10) + `"}`, "too large"},
			{"two objects", "application/json", `{"action":"unlock"}{"action":"unlock"}`, "exactly one"},
			{"unknown action", "application/json", `{"action":"delete"}`, "reset or unlock"},
			{"unlock with a password", "application/json", `{"action":"unlock","password":"Spring-Tulip-42"}`, "takes no password"},
		}
		before := e.state(t)
		for _, tc := range cases {
			r := e.do(t, a, http.MethodPost, path, tc.contentType, tc.body, nil)
			require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", tc.name, r.body)
			assert.Contains(t, r.JSON(t)["error"], tc.says, tc.name)
		}
		evs := auditOf(t, e, e.a.tenant.ID, vs[0].ID, core.AuditDirectoryRequestRefused)
		require.Len(t, evs, len(cases), "each malformed request audited once")
		for _, ev := range evs {
			assert.Equal(t, core.RefusedMalformed, ev.Detail["reason"])
			assert.Equal(t, "tech:"+e.a.tech.ID, ev.Actor)
			assert.Equal(t, vs[0].ID, ev.Detail["verification"])
			assert.NotEmpty(t, ev.Detail["message"])
			for _, v := range ev.Detail {
				assert.NotContains(t, v, "Spring-Tulip-42", "a typed password is never audited")
				assert.Less(t, len(v), 300, "what the technician sent is clipped")
			}
		}
		after := e.state(t)
		assert.Equal(t, before.AuditSeq[e.a.tenant.ID]+int64(len(cases)), after.AuditSeq[e.a.tenant.ID])
		after.AuditSeq = before.AuditSeq
		assert.Equal(t, before, after, "nothing but the audit events written")

		// Tenant b's technician, with a's verification in the path.
		r := e.do(t, b, http.MethodPost, path, "application/json", `{"action":`, nil)
		require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
		assert.Len(t, auditOf(t, e, e.a.tenant.ID, vs[0].ID, core.AuditDirectoryRequestRefused), len(cases), "nothing in a's log")
		evs = auditOf(t, e, e.b.tenant.ID, vs[0].ID, core.AuditDirectoryRequestRefused)
		require.Len(t, evs, 1)
		assert.Equal(t, "tech:"+e.b.tech.ID, evs[0].Actor)
	})
}
