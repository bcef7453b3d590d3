package connectwise_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/web/webtest"
)

// patMirror is pat as a pod mirrors them: by their e-mail address, which
// gives Fabrikam its usual domain.
var patMirror = psa.Contact{Ref: cwPat.Ref, FirstName: "Pat", LastName: "Pod", Emails: []psa.Email{{Address: "pat@fabrikam.example"}}}

// TestTrayFirstTicketConnectWise: a first ticket from the Windows agent's
// tray on a computer of a ConnectWise company, from an address ConnectWise
// does not have but at the company's usual domain, reaches ConnectWise
// after the confirmation click as a new contact (POST /company/contacts)
// and a service ticket for it (POST /service/tickets), both held to the
// contract by the fake; the bound user's next ticket goes to that contact
// at once.
func TestTrayFirstTicketConnectWise(t *testing.T) {
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newCWFixture(t, dialect)
		ctx := t.Context()
		pat := f.MirrorPSAContact(t, f.integration, cwCompany, patMirror)
		const sid = "S-1-5-21-3623811015-3361044348-30300820-1201"
		dev := f.ActivateDevice(t, pat.ClientID, "FABRIKAM-PC9", sid, `FABRIKAM\ddent`)

		res := f.SubmitTrayTicket(t, dev, sid, core.TrayTicket{FirstName: "Dana", LastName: "Dent", Email: "dana@fabrikam.example",
			Summary: "Scanner offline", Details: "Floor 2 scanner."})
		assert.Equal(t, "confirm", res.State)
		msg, token := f.EnrolmentMail(t)
		assert.Equal(t, "dana@fabrikam.example", msg.To)
		before := len(f.cw.Tickets())
		f.ConfirmEnrolment(t, token)
		f.Deliver(t) // the contact
		f.Deliver(t) // then its ticket

		found, err := f.cw.NewClient(t, psa.Deps{}).FindContacts(ctx, cwCompany.Ref, psa.ContactSearch{Email: "dana@fabrikam.example"})
		require.NoError(t, err)
		require.Len(t, found, 1, "the contact is in ConnectWise")
		assert.Equal(t, "Dana", found[0].FirstName)
		assert.Equal(t, "Dent", found[0].LastName)
		tickets := f.cw.Tickets()[before:]
		require.Len(t, tickets, 1, "one ticket reached ConnectWise")
		assert.Equal(t, "Scanner offline", tickets[0].Summary)
		assert.Equal(t, cwCompany.Ref, tickets[0].CompanyRef)
		assert.Equal(t, found[0].Ref, tickets[0].ContactRef)
		assert.Contains(t, tickets[0].Description, "Floor 2 scanner.")

		res = f.SubmitTrayTicket(t, dev, sid, core.TrayTicket{Summary: "Printer jam"})
		assert.Equal(t, "logged", res.State)
		f.Deliver(t)
		tickets = f.cw.Tickets()[before:]
		require.Len(t, tickets, 2)
		assert.Equal(t, found[0].Ref, tickets[1].ContactRef, "the bound user's ticket is Dana's")
		assert.Empty(t, f.cw.TakeViolations())
	})
}

// TestTrayFirstTicketConnectWiseLostAnswer: the contact step's answer was
// lost — ConnectWise created Dana, the outbox never heard — so the retried
// send finds Dana by her address (GET /company/contacts) and makes no
// second contact; the ticket is logged for that contact, and the local
// contact becomes its mirror.
func TestTrayFirstTicketConnectWiseLostAnswer(t *testing.T) {
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newCWFixture(t, dialect)
		ctx := t.Context()
		tenant := f.A.Tenant.ID
		pat := f.MirrorPSAContact(t, f.integration, cwCompany, patMirror)
		const sid = "S-1-5-21-3623811015-3361044348-30300820-1202"
		dev := f.ActivateDevice(t, pat.ClientID, "FABRIKAM-PC10", sid, `FABRIKAM\ddent`)
		f.SubmitTrayTicket(t, dev, sid, core.TrayTicket{FirstName: "Dana", LastName: "Dent", Email: "dana@fabrikam.example",
			Summary: "Scanner offline", Details: "Floor 2 scanner."})
		_, token := f.EnrolmentMail(t)
		before := len(f.cw.Tickets())
		f.ConfirmEnrolment(t, token)

		// What the attempt whose answer was lost did in ConnectWise.
		cl := f.cw.NewClient(t, psa.Deps{})
		lost, err := cl.CreateContact(ctx, psa.Contact{CompanyRef: cwCompany.Ref, FirstName: "Dana", LastName: "Dent",
			Emails: []psa.Email{{Address: "dana@fabrikam.example", Default: true}}})
		require.NoError(t, err)

		f.Deliver(t) // the contact step, sent again
		f.Deliver(t) // then the ticket
		found, err := cl.FindContacts(ctx, cwCompany.Ref, psa.ContactSearch{Email: "dana@fabrikam.example"})
		require.NoError(t, err)
		require.Len(t, found, 1, "no second contact in ConnectWise")
		assert.Equal(t, lost.Ref, found[0].Ref)
		posts := 0
		for _, r := range f.cw.Log() {
			if r.Route == "POST /company/contacts" {
				posts++
			}
		}
		assert.Equal(t, 1, posts, "only the lost attempt created a contact")
		tickets := f.cw.Tickets()[before:]
		require.Len(t, tickets, 1)
		assert.Equal(t, lost.Ref, tickets[0].ContactRef, "the ticket is the found contact's")
		local, err := f.Engine.SearchContacts(ctx, tenant, core.ContactQuery{ClientID: pat.ClientID, Email: "dana@fabrikam.example"})
		require.NoError(t, err)
		require.Len(t, local, 1)
		assert.Equal(t, lost.Ref, local[0].PSARef)
		b, c, err := f.Engine.UserBinding(ctx, dev, sid)
		require.NoError(t, err)
		assert.Equal(t, local[0].ID, c.ID)
		assert.Equal(t, core.BindFirstTicket, b.How)
		assert.Empty(t, f.cw.TakeViolations())
	})
}
