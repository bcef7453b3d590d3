package core_test

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign/assets"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/secret"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// capture is a Sender that records what it is given and can be told to fail.
type capture struct {
	mu     sync.Mutex
	msgs   []core.Outbound
	fail   []error // returned (and removed) one per Send before succeeding
	refuse error   // returned by every Send while set (a misconfiguration)
	calls  int     // every Send, refused or not
}

func (c *capture) Send(ctx context.Context, m core.Outbound) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if c.refuse != nil {
		return "", c.refuse
	}
	if len(c.fail) > 0 {
		err := c.fail[0]
		c.fail = c.fail[1:]
		return "", err
	}
	c.msgs = append(c.msgs, m)
	return "REF" + string(rune('A'+len(c.msgs))), nil
}

func (c *capture) last(t *testing.T) core.Outbound {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	require.NotEmpty(t, c.msgs, "no message was sent")
	return c.msgs[len(c.msgs)-1]
}

var (
	codeRE = regexp.MustCompile(`\b(\d{3}) ?(\d{3})\b`)
	linkRE = regexp.MustCompile(`https?://\S+/l/[^/\s]+/[A-Za-z0-9_-]+`)
)

func codeIn(t *testing.T, m core.Outbound) string {
	t.Helper()
	g := codeRE.FindStringSubmatch(m.Text)
	require.NotNil(t, g, "no code in %q", m.Text)
	return g[1] + g[2]
}

// fixture is a tenant with a client, a contact with two phones and an email,
// and two technicians, on a real store.
type fixture struct {
	st              *store.Store
	eng             *core.Engine
	clk             *clock
	sms, mail, call *capture
	notes           *capture
	inbound         *capture // acts on inbound PSA events
	tenant          core.Tenant
	client          core.Client
	contact         core.Contact
	tech, other     core.Technician
	admin           core.Technician
}

func newFixture(t *testing.T, st *store.Store, mods ...func(*core.Config)) *fixture {
	t.Helper()
	ctx := t.Context()
	f := &fixture{st: st, clk: &clock{t: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)},
		sms: &capture{}, mail: &capture{}, call: &capture{}, notes: &capture{}, inbound: &capture{}}
	keys, err := secret.NewKeyring("k1", map[string][]byte{"k1": make([]byte, 32)})
	require.NoError(t, err)
	msgs, err := assets.NewMessages()
	require.NoError(t, err)
	cfg := core.Config{
		Store: st, Renderer: msgs, Sealer: keys, CodeKey: keys.Derive("code-hmac"), PublicURL: "https://verify.example.com",
		Senders: map[core.OutboxKind]core.Sender{core.OutboxSMS: f.sms, core.OutboxEmail: f.mail, core.OutboxVoice: f.call,
			core.OutboxTicketNote: f.notes, core.OutboxInboundEvent: f.inbound},
		Now: f.clk.Now, Logger: slog.New(slog.DiscardHandler),
	}
	for _, m := range mods {
		m(&cfg)
	}
	f.eng, err = core.NewEngine(cfg)
	require.NoError(t, err)
	f.tenant = core.Tenant{ID: core.NewID("ten"), Slug: "acme-" + core.NewID("x")[2:8], Name: "Acme IT", CreatedAt: f.clk.Now()}
	f.client = core.Client{ID: core.NewID("cli"), TenantID: f.tenant.ID, Name: "Contoso", CreatedAt: f.clk.Now()}
	mk := func(name string, role core.Role) core.Technician {
		return core.Technician{ID: core.NewID("tec"), TenantID: f.tenant.ID, Email: name + "@acme.example", Name: name, Role: role, CreatedAt: f.clk.Now()}
	}
	f.tech, f.other, f.admin = mk("jane", core.RoleTechnician), mk("joe", core.RoleTechnician), mk("ann", core.RoleAdmin)
	require.NoError(t, st.Update(ctx, func(tx core.Tx) error {
		if err := tx.CreateTenant(ctx, &f.tenant); err != nil {
			return err
		}
		if err := tx.CreateClient(ctx, &f.client); err != nil {
			return err
		}
		for _, tc := range []*core.Technician{&f.tech, &f.other, &f.admin} {
			if err := tx.CreateTechnician(ctx, tc); err != nil {
				return err
			}
		}
		return nil
	}))
	f.contact, err = f.eng.CreateContact(ctx, f.tenant.ID, "test", "manual", core.NewContact{
		ClientID: f.client.ID, FirstName: "Sam", LastName: "Caller",
		Phones: []core.NewDestination{{Value: "(555) 010-0142", Label: "Mobile", Default: true}, {Value: "+1 555 010 0199", Label: "Home"}},
		Emails: []core.NewDestination{{Value: "Sam@Contoso.example", Default: true}},
	})
	require.NoError(t, err)
	return f
}

func (f *fixture) start(t *testing.T, m core.Method, mod ...func(*core.StartRequest)) core.Started {
	t.Helper()
	req := core.StartRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID, ContactID: f.contact.ID, Method: m, TicketRef: "4821"}
	for _, fn := range mod {
		fn(&req)
	}
	st, err := f.eng.Start(t.Context(), req)
	require.NoError(t, err)
	return st
}

// deliver waits for sends started after commits, then runs the outbox once.
func (f *fixture) deliver(t *testing.T) {
	t.Helper()
	f.eng.Wait()
	_, err := f.eng.DeliverDue(t.Context())
	require.NoError(t, err)
}

func (f *fixture) verification(t *testing.T, id string) core.Verification {
	t.Helper()
	v, err := f.eng.Verification(t.Context(), f.tenant.ID, id)
	require.NoError(t, err)
	return v
}

func kindOf(err error) core.Kind { return core.ErrorKind(err) }

func TestSMSCodeFlow(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		started := f.start(t, core.MethodSMSCode)
		assert.Equal(t, core.StatusPending, started.Verification.Status)
		assert.Empty(t, started.TechCode, "technicians never see a read-back code")
		f.deliver(t)
		msg := f.sms.last(t)
		assert.Equal(t, "+15550100142", msg.To)
		assert.Equal(t, 5*time.Minute, msg.ValidityPeriod, "SMS validity is the code lifetime")
		code := codeIn(t, msg)
		assert.Len(t, code, 6)

		v := f.verification(t, started.Verification.ID)
		assert.Equal(t, core.StatusSent, v.Status)
		assert.NotContains(t, string(v.SecretHash), code, "only a hash is stored")

		_, err := f.eng.CheckCode(t.Context(), f.tenant.ID, f.tech.ID, v.ID, wrongFor(code))
		require.Equal(t, core.KindInvalid, kindOf(err))
		v, err = f.eng.CheckCode(t.Context(), f.tenant.ID, f.tech.ID, v.ID, code[:3]+" "+code[3:])
		require.NoError(t, err)
		assert.Equal(t, core.StatusVerified, v.Status)
		assert.Equal(t, 1, v.Attempts)
		assert.Equal(t, f.clk.Now().Add(8*time.Hour), v.VerifiedUntil)

		hist, err := f.eng.History(t.Context(), f.tenant.ID, f.contact.ID)
		require.NoError(t, err)
		assert.Equal(t, core.ShieldGreen, core.ShieldFor(hist, f.clk.Now()).State)
		f.clk.Add(9 * time.Hour)
		assert.Equal(t, core.ShieldGrey, core.ShieldFor(hist, f.clk.Now()).State, "shield fades after the policy's duration")

		// Reuse of a consumed code is refused.
		_, err = f.eng.CheckCode(t.Context(), f.tenant.ID, f.tech.ID, v.ID, code)
		assert.Equal(t, core.KindGone, kindOf(err))
	})
}

func TestConcurrentWrongGuessesCountedExactly(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		started := f.start(t, core.MethodSMSCode)
		f.deliver(t)
		code := codeIn(t, f.sms.last(t))
		wrong := "111111"
		if code == wrong {
			wrong = "222222"
		}
		const guesses = 50
		var wg sync.WaitGroup
		results := make(chan error, guesses)
		for range guesses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := f.eng.CheckCode(context.Background(), f.tenant.ID, f.tech.ID, started.Verification.ID, wrong)
				results <- err
			}()
		}
		wg.Wait()
		close(results)
		counts := map[core.Kind]int{}
		for err := range results {
			require.Error(t, err)
			counts[kindOf(err)]++
		}
		v := f.verification(t, started.Verification.ID)
		assert.Equal(t, 5, v.Attempts, "exactly the attempt limit was counted")
		assert.Equal(t, core.StatusFailed, v.Status)
		assert.Equal(t, 4, counts[core.KindInvalid], "four wrong-code answers with attempts left")
		assert.Equal(t, guesses-4, counts[core.KindGone], "the fifth burns the code; the rest find it closed")
		// The right code no longer works.
		_, err := f.eng.CheckCode(t.Context(), f.tenant.ID, f.tech.ID, v.ID, code)
		assert.Equal(t, core.KindGone, kindOf(err))
	})
}

func TestExpiredAndCancelledSecretsRefused(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		expiring := f.start(t, core.MethodSMSCode)
		f.deliver(t)
		code := codeIn(t, f.sms.last(t))
		f.clk.Add(5*time.Minute + time.Second)
		_, err := f.eng.CheckCode(t.Context(), f.tenant.ID, f.tech.ID, expiring.Verification.ID, code)
		assert.Equal(t, core.KindGone, kindOf(err))
		assert.Equal(t, core.StatusExpired, f.verification(t, expiring.Verification.ID).Status)

		f.clk.Add(time.Hour) // out of the hourly quotas
		cancelled := f.start(t, core.MethodVoiceCode)
		f.deliver(t)
		spoken := f.call.last(t)
		require.NotEmpty(t, spoken.Say)
		_, err = f.eng.Cancel(t.Context(), f.tenant.ID, f.tech.ID, cancelled.Verification.ID)
		require.NoError(t, err)
		code = codeIn(t, core.Outbound{Text: strings.ReplaceAll(spoken.Text, ", ", "")})
		_, err = f.eng.CheckCode(t.Context(), f.tenant.ID, f.tech.ID, cancelled.Verification.ID, code)
		assert.Equal(t, core.KindGone, kindOf(err))
		_, err = f.eng.Cancel(t.Context(), f.tenant.ID, f.tech.ID, cancelled.Verification.ID)
		assert.Equal(t, core.KindConflict, kindOf(err), "cancelling twice is a conflict")
	})
}

func TestResendKeepsAttemptsAndRevokesOldCode(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		started := f.start(t, core.MethodSMSCode)
		f.deliver(t)
		first := codeIn(t, f.sms.last(t))
		for range 2 {
			_, err := f.eng.CheckCode(t.Context(), f.tenant.ID, f.tech.ID, started.Verification.ID, wrongFor(first))
			require.Equal(t, core.KindInvalid, kindOf(err))
		}
		_, err := f.eng.Resend(t.Context(), f.tenant.ID, f.tech.ID, started.Verification.ID)
		assert.Equal(t, core.KindRateLimited, kindOf(err), "resend inside the cooldown is refused")
		f.clk.Add(31 * time.Second)
		re, err := f.eng.Resend(t.Context(), f.tenant.ID, f.tech.ID, started.Verification.ID)
		require.NoError(t, err)
		assert.Equal(t, 2, re.Verification.Attempts, "a resend does not reset attempts")
		assert.Equal(t, 2, re.Verification.Sends)
		f.deliver(t)
		second := codeIn(t, f.sms.last(t))
		if second != first {
			_, err = f.eng.CheckCode(t.Context(), f.tenant.ID, f.tech.ID, started.Verification.ID, first)
			assert.Equal(t, core.KindInvalid, kindOf(err), "the previous code is revoked")
		}
		v, err := f.eng.CheckCode(t.Context(), f.tenant.ID, f.tech.ID, started.Verification.ID, second)
		require.NoError(t, err)
		assert.Equal(t, core.StatusVerified, v.Status)
	})
}

func wrongFor(code string) string {
	if code == "123456" {
		return "654321"
	}
	return "123456"
}

func TestResendCapAndCooldownDoubles(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		id := f.start(t, core.MethodSMSCode).Verification.ID
		f.clk.Add(30 * time.Second)
		_, err := f.eng.Resend(t.Context(), f.tenant.ID, f.tech.ID, id)
		require.NoError(t, err)
		f.clk.Add(30 * time.Second)
		_, err = f.eng.Resend(t.Context(), f.tenant.ID, f.tech.ID, id)
		assert.Equal(t, core.KindRateLimited, kindOf(err), "second cooldown is 60s")
		f.clk.Add(30 * time.Second)
		_, err = f.eng.Resend(t.Context(), f.tenant.ID, f.tech.ID, id)
		require.NoError(t, err)
		f.clk.Add(10 * time.Minute)
		_, err = f.eng.Resend(t.Context(), f.tenant.ID, f.tech.ID, id)
		assert.Equal(t, core.KindRateLimited, kindOf(err), "at most 3 sends per verification")
	})
}

func TestRateLimitsHold(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		for range 5 {
			f.start(t, core.MethodSMSCode)
		}
		_, err := f.eng.Start(t.Context(), core.StartRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID,
			ContactID: f.contact.ID, Method: core.MethodEmailLink})
		require.Equal(t, core.KindRateLimited, kindOf(err), "per-contact hourly quota")
		assert.Contains(t, core.ErrorMessage(err), "this contact")
		f.clk.Add(61 * time.Minute)
		f.start(t, core.MethodEmailLink)

		// Per technician: a low limit in the tenant policy.
		p := core.DefaultPolicy()
		p.Limits.PerTechnicianHour = 2
		require.NoError(t, f.eng.PutPolicy(t.Context(), f.tenant.ID, "test", "", p))
		f.clk.Add(61 * time.Minute)
		f.start(t, core.MethodSMSCode)
		f.start(t, core.MethodSMSCode)
		_, err = f.eng.Start(t.Context(), core.StartRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID,
			ContactID: f.contact.ID, Method: core.MethodSMSCode})
		require.Equal(t, core.KindRateLimited, kindOf(err))
		assert.Contains(t, core.ErrorMessage(err), "you have sent")
		// Another technician is not limited by the first one's count.
		f.start(t, core.MethodSMSCode, func(r *core.StartRequest) { r.TechnicianID = f.other.ID })
	})
}

func TestPolicyChecks(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		p := core.DefaultPolicy()
		p.NoteRequired = true
		p.Methods = []core.Method{core.MethodSMSCode, core.MethodEmailLink}
		require.NoError(t, f.eng.PutPolicy(t.Context(), f.tenant.ID, "test", f.client.ID, p))
		home := f.contact.Destinations[1]
		require.False(t, home.IsDefault)

		_, err := f.eng.Start(t.Context(), core.StartRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID,
			ContactID: f.contact.ID, DestinationID: home.ID, Method: core.MethodSMSCode})
		require.Equal(t, core.KindInvalid, kindOf(err))
		assert.Contains(t, core.ErrorMessage(err), "note is required")

		withNote := f.start(t, core.MethodSMSCode, func(r *core.StartRequest) { r.DestinationID, r.Note = home.ID, "Manager approval" })
		assert.Equal(t, "Manager approval", withNote.Verification.Note)
		assert.Equal(t, "+15550100199", withNote.Verification.Destination)

		_, err = f.eng.Start(t.Context(), core.StartRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID,
			ContactID: f.contact.ID, Method: core.MethodSMSCode, AlternateContact: true})
		require.Equal(t, core.KindInvalid, kindOf(err))
		assert.Contains(t, core.ErrorMessage(err), "someone other than the ticket's contact")
		alt := f.start(t, core.MethodSMSCode, func(r *core.StartRequest) { r.AlternateContact, r.Note = true, "Caller is the manager" })
		assert.Equal(t, "Caller is the manager", alt.Verification.Note)

		_, err = f.eng.Start(t.Context(), core.StartRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID,
			ContactID: f.contact.ID, Method: core.MethodVoiceCode})
		assert.Equal(t, core.KindForbidden, kindOf(err), "method not allowed by the client policy")

		_, err = f.eng.Start(t.Context(), core.StartRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID,
			ContactID: f.contact.ID, Method: "carrier_pigeon"})
		assert.Equal(t, core.KindInvalid, kindOf(err))

		_, err = f.eng.Start(t.Context(), core.StartRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID,
			ContactID: f.contact.ID, DestinationID: f.contact.Destinations[2].ID, Method: core.MethodSMSCode})
		assert.Equal(t, core.KindInvalid, kindOf(err), "an email is no destination for SMS")

		bad := core.DefaultPolicy()
		bad.Lifetime = core.Duration(11 * time.Minute)
		assert.Equal(t, core.KindInvalid, kindOf(f.eng.PutPolicy(t.Context(), f.tenant.ID, "test", "", bad)), "lifetime ceiling is 10 minutes")
	})
}

func TestOnlyOwnerOrAdminActsAndTenantsAreIsolated(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		id := f.start(t, core.MethodSMSCode).Verification.ID
		_, err := f.eng.CheckCode(t.Context(), f.tenant.ID, f.other.ID, id, "123456")
		assert.Equal(t, core.KindForbidden, kindOf(err))
		_, err = f.eng.Cancel(t.Context(), f.tenant.ID, f.admin.ID, id)
		assert.NoError(t, err, "an admin may take over")

		g := newFixture(t, st)
		_, err = f.eng.CheckCode(t.Context(), g.tenant.ID, g.tech.ID, id, "123456")
		assert.Equal(t, core.KindNotFound, kindOf(err), "another tenant cannot see it")
		_, err = g.eng.Start(t.Context(), core.StartRequest{TenantID: g.tenant.ID, TechnicianID: g.tech.ID,
			ContactID: f.contact.ID, Method: core.MethodSMSCode})
		assert.Equal(t, core.KindNotFound, kindOf(err), "nor use its contacts")
	})
}

func TestFailureCapLocksChannel(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		p := core.DefaultPolicy()
		p.FailureCap, p.MaxAttempts = 3, 2
		p.Limits.PerContactHour, p.Limits.PerDestinationHour = 100, 100
		require.NoError(t, f.eng.PutPolicy(t.Context(), f.tenant.ID, "test", "", p))
		for range 2 {
			id := f.start(t, core.MethodSMSCode).Verification.ID
			f.deliver(t)
			code := codeIn(t, f.sms.last(t))
			for range 2 {
				_, _ = f.eng.CheckCode(t.Context(), f.tenant.ID, f.tech.ID, id, wrongFor(code))
			}
		}
		_, err := f.eng.Start(t.Context(), core.StartRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID,
			ContactID: f.contact.ID, Method: core.MethodSMSCode})
		require.Equal(t, core.KindForbidden, kindOf(err))
		assert.Contains(t, core.ErrorMessage(err), "consecutive failures")
		f.start(t, core.MethodEmailLink) // another channel still works

		// Only an admin of the tenant resets the lock (security.md §1.2),
		// audited with the count it had; then the channel works again.
		_, err = f.eng.ResetLock(t.Context(), f.tenant.ID, f.tech.ID, f.contact.ID)
		assert.Equal(t, core.KindForbidden, kindOf(err), "a technician")
		_, err = f.eng.ResetLock(t.Context(), f.tenant.ID, f.admin.ID, "con_nope")
		assert.Equal(t, core.KindNotFound, kindOf(err))
		_, err = f.eng.ResetLock(t.Context(), "ten_other", f.admin.ID, f.contact.ID)
		assert.Equal(t, core.KindNotFound, kindOf(err), "from another tenant")
		reset, err := f.eng.ResetLock(t.Context(), f.tenant.ID, f.admin.ID, f.contact.ID)
		require.NoError(t, err)
		assert.Equal(t, []core.DestinationKind{core.DestPhone}, reset)
		var audited []core.AuditEvent
		for _, ev := range f.auditOf(t) {
			if ev.Action == core.AuditVerificationLockReset {
				audited = append(audited, ev)
			}
		}
		require.Len(t, audited, 1)
		assert.Equal(t, f.contact.ID, audited[0].Subject)
		assert.Equal(t, "tech:"+f.admin.ID, audited[0].Actor)
		assert.Equal(t, map[string]string{"phone": "4"}, audited[0].Detail)
		f.start(t, core.MethodSMSCode)
		_, err = f.eng.ResetLock(t.Context(), f.tenant.ID, f.admin.ID, f.contact.ID)
		assert.Equal(t, core.KindConflict, kindOf(err), "nothing left to reset")
	})
}

func TestEmailLinkGetChangesNothingAndPostConfirms(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		started := f.start(t, core.MethodEmailLink)
		require.Len(t, started.TechCode, 6, "email links carry a technician-read code by default")
		f.deliver(t)
		link := linkRE.FindString(f.mail.last(t).Text)
		require.NotEmpty(t, link)
		token := link[len(link)-43:]
		slug := f.tenant.Slug

		before := f.verification(t, started.Verification.ID)
		head := auditHead(t, f)
		for range 3 {
			page, err := f.eng.LinkView(t.Context(), slug, token)
			require.NoError(t, err)
			assert.True(t, page.NeedsCode)
			assert.Equal(t, "jane", page.TechnicianName)
		}
		assert.Equal(t, before, f.verification(t, started.Verification.ID), "GET changed the verification")
		assert.Equal(t, head, auditHead(t, f), "GET wrote to the audit log")

		_, err := f.eng.LinkView(t.Context(), slug, token+"x")
		unknownMsg := core.ErrorMessage(err)
		assert.Equal(t, core.KindNotFound, kindOf(err))

		_, err = f.eng.LinkConfirm(t.Context(), slug, token, core.LinkAnswer{Code: wrongFor(started.TechCode)})
		assert.Equal(t, core.KindInvalid, kindOf(err))
		v, err := f.eng.LinkConfirm(t.Context(), slug, token, core.LinkAnswer{Code: started.TechCode, IP: "192.0.2.1"})
		require.NoError(t, err)
		assert.Equal(t, core.StatusVerified, v.Status)
		v, err = f.eng.LinkConfirm(t.Context(), slug, token, core.LinkAnswer{Code: started.TechCode})
		require.NoError(t, err, "a repeated confirm is idempotent")
		assert.Equal(t, core.StatusVerified, v.Status)

		// An expired link reads exactly like an unknown one.
		f.clk.Add(time.Hour)
		other := f.start(t, core.MethodSMSLink)
		assert.Empty(t, other.TechCode, "SMS links have no technician code by default")
		f.deliver(t)
		smsToken := linkRE.FindString(f.sms.last(t).Text)
		smsToken = smsToken[len(smsToken)-43:]
		f.clk.Add(6 * time.Minute)
		_, err = f.eng.LinkView(t.Context(), slug, smsToken)
		assert.Equal(t, unknownMsg, core.ErrorMessage(err))
	})
}

func TestLinkDeclineFails(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		started := f.start(t, core.MethodSMSLink)
		f.deliver(t)
		link := linkRE.FindString(f.sms.last(t).Text)
		v, err := f.eng.LinkConfirm(t.Context(), f.tenant.Slug, link[len(link)-43:], core.LinkAnswer{Decline: true})
		require.NoError(t, err)
		assert.Equal(t, core.StatusFailed, v.Status)
		assert.Equal(t, started.Verification.ID, v.ID)
		hist, err := f.eng.History(t.Context(), f.tenant.ID, f.contact.ID)
		require.NoError(t, err)
		assert.Equal(t, core.ShieldRed, core.ShieldFor(hist, f.clk.Now()).State)
	})
}

func TestDeliveryFailures(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		f.sms.fail = []error{errors.New("connection reset")}
		id := f.start(t, core.MethodSMSCode).Verification.ID
		f.deliver(t)
		assert.Equal(t, core.StatusPending, f.verification(t, id).Status, "a transient failure waits for a retry")
		f.deliver(t)
		assert.Empty(t, f.sms.msgs, "not retried before its backoff")
		f.clk.Add(2 * time.Second)
		f.deliver(t)
		assert.Equal(t, core.StatusSent, f.verification(t, id).Status)

		f.sms.fail = []error{&core.PermanentError{Code: "21610", Reason: "recipient has opted out of SMS from this number"}}
		id = f.start(t, core.MethodSMSCode).Verification.ID
		f.deliver(t)
		v := f.verification(t, id)
		assert.Equal(t, core.StatusFailed, v.Status)
		assert.Equal(t, "recipient has opted out of SMS from this number", v.Detail)

		// Delivery status callbacks never move backwards.
		id = f.start(t, core.MethodSMSCode, func(r *core.StartRequest) { r.TechnicianID = f.other.ID }).Verification.ID
		f.deliver(t)
		ref := f.verification(t, id).ProviderRef
		require.NoError(t, f.eng.RecordDelivery(t.Context(), f.tenant.ID, ref, "delivered", ""))
		require.NoError(t, f.eng.RecordDelivery(t.Context(), f.tenant.ID, ref, "sent", ""))
		assert.Equal(t, "delivered", f.verification(t, id).DeliveryStatus)
	})
}

func TestAuditChainCoversFlow(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		id := f.start(t, core.MethodSMSCode).Verification.ID
		f.deliver(t)
		_, err := f.eng.CheckCode(t.Context(), f.tenant.ID, f.tech.ID, id, codeIn(t, f.sms.last(t)))
		require.NoError(t, err)
		require.NoError(t, st.View(t.Context(), func(tx core.Tx) error {
			evs, err := tx.AuditEvents(t.Context(), f.tenant.ID, core.AuditQuery{})
			require.NoError(t, err)
			seq, hash, err := tx.AuditHead(t.Context(), f.tenant.ID)
			require.NoError(t, err)
			require.NoError(t, core.VerifyAuditChain(evs, seq, hash))
			var actions []string
			for _, e := range evs {
				actions = append(actions, e.Action)
			}
			assert.Subset(t, actions, []string{"contact.created", "verification.started", "verification.sent", "verification.verified"})
			return nil
		}))
	})
}

func auditHead(t *testing.T, f *fixture) int64 {
	t.Helper()
	var seq int64
	require.NoError(t, f.st.View(t.Context(), func(tx core.Tx) error {
		var err error
		seq, _, err = tx.AuditHead(t.Context(), f.tenant.ID)
		return err
	}))
	return seq
}

// Issue 9 item 7: after a correct code, re-submitting it (a double submit,
// a technician pressing Check again) must not count as failures; twelve of
// them used to lock the contact's phone channel while the shield was green.
func TestResubmittingVerifiedCodeCountsNothing(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		started := f.start(t, core.MethodSMSCode)
		f.deliver(t)
		code := codeIn(t, f.sms.last(t))
		_, err := f.eng.CheckCode(t.Context(), f.tenant.ID, f.tech.ID, started.Verification.ID, code)
		require.NoError(t, err)
		for i := range 12 {
			c := code
			if i%2 == 1 {
				c = wrongFor(code)
			}
			v, err := f.eng.CheckCode(t.Context(), f.tenant.ID, f.tech.ID, started.Verification.ID, c)
			require.Equal(t, core.KindGone, kindOf(err), "submission %d", i)
			assert.Contains(t, core.ErrorMessage(err), "already verified")
			assert.Equal(t, core.StatusVerified, v.Status)
			assert.Equal(t, 0, v.Attempts, "no attempt is used on a verified verification")
		}
		require.NoError(t, st.View(t.Context(), func(tx core.Tx) error {
			n, err := tx.FailureCount(t.Context(), f.tenant.ID, f.contact.ID, core.DestPhone)
			assert.Equal(t, 0, n, "no consecutive failure was counted")
			return err
		}))
		// The phone channel still works: a new verification can be started.
		f.clk.Add(time.Hour)
		f.start(t, core.MethodSMSCode)
	})
}
