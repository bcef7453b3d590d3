package core_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/duo/duotest"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// TestAssuranceRanking: e-mail < SMS/voice < push < workstation prompt,
// the minimum for a reset is the stricter of the two settings, and the
// refusal names the rule.
func TestAssuranceRanking(t *testing.T) {
	order := []core.Method{core.MethodEmailLink, core.MethodSMSCode, core.MethodDuoPush, core.MethodWorkstationPrompt}
	for i := 1; i < len(order); i++ {
		lo, hi := core.MethodAssurance(order[i-1]), core.MethodAssurance(order[i])
		assert.True(t, hi.AtLeast(lo), "%s ≥ %s", order[i], order[i-1])
		assert.False(t, lo.AtLeast(hi), "%s < %s", order[i-1], order[i])
	}
	assert.Equal(t, core.AssurancePush, core.MethodAssurance(core.MethodMicrosoftPush))
	assert.Equal(t, core.AssurancePhone, core.MethodAssurance(core.MethodVoiceCode))
	assert.Equal(t, core.AssuranceMailbox, core.MethodAssurance(core.MethodEmailCode))

	p := core.Policy{ResetMinAssurance: core.AssurancePush}
	assert.Equal(t, core.Assurance(""), p.RequiredAssurance(core.PurposeIdentity))
	assert.Equal(t, core.AssurancePush, p.RequiredAssurance(core.PurposeReset))
	require.NoError(t, p.CheckAssurance(core.MethodEmailLink, core.PurposeIdentity))
	require.NoError(t, p.CheckAssurance(core.MethodDuoPush, core.PurposeReset))
	err := p.CheckAssurance(core.MethodSMSCode, core.PurposeReset)
	require.Error(t, err)
	assert.Equal(t, core.KindAssuranceTooLow, core.ErrorKind(err))
	assert.ErrorIs(t, err, core.ErrAssuranceTooLow)
	assert.Equal(t, "this client requires a push or workstation prompt for password and MFA resets; SMS code is not enough", err.Error())

	// A policy-wide minimum stricter than the reset one governs both.
	p = core.Policy{MinAssurance: core.AssuranceStrong, ResetMinAssurance: core.AssurancePhone}
	assert.Equal(t, core.AssuranceStrong, p.RequiredAssurance(core.PurposeReset))
	err = p.CheckAssurance(core.MethodDuoPush, core.PurposeReset)
	assert.Equal(t, "this client requires a Verified Duo Push or workstation prompt; Duo push is not enough", core.ErrorMessage(err))
}

func TestAssurancePolicyValidation(t *testing.T) {
	ok := core.DefaultPolicy()
	ok.MinAssurance, ok.ResetMinAssurance = core.AssurancePhone, core.AssurancePush
	require.NoError(t, ok.Validate())

	bad := core.DefaultPolicy()
	bad.ResetMinAssurance = "gold"
	err := bad.Validate()
	assert.Equal(t, core.KindInvalid, core.ErrorKind(err))
	assert.Contains(t, core.ErrorMessage(err), `not "gold"`)

	// Allowing only methods below the minimum leaves no way to verify.
	none := core.DefaultPolicy()
	none.Methods = []core.Method{core.MethodSMSCode, core.MethodEmailLink}
	none.ResetMinAssurance = core.AssurancePush
	err = none.Validate()
	assert.Equal(t, core.KindInvalid, core.ErrorKind(err))
	assert.Contains(t, core.ErrorMessage(err), "none of the allowed methods meets the minimum")

	// A Duo push may be a Verified Duo Push (its account decides, at each
	// push): it may be the only way to a strong minimum. A Microsoft push
	// is approve-only, always.
	duoOnly := core.DefaultPolicy()
	duoOnly.Methods = []core.Method{core.MethodDuoPush, core.MethodSMSCode}
	duoOnly.ResetMinAssurance = core.AssuranceStrong
	require.NoError(t, duoOnly.Validate(), "Verified Duo Push meets strong")
	msOnly := duoOnly
	msOnly.Methods = []core.Method{core.MethodMicrosoftPush, core.MethodSMSCode}
	err = msOnly.Validate()
	assert.Equal(t, core.KindInvalid, core.ErrorKind(err))
	assert.Contains(t, core.ErrorMessage(err), "none of the allowed methods meets the minimum: this client requires a Verified Duo Push or workstation prompt")

	// The new-ticket automatic send is an identity check: it must meet the
	// policy-wide minimum.
	auto := core.DefaultPolicy()
	auto.OnNewTicket, auto.AutoSendMethod, auto.MinAssurance = core.OnNewTicketAutoSend, core.MethodEmailCode, core.AssurancePhone
	err = auto.Validate()
	assert.Equal(t, core.KindInvalid, core.ErrorKind(err))
	assert.Contains(t, core.ErrorMessage(err), "automatic send method is below the minimum")
}

// TestAssuranceEnforced: with "push or stronger for resets", the engine
// refuses an SMS code, a voice code or an e-mail link started for a reset
// (while an identity check may use them), lets a Duo push for a reset
// through and records its purpose; the routing list for a reset marks the
// weaker methods not allowed and lists them after the allowed ones; a
// reset started by SMS before the policy was tightened does not count when
// its code is read back afterwards. On SQLite and PostgreSQL.
func TestAssuranceEnforced(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		approve := duotest.Approve
		fake := duotest.Start(t, duotest.User{Username: "sam@contoso.example", Auto: &approve})
		f := newDuoFixture(t, st, fake)
		ctx := t.Context()

		// Started for a reset before any minimum: its code is answered later.
		early := f.start(t, core.MethodSMSCode, func(r *core.StartRequest) { r.Purpose = core.PurposeReset })
		f.deliver(t)
		code := codeIn(t, f.sms.last(t))

		p := core.DefaultPolicy()
		p.ResetMinAssurance = core.AssurancePush
		require.NoError(t, f.eng.PutPolicy(ctx, f.tenant.ID, "test", f.client.ID, p))

		for _, m := range []core.Method{core.MethodSMSCode, core.MethodVoiceCode, core.MethodEmailLink} {
			_, err := f.eng.Start(ctx, core.StartRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID, ContactID: f.contact.ID,
				Method: m, TicketRef: "4821", Purpose: core.PurposeReset})
			require.Error(t, err, m)
			assert.Equal(t, core.KindAssuranceTooLow, core.ErrorKind(err), m)
			assert.Contains(t, err.Error(), "this client requires a push or workstation prompt for password and MFA resets")
		}
		_, err := f.eng.StartPrompt(ctx, core.PromptRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID, ContactID: f.contact.ID,
			Purpose: "payroll"})
		assert.Equal(t, core.KindInvalid, core.ErrorKind(err), "an unknown purpose")

		// The early reset's right code now does not verify.
		v, err := f.eng.CheckCode(ctx, f.tenant.ID, f.tech.ID, early.Verification.ID, code)
		require.Error(t, err)
		assert.Equal(t, core.KindAssuranceTooLow, core.ErrorKind(err))
		assert.Equal(t, core.StatusFailed, v.Status)
		assert.Contains(t, v.Detail, "answered, but not verified: this client requires a push or workstation prompt")
		assert.Contains(t, auditActions(t, f.fixture, v.ID), core.AuditAssuranceTooLow)
		hist, err := f.eng.History(ctx, f.tenant.ID, f.contact.ID)
		require.NoError(t, err)
		assert.NotEqual(t, core.ShieldGreen, core.ShieldFor(hist, f.clk.Now()).State)

		// An identity check may still use SMS.
		f.start(t, core.MethodSMSCode)

		// The list for a reset: the allowed first, the weaker marked.
		routes, err := f.eng.RoutesFor(ctx, f.tenant.ID, f.contact.ID, core.PurposeReset)
		require.NoError(t, err)
		var allowed, below []core.Method
		for _, r := range routes {
			if r.BelowMinimum {
				below = append(below, r.Method)
				assert.False(t, r.Available, r.Method)
				assert.Contains(t, r.Reason, "requires a push or workstation prompt for password and MFA resets", r.Method)
				continue
			}
			assert.Empty(t, below, "%s is allowed but listed after one that is not", r.Method)
			allowed = append(allowed, r.Method)
		}
		assert.Equal(t, []core.Method{core.MethodDuoPush, core.MethodWorkstationPrompt}, allowed)
		assert.Equal(t, []core.Method{core.MethodSMSCode, core.MethodVoiceCode, core.MethodSMSLink, core.MethodEmailCode, core.MethodEmailLink}, below)
		assert.True(t, routes[0].Available, routes[0].Reason)
		routes, err = f.eng.Routes(ctx, f.tenant.ID, f.contact.ID)
		require.NoError(t, err)
		for _, r := range routes {
			assert.False(t, r.BelowMinimum, "an identity check has no minimum here: %s", r.Method)
		}
		_, err = f.eng.RoutesFor(ctx, f.tenant.ID, f.contact.ID, "payroll")
		assert.Equal(t, core.KindInvalid, core.ErrorKind(err))

		// A push for the reset is allowed, and verifies.
		pv, err := f.eng.StartDuoPush(ctx, core.PushRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID,
			ContactID: f.contact.ID, TicketRef: "4821", IntegrationID: f.note, Purpose: core.PurposeReset})
		require.NoError(t, err)
		pv = f.settle(t, pv.ID)
		assert.Equal(t, core.StatusVerified, pv.Status, pv.Detail)
		assert.Equal(t, core.PurposeReset, pv.Purpose)

		// A policy-wide "workstation prompt only" refuses the push too.
		p.MinAssurance = core.AssuranceStrong
		require.NoError(t, f.eng.PutPolicy(ctx, f.tenant.ID, "test", f.client.ID, p))
		_, err = f.eng.StartDuoPush(ctx, core.PushRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID,
			ContactID: f.contact.ID, TicketRef: "4821"})
		assert.True(t, errors.Is(err, core.ErrAssuranceTooLow), "%v", err)
		assert.Equal(t, "this client requires a Verified Duo Push or workstation prompt; Duo push is not enough", core.ErrorMessage(err))
	})
}

// TestTechDirectoryResetNeedsAssurance: with push or more required before
// a reset, a caller verified by SMS code may have their account unlocked
// but not their password reset by the technician — the card is told why,
// the reset is refused with assurance_too_low and queues nothing — and
// without the minimum the same verification resets. On SQLite and
// PostgreSQL.
func TestTechDirectoryResetNeedsAssurance(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newDirFixture(t, st)
		ctx := t.Context()
		p := core.DefaultPolicy()
		p.ResetMinAssurance = core.AssurancePush
		require.NoError(t, f.eng.PutPolicy(ctx, f.tenant.ID, "test", f.client.ID, p))

		v := f.verify(t, f.tech, f.contact.ID)
		state, err := f.eng.TechDirectory(ctx, f.tenant.ID, f.tech.ID, v.ID)
		require.NoError(t, err)
		assert.Empty(t, state.Reason, "an unlock is allowed")
		assert.Equal(t, "this client requires a push or workstation prompt for password and MFA resets; SMS code is not enough"+
			" to reset the password: verify the caller again with one of those first", state.ResetReason)

		_, err = f.ask(t, v, func(r *core.TechDirectoryRequest) { r.Action, r.Generate = core.SelfServeReset, true })
		require.Error(t, err)
		assert.Equal(t, core.KindAssuranceTooLow, core.ErrorKind(err))
		tasks, requests := f.written(t, v.ID)
		assert.Zero(t, tasks+requests, "a refused reset queues nothing")
		_, err = f.ask(t, v)
		require.NoError(t, err, "the unlock goes")

		require.NoError(t, f.eng.PutPolicy(ctx, f.tenant.ID, "test", f.client.ID, core.DefaultPolicy()))
		state, err = f.eng.TechDirectory(ctx, f.tenant.ID, f.tech.ID, v.ID)
		require.NoError(t, err)
		assert.Empty(t, state.ResetReason)
		res, err := f.ask(t, v, func(r *core.TechDirectoryRequest) { r.Action, r.Generate = core.SelfServeReset, true })
		require.NoError(t, err)
		assert.NotEmpty(t, res.Password)
	})
}

// TestVerifiedDuoPushAssurance: a Duo push that Duo sends as a Verified
// Duo Push (the account asks for it and Duo gives preauth a txid) is
// Strong (security.md §9), so it meets a "Verified Duo Push or workstation
// prompt" minimum that an approve-only push does not: the routes list it
// among the allowed with the Strong label, it verifies with the level
// recorded and named on the ticket. A user Duo gives no Verified Push is
// listed below the minimum and not pushed to; an account that does not ask
// for it is refused as before. On SQLite and PostgreSQL.
func TestVerifiedDuoPushAssurance(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		approve := duotest.Approve
		fake := duotest.Start(t, duotest.User{Username: "sam@contoso.example", VerifiedPush: true, Auto: &approve})
		f := newDuoFixture(t, st, fake)
		ctx := t.Context()
		p := core.DefaultPolicy()
		p.MinAssurance = core.AssuranceStrong
		// No workstation prompt: Verified Duo Push is the only strong way
		// this client allows, which the policy may require.
		p.Methods = []core.Method{core.MethodDuoPush, core.MethodSMSCode, core.MethodEmailLink}
		require.NoError(t, f.eng.PutPolicy(ctx, f.tenant.ID, "test", f.client.ID, p))
		push := func() (core.Verification, error) {
			return f.eng.StartDuoPush(ctx, core.PushRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID,
				ContactID: f.contact.ID, TicketRef: "4821", IntegrationID: f.note})
		}

		// The account does not ask for Verified Push: approve-only is not enough.
		_, err := push()
		require.Error(t, err)
		assert.Equal(t, core.KindAssuranceTooLow, core.ErrorKind(err))
		assert.Equal(t, "this client requires a Verified Duo Push or workstation prompt; Duo push is not enough", core.ErrorMessage(err))
		routes, err := f.eng.Routes(ctx, f.tenant.ID, f.contact.ID)
		require.NoError(t, err)
		duoRoute := func() core.Route {
			t.Helper()
			for _, r := range routes {
				if r.Method == core.MethodDuoPush {
					return r
				}
			}
			t.Fatal("no Duo route")
			return core.Route{}
		}
		assert.True(t, duoRoute().BelowMinimum)

		_, err = f.eng.SaveDuoAccount(ctx, f.tenant.ID, "tech:"+f.admin.ID, core.DuoAccountInput{ID: f.acct.ID, Name: "Acme Duo",
			Config: fake.Config(), VerifiedPush: true})
		require.NoError(t, err)

		routes, err = f.eng.Routes(ctx, f.tenant.ID, f.contact.ID)
		require.NoError(t, err)
		require.NotEmpty(t, routes)
		assert.Equal(t, core.MethodDuoPush, routes[0].Method, "allowed, listed first")
		r := duoRoute()
		assert.False(t, r.BelowMinimum)
		assert.True(t, r.Available, r.Reason)
		assert.Equal(t, "Verified Duo Push to iPhone of sam@contoso.example", r.Reason)
		assert.Equal(t, "Strong — Verified Duo Push (the caller types the code the technician reads)", r.Assurance)
		assert.Equal(t, "Medium — approve-only push", core.AssuranceLabel(core.MethodDuoPush), "a plain push keeps its label")

		v, err := push()
		require.NoError(t, err)
		assert.Equal(t, core.StatusSent, v.Status, v.Detail)
		assert.Equal(t, core.AssuranceStrong, v.Level)
		assert.Contains(t, v.Detail, "read the caller the code Duo shows")
		pushes := fake.Pushes()
		require.Len(t, pushes, 1)
		assert.True(t, pushes[0].Verified, "sent with preauth's txid")
		v = f.settle(t, v.ID)
		assert.Equal(t, core.StatusVerified, v.Status, v.Detail)
		assert.Equal(t, core.AssuranceStrong, v.Level, "stored")
		assert.Equal(t, core.AssuranceStrong, v.AssuranceLevel())
		assert.Contains(t, v.Detail, "Verified Duo Push: the caller typed the code")
		f.deliver(t)
		assert.Contains(t, f.notes.last(t).Text, "VERIFIED by Verified Duo Push (code typed by the caller)")

		// A user Duo gives no Verified Push (their Duo policy): below the
		// minimum, and a press pushes nothing.
		f.clk.Add(time.Minute)
		fake.AddUser(duotest.User{Username: "sam@contoso.example", Auto: &approve})
		routes, err = f.eng.Routes(ctx, f.tenant.ID, f.contact.ID)
		require.NoError(t, err)
		r = duoRoute()
		assert.True(t, r.BelowMinimum)
		assert.False(t, r.Available)
		assert.Equal(t, "Duo does not offer Verified Duo Push for this user, and this client requires a Verified Duo Push or workstation prompt; Duo push is not enough", r.Reason)
		seen := false
		for _, x := range routes {
			seen = seen || x.Method == core.MethodDuoPush
			if seen {
				assert.True(t, x.BelowMinimum, "%s is allowed but listed after Duo, which is not", x.Method)
			}
		}
		v, err = push()
		require.NoError(t, err)
		assert.Equal(t, core.StatusCancelled, v.Status)
		assert.Contains(t, v.Detail, "Duo does not offer Verified Duo Push for this user")
		assert.Len(t, fake.Pushes(), 1, "nothing more was pushed")
	})
}

// TestBelowMinimumWords: the destinations table's reason is given exactly
// for the methods CheckAssurance refuses, and names the rule's scope.
func TestBelowMinimumWords(t *testing.T) {
	methods := []core.Method{core.MethodEmailLink, core.MethodEmailCode, core.MethodSMSCode, core.MethodSMSLink, core.MethodVoiceCode,
		core.MethodDuoPush, core.MethodMicrosoftPush, core.MethodWorkstationPrompt}
	levels := []core.Assurance{"", core.AssuranceMailbox, core.AssurancePhone, core.AssurancePush, core.AssuranceStrong}
	for _, min := range levels {
		for _, reset := range levels {
			p := core.Policy{MinAssurance: min, ResetMinAssurance: reset}
			for _, purpose := range []core.Purpose{core.PurposeIdentity, core.PurposeReset} {
				for _, m := range methods {
					words := p.BelowMinimumWords(m, purpose)
					assert.Equal(t, p.CheckAssurance(m, purpose) != nil, words != "", "min %q reset %q %q %s", min, reset, purpose, m)
				}
			}
		}
	}
	p := core.Policy{MinAssurance: core.AssurancePhone, ResetMinAssurance: core.AssurancePush}
	assert.Equal(t, "below this client's minimum for every verification (a text, call, push or workstation prompt)",
		p.BelowMinimumWords(core.MethodEmailLink, core.PurposeIdentity))
	assert.Equal(t, "below this client's minimum for password and MFA resets (a push or workstation prompt)",
		p.BelowMinimumWords(core.MethodSMSCode, core.PurposeReset))
	assert.Empty(t, p.BelowMinimumWords(core.MethodSMSCode, core.PurposeIdentity))
}
