package store_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// TestLastVerified reads when each destination of a contact was last
// verified, in one statement: only verifications that verified count,
// the newest wins, and other contacts' and tenants' do not show.
func TestLastVerified(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			var trips atomic.Int64
			s := storetest.Open(t, d, store.CountRoundTrips(&trips))
			f := seed(t, s)
			phone, email := f.contactA.Destinations[0], f.contactA.Destinations[1]
			add := func(dest core.Destination, st core.Status, done time.Time) {
				v := core.Verification{TenantID: f.A.ID, ClientID: f.clientA.ID, ContactID: f.contactA.ID, DestinationID: dest.ID,
					DestKind: dest.Kind, Destination: dest.Value, Method: core.MethodSMSCode, TechnicianID: f.techA.ID, Status: st,
					MaxAttempts: 5, CreatedAt: done.Add(-time.Minute), ExpiresAt: done.Add(5 * time.Minute), CompletedAt: done}
				update(t, s, func(ctx context.Context, tx core.Tx) error { return tx.CreateVerification(ctx, &v) })
			}
			add(phone, core.StatusVerified, t0.Add(time.Hour))
			add(phone, core.StatusVerified, t0.Add(3*time.Hour))
			add(phone, core.StatusFailed, t0.Add(4*time.Hour)) // a later failure is not a verification
			add(email, core.StatusFailed, t0.Add(2*time.Hour))
			require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
				n0 := trips.Load()
				got, err := tx.LastVerified(ctx, f.A.ID, f.contactA.ID)
				require.NoError(t, err)
				assert.Equal(t, int64(1), trips.Load()-n0, "one statement for all destinations")
				assert.Equal(t, map[string]time.Time{phone.ID: t0.Add(3 * time.Hour)}, got)
				got, err = tx.LastVerified(ctx, f.B.ID, f.contactA.ID)
				require.NoError(t, err)
				assert.Empty(t, got, "another tenant sees nothing")
				got, err = tx.LastVerified(ctx, f.A.ID, f.contactB.ID)
				require.NoError(t, err)
				assert.Empty(t, got)
				return nil
			}))
		})
	}
}

// TestShieldVerifications reads the verification that decides each
// contact's shield, for many contacts in one statement: the newest that is
// not open at now (an open one past its expiry counts as closed).
func TestShieldVerifications(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			var trips atomic.Int64
			s := storetest.Open(t, d, store.CountRoundTrips(&trips))
			f := seed(t, s)
			now := t0.Add(10 * time.Hour)
			phone := f.contactA.Destinations[0]
			add := func(contact core.Contact, st core.Status, created time.Time, expires time.Time) core.Verification {
				v := core.Verification{TenantID: contact.TenantID, ClientID: contact.ClientID, ContactID: contact.ID, DestinationID: phone.ID,
					DestKind: core.DestPhone, Destination: phone.Value, Method: core.MethodSMSCode, TechnicianID: f.techA.ID, Status: st,
					MaxAttempts: 5, CreatedAt: created, ExpiresAt: expires}
				update(t, s, func(ctx context.Context, tx core.Tx) error { return tx.CreateVerification(ctx, &v) })
				return v
			}
			// Contact A: verified, then failed, then one still open.
			add(f.contactA, core.StatusVerified, t0.Add(time.Hour), t0.Add(time.Hour+5*time.Minute))
			failed := add(f.contactA, core.StatusFailed, t0.Add(2*time.Hour), t0.Add(2*time.Hour+5*time.Minute))
			add(f.contactA, core.StatusSent, now.Add(-time.Minute), now.Add(4*time.Minute))
			// Contact B (another tenant): only a sent one that expired.
			expired := add(f.contactB, core.StatusSent, t0.Add(time.Hour), t0.Add(time.Hour+5*time.Minute))
			require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
				n0 := trips.Load()
				got, err := tx.ShieldVerifications(ctx, f.A.ID, []string{f.contactA.ID, f.contactB.ID, "con_none"}, now)
				require.NoError(t, err)
				assert.Equal(t, int64(1), trips.Load()-n0, "one statement for every contact")
				require.Len(t, got, 1, "contact B is another tenant's; con_none has none")
				assert.Equal(t, failed.ID, got[f.contactA.ID].ID, "the open one does not decide the shield")
				got, err = tx.ShieldVerifications(ctx, f.B.ID, []string{f.contactB.ID}, now)
				require.NoError(t, err)
				assert.Equal(t, expired.ID, got[f.contactB.ID].ID, "an open one past its expiry does")
				got, err = tx.ShieldVerifications(ctx, f.A.ID, nil, now)
				require.NoError(t, err)
				assert.Empty(t, got)
				return nil
			}))
		})
	}
}

// TestContactReadInOneStatement: Contact reads the contact, its
// destinations in order and its client's effective policy in one
// statement, and PolicyFor in the same transaction then needs none until
// the transaction writes a policy; LockContactFor adds the technician to
// that statement, and still names what is missing when the join finds
// nothing.
func TestContactReadInOneStatement(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			var trips atomic.Int64
			s := storetest.Open(t, d, store.CountRoundTrips(&trips))
			f := seed(t, s)
			bare := core.Contact{TenantID: f.A.ID, ClientID: f.clientA.ID, FirstName: "No", LastName: "Phones"}
			update(t, s, func(ctx context.Context, tx core.Tx) error { return tx.CreateContact(ctx, &bare) })
			require.NoError(t, s.Update(context.Background(), func(tx core.Tx) error {
				ctx := context.Background()
				n0 := trips.Load()
				c, err := tx.Contact(ctx, f.A.ID, f.contactA.ID)
				require.NoError(t, err)
				assert.Equal(t, f.contactA, c)
				_, err = tx.PolicyFor(ctx, f.A.ID, f.clientA.ID)
				assert.ErrorIs(t, err, core.ErrNotFound, "no policy stored: the defaults apply")
				assert.Equal(t, int64(1), trips.Load()-n0, "contact, destinations and policy in one statement")

				p := core.DefaultPolicy()
				p.CodeDigits = 8
				require.NoError(t, tx.PutPolicy(ctx, f.A.ID, f.clientA.ID, p))
				got, err := tx.PolicyFor(ctx, f.A.ID, f.clientA.ID)
				require.NoError(t, err)
				assert.Equal(t, 8, got.CodeDigits, "the transaction's own write is read back")

				n0 = trips.Load()
				c, tc, err := tx.LockContactFor(ctx, f.A.ID, f.techA.ID, bare.ID)
				require.NoError(t, err)
				assert.Equal(t, int64(1), trips.Load()-n0, "contact and technician in one statement")
				assert.Equal(t, "Phones", c.LastName)
				assert.Empty(t, c.Destinations)
				assert.Equal(t, f.techA.Email, tc.Email)
				assert.Equal(t, f.techA.Role, tc.Role)
				_, err = tx.PolicyFor(ctx, f.A.ID, f.clientA.ID)
				require.NoError(t, err)
				assert.Equal(t, int64(1), trips.Load()-n0, "the policy came along")

				_, _, err = tx.LockContactFor(ctx, f.A.ID, "tec_nobody", f.contactA.ID)
				assert.ErrorIs(t, err, core.ErrNotFound)
				assert.ErrorContains(t, err, "technician")
				_, _, err = tx.LockContactFor(ctx, f.A.ID, f.techA.ID, f.contactB.ID)
				require.ErrorIs(t, err, core.ErrNotFound, "another tenant's contact")
				assert.NotContains(t, err.Error(), "technician")
				c, tc, err = tx.LockContactFor(ctx, f.A.ID, "", f.contactA.ID)
				require.NoError(t, err)
				assert.Equal(t, f.contactA, c)
				assert.Zero(t, tc)
				return nil
			}))
		})
	}
}

// TestLockContactBringsTenant: LockContactFor's statement brings the
// contact's tenant and its channel row along, so a start's Tenant and
// Channels after it cost no round trip, and answer what their own reads
// would — a tenant with a channel row, one without (ErrNotFound, as
// Channels says), a contact with destinations or none; a tenant the
// transaction read already is not read again.
func TestLockContactBringsTenant(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			var trips atomic.Int64
			s := storetest.Open(t, d, store.CountRoundTrips(&trips))
			f := seed(t, s)
			ctx := context.Background()
			row := core.ChannelsRow{TenantID: f.A.ID, SMSNumber: "+15550100077", Sealed: []byte("sealed"), UpdatedAt: t0}
			update(t, s, func(ctx context.Context, tx core.Tx) error { return tx.(core.SMSTx).PutChannels(ctx, &row) })
			// What Tenant and Channels read on their own.
			type read struct {
				tenant   core.Tenant
				channels core.ChannelsRow
				chErr    error
			}
			apart := map[string]read{}
			require.NoError(t, s.View(ctx, func(tx core.Tx) error {
				for _, id := range []string{f.A.ID, f.B.ID} {
					tn, err := tx.Tenant(ctx, id)
					require.NoError(t, err)
					ch, chErr := tx.(core.SMSTx).Channels(ctx, id)
					apart[id] = read{tn, ch, chErr}
				}
				return nil
			}))
			require.NoError(t, apart[f.A.ID].chErr)
			require.ErrorIs(t, apart[f.B.ID].chErr, core.ErrNotFound)
			assert.Equal(t, f.A, apart[f.A.ID].tenant)

			for _, c := range []struct {
				tenantID, techID, contactID string
			}{{f.A.ID, f.techA.ID, f.contactA.ID}, {f.A.ID, "", f.contactA.ID}, {f.B.ID, "", f.contactB.ID}} {
				require.NoError(t, s.Update(ctx, func(tx core.Tx) error {
					n0 := trips.Load()
					_, _, err := tx.LockContactFor(ctx, c.tenantID, c.techID, c.contactID)
					require.NoError(t, err)
					tn, err := tx.Tenant(ctx, c.tenantID)
					require.NoError(t, err)
					ch, chErr := tx.(core.SMSTx).Channels(ctx, c.tenantID)
					assert.Equal(t, int64(1), trips.Load()-n0, "contact, tenant and channel row in one statement")
					want := apart[c.tenantID]
					assert.Equal(t, want.tenant, tn)
					assert.Equal(t, want.channels, ch)
					if want.chErr == nil {
						assert.NoError(t, chErr)
					} else {
						assert.ErrorIs(t, chErr, core.ErrNotFound)
					}
					return nil
				}))
			}

			require.NoError(t, s.Update(ctx, func(tx core.Tx) error {
				_, err := tx.Tenant(ctx, f.A.ID)
				require.NoError(t, err)
				n0 := trips.Load()
				_, _, err = tx.LockContactFor(ctx, f.A.ID, f.techA.ID, f.contactA.ID)
				require.NoError(t, err)
				_, err = tx.Tenant(ctx, f.A.ID)
				require.NoError(t, err)
				assert.Equal(t, int64(1), trips.Load()-n0)
				return nil
			}))
		})
	}
}
