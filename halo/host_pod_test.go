package halo_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/web/webtest"
)

// The Halo tab's ticket without a user, through the host: the main
// contact of the client's main site is its default caller, and a caller a
// technician creates from the tab becomes the ticket's user in Halo.

// bare is a ticket of acme without a user.
var bare = psa.Ticket{Ref: "3003", Summary: "Someone called", CompanyRef: acme.Ref}

// podSignIn signs jamie in to the tab through Halo agent sign-in, with
// policy changed by change, and returns the pod cookie.
func (f *haloFixture) podSignIn(t *testing.T, change func(*core.Policy)) *http.Cookie {
	t.Helper()
	p := core.DefaultPolicy()
	p.AutoCreatePodTechnicians = true
	change(&p)
	require.NoError(t, f.Engine.PutPolicy(t.Context(), f.A.Tenant.ID, "test", "", p))
	r := f.PodMember(t, f.A, f.integration.ID, f.halo.MemberProof(jamie))
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	return r.Cookie(t, "cs_pod")
}

func (f *haloFixture) podContext(t *testing.T, cookie *http.Cookie, ticketRef string) webtest.PodTicketContext {
	t.Helper()
	return f.PodContext(t, cookie, f.integration, "ticket="+ticketRef)
}

// TestHaloPodDefaultContact: a ticket without a user is about the main
// contact of its client's main site (GET /api/Client/{id}, GET
// /api/Site/{id}), who is then the default caller: no alternate-caller
// note asked for.
func TestHaloPodDefaultContact(t *testing.T) {
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newHaloFixture(t, dialect)
		f.halo.Seed([]psa.Company{acme}, []psa.Contact{alice, alix}, []psa.Ticket{ticket, bare})
		cookie := f.podSignIn(t, func(p *core.Policy) { p.NoteOnNonDefault, p.NoteRequired = true, true })

		pc := f.podContext(t, cookie, bare.Ref)
		assert.Nil(t, pc.Contact, "the site names no main contact")
		f.halo.SetDefaultContact(acme.Ref, alix.Ref)
		pc = f.podContext(t, cookie, bare.Ref)
		require.NotNil(t, pc.Contact, "the main contact of acme's main site")
		assert.Equal(t, "Alix", pc.Contact.FirstName)
		assert.Contains(t, pc.Notice, "default contact")
		r := f.PodDo(t, cookie, nil, http.MethodPost, "/api/v1/pod/"+f.integration.ID+"/verifications",
			map[string]string{"scope": pc.Scope, "contact_id": pc.Contact.ID, "method": "sms_code"})
		assert.Equal(t, http.StatusCreated, r.Status, "the default caller needs no note: %s", r.Body)

		pc = f.podContext(t, cookie, ticket.Ref)
		assert.Equal(t, "Alice", pc.Contact.FirstName, "a ticket's own user comes first")
		assert.Empty(t, f.halo.TakeViolations())
	})
}

// TestHaloPodCreatesUser: with the policy's contact-to-ticket on, a caller
// created from the tab of a ticket without a user is a new Halo user
// under the ticket's client and becomes the ticket's user (POST
// /api/Tickets with the id, user and the user's site); a ticket with a
// user keeps it.
func TestHaloPodCreatesUser(t *testing.T) {
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newHaloFixture(t, dialect)
		f.halo.Seed([]psa.Company{acme}, []psa.Contact{alice, alix}, []psa.Ticket{ticket, bare})
		cookie := f.podSignIn(t, func(p *core.Policy) { p.PodContactToTicket = true })
		create := func(scope string, body map[string]string) webtest.Response {
			return f.PodCreateContact(t, cookie, f.integration, scope, body)
		}

		pc := f.podContext(t, cookie, bare.Ref)
		require.Nil(t, pc.Contact)
		r := create(pc.Scope, map[string]string{"first_name": "Ola", "last_name": "Other", "email": "ola@acme-dental.example"})
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		assert.Equal(t, true, r.JSON(t)["ticket_contact"])
		ref := f.halo.TicketContact(bare.Ref)
		require.NotEmpty(t, ref, "the new user is the ticket's user in Halo")
		got, err := f.halo.NewClient(t, psa.Deps{}).GetContact(t.Context(), ref)
		require.NoError(t, err)
		assert.Equal(t, "Ola", got.FirstName)
		assert.Equal(t, acme.Ref, got.CompanyRef, "under the ticket's client")
		tk := f.halo.Tickets()[1]
		assert.Equal(t, bare.Summary, tk.Summary, "nothing else on the ticket changed")
		assert.Equal(t, "51001", tk.SiteRef, "the user's site")

		pc = f.podContext(t, cookie, ticket.Ref)
		r = create(pc.Scope, map[string]string{"first_name": "Pia", "phone": "(555) 010-0191"})
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		assert.Equal(t, false, r.JSON(t)["ticket_contact"])
		assert.Equal(t, alice.Ref, f.halo.TicketContact(ticket.Ref))
		assert.Empty(t, f.halo.TakeViolations())
	})
}
