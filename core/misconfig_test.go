package core_test

import (
	"testing"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// set and calls read a capture's knobs under its lock.
func (c *capture) set(refuse error) { c.mu.Lock(); defer c.mu.Unlock(); c.refuse = refuse }
func (c *capture) count() int       { c.mu.Lock(); defer c.mu.Unlock(); return c.calls }

func channelAudit(t *testing.T, f *fixture, action string) []core.AuditEvent {
	t.Helper()
	evs, err := f.eng.AuditEvents(t.Context(), f.tenant.ID, core.AuditQuery{Action: action})
	require.NoError(t, err)
	return evs
}

// TestMisconfiguredSMSWaitsForFix: Twilio refusing the credentials parks
// the message (no retry storm), shows the technician what is wrong instead
// of "Sending…", refuses new sends with words per role, and a saved fix
// sends the parked message at once.
func TestMisconfiguredSMSWaitsForFix(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := t.Context()
		f.sms.set(core.Misconfigured("Twilio rejected the account SID and auth token", "20003", "Authenticate", nil))
		id := f.start(t, core.MethodSMSCode).Verification.ID
		f.deliver(t)
		require.Equal(t, 1, f.sms.count())

		v := f.verification(t, id)
		assert.Equal(t, core.StatusPending, v.Status, "the verification stays open: a fix in time still delivers")
		assert.Equal(t, core.DeliveryMisconfigured, v.DeliveryStatus)
		assert.Equal(t, "SMS is not configured correctly — ask your admin", v.Detail)

		issues, err := f.eng.ChannelIssues(ctx, f.tenant.ID)
		require.NoError(t, err)
		require.Len(t, issues, 1)
		assert.Equal(t, core.ChannelSMS, issues[0].Channel)
		assert.Equal(t, "20003", issues[0].Code)
		assert.Equal(t, "Authenticate", issues[0].VendorMessage)
		assert.Equal(t, 1, issues[0].Waiting)
		require.Len(t, channelAudit(t, f, core.AuditChannelMisconfigured), 1)

		// No retry storm: passes of the outbox, even past the outage
		// backoff, send nothing until the probe is due.
		for range 5 {
			f.clk.Add(5 * time.Second)
			f.deliver(t)
		}
		assert.Equal(t, 1, f.sms.count(), "a misconfigured channel is not retried like an outage")

		// New sends are refused at once, in words for the technician and
		// with the fix for an admin; other channels are not affected.
		_, err = f.eng.Start(ctx, core.StartRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID, ContactID: f.contact.ID, Method: core.MethodSMSLink})
		require.ErrorIs(t, err, core.ErrMisconfigured)
		assert.Equal(t, "SMS is not configured correctly — ask your admin", core.ErrorMessage(err))
		_, err = f.eng.Start(ctx, core.StartRequest{TenantID: f.tenant.ID, TechnicianID: f.admin.ID, ContactID: f.contact.ID, Method: core.MethodSMSCode})
		require.ErrorIs(t, err, core.ErrMisconfigured)
		assert.Contains(t, core.ErrorMessage(err), "Twilio rejected the account SID and auth token")
		assert.Equal(t, 1, f.sms.count())
		assert.Equal(t, core.StatusPending, f.verification(t, id).Status, "refused starts replaced nothing")

		// The admin saves a fix: the parked message goes out, once.
		f.sms.set(nil)
		require.NoError(t, f.eng.ClearChannelIssue(ctx, f.tenant.ID, "tech:"+f.admin.ID, "settings saved", core.ChannelSMS, core.ChannelVoice))
		f.deliver(t)
		assert.Equal(t, 2, f.sms.count())
		v = f.verification(t, id)
		assert.Equal(t, core.StatusSent, v.Status)
		assert.Empty(t, v.Detail)
		code := codeIn(t, f.sms.last(t))
		v, err = f.eng.CheckCode(ctx, f.tenant.ID, f.tech.ID, id, code)
		require.NoError(t, err)
		assert.Equal(t, core.StatusVerified, v.Status)
		issues, err = f.eng.ChannelIssues(ctx, f.tenant.ID)
		require.NoError(t, err)
		assert.Empty(t, issues)
		fixed := channelAudit(t, f, core.AuditChannelFixed)
		require.Len(t, fixed, 1, "only the channel that had an issue is audited as fixed")
		assert.Equal(t, "tech:"+f.admin.ID, fixed[0].Actor)
		assert.Equal(t, core.ChannelSMS, fixed[0].Subject)
		f.deliver(t)
		assert.Equal(t, 2, f.sms.count(), "sent once")
	})
}

// TestMisconfiguredChannelProbes: with nobody pressing anything, one
// parked message tries the vendor per probe step; when the vendor takes it
// (a fix made outside Countersign), the channel is well again.
func TestMisconfiguredChannelProbes(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := t.Context()
		in, err := f.eng.PutIntegration(ctx, f.tenant.ID, "test", core.Integration{Kind: "memory", Name: "PSA", Config: []byte(`{}`)})
		require.NoError(t, err)
		f.notes.set(core.Misconfigured("the PSA rejected the API keys", "401", "UserNotAuthenticated", nil))
		// Three verifications from tickets, each cancelled: three notes.
		for i := range 3 {
			started := f.start(t, core.MethodEmailLink, func(r *core.StartRequest) {
				r.TicketRef, r.IntegrationID = "90"+string(rune('0'+i)), in.ID
			})
			_, err := f.eng.Cancel(ctx, f.tenant.ID, f.tech.ID, started.Verification.ID)
			require.NoError(t, err)
			f.deliver(t)
		}
		assert.Equal(t, 1, f.notes.count(), "one refusal parks the channel; the other notes do not ask again")
		issues, err := f.eng.ChannelIssues(ctx, f.tenant.ID)
		require.NoError(t, err)
		require.Len(t, issues, 1)
		assert.Equal(t, core.PSAChannel(in.ID), issues[0].Channel)
		assert.Equal(t, 3, issues[0].Waiting)

		// The first probe, a minute on, is refused too: one request.
		f.clk.Add(61 * time.Second)
		f.deliver(t)
		f.deliver(t)
		assert.Equal(t, 2, f.notes.count())
		// The next one is two minutes later; this time the PSA takes it.
		f.clk.Add(90 * time.Second)
		f.deliver(t)
		assert.Equal(t, 2, f.notes.count(), "not before its step")
		f.notes.set(nil)
		f.clk.Add(31 * time.Second)
		f.deliver(t)
		f.deliver(t)
		assert.Len(t, f.notes.msgs, 3, "the probe went through and the rest followed")
		issues, err = f.eng.ChannelIssues(ctx, f.tenant.ID)
		require.NoError(t, err)
		assert.Empty(t, issues)
		fixed := channelAudit(t, f, core.AuditChannelFixed)
		require.Len(t, fixed, 1)
		assert.Equal(t, "system", fixed[0].Actor)
	})
}

// TestIntegrationSaveWakesWaitingNotes: saving the integration is the fix
// of its misconfiguration: its parked notes are written at once.
func TestIntegrationSaveWakesWaitingNotes(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := t.Context()
		in, err := f.eng.PutIntegration(ctx, f.tenant.ID, "test", core.Integration{Kind: "memory", Name: "PSA", Config: []byte(`{}`)})
		require.NoError(t, err)
		f.notes.set(core.Misconfigured("the PSA rejected the API keys", "401", "", nil))
		started := f.start(t, core.MethodEmailLink, func(r *core.StartRequest) { r.TicketRef, r.IntegrationID = "77", in.ID })
		_, err = f.eng.Cancel(ctx, f.tenant.ID, f.tech.ID, started.Verification.ID)
		require.NoError(t, err)
		f.deliver(t)
		require.Equal(t, 1, f.notes.count())
		var items []core.OutboxItem
		require.NoError(t, st.View(ctx, func(tx core.Tx) error {
			var err error
			items, err = tx.ListOutbox(ctx, f.tenant.ID, 10)
			return err
		}))
		waiting := 0
		for _, it := range items {
			if it.Status == core.OutboxWaiting {
				waiting++
				assert.Equal(t, core.PSAChannel(in.ID), it.Channel)
			}
		}
		assert.Equal(t, 1, waiting)

		f.notes.set(nil)
		in.Config = []byte(`{"fixed":true}`)
		_, err = f.eng.PutIntegration(ctx, f.tenant.ID, "tech:"+f.admin.ID, in)
		require.NoError(t, err)
		f.deliver(t)
		require.Len(t, f.notes.msgs, 1, "the note was written after the save")
		assert.Equal(t, "77", f.notes.msgs[0].To)
		require.Len(t, channelAudit(t, f, core.AuditChannelFixed), 1)
	})
}
