package core_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// TestDirectoryNotices runs the notice schedule over fifteen days on a fake
// clock, twice a day, on two nodes at once, with a restart (a new engine
// over the same store) on day 5: every user gets each day's notice once —
// from 10 days before expiry, on the expiry day, daily while locked — by
// e-mail and SMS where known (the bound contact's when the directory has
// none); users without self-serve, not registered or whose password never
// expires get nothing; with the tenant's switch off, nobody does.
func TestDirectoryNotices(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		var cfg core.Config
		f := newFixture(t, st, func(c *core.Config) { cfg = *c })
		ctx := t.Context()
		day0 := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC) // the fixture's clock: 09:00 that day
		type person struct {
			guid, sam, mail, mobile string
			expires                 time.Time
			locked, never, on       bool
			status                  core.SelfServeStatus
		}
		people := []person{
			{guid: "00000000-0000-4000-8000-0000000000a1", sam: "alice", mail: "alice@contoso.example", mobile: "+15550100201",
				expires: day0.AddDate(0, 0, 12).Add(15 * time.Hour), on: true, status: core.SelfServeRegistered},
			{guid: "00000000-0000-4000-8000-0000000000b2", sam: "bob", mail: "bob@contoso.example", locked: true,
				expires: day0.AddDate(0, 0, 60), on: true, status: core.SelfServeAccessed},
			{guid: "00000000-0000-4000-8000-0000000000c3", sam: "carl", mail: "carl@contoso.example",
				expires: day0.AddDate(0, 0, 3), on: true}, // not registered
			{guid: "00000000-0000-4000-8000-0000000000d4", sam: "dora", mail: "dora@contoso.example",
				expires: day0.AddDate(0, 0, 3), status: core.SelfServeRegistered}, // switch off
			{guid: "00000000-0000-4000-8000-0000000000e5", sam: "erin", mail: "erin@contoso.example", never: true,
				on: true, status: core.SelfServeRegistered},
			{guid: "00000000-0000-4000-8000-0000000000f6", sam: "fred", // only the bound contact's e-mail and phone
				expires: day0.AddDate(0, 0, 3), on: true, status: core.SelfServeRegistered},
		}
		require.NoError(t, st.Update(ctx, func(tx core.Tx) error {
			for i, p := range people {
				u := core.DirectoryUser{TenantID: f.tenant.ID, ClientID: f.client.ID, GUID: p.guid,
					SID: fmt.Sprintf("S-1-5-21-1-2-3-%d", 1100+i), SAMAccountName: p.sam, DisplayName: p.sam, Mail: p.mail,
					MobileE164: p.mobile, Enabled: true, Locked: p.locked, PasswordNeverExpires: p.never, SyncedAt: day0}
				if !p.never {
					u.PasswordExpiresAt = p.expires
				}
				if err := tx.PutDirectoryUser(ctx, &u); err != nil {
					return err
				}
				if err := tx.PutSelfServeUser(ctx, &core.SelfServeUser{TenantID: f.tenant.ID, ClientID: f.client.ID,
					GUID: p.guid, Enabled: p.on, Status: p.status, ChangedAt: day0}); err != nil {
					return err
				}
			}
			return tx.PutSelfServeSettings(ctx, &core.SelfServeSettings{TenantID: f.tenant.ID, Enabled: true, UpdatedAt: day0})
		}))
		require.NoError(t, f.eng.DecideMatches(ctx, f.tenant.ID, "tech:1", f.client.ID,
			[]core.MatchChoice{{GUID: people[5].guid, ContactID: f.contact.ID, Accept: true}}))

		nodes := []*core.Engine{f.eng, nil}
		newNode := func() *core.Engine {
			e, err := core.NewEngine(cfg)
			require.NoError(t, err)
			return e
		}
		nodes[1] = newNode()
		for d := range 15 {
			if d == 5 {
				nodes[0] = newNode() // a restart
			}
			for _, hour := range []int{9, 15} {
				f.clk.Add(day0.AddDate(0, 0, d).Add(time.Duration(hour) * time.Hour).Sub(f.clk.Now()))
				var wg sync.WaitGroup
				for _, n := range nodes {
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, err := n.SendDirectoryNotices(context.Background())
						assert.NoError(t, err)
					}()
				}
				wg.Wait()
			}
		}

		var items []core.OutboxItem
		require.NoError(t, st.View(ctx, func(tx core.Tx) (err error) {
			items, err = tx.ListOutbox(ctx, f.tenant.ID, 0)
			return err
		}))
		sort.SliceStable(items, func(i, j int) bool { return items[i].CreatedAt.Before(items[j].CreatedAt) })
		got := map[string][]string{} // recipient → "day: subject" in order
		for _, it := range items {
			m, err := f.eng.OpenOutbox(it)
			require.NoError(t, err)
			subject := m.Subject
			if m.Kind == core.OutboxSMS {
				subject, _, _ = strings.Cut(m.Text, ". ")
			}
			got[m.To] = append(got[m.To], it.CreatedAt.UTC().Format("01-02")+": "+subject)
		}
		var alice []string
		for d := 2; d <= 11; d++ {
			left := 12 - d
			unit := "days"
			if left == 1 {
				unit = "day"
			}
			alice = append(alice, fmt.Sprintf("%s: Your password expires in %d %s", day0.AddDate(0, 0, d).Format("01-02"), left, unit))
		}
		alice = append(alice, day0.AddDate(0, 0, 12).Format("01-02")+": Your password expires today")
		assert.Equal(t, alice, got["alice@contoso.example"], "e-mail: from 10 days before, daily, on the day, once each")
		assert.Equal(t, alice, got["+15550100201"], "SMS likewise")
		assert.Len(t, got["bob@contoso.example"], 15, "locked: one notice a day, not two, on two nodes")
		for _, s := range got["bob@contoso.example"] {
			assert.Contains(t, s, "Your account is locked")
		}
		fred := []string{"11-02: Your password expires in 3 days", "11-03: Your password expires in 2 days",
			"11-04: Your password expires in 1 day", "11-05: Your password expires today"}
		assert.Equal(t, fred, got["sam@contoso.example"], "the bound contact's e-mail")
		assert.Equal(t, fred, got["+15550100142"], "the bound contact's phone")
		for _, nobody := range []string{"carl@contoso.example", "dora@contoso.example", "erin@contoso.example"} {
			assert.Empty(t, got[nobody], nobody)
		}
		assert.Len(t, got, 5)

		// The tenant's switch off: the next day nobody hears anything.
		_, err := f.eng.PutSelfServeSettings(ctx, f.tenant.ID, "tech:1", core.SelfServeSettings{Enabled: false})
		require.NoError(t, err)
		f.clk.Add(24 * time.Hour)
		n, err := f.eng.SendDirectoryNotices(ctx)
		require.NoError(t, err)
		assert.Zero(t, n)
	})
}

// TestDirectoryNoticesUseTenantTemplates: the notices go out in the
// tenant's own wording where it has one (e-mail subject and body, SMS),
// the e-mail in the branded frame, and in the built-in wording for the
// rest and for a stored template that cannot be rendered.
func TestDirectoryNoticesUseTenantTemplates(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := t.Context()
		now := f.clk.Now()
		users := []core.DirectoryUser{
			{TenantID: f.tenant.ID, ClientID: f.client.ID, GUID: "00000000-0000-4000-8000-0000000000a1", SID: "S-1-5-21-1-2-3-1101",
				SAMAccountName: "alice", GivenName: "Alice", Mail: "alice@contoso.example", MobileE164: "+15550100201", Enabled: true,
				PasswordExpiresAt: now.AddDate(0, 0, 4), SyncedAt: now},
			{TenantID: f.tenant.ID, ClientID: f.client.ID, GUID: "00000000-0000-4000-8000-0000000000b2", SID: "S-1-5-21-1-2-3-1102",
				SAMAccountName: "bob", GivenName: "Bob", Mail: "bob@contoso.example", MobileE164: "+15550100202", Enabled: true, Locked: true,
				PasswordExpiresAt: now.AddDate(0, 0, 60), SyncedAt: now},
		}
		require.NoError(t, st.Update(ctx, func(tx core.Tx) error {
			for _, u := range users {
				if err := tx.PutDirectoryUser(ctx, &u); err != nil {
					return err
				}
				if err := tx.PutSelfServeUser(ctx, &core.SelfServeUser{TenantID: f.tenant.ID, ClientID: f.client.ID,
					GUID: u.GUID, Enabled: true, Status: core.SelfServeRegistered, ChangedAt: now}); err != nil {
					return err
				}
			}
			return tx.PutSelfServeSettings(ctx, &core.SelfServeSettings{TenantID: f.tenant.ID, Enabled: true, UpdatedAt: now})
		}))
		_, err := f.eng.ChangeBranding(ctx, f.tenant.ID, "tech:1", core.BrandingChange{Action: core.AuditMessageTemplateUpdated,
			Apply: func(b *core.Branding) error {
				b.SupportPhone = "+1 555 010 0199"
				b.Messages = map[string]core.MessageTemplate{
					core.MessageNoticeExpiringEmail: {Subject: "{{.Account}}: {{days .DaysLeft}} left",
						Body: "Dear {{.ContactName}}, change the password of {{.Account}} by {{.ExpiresOn}}. Help: {{.Branding.SupportPhone}}"},
					core.MessageNoticeExpiringSMS: {Body: "{{.Account}} expires in {{days .DaysLeft}}"},
					// Stored without the checks (a hand-edited row): no account.
					core.MessageNoticeLockedSMS: {Body: "{{.Code}} locked"},
				}
				return nil
			}})
		require.NoError(t, err)

		n, err := f.eng.SendDirectoryNotices(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		var items []core.OutboxItem
		require.NoError(t, st.View(ctx, func(tx core.Tx) (err error) {
			items, err = tx.ListOutbox(ctx, f.tenant.ID, 0)
			return err
		}))
		got := map[string]core.Outbound{}
		for _, it := range items {
			m, err := f.eng.OpenOutbox(it)
			require.NoError(t, err)
			got[m.To] = m
		}
		mail := got["alice@contoso.example"]
		assert.Equal(t, "alice: 4 days left", mail.Subject)
		assert.Equal(t, "Dear Alice, change the password of alice by "+core.FormatDate(users[0].PasswordExpiresAt, time.UTC)+". Help: +1 555 010 0199", mail.Text)
		assert.Contains(t, mail.HTML, "change the password of alice", "the tenant's text in the branded frame")
		assert.Equal(t, "Acme IT: alice expires in 4 days "+core.OptOutNotice, got["+15550100201"].Text,
			"the sender named, as carriers want; the first text to the number says how to opt out")
		assert.Equal(t, "Your account is locked", got["bob@contoso.example"].Subject, "no template of its own: the built-in wording")
		assert.Contains(t, got["bob@contoso.example"].HTML, "bob", "the built-in e-mail in the branded frame too")
		assert.Contains(t, got["+15550100202"].Text, "bob is locked", "a template that cannot be rendered: the built-in wording")
	})
}

// TestDirectoryNoticesInTenantZone: the notice schedule runs on the
// tenant's calendar (New York here): at 18:30 and 19:30 on the 9th —
// either side of midnight UTC — and at 23:30 the user has had that day's
// one notice, counting 3 days to a password that expires on the 12th; the
// next notice comes after local midnight, counting 2. On SQLite and
// PostgreSQL.
func TestDirectoryNoticesInTenantZone(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := t.Context()
		f.tenant.Branding.TimeZone = "America/New_York"
		require.NoError(t, st.Update(ctx, func(tx core.Tx) error { return tx.UpdateTenant(ctx, &f.tenant) }))
		ny, err := time.LoadLocation("America/New_York")
		require.NoError(t, err)
		guid := "00000000-0000-4000-8000-0000000000a1"
		require.NoError(t, st.Update(ctx, func(tx core.Tx) error {
			u := core.DirectoryUser{TenantID: f.tenant.ID, ClientID: f.client.ID, GUID: guid, SID: "S-1-5-21-1-2-3-1100",
				SAMAccountName: "alice", DisplayName: "alice", Mail: "alice@contoso.example", Enabled: true,
				PasswordExpiresAt: time.Date(2026, 11, 12, 10, 0, 0, 0, ny), SyncedAt: f.clk.Now()}
			if err := tx.PutDirectoryUser(ctx, &u); err != nil {
				return err
			}
			if err := tx.PutSelfServeUser(ctx, &core.SelfServeUser{TenantID: f.tenant.ID, ClientID: f.client.ID,
				GUID: guid, Enabled: true, Status: core.SelfServeRegistered, ChangedAt: f.clk.Now()}); err != nil {
				return err
			}
			return tx.PutSelfServeSettings(ctx, &core.SelfServeSettings{TenantID: f.tenant.ID, Enabled: true, UpdatedAt: f.clk.Now()})
		}))
		subjects := func() []string {
			var items []core.OutboxItem
			require.NoError(t, st.View(ctx, func(tx core.Tx) (err error) {
				items, err = tx.ListOutbox(ctx, f.tenant.ID, 0)
				return err
			}))
			sort.SliceStable(items, func(i, j int) bool { return items[i].CreatedAt.Before(items[j].CreatedAt) })
			var out []string
			for _, it := range items {
				m, err := f.eng.OpenOutbox(it)
				require.NoError(t, err)
				out = append(out, it.CreatedAt.In(ny).Format("01-02 15:04")+": "+m.Subject)
			}
			return out
		}
		for _, local := range []time.Time{
			time.Date(2026, 11, 9, 18, 30, 0, 0, ny), // 23:30 UTC on the 9th
			time.Date(2026, 11, 9, 19, 30, 0, 0, ny), // 00:30 UTC on the 10th
			time.Date(2026, 11, 9, 23, 30, 0, 0, ny),
		} {
			f.clk.Add(local.Sub(f.clk.Now()))
			_, err := f.eng.SendDirectoryNotices(ctx)
			require.NoError(t, err)
		}
		assert.Equal(t, []string{"11-09 18:30: Your password expires in 3 days"}, subjects(), "one notice on the local day, counting local days")
		f.clk.Add(time.Hour) // 00:30 on the 10th in New York
		_, err = f.eng.SendDirectoryNotices(ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{"11-09 18:30: Your password expires in 3 days", "11-10 00:30: Your password expires in 2 days"}, subjects())
	})
}

// TestDirectoryNoticesSMSOptOutAndFirstText: notice texts follow the rules
// of every text. A number that opted out gets none — the user still gets
// the e-mail, a user with only that number gets nothing and uses no day —
// and a number that opts out after a notice was queued is not texted
// either (the outbox checks again). The first text to a number in a year
// names the MSP and says how to opt out; the next day's does not, nor does
// the first notice to a number a verification texted this year. On SQLite
// and PostgreSQL.
func TestDirectoryNoticesSMSOptOutAndFirstText(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := t.Context()
		// A verification texts the contact's phone today.
		f.start(t, core.MethodSMSCode)
		f.deliver(t)
		verified := f.sms.last(t).To
		f.sms.reset()

		day0 := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
		expires := day0.AddDate(0, 0, 5).Add(12 * time.Hour)
		users := []struct{ guid, sam, mail, mobile string }{
			{"00000000-0000-4000-8000-0000000000a1", "alice", "alice@contoso.example", "+15550100201"},
			{"00000000-0000-4000-8000-0000000000b2", "bob", "bob@contoso.example", "+15550100202"}, // opted out
			{"00000000-0000-4000-8000-0000000000c3", "carl", "", "+15550100203"},                   // opted out, no e-mail
			{"00000000-0000-4000-8000-0000000000d4", "dora", "", verified},                         // texted by a verification
		}
		require.NoError(t, st.Update(ctx, func(tx core.Tx) error {
			for i, p := range users {
				u := core.DirectoryUser{TenantID: f.tenant.ID, ClientID: f.client.ID, GUID: p.guid,
					SID: fmt.Sprintf("S-1-5-21-1-2-3-%d", 1100+i), SAMAccountName: p.sam, DisplayName: p.sam, Mail: p.mail,
					MobileE164: p.mobile, Enabled: true, PasswordExpiresAt: expires, SyncedAt: day0}
				if err := tx.PutDirectoryUser(ctx, &u); err != nil {
					return err
				}
				if err := tx.PutSelfServeUser(ctx, &core.SelfServeUser{TenantID: f.tenant.ID, ClientID: f.client.ID,
					GUID: p.guid, Enabled: true, Status: core.SelfServeRegistered, ChangedAt: day0}); err != nil {
					return err
				}
			}
			for _, phone := range []string{"+15550100202", "+15550100203"} {
				if err := tx.PutSMSOptOut(ctx, &core.SMSOptOut{TenantID: f.tenant.ID, Phone: phone, OptedOut: true,
					Keyword: "STOP", ChangedAt: day0}); err != nil {
					return err
				}
			}
			return tx.PutSelfServeSettings(ctx, &core.SelfServeSettings{TenantID: f.tenant.ID, Enabled: true, UpdatedAt: day0})
		}))

		texts := func() map[string][]string {
			f.deliver(t)
			out := map[string][]string{}
			for _, m := range f.sms.all() {
				out[m.To] = append(out[m.To], m.Text)
			}
			f.sms.reset()
			return out
		}
		n, err := f.eng.SendDirectoryNotices(ctx)
		require.NoError(t, err)
		assert.Equal(t, 3, n, "alice, bob (by e-mail only) and dora; carl has nothing to be sent")
		got := texts()
		require.Len(t, got["+15550100201"], 1)
		assert.Contains(t, got["+15550100201"][0], "Acme IT", "the MSP named")
		assert.True(t, strings.HasSuffix(got["+15550100201"][0], " "+core.OptOutNotice), "a first text says how to opt out: %s", got["+15550100201"][0])
		require.Len(t, got[verified], 1)
		assert.NotContains(t, got[verified][0], "STOP", "the verification's text this year said it already")
		assert.Empty(t, got["+15550100202"], "opted out")
		assert.Empty(t, got["+15550100203"], "opted out")
		assert.Len(t, got, 2)
		var bobMail bool
		for _, m := range f.mail.all() {
			bobMail = bobMail || m.To == "bob@contoso.example"
		}
		assert.True(t, bobMail, "bob still gets the e-mail")
		evs, err := f.eng.AuditEvents(ctx, f.tenant.ID, core.AuditQuery{Action: core.AuditDirectoryNotice})
		require.NoError(t, err)
		refused := map[string]string{}
		for _, ev := range evs {
			refused[ev.Detail["guid"]] = ev.Detail["sms_refused"] + " " + ev.Detail["channels"]
		}
		assert.Equal(t, core.AuditSendRefusedOptOut+" [email]", refused[users[1].guid])
		assert.NotContains(t, refused, users[2].guid, "no notice for carl: nothing could be sent")

		// The next day: alice's text no longer says it.
		f.clk.Add(24 * time.Hour)
		_, err = f.eng.SendDirectoryNotices(ctx)
		require.NoError(t, err)
		got = texts()
		require.Len(t, got["+15550100201"], 1)
		assert.NotContains(t, got["+15550100201"][0], "STOP")
		assert.Contains(t, got["+15550100201"][0], "Acme IT")

		// The day after, alice texts STOP once the notice is queued.
		f.clk.Add(24 * time.Hour)
		_, err = f.eng.SendDirectoryNotices(ctx)
		require.NoError(t, err)
		require.NoError(t, st.Update(ctx, func(tx core.Tx) error {
			return tx.PutSMSOptOut(ctx, &core.SMSOptOut{TenantID: f.tenant.ID, Phone: "+15550100201", OptedOut: true,
				Keyword: "STOP", ChangedAt: f.clk.Now()})
		}))
		got = texts()
		assert.Empty(t, got["+15550100201"], "opted out before delivery: not texted")
		assert.Len(t, got[verified], 1)
	})
}
