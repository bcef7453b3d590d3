package core_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// TestTicketNoteSurvivesPSAOutage checks that a verification started from a
// PSA ticket writes its result to the ticket through the outbox, that the
// note waits out a PSA that is down, and that it is written once.
func TestTicketNoteSurvivesPSAOutage(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := t.Context()
		in, err := f.eng.PutIntegration(ctx, f.tenant.ID, "test", core.Integration{Kind: "memory", Name: "PSA", Config: []byte(`{}`)})
		require.NoError(t, err)

		_, err = f.eng.Start(ctx, core.StartRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID, ContactID: f.contact.ID,
			Method: core.MethodSMSCode, IntegrationID: in.ID})
		assert.Equal(t, core.KindInvalid, kindOf(err), "an integration needs a ticket")
		_, err = f.eng.Start(ctx, core.StartRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID, ContactID: f.contact.ID,
			Method: core.MethodSMSCode, TicketRef: "900", IntegrationID: "int_other"})
		assert.Equal(t, core.KindNotFound, kindOf(err), "an unknown integration is refused")

		started := f.start(t, core.MethodSMSCode, func(r *core.StartRequest) { r.TicketRef, r.IntegrationID = "900", in.ID })
		f.deliver(t)
		code := codeRE.FindStringSubmatch(f.sms.last(t).Text)
		require.NotNil(t, code)

		// The PSA is down when the note is due: the outbox keeps it.
		down := errors.New("connectwise: 503 Service Unavailable")
		f.notes.fail = []error{down, down, down}
		v, err := f.eng.CheckCode(ctx, f.tenant.ID, f.tech.ID, started.Verification.ID, code[1]+code[2])
		require.NoError(t, err)
		require.Equal(t, core.StatusVerified, v.Status)
		for range 3 {
			f.deliver(t)
			f.clk.Add(15 * time.Minute) // past the backoff
		}
		assert.Empty(t, f.notes.fail, "every outage answer was used")
		f.deliver(t)
		require.Len(t, f.notes.msgs, 1, "the note landed once the PSA was back")
		n := f.notes.msgs[0]
		assert.Equal(t, core.OutboxTicketNote, n.Kind)
		assert.Equal(t, "900", n.To)
		assert.Equal(t, in.ID, n.Integration)
		assert.Equal(t, f.tenant.ID, n.Tenant)
		assert.Contains(t, n.Text, "VERIFIED by SMS code")
		assert.NotContains(t, n.Text, code[1]+code[2], "the code never reaches the ticket")
		f.deliver(t)
		assert.Len(t, f.notes.msgs, 1, "written once")

		// A cancelled verification is noted too; one without a ticket is not.
		c := f.start(t, core.MethodSMSCode, func(r *core.StartRequest) { r.TicketRef, r.IntegrationID = "900", in.ID })
		_, err = f.eng.Cancel(ctx, f.tenant.ID, f.tech.ID, c.Verification.ID)
		require.NoError(t, err)
		plain := f.start(t, core.MethodSMSCode)
		_, err = f.eng.Cancel(ctx, f.tenant.ID, f.tech.ID, plain.Verification.ID)
		require.NoError(t, err)
		f.deliver(t)
		require.Len(t, f.notes.msgs, 2)
		assert.Contains(t, f.notes.msgs[1].Text, "was CANCELLED")

		// Notes outlast delivery retries: a weekend outage does not kill them.
		f.notes.fail = make([]error, 40)
		for i := range f.notes.fail {
			f.notes.fail[i] = down
		}
		d := f.start(t, core.MethodSMSCode, func(r *core.StartRequest) { r.TicketRef, r.IntegrationID = "900", in.ID })
		_, err = f.eng.Cancel(ctx, f.tenant.ID, f.tech.ID, d.Verification.ID)
		require.NoError(t, err)
		for range 41 {
			f.deliver(t)
			f.clk.Add(11 * time.Minute)
		}
		require.Len(t, f.notes.msgs, 3, "the note landed after 40 failed attempts")
	})
}

// TestTicketNoteState checks what the history shows of a verification's
// note: queued, retrying with the PSA's reason, written, failed with the
// reason it was refused, and that watchers hear of each change.
func TestTicketNoteState(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		var (
			mu     sync.Mutex
			events []core.Event
		)
		f := newFixture(t, st, func(c *core.Config) {
			c.Publisher = core.PublisherFunc(func(_ context.Context, ev core.Event) {
				mu.Lock()
				defer mu.Unlock()
				events = append(events, ev)
			})
		})
		noteEvents := func() int {
			mu.Lock()
			defer mu.Unlock()
			n := 0
			for _, ev := range events {
				if ev.Type == core.EventVerificationNote {
					n++
				}
			}
			return n
		}
		ctx := t.Context()
		in, err := f.eng.PutIntegration(ctx, f.tenant.ID, "test", core.Integration{Kind: "memory", Name: "PSA", Config: []byte(`{}`)})
		require.NoError(t, err)
		plain := f.start(t, core.MethodSMSCode)
		_, err = f.eng.Cancel(ctx, f.tenant.ID, f.tech.ID, plain.Verification.ID)
		require.NoError(t, err)
		a := f.start(t, core.MethodSMSCode, func(r *core.StartRequest) { r.TicketRef, r.IntegrationID = "900", in.ID })
		_, err = f.eng.Cancel(ctx, f.tenant.ID, f.tech.ID, a.Verification.ID)
		require.NoError(t, err)
		ids := []string{a.Verification.ID, plain.Verification.ID}

		notes, err := f.eng.TicketNotes(ctx, f.tenant.ID, ids)
		require.NoError(t, err)
		require.Len(t, notes, 1, "a verification without a ticket has no note")
		assert.Equal(t, core.NoteQueued, notes[a.Verification.ID].State)

		// The PSA is down: retrying, with words a technician reads (not
		// the technical cause).
		f.notes.fail = []error{fmt.Errorf("memory: add note: 503 (upstream connect error): %w", core.ErrUnavailable)}
		f.deliver(t)
		notes, err = f.eng.TicketNotes(ctx, f.tenant.ID, ids)
		require.NoError(t, err)
		n := notes[a.Verification.ID]
		assert.Equal(t, core.NoteRetrying, n.State)
		assert.Equal(t, "the service is unavailable", n.Reason)
		assert.Equal(t, 1, n.Attempts)
		assert.True(t, n.NextAttemptAt.After(f.clk.Now()), "the next try is later")
		assert.Equal(t, 1, noteEvents())

		f.clk.Add(time.Minute)
		f.deliver(t)
		notes, err = f.eng.TicketNotes(ctx, f.tenant.ID, ids)
		require.NoError(t, err)
		n = notes[a.Verification.ID]
		assert.Equal(t, core.NoteWritten, n.State)
		assert.Empty(t, n.Reason)
		assert.Equal(t, f.clk.Now(), n.At.UTC())
		assert.Equal(t, 2, noteEvents())

		// A ticket the PSA no longer has: failed, with the PSA's reason.
		b := f.start(t, core.MethodSMSCode, func(r *core.StartRequest) { r.TicketRef, r.IntegrationID = "901", in.ID })
		_, err = f.eng.Cancel(ctx, f.tenant.ID, f.tech.ID, b.Verification.ID)
		require.NoError(t, err)
		f.notes.fail = []error{&core.PermanentError{Code: "not_found", Reason: "the PSA refused the note: no such ticket"}}
		f.deliver(t)
		notes, err = f.eng.TicketNotes(ctx, f.tenant.ID, []string{a.Verification.ID, b.Verification.ID})
		require.NoError(t, err)
		assert.Equal(t, core.NoteWritten, notes[a.Verification.ID].State)
		assert.Equal(t, core.TicketNote{VerificationID: b.Verification.ID, State: core.NoteFailed,
			Reason: "the PSA refused the note: no such ticket", Attempts: 1, At: f.clk.Now()},
			normNote(notes[b.Verification.ID]))
		assert.Equal(t, 3, noteEvents())

		// Another tenant sees none of them.
		notes, err = f.eng.TicketNotes(ctx, "ten_other", []string{a.Verification.ID, b.Verification.ID})
		require.NoError(t, err)
		assert.Empty(t, notes)
	})
}

func normNote(n core.TicketNote) core.TicketNote {
	n.At, n.NextAttemptAt = n.At.UTC(), n.NextAttemptAt.UTC()
	if n.NextAttemptAt.Equal(time.Time{}.UTC()) {
		n.NextAttemptAt = time.Time{}
	}
	return n
}

func TestDeliveryReason(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{&core.PermanentError{Code: "21610", Reason: "the number opted out"}, "the number opted out"},
		{fmt.Errorf("psa: add note: %w", core.Errorf(core.KindNotFound, "ticket 12 is not in the PSA")), "ticket 12 is not in the PSA"},
		{fmt.Errorf("psa: 429: %w", core.ErrRateLimited), "the service is limiting requests"},
		{fmt.Errorf("post: %w", context.DeadlineExceeded), "the service did not answer in time"},
		{core.Misconfigured("the API key was revoked: enter a new one", "401", "", nil), "the API key was revoked: enter a new one"},
		{errors.New("dial tcp 10.0.0.1:443: connection refused"), "the service could not be reached"},
	} {
		assert.Equal(t, tc.want, core.DeliveryReason(tc.err), "%v", tc.err)
	}
}

// TestRoutesLockedChannel: a channel locked by consecutive failures is
// not offered, with the reason, so that the card offers another way; the
// other channel stays available.
func TestRoutesLockedChannel(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := t.Context()
		require.NoError(t, st.Update(ctx, func(tx core.Tx) error {
			return tx.SetFailureCount(ctx, f.tenant.ID, f.contact.ID, core.DestPhone, core.DefaultPolicy().FailureCap, f.clk.Now())
		}))
		routes, err := f.eng.Routes(ctx, f.tenant.ID, f.contact.ID)
		require.NoError(t, err)
		seen := map[core.DestinationKind]bool{}
		for _, r := range routes {
			switch r.Method {
			case core.MethodSMSCode, core.MethodSMSLink, core.MethodVoiceCode:
				seen[core.DestPhone] = true
				assert.False(t, r.Available, r.Method)
				assert.Contains(t, r.Reason, "locked after 10 consecutive failures", r.Method)
			case core.MethodEmailLink, core.MethodEmailCode:
				seen[core.DestEmail] = true
				assert.True(t, r.Available, "%s: %s", r.Method, r.Reason)
			}
		}
		assert.True(t, seen[core.DestPhone] && seen[core.DestEmail], "both channels listed")
	})
}

// TestTicketNoteInTenantZone checks that the note written to the PSA says
// when in the tenant's time zone, named, with the date (issue 12): the
// ticket is read later, by people who do not think in UTC.
func TestTicketNoteInTenantZone(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := t.Context()
		f.tenant.Branding.TimeZone = "Asia/Kolkata"
		require.NoError(t, st.Update(ctx, func(tx core.Tx) error { return tx.UpdateTenant(ctx, &f.tenant) }))
		in, err := f.eng.PutIntegration(ctx, f.tenant.ID, "test", core.Integration{Kind: "memory", Name: "PSA", Config: []byte(`{}`)})
		require.NoError(t, err)
		f.clk.Add(10*time.Hour + 5*time.Minute) // 19:05 UTC, 00:35 the next day in Kolkata
		started := f.start(t, core.MethodSMSCode, func(r *core.StartRequest) { r.TicketRef, r.IntegrationID = "900", in.ID })
		f.deliver(t)
		code := codeRE.FindStringSubmatch(f.sms.last(t).Text)
		require.NotNil(t, code)
		v, err := f.eng.CheckCode(ctx, f.tenant.ID, f.tech.ID, started.Verification.ID, code[1]+code[2])
		require.NoError(t, err)
		f.deliver(t)
		require.Len(t, f.notes.msgs, 1)
		text := f.notes.msgs[0].Text
		loc, err := time.LoadLocation("Asia/Kolkata")
		require.NoError(t, err)
		assert.Contains(t, text, "(requested by jane, 3 Nov 2026 00:35 IST)", text)
		assert.Contains(t, text, "Valid until "+core.FormatStampFrom(v.VerifiedUntil, v.CompletedAt, loc)+".", text)
		assert.NotContains(t, text, "UTC")
	})
}
