package core_test

import (
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// auditOf returns the tenant's audit actions, oldest first.
func (f *fixture) auditOf(t *testing.T) []core.AuditEvent {
	t.Helper()
	evs, err := f.eng.AuditEvents(t.Context(), f.tenant.ID, core.AuditQuery{})
	require.NoError(t, err)
	return evs
}

func lastAudit(t *testing.T, evs []core.AuditEvent) core.AuditEvent {
	t.Helper()
	require.NotEmpty(t, evs)
	return evs[len(evs)-1]
}

// TestUpdateContact: an edit keeps the id and set time of every destination
// whose value stays, removes the ones that go, adds new ones, and audits
// what changed; an edit that changes nothing writes nothing.
func TestUpdateContact(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := t.Context()
		before := f.contact
		mobile, _ := before.DefaultDestination(core.DestPhone)
		f.clk.Add(time.Hour)
		c, err := f.eng.UpdateContact(ctx, f.tenant.ID, "tech:"+f.admin.ID, "manual", before.ID, core.NewContact{
			ClientID: f.client.ID, FirstName: "Samuel", LastName: "Caller",
			Phones: []core.NewDestination{{Value: "+15550100142", Label: "Cell", Default: true}, {Value: "(555) 010-0150", Label: "Office"}},
			Emails: []core.NewDestination{{Value: "sam@contoso.example", Default: true}},
		})
		require.NoError(t, err)
		assert.Equal(t, "Samuel", c.FirstName)
		assert.True(t, c.UpdatedAt.Equal(f.clk.Now()))
		got, ok := c.DefaultDestination(core.DestPhone)
		require.True(t, ok)
		assert.Equal(t, mobile.ID, got.ID, "the unchanged number keeps its id")
		assert.True(t, got.SetAt.Equal(mobile.SetAt), "and the time it was set")
		assert.Equal(t, "Cell", got.Label)
		var values []string
		for _, d := range c.Destinations {
			values = append(values, d.Value)
		}
		assert.ElementsMatch(t, []string{"+15550100142", "+15550100150", "sam@contoso.example"}, values, "home number removed, office added")
		reread, err := f.eng.Contact(ctx, f.tenant.ID, c.ID)
		require.NoError(t, err)
		assert.Equal(t, c, reread)
		ev := lastAudit(t, f.auditOf(t))
		assert.Equal(t, core.AuditContactUpdated, ev.Action)
		assert.Equal(t, "name,phones", ev.Detail["changed"])

		// The same again changes nothing and audits nothing.
		n := len(f.auditOf(t))
		same, err := f.eng.UpdateContact(ctx, f.tenant.ID, "tech:"+f.admin.ID, "manual", c.ID, core.NewContact{
			ClientID: f.client.ID, FirstName: "Samuel", LastName: "Caller",
			Phones: []core.NewDestination{{Value: "+1 555 010 0142", Label: "Cell", Default: true}, {Value: "+15550100150", Label: "Office"}},
			Emails: []core.NewDestination{{Value: "SAM@contoso.example", Default: true}},
		})
		require.NoError(t, err)
		assert.Equal(t, c, same)
		assert.Len(t, f.auditOf(t), n)

		// Bad input changes nothing.
		bad := []struct {
			name string
			id   string
			c    core.NewContact
			kind core.Kind
		}{
			{"no name", c.ID, core.NewContact{ClientID: f.client.ID}, core.KindInvalid},
			{"no client", c.ID, core.NewContact{FirstName: "X"}, core.KindInvalid},
			{"unknown client", c.ID, core.NewContact{ClientID: "cli_nope", FirstName: "X"}, core.KindNotFound},
			{"bad phone", c.ID, core.NewContact{ClientID: f.client.ID, FirstName: "X", Phones: []core.NewDestination{{Value: "call me"}}}, core.KindInvalid},
			{"unknown contact", "con_nope", core.NewContact{ClientID: f.client.ID, FirstName: "X"}, core.KindNotFound},
		}
		for _, tc := range bad {
			_, err := f.eng.UpdateContact(ctx, f.tenant.ID, "tech:"+f.admin.ID, "manual", tc.id, tc.c)
			assert.Equal(t, tc.kind, core.ErrorKind(err), "%s: %v", tc.name, err)
		}
		after, err := f.eng.Contact(ctx, f.tenant.ID, c.ID)
		require.NoError(t, err)
		assert.Equal(t, c, after)
		assert.Len(t, f.auditOf(t), n)
	})
}

// TestDeleteContactAndClient: deletion is soft and audited; a deleted
// contact cannot be verified or found, and deleting a client deletes its
// contacts.
func TestDeleteContactAndClient(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := t.Context()
		started := f.start(t, core.MethodSMSCode)
		f.deliver(t)
		require.NoError(t, f.eng.DeleteContact(ctx, f.tenant.ID, "tech:"+f.admin.ID, f.contact.ID))
		_, err := f.eng.Contact(ctx, f.tenant.ID, f.contact.ID)
		assert.Equal(t, core.KindNotFound, core.ErrorKind(err))
		found, err := f.eng.SearchContacts(ctx, f.tenant.ID, core.ContactQuery{Text: "Sam"})
		require.NoError(t, err)
		assert.Empty(t, found)
		_, err = f.eng.Start(ctx, core.StartRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID, ContactID: f.contact.ID, Method: core.MethodSMSCode})
		assert.Equal(t, core.KindNotFound, core.ErrorKind(err), "a deleted contact is not verified")
		_, err = f.eng.Verification(ctx, f.tenant.ID, started.Verification.ID)
		assert.NoError(t, err, "its history stays")
		assert.Equal(t, core.AuditContactDeleted, lastAudit(t, f.auditOf(t)).Action)
		assert.Equal(t, core.KindNotFound, core.ErrorKind(f.eng.DeleteContact(ctx, f.tenant.ID, "tech:"+f.admin.ID, f.contact.ID)), "twice is not found")

		// A client and its contacts.
		other, err := f.eng.CreateContact(ctx, f.tenant.ID, "test", "manual", core.NewContact{ClientID: f.client.ID, FirstName: "Pat",
			Phones: []core.NewDestination{{Value: "+15550100177"}}})
		require.NoError(t, err)
		renamed, err := f.eng.UpdateClient(ctx, f.tenant.ID, "tech:"+f.admin.ID, f.client.ID, "  Contoso Ltd ")
		require.NoError(t, err)
		assert.Equal(t, "Contoso Ltd", renamed.Name)
		_, err = f.eng.UpdateClient(ctx, f.tenant.ID, "tech:"+f.admin.ID, f.client.ID, "")
		assert.Equal(t, core.KindInvalid, core.ErrorKind(err))
		require.NoError(t, f.eng.DeleteClient(ctx, f.tenant.ID, "tech:"+f.admin.ID, f.client.ID))
		ev := lastAudit(t, f.auditOf(t))
		assert.Equal(t, core.AuditClientDeleted, ev.Action)
		assert.Equal(t, "1", ev.Detail["contacts"], "the one contact left was deleted with it")
		_, err = f.eng.Contact(ctx, f.tenant.ID, other.ID)
		assert.Equal(t, core.KindNotFound, core.ErrorKind(err))
		clients, err := f.eng.Clients(ctx, f.tenant.ID)
		require.NoError(t, err)
		assert.Empty(t, clients)
		_, err = f.eng.CreateContact(ctx, f.tenant.ID, "test", "manual", core.NewContact{ClientID: f.client.ID, FirstName: "Late"})
		assert.Equal(t, core.KindNotFound, core.ErrorKind(err), "no new contacts under a deleted client")

		// Another tenant's ids are not found.
		assert.Equal(t, core.KindNotFound, core.ErrorKind(f.eng.DeleteClient(ctx, "ten_other", "tech:x", f.client.ID)))
	})
}

// TestMirrorContact: the first sight creates the mirror and its client;
// a refresh rewrites what changed and audits it; a refresh with nothing new
// only moves the sync time; a deleted mirror the PSA still has comes back.
func TestMirrorContact(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := t.Context()
		pc := core.PSAContact{Kind: "testpsa", IntegrationName: "Test PSA", CompanyRef: "co1", CompanyName: "Fabrikam",
			Contact: core.NewContact{FirstName: "Pat", LastName: "Pod", PSARef: "c1",
				Phones: []core.NewDestination{{Value: "+15550100177", Default: true}}}}
		c, err := f.eng.MirrorContact(ctx, f.tenant.ID, pc)
		require.NoError(t, err)
		assert.True(t, c.SyncedAt.Equal(f.clk.Now()))
		assert.False(t, c.Stale(f.clk.Now()))
		cl, err := f.eng.Client(ctx, f.tenant.ID, c.ClientID)
		require.NoError(t, err)
		assert.Equal(t, "Fabrikam", cl.Name)
		mirrored, err := f.eng.MirroredContact(ctx, f.tenant.ID, "testpsa", "c1")
		require.NoError(t, err)
		assert.Equal(t, c.ID, mirrored.ID)
		_, err = f.eng.MirroredContact(ctx, f.tenant.ID, "otherpsa", "c1")
		assert.Equal(t, core.KindNotFound, core.ErrorKind(err), "a ref is unique only within its PSA")

		f.clk.Add(core.MirrorMaxAge)
		assert.True(t, mirrored.Stale(f.clk.Now()))
		n := len(f.auditOf(t))
		again, err := f.eng.MirrorContact(ctx, f.tenant.ID, pc)
		require.NoError(t, err)
		assert.Equal(t, c.ID, again.ID)
		assert.True(t, again.SyncedAt.Equal(f.clk.Now()), "the sync time moves")
		assert.Len(t, f.auditOf(t), n, "nothing changed, nothing audited")

		pc.Contact.Phones = []core.NewDestination{{Value: "+15550100178", Default: true}}
		changed, err := f.eng.MirrorContact(ctx, f.tenant.ID, pc)
		require.NoError(t, err)
		d, _ := changed.DefaultDestination(core.DestPhone)
		assert.Equal(t, "+15550100178", d.Value)
		assert.Equal(t, "psa:testpsa", d.SetBy)
		ev := lastAudit(t, f.auditOf(t))
		assert.Equal(t, core.AuditContactRefreshed, ev.Action)
		assert.Equal(t, "phones", ev.Detail["changed"])

		require.NoError(t, f.eng.DeleteContact(ctx, f.tenant.ID, "tech:"+f.admin.ID, c.ID))
		back, err := f.eng.MirrorContact(ctx, f.tenant.ID, pc)
		require.NoError(t, err)
		assert.Equal(t, c.ID, back.ID, "restored, not duplicated")
		assert.True(t, back.DeletedAt.IsZero())
		assert.Equal(t, "restored", lastAudit(t, f.auditOf(t)).Detail["changed"])

		for name, bad := range map[string]core.PSAContact{
			"no kind": {Contact: core.NewContact{FirstName: "X", PSARef: "c9"}},
			"no ref":  {Kind: "testpsa", Contact: core.NewContact{FirstName: "X"}},
			"no name": {Kind: "testpsa", Contact: core.NewContact{PSARef: "c9"}},
		} {
			_, err := f.eng.MirrorContact(ctx, f.tenant.ID, bad)
			assert.Equal(t, core.KindInvalid, core.ErrorKind(err), name)
		}
	})
}

// TestMirrorContactLongCompanyName: a company name past the client name's
// 200 bytes is cut at a rune, never inside one — half a rune is not UTF-8,
// which PostgreSQL refuses to store (the mirror failed there before the cut
// went through core.ClipBytes).
func TestMirrorContactLongCompanyName(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		long := strings.Repeat("a", 199) + "é and more" // é is bytes 199–200
		c, err := f.eng.MirrorContact(t.Context(), f.tenant.ID, core.PSAContact{Kind: "testpsa", IntegrationName: "Test PSA",
			CompanyRef: "co1", CompanyName: long, Contact: core.NewContact{FirstName: "Pat", PSARef: "c1"}})
		require.NoError(t, err)
		cl, err := f.eng.Client(t.Context(), f.tenant.ID, c.ClientID)
		require.NoError(t, err)
		assert.Equal(t, strings.Repeat("a", 199), cl.Name)
	})
}

// TestAuditNewestFirst pages the audit log newest first with a cursor and
// filters by actor and time in the store.
func TestAuditNewestFirst(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := t.Context()
		for i := range 5 {
			f.clk.Add(time.Minute)
			actor := "tech:a"
			if i%2 == 1 {
				actor = "tech:b"
			}
			require.NoError(t, f.eng.Audit(ctx, f.tenant.ID, actor, "test.event", "s", nil))
		}
		all := f.auditOf(t)
		head := all[len(all)-1].Seq
		page, err := f.eng.AuditEvents(ctx, f.tenant.ID, core.AuditQuery{Action: "test.event", NewestFirst: true, Limit: 2})
		require.NoError(t, err)
		require.Len(t, page, 2)
		assert.Equal(t, []int64{head, head - 1}, []int64{page[0].Seq, page[1].Seq})
		next, err := f.eng.AuditEvents(ctx, f.tenant.ID, core.AuditQuery{Action: "test.event", NewestFirst: true, Limit: 2, BeforeSeq: page[1].Seq})
		require.NoError(t, err)
		assert.Equal(t, []int64{head - 2, head - 3}, []int64{next[0].Seq, next[1].Seq})
		byB, err := f.eng.AuditEvents(ctx, f.tenant.ID, core.AuditQuery{Actor: "tech:b", NewestFirst: true})
		require.NoError(t, err)
		assert.Len(t, byB, 2)
		until, err := f.eng.AuditEvents(ctx, f.tenant.ID, core.AuditQuery{Action: "test.event", Until: page[1].At})
		require.NoError(t, err)
		assert.Len(t, until, 3, "until is exclusive")
		assert.NoError(t, core.VerifyAuditChain(all, head, all[len(all)-1].Hash))
	})
}
