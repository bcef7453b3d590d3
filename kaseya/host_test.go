package kaseya_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
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

var (
	confirmLinkRE = regexp.MustCompile(`/e/([A-Za-z0-9_-]+)`)
	optInPathRE   = regexp.MustCompile(`/o/[^/\s]+/[A-Za-z0-9_-]{43}`)
	optInNonceRE  = regexp.MustCompile(`name="nonce" value="([^"]+)"`)
)

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
	f.Env = webtest.Open(t, dialect, webtest.Options{Descriptors: []psa.Descriptor{kaseya.Descriptor()},
		Deps: func(core.Integration) psa.Deps { return psa.Deps{HTTPClient: srv.HTTPClient()} }})
	raw, err := json.Marshal(srv.Config())
	require.NoError(t, err)
	f.integration, err = f.Engine.PutIntegration(t.Context(), f.A.Tenant.ID, "test", core.Integration{Kind: kaseya.ID, Name: "Kaseya BMS", Config: raw})
	require.NoError(t, err)
	return f
}

// mirrorAlice mirrors alice as a technician's search would.
func (f *bmsFixture) mirrorAlice(t *testing.T) core.Contact {
	t.Helper()
	c, err := f.Engine.MirrorContact(t.Context(), f.A.Tenant.ID, core.PSAContact{Kind: kaseya.ID, IntegrationName: "Kaseya BMS",
		CompanyRef: acme.Ref, CompanyName: acme.Name, Contact: core.NewContact{PSARef: alice.Ref, FirstName: alice.FirstName, LastName: alice.LastName,
			Emails: []core.NewDestination{{Value: alice.Emails[0].Address, Default: true}},
			Phones: []core.NewDestination{{Value: alice.Phones[0].Number, Label: "Mobile", Default: true}}}})
	require.NoError(t, err)
	return c
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

		res, err := f.Engine.SubmitTrayForm(ctx, form(), core.TrayTicket{FirstName: "Dana", LastName: "Dent", Email: "dana@acme-dental.example",
			Summary: "Scanner offline", Details: "Floor 2 scanner."})
		require.NoError(t, err)
		assert.Equal(t, "confirm", res.State)
		f.Deliver(t)
		msg := f.Mail.Last(t)
		assert.Equal(t, "dana@acme-dental.example", msg.To)
		g := confirmLinkRE.FindStringSubmatch(msg.Text)
		require.NotNil(t, g, msg.Text)
		assert.Empty(t, f.bms.Tickets(), "nothing reaches BMS before the click")
		_, err = f.Engine.ConfirmEnrolment(ctx, g[1])
		require.NoError(t, err)
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

		res, err = f.Engine.SubmitTrayForm(ctx, form(), core.TrayTicket{Summary: "Printer jam"})
		require.NoError(t, err)
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
		r := f.API(t, admin, http.MethodPut, "/api/v1/optin/settings", map[string]bool{"allow_correction": true})
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		r = f.API(t, admin, http.MethodPost, "/api/v1/contacts/"+al.ID+"/optin", map[string]string{"channel": "email"})
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		f.Deliver(t)
		path := optInPathRE.FindString(f.Mail.Last(t).Text)
		require.NotEmpty(t, path)
		before := f.bms.Requests()

		anon := f.Client(t)
		page := f.Do(t, anon, http.MethodGet, path, "", nil, nil)
		require.Equal(t, http.StatusOK, page.Status)
		g := optInNonceRE.FindSubmatch(page.Body)
		require.NotNil(t, g)
		r = f.Do(t, anon, http.MethodPost, path, "application/x-www-form-urlencoded",
			url.Values{"answer": {"yes"}, "nonce": {string(g[1])}, "phone": {"+44 7700 900123"}}.Encode(), nil)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		f.Deliver(t)

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
		r := f.API(t, admin, http.MethodPost, "/api/v1/admin/notify/groups", map[string]any{"name": "Desk", "events": []string{"tech_verify"}})
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		gid := r.JSON(t)["id"].(string)

		r = f.API(t, admin, http.MethodGet, "/api/v1/admin/notify/members", nil)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		members := r.JSON(t)["members"].([]any)
		require.Len(t, members, 1, "active employees only: %s", r.Body)
		assert.Equal(t, map[string]any{"integration_id": f.integration.ID, "integration": "Kaseya BMS", "ref": "31", "name": "Nina Night",
			"email": "Nina@MSP.example"}, members[0], "no phone: BMS lists none")

		r = f.API(t, admin, http.MethodPost, "/api/v1/admin/notify/groups/"+gid+"/members", map[string]any{"integration_id": f.integration.ID, "member_ref": "31"})
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		u := r.JSON(t)
		assert.Equal(t, "Nina Night", u["name"])
		assert.Equal(t, "nina@msp.example", u["email"])
		assert.Empty(t, u["sms"], "BMS lists no phone for employees")
		assert.Equal(t, true, u["by_email"])
		assert.Equal(t, "psa:"+f.integration.ID+":31", u["source"])
		r = f.API(t, admin, http.MethodPost, "/api/v1/admin/notify/groups/"+gid+"/members", map[string]any{"integration_id": f.integration.ID, "member_ref": "32"})
		assert.Equal(t, http.StatusNotFound, r.Status, "an inactive employee is not copied")
		assert.Empty(t, f.bms.TakeViolations())
	})
}
