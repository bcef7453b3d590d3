package connectwise_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/connectwise"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/web/webtest"
)

var confirmLinkRE = regexp.MustCompile(`/e/([A-Za-z0-9_-]+)`)

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
		tenant := f.A.Tenant.ID
		// Pat, as a pod mirrored them, gives Fabrikam its usual domain.
		pat, err := f.Engine.MirrorContact(ctx, tenant, core.PSAContact{Kind: connectwise.ID, IntegrationName: "ConnectWise",
			CompanyRef: cwCompany.Ref, CompanyName: cwCompany.Name, Contact: core.NewContact{PSARef: cwPat.Ref, FirstName: "Pat", LastName: "Pod",
				Emails: []core.NewDestination{{Value: "pat@fabrikam.example", Default: true}}}})
		require.NoError(t, err)
		key, err := f.Engine.ActivationKey(ctx, tenant, "test", pat.ClientID)
		require.NoError(t, err)
		const sid = "S-1-5-21-3623811015-3361044348-30300820-1201"
		dev, _, err := f.Engine.Activate(ctx, key, core.DeviceReport{Name: "FABRIKAM-PC9", OS: "Windows 11 Pro",
			Users: []core.DeviceUser{{SID: sid, Account: `FABRIKAM\ddent`, LoggedOn: true}}})
		require.NoError(t, err)
		form := func() string {
			t.Helper()
			link, _, err := f.Engine.OpenTrayForm(ctx, dev, sid, core.TrayFormTicket)
			require.NoError(t, err)
			_, token, ok := strings.Cut(link, "/t/")
			require.True(t, ok, link)
			return token
		}

		res, err := f.Engine.SubmitTrayForm(ctx, form(), core.TrayTicket{FirstName: "Dana", LastName: "Dent", Email: "dana@fabrikam.example",
			Summary: "Scanner offline", Details: "Floor 2 scanner."})
		require.NoError(t, err)
		assert.Equal(t, "confirm", res.State)
		f.Deliver(t)
		msg := f.Mail.Last(t)
		assert.Equal(t, "dana@fabrikam.example", msg.To)
		g := confirmLinkRE.FindStringSubmatch(msg.Text)
		require.NotNil(t, g, msg.Text)
		before := len(f.cw.Tickets())
		_, err = f.Engine.ConfirmEnrolment(ctx, g[1])
		require.NoError(t, err)
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

		res, err = f.Engine.SubmitTrayForm(ctx, form(), core.TrayTicket{Summary: "Printer jam"})
		require.NoError(t, err)
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
		pat, err := f.Engine.MirrorContact(ctx, tenant, core.PSAContact{Kind: connectwise.ID, IntegrationName: "ConnectWise",
			CompanyRef: cwCompany.Ref, CompanyName: cwCompany.Name, Contact: core.NewContact{PSARef: cwPat.Ref, FirstName: "Pat", LastName: "Pod",
				Emails: []core.NewDestination{{Value: "pat@fabrikam.example", Default: true}}}})
		require.NoError(t, err)
		key, err := f.Engine.ActivationKey(ctx, tenant, "test", pat.ClientID)
		require.NoError(t, err)
		const sid = "S-1-5-21-3623811015-3361044348-30300820-1202"
		dev, _, err := f.Engine.Activate(ctx, key, core.DeviceReport{Name: "FABRIKAM-PC10", OS: "Windows 11 Pro",
			Users: []core.DeviceUser{{SID: sid, Account: `FABRIKAM\ddent`, LoggedOn: true}}})
		require.NoError(t, err)
		link, _, err := f.Engine.OpenTrayForm(ctx, dev, sid, core.TrayFormTicket)
		require.NoError(t, err)
		_, token, ok := strings.Cut(link, "/t/")
		require.True(t, ok, link)
		_, err = f.Engine.SubmitTrayForm(ctx, token, core.TrayTicket{FirstName: "Dana", LastName: "Dent", Email: "dana@fabrikam.example",
			Summary: "Scanner offline", Details: "Floor 2 scanner."})
		require.NoError(t, err)
		f.Deliver(t)
		g := confirmLinkRE.FindStringSubmatch(f.Mail.Last(t).Text)
		require.NotNil(t, g)
		before := len(f.cw.Tickets())
		_, err = f.Engine.ConfirmEnrolment(ctx, g[1])
		require.NoError(t, err)

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
