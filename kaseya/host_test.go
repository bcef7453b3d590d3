package kaseya_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/web/webtest"
	"github.com/countersign/countersign/kaseya"
	"github.com/countersign/countersign/kaseya/kaseyatest"
)

// The Kaseya BMS integration through the host (core/web/webtest), as the
// ConnectWise plugin's host tests do it: a tray's first ticket, an opt-in
// form's corrected number and an on-call member copied from BMS, each
// reaching the contract-checked fake BMS.

// bmsFixture is a Countersign server with a Kaseya BMS integration of
// tenant A on a fake BMS holding acme, alice and her ticket.
type bmsFixture struct {
	*webtest.Env
	bms         *kaseyatest.Server
	integration core.Integration
}

func newBMSFixture(t *testing.T, dialect string) *bmsFixture {
	t.Helper()
	srv := kaseyatest.NewServer(t)
	srv.Seed([]psa.Company{acme}, []psa.Contact{alice}, []psa.Ticket{ticket})
	srv.SetMember(psa.Member{Ref: "77", Name: "Countersign Integration", Email: kaseyatest.Username})
	f := &bmsFixture{bms: srv}
	f.Env, f.integration = webtest.OpenPSA(t, dialect, kaseya.Descriptor(), psa.Deps{HTTPClient: srv.HTTPClient()}, "Kaseya BMS", srv.Config())
	return f
}

// mirrorAlice mirrors alice as a technician's search would.
func (f *bmsFixture) mirrorAlice(t *testing.T) core.Contact {
	t.Helper()
	return f.MirrorPSAContact(t, f.integration, acme, alice)
}

// TestTrayFirstTicketKaseya: a first ticket from the Windows tray on a
// computer of a BMS account, from an address BMS does not have but at the
// account's usual domain, reaches BMS after the confirmation click as a
// new contact (POST /v2/crm/contacts/summary) and a ticket for it (POST
// /v2/servicedesk/tickets, with every field BMS requires), both held to
// the contract by the fake; the bound user's next ticket goes to that
// contact at once.
func TestTrayFirstTicketKaseya(t *testing.T) {
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newBMSFixture(t, dialect)
		ctx := t.Context()
		al := f.mirrorAlice(t) // gives Acme its usual domain
		const sid = "S-1-5-21-3623811015-3361044348-30300820-1301"
		dev := f.ActivateDevice(t, al.ClientID, "ACME-PC4", sid, `ACME\ddent`)

		res := f.SubmitTrayTicket(t, dev, sid, core.TrayTicket{FirstName: "Dana", LastName: "Dent", Email: "dana@acme-dental.example",
			Summary: "Scanner offline", Details: "Floor 2 scanner."})
		assert.Equal(t, "confirm", res.State)
		msg, token := f.EnrolmentMail(t)
		assert.Equal(t, "dana@acme-dental.example", msg.To)
		assert.Empty(t, f.bms.Tickets(), "nothing reaches BMS before the click")
		f.ConfirmEnrolment(t, token)
		f.Deliver(t) // the contact
		f.Deliver(t) // then its ticket

		found, err := f.bms.NewClient(t, psa.Deps{}).FindContacts(ctx, acme.Ref, psa.ContactSearch{Email: "dana@acme-dental.example"})
		require.NoError(t, err)
		require.Len(t, found, 1, "the contact is in BMS")
		assert.Equal(t, "Dana", found[0].FirstName)
		assert.Equal(t, "Dent", found[0].LastName)
		tickets := f.bms.Tickets()
		require.Len(t, tickets, 1, "one ticket reached BMS")
		assert.Equal(t, "Scanner offline", tickets[0].Summary)
		assert.Equal(t, acme.Ref, tickets[0].CompanyRef)
		assert.Equal(t, found[0].Ref, tickets[0].ContactRef)
		assert.Contains(t, tickets[0].Details, "Floor 2 scanner.")
		assert.Equal(t, "New", tickets[0].Status)

		res = f.SubmitTrayTicket(t, dev, sid, core.TrayTicket{Summary: "Printer jam"})
		assert.Equal(t, "logged", res.State)
		f.Deliver(t)
		tickets = f.bms.Tickets()
		require.Len(t, tickets, 2)
		assert.Equal(t, found[0].Ref, tickets[1].ContactRef, "the bound user's ticket is Dana's")
		assert.Empty(t, f.bms.TakeViolations())
	})
}

// TestOptInPhoneWriteBackKaseya: with corrections allowed, the number an
// end user corrects on the SMS opt-in form replaces their mobile in BMS
// (PATCH /v2/crm/contacts/{contactId}/phones, in place, type kept). The
// note that the form was sent cannot be written: BMS has no contact notes,
// so that outbox item fails for good with the reason, and BMS gets no
// request for it.
func TestOptInPhoneWriteBackKaseya(t *testing.T) {
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newBMSFixture(t, dialect)
		al := f.mirrorAlice(t)
		admin := f.AdminClient(t)
		path := f.SendOptIn(t, admin, al.ID)
		before := f.bms.Requests()

		f.AnswerOptIn(t, path, "+44 7700 900123")

		assert.Equal(t, []psa.Phone{{Number: "+447700900123", Label: "Mobile", Default: true}}, f.bms.ContactPhones(alice.Ref),
			"the mobile BMS had as (555) 010-0142 is replaced in place")
		assert.Greater(t, f.bms.Requests(), before)
		assert.Contains(t, f.Logs.String(), "kaseya integrations cannot write contact notes", "the note's item fails for good, saying why")
		assert.Empty(t, f.bms.TakeViolations())
	})
}

// TestNotifyCopyKaseyaMember: an admin copies one of the MSP's BMS
// employees into an on-call group: the list holds the active ones, from
// GET /v2/hr/employees/searchselect; the copy has the employee's e-mail
// and no phone, which BMS's list does not carry.
func TestNotifyCopyKaseyaMember(t *testing.T) {
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newBMSFixture(t, dialect)
		f.bms.SeedMembers([]psa.Member{
			{Ref: "31", Identifier: "nnight", Name: "Nina Night", Email: "Nina@MSP.example"},
			{Ref: "32", Identifier: "oformer", Name: "Oscar Former", Email: "oscar@msp.example"},
		}, "32")
		admin := f.AdminClient(t)
		gid := f.NewNotifyGroup(t, admin, "Desk")

		members, r := f.NotifyMembers(t, admin)
		require.Len(t, members, 1, "active employees only: %s", r.Body)
		assert.Equal(t, map[string]any{"integration_id": f.integration.ID, "integration": "Kaseya BMS", "ref": "31", "name": "Nina Night",
			"email": "Nina@MSP.example"}, members[0], "no phone: BMS lists none")

		r = f.CopyNotifyMember(t, admin, gid, f.integration, "31")
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		u := r.JSON(t)
		assert.Equal(t, "Nina Night", u["name"])
		assert.Equal(t, "nina@msp.example", u["email"])
		assert.Empty(t, u["sms"], "BMS lists no phone for employees")
		assert.Equal(t, true, u["by_email"])
		assert.Equal(t, "psa:"+f.integration.ID+":31", u["source"])
		r = f.CopyNotifyMember(t, admin, gid, f.integration, "32")
		assert.Equal(t, http.StatusNotFound, r.Status, "an inactive employee is not copied")
		assert.Empty(t, f.bms.TakeViolations())
	})
}
