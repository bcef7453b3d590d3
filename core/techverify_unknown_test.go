package core_test

import (
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

// TestTechVerifyUnknownCaller: a technician on the phone with an unknown
// caller matches the request to a contact — a code goes to the number,
// the technician holds the claim, the caller's #confirm closes it — or
// dismisses it. The number is not added to the contact; a request is
// acted on once; late, opted-out and pod-only attempts are refused.
func TestTechVerifyUnknownCaller(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		f := techVerifyFixture(t, st)
		const stranger = "+15550100777"
		unknown := func(n int, from string) core.TechVerifyItem {
			t.Helper()
			f.clk.Add(time.Second) // the inbox is newest first
			f.text(t, n, from, "#verify")
			it := f.inbox(t)[0]
			require.Equal(t, core.TechVerifyUnknown, it.Status)
			return it
		}

		it := unknown(1, stranger)
		pod := f.tech
		pod.Role = core.RolePodOnly
		_, err := f.eng.MatchTechVerify(ctx, pod, it.ID, f.contact.ID)
		assert.Equal(t, core.KindForbidden, kindOf(err))
		_, err = f.eng.MatchTechVerify(ctx, f.tech, it.ID, "ct_nope")
		assert.Equal(t, core.KindNotFound, kindOf(err), "a contact that is not the tenant's")
		f.deliver(t)
		assert.Empty(t, f.sms.msgs, "a refused match texts nobody")

		code, err := f.eng.MatchTechVerify(ctx, f.tech, it.ID, f.contact.ID)
		require.NoError(t, err)
		f.deliver(t)
		require.Len(t, f.sms.msgs, 1, "the code goes to the number that texted")
		assert.Equal(t, stranger, f.sms.msgs[0].To)
		assert.Equal(t, "+15550009999", f.sms.msgs[0].From, "from the number the caller texted")
		assert.Equal(t, strings.ReplaceAll(code, " ", ""), codeIn(t, f.sms.msgs[0]))
		assert.Contains(t, f.sms.msgs[0].Text, "Reply STOP to opt out")
		got := f.inbox(t)[0]
		assert.Equal(t, core.TechVerifyOpen, got.Status)
		assert.Equal(t, "Sam Caller", got.ContactName)
		assert.Equal(t, "matched by "+f.tech.Name, got.Provenance)
		assert.Equal(t, f.tech.ID, got.ClaimedBy, "the matching technician holds the claim")
		shown, err := f.eng.ClaimTechVerify(ctx, f.tech, it.ID)
		require.NoError(t, err)
		assert.Equal(t, code, shown)

		_, err = f.eng.MatchTechVerify(ctx, f.admin, it.ID, f.contact.ID)
		assert.Equal(t, core.KindConflict, kindOf(err), "matched once")
		assert.Equal(t, core.KindConflict, kindOf(f.eng.DismissTechVerify(ctx, f.admin, it.ID, "")))
		var on []core.Contact
		require.NoError(t, st.View(ctx, func(tx core.Tx) error {
			on, err = tx.SearchContacts(ctx, f.tenant.ID, core.ContactQuery{Phone: stranger, Limit: 5})
			return err
		}))
		assert.Empty(t, on, "the number is not added to the contact")

		reply := f.text(t, 2, stranger, "#confirm "+strings.ReplaceAll(code, " ", ""))
		assert.Contains(t, reply, "complete")
		assert.Equal(t, core.TechVerifyConfirmed, f.inbox(t)[0].Status)

		// Dismissed: closed with who and why; nothing else may follow.
		f.clk.Add(2 * time.Hour)
		it = unknown(3, "+15550100778")
		assert.Equal(t, core.KindInvalid, kindOf(f.eng.DismissTechVerify(ctx, f.tech, it.ID, strings.Repeat("x", 201))))
		require.NoError(t, f.eng.DismissTechVerify(ctx, f.tech, it.ID, "a wrong number"))
		got = f.inbox(t)[0]
		assert.Equal(t, core.TechVerifyDismissed, got.Status)
		assert.Equal(t, "dismissed by "+f.tech.Name+": a wrong number", got.Detail)
		_, err = f.eng.MatchTechVerify(ctx, f.tech, it.ID, f.contact.ID)
		assert.Equal(t, core.KindConflict, kindOf(err))

		// Too late: the caller is no longer on the phone.
		it = unknown(4, "+15550100779")
		f.clk.Add(core.TechVerifyMatchWindow + time.Second)
		_, err = f.eng.MatchTechVerify(ctx, f.tech, it.ID, f.contact.ID)
		assert.Equal(t, core.KindConflict, kindOf(err))

		// Opted out after the #verify: no code, ever.
		it = unknown(5, "+15550100780")
		f.text(t, 6, "+15550100780", "STOP")
		_, err = f.eng.MatchTechVerify(ctx, f.tech, it.ID, f.contact.ID)
		assert.Equal(t, core.KindInvalid, kindOf(err))
		assert.Contains(t, core.ErrorMessage(err), "opted out")

		// Two technicians at once: one match wins, one code goes out.
		f.deliver(t)
		f.sms.reset()
		it = unknown(7, "+15550100781")
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, tech := range []core.Technician{f.tech, f.other} {
			wg.Go(func() { _, errs[i] = f.eng.MatchTechVerify(ctx, tech, it.ID, f.contact.ID) })
		}
		wg.Wait()
		oks := 0
		for _, err := range errs {
			if err == nil {
				oks++
			} else {
				assert.Equal(t, core.KindConflict, kindOf(err), "%v", err)
			}
		}
		assert.Equal(t, 1, oks, "%v", errs)
		f.deliver(t)
		assert.Len(t, f.sms.msgs, 1)

		acts := f.auditActions(t)
		assert.Contains(t, acts, core.AuditTechVerifyMatched)
		assert.Contains(t, acts, core.AuditTechVerifyDismissed)
	})
}
