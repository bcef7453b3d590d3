package autotask_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
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

var (
	confirmLinkRE = regexp.MustCompile(`/e/([A-Za-z0-9_-]+)`)
	optInPathRE   = regexp.MustCompile(`/o/[^/\s]+/[A-Za-z0-9_-]{43}`)
	optInNonceRE  = regexp.MustCompile(`name="nonce" value="([^"]+)"`)
)

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
	f.Env = webtest.Open(t, dialect, webtest.Options{Descriptors: []psa.Descriptor{autotask.Descriptor()},
		Deps: func(core.Integration) psa.Deps { return psa.Deps{HTTPClient: srv.HTTPClient()} }})
	raw, err := json.Marshal(srv.Config())
	require.NoError(t, err)
	f.integration, err = f.Engine.PutIntegration(t.Context(), f.A.Tenant.ID, "test", core.Integration{Kind: autotask.ID, Name: "Autotask", Config: raw})
	require.NoError(t, err)
	return f
}

// mirrorAlice mirrors alice as a technician's search would.
func (f *atFixture) mirrorAlice(t *testing.T) core.Contact {
	t.Helper()
	c, err := f.Engine.MirrorContact(t.Context(), f.A.Tenant.ID, core.PSAContact{Kind: autotask.ID, IntegrationName: "Autotask",
		CompanyRef: acme.Ref, CompanyName: acme.Name, Contact: core.NewContact{PSARef: alice.Ref, FirstName: alice.FirstName, LastName: alice.LastName,
			Emails: []core.NewDestination{{Value: alice.Emails[0].Address, Default: true}},
			Phones: []core.NewDestination{{Value: alice.Phones[0].Number, Label: "Mobile", Default: true}}}})
	require.NoError(t, err)
	return c
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
		tenant := f.A.Tenant.ID
		al := f.mirrorAlice(t) // gives Acme its usual domain
		key, err := f.Engine.ActivationKey(ctx, tenant, "test", al.ClientID)
		require.NoError(t, err)
		const sid = "S-1-5-21-3623811015-3361044348-30300820-1301"
		dev, _, err := f.Engine.Activate(ctx, key, core.DeviceReport{Name: "ACME-PC4", OS: "Windows 11 Pro",
			Users: []core.DeviceUser{{SID: sid, Account: `ACME\ddent`, LoggedOn: true}}})
		require.NoError(t, err)
		form := func() string {
			t.Helper()
			link, _, err := f.Engine.OpenTrayForm(ctx, dev, sid, core.TrayFormTicket)
			require.NoError(t, err)
			_, token, ok := strings.Cut(link, "/t/")
			require.True(t, ok, link)
			return token
		}
		seeded := len(f.at.Tickets())

		res, err := f.Engine.SubmitTrayForm(ctx, form(), core.TrayTicket{FirstName: "Dana", LastName: "Dent", Email: "dana@acme-dental.example",
			Summary: "Scanner offline", Details: "Floor 2 scanner."})
		require.NoError(t, err)
		assert.Equal(t, "confirm", res.State)
		f.Deliver(t)
		msg := f.Mail.Last(t)
		assert.Equal(t, "dana@acme-dental.example", msg.To)
		g := confirmLinkRE.FindStringSubmatch(msg.Text)
		require.NotNil(t, g, msg.Text)
		assert.Len(t, f.at.Tickets(), seeded, "nothing reaches Autotask before the click")
		_, err = f.Engine.ConfirmEnrolment(ctx, g[1])
		require.NoError(t, err)
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

		res, err = f.Engine.SubmitTrayForm(ctx, form(), core.TrayTicket{Summary: "Printer jam"})
		require.NoError(t, err)
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
		r := f.API(t, admin, http.MethodPut, "/api/v1/optin/settings", map[string]bool{"allow_correction": true})
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		r = f.API(t, admin, http.MethodPost, "/api/v1/contacts/"+al.ID+"/optin", map[string]string{"channel": "email"})
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		f.Deliver(t)
		path := optInPathRE.FindString(f.Mail.Last(t).Text)
		require.NotEmpty(t, path)
		notes := f.at.ContactNotes(alice.Ref)
		require.Len(t, notes, 1, "the note that the form was sent")
		assert.NotEmpty(t, strings.TrimSpace(notes[0]))
		n := f.at.CompanyNotes()[0]
		assert.Equal(t, int64(1001), n.CompanyID)
		assert.Equal(t, autotasktest.ActionTypeGeneral, n.ActionType)
		assert.NotEmpty(t, n.Completed)

		anon := f.Client(t)
		page := f.Do(t, anon, http.MethodGet, path, "", nil, nil)
		require.Equal(t, http.StatusOK, page.Status)
		g := optInNonceRE.FindSubmatch(page.Body)
		require.NotNil(t, g)
		r = f.Do(t, anon, http.MethodPost, path, "application/x-www-form-urlencoded",
			url.Values{"answer": {"yes"}, "nonce": {string(g[1])}, "phone": {"+44 7700 900123"}}.Encode(), nil)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		f.Deliver(t)

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
		r := f.API(t, admin, http.MethodPost, "/api/v1/admin/notify/groups", map[string]any{"name": "Desk", "events": []string{"tech_verify"}})
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		gid := r.JSON(t)["id"].(string)

		r = f.API(t, admin, http.MethodGet, "/api/v1/admin/notify/members", nil)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		members := r.JSON(t)["members"].([]any)
		require.Len(t, members, 1, "active resources only, not the API user: %s", r.Body)
		assert.Equal(t, map[string]any{"integration_id": f.integration.ID, "integration": "Autotask", "ref": "31", "name": "Nina Night",
			"email": "Nina@MSP.example", "phone": "+15550100131"}, members[0])

		r = f.API(t, admin, http.MethodPost, "/api/v1/admin/notify/groups/"+gid+"/members", map[string]any{"integration_id": f.integration.ID, "member_ref": "31"})
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		u := r.JSON(t)
		assert.Equal(t, "Nina Night", u["name"])
		assert.Equal(t, "nina@msp.example", u["email"])
		assert.Equal(t, "+15550100131", u["sms"])
		assert.Equal(t, "psa:"+f.integration.ID+":31", u["source"])
		r = f.API(t, admin, http.MethodPost, "/api/v1/admin/notify/groups/"+gid+"/members", map[string]any{"integration_id": f.integration.ID, "member_ref": "32"})
		assert.Equal(t, http.StatusNotFound, r.Status, "an inactive resource is not copied")
		assert.Empty(t, f.at.TakeViolations())
	})
}
