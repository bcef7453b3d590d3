package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	dirGUID1 = "6f1c2d3e-0000-4000-8000-000000000001"
	dirGUID2 = "6f1c2d3e-0000-4000-8000-000000000002"
)

func directoryUser(tenantID, clientID, guid, name string) core.DirectoryUser {
	return core.DirectoryUser{TenantID: tenantID, ClientID: clientID, GUID: guid,
		SID: "S-1-5-21-1-2-3-" + guid[len(guid)-4:], DeviceID: "dev_h1", DN: "CN=" + name + ",OU=Staff,DC=contoso,DC=example",
		SAMAccountName: name, DisplayName: name, SyncedAt: t0}
}

// TestDirectoryUsersRoundTrip: every field of a directory user comes back
// as written, a second put replaces the first, and users list by name.
func TestDirectoryUsersRoundTrip(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		f := seed(t, s)
		full := core.DirectoryUser{TenantID: f.A.ID, ClientID: f.clientA.ID, GUID: dirGUID1,
			SID: "S-1-5-21-1004336348-1177238915-682003330-1201", DeviceID: "dev_h1",
			DN: "CN=Zoë Quinn,OU=Staff,DC=contoso,DC=example", SAMAccountName: "zquinn", UPN: "zquinn@contoso.example",
			GivenName: "Zoë", Surname: "Quinn", DisplayName: "Zoë Quinn", Mail: "zoe@contoso.example",
			ProxyAddresses: []string{"zoe@contoso.example", "z.quinn@contoso.example"},
			Mobile:         "07700 900123", Phone: "020 7946 0000", MobileE164: "+447700900123", PhoneE164: "+442079460000",
			Enabled: true, Locked: true, PasswordLastSet: t0.Add(-24 * time.Hour), MustChangePassword: true,
			PasswordNeverExpires: true, PasswordExpiresAt: t0.Add(41 * 24 * time.Hour), USNChanged: 1 << 40, SyncedAt: t0}
		bare := directoryUser(f.A.ID, f.clientA.ID, dirGUID2, "Adam")
		update(t, s, func(ctx context.Context, tx core.Tx) error {
			require.NoError(t, tx.PutDirectoryUser(ctx, &full))
			return tx.PutDirectoryUser(ctx, &bare)
		})
		var got []core.DirectoryUser
		require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) (err error) {
			got, err = tx.DirectoryUsers(ctx, f.A.ID, f.clientA.ID)
			return err
		}))
		require.Len(t, got, 2)
		assert.Equal(t, bare, got[0], "ordered by display name: Adam first")
		assert.Equal(t, full, got[1])
		assert.True(t, got[0].PasswordLastSet.IsZero() && got[0].PasswordExpiresAt.IsZero(), "no time stays no time")

		// A second put of the same GUID replaces every field.
		changed := full
		changed.DisplayName, changed.Mail, changed.ProxyAddresses = "Zoë Q", "", nil
		changed.Enabled, changed.Locked, changed.MustChangePassword, changed.PasswordNeverExpires = false, false, false, false
		changed.PasswordLastSet, changed.PasswordExpiresAt, changed.USNChanged = time.Time{}, time.Time{}, 7
		update(t, s, func(ctx context.Context, tx core.Tx) error { return tx.PutDirectoryUser(ctx, &changed) })
		require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) (err error) {
			got, err = tx.DirectoryUsers(ctx, f.A.ID, f.clientA.ID)
			return err
		}))
		require.Len(t, got, 2)
		assert.Equal(t, changed, got[1])

		// A proxy address with a line break (the column's separator) is refused.
		bad := bare
		bad.ProxyAddresses = []string{"a@x.example\nb@x.example"}
		err := s.Update(t.Context(), func(tx core.Tx) error { return tx.PutDirectoryUser(t.Context(), &bad) })
		assert.ErrorIs(t, err, core.ErrInvalid)
	})
}

// TestDirectoryTenantScope: another tenant's (or client's) reads, deletes
// and decisions never reach this client's directory, the same GUID may be
// on record in two tenants, and a user cannot be written under a client of
// another tenant.
func TestDirectoryTenantScope(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		f := seed(t, s)
		a := directoryUser(f.A.ID, f.clientA.ID, dirGUID1, "Ann")
		b := directoryUser(f.B.ID, f.clientB.ID, dirGUID1, "Ben") // the same GUID in tenant B
		update(t, s, func(ctx context.Context, tx core.Tx) error {
			require.NoError(t, tx.PutDirectoryUser(ctx, &a))
			require.NoError(t, tx.PutDirectoryUser(ctx, &b))
			require.NoError(t, tx.PutMatchDecision(ctx, &core.MatchDecision{TenantID: f.A.ID, ClientID: f.clientA.ID,
				GUID: dirGUID1, ContactID: f.contactA.ID, State: core.MatchAccepted, By: "tech:1", At: t0}))
			return tx.PutMatchDecision(ctx, &core.MatchDecision{TenantID: f.B.ID, ClientID: f.clientB.ID,
				GUID: dirGUID1, ContactID: f.contactB.ID, State: core.MatchRejected, By: "tech:2", At: t0})
		})
		list := func(tenantID, clientID string) ([]core.DirectoryUser, []core.MatchDecision) {
			t.Helper()
			var (
				us []core.DirectoryUser
				ds []core.MatchDecision
			)
			require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) (err error) {
				if us, err = tx.DirectoryUsers(ctx, tenantID, clientID); err != nil {
					return err
				}
				ds, err = tx.MatchDecisions(ctx, tenantID, clientID)
				return err
			}))
			return us, ds
		}
		us, ds := list(f.A.ID, f.clientA.ID)
		require.Len(t, us, 1)
		assert.Equal(t, "Ann", us[0].DisplayName)
		require.Len(t, ds, 1)
		assert.Equal(t, core.MatchAccepted, ds[0].State)
		us, ds = list(f.B.ID, f.clientA.ID) // tenant B naming tenant A's client
		assert.Empty(t, us)
		assert.Empty(t, ds)
		us, _ = list(f.A.ID, f.clientB.ID)
		assert.Empty(t, us)

		// Tenant B deleting its own user of the same GUID, and naming tenant
		// A's client, leaves tenant A's user and decision alone.
		update(t, s, func(ctx context.Context, tx core.Tx) error {
			require.NoError(t, tx.DeleteDirectoryUser(ctx, f.B.ID, f.clientB.ID, dirGUID1))
			return tx.DeleteDirectoryUser(ctx, f.B.ID, f.clientA.ID, dirGUID1)
		})
		us, ds = list(f.A.ID, f.clientA.ID)
		assert.Len(t, us, 1)
		assert.Len(t, ds, 1)
		us, ds = list(f.B.ID, f.clientB.ID)
		assert.Empty(t, us)
		assert.Empty(t, ds, "a deleted user's decisions go with it")

		// Writing under another tenant's client, or deciding on another
		// tenant's contact, is refused as not found.
		cross := directoryUser(f.B.ID, f.clientA.ID, dirGUID2, "Eve")
		err := s.Update(t.Context(), func(tx core.Tx) error { return tx.PutDirectoryUser(t.Context(), &cross) })
		assert.ErrorIs(t, err, core.ErrNotFound)
		err = s.Update(t.Context(), func(tx core.Tx) error {
			return tx.PutMatchDecision(t.Context(), &core.MatchDecision{TenantID: f.A.ID, ClientID: f.clientA.ID,
				GUID: dirGUID1, ContactID: f.contactB.ID, State: core.MatchAccepted, At: t0})
		})
		assert.ErrorIs(t, err, core.ErrNotFound)
		_, ds = list(f.A.ID, f.clientA.ID)
		require.Len(t, ds, 1)
		assert.Equal(t, f.contactA.ID, ds[0].ContactID, "the refused decision replaced nothing")
	})
}

// TestMatchDecisions: a user has at most one accepted contact (accepting
// another replaces it), rejections of other contacts stay beside it, a
// later decision on the same pair replaces the earlier, and deleting the
// user deletes its decisions.
func TestMatchDecisions(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		f := seed(t, s)
		u := directoryUser(f.A.ID, f.clientA.ID, dirGUID1, "Ann")
		other := core.Contact{TenantID: f.A.ID, ClientID: f.clientA.ID, FirstName: "Ann", LastName: "Other", CreatedAt: t0}
		third := core.Contact{TenantID: f.A.ID, ClientID: f.clientA.ID, FirstName: "Ann", LastName: "Third", CreatedAt: t0}
		decide := func(contactID string, state core.MatchDecisionState, at time.Time) {
			t.Helper()
			update(t, s, func(ctx context.Context, tx core.Tx) error {
				return tx.PutMatchDecision(ctx, &core.MatchDecision{TenantID: f.A.ID, ClientID: f.clientA.ID, GUID: dirGUID1,
					ContactID: contactID, State: state, By: "tech:1", At: at})
			})
		}
		decisions := func() map[string]core.MatchDecision {
			t.Helper()
			var ds []core.MatchDecision
			require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) (err error) {
				ds, err = tx.MatchDecisions(ctx, f.A.ID, f.clientA.ID)
				return err
			}))
			out := map[string]core.MatchDecision{}
			for _, d := range ds {
				out[d.ContactID] = d
			}
			return out
		}
		update(t, s, func(ctx context.Context, tx core.Tx) error {
			require.NoError(t, tx.CreateContact(ctx, &other))
			require.NoError(t, tx.CreateContact(ctx, &third))
			return tx.PutDirectoryUser(ctx, &u)
		})
		decide(f.contactA.ID, core.MatchAccepted, t0)
		decide(third.ID, core.MatchRejected, t0)
		assert.Equal(t, core.MatchDecision{TenantID: f.A.ID, ClientID: f.clientA.ID, GUID: dirGUID1, ContactID: f.contactA.ID,
			State: core.MatchAccepted, By: "tech:1", At: t0}, decisions()[f.contactA.ID])

		decide(other.ID, core.MatchAccepted, t0.Add(time.Minute))
		ds := decisions()
		assert.Len(t, ds, 2)
		assert.NotContains(t, ds, f.contactA.ID, "accepting another contact replaced the first acceptance")
		assert.Equal(t, core.MatchAccepted, ds[other.ID].State)
		assert.Equal(t, core.MatchRejected, ds[third.ID].State)

		decide(other.ID, core.MatchRejected, t0.Add(2*time.Minute))
		ds = decisions()
		assert.Len(t, ds, 2)
		assert.Equal(t, core.MatchRejected, ds[other.ID].State)
		assert.Equal(t, t0.Add(2*time.Minute), ds[other.ID].At)

		update(t, s, func(ctx context.Context, tx core.Tx) error {
			return tx.DeleteDirectoryUser(ctx, f.A.ID, f.clientA.ID, dirGUID1)
		})
		assert.Empty(t, decisions())
		update(t, s, func(ctx context.Context, tx core.Tx) error {
			return tx.DeleteDirectoryUser(ctx, f.A.ID, f.clientA.ID, dirGUID1) // missing: not an error
		})
	})
}

// TestSelfServeStore: a tenant's switches default off and round-trip, each
// tenant's its own; a user's switch and status round-trip, are replaced by
// a later put, need the user on record in that tenant and client, are
// invisible to another tenant and go when the user is deleted.
func TestSelfServeStore(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		f := seed(t, s)
		var set core.SelfServeSettings
		require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) (err error) {
			set, err = tx.SelfServeSettings(ctx, f.A.ID)
			return err
		}))
		assert.Equal(t, core.SelfServeSettings{TenantID: f.A.ID}, set, "never saved: both switches off")
		want := core.SelfServeSettings{TenantID: f.A.ID, Enabled: true, NewUsersOn: true, UpdatedBy: "tech:1", UpdatedAt: t0}
		update(t, s, func(ctx context.Context, tx core.Tx) error { return tx.PutSelfServeSettings(ctx, &want) })
		want.NewUsersOn, want.UpdatedAt = false, t0.Add(time.Hour)
		update(t, s, func(ctx context.Context, tx core.Tx) error { return tx.PutSelfServeSettings(ctx, &want) })
		var setB core.SelfServeSettings
		require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) (err error) {
			if set, err = tx.SelfServeSettings(ctx, f.A.ID); err != nil {
				return err
			}
			setB, err = tx.SelfServeSettings(ctx, f.B.ID)
			return err
		}))
		assert.Equal(t, want, set)
		assert.Equal(t, core.SelfServeSettings{TenantID: f.B.ID}, setB, "tenant A's switches are not tenant B's")

		a := directoryUser(f.A.ID, f.clientA.ID, dirGUID1, "Ann")
		b := directoryUser(f.B.ID, f.clientB.ID, dirGUID1, "Ben")
		ua := core.SelfServeUser{TenantID: f.A.ID, ClientID: f.clientA.ID, GUID: dirGUID1, Enabled: true,
			Status: core.SelfServeRegistered, ChangedBy: "tech:1", ChangedAt: t0}
		update(t, s, func(ctx context.Context, tx core.Tx) error {
			require.NoError(t, tx.PutDirectoryUser(ctx, &a))
			require.NoError(t, tx.PutDirectoryUser(ctx, &b))
			return tx.PutSelfServeUser(ctx, &ua)
		})
		ua.Status, ua.ChangedAt = core.SelfServeAccessed, t0.Add(time.Minute)
		update(t, s, func(ctx context.Context, tx core.Tx) error { return tx.PutSelfServeUser(ctx, &ua) })
		list := func(tenantID, clientID string) []core.SelfServeUser {
			t.Helper()
			var out []core.SelfServeUser
			require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) (err error) {
				out, err = tx.SelfServeUsers(ctx, tenantID, clientID)
				return err
			}))
			return out
		}
		assert.Equal(t, []core.SelfServeUser{ua}, list(f.A.ID, f.clientA.ID))
		assert.Empty(t, list(f.B.ID, f.clientB.ID))
		assert.Empty(t, list(f.B.ID, f.clientA.ID))

		// Only for a user on record in that tenant and client.
		for name, u := range map[string]core.SelfServeUser{
			"unknown user":          {TenantID: f.A.ID, ClientID: f.clientA.ID, GUID: dirGUID2, Enabled: true, ChangedAt: t0},
			"another tenant's user": {TenantID: f.B.ID, ClientID: f.clientA.ID, GUID: dirGUID1, Enabled: true, ChangedAt: t0},
		} {
			err := s.Update(t.Context(), func(tx core.Tx) error { return tx.PutSelfServeUser(t.Context(), &u) })
			assert.ErrorIs(t, err, core.ErrNotFound, name)
		}

		update(t, s, func(ctx context.Context, tx core.Tx) error {
			return tx.DeleteDirectoryUser(ctx, f.A.ID, f.clientA.ID, dirGUID1)
		})
		assert.Empty(t, list(f.A.ID, f.clientA.ID), "the switch went with the user")
	})
}

// TestClaimNotice: a user's notice of a day is claimed once (the second
// claim, whatever its kind, is refused), per tenant and client; forgetting
// drops only the tenant's days before the one given.
func TestClaimNotice(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		f := seed(t, s)
		claim := func(tenantID, clientID, day string, kind core.NoticeKind) bool {
			t.Helper()
			var ok bool
			update(t, s, func(ctx context.Context, tx core.Tx) (err error) {
				ok, err = tx.ClaimNotice(ctx, tenantID, clientID, dirGUID1, day, kind, t0)
				return err
			})
			return ok
		}
		assert.True(t, claim(f.A.ID, f.clientA.ID, "2026-11-02", core.NoticeExpiring))
		assert.False(t, claim(f.A.ID, f.clientA.ID, "2026-11-02", core.NoticeExpiring), "claimed twice")
		assert.False(t, claim(f.A.ID, f.clientA.ID, "2026-11-02", core.NoticeLocked), "a second notice the same day")
		assert.True(t, claim(f.A.ID, f.clientA.ID, "2026-11-03", core.NoticeExpiring), "the next day")
		assert.True(t, claim(f.B.ID, f.clientB.ID, "2026-11-02", core.NoticeExpiring), "another tenant's user of the same GUID")
		update(t, s, func(ctx context.Context, tx core.Tx) error { return tx.ForgetNotices(ctx, f.A.ID, "2026-11-03") })
		assert.True(t, claim(f.A.ID, f.clientA.ID, "2026-11-02", core.NoticeExpiring), "forgotten, claimable again")
		assert.False(t, claim(f.A.ID, f.clientA.ID, "2026-11-03", core.NoticeExpiring), "the day given is kept")
		assert.False(t, claim(f.B.ID, f.clientB.ID, "2026-11-02", core.NoticeExpiring), "another tenant's notices are not forgotten")
	})
}
