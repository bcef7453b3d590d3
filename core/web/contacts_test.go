package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestContactAndClientEdits: admins rename and delete clients and edit and
// delete contacts through the API; technicians and other tenants are
// refused; every refusal changes nothing.
func TestContactAndClientEdits(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.setRole(t, &e.a, core.RoleAdmin)
		admin := e.login(t, e.a)
		tom := e.addTech(t, e.a, "Tom Tech", "tom@acme.example", core.RoleTechnician)
		tech := e.loginAs(t, e.a, tom.Email, password)
		contactPath := "/api/v1/contacts/" + e.a.contact.ID
		edit := map[string]any{"client_id": e.a.client.ID, "first_name": "Jane", "last_name": "Renamed",
			"phones": []map[string]any{{"value": "+15550100111", "default": true}}}

		refusals := []struct {
			name   string
			c      any
			method string
			path   string
			body   any
			status int
			msg    string
		}{
			{"technician edits a contact", tech, "PUT", contactPath, edit, 403, "admin"},
			{"technician deletes a contact", tech, "DELETE", contactPath, nil, 403, "admin"},
			{"technician deletes a client", tech, "DELETE", "/api/v1/clients/" + e.a.client.ID, nil, 403, "admin"},
			{"other tenant's contact", admin, "PUT", "/api/v1/contacts/" + e.b.contact.ID, edit, 404, ""},
			{"other tenant's client", admin, "DELETE", "/api/v1/clients/" + e.b.client.ID, nil, 404, ""},
			{"bad phone", admin, "PUT", contactPath, map[string]any{"client_id": e.a.client.ID, "first_name": "J",
				"phones": []map[string]any{{"value": "not a number"}}}, 400, "not a phone number"},
			{"no name", admin, "PUT", contactPath, map[string]any{"client_id": e.a.client.ID}, 400, "name"},
			{"unknown field", admin, "PUT", contactPath, map[string]any{"client_id": e.a.client.ID, "first_name": "J", "admin": true}, 400, ""},
			{"empty client name", admin, "PUT", "/api/v1/clients/" + e.a.client.ID, map[string]string{"name": " "}, 400, "name"},
		}
		for _, tc := range refusals {
			t.Run(tc.name, func(t *testing.T) {
				before := e.contactState(t)
				r := e.api(t, tc.c.(*http.Client), tc.method, tc.path, tc.body)
				require.Equal(t, tc.status, r.status, "%s", r.body)
				if tc.msg != "" {
					assert.Contains(t, r.JSON(t)["error"], tc.msg)
				}
				assert.Equal(t, before, e.contactState(t))
			})
		}

		r := e.api(t, admin, "PUT", contactPath, edit)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, "Renamed", r.JSON(t)["last_name"])
		r = e.api(t, admin, "PUT", "/api/v1/clients/"+e.a.client.ID, map[string]string{"name": "Contoso Ltd"})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		r = e.api(t, admin, "DELETE", contactPath, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, http.StatusNotFound, e.api(t, tech, "GET", contactPath, nil).status, "a deleted contact is gone for everyone")
		r = e.api(t, admin, "DELETE", "/api/v1/clients/"+e.a.client.ID, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Empty(t, e.api(t, tech, "GET", "/api/v1/clients", nil).JSON(t)["clients"])

		actions := e.auditActions(t, e.a)
		for _, a := range []string{core.AuditContactUpdated, core.AuditClientUpdated, core.AuditContactDeleted, core.AuditClientDeleted} {
			assert.Contains(t, actions, a)
		}

		// The audit API lists newest first and pages with next_before.
		r = e.api(t, admin, "GET", "/api/v1/audit?limit=2", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		page := r.JSON(t)
		evs := page["events"].([]any)
		require.Len(t, evs, 2)
		assert.Equal(t, core.AuditClientDeleted, evs[0].(map[string]any)["action"])
		next := page["next_before"].(float64)
		assert.Equal(t, evs[1].(map[string]any)["seq"], next)
		r = e.api(t, admin, "GET", fmt.Sprintf("/api/v1/audit?limit=2&before=%d", int64(next)), nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		older := r.JSON(t)["events"].([]any)
		assert.Less(t, older[0].(map[string]any)["seq"].(float64), next)
		for _, bad := range []string{"before=0", "before=x", "limit=0"} {
			assert.Equal(t, http.StatusBadRequest, e.api(t, admin, "GET", "/api/v1/audit?"+bad, nil).status, bad)
		}
	})
}

// contactState is what the contact API may change, for both tenants.
func (e *env) contactState(t *testing.T) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, d := range []tenantData{e.a, e.b} {
		cs, err := e.eng.SearchContacts(t.Context(), d.tenant.ID, core.ContactQuery{IncludeDeleted: true})
		require.NoError(t, err)
		clients, err := e.eng.Clients(t.Context(), d.tenant.ID)
		require.NoError(t, err)
		seq, _, err := auditHead(t, e, d.tenant.ID)
		require.NoError(t, err)
		out[d.tenant.ID] = []any{cs, clients, seq}
	}
	return out
}

func auditHead(t *testing.T, e *env, tenantID string) (int64, []byte, error) {
	var (
		seq  int64
		hash []byte
	)
	err := e.st.View(t.Context(), func(tx core.Tx) error {
		var err error
		seq, hash, err = tx.AuditHead(t.Context(), tenantID)
		return err
	})
	return seq, hash, err
}

// TestPodRefreshesStaleMirror: a PSA contact mirrored more than
// core.MirrorMaxAge ago is read from the PSA again when a pod shows it, so
// that a number changed in the PSA is the one codes go to.
func TestPodRefreshesStaleMirror(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		f := newPodFixture(t, e)
		cookie := podSignIn(t, e, e.a)
		ctxPath := "/api/v1/pod/" + f.integration.ID + "/context?contact=c1"
		phones := func() []string {
			t.Helper()
			r := podDo(t, e, cookie, http.MethodGet, ctxPath, nil)
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			var pc struct {
				Contact struct {
					ID           string `json:"id"`
					Destinations []struct {
						Masked string `json:"masked"`
					} `json:"destinations"`
				} `json:"contact"`
			}
			require.NoError(t, json.Unmarshal(r.body, &pc))
			var out []string
			for _, d := range pc.Contact.Destinations {
				out = append(out, d.Masked)
			}
			return out
		}
		assert.Equal(t, []string{"••••••••••77"}, phones())

		// The PSA changes the number; within MirrorMaxAge the mirror stands.
		f.psa.Seed([]psa.Company{{Ref: "co1", Name: "Fabrikam"}},
			[]psa.Contact{{Ref: "c1", CompanyRef: "co1", FirstName: "Pat", LastName: "Pod", Phones: []psa.Phone{{Number: "(555) 010-0188", Default: true}}}},
			nil)
		before := f.psa.Requests()
		assert.Equal(t, []string{"••••••••••77"}, phones())
		assert.Equal(t, 0, f.psa.Requests()-before, "a fresh mirror costs no PSA call")

		e.clk.Add(core.MirrorMaxAge)
		before = f.psa.Requests()
		assert.Equal(t, []string{"••••••••••88"}, phones(), "a stale mirror is read again")
		assert.Equal(t, 1, f.psa.Requests()-before)
		assert.Contains(t, e.auditActions(t, e.a), core.AuditContactRefreshed)

		// The PSA is down: the stale mirror is used as it is.
		e.clk.Add(core.MirrorMaxAge)
		f.psa.SetDown(true)
		assert.Equal(t, []string{"••••••••••88"}, phones())
		assert.Contains(t, e.logs.String(), "stale contact mirror kept")
	})
}

// TestContactRoutesProvenanceInWords: the ways to verify and the card say
// where a phone or e-mail came from as a fragment of a technician's
// sentence ("added by hand", "from Built-in demo PSA"), the ways to verify
// with the day it was set, never the source's identifier ("psa:memory",
// "manual", "enduser:optin") (issue 12; before, "Added by hand" read "· from
// Added by hand" on the card, and an unknown source showed as it is).
func TestContactRoutesProvenanceInWords(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	c := e.login(t, e.a)
	contactFrom := func(source string) string {
		t.Helper()
		ct, err := e.eng.CreateContact(t.Context(), e.a.tenant.ID, "test", source, core.NewContact{
			ClientID: e.a.client.ID, FirstName: "Pat", LastName: "Pod",
			Phones: []core.NewDestination{{Value: "(555) 010-0177", Default: true}},
			Emails: []core.NewDestination{{Value: "pat@contoso.example", Default: true}},
		})
		require.NoError(t, err)
		return ct.ID
	}
	routes := func(contactID string) map[string]string {
		t.Helper()
		r := e.api(t, c, http.MethodGet, "/api/v1/contacts/"+contactID+"/routes", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		out := map[string]string{}
		for _, x := range r.JSON(t)["routes"].([]any) {
			rt := x.(map[string]any)
			p, _ := rt["provenance"].(string)
			out[rt["method"].(string)] = p
		}
		return out
	}
	card := func(contactID string) []string {
		t.Helper()
		r := e.api(t, c, http.MethodGet, "/api/v1/contacts/"+contactID, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var out []string
		for _, x := range r.JSON(t)["destinations"].([]any) {
			out = append(out, x.(map[string]any)["provenance"].(string))
		}
		return out
	}
	got := routes(e.a.contact.ID)
	assert.Equal(t, "added by hand on 2 Nov 2026", got["sms_code"])
	assert.Equal(t, "added by hand on 2 Nov 2026", got["email_code"])
	assert.Equal(t, []string{"added by hand", "added by hand"}, card(e.a.contact.ID))
	for source, words := range map[string]string{
		"psa:memory":    "from Built-in demo PSA",
		"psa:gone":      "from a PSA",
		"agent":         "from the workstation agent",
		"enduser:optin": "corrected by the contact on the SMS opt-in form",
		"weird:thing":   "from another system",
	} {
		id := contactFrom(source)
		got = routes(id)
		assert.Equal(t, words+" on 2 Nov 2026", got["sms_code"], source)
		assert.Equal(t, words+" on 2 Nov 2026", got["email_link"], source)
		assert.Equal(t, []string{words, words}, card(id), source)
		for m, p := range got {
			assert.NotContains(t, p, ":", "%s of %s: the ways to verify never show a source's identifier", m, source)
		}
	}
}
