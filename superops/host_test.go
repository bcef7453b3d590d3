package superops_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/web/webtest"
	"github.com/countersign/countersign/superops"
	"github.com/countersign/countersign/superops/superopstest"
)

// The SuperOps integration through the host (core/web/webtest), as the
// ConnectWise and Kaseya plugins' host tests do it: a tray's first ticket,
// an opt-in form's corrected number and an on-call technician copied from
// SuperOps, each reaching the contract-checked fake SuperOps.

// soFixture is a Countersign server with a SuperOps integration of tenant
// A on a fake SuperOps holding globex, ryan, pam and ryan's ticket.
type soFixture struct {
	*webtest.Env
	so          *superopstest.Server
	calls       *counter // every SuperOps call the host's clients make
	integration core.Integration
}

func newSOFixture(t *testing.T, dialect string, change ...func(*superops.Config)) *soFixture {
	t.Helper()
	srv := superopstest.NewServer(t)
	srv.Seed([]psa.Company{globex}, []psa.Contact{ryan, pam}, []psa.Ticket{ticket})
	f := &soFixture{so: srv, calls: &counter{}}
	cfg := srv.Config()
	for _, c := range change {
		c(&cfg)
	}
	f.Env, f.integration = webtest.OpenPSA(t, dialect, superops.Descriptor(), psa.Deps{HTTPClient: srv.HTTPClient(), Calls: f.calls}, "SuperOps", cfg)
	return f
}

// mirrorRyan mirrors ryan as a technician's search would.
func (f *soFixture) mirrorRyan(t *testing.T) core.Contact {
	t.Helper()
	return f.MirrorPSAContact(t, f.integration, globex, ryan)
}

// traySID is the Windows user of the tray device.
const traySID = "S-1-5-21-3623811015-3361044348-30300820-1401"

// trayDevice activates a Windows agent on a computer of ryan's client
// (mirroring ryan gives Globex its usual domain), its user traySID.
func (f *soFixture) trayDevice(t *testing.T) core.Device {
	t.Helper()
	ry := f.mirrorRyan(t)
	return f.ActivateDevice(t, ry.ClientID, "GLOBEX-PC7", traySID, `GLOBEX\ddent`)
}

// TestTrayFirstTicketSuperOps: a first ticket from the Windows tray on a
// computer of a SuperOps client, from an address SuperOps does not have
// but at the client's usual domain, reaches SuperOps after the
// confirmation click as a new requester (createClientUser, with the
// integration's requester role) and a ticket for it (createTicket, source
// INTEGRATION, status Open, the user's words as its description), both
// held to the contract by the fake; the bound user's next ticket goes to
// that requester at once.
func TestTrayFirstTicketSuperOps(t *testing.T) {
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newSOFixture(t, dialect)
		ctx := t.Context()
		dev := f.trayDevice(t)

		res := f.SubmitTrayTicket(t, dev, traySID, core.TrayTicket{FirstName: "Dana", LastName: "Dent", Email: "dana@globex.example",
			Summary: "Scanner offline", Details: "Floor 2 scanner."})
		assert.Equal(t, "confirm", res.State)
		msg, token := f.EnrolmentMail(t)
		assert.Equal(t, "dana@globex.example", msg.To)
		assert.Empty(t, f.so.Tickets(), "nothing reaches SuperOps before the click")
		f.ConfirmEnrolment(t, token)
		f.Deliver(t) // the requester
		f.Deliver(t) // then its ticket

		found, err := f.so.NewClient(t, psa.Deps{}).FindContacts(ctx, globex.Ref, psa.ContactSearch{Email: "dana@globex.example"})
		require.NoError(t, err)
		require.Len(t, found, 1, "the requester is in SuperOps")
		assert.Equal(t, "Dana", found[0].FirstName)
		assert.Equal(t, "Dent", found[0].LastName)
		tickets := f.so.Tickets()
		require.Len(t, tickets, 1, "one ticket reached SuperOps")
		assert.Equal(t, "Scanner offline", tickets[0].Summary)
		assert.Equal(t, globex.Ref, tickets[0].CompanyRef)
		assert.Equal(t, found[0].Ref, tickets[0].ContactRef)
		assert.Contains(t, tickets[0].Description, "Floor 2 scanner.")
		assert.Equal(t, "INTEGRATION", tickets[0].Source)
		assert.Equal(t, "Open", tickets[0].Status)

		res = f.SubmitTrayTicket(t, dev, traySID, core.TrayTicket{Summary: "Printer jam"})
		assert.Equal(t, "logged", res.State)
		f.Deliver(t)
		tickets = f.so.Tickets()
		require.Len(t, tickets, 2)
		assert.Equal(t, found[0].Ref, tickets[1].ContactRef, "the bound user's ticket is Dana's")
		assert.Equal(t, "Printer jam", tickets[1].Summary)
		assert.Empty(t, f.so.TakeViolations())
	})
}

// TestTrayTicketKnownRequesterSuperOps: a tray ticket from the address of
// a requester SuperOps has (typed in another case) goes to that requester
// once the address is confirmed: no requester is created.
func TestTrayTicketKnownRequesterSuperOps(t *testing.T) {
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newSOFixture(t, dialect)
		dev := f.trayDevice(t)
		res := f.SubmitTrayTicket(t, dev, traySID, core.TrayTicket{FirstName: "Ryan", LastName: "Howard", Email: "ryan.howard@globex.example",
			Summary: "VPN again", Details: "Since this morning."})
		assert.Equal(t, "confirm", res.State, "a user is bound to a contact only after the address is confirmed")
		_, token := f.EnrolmentMail(t)
		assert.Empty(t, f.so.Tickets(), "nothing reaches SuperOps before the click")
		f.ConfirmEnrolment(t, token)
		f.calls.take()
		f.Deliver(t)
		f.Deliver(t)
		assert.NotContains(t, f.calls.take(), "mutation createClientUser", "ryan is in SuperOps already")
		tickets := f.so.Tickets()
		require.Len(t, tickets, 1)
		assert.Equal(t, ryan.Ref, tickets[0].ContactRef, "the ticket is ryan's")
		assert.Equal(t, "VPN again", tickets[0].Summary)
		assert.Empty(t, f.so.TakeViolations())
	})
}

// TestTrayFirstTicketSuperOpsNoRequesterRole: an integration without the
// Requester role id cannot create requesters, so a first tray ticket's
// requester fails for good, saying so, and the ticket is still logged,
// with no requester and the user's name and address in its description,
// as the setup guide says.
func TestTrayFirstTicketSuperOpsNoRequesterRole(t *testing.T) {
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newSOFixture(t, dialect, func(c *superops.Config) { c.RequesterRoleID = "" })
		dev := f.trayDevice(t)
		f.SubmitTrayTicket(t, dev, traySID, core.TrayTicket{FirstName: "Dana", LastName: "Dent", Email: "dana@globex.example",
			Summary: "Scanner offline", Details: "Floor 2 scanner."})
		_, token := f.EnrolmentMail(t)
		f.ConfirmEnrolment(t, token)
		f.calls.take()
		f.Deliver(t) // the requester: refused before any call
		f.Deliver(t) // the ticket

		assert.Contains(t, f.Logs.String(), "creating requesters needs the Requester role id", "the requester's item fails for good, saying why")
		assert.NotContains(t, f.calls.take(), "mutation createClientUser")
		tickets := f.so.Tickets()
		require.Len(t, tickets, 1, "the ticket is logged all the same")
		assert.Empty(t, tickets[0].ContactRef)
		assert.Equal(t, globex.Ref, tickets[0].CompanyRef)
		assert.Contains(t, tickets[0].Description, "Floor 2 scanner.")
		assert.Contains(t, tickets[0].Description, "dana@globex.example", "who logged it")
		assert.Empty(t, f.so.TakeViolations())
	})
}

// TestOptInPhoneWriteBackSuperOps: with corrections allowed, the number an
// end user corrects on the SMS opt-in form replaces their mobile in
// SuperOps (updateClientUser on the integration's mobile custom field,
// which held the old number; contactNumber untouched). The note that the
// form was sent cannot be written: SuperOps has no notes on requesters,
// so that outbox item fails for good with the reason, and SuperOps gets
// no request for it.
func TestOptInPhoneWriteBackSuperOps(t *testing.T) {
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newSOFixture(t, dialect)
		ry := f.mirrorRyan(t)
		admin := f.AdminClient(t)
		path := f.SendOptIn(t, admin, ry.ID)
		f.calls.take()

		f.AnswerOptIn(t, path, "+44 7700 900123")

		number, mobile := f.so.Requester(ryan.Ref)
		assert.Equal(t, "+447700900123", mobile, "the mobile field SuperOps had as (641) 234-9876 is replaced")
		assert.Equal(t, "+1 641 555 0100", number, "contactNumber is left as it was")
		assert.Equal(t, []string{"query getClientUser", "mutation updateClientUser"}, f.calls.take(),
			"the requester read afresh and written; no call for the note")
		assert.Contains(t, f.Logs.String(), "superops integrations cannot write contact notes", "the note's item fails for good, saying why")
		assert.Empty(t, f.so.TakeViolations())
	})
}

// TestOptInPhoneWriteBackSuperOpsContactNumber: a requester whose only
// number is SuperOps' contactNumber (pam, no mobile field value) corrects
// it on the opt-in form: the number that read as the old one is replaced
// there, not left beside the new one in the mobile field.
func TestOptInPhoneWriteBackSuperOpsContactNumber(t *testing.T) {
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newSOFixture(t, dialect)
		pm := f.MirrorPSAContact(t, f.integration, globex, pam)
		admin := f.AdminClient(t)
		path := f.SendOptIn(t, admin, pm.ID)

		f.AnswerOptIn(t, path, "+44 7700 900124")

		number, mobile := f.so.Requester(pam.Ref)
		assert.Equal(t, "+447700900124", number, "contactNumber, which SuperOps had as +1 641 555 0111, is replaced")
		assert.Nil(t, mobile, "the mobile field stays empty: the old number is not left beside the new one")
		assert.Empty(t, f.so.TakeViolations())
	})
}

// TestTicketLookupDefaultContactSuperOps: SuperOps has no embed point, so
// technicians verify from the console's ticket box. A ticket without a
// requester is about its client's primary contact, as on a pod: the
// lookup shows that contact, mirrored, with the notice saying so; a
// client without one leaves the technician to search.
func TestTicketLookupDefaultContactSuperOps(t *testing.T) {
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newSOFixture(t, dialect)
		bare := psa.Ticket{Ref: "7928838372746166988", Number: "062822-0006", Summary: "Printer offline", CompanyRef: globex.Ref, Status: "Open"}
		f.so.Seed([]psa.Company{globex}, []psa.Contact{ryan, pam}, []psa.Ticket{ticket, bare})
		f.so.SetPrimaryContact(globex.Ref, pam.Ref)
		tech := f.Login(t, f.A)
		lookup := func() map[string]any {
			t.Helper()
			r := f.API(t, tech, http.MethodGet, "/api/v1/tickets/lookup?integration="+f.integration.ID+"&number="+bare.Number, nil)
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
			return r.JSON(t)
		}
		out := lookup()
		assert.Equal(t, bare.Ref, out["ticket"].(map[string]any)["ref"])
		contact, ok := out["contact"].(map[string]any)
		require.True(t, ok, "the client's primary contact is shown: %v", out)
		assert.Equal(t, "Pam", contact["first_name"])
		assert.Equal(t, "Beesly", contact["last_name"])
		assert.Contains(t, out["notice"], "default contact")
		mirrored, err := f.Engine.MirroredContact(t.Context(), f.A.Tenant.ID, superops.ID, pam.Ref)
		require.NoError(t, err, "pam is mirrored")
		assert.Equal(t, mirrored.ID, contact["id"])

		f.so.SetPrimaryContact(globex.Ref, "")
		out = lookup()
		assert.Nil(t, out["contact"], "no primary contact: none shown")
		assert.Contains(t, out["notice"], "no contact")
		assert.Empty(t, f.so.TakeViolations())
	})
}

// TestNotifyCopySuperOpsMember: an admin copies one of the MSP's SuperOps
// technicians into an on-call group: the list holds the technicians
// getTechnicianList gives (SuperOps deletes, never deactivates, one who
// leaves), with their contactNumber; the copy has the technician's e-mail
// on and their number, in E.164, off until ticked.
func TestNotifyCopySuperOpsMember(t *testing.T) {
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newSOFixture(t, dialect)
		f.so.SeedMembers([]psa.Member{
			{Ref: "7928838372746160031", Name: "Nina Night", Email: "Nina@MSP.example", Phone: "(641) 555-0177"},
			{Ref: "7928838372746160032", Name: "Oscar Former", Email: "oscar@msp.example"},
		}, "7928838372746160032")
		admin := f.AdminClient(t)
		gid := f.NewNotifyGroup(t, admin, "Desk")

		members, r := f.NotifyMembers(t, admin)
		require.Len(t, members, 1, "SuperOps lists the technicians it has: %s", r.Body)
		assert.Equal(t, map[string]any{"integration_id": f.integration.ID, "integration": "SuperOps", "ref": "7928838372746160031", "name": "Nina Night",
			"email": "Nina@MSP.example", "phone": "(641) 555-0177"}, members[0], "all 19 digits of the id")

		r = f.CopyNotifyMember(t, admin, gid, f.integration, "7928838372746160031")
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		u := r.JSON(t)
		assert.Equal(t, "Nina Night", u["name"])
		assert.Equal(t, "nina@msp.example", u["email"])
		assert.Equal(t, "+16415550177", u["sms"])
		assert.Equal(t, true, u["by_email"])
		assert.Equal(t, false, u["by_sms"], "a PSA's number may be a desk line: SMS waits for the admin")
		assert.Equal(t, "psa:"+f.integration.ID+":7928838372746160031", u["source"])
		r = f.CopyNotifyMember(t, admin, gid, f.integration, "7928838372746160032")
		assert.Equal(t, http.StatusNotFound, r.Status, "a technician SuperOps no longer has is not copied")
		assert.Empty(t, f.so.TakeViolations())
	})
}

// TestSetupSuperOpsWrites: the setup guide asks for what tray tickets,
// opt-in corrections and on-call copies need — the rights (tickets added,
// requesters added and edited, technicians read) and the Requester role
// id — and says that requester notes are not written.
func TestSetupSuperOpsWrites(t *testing.T) {
	_, c, calls := setup(t)
	st := c.Setup("https://cs.example/pod/acme/int_1", "https://cs.example")
	assert.Empty(t, calls.take(), "Setup makes no call")
	var rights []string
	for _, p := range st.Permissions {
		rights = append(rights, p.Area+": "+p.Access)
	}
	for _, want := range []string{"Tickets: Add", "Clients › Requesters: Add", "Clients › Requesters: Edit", "Technicians: View"} {
		assert.Contains(t, rights, want)
	}
	notes := strings.Join(st.Notes, "\n")
	assert.Contains(t, notes, "Requester role id")
	assert.Contains(t, notes, "Windows tray")
	assert.Contains(t, notes, "no notes on requesters")
	var field psa.Field
	for _, fd := range superops.Descriptor().Fields {
		if fd.Name == "requester_role_id" {
			field = fd
		}
	}
	assert.Contains(t, field.Help, "Windows tray", "the settings form says what the role id is for")
}
