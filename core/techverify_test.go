package core_test

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var anyCodeRE = regexp.MustCompile(`\d{3} ?\d{3}`)

// techVerifyFixture is a fixture whose engine handles #verify and
// #confirm, with the on-call fixture's group told about them.
func techVerifyFixture(t *testing.T, st *store.Store) *fixture {
	t.Helper()
	f := newFixture(t, st)
	f.eng.SetTechVerifyHandler(f.eng.TechVerifyHandler())
	onCallFixture(t, f, core.NotifyTechVerify)
	// The outbox is shared by the tenants of one store: send what earlier
	// tests left, and forget it.
	f.deliver(t)
	f.sms.reset()
	f.notes.reset()
	f.mail.reset()
	f.call.reset()
	return f
}

func (f *fixture) inbox(t *testing.T) []core.TechVerifyItem {
	t.Helper()
	items, err := f.eng.TechVerifyInbox(t.Context(), f.tech)
	require.NoError(t, err)
	return items
}

func replyCode(t *testing.T, reply string) string {
	t.Helper()
	m := codeRE.FindStringSubmatch(reply)
	require.NotNil(t, m, "no code in %q", reply)
	return m[1] + m[2]
}

// TestTechVerifyFlow: #verify from a contact's number → the same code to
// the end user (the reply) and to the technicians on call (and to the
// technician who claims it in the inbox); #confirm with it closes it once.
func TestTechVerifyFlow(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		f.eng.SetTechVerifyHandler(f.eng.TechVerifyHandler())
		// No group takes technician verification: not available, no code.
		reply := f.text(t, 1, fixturePhone, "#verify")
		assert.Contains(t, reply, "not available")
		assert.NotRegexp(t, anyCodeRE, reply)
		assert.Empty(t, f.inbox(t))

		onCallFixture(t, f, core.NotifyTechVerify)
		// Monday 2 November 2026 09:00 UTC is 04:00 in New York: the night user.
		reply = f.text(t, 2, fixturePhone, "#Verify")
		code := replyCode(t, reply)
		assert.Contains(t, reply, "Acme IT")
		assert.Contains(t, reply, "#confirm")
		assert.Contains(t, reply, "STOP")
		f.deliver(t)
		require.Len(t, f.sms.msgs, 1, "one SMS: the night user's")
		assert.Equal(t, "+15550100302", f.sms.msgs[0].To)
		assert.Equal(t, code, codeIn(t, f.sms.msgs[0]), "the technician gets the end user's code")
		assert.Contains(t, f.sms.msgs[0].Text, "Sam Caller (Contoso)")
		require.Len(t, f.call.msgs, 1)
		assert.Contains(t, strings.Join(f.call.msgs[0].Say, " "), strings.Join(strings.Split(code, ""), " "))
		assert.Empty(t, f.mail.msgs, "the day and weekend users are off")

		items := f.inbox(t)
		require.Len(t, items, 1)
		it := items[0]
		assert.Equal(t, core.TechVerifyOpen, it.Status)
		assert.Equal(t, "Sam Caller", it.ContactName)
		assert.Equal(t, "Contoso", it.ClientName)
		assert.Equal(t, "manual", it.Provenance, "where the number on file came from")
		assert.Equal(t, fixturePhone, it.Phone)
		assert.Nil(t, it.CodeHash, "the inbox carries no code")
		assert.Nil(t, it.CodeSealed)

		// At rest: an HMAC and a sealed copy, never the code itself.
		var row core.TechVerifyRequest
		require.NoError(t, st.View(t.Context(), func(tx core.Tx) error {
			var err error
			row, err = tx.TechVerify(t.Context(), f.tenant.ID, it.ID)
			return err
		}))
		assert.Len(t, row.CodeHash, 32)
		assert.False(t, bytes.Contains(row.CodeSealed, []byte(code)))
		assert.False(t, bytes.Contains(row.CodeHash, []byte(code)))

		// Claiming shows the code to one technician; another cannot take
		// it, an admin can (audited).
		got, err := f.eng.ClaimTechVerify(t.Context(), f.tech, it.ID)
		require.NoError(t, err)
		assert.Equal(t, code, strings.ReplaceAll(got, " ", ""))
		_, err = f.eng.ClaimTechVerify(t.Context(), f.other, it.ID)
		assert.Equal(t, core.KindConflict, kindOf(err))
		_, err = f.eng.ClaimTechVerify(t.Context(), f.admin, it.ID)
		require.NoError(t, err)
		assert.Equal(t, "ann", f.inbox(t)[0].ClaimedByName)

		// The claimer assigns it to a PSA ticket; nobody else may.
		psaIn, err := f.eng.PutIntegration(t.Context(), f.tenant.ID, "test", core.Integration{Kind: "memory", Name: "PSA", Config: []byte(`{}`)})
		require.NoError(t, err)
		_, err = f.eng.AssignTechVerify(t.Context(), f.tech, it.ID, "", "4821")
		assert.Equal(t, core.KindConflict, kindOf(err), "claimed by the admin now")
		_, err = f.eng.AssignTechVerify(t.Context(), f.admin, it.ID, "int_nope", "4821")
		assert.Equal(t, core.KindNotFound, kindOf(err))
		_, err = f.eng.AssignTechVerify(t.Context(), f.admin, it.ID, "", " ")
		assert.Equal(t, core.KindInvalid, kindOf(err))
		assigned, err := f.eng.AssignTechVerify(t.Context(), f.admin, it.ID, "", "4821")
		require.NoError(t, err)
		assert.Equal(t, psaIn.ID, assigned.IntegrationID)
		_, err = f.eng.AssignTechVerify(t.Context(), f.admin, it.ID, "", "4822")
		assert.Equal(t, core.KindConflict, kindOf(err), "once")
		f.deliver(t)
		assert.Empty(t, f.notes.msgs, "no note while it is open")

		// A wrong code texted back warns the end user and counts.
		reply = f.text(t, 3, fixturePhone, "#confirm "+wrongFor(code))
		assert.Contains(t, reply, "not the code")
		assert.Equal(t, 1, f.inbox(t)[0].Attempts)
		assert.Equal(t, core.TechVerifyOpen, f.inbox(t)[0].Status)

		reply = f.text(t, 4, fixturePhone, "#confirm "+code[:3]+" "+code[3:])
		assert.Contains(t, reply, "complete")
		it = f.inbox(t)[0]
		assert.Equal(t, core.TechVerifyConfirmed, it.Status)
		_, err = f.eng.ClaimTechVerify(t.Context(), f.tech, it.ID)
		assert.Equal(t, core.KindConflict, kindOf(err), "no code to read once confirmed")
		f.deliver(t)
		require.Len(t, f.notes.msgs, 1, "the outcome is noted on the ticket")
		note := f.notes.msgs[0]
		assert.Equal(t, "4821", note.To)
		assert.Equal(t, psaIn.ID, note.Integration)
		assert.Contains(t, note.Text, "Sam Caller checked technician ann by text and CONFIRMED")
		assert.NotContains(t, note.Text, code[:3]+" "+code[3:], "never the code")
		assert.NotContains(t, note.Text, code)

		// Twice: nothing more is confirmed.
		reply = f.text(t, 5, fixturePhone, "#confirm")
		assert.Contains(t, reply, "no open technician check")
		assert.Empty(t, f.text(t, 4, fixturePhone, "#confirm "+code), "a replayed MessageSid does nothing")
		acts := f.auditActions(t)
		for _, a := range []string{core.AuditTechVerifyRequested, core.AuditTechVerifyClaimed, core.AuditTechVerifyRejected,
			core.AuditTechVerifyConfirmed, core.AuditNotifySent} {
			assert.Contains(t, acts, a)
		}
		n := 0
		for _, a := range acts {
			if a == core.AuditTechVerifyConfirmed {
				n++
			}
		}
		assert.Equal(t, 1, n, "confirmed once")

		// Another tenant sees none of it.
		g := newFixture(t, st)
		other, err := g.eng.TechVerifyInbox(t.Context(), g.tech)
		require.NoError(t, err)
		assert.Empty(t, other)
		_, err = g.eng.ClaimTechVerify(t.Context(), g.admin, it.ID)
		assert.Equal(t, core.KindNotFound, kindOf(err))
	})
}

// TestTechVerifyRefusals: unknown numbers, expiry, wrong codes, a newer
// #verify, opted-out numbers and the rate limits.
func TestTechVerifyRefusals(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		t.Run("unknown number", func(t *testing.T) {
			f := techVerifyFixture(t, st)
			base := 100
			const stranger = "+15550100777"
			// Before anything, #confirm from a number on file and from a
			// stranger answer alike: nothing.
			assert.Empty(t, f.text(t, base+1, "+15550100199", "#confirm"), "the contact's home number")
			assert.Empty(t, f.text(t, base+2, stranger, "#confirm"))
			reply := f.text(t, base+3, stranger, "#verify")
			assert.Contains(t, reply, "cannot check a technician from this number")
			assert.NotRegexp(t, anyCodeRE, reply, "never a code to an unknown number")
			assert.NotContains(t, reply, "Sam")
			assert.Empty(t, f.text(t, base+4, stranger, "#verify"), "one generic line a day")
			f.deliver(t)
			assert.Empty(t, f.sms.msgs, "nobody is texted about an unknown caller")
			items := f.inbox(t)
			require.Len(t, items, 2)
			assert.Equal(t, core.TechVerifyUnknown, items[0].Status)
			assert.Empty(t, items[0].ContactName)
			_, err := f.eng.ClaimTechVerify(t.Context(), f.tech, items[0].ID)
			assert.Equal(t, core.KindConflict, kindOf(err))
			assert.Contains(t, f.auditActions(t), core.AuditTechVerifyUnknown)
			f.clk.Add(25 * time.Hour)
			assert.NotEmpty(t, f.text(t, base+5, stranger, "#verify"), "a day later, one line again")
		})

		t.Run("expired", func(t *testing.T) {
			f := techVerifyFixture(t, st)
			base := 200
			code := replyCode(t, f.text(t, base+1, fixturePhone, "#verify"))
			f.clk.Add(core.TechVerifyTTL)
			reply := f.text(t, base+2, fixturePhone, "#confirm "+code)
			assert.Contains(t, reply, "expired")
			assert.Equal(t, core.TechVerifyExpired, f.inbox(t)[0].Status)
			assert.Contains(t, f.text(t, base+3, fixturePhone, "#confirm "+code), "no open technician check")
		})

		t.Run("wrong codes burn it", func(t *testing.T) {
			f := techVerifyFixture(t, st)
			base := 300
			code := replyCode(t, f.text(t, base+1, fixturePhone, "#verify"))
			_, err := f.eng.PutIntegration(t.Context(), f.tenant.ID, "test", core.Integration{Kind: "memory", Name: "PSA", Config: []byte(`{}`)})
			require.NoError(t, err)
			_, err = f.eng.ClaimTechVerify(t.Context(), f.tech, f.inbox(t)[0].ID)
			require.NoError(t, err)
			for i := range core.TechVerifyMaxAttempts - 1 {
				assert.Contains(t, f.text(t, base+2+i, fixturePhone, "#confirm "+wrongFor(code)), "not the code")
			}
			// The fifth wrong code is over the reply limit (5 an hour):
			// it is acted on, not answered.
			assert.Empty(t, f.text(t, base+10, fixturePhone, "#confirm nonsense"))
			it := f.inbox(t)[0]
			assert.Equal(t, core.TechVerifyFailed, it.Status)
			assert.Empty(t, f.text(t, base+11, fixturePhone, "#confirm "+code))
			assert.NotEqual(t, core.TechVerifyConfirmed, f.inbox(t)[0].Status, "the right code after the burn confirms nothing")
			assert.Contains(t, f.auditActions(t), core.AuditTechVerifyFailed)
			// Assigned after it ended: noted at once.
			_, err = f.eng.AssignTechVerify(t.Context(), f.tech, it.ID, "", "77")
			require.NoError(t, err)
			f.deliver(t)
			require.Len(t, f.notes.msgs, 1)
			assert.Contains(t, f.notes.msgs[0].Text, "NOT confirmed: FAILED")
			assert.Contains(t, f.auditActions(t), core.AuditTechVerifyRateLimited)
		})

		t.Run("a newer verify revokes the code", func(t *testing.T) {
			f := techVerifyFixture(t, st)
			base := 400
			first := replyCode(t, f.text(t, base+1, fixturePhone, "#verify"))
			f.clk.Add(time.Second)
			second := replyCode(t, f.text(t, base+2, fixturePhone, "#verify"))
			items := f.inbox(t)
			require.Len(t, items, 2)
			assert.Equal(t, core.TechVerifyReplaced, items[1].Status)
			_, err := f.eng.ClaimTechVerify(t.Context(), f.tech, items[1].ID)
			assert.Equal(t, core.KindConflict, kindOf(err))
			got, err := f.eng.ClaimTechVerify(t.Context(), f.tech, items[0].ID)
			require.NoError(t, err)
			assert.Equal(t, second, strings.ReplaceAll(got, " ", ""))
			if first != second {
				assert.Contains(t, f.text(t, base+3, fixturePhone, "#confirm "+first), "not the code", "the old code is dead")
			}
			assert.Contains(t, f.text(t, base+4, fixturePhone, second[:3]+" "+second[3:]), "complete", "the code alone confirms too")
		})

		t.Run("codes per hour", func(t *testing.T) {
			f := techVerifyFixture(t, st)
			base := 500
			for i := range core.TechVerifyCodesPerHour {
				replyCode(t, f.text(t, base+1+i, fixturePhone, "#verify"))
			}
			assert.Empty(t, f.text(t, base+9, fixturePhone, "#verify"))
			assert.Len(t, f.inbox(t), core.TechVerifyCodesPerHour)
			assert.Contains(t, f.auditActions(t), core.AuditTechVerifyRateLimited)
			f.clk.Add(time.Hour + time.Second)
			replyCode(t, f.text(t, base+10, fixturePhone, "#verify"))
		})

		t.Run("opted out", func(t *testing.T) {
			f := techVerifyFixture(t, st)
			base := 600
			f.text(t, base+1, fixturePhone, "STOP")
			assert.Empty(t, f.text(t, base+2, fixturePhone, "#verify"))
			assert.Empty(t, f.inbox(t), "no code for a number we may not text")
			assert.NotContains(t, f.auditActions(t), core.AuditNotifySent, "nobody told of a code that was not sent")
		})

		t.Run("nobody on call", func(t *testing.T) {
			f := techVerifyFixture(t, st)
			base := 700
			f.clk.Add(12 * time.Hour) // Monday 16:00 EST: the day user
			f.deliver(t)              // what earlier tests left, due by now
			f.sms.reset()
			f.mail.reset()
			replyCode(t, f.text(t, base+1, fixturePhone, "#verify"))
			f.deliver(t)
			assert.Equal(t, []string{"+15550100301"}, f.sms.recipients())
			assert.Equal(t, []string{"dana@acme.example"}, f.mail.recipients())
			groups, _, err := f.eng.NotifyGroups(t.Context(), f.tenant.ID)
			require.NoError(t, err)
			for _, u := range groups[0].Users {
				require.NoError(t, f.eng.RemoveNotifyUser(t.Context(), f.admin, u.ID))
			}
			replyCode(t, f.text(t, base+2, fixturePhone, "#verify"))
			assert.True(t, slices.Contains(f.auditActions(t), core.AuditNotifyNobody), "still listed in the inbox; nobody texted")
			assert.Len(t, f.inbox(t), 2)
		})
	})
}
