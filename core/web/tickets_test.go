package web_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// TestTicketLookupDefaultContact: verifying from a ticket number in the
// console, a ticket without a contact is about its company's default
// contact, as on a pod — shown, mirrored, with a notice saying so — and a
// company that names none leaves the technician to search; a ticket's own
// contact comes first.
func TestTicketLookupDefaultContact(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		f := newPodFixture(t, e)
		f.psa.Seed([]psa.Company{{Ref: "co1", Name: "Fabrikam"}},
			[]psa.Contact{
				{Ref: "c1", CompanyRef: "co1", FirstName: "Pat", LastName: "Pod", Phones: []psa.Phone{{Number: "(555) 010-0177", Default: true}}},
				{Ref: "c2", CompanyRef: "co1", FirstName: "Max", LastName: "Manager", Phones: []psa.Phone{{Number: "(555) 010-0178", Default: true}}},
			},
			[]psa.Ticket{{Ref: "900", Summary: "Password reset", CompanyRef: "co1", ContactRef: "c1"}, {Ref: "901", Summary: "Someone called", CompanyRef: "co1"}})
		tech := e.login(t, e.a)
		type lookupOut struct {
			Contact *struct {
				ID        string `json:"id"`
				FirstName string `json:"first_name"`
			} `json:"contact"`
			Notice string `json:"notice"`
		}
		lookup := func(number string) lookupOut {
			t.Helper()
			r := e.api(t, tech, http.MethodGet, "/api/v1/tickets/lookup?integration="+f.integration.ID+"&number="+number, nil)
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			var out lookupOut
			require.NoError(t, json.Unmarshal(r.body, &out))
			return out
		}

		out := lookup("901")
		assert.Nil(t, out.Contact, "the company names no default contact")
		assert.Contains(t, out.Notice, "no contact")

		f.psa.SetDefaultContact("co1", "c2")
		out = lookup("901")
		require.NotNil(t, out.Contact, "the company's default contact")
		assert.Equal(t, "Max", out.Contact.FirstName)
		assert.Contains(t, out.Notice, "default contact")

		out = lookup("900")
		require.NotNil(t, out.Contact)
		assert.Equal(t, "Pat", out.Contact.FirstName, "a ticket's own contact comes first")
		assert.Empty(t, out.Notice)
	})
}
