package autotask_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/web/webtest"
)

// The Insight's ticket without a contact, through the host: the company's
// primary contact is its default caller, and a caller a technician
// creates from the Insight becomes the ticket's contact in Autotask.

// bare is a ticket of acme without a contact; dora is acme's receptionist.
var (
	bare = psa.Ticket{Ref: "3003", Summary: "Someone called", CompanyRef: acme.Ref}
	dora = psa.Contact{Ref: "2004", CompanyRef: acme.Ref, FirstName: "Dora", LastName: "Desk",
		Emails: []psa.Email{{Address: "dora@acme-dental.example"}}, Phones: []psa.Phone{{Number: "(555) 010-0144", Label: "Mobile"}}}
)

// podSignIn sets tenant A's policy (changed by change) and signs its
// technician in to the Insight as Autotask needs it: through Countersign's
// own pop-out sign-in and its handoff, Autotask proving no one. It
// returns the pod cookie.
func (f *atFixture) podSignIn(t *testing.T, change func(*core.Policy)) *http.Cookie {
	t.Helper()
	p := core.DefaultPolicy()
	change(&p)
	require.NoError(t, f.Engine.PutPolicy(t.Context(), f.A.Tenant.ID, "test", "", p))
	nonce := strings.Repeat("n0nce-", 4)
	r := f.API(t, f.Client(t), http.MethodPost, "/api/v1/login", map[string]string{
		"tenant": f.A.Tenant.Slug, "email": f.A.Tech.Email, "password": webtest.Password, "pod_nonce": nonce})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	token, _ := r.JSON(t)["handoff"].(string)
	require.NotEmpty(t, token)
	r = f.API(t, f.Client(t), http.MethodPost, "/api/v1/pod/session", map[string]string{"token": token, "nonce": nonce})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	return r.Cookie(t, "cs_pod")
}

func (f *atFixture) podContext(t *testing.T, cookie *http.Cookie, ticketRef string) webtest.PodTicketContext {
	t.Helper()
	return f.PodContext(t, cookie, f.integration, "entityid="+ticketRef)
}

// TestAutotaskPodDefaultContact: a ticket without a contact is about its
// company's primary contact (a Contacts query on primaryContact), who is
// then the default caller: no alternate-caller note asked for.
func TestAutotaskPodDefaultContact(t *testing.T) {
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newATFixture(t, dialect)
		f.at.Seed([]psa.Company{acme}, []psa.Contact{alice, bob, dora}, []psa.Ticket{ticket, bare})
		cookie := f.podSignIn(t, func(p *core.Policy) { p.NoteOnNonDefault, p.NoteRequired = true, true })

		pc := f.podContext(t, cookie, bare.Ref)
		assert.Nil(t, pc.Contact, "acme has no primary contact")
		f.at.SetDefaultContact(acme.Ref, dora.Ref)
		pc = f.podContext(t, cookie, bare.Ref)
		require.NotNil(t, pc.Contact, "acme's primary contact")
		assert.Equal(t, "Dora", pc.Contact.FirstName)
		assert.Contains(t, pc.Notice, "default contact")
		r := f.PodDo(t, cookie, nil, http.MethodPost, "/api/v1/pod/"+f.integration.ID+"/verifications",
			map[string]string{"scope": pc.Scope, "contact_id": pc.Contact.ID, "method": "sms_code"})
		assert.Equal(t, http.StatusCreated, r.Status, "the default caller needs no note: %s", r.Body)

		pc = f.podContext(t, cookie, ticket.Ref)
		assert.Equal(t, "Alice", pc.Contact.FirstName, "a ticket's own contact comes first")
		assert.Empty(t, f.at.TakeViolations())
	})
}

// TestAutotaskPodCreatesContact: with the policy's contact-to-ticket on,
// a caller created from the Insight of a ticket without a contact is a new
// Autotask contact of the ticket's company and becomes the ticket's
// contact (PATCH V1.0/Tickets with the id and contactID only); a ticket
// with a contact keeps it.
func TestAutotaskPodCreatesContact(t *testing.T) {
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newATFixture(t, dialect)
		f.at.Seed([]psa.Company{acme}, []psa.Contact{alice, bob}, []psa.Ticket{ticket, bare})
		cookie := f.podSignIn(t, func(p *core.Policy) { p.PodContactToTicket = true })
		create := func(scope string, body map[string]string) webtest.Response {
			return f.PodCreateContact(t, cookie, f.integration, scope, body)
		}

		pc := f.podContext(t, cookie, bare.Ref)
		require.Nil(t, pc.Contact)
		r := create(pc.Scope, map[string]string{"first_name": "Ola", "last_name": "Other", "email": "ola@acme-dental.example"})
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		assert.Equal(t, true, r.JSON(t)["ticket_contact"])
		ref := f.at.TicketContact(bare.Ref)
		require.NotEmpty(t, ref, "the new contact is the ticket's contact in Autotask")
		got, err := f.at.NewClient(t, psa.Deps{}).GetContact(t.Context(), ref)
		require.NoError(t, err)
		assert.Equal(t, "Ola", got.FirstName)
		assert.Equal(t, acme.Ref, got.CompanyRef, "under the ticket's company")
		tk := f.at.Tickets()[1]
		assert.Equal(t, bare.Summary, tk.Summary, "nothing else on the ticket changed")

		pc = f.podContext(t, cookie, ticket.Ref)
		r = create(pc.Scope, map[string]string{"first_name": "Pia", "last_name": "Phone", "phone": "(555) 010-0191"})
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		assert.Equal(t, false, r.JSON(t)["ticket_contact"])
		assert.Equal(t, alice.Ref, f.at.TicketContact(ticket.Ref))
		assert.Empty(t, f.at.TakeViolations())
	})
}
