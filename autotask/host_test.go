package autotask_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/autotask"
	"github.com/countersign/countersign/autotask/autotasktest"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/web/webtest"
)

// The Autotask integration through the host (core/web/webtest), as the
// Kaseya BMS plugin's host tests do it: a tray's first ticket, an opt-in
// form's corrected number and its note, and an on-call member copied from
// Autotask, each reaching the contract-checked fake Autotask.

// atFixture is a Countersign server with an Autotask integration of
// tenant A on a fake Autotask holding acme, alice, bob and alice's ticket.
type atFixture struct {
	*webtest.Env
	at          *autotasktest.Server
	integration core.Integration
}

func newATFixture(t *testing.T, dialect string) *atFixture {
	t.Helper()
	srv := autotasktest.NewServer(t)
	srv.Seed([]psa.Company{acme}, []psa.Contact{alice, bob}, []psa.Ticket{ticket})
	f := &atFixture{at: srv}
	f.Env, f.integration = webtest.OpenPSA(t, dialect, autotask.Descriptor(), psa.Deps{HTTPClient: srv.HTTPClient()}, "Autotask", srv.Config())
	return f
}

// mirrorAlice mirrors alice as a technician's search would.
func (f *atFixture) mirrorAlice(t *testing.T) core.Contact {
	t.Helper()
	return f.MirrorPSAContact(t, f.integration, acme, alice)
}

// TestTrayFirstTicketAutotask: a first ticket from the Windows tray on a
// computer of an Autotask company, from an address Autotask does not have
// but at the company's usual domain, reaches Autotask after the
// confirmation click as a new contact (POST V1.0/Companies/{id}/Contacts)
// and a ticket for it (POST V1.0/Tickets, with the status, priority and
// queue Autotask requires), both held to the contract by the fake; the
// bound user's next ticket goes to that contact at once.
func TestTrayFirstTicketAutotask(t *testing.T) {
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newATFixture(t, dialect)
		ctx := t.Context()
		al := f.mirrorAlice(t) // gives Acme its usual domain
		const sid = "S-1-5-21-3623811015-3361044348-30300820-1301"
		dev := f.ActivateDevice(t, al.ClientID, "ACME-PC4", sid, `ACME\ddent`)
		seeded := len(f.at.Tickets())

		res := f.SubmitTrayTicket(t, dev, sid, core.TrayTicket{FirstName: "Dana", LastName: "Dent", Email: "dana@acme-dental.example",
			Summary: "Scanner offline", Details: "Floor 2 scanner."})
		assert.Equal(t, "confirm", res.State)
		msg, token := f.EnrolmentMail(t)
		assert.Equal(t, "dana@acme-dental.example", msg.To)
		assert.Len(t, f.at.Tickets(), seeded, "nothing reaches Autotask before the click")
		f.ConfirmEnrolment(t, token)
		f.Deliver(t) // the contact
		f.Deliver(t) // then its ticket

		found, err := f.at.NewClient(t, psa.Deps{}).FindContacts(ctx, acme.Ref, psa.ContactSearch{Email: "dana@acme-dental.example"})
		require.NoError(t, err)
		require.Len(t, found, 1, "the contact is in Autotask")
		assert.Equal(t, "Dana", found[0].FirstName)
		assert.Equal(t, "Dent", found[0].LastName)
		tickets := f.at.Tickets()
		require.Len(t, tickets, seeded+1, "one ticket reached Autotask")
		tk := tickets[seeded]
		assert.Equal(t, "Scanner offline", tk.Summary)
		assert.Equal(t, acme.Ref, tk.CompanyRef)
		assert.Equal(t, found[0].Ref, tk.ContactRef)
		assert.Contains(t, tk.Description, "Floor 2 scanner.")
		assert.Equal(t, autotasktest.TicketStatusNew, tk.Status)
		assert.Equal(t, autotasktest.TicketPriorityMedium, tk.Priority)
		assert.Equal(t, autotasktest.QueueLevelI, tk.QueueID)

		res = f.SubmitTrayTicket(t, dev, sid, core.TrayTicket{Summary: "Printer jam"})
		assert.Equal(t, "logged", res.State)
		f.Deliver(t)
		tickets = f.at.Tickets()
		require.Len(t, tickets, seeded+2)
		assert.Equal(t, found[0].Ref, tickets[seeded+1].ContactRef, "the bound user's ticket is Dana's")
		assert.Empty(t, f.at.TakeViolations())
	})
}

// TestOptInPhoneWriteBackAutotask: with corrections allowed, the number an
// end user corrects on the SMS opt-in form replaces their mobile in
// Autotask (PATCH V1.0/Companies/{id}/Contacts, the mobilePhone slot that
// held "(555) 010-0142"), and the note that the form was sent is written
// as a company note naming the contact (POST V1.0/Companies/{id}/Notes).
func TestOptInPhoneWriteBackAutotask(t *testing.T) {
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newATFixture(t, dialect)
		al := f.mirrorAlice(t)
		admin := f.AdminClient(t)
		path := f.SendOptIn(t, admin, al.ID)
		notes := f.at.ContactNotes(alice.Ref)
		require.Len(t, notes, 1, "the note that the form was sent")
		assert.NotEmpty(t, strings.TrimSpace(notes[0]))
		n := f.at.CompanyNotes()[0]
		assert.Equal(t, int64(1001), n.CompanyID)
		assert.Equal(t, autotasktest.ActionTypeGeneral, n.ActionType)
		assert.NotEmpty(t, n.Completed)

		f.AnswerOptIn(t, path, "+44 7700 900123")

		assert.Equal(t, []psa.Phone{{Number: "+447700900123", Label: "Mobile"}, {Number: "555.010.0100", Label: "Phone"}}, f.at.ContactPhones(alice.Ref),
			"the mobile Autotask had as (555) 010-0142 is replaced in place, the office number kept")
		assert.Empty(t, f.at.TakeViolations())
	})
}

// TestNotifyCopyAutotaskMember: an admin copies one of the MSP's Autotask
// resources into an on-call group: the list holds the active ones, not the
// API user, from a Resources query; the copy has the resource's e-mail and
// mobile number.
func TestNotifyCopyAutotaskMember(t *testing.T) {
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newATFixture(t, dialect)
		f.at.SeedMembers([]psa.Member{
			{Ref: "31", Identifier: "nnight", Name: "Nina Night", Email: "Nina@MSP.example", Phone: "+15550100131"},
			{Ref: "32", Identifier: "oformer", Name: "Oscar Former", Email: "oscar@msp.example"},
		}, "32")
		admin := f.AdminClient(t)
		gid := f.NewNotifyGroup(t, admin, "Desk")

		members, r := f.NotifyMembers(t, admin)
		require.Len(t, members, 1, "active resources only, not the API user: %s", r.Body)
		assert.Equal(t, map[string]any{"integration_id": f.integration.ID, "integration": "Autotask", "ref": "31", "name": "Nina Night",
			"email": "Nina@MSP.example", "phone": "+15550100131"}, members[0])

		r = f.CopyNotifyMember(t, admin, gid, f.integration, "31")
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		u := r.JSON(t)
		assert.Equal(t, "Nina Night", u["name"])
		assert.Equal(t, "nina@msp.example", u["email"])
		assert.Equal(t, "+15550100131", u["sms"])
		assert.Equal(t, "psa:"+f.integration.ID+":31", u["source"])
		r = f.CopyNotifyMember(t, admin, gid, f.integration, "32")
		assert.Equal(t, http.StatusNotFound, r.Status, "an inactive resource is not copied")
		assert.Empty(t, f.at.TakeViolations())
	})
}
