package core_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/microsoft/microsofttest"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// TestRoutesListMicrosoftPush: the ways-to-verify list carries the
// Microsoft Authenticator route after Duo's place, available for a user
// with the app and with the reason in words for one without; a policy
// that leaves it out drops it; a server without Microsoft lists none.
func TestRoutesListMicrosoftPush(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		fake := microsofttest.Start(t, microsofttest.User{UPN: samUPN})
		f := newMSFixture(t, st, fake)
		ctx := t.Context()
		route := func(m core.Method) (core.Route, int) {
			t.Helper()
			routes, err := f.eng.Routes(ctx, f.tenant.ID, f.contact.ID)
			require.NoError(t, err)
			for i, r := range routes {
				if r.Method == m {
					return r, i
				}
			}
			return core.Route{}, -1
		}
		r, i := route(core.MethodMicrosoftPush)
		require.GreaterOrEqual(t, i, 0, "the Microsoft route is listed")
		assert.Zero(t, i, "without Duo on this server, the strongest factor the user has comes first")
		assert.True(t, r.Available, r.Reason)
		assert.Contains(t, r.Reason, "approve-only push to "+samUPN)
		assert.Equal(t, "Medium — approve-only push", r.Assurance)
		assert.Equal(t, "Microsoft 365 user matched by sign-in name (UPN), imported 2 Nov 2026", r.Provenance)

		// The user no longer has the app: the next import says so, and so
		// does the list.
		fake.AddUser(microsofttest.User{UPN: samUPN, Methods: []string{microsofttest.MethodPassword, microsofttest.MethodPhone}})
		_, err := f.eng.ImportMicrosoftUsers(ctx, f.tenant.ID, "tech:"+f.admin.ID, f.conn.ID)
		require.NoError(t, err)
		r, _ = route(core.MethodMicrosoftPush)
		assert.False(t, r.Available)
		assert.Equal(t, "no Microsoft Authenticator registered (registered: phone)", r.Reason)

		p := core.DefaultPolicy()
		p.Methods = []core.Method{core.MethodSMSCode, core.MethodEmailLink}
		require.NoError(t, f.eng.PutPolicy(ctx, f.tenant.ID, "test", "", p))
		_, i = route(core.MethodMicrosoftPush)
		assert.Equal(t, -1, i, "a policy without it does not list it")
		p.Methods = []core.Method{core.MethodSMSCode, core.MethodMicrosoftPush}
		require.NoError(t, f.eng.PutPolicy(ctx, f.tenant.ID, "test", "", p))
		_, i = route(core.MethodMicrosoftPush)
		assert.Equal(t, 1, i, "in the policy's order")

		// Another tenant cannot list the contact's routes.
		_, err = f.eng.Routes(ctx, "ten_other", f.contact.ID)
		assert.Equal(t, core.KindNotFound, core.ErrorKind(err))

		// A server without Microsoft lists no Microsoft route.
		plain := newFixture(t, st)
		routes, err := plain.eng.Routes(ctx, plain.tenant.ID, plain.contact.ID)
		require.NoError(t, err)
		for _, r := range routes {
			assert.NotEqual(t, core.MethodMicrosoftPush, r.Method)
		}
	})
}
