package halo_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/web/webtest"
	"github.com/countersign/countersign/halo"
	"github.com/countersign/countersign/halo/halotest"
)

// The Halo integration through the host (core/web/webtest), as the
// ConnectWise and Kaseya BMS plugins' host tests do it: a tray's first
// ticket, an opt-in form's corrected number and its CRM note, and an
// on-call member copied from Halo's agents, each reaching the
// contract-checked fake Halo.

// haloFixture is a Countersign server with a Halo integration of tenant A
// on a fake Halo holding acme, alice, alix and alice's ticket.
type haloFixture struct {
	*webtest.Env
	halo        *halotest.Server
	integration core.Integration
}

func newHaloFixture(t *testing.T, dialect string) *haloFixture {
	t.Helper()
	srv := halotest.NewServer(t)
	srv.Seed([]psa.Company{acme}, []psa.Contact{alice, alix}, []psa.Ticket{ticket})
	srv.SetMember(api)
	f := &haloFixture{halo: srv}
	f.Env, f.integration = webtest.OpenPSA(t, dialect, halo.Descriptor(), psa.Deps{HTTPClient: srv.HTTPClient()}, "HaloPSA", srv.Config())
	return f
}

// mirrorAlice mirrors alice as a technician's search would.
func (f *haloFixture) mirrorAlice(t *testing.T) core.Contact {
	t.Helper()
	return f.MirrorPSAContact(t, f.integration, acme, alice)
}

// TestTrayFirstTicketHalo: a first ticket from the Windows tray on a
// computer of a Halo client, from an address Halo does not have but at
// the client's usual domain, reaches Halo after the confirmation click as
// a new user (POST /api/Users, under the client's main site) and a ticket
// for that user (POST /api/Tickets, with the user's site), both held to
// the contract and Halo's validation by the fake; the bound user's next
// ticket goes to that user at once.
func TestTrayFirstTicketHalo(t *testing.T) {
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newHaloFixture(t, dialect)
		ctx := t.Context()
		al := f.mirrorAlice(t) // gives Acme its usual domain
		const sid = "S-1-5-21-3623811015-3361044348-30300820-1301"
		dev := f.ActivateDevice(t, al.ClientID, "ACME-PC4", sid, `ACME\ddent`)

		res := f.SubmitTrayTicket(t, dev, sid, core.TrayTicket{FirstName: "Dana", LastName: "Dent", Email: "dana@acme-dental.example",
			Summary: "Scanner offline", Details: "Floor 2 scanner."})
		assert.Equal(t, "confirm", res.State)
		msg, token := f.EnrolmentMail(t)
		assert.Equal(t, "dana@acme-dental.example", msg.To)
		assert.Len(t, f.halo.Tickets(), 1, "nothing reaches Halo before the click")
		f.ConfirmEnrolment(t, token)
		f.Deliver(t) // the user
		f.Deliver(t) // then the ticket

		found, err := f.halo.NewClient(t, psa.Deps{}).FindContacts(ctx, acme.Ref, psa.ContactSearch{Email: "dana@acme-dental.example"})
		require.NoError(t, err)
		require.Len(t, found, 1, "the user is in Halo")
		assert.Equal(t, "Dana", found[0].FirstName)
		assert.Equal(t, "Dent", found[0].LastName)
		tickets := f.halo.Tickets()
		require.Len(t, tickets, 2, "one ticket reached Halo")
		tk := tickets[1]
		assert.Equal(t, "Scanner offline", tk.Summary)
		assert.Equal(t, acme.Ref, tk.CompanyRef)
		assert.Equal(t, found[0].Ref, tk.ContactRef)
		assert.Equal(t, "51001", tk.SiteRef, "the user's site: acme's main one")
		assert.Contains(t, tk.Details, "Floor 2 scanner.")
		assert.Equal(t, "New", tk.Status)

		res = f.SubmitTrayTicket(t, dev, sid, core.TrayTicket{Summary: "Printer jam"})
		assert.Equal(t, "logged", res.State)
		f.Deliver(t)
		tickets = f.halo.Tickets()
		require.Len(t, tickets, 3)
		assert.Equal(t, found[0].Ref, tickets[2].ContactRef, "the bound user's ticket is Dana's")
		assert.Empty(t, f.halo.TakeViolations())
	})
}

// TestOptInPhoneWriteBackHalo: with corrections allowed, the number an end
// user corrects on the SMS opt-in form replaces their mobile in Halo (POST
// /api/Users with the id and mobilenumber only: the other numbers stay),
// and the note that the form was sent is a CRM note on the user's client
// naming the user (POST /api/CRMNote), with the destination masked.
func TestOptInPhoneWriteBackHalo(t *testing.T) {
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newHaloFixture(t, dialect)
		al := f.mirrorAlice(t)
		admin := f.AdminClient(t)
		path := f.SendOptIn(t, admin, al.ID)

		f.AnswerOptIn(t, path, "+44 7700 900123")

		assert.Equal(t, []psa.Phone{{Number: "+447700900123", Label: "Mobile"}, {Number: "555.010.0143", Label: "Mobile 2"}, {Number: "555-010-0100", Label: "Phone"}},
			f.halo.ContactPhones(alice.Ref), "the mobile Halo had as (555) 010-0142 is replaced in place, the other numbers kept")
		notes := f.halo.CRMNotes()
		require.Len(t, notes, 1, "one CRM note that the form was sent")
		assert.Equal(t, acme.Ref, notes[0].CompanyRef)
		assert.Equal(t, alice.Ref, notes[0].ContactRef, "naming the user")
		assert.NotContains(t, notes[0].Note, alice.Emails[0].Address, "the destination is masked")
		assert.NotContains(t, notes[0].Note, "/o/", "never the end user's link")
		assert.Empty(t, f.halo.TakeViolations())
	})
}

// TestNotifyCopyHaloMember: an admin copies one of the MSP's Halo agents
// into an on-call group: the list holds the enabled ones from GET
// /api/Agent, without the API application's own agent; the copy has the
// agent's e-mail and SMS number, SMS off until the admin ticks it.
func TestNotifyCopyHaloMember(t *testing.T) {
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newHaloFixture(t, dialect)
		f.halo.SeedMembers([]psa.Member{
			{Ref: "31", Name: "Nina Night", Email: "Nina@MSP.example", Phone: "(555) 010-0108"},
			{Ref: "32", Name: "Oscar Former", Email: "oscar@msp.example"},
		}, "32")
		admin := f.AdminClient(t)
		gid := f.NewNotifyGroup(t, admin, "Desk")

		members, r := f.NotifyMembers(t, admin)
		require.Len(t, members, 1, "enabled technicians only, not the API agent: %s", r.Body)
		assert.Equal(t, map[string]any{"integration_id": f.integration.ID, "integration": "HaloPSA", "ref": "31", "name": "Nina Night",
			"email": "Nina@MSP.example", "phone": "(555) 010-0108"}, members[0])

		r = f.CopyNotifyMember(t, admin, gid, f.integration, "31")
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		u := r.JSON(t)
		assert.Equal(t, "Nina Night", u["name"])
		assert.Equal(t, "nina@msp.example", u["email"])
		assert.Equal(t, "+15550100108", u["sms"], "the agent's SMS number, in E.164")
		assert.Equal(t, true, u["by_email"])
		assert.Equal(t, false, u["by_sms"])
		assert.Equal(t, "psa:"+f.integration.ID+":31", u["source"])
		r = f.CopyNotifyMember(t, admin, gid, f.integration, "32")
		assert.Equal(t, http.StatusNotFound, r.Status, "a disabled agent is not copied")
		r = f.CopyNotifyMember(t, admin, gid, f.integration, api.Ref)
		assert.Equal(t, http.StatusNotFound, r.Status, "the API agent is not copied")
		assert.Empty(t, f.halo.TakeViolations())
	})
}
