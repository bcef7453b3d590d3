package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// confirm opens the confirmation link token and confirms it as a person
// does (the page's nonce and the number it shows), and returns the answer.
func (f *trayFixture) confirm(t *testing.T, token string) response {
	t.Helper()
	page := f.e.do(t, http.DefaultClient, http.MethodGet, "/e/"+token, "", nil, nil)
	require.Equal(t, http.StatusOK, page.status, "%s", page.body)
	return f.e.form(t, http.DefaultClient, "/e/"+token, url.Values{"nonce": {nonceFrom(t, page.body)}, "presence": {presenceFrom(t, page.body)}}, nil)
}

func danaTicket(summary string) map[string]string {
	return map[string]string{"first_name": "Dana", "last_name": "Dent", "email": "Dana@Fabrikam.example", "summary": summary, "details": "The scanner on floor 2 is offline."}
}

// psaContactsAt returns the PSA's contacts with address email.
func psaContactsAt(s interface{ Contacts() []psa.Contact }, email string) []psa.Contact {
	var out []psa.Contact
	for _, c := range s.Contacts() {
		for _, m := range c.Emails {
			if m.Address == email {
				out = append(out, c)
			}
		}
	}
	return out
}

// TestTrayTicketCreatesContact: an unbound user whose address no contact
// has, but at the client's usual domain, is created as a contact in the
// PSA only after the confirmation e-mail's click, bound to it, and the
// ticket is logged for that new contact; a ticket step the PSA fails is
// retried without a second contact. An address at another domain is
// refused, audited, and binds nothing.
func TestTrayTicketCreatesContact(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newTrayFixture(t, st)
		e := f.e
		ctx := t.Context()
		psaTickets := func() []psa.Ticket { return f.pf.psa.Tickets()[1:] } // the seeded one left out
		contactsBefore := len(f.pf.psa.Contacts())

		r := f.logTicket(t, testSID, f.cred, map[string]string{"first_name": "Dana", "last_name": "Dent", "email": "dana@fabrikam-mail.example", "summary": "Scanner"})
		assert.Equal(t, http.StatusUnprocessableEntity, r.status, "another domain than the client's: %s", r.body)
		assert.Contains(t, auditActions(t, e, e.a.tenant.ID), core.AuditEnrolmentRefused)

		r = f.logTicket(t, testSID, f.cred, danaTicket("Scanner offline"))
		require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "We sent an e-mail to dana@fabrikam.example")
		token := f.confirmation(t)
		msg, _ := e.mail.last(t)
		assert.Equal(t, "dana@fabrikam.example", msg.To)
		e.deliver(t)
		assert.Len(t, f.pf.psa.Contacts(), contactsBefore, "no contact in the PSA before the click")
		assert.Empty(t, psaTickets(), "no ticket before the click")
		status := e.agentDo(t, http.MethodGet, "/agent/v1/users/"+testSID, f.cred, nil)
		assert.Equal(t, false, status.JSON(t)["bound"])

		r = f.confirm(t, token)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "Your ticket is on its way")
		status = e.agentDo(t, http.MethodGet, "/agent/v1/users/"+testSID, f.cred, nil)
		require.Equal(t, true, status.JSON(t)["bound"], "%s", status.body)
		local, err := e.eng.SearchContacts(ctx, e.a.tenant.ID, core.ContactQuery{ClientID: f.client.ID, Email: "dana@fabrikam.example"})
		require.NoError(t, err)
		require.Len(t, local, 1, "a local contact for Dana")
		assert.Equal(t, "Dana Dent", local[0].Name())
		assert.Empty(t, local[0].PSARef, "not in the PSA yet")

		// The contact goes first; the ticket follows once the PSA has it.
		// The PSA is down for the ticket's first try.
		e.deliver(t)
		created := psaContactsAt(f.pf.psa, "dana@fabrikam.example")
		require.Len(t, created, 1, "the contact is created in the PSA")
		assert.Equal(t, "co1", created[0].CompanyRef)
		assert.Equal(t, "Dana", created[0].FirstName)
		assert.Equal(t, "Dent", created[0].LastName)
		assert.Empty(t, psaTickets(), "the ticket is a second step")
		f.pf.psa.FailNext(1, http.StatusServiceUnavailable, "")
		e.deliver(t)
		assert.Empty(t, psaTickets(), "the PSA refused the ticket's first try")
		e.clk.Add(time.Minute)
		e.deliver(t)
		e.clk.Add(time.Minute)
		e.deliver(t)
		tickets := psaTickets()
		require.Len(t, tickets, 1, "the ticket reaches the PSA once")
		assert.Equal(t, "Scanner offline", tickets[0].Summary)
		assert.Equal(t, "co1", tickets[0].CompanyRef)
		assert.Equal(t, created[0].Ref, tickets[0].ContactRef, "for the new contact")
		assert.Contains(t, f.pf.psa.TicketDescription(tickets[0].Ref), "The scanner on floor 2 is offline.")
		assert.Len(t, psaContactsAt(f.pf.psa, "dana@fabrikam.example"), 1, "the retry made no second contact")

		dana, err := e.eng.Contact(ctx, e.a.tenant.ID, local[0].ID)
		require.NoError(t, err)
		assert.Equal(t, created[0].Ref, dana.PSARef, "the local contact is the PSA contact's mirror")
		b, c, err := e.eng.UserBinding(ctx, f.device(t), testSID)
		require.NoError(t, err)
		assert.Equal(t, dana.ID, c.ID)
		assert.Equal(t, core.BindFirstTicket, b.How)

		acts := auditActions(t, e, e.a.tenant.ID)
		for _, a := range []string{core.AuditEnrolmentRequested, core.AuditEnrolmentConfirmed, core.AuditBindingConfirmed,
			core.AuditContactCreated, core.AuditPSAContactQueued, core.AuditPSAContactCreated, core.AuditTicketQueued} {
			assert.Contains(t, acts, a)
		}

		// The next ticket of the now bound user goes straight to Dana.
		r = f.logTicket(t, testSID, f.cred, map[string]string{"summary": "Printer jam"})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		e.deliver(t)
		tickets = psaTickets()
		require.Len(t, tickets, 2)
		assert.Equal(t, created[0].Ref, tickets[1].ContactRef)
	})
}

// TestTrayTicketContactNotCreatedTwice: a contact attempt whose answer was
// lost (the PSA created the contact, the outbox never heard) is retried by
// looking the address up first, so the PSA ends with one contact and the
// ticket is logged for it.
func TestTrayTicketContactNotCreatedTwice(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newTrayFixture(t, st)
		e := f.e
		ctx := t.Context()
		r := f.logTicket(t, testSID, f.cred, danaTicket("Scanner offline"))
		require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
		r = f.confirm(t, f.confirmation(t))
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)

		// What the lost attempt did in the PSA.
		in, err := e.eng.Integration(ctx, e.a.tenant.ID, f.pf.integration.ID)
		require.NoError(t, err)
		cl, err := e.psa.Get(in)
		require.NoError(t, err)
		lost, err := cl.(psa.ContactCreator).CreateContact(ctx, psa.Contact{CompanyRef: "co1", FirstName: "Dana", LastName: "Dent",
			Emails: []psa.Email{{Address: "dana@fabrikam.example", Default: true}}})
		require.NoError(t, err)

		e.deliver(t)
		e.deliver(t)
		assert.Len(t, psaContactsAt(f.pf.psa, "dana@fabrikam.example"), 1, "no second contact")
		tickets := f.pf.psa.Tickets()[1:]
		require.Len(t, tickets, 1)
		assert.Equal(t, lost.Ref, tickets[0].ContactRef)
		local, err := e.eng.SearchContacts(ctx, e.a.tenant.ID, core.ContactQuery{ClientID: f.client.ID, Email: "dana@fabrikam.example"})
		require.NoError(t, err)
		require.Len(t, local, 1)
		assert.Equal(t, lost.Ref, local[0].PSARef)
	})
}

// device returns the fixture's device.
func (f *trayFixture) device(t *testing.T) core.Device {
	t.Helper()
	d, err := f.e.eng.AuthenticateDevice(t.Context(), f.cred)
	require.NoError(t, err)
	return d
}

// TestTrayTicketUsualDomainTie: a client whose contacts are as often at one
// domain as at another has no usual domain, so an unknown address at
// either is refused (and audited) rather than made a contact; one more
// contact at a domain makes it the usual one.
func TestTrayTicketUsualDomainTie(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newTrayFixture(t, st)
		e := f.e
		add := func(first, email string) {
			t.Helper()
			_, err := e.eng.CreateContact(t.Context(), e.a.tenant.ID, "test", "manual", core.NewContact{ClientID: f.client.ID, FirstName: first,
				LastName: "Tie", Emails: []core.NewDestination{{Value: email}}})
			require.NoError(t, err)
		}
		add("Sam", "sam@fabrikam-group.example") // Pat is at fabrikam.example: one each
		r := f.logTicket(t, testSID, f.cred, danaTicket("Scanner offline"))
		assert.Equal(t, http.StatusUnprocessableEntity, r.status, "a tie names no usual domain: %s", r.body)
		assert.Contains(t, string(r.body), "not an address your IT provider has for Fabrikam")
		assert.Contains(t, auditActions(t, e, e.a.tenant.ID), core.AuditEnrolmentRefused)

		add("Max", "max@fabrikam.example")
		r = f.logTicket(t, testSID, f.cred, danaTicket("Scanner offline"))
		assert.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
	})
}

// TestTrayTicketPublicMailDomainCreatesNoContact: a client whose contacts
// mostly use a public mailbox (gmail.com here) has no usual domain, since
// anyone can have an address there: a first ticket from a new address at
// it is refused and audited, no confirmation e-mail is sent, and no
// contact is made — an address a contact already has still binds by
// confirmation, as for any domain.
func TestTrayTicketPublicMailDomainCreatesNoContact(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newTrayFixture(t, st)
		e := f.e
		ctx := t.Context()
		for i, name := range []string{"Gail", "Gus"} {
			_, err := e.eng.CreateContact(ctx, e.a.tenant.ID, "test", "psa", core.NewContact{ClientID: f.client.ID, FirstName: name, LastName: "Home",
				PSARef: fmt.Sprintf("g%d", i), Emails: []core.NewDestination{{Value: strings.ToLower(name) + ".home@GMail.com", Default: true}}})
			require.NoError(t, err)
		}
		contactsBefore := len(f.pf.psa.Contacts())

		r := f.logTicket(t, testSID, f.cred, map[string]string{"first_name": "Mallory", "last_name": "Mask", "email": "mallory@gmail.com", "summary": "Reset my password"})
		assert.Equal(t, http.StatusUnprocessableEntity, r.status, "a new address at a public mailbox domain: %s", r.body)
		assert.Contains(t, string(r.body), "not an address your IT provider has for Fabrikam")
		assert.Contains(t, auditActions(t, e, e.a.tenant.ID), core.AuditEnrolmentRefused)
		e.deliver(t)
		assert.Empty(t, e.mail.Messages(), "no confirmation e-mail")
		assert.Len(t, f.pf.psa.Contacts(), contactsBefore, "no contact made")

		r = f.logTicket(t, testSID, f.cred, map[string]string{"first_name": "Gail", "last_name": "Home", "email": "gail.home@gmail.com", "summary": "Printer"})
		assert.Equal(t, http.StatusAccepted, r.status, "an address a contact has binds by confirmation: %s", r.body)
	})
}
