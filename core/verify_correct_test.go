package core_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// openOf returns the contact's verifications that are still open.
func openOf(t *testing.T, f *fixture) []core.Verification {
	t.Helper()
	hist, err := f.eng.History(t.Context(), f.tenant.ID, f.contact.ID)
	require.NoError(t, err)
	var out []core.Verification
	for _, v := range hist {
		if v.Status.Open() {
			out = append(out, v)
		}
	}
	return out
}

// TestStartReplacesTheLiveVerification: one live verification per contact.
// Starting an email link while an SMS code waits cancels the SMS code at
// once (its code is refused), audits the cancellation with its successor,
// and leaves the email link as the one open verification.
func TestStartReplacesTheLiveVerification(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		sms := f.start(t, core.MethodSMSCode)
		f.deliver(t)
		code := codeIn(t, f.sms.last(t))

		link := f.start(t, core.MethodEmailLink, func(r *core.StartRequest) { r.TechnicianID = f.other.ID })
		old := f.verification(t, sms.Verification.ID)
		assert.Equal(t, core.StatusCancelled, old.Status, "the older verification ends when a new one starts")
		assert.Equal(t, "replaced by a newer verification", old.Detail)
		open := openOf(t, f)
		require.Len(t, open, 1)
		assert.Equal(t, link.Verification.ID, open[0].ID, "the newest is the live one")

		_, err := f.eng.CheckCode(t.Context(), f.tenant.ID, f.tech.ID, sms.Verification.ID, code)
		assert.Equal(t, core.KindGone, kindOf(err), "the old code is dead")

		require.NoError(t, st.View(t.Context(), func(tx core.Tx) error {
			evs, err := tx.AuditEvents(t.Context(), f.tenant.ID, core.AuditQuery{})
			require.NoError(t, err)
			var found bool
			for _, e := range evs {
				if e.Action == string(core.EventVerificationCancelled) && e.Subject == sms.Verification.ID {
					found = true
					assert.Equal(t, link.Verification.ID, e.Detail["replaced_by"])
					assert.Equal(t, "tech:"+f.other.ID, e.Actor, "the technician who started the new one")
				}
			}
			assert.True(t, found, "the replacement is audited")
			return nil
		}))

		// A verified one is history, not live: a new start leaves it alone.
		f.deliver(t)
		_, err = f.eng.Cancel(t.Context(), f.tenant.ID, f.other.ID, link.Verification.ID)
		require.NoError(t, err)
		assert.Empty(t, openOf(t, f))
	})
}

// TestConcurrentStartsLeaveOneLive: starts for one contact at the same
// moment still leave exactly one open verification (PostgreSQL locks the
// contact; SQLite's writer serialises them).
func TestConcurrentStartsLeaveOneLive(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		const n = 4 // within the per-contact hourly quota of 5
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := f.eng.Start(context.Background(), core.StartRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID,
					ContactID: f.contact.ID, Method: core.MethodSMSCode})
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		assert.Len(t, openOf(t, f), 1)
	})
}

// TestTicketRefIsChecked: a typed ticket reference is letters, digits, '#'
// and '-', at most 20; anything else is refused before anything is sent.
// A reference resolved through a PSA integration is kept for the history
// and the note, but reaches the caller's message only in checked form.
func TestTicketRefIsChecked(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		for _, bad := range []string{
			"<img src=x onerror=alert(1)> Call +1 555 0199 now",
			"48213 call 5550199", "T_48213", "48213.", "123456789012345678901", "tick\u00e9t",
		} {
			_, err := f.eng.Start(t.Context(), core.StartRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID,
				ContactID: f.contact.ID, Method: core.MethodSMSCode, TicketRef: bad})
			require.Equal(t, core.KindInvalid, kindOf(err), "%q", bad)
			assert.Contains(t, core.ErrorMessage(err), "letters, digits, '#' and '-'")
		}
		assert.Empty(t, openOf(t, f), "nothing was started")

		ok := f.start(t, core.MethodSMSCode, func(r *core.StartRequest) { r.TicketRef = "#T-48213" })
		f.deliver(t)
		assert.Contains(t, f.sms.last(t).Text, "(ticket #T-48213)")
		assert.Equal(t, "#T-48213", ok.Verification.TicketRef)

		// Through an integration (a pod, a PSA callback): the PSA's own
		// reference stays in the row; the message leaves it out.
		in, err := f.eng.PutIntegration(t.Context(), f.tenant.ID, "test", core.Integration{Kind: "memory", Name: "PSA", Config: []byte(`{}`)})
		require.NoError(t, err)
		weird := "Call +1 555 0199 now"
		psa := f.start(t, core.MethodSMSCode, func(r *core.StartRequest) { r.TicketRef, r.IntegrationID = weird, in.ID })
		assert.Equal(t, weird, psa.Verification.TicketRef)
		f.deliver(t)
		text := f.sms.last(t).Text
		assert.NotContains(t, text, "555 0199")
		assert.NotContains(t, text, "ticket")
	})
}

// TestNamesInMessagesAreChecked: a contact's first name or a technician's
// name (both may come from a PSA) reaches a message only when it looks like
// a name.
func TestNamesInMessagesAreChecked(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		c, err := f.eng.CreateContact(t.Context(), f.tenant.ID, "test", "manual", core.NewContact{
			ClientID: f.client.ID, FirstName: "Call 555 0199 now", LastName: "X",
			Emails: []core.NewDestination{{Value: "x@contoso.example", Default: true}},
		})
		require.NoError(t, err)
		f.start(t, core.MethodEmailCode, func(r *core.StartRequest) { r.ContactID = c.ID })
		f.deliver(t)
		m := f.mail.last(t)
		assert.NotContains(t, m.Text+m.HTML, "555 0199")
		assert.True(t, strings.HasPrefix(m.Text, "Hello,"), "%q", m.Text)

		assert.Equal(t, "Zoë O’Brien-Smith", core.MessageName(" Zoë  O’Brien-Smith "))
		for _, bad := range []string{"Sam <b>", "Sam (call 5550199)", "sam@evil.example", "https://x", strings.Repeat("a", 41)} {
			assert.Empty(t, core.MessageName(bad), "%q", bad)
		}
	})
}

// TestCodeThatCannotBeACodeCountsNothing: letters or a wrong length are
// refused without using an attempt or adding a consecutive failure.
func TestCodeThatCannotBeACodeCountsNothing(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		started := f.start(t, core.MethodSMSCode)
		f.deliver(t)
		code := codeIn(t, f.sms.last(t))
		before := auditHead(t, f)
		for _, junk := range []string{"abcdef", "12345", "1234567", "12a456", "１２３４５６", "123 45"} {
			_, err := f.eng.CheckCode(t.Context(), f.tenant.ID, f.tech.ID, started.Verification.ID, junk)
			require.Equal(t, core.KindInvalid, kindOf(err), "%q", junk)
			assert.Contains(t, core.ErrorMessage(err), "nothing was counted")
		}
		v := f.verification(t, started.Verification.ID)
		assert.Equal(t, 0, v.Attempts, "no attempt was used")
		assert.Equal(t, before, auditHead(t, f), "nothing was recorded as a failure")
		var fails int
		require.NoError(t, st.View(t.Context(), func(tx core.Tx) error {
			var err error
			fails, err = tx.FailureCount(t.Context(), f.tenant.ID, f.contact.ID, core.DestPhone)
			return err
		}))
		assert.Zero(t, fails, "no consecutive failure was counted")
		v, err := f.eng.CheckCode(t.Context(), f.tenant.ID, f.tech.ID, started.Verification.ID, code[:3]+"-"+code[3:])
		require.NoError(t, err)
		assert.Equal(t, core.StatusVerified, v.Status)
	})
}

// TestLinkCodeThatCannotBeACodeCountsNothing: on the link page, letters or
// a wrong length for the technician's code are refused without using an
// attempt.
func TestLinkCodeThatCannotBeACodeCountsNothing(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		started := f.start(t, core.MethodEmailLink)
		f.deliver(t)
		link := linkRE.FindString(f.mail.last(t).Text)
		require.NotEmpty(t, link)
		token := link[strings.LastIndex(link, "/")+1:]
		before := auditHead(t, f)
		for _, junk := range []string{"abcdef", "12345", "1234567"} {
			_, err := f.eng.LinkConfirm(t.Context(), f.tenant.Slug, token, core.LinkAnswer{Code: junk})
			require.Equal(t, core.KindInvalid, kindOf(err), "%q", junk)
			assert.Contains(t, core.ErrorMessage(err), "nothing was counted")
		}
		assert.Equal(t, 0, f.verification(t, started.Verification.ID).Attempts)
		assert.Equal(t, before, auditHead(t, f))
		v, err := f.eng.LinkConfirm(t.Context(), f.tenant.Slug, token, core.LinkAnswer{Code: started.TechCode})
		require.NoError(t, err)
		assert.Equal(t, core.StatusVerified, v.Status)
	})
}
