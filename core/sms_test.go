package core_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSMSKeyword(t *testing.T) {
	tests := []struct {
		in   string
		kw   core.SMSKeyword
		rest string
	}{
		{"STOP", core.SMSKeywordStop, ""},
		{" stop ", core.SMSKeywordStop, ""},
		{"Stop.", core.SMSKeywordStop, ""},
		{"STOP ALL", core.SMSKeywordStop, ""},
		{"stopall", core.SMSKeywordStop, ""},
		{"Unsubscribe", core.SMSKeywordStop, ""},
		{"cancel", core.SMSKeywordStop, ""},
		{"END", core.SMSKeywordStop, ""},
		{"quit!", core.SMSKeywordStop, ""},
		{"#stop", core.SMSKeywordStop, ""},
		{"please stop", core.SMSKeywordNone, ""},
		{"stopping by later", core.SMSKeywordNone, ""},
		{"START", core.SMSKeywordStart, ""},
		{"un stop", core.SMSKeywordStart, ""},
		{"Unstop", core.SMSKeywordStart, ""},
		{"help", core.SMSKeywordHelp, ""},
		{" HELP? ", core.SMSKeywordHelp, ""},
		{"#verify", core.SMSKeywordVerify, ""},
		{"#VERIFY", core.SMSKeywordVerify, ""},
		{"  # Verify  ", core.SMSKeywordVerify, ""},
		{"verify", core.SMSKeywordVerify, ""},
		{"#verify please, Jane from IT called", core.SMSKeywordVerify, "please, Jane from IT called"},
		{"#confirm 482913", core.SMSKeywordConfirm, "482913"},
		{"Confirm", core.SMSKeywordConfirm, ""},
		{"#confirm.", core.SMSKeywordConfirm, ""},
		{"#verifying", core.SMSKeywordNone, ""},
		{"482913", core.SMSKeywordConfirm, "482913"},
		{" 482 913. ", core.SMSKeywordConfirm, "482913"},
		{"482-913", core.SMSKeywordConfirm, "482913"},
		{"12345", core.SMSKeywordNone, ""},
		{"123456789", core.SMSKeywordNone, ""},
		{"call 482913", core.SMSKeywordNone, ""},
		{"hello", core.SMSKeywordNone, ""},
		{"", core.SMSKeywordNone, ""},
		{"#", core.SMSKeywordNone, ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			kw, rest := core.ParseSMSKeyword(tc.in)
			assert.Equal(t, tc.kw, kw)
			assert.Equal(t, tc.rest, rest)
		})
	}
}

// sid returns a well-formed MessageSid numbered n.
func sid(n int) string { return fmt.Sprintf("SM%032d", n) }

const fixturePhone = "+15550100142" // the fixture contact's default mobile

func (f *fixture) text(t *testing.T, n int, from, body string) string {
	t.Helper()
	reply, err := f.eng.ReceiveSMS(t.Context(), f.tenant.ID, core.InboundSMS{MessageSID: sid(n), AccountSID: "ACx",
		From: from, To: "+15550009999", Body: body})
	require.NoError(t, err)
	return reply
}

func (f *fixture) optedOut(t *testing.T, phone string) bool {
	t.Helper()
	out, err := f.eng.SMSOptedOut(t.Context(), f.tenant.ID, phone)
	require.NoError(t, err)
	return out
}

func (f *fixture) auditActions(t *testing.T) []string {
	t.Helper()
	evs, err := f.eng.AuditEvents(t.Context(), f.tenant.ID, core.AuditQuery{})
	require.NoError(t, err)
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Action)
	}
	return out
}

// TestStopStartHelpMatrix texts every keyword of the STOP and START
// families and HELP, and checks the opt-out state, replies, audit and what
// may be sent after each.
func TestStopStartHelpMatrix(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		n := 0
		for _, stop := range []string{"STOP", "stop all", "Unsubscribe", "CANCEL", "end", " Quit. ", "STOPALL"} {
			for _, start := range []string{"START", "unstop", "Start"} {
				n++
				assert.Empty(t, f.text(t, n, fixturePhone, stop), "Twilio confirms an opt-out itself")
				require.True(t, f.optedOut(t, fixturePhone), "%q opts out", stop)
				assert.Empty(t, f.text(t, 1000+n, fixturePhone, "HELP"), "no text of ours to an opted-out number, not even HELP")
				n++
				assert.Empty(t, f.text(t, n, fixturePhone, start))
				require.False(t, f.optedOut(t, fixturePhone), "%q opts in again", start)
			}
		}
		acts := f.auditActions(t)
		assert.Equal(t, 21, count(acts, core.AuditSMSOptedOut))
		assert.Equal(t, 21, count(acts, core.AuditSMSOptedIn))

		help := f.text(t, 5000, fixturePhone, "help")
		assert.Contains(t, help, "Acme IT")
		assert.Contains(t, help, "Reply STOP to opt out")
		_, err := f.eng.PutChannelSettings(t.Context(), f.tenant.ID, "tech:"+f.admin.ID, core.ChannelSettings{HelpText: "Acme IT helpdesk: call +1 555 010 0000. Reply STOP to opt out."})
		require.NoError(t, err)
		assert.Equal(t, "Acme IT helpdesk: call +1 555 010 0000. Reply STOP to opt out.", f.text(t, 5001, fixturePhone, "HELP"))
		assert.Empty(t, f.text(t, 5002, fixturePhone, "what is this?"), "unknown texts get no reply")

		// A number abroad gets no reply either (SMS countries: US only).
		assert.Empty(t, f.text(t, 5003, "+447700900123", "HELP"))

		// Opt-outs are per tenant: another tenant's STOP list is its own.
		other := core.Tenant{ID: core.NewID("ten"), Slug: "other-" + core.NewID("x")[2:8], Name: "Other"}
		require.NoError(t, st.Update(t.Context(), func(tx core.Tx) error { return tx.CreateTenant(t.Context(), &other) }))
		_, err = f.eng.ReceiveSMS(t.Context(), other.ID, core.InboundSMS{MessageSID: sid(6000), From: fixturePhone, To: "+15550008888", Body: "STOP"})
		require.NoError(t, err)
		assert.False(t, f.optedOut(t, fixturePhone))
		out, err := f.eng.SMSOptedOut(t.Context(), other.ID, fixturePhone)
		require.NoError(t, err)
		assert.True(t, out)
	})
}

func count(xs []string, x string) int {
	n := 0
	for _, v := range xs {
		if v == x {
			n++
		}
	}
	return n
}

// TestReplayedMessageSidChangesNothing: Twilio's signature has no nonce, so
// a captured STOP or START replayed must not flip the state back.
func TestReplayedMessageSidChangesNothing(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		f.text(t, 1, fixturePhone, "STOP")
		f.text(t, 2, fixturePhone, "START")
		require.False(t, f.optedOut(t, fixturePhone))
		before := len(f.auditActions(t))
		// Replaying the STOP (same MessageSid) does not opt out again.
		assert.Empty(t, f.text(t, 1, fixturePhone, "STOP"))
		assert.False(t, f.optedOut(t, fixturePhone))
		assert.Len(t, f.auditActions(t), before)
		// Nor does a different body under a seen MessageSid.
		assert.Empty(t, f.text(t, 2, fixturePhone, "HELP"))

		rec, err := f.eng.InboundSMSRecord(t.Context(), f.tenant.ID, sid(1))
		require.NoError(t, err)
		assert.Equal(t, core.SMSKeywordStop, rec.Keyword)
		assert.Equal(t, "STOP", rec.Body)
		assert.Equal(t, "opted out", rec.Outcome)

		for _, bad := range []core.InboundSMS{
			{MessageSID: "SMshort", From: fixturePhone, To: "+15550009999", Body: "STOP"},
			{MessageSID: sid(9), From: "5550100142", To: "+15550009999", Body: "STOP"},
			{MessageSID: sid(9), From: fixturePhone, To: "", Body: "STOP"},
			{MessageSID: sid(9), From: fixturePhone, To: "+15550009999", Body: "\xff"},
		} {
			_, err := f.eng.ReceiveSMS(t.Context(), f.tenant.ID, bad)
			assert.Equal(t, core.KindInvalid, kindOf(err), "%+v", bad)
		}
		assert.False(t, f.optedOut(t, fixturePhone))
	})
}

// TestNoSMSToOptedOutNumbersEver: after STOP, starting or resending an SMS
// to the number fails with an error offering e-mail or voice, and an SMS
// queued before the STOP is not sent either.
func TestNoSMSToOptedOutNumbersEver(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := t.Context()

		// An SMS is queued, and its first try fails (an outage) ...
		f.sms.mu.Lock()
		f.sms.fail = []error{errors.New("twilio down")}
		f.sms.mu.Unlock()
		queued := f.start(t, core.MethodSMSCode)
		f.deliver(t)
		require.Empty(t, f.sms.msgs)
		// ... then the number texts STOP; the retry is refused.
		f.text(t, 1, fixturePhone, "STOP")
		f.clk.Add(time.Minute)
		f.deliver(t)
		assert.Empty(t, f.sms.msgs, "an SMS queued before STOP must not be sent after it")
		v := f.verification(t, queued.Verification.ID)
		assert.Equal(t, core.StatusFailed, v.Status)
		assert.Contains(t, v.Detail, "opted out")

		// New SMS verifications are refused with a clear error.
		_, err := f.eng.Start(ctx, core.StartRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID, ContactID: f.contact.ID, Method: core.MethodSMSLink})
		require.Error(t, err)
		assert.True(t, errors.Is(err, core.ErrSMSOptedOut))
		assert.Equal(t, core.KindForbidden, kindOf(err))
		assert.Contains(t, core.ErrorMessage(err), "e-mail or a voice call")
		acts := f.auditActions(t)
		assert.GreaterOrEqual(t, count(acts, core.AuditSendRefusedOptOut), 2, "both refusals are audited")

		// E-mail and voice still work.
		f.start(t, core.MethodEmailLink)
		f.start(t, core.MethodVoiceCode)
		f.deliver(t)
		assert.Empty(t, f.sms.msgs)
		assert.NotEmpty(t, f.call.msgs)

		// The other phone of the contact did not opt out.
		other := f.contact.Destinations[1]
		if other.Value == fixturePhone {
			other = f.contact.Destinations[0]
		}
		require.Equal(t, core.DestPhone, other.Kind)
		f.start(t, core.MethodSMSCode, func(r *core.StartRequest) { r.DestinationID = other.ID; r.Note = "other phone" })
		f.deliver(t)
		assert.Equal(t, other.Value, f.sms.last(t).To)

		// START lets SMS through again.
		f.text(t, 2, fixturePhone, "START")
		f.start(t, core.MethodSMSCode)
		f.deliver(t)
		assert.Equal(t, fixturePhone, f.sms.last(t).To)
	})
}

// TestCountryAllowList: SMS and calls go only to the tenant's countries
// (default: its own); a send elsewhere is refused, audited, and allowed
// once an admin adds the country.
func TestCountryAllowList(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := t.Context()
		uk, err := f.eng.CreateContact(ctx, f.tenant.ID, "test", "manual", core.NewContact{ClientID: f.client.ID, FirstName: "Ann", LastName: "Abroad",
			Phones: []core.NewDestination{{Value: "+44 7700 900123", Default: true}}})
		require.NoError(t, err)
		jm, err := f.eng.CreateContact(ctx, f.tenant.ID, "test", "manual", core.NewContact{ClientID: f.client.ID, FirstName: "Jo", LastName: "Island",
			Phones: []core.NewDestination{{Value: "+1 876 555 0100", Default: true}}})
		require.NoError(t, err)
		start := func(c core.Contact, m core.Method) error {
			_, err := f.eng.Start(ctx, core.StartRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID, ContactID: c.ID, Method: m})
			return err
		}
		for _, m := range []core.Method{core.MethodSMSCode, core.MethodVoiceCode} {
			err := start(uk, m)
			require.Error(t, err, m)
			assert.True(t, errors.Is(err, core.ErrCountryNotAllowed))
			assert.Equal(t, core.KindForbidden, kindOf(err))
			assert.Contains(t, core.ErrorMessage(err), "GB")
			assert.Contains(t, core.ErrorMessage(err), "allowed: US")
			// +1 876 shares the US country code but is Jamaica: a classic
			// toll-fraud range.
			err = start(jm, m)
			require.Error(t, err, m)
			assert.Contains(t, core.ErrorMessage(err), "JM")
		}
		evs, err := f.eng.AuditEvents(ctx, f.tenant.ID, core.AuditQuery{Action: core.AuditSendRefusedCountry})
		require.NoError(t, err)
		require.Len(t, evs, 4)
		assert.Equal(t, []string{"GB", "JM", "GB", "JM"}, []string{evs[0].Detail["country"], evs[1].Detail["country"], evs[2].Detail["country"], evs[3].Detail["country"]})
		assert.NotContains(t, evs[0].Detail["destination"], "900123", "destinations are masked in the audit log")

		_, err = f.eng.PutChannelSettings(ctx, f.tenant.ID, "tech:"+f.admin.ID, core.ChannelSettings{SMSCountries: []string{"us", "GB"}})
		require.NoError(t, err)
		require.NoError(t, start(uk, core.MethodSMSCode))
		assert.Error(t, start(uk, core.MethodVoiceCode), "voice has its own list")
		assert.Error(t, start(jm, core.MethodSMSCode))
		f.deliver(t)
		assert.Equal(t, "+447700900123", f.sms.last(t).To)

		_, err = f.eng.PutChannelSettings(ctx, f.tenant.ID, "tech:"+f.admin.ID, core.ChannelSettings{SMSCountries: []string{"XX"}})
		assert.Equal(t, core.KindInvalid, kindOf(err))
	})
}

// TestTechVerifyHook: #verify and #confirm reach the installed handler once
// per MessageSid; without one the sender gets a polite line.
func TestTechVerifyHook(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		reply := f.text(t, 1, fixturePhone, "#verify")
		assert.Contains(t, reply, "Acme IT")
		assert.Contains(t, reply, "not available")

		var calls atomic.Int32
		var got core.InboundText
		f.eng.SetTechVerifyHandler(core.TechVerifyFunc(func(ctx context.Context, in core.InboundText) (string, error) {
			calls.Add(1)
			got = in
			return "Your code is 123 456", nil
		}))
		assert.Equal(t, "Your code is 123 456", f.text(t, 2, fixturePhone, "#CONFIRM 482913"))
		assert.Equal(t, core.SMSKeywordConfirm, got.Keyword)
		assert.Equal(t, "482913", got.Argument)
		assert.Equal(t, f.tenant.ID, got.Tenant.ID)
		assert.Equal(t, fixturePhone, got.Message.From)
		assert.Empty(t, f.text(t, 2, fixturePhone, "#CONFIRM 482913"), "a replay is not handed over again")
		assert.EqualValues(t, 1, calls.Load())
		assert.Empty(t, f.text(t, 3, fixturePhone, "hello"))
		assert.EqualValues(t, 1, calls.Load(), "only #verify and #confirm reach the handler")

		// A handler's reply to an opted-out number is dropped.
		f.text(t, 4, fixturePhone, "STOP")
		assert.Empty(t, f.text(t, 5, fixturePhone, "#verify"))
		assert.EqualValues(t, 2, calls.Load())

		f.eng.SetTechVerifyHandler(core.TechVerifyFunc(func(ctx context.Context, in core.InboundText) (string, error) {
			return "", errors.New("boom")
		}))
		assert.Empty(t, f.text(t, 6, "+15550100199", "#verify"))
		rec, err := f.eng.InboundSMSRecord(t.Context(), f.tenant.ID, sid(6))
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(rec.Outcome, "handler failed"), rec.Outcome)
	})
}

// TestChannelSettingsStored: settings are sealed at rest, secrets left
// blank on save are kept, and a verification number belongs to one tenant.
func TestChannelSettingsStored(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := t.Context()
		acct := "AC" + strings.Repeat("a1", 16)
		in := core.ChannelSettings{
			Twilio: core.TwilioSettings{AccountSID: acct, Secret: "sekrit0token0value", Number: "+1 555 000 1111"},
			Email: core.EmailSettings{Host: "smtp.acme.example", Port: 587, Username: "verify", Password: "mail-pass-word",
				From: "verify@acme.example"},
			SMSCountries: []string{"US", "CA"},
		}
		var fixed []core.OutboxKind
		f.eng.SetChannelsFixedHook(func(ctx context.Context, tenantID string, kinds []core.OutboxKind) {
			assert.Equal(t, f.tenant.ID, tenantID)
			fixed = kinds
		})
		_, err := f.eng.PutChannelSettings(ctx, f.tenant.ID, "tech:"+f.admin.ID, in)
		require.NoError(t, err)
		assert.ElementsMatch(t, []core.OutboxKind{core.OutboxSMS, core.OutboxVoice, core.OutboxEmail}, fixed)

		got, err := f.eng.ChannelSettings(ctx, f.tenant.ID)
		require.NoError(t, err)
		assert.Equal(t, "+15550001111", got.Twilio.Number)
		assert.Equal(t, "sekrit0token0value", got.Twilio.Secret)
		assert.Equal(t, "mail-pass-word", got.Email.Password)
		assert.False(t, got.UpdatedAt.IsZero())

		require.NoError(t, st.View(ctx, func(tx core.Tx) error {
			row, err := tx.Channels(ctx, f.tenant.ID)
			require.NoError(t, err)
			assert.Equal(t, "+15550001111", row.SMSNumber)
			assert.NotContains(t, string(row.Sealed), "sekrit")
			assert.NotContains(t, string(row.Sealed), "mail-pass")
			tn, err := tx.Tenant(ctx, f.tenant.ID)
			require.NoError(t, err)
			assert.Equal(t, "+15550001111", tn.SMSFrom, "the verification number is the tenant's sender")
			return nil
		}))
		owner, tw, err := f.eng.SMSNumberOwner(ctx, "+15550001111")
		require.NoError(t, err)
		assert.Equal(t, f.tenant.ID, owner.ID)
		assert.Equal(t, "sekrit0token0value", tw.WebhookToken())
		_, _, err = f.eng.SMSNumberOwner(ctx, "+15550002222")
		assert.Equal(t, core.KindNotFound, kindOf(err))

		// Saving again with blank secrets keeps them; only countries changed.
		fixed = nil
		in.Twilio.Secret, in.Email.Password = "", ""
		in.SMSCountries = []string{"US"}
		_, err = f.eng.PutChannelSettings(ctx, f.tenant.ID, "tech:"+f.admin.ID, in)
		require.NoError(t, err)
		got, err = f.eng.ChannelSettings(ctx, f.tenant.ID)
		require.NoError(t, err)
		assert.Equal(t, "sekrit0token0value", got.Twilio.Secret)
		assert.Equal(t, "mail-pass-word", got.Email.Password)
		assert.Empty(t, fixed, "no account changed")

		// The audit names the account, never a secret.
		evs, err := f.eng.AuditEvents(ctx, f.tenant.ID, core.AuditQuery{Action: core.AuditChannelsSaved})
		require.NoError(t, err)
		require.Len(t, evs, 2)
		assert.Equal(t, acct, evs[0].Detail["twilio"])
		for _, v := range evs[0].Detail {
			assert.NotContains(t, v, "sekrit")
		}

		// Another tenant cannot take the number.
		other := core.Tenant{ID: core.NewID("ten"), Slug: "other-" + core.NewID("x")[2:8], Name: "Other"}
		require.NoError(t, st.Update(ctx, func(tx core.Tx) error { return tx.CreateTenant(ctx, &other) }))
		_, err = f.eng.PutChannelSettings(ctx, other.ID, "tech:x", core.ChannelSettings{Twilio: core.TwilioSettings{Shared: true, Number: "+15550001111"}})
		assert.Equal(t, core.KindConflict, kindOf(err))
		assert.Contains(t, core.ErrorMessage(err), "another tenant")

		for name, bad := range map[string]core.ChannelSettings{
			"account sid":   {Twilio: core.TwilioSettings{AccountSID: "AC123", Secret: "x", Number: "+15550003333"}},
			"no number":     {Twilio: core.TwilioSettings{AccountSID: acct, Secret: "abc"}},
			"national":      {Twilio: core.TwilioSettings{Shared: true, Number: "555 000 3333"}},
			"api key alone": {Twilio: core.TwilioSettings{AccountSID: acct, APIKeySID: "SK" + strings.Repeat("b2", 16), Secret: "abc", Number: "+15550003333"}},
			"smtp host":     {Email: core.EmailSettings{Host: "smtp.example.com:587", From: "a@b.example"}},
			"smtp from":     {Email: core.EmailSettings{Host: "smtp.example.com", From: "Acme <a@b.example>"}},
			"help too long": {HelpText: strings.Repeat("x", 301)},
		} {
			_, err := f.eng.PutChannelSettings(ctx, other.ID, "tech:x", bad)
			assert.Equal(t, core.KindInvalid, kindOf(err), name)
		}
	})
}

// TestCarrierWording: every SMS names the MSP, and the first text to a
// number says how to opt out, built-in wording or the tenant's own.
func TestCarrierWording(t *testing.T) {
	assert.Equal(t, "Acme IT: code 1. Reply STOP to opt out.", core.CarrierWording("code 1.", "Acme IT", true))
	assert.Equal(t, "ACME IT code 1", core.CarrierWording("ACME IT code 1", "Acme IT", false))
	assert.Equal(t, "Acme IT code 1, text STOP to end", core.CarrierWording("Acme IT code 1, text STOP to end", "Acme IT", true))

	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		f.start(t, core.MethodSMSCode)
		f.deliver(t)
		first := f.sms.last(t).Text
		assert.True(t, strings.HasPrefix(first, "Acme IT"), first)
		assert.True(t, strings.HasSuffix(first, " Reply STOP to opt out."), first)
		f.clk.Add(time.Hour)
		f.start(t, core.MethodSMSLink)
		f.deliver(t)
		assert.NotContains(t, f.sms.last(t).Text, "STOP", "only the first text to a number carries the notice")

		// The tenant's own wording that forgets its name gets it.
		ctx := t.Context()
		require.NoError(t, st.Update(ctx, func(tx core.Tx) error {
			tn, err := tx.Tenant(ctx, f.tenant.ID)
			if err != nil {
				return err
			}
			tn.Branding.Messages = map[string]core.MessageTemplate{"sms_code": {Body: "Your code: {{.Code}}"}}
			return tx.UpdateTenant(ctx, &tn)
		}))
		f.clk.Add(time.Hour)
		f.start(t, core.MethodSMSCode, func(r *core.StartRequest) { r.DestinationID = f.contact.Destinations[1].ID; r.Note = "home" })
		f.deliver(t)
		m := f.sms.last(t)
		assert.Regexp(t, `^Acme IT: Your code: \d{6} Reply STOP to opt out\.$`, m.Text)
	})
}
