package core_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/duo"
	"github.com/countersign/countersign/core/duo/duotest"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// duoFixture is the engine fixture with a fake Duo whose users are given,
// and the tenant's default Duo account saved through the live check.
type duoFixture struct {
	*fixture
	duo  *duotest.Server
	acct core.DuoAccountView
	note string // the PSA integration for ticket notes
}

func newDuoFixture(t *testing.T, st *store.Store, fake *duotest.Server) *duoFixture {
	t.Helper()
	conn := duo.Connector(duo.Options{HTTPClient: fake.HTTPClient(), AllowHost: func(h string) bool { return h == fake.Host() }})
	f := &duoFixture{fixture: newFixture(t, st, func(c *core.Config) { c.Duo = conn }), duo: fake}
	var err error
	f.acct, err = f.eng.SaveDuoAccount(t.Context(), f.tenant.ID, "tech:"+f.admin.ID, core.DuoAccountInput{Name: "Acme Duo", Config: fake.Config()})
	require.NoError(t, err)
	in, err := f.eng.PutIntegration(t.Context(), f.tenant.ID, "test", core.Integration{Kind: "memory", Name: "PSA", Config: []byte(`{}`)})
	require.NoError(t, err)
	f.note = in.ID
	return f
}

func (f *duoFixture) push(t *testing.T) (core.Verification, error) {
	t.Helper()
	return f.eng.StartDuoPush(t.Context(), core.PushRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID,
		ContactID: f.contact.ID, TicketRef: "4821", IntegrationID: f.note})
}

// settle waits for the background poll to record Duo's answer.
func (f *duoFixture) settle(t *testing.T, id string) core.Verification {
	t.Helper()
	f.eng.Wait()
	return f.verification(t, id)
}

func auditActions(t *testing.T, f *fixture, subject string) []string {
	t.Helper()
	evs, err := f.eng.AuditEvents(t.Context(), f.tenant.ID, core.AuditQuery{})
	require.NoError(t, err)
	var out []string
	for _, e := range evs {
		if e.Subject == subject {
			out = append(out, e.Action)
		}
	}
	return out
}

func TestDuoPushApproved(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		approve := duotest.Approve
		approve.Delay = 50 * time.Millisecond
		fake := duotest.Start(t, duotest.User{Username: "sam@contoso.example", Auto: &approve})
		f := newDuoFixture(t, st, fake)

		v, err := f.push(t)
		require.NoError(t, err)
		assert.Equal(t, core.StatusSent, v.Status, v.Detail)
		assert.Equal(t, "sam@contoso.example", v.Destination, "matched by e-mail")
		assert.Contains(t, v.Detail, "Push sent to iPhone of sam@contoso.example")
		assert.NotEmpty(t, v.ProviderRef, "Duo's txid is kept")

		pushes := fake.Pushes()
		require.Len(t, pushes, 1)
		assert.Equal(t, "Help desk verification", pushes[0].Type)
		assert.Equal(t, "Acme IT", pushes[0].Pushinfo.Get("MSP"))
		assert.Equal(t, "jane", pushes[0].Pushinfo.Get("Technician"))
		assert.Equal(t, "4821", pushes[0].Pushinfo.Get("Ticket"))

		v = f.settle(t, v.ID)
		assert.Equal(t, core.StatusVerified, v.Status)
		assert.Contains(t, v.Detail, "Approved in Duo Mobile (approve-only push)")
		assert.Equal(t, "allow", v.DeliveryStatus)
		hist, err := f.eng.History(t.Context(), f.tenant.ID, f.contact.ID)
		require.NoError(t, err)
		assert.Equal(t, core.ShieldGreen, core.ShieldFor(hist, f.clk.Now()).State)
		assert.Subset(t, auditActions(t, f.fixture, v.ID), []string{"verification.started", "verification.sent", core.AuditPushAnswered, "verification.verified"})

		users, err := f.eng.DuoUsers(t.Context(), f.tenant.ID, f.acct.ID)
		require.NoError(t, err)
		require.Len(t, users, 1)
		assert.Equal(t, "email", users[0].MatchedBy, "the mapping found is shown")

		f.deliver(t)
		note := f.notes.last(t)
		assert.Contains(t, note.Text, "VERIFIED by Duo push")
	})
}

func TestDuoPushOutcomes(t *testing.T) {
	cases := []struct {
		name    string
		outcome duotest.Outcome
		detail  string
		alert   bool
		blocked bool // the next push is refused for 24 hours
	}{
		{name: "deny", outcome: duotest.Deny, detail: "tapped Deny", alert: true, blocked: true},
		{name: "fraud", outcome: duotest.Fraud, detail: "reported this push as fraud", alert: true, blocked: true},
		{name: "timeout", outcome: duotest.Timeout, detail: "no response on the phone"},
		{name: "bypass", outcome: duotest.Bypass, detail: "bypass mode — not verified"},
		{name: "push failed", outcome: duotest.PushFailed, detail: "could not be delivered"},
		{name: "locked out", outcome: duotest.LockedOut, detail: "locked out in Duo"},
		{name: "allow with unknown status", outcome: duotest.Outcome{Result: "allow", Status: "sms_allowed"}, detail: "not an approval"},
	}
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				o := tc.outcome
				fake := duotest.Start(t, duotest.User{Username: "sam@contoso.example", Auto: &o})
				f := newDuoFixture(t, st, fake)
				v, err := f.push(t)
				require.NoError(t, err)
				v = f.settle(t, v.ID)
				assert.Equal(t, core.StatusFailed, v.Status, "only allow/allow verifies")
				assert.Contains(t, v.Detail, tc.detail)
				assert.Contains(t, auditActions(t, f.fixture, v.ID), core.AuditPushAnswered)

				f.deliver(t)
				alerts := 0
				for _, m := range f.mail.msgs {
					if strings.HasPrefix(m.Subject, "Countersign alert: Duo push") {
						alerts++
						assert.Equal(t, f.admin.Email, m.To)
						assert.Contains(t, m.Text, "ticket 4821")
					}
				}
				if tc.alert {
					assert.Equal(t, 1, alerts, "the MSP's admins are alerted")
					assert.Contains(t, auditActions(t, f.fixture, v.ID), core.AuditPushAlert)
				} else {
					assert.Zero(t, alerts)
				}
				assert.Contains(t, f.notes.last(t).Text, "NOT verified", "the result is written to the ticket")

				f.clk.Add(time.Minute)
				_, err = f.push(t)
				if tc.blocked {
					require.Error(t, err)
					assert.Equal(t, core.KindForbidden, kindOf(err))
					assert.Contains(t, err.Error(), "stopped for 24 hours")
				} else {
					assert.NoError(t, err)
					f.eng.Wait()
				}
			})
		}
	})
}

func TestDuoPushUnavailable(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		for _, tc := range []struct {
			name string
			user *duotest.User
			want string
		}{
			{name: "not in Duo", want: "Duo user not found"},
			{name: "bypass at preauth", user: &duotest.User{Username: "sam@contoso.example", Preauth: "allow"}, want: "does not challenge this user"},
			{name: "denied at preauth", user: &duotest.User{Username: "sam@contoso.example", Preauth: "deny"}, want: "refuses this user"},
			{name: "no push device", user: &duotest.User{Username: "sam@contoso.example",
				Devices: []duotest.Device{{ID: "DP1", Type: "token", Capabilities: []string{"mobile_otp"}}}}, want: "cannot receive a push"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				fake := duotest.Start(t)
				if tc.user != nil {
					fake.AddUser(*tc.user)
				}
				f := newDuoFixture(t, st, fake)
				v, err := f.push(t)
				require.NoError(t, err)
				assert.Equal(t, core.StatusCancelled, v.Status, "not a verification failure")
				assert.Contains(t, v.Detail, tc.want)
				assert.Empty(t, fake.Pushes(), "nothing was pushed")
				assert.Contains(t, auditActions(t, f.fixture, v.ID), core.AuditPushUnavailable)
				// An unavailable push is no push: the limits do not count it.
				for range 4 {
					_, err := f.push(t)
					require.NoError(t, err)
				}
			})
		}
	})
}

// TestDuoPushDuoFails: Duo refusing the request itself ("stat":"FAIL" —
// here our clock drifted after the account was set up, so Duo refuses the
// signed Date, which the technician is told in those words rather than
// Duo's "Request has expired") or not answering (a 503) is not a verification failure
// (channels.md §2.6): the push ends cancelled with Duo's words, nothing is
// pushed, it is audited, no alert goes out, and it does not count toward
// the push limits. Once Duo answers again the push goes.
func TestDuoPushDuoFails(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		approve := duotest.Approve
		fake := duotest.Start(t, duotest.User{Username: "sam@contoso.example", Auto: &approve})
		f := newDuoFixture(t, st, fake)
		for _, tc := range []struct {
			name  string
			fault func(bool)
			want  string
		}{
			{name: "clock skew", fault: func(on bool) {
				if on {
					fake.SetClockOffset(20 * time.Minute)
				} else {
					fake.SetClockOffset(0)
				}
			}, want: "Duo push unavailable: Duo configuration error: Duo refused the request's date: this server's clock is off; keep it NTP-synced (Request has expired)"},
			{name: "duo down", fault: fake.SetDown, want: "Duo push unavailable: Duo could not be reached; try again or use another method"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tc.fault(true)
				for range 4 { // more than the 3 pushes in 15 minutes: none counts
					f.clk.Add(time.Second)
					v, err := f.push(t)
					require.NoError(t, err)
					v = f.settle(t, v.ID)
					assert.Equal(t, core.StatusCancelled, v.Status, "not a verification failure")
					assert.Equal(t, tc.want, v.Detail)
					assert.Contains(t, auditActions(t, f.fixture, v.ID), core.AuditPushUnavailable)
					assert.NotContains(t, auditActions(t, f.fixture, v.ID), core.AuditPushAlert)
				}
				assert.Empty(t, fake.Pushes(), "nothing was pushed")
				tc.fault(false)
			})
		}
		f.deliver(t)
		for _, m := range f.mail.msgs {
			assert.False(t, strings.HasPrefix(m.Subject, "Countersign alert"), "no alert: %s", m.Subject)
		}

		v, err := f.push(t)
		require.NoError(t, err)
		v = f.settle(t, v.ID)
		assert.Equal(t, core.StatusVerified, v.Status, v.Detail)
		assert.Len(t, fake.Pushes(), 1)
	})
}

func TestDuoUserMatching(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		approve := duotest.Approve
		fake := duotest.Start(t, duotest.User{Username: "sam", Auto: &approve}, duotest.User{Username: "s.caller", Auto: &approve})
		f := newDuoFixture(t, st, fake)
		v, err := f.push(t)
		require.NoError(t, err)
		assert.Equal(t, "sam", v.Destination, "the e-mail's local part is tried after the address")
		f.eng.Wait()
		users, err := f.eng.DuoUsers(t.Context(), f.tenant.ID, f.acct.ID)
		require.NoError(t, err)
		require.Len(t, users, 1)
		assert.Equal(t, "email local part", users[0].MatchedBy)

		// An admin's mapping wins, and the matcher does not overwrite it.
		_, err = f.eng.SetDuoUser(t.Context(), f.tenant.ID, "tech:"+f.admin.ID, f.acct.ID, f.contact.ID, "s.caller")
		require.NoError(t, err)
		v, err = f.push(t)
		require.NoError(t, err)
		assert.Equal(t, "s.caller", v.Destination)
		f.eng.Wait()
		users, err = f.eng.DuoUsers(t.Context(), f.tenant.ID, f.acct.ID)
		require.NoError(t, err)
		assert.Equal(t, "manual", users[0].MatchedBy)
		require.Len(t, fake.Pushes(), 2)
		assert.Equal(t, "s.caller", fake.Pushes()[1].Username)

		_, err = f.eng.SetDuoUser(t.Context(), f.tenant.ID, "tech:"+f.admin.ID, f.acct.ID, f.contact.ID, "a b")
		assert.Equal(t, core.KindInvalid, kindOf(err))
	})
}

func TestDuoAccountSetup(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		fake := duotest.Start(t)
		f := newDuoFixture(t, st, fake)
		ctx := t.Context()
		actor := "tech:" + f.admin.ID

		bad := fake.Config()
		bad.SecretKey = strings.Repeat("y", 40)
		_, err := f.eng.SaveDuoAccount(ctx, f.tenant.ID, actor, core.DuoAccountInput{ClientID: f.client.ID, Config: bad})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "secret key is wrong")

		fake.SetClockOffset(-20 * time.Minute)
		_, err = f.eng.SaveDuoAccount(ctx, f.tenant.ID, actor, core.DuoAccountInput{ClientID: f.client.ID, Config: fake.Config()})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "clock is off", "clock skew is named")
		fake.SetClockOffset(0)

		bad = fake.Config()
		bad.IntegrationKey = "short"
		_, err = f.eng.SaveDuoAccount(ctx, f.tenant.ID, actor, core.DuoAccountInput{ClientID: f.client.ID, Config: bad})
		assert.Equal(t, core.KindInvalid, kindOf(err))

		own, err := f.eng.SaveDuoAccount(ctx, f.tenant.ID, actor, core.DuoAccountInput{ClientID: f.client.ID, Name: "Contoso's Duo", Config: fake.Config()})
		require.NoError(t, err)
		// Edited without the secret: the stored one is kept.
		edit := fake.Config()
		edit.SecretKey = ""
		_, err = f.eng.SaveDuoAccount(ctx, f.tenant.ID, actor, core.DuoAccountInput{ID: own.ID, ClientID: f.client.ID, Name: "Contoso Duo", Config: edit, VerifiedPush: true})
		require.NoError(t, err)
		_, err = f.eng.SaveDuoAccount(ctx, f.tenant.ID, actor, core.DuoAccountInput{ClientID: f.client.ID, Config: fake.Config()})
		assert.Equal(t, core.KindConflict, kindOf(err), "one account per client")

		list, err := f.eng.DuoAccounts(ctx, f.tenant.ID)
		require.NoError(t, err)
		require.Len(t, list, 2)
		assert.Equal(t, "", list[0].ClientID, "the tenant default first")
		assert.Equal(t, "Contoso Duo", list[1].Name)
		assert.True(t, list[1].VerifiedPush)
		assert.Equal(t, fake.Host(), list[1].APIHost)

		a, err := f.eng.CheckDuoAccount(ctx, f.tenant.ID, actor, own.ID)
		require.NoError(t, err)
		assert.Equal(t, "ok", a.CheckResult)

		// The keys are sealed: the row holds neither secret nor key.
		require.NoError(t, st.View(ctx, func(tx core.Tx) error {
			row, err := tx.DuoAccount(ctx, f.tenant.ID, own.ID)
			require.NoError(t, err)
			assert.NotContains(t, string(row.Sealed), duotest.DefaultSKey)
			assert.NotContains(t, string(row.Sealed), duotest.DefaultIKey)
			return nil
		}))
		// Another tenant cannot read it.
		_, err = f.eng.CheckDuoAccount(ctx, "ten_other", actor, own.ID)
		assert.Equal(t, core.KindNotFound, kindOf(err))

		require.NoError(t, f.eng.DeleteDuoAccount(ctx, f.tenant.ID, actor, own.ID))
		assert.Equal(t, core.KindNotFound, kindOf(f.eng.DeleteDuoAccount(ctx, f.tenant.ID, actor, own.ID)))
	})
}

// TestDuoPushBombing presses Push for one user 20 times at once, again and
// again: Duo gets exactly as many pushes as the limits allow.
func TestDuoPushBombing(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		fake := &duotest.Server{}
		fake.AddUser(duotest.User{Username: "sam@contoso.example"}) // pushes wait for an answer
		fake.Serve(t)
		f := newDuoFixture(t, st, fake)

		press := func() (ok, conflict, limited int) {
			var (
				mu sync.Mutex
				wg sync.WaitGroup
			)
			for range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := f.push(t)
					mu.Lock()
					defer mu.Unlock()
					switch kindOf(err) {
					case core.KindInternal:
						if err == nil {
							ok++
							return
						}
						t.Errorf("unexpected error: %v", err)
					case core.KindConflict:
						conflict++
					case core.KindRateLimited:
						limited++
					default:
						t.Errorf("unexpected error: %v", err)
					}
				}()
			}
			wg.Wait()
			return
		}
		// Within one minute: each round of 20 presses sends one push (one
		// outstanding per user); the user lets it time out; the fourth
		// round is refused by the 3-per-15-minutes limit.
		for round := 1; round <= 4; round++ {
			ok, conflict, limited := press()
			if round <= 3 {
				assert.Equal(t, 1, ok, "round %d: exactly one push", round)
				assert.Equal(t, 19, conflict, "round %d: the others see it pending", round)
				require.Len(t, fake.WaitPushes(round, 5*time.Second), round)
				require.True(t, fake.Answer("sam@contoso.example", duotest.Timeout))
				f.eng.Wait()
			} else {
				assert.Zero(t, ok)
				assert.Equal(t, 20, limited, "the limit refuses every press")
			}
			f.clk.Add(10 * time.Second)
		}
		assert.Len(t, fake.Pushes(), 3, "pushes sent: exactly the limit")

		// After 15 minutes one more is allowed; a success resets the counters.
		f.clk.Add(15 * time.Minute)
		_, err := f.push(t)
		require.NoError(t, err)
		require.Len(t, fake.WaitPushes(4, 5*time.Second), 4)
		require.True(t, fake.Answer("sam@contoso.example", duotest.Approve))
		f.eng.Wait()
		for range 3 {
			f.clk.Add(time.Second)
			_, err := f.push(t)
			require.NoError(t, err)
			fake.WaitPushes(len(fake.Pushes())+1, time.Second)
			require.True(t, fake.Answer("sam@contoso.example", duotest.Timeout))
			f.eng.Wait()
		}
		_, err = f.push(t)
		assert.Equal(t, core.KindRateLimited, kindOf(err))
	})
}

// TestPushBombingPerTechnician: one technician presses Push for 20
// different users at once, with the policy's 2 pushes per technician an
// hour: exactly 2 pushes go out (each user's own lock does not serialise
// presses for different users), the others are refused by the limit; a
// push Duo could not take before them does not count. Before the fix all
// 20 went out on SQLite (the send was recorded only after Duo's answer)
// and 15 on PostgreSQL.
func TestPushBombingPerTechnician(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		fake := &duotest.Server{}
		fake.Serve(t)
		f := newDuoFixture(t, st, fake)
		ctx := t.Context()
		p := core.DefaultPolicy()
		p.Push.PerTechnicianHour = 2
		require.NoError(t, f.eng.PutPolicy(ctx, f.tenant.ID, "test", "", p))
		var ids []string
		for i := range 20 {
			email := fmt.Sprintf("user%02d@contoso.example", i)
			fake.AddUser(duotest.User{Username: email}) // pushes wait for an answer
			c, err := f.eng.CreateContact(ctx, f.tenant.ID, "test", "manual", core.NewContact{ClientID: f.client.ID,
				FirstName: fmt.Sprintf("User%02d", i), Emails: []core.NewDestination{{Value: email, Default: true}}})
			require.NoError(t, err)
			ids = append(ids, c.ID)
		}
		// A push Duo cannot take (no such user) gives its slot back.
		ghost, err := f.eng.CreateContact(ctx, f.tenant.ID, "test", "manual", core.NewContact{ClientID: f.client.ID,
			FirstName: "Ghost", Emails: []core.NewDestination{{Value: "ghost@contoso.example", Default: true}}})
		require.NoError(t, err)
		gv, err := f.eng.StartDuoPush(ctx, core.PushRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID,
			ContactID: ghost.ID, TicketRef: "4821", IntegrationID: f.note})
		require.NoError(t, err)
		require.Equal(t, core.StatusCancelled, gv.Status, gv.Detail)
		var (
			mu          sync.Mutex
			wg          sync.WaitGroup
			ok, limited int
		)
		for _, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := f.eng.StartDuoPush(ctx, core.PushRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID,
					ContactID: id, TicketRef: "4821", IntegrationID: f.note})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case kindOf(err) == core.KindRateLimited:
					limited++
				default:
					t.Errorf("unexpected error: %v", err)
				}
			}()
		}
		wg.Wait()
		assert.Equal(t, 2, ok, "exactly the technician's limit")
		assert.Equal(t, 18, limited)
		assert.Len(t, fake.WaitPushes(2, 5*time.Second), 2, "pushes sent: exactly the limit")
		for _, p := range fake.Pushes() {
			fake.Answer(p.Username, duotest.Timeout)
		}
		f.eng.Wait()
	})
}

func TestPushLimitsPolicyBounds(t *testing.T) {
	p := core.DefaultPolicy()
	p.Push.PerContact15m = 4
	assert.Error(t, p.Validate(), "looser than security.md §4")
	p.Push.PerContact15m = 1
	p.Push.PerTechnicianHour = 31
	assert.Error(t, p.Validate())
	p.Push.PerTechnicianHour = 5
	assert.NoError(t, p.Validate())
}

func TestRoutes(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		fake := duotest.Start(t, duotest.User{Username: "sam"})
		f := newDuoFixture(t, st, fake)
		routes, err := f.eng.Routes(t.Context(), f.tenant.ID, f.contact.ID)
		require.NoError(t, err)
		var methods []core.Method
		for _, r := range routes {
			methods = append(methods, r.Method)
		}
		assert.Equal(t, []core.Method{core.MethodDuoPush, core.MethodWorkstationPrompt, core.MethodSMSCode, core.MethodVoiceCode,
			core.MethodSMSLink, core.MethodEmailCode, core.MethodEmailLink}, methods, "strongest factors first")
		assert.True(t, routes[0].Available, routes[0].Reason)
		assert.Equal(t, "push to iPhone of sam", routes[0].Reason)
		assert.Equal(t, "Duo user sam", routes[0].Destination)
		assert.Equal(t, "Medium — approve-only push", routes[0].Assurance)
		assert.False(t, routes[1].Available, "no agent bound")
		assert.Contains(t, routes[1].Reason, "no Windows user bound")
		assert.True(t, routes[2].Available)
		assert.Equal(t, "manual", routes[2].Source, "a phone's provenance is shown")
		assert.Equal(t, "2 Nov 2026", routes[2].SourceDate)
		assert.Equal(t, "Duo user matched by e-mail name (before the @)", routes[0].Provenance, "in words, not the matcher's key")

		// The policy orders and narrows the list; a number that opted out
		// says so; a user Duo does not know says so.
		p := core.DefaultPolicy()
		p.Methods = []core.Method{core.MethodSMSCode, core.MethodDuoPush, core.MethodEmailLink}
		require.NoError(t, f.eng.PutPolicy(t.Context(), f.tenant.ID, "test", "", p))
		f.sms.fail = []error{&core.PermanentError{Code: "21610", Reason: "recipient has opted out of SMS from this number"}}
		f.start(t, core.MethodSMSCode)
		f.deliver(t)
		_, err = f.eng.SetDuoUser(t.Context(), f.tenant.ID, "test", f.acct.ID, f.contact.ID, "nobody")
		require.NoError(t, err)
		routes, err = f.eng.Routes(t.Context(), f.tenant.ID, f.contact.ID)
		require.NoError(t, err)
		require.Len(t, routes, 3)
		assert.Equal(t, core.MethodSMSCode, routes[0].Method)
		assert.False(t, routes[0].Available)
		assert.Contains(t, routes[0].Reason, "opted out")
		assert.False(t, routes[1].Available)
		assert.Equal(t, "Duo user not found or not enrolled in Duo", routes[1].Reason)
		assert.True(t, routes[2].Available)
	})
}

// TestPushDeniedBlockPolicy: a policy may keep pushes stopped longer than
// 24 hours after a denial (never shorter); the refusal, the MSP's alert
// and the limit all use the policy's length.
func TestPushDeniedBlockPolicy(t *testing.T) {
	p := core.DefaultPolicy()
	assert.Equal(t, 24*time.Hour, p.Push.DeniedBlock.D(), "security.md §4's default")
	for _, d := range []time.Duration{23 * time.Hour, 169 * time.Hour, -time.Hour} {
		p.Push.DeniedBlock = core.Duration(d)
		err := p.Validate()
		require.Error(t, err, d)
		assert.Contains(t, err.Error(), "between 24h and 168h", d)
	}
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		deny := duotest.Deny
		fake := duotest.Start(t, duotest.User{Username: "sam@contoso.example", Auto: &deny})
		f := newDuoFixture(t, st, fake)
		p := core.DefaultPolicy()
		p.Push.DeniedBlock = core.Duration(72 * time.Hour)
		require.NoError(t, f.eng.PutPolicy(t.Context(), f.tenant.ID, "test", "", p))

		v, err := f.push(t)
		require.NoError(t, err)
		assert.Equal(t, core.StatusFailed, f.settle(t, v.ID).Status)
		f.deliver(t)
		var alert string
		for _, m := range f.mail.msgs {
			if strings.HasPrefix(m.Subject, "Countersign alert: Duo push") {
				alert = m.Text
			}
		}
		assert.Contains(t, alert, "Pushes to this user are stopped for 72 hours.")

		f.clk.Add(71 * time.Hour)
		_, err = f.push(t)
		require.Error(t, err, "still within the policy's 72 hours")
		assert.Equal(t, core.KindForbidden, kindOf(err))
		assert.Contains(t, err.Error(), "stopped for 72 hours")

		f.clk.Add(2 * time.Hour)
		approve := duotest.Approve
		fake.AddUser(duotest.User{Username: "sam@contoso.example", Auto: &approve})
		v, err = f.push(t)
		require.NoError(t, err, "73 hours later pushes go again")
		assert.Equal(t, core.StatusVerified, f.settle(t, v.ID).Status)
	})
}
