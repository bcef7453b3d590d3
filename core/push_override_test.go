package core_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/duo/duotest"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// TestPushStopAdminOverride: a Deny stops pushes to the user for 24 hours,
// "admin override only" (security.md §4): a technician's reset is refused
// and another tenant's admin finds no such contact; the tenant's admin's
// reset lifts the stop, audited with the refusal lifted, even with no
// failure left counted (a success elsewhere cleared it), so the next push
// goes; a new Deny after the lift stops pushes again. Failed before: the
// admin's reset answered "nothing to reset" and the push stayed refused.
func TestPushStopAdminOverride(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		deny := duotest.Deny
		fake := duotest.Start(t, duotest.User{Username: "sam@contoso.example", Auto: &deny})
		f := newDuoFixture(t, st, fake)
		ctx := t.Context()
		stopped := func(t *testing.T, why string) {
			t.Helper()
			_, err := f.push(t)
			require.Error(t, err, why)
			assert.Equal(t, core.KindForbidden, kindOf(err), why)
			assert.Contains(t, err.Error(), "stopped for 24 hours", why)
			routes, err := f.eng.Routes(ctx, f.tenant.ID, f.contact.ID)
			require.NoError(t, err)
			for _, r := range routes {
				if r.Method == core.MethodDuoPush {
					assert.False(t, r.Available, why)
					assert.True(t, r.Locked, "the card offers an admin the reset: "+why)
					assert.Contains(t, r.Reason, "an admin can reset the lock", why)
				}
			}
		}

		denied, err := f.push(t)
		require.NoError(t, err)
		assert.Equal(t, core.StatusFailed, f.settle(t, denied.ID).Status)
		f.clk.Add(time.Minute)
		stopped(t, "denied a minute ago")

		_, err = f.eng.ResetLock(ctx, f.tenant.ID, f.tech.ID, f.contact.ID)
		assert.Equal(t, core.KindForbidden, kindOf(err), "a technician")
		stopped(t, "after a technician's reset")

		other := core.Tenant{ID: core.NewID("ten"), Slug: "other-" + core.NewID("x")[2:8], Name: "Other IT", CreatedAt: f.clk.Now()}
		otherAdmin := core.Technician{ID: core.NewID("tec"), TenantID: other.ID, Email: "olga@other.example", Name: "olga",
			Role: core.RoleAdmin, CreatedAt: f.clk.Now()}
		require.NoError(t, st.Update(ctx, func(tx core.Tx) error {
			if err := tx.CreateTenant(ctx, &other); err != nil {
				return err
			}
			return tx.CreateTechnician(ctx, &otherAdmin)
		}))
		_, err = f.eng.ResetLock(ctx, other.ID, otherAdmin.ID, f.contact.ID)
		assert.Equal(t, core.KindNotFound, kindOf(err), "another tenant's admin")
		_, err = f.eng.ResetLock(ctx, f.tenant.ID, otherAdmin.ID, f.contact.ID)
		assert.Equal(t, core.KindNotFound, kindOf(err), "another tenant's admin naming this tenant")
		stopped(t, "after another tenant's admin")

		// A success on another channel clears the Deny's failure; the
		// stop stays until an admin lifts it.
		require.NoError(t, st.Update(ctx, func(tx core.Tx) error {
			return tx.SetFailureCount(ctx, f.tenant.ID, f.contact.ID, core.DestDuo, 0, f.clk.Now())
		}))
		stopped(t, "with no failure counted")
		f.clk.Add(time.Minute)
		reset, err := f.eng.ResetLock(ctx, f.tenant.ID, f.admin.ID, f.contact.ID)
		require.NoError(t, err)
		assert.Equal(t, []core.DestinationKind{core.DestDuo}, reset)
		ev := lastAudit(t, f.auditOf(t))
		assert.Equal(t, core.AuditVerificationLockReset, ev.Action)
		assert.Equal(t, "tech:"+f.admin.ID, ev.Actor)
		assert.Equal(t, map[string]string{"push_stop": "denied " + denied.ID}, ev.Detail)
		routes, err := f.eng.Routes(ctx, f.tenant.ID, f.contact.ID)
		require.NoError(t, err)
		for _, r := range routes {
			if r.Method == core.MethodDuoPush {
				assert.True(t, r.Available, r.Reason)
				assert.False(t, r.Locked)
			}
		}

		f.clk.Add(time.Minute)
		again, err := f.push(t)
		require.NoError(t, err, "the admin lifted the stop")
		assert.Len(t, fake.Pushes(), 2)
		assert.Equal(t, core.StatusFailed, f.settle(t, again.ID).Status, "denied again")
		f.clk.Add(time.Minute)
		stopped(t, "a new Deny after the lift")
		assert.Len(t, fake.Pushes(), 2)

		f.clk.Add(time.Minute)
		_, err = f.eng.ResetLock(ctx, f.tenant.ID, f.admin.ID, f.contact.ID)
		require.NoError(t, err, "the new stop is lifted in turn")
		_, err = f.eng.ResetLock(ctx, f.tenant.ID, f.admin.ID, f.contact.ID)
		assert.Equal(t, core.KindConflict, kindOf(err), "nothing left to reset")
	})
}
