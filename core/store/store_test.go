package store_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// t0 has microsecond precision, what the store keeps, so values round-trip
// exactly.
var t0 = time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)

// fixture is a populated tenant A and a bare tenant B.
type fixture struct {
	A, B         core.Tenant
	clientA      core.Client
	clientB      core.Client
	contactA     core.Contact
	contactB     core.Contact
	techA        core.Technician
	verA         core.Verification
	outA         core.OutboxItem
	integrationA core.Integration
}

func seed(t *testing.T, s *store.Store) fixture {
	t.Helper()
	var f fixture
	f.A = core.Tenant{Slug: "acme", Name: "Acme IT", Country: "GB", SMSFrom: "+15550100000", CreatedAt: t0,
		Branding: core.Branding{SenderName: "Acme", PrimaryColor: "#112233", AccentColor: "#445566", LogoDataURI: "data:image/png;base64,AA==", SupportPhone: "+15550100001"}}
	f.B = core.Tenant{Slug: "bolt", Name: "Bolt MSP", CreatedAt: t0}
	update(t, s, func(ctx context.Context, tx core.Tx) error {
		require.NoError(t, tx.CreateTenant(ctx, &f.A))
		require.NoError(t, tx.CreateTenant(ctx, &f.B))
		f.clientA = core.Client{TenantID: f.A.ID, Name: "Contoso", PSAKind: "connectwise", PSARef: "42", CreatedAt: t0}
		f.clientB = core.Client{TenantID: f.B.ID, Name: "Fabrikam", CreatedAt: t0}
		require.NoError(t, tx.CreateClient(ctx, &f.clientA))
		require.NoError(t, tx.CreateClient(ctx, &f.clientB))
		f.contactA = core.Contact{TenantID: f.A.ID, ClientID: f.clientA.ID, FirstName: "Jane", LastName: "Doe", Title: "CFO",
			PSARef: "c-1", CreatedAt: t0, UpdatedAt: t0.Add(time.Hour),
			Destinations: []core.Destination{
				{Kind: core.DestPhone, Value: "+15550100100", Label: "Mobile", IsDefault: true, Source: "psa:connectwise", SetAt: t0, SetBy: "system"},
				{Kind: core.DestEmail, Value: "jane@contoso.example", Label: "Work", Source: "manual", SetBy: "tec_1"},
			}}
		f.contactB = core.Contact{TenantID: f.B.ID, ClientID: f.clientB.ID, FirstName: "Bob", LastName: "Roe", CreatedAt: t0,
			Destinations: []core.Destination{{Kind: core.DestPhone, Value: "+15550100200"}}}
		require.NoError(t, tx.CreateContact(ctx, &f.contactA))
		require.NoError(t, tx.CreateContact(ctx, &f.contactB))
		f.techA = core.Technician{TenantID: f.A.ID, Email: "tech@acme.example", Name: "Tess", Role: core.RoleAdmin,
			PasswordHash: "$argon2id$v=19$...", TOTPSecret: []byte{1, 2, 3}, LastTOTPStep: 59_000_123, FailedLogins: 2, LockedUntil: t0.Add(time.Minute), CreatedAt: t0}
		require.NoError(t, tx.CreateTechnician(ctx, &f.techA))
		f.verA = core.Verification{TenantID: f.A.ID, ClientID: f.clientA.ID, ContactID: f.contactA.ID,
			DestinationID: f.contactA.Destinations[0].ID, DestKind: core.DestPhone, Destination: "+15550100100",
			Method: core.MethodSMSLink, TicketRef: "T-1", TechnicianID: f.techA.ID, Status: core.StatusSent,
			SecretHash: []byte("secret-hash"), LinkTokenHash: []byte("link-hash"), Attempts: 1, MaxAttempts: 5, Sends: 2,
			Note: "called in", Detail: "d", DeliveryStatus: "delivered", ProviderRef: "SM123",
			CreatedAt: t0, SentAt: t0.Add(time.Second), ExpiresAt: t0.Add(5 * time.Minute),
			CompletedAt: t0.Add(2 * time.Minute), VerifiedUntil: t0.Add(8 * time.Hour)}
		require.NoError(t, tx.CreateVerification(ctx, &f.verA))
		f.outA = core.OutboxItem{TenantID: f.A.ID, Kind: core.OutboxSMS, VerificationID: f.verA.ID, Sealed: []byte("sealed"),
			Status: core.OutboxPending, Attempts: 1, NextAttemptAt: t0, LeaseUntil: t0.Add(-time.Minute), LastError: "timeout",
			Reason: "the provider did not answer in time", ProviderRef: "SM1", Dev: true, CreatedAt: t0, DoneAt: t0.Add(time.Hour)}
		require.NoError(t, tx.EnqueueOutbox(ctx, &f.outA))
		f.integrationA = core.Integration{TenantID: f.A.ID, Kind: "twilio", Name: "SMS", Config: []byte("ciphertext"), CreatedAt: t0, UpdatedAt: t0}
		require.NoError(t, tx.PutIntegration(ctx, &f.integrationA))
		return nil
	})
	return f
}

// update runs fn in a write transaction and fails the test on error.
func update(t testing.TB, s *store.Store, fn func(ctx context.Context, tx core.Tx) error) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, s.Update(ctx, func(tx core.Tx) error { return fn(ctx, tx) }))
}

// view runs fn in a read transaction and returns its error.
func view(s *store.Store, fn func(ctx context.Context, tx core.Tx) error) error {
	ctx := context.Background()
	return s.View(ctx, func(tx core.Tx) error { return fn(ctx, tx) })
}

// raw runs SQL written with ? on the store's database, bypassing the store.
func raw(t *testing.T, s *store.Store, q string, args ...any) {
	t.Helper()
	if s.Dialect() == store.Postgres {
		for i := 1; strings.Contains(q, "?"); i++ {
			q = strings.Replace(q, "?", "$"+strconv.Itoa(i), 1)
		}
	}
	_, err := s.DB().ExecContext(context.Background(), q, args...)
	require.NoError(t, err)
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, s *store.Store, f fixture)
	}{
		{"tenant", func(t *testing.T, s *store.Store, f fixture) {
			require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
				got, err := tx.Tenant(ctx, f.A.ID)
				require.NoError(t, err)
				assert.Equal(t, f.A, got)
				got, err = tx.TenantBySlug(ctx, "bolt")
				require.NoError(t, err)
				assert.Equal(t, f.B, got)
				all, err := tx.ListTenants(ctx)
				require.NoError(t, err)
				assert.Equal(t, []core.Tenant{f.A, f.B}, all)
				return nil
			}))
			f.A.Name, f.A.Slug, f.A.Branding, f.A.Country, f.A.SMSFrom = "Acme 2", "acme2", core.Branding{}, "", ""
			update(t, s, func(ctx context.Context, tx core.Tx) error { return tx.UpdateTenant(ctx, &f.A) })
			require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
				got, err := tx.Tenant(ctx, f.A.ID)
				require.NoError(t, err)
				assert.Equal(t, f.A, got)
				return nil
			}))
		}},
		{"tenant zero time", func(t *testing.T, s *store.Store, f fixture) {
			tn := core.Tenant{Slug: "zero", Name: "Zero"}
			update(t, s, func(ctx context.Context, tx core.Tx) error { return tx.CreateTenant(ctx, &tn) })
			require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
				got, err := tx.Tenant(ctx, tn.ID)
				require.NoError(t, err)
				assert.Equal(t, tn, got)
				assert.True(t, got.CreatedAt.IsZero())
				return nil
			}))
		}},
		{"client", func(t *testing.T, s *store.Store, f fixture) {
			c2 := core.Client{TenantID: f.A.ID, Name: "Alpha"} // zero time
			update(t, s, func(ctx context.Context, tx core.Tx) error { return tx.CreateClient(ctx, &c2) })
			require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
				got, err := tx.Client(ctx, f.A.ID, f.clientA.ID)
				require.NoError(t, err)
				assert.Equal(t, f.clientA, got)
				all, err := tx.ListClients(ctx, f.A.ID)
				require.NoError(t, err)
				assert.Equal(t, []core.Client{c2, f.clientA}, all)
				return nil
			}))
		}},
		{"contact", func(t *testing.T, s *store.Store, f fixture) {
			d := core.Destination{ContactID: f.contactA.ID, Kind: core.DestPhone, Value: "+15550100101", Label: "Home", SetAt: t0, SetBy: "tec_2", Source: "manual"}
			update(t, s, func(ctx context.Context, tx core.Tx) error { return tx.AddDestination(ctx, f.A.ID, &d) })
			require.NotEmpty(t, d.ID)
			want := f.contactA
			want.Destinations = append(append([]core.Destination(nil), f.contactA.Destinations...), d)
			require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
				got, err := tx.Contact(ctx, f.A.ID, f.contactA.ID)
				require.NoError(t, err)
				assert.Equal(t, want, got)
				dd, ok := got.DefaultDestination(core.DestEmail)
				assert.True(t, ok)
				assert.Equal(t, "jane@contoso.example", dd.Value)
				return nil
			}))
		}},
		{"technician", func(t *testing.T, s *store.Store, f fixture) {
			bare := core.Technician{TenantID: f.A.ID, Email: "bare@acme.example", Name: "Bare", Role: core.RolePodOnly}
			update(t, s, func(ctx context.Context, tx core.Tx) error { return tx.CreateTechnician(ctx, &bare) })
			require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
				got, err := tx.Technician(ctx, f.A.ID, f.techA.ID)
				require.NoError(t, err)
				assert.Equal(t, f.techA, got)
				got, err = tx.TechnicianByEmail(ctx, f.A.ID, "bare@acme.example")
				require.NoError(t, err)
				assert.Equal(t, bare, got)
				assert.Nil(t, got.TOTPSecret)
				all, err := tx.ListTechnicians(ctx, f.A.ID)
				require.NoError(t, err)
				assert.Equal(t, []core.Technician{bare, f.techA}, all)
				return nil
			}))
			f.techA.Name, f.techA.Role, f.techA.PasswordHash, f.techA.TOTPSecret = "Tess 2", core.RoleOwner, "", nil
			f.techA.FailedLogins, f.techA.LockedUntil, f.techA.LastTOTPStep = 0, time.Time{}, 59_000_200
			f.techA.DisabledAt, f.techA.SessionEpoch, f.techA.LastLoginAt = t0.Add(time.Hour), 3, t0.Add(30*time.Minute)
			update(t, s, func(ctx context.Context, tx core.Tx) error { return tx.UpdateTechnician(ctx, &f.techA) })
			require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
				got, err := tx.Technician(ctx, f.A.ID, f.techA.ID)
				require.NoError(t, err)
				assert.Equal(t, f.techA, got)
				return nil
			}))
		}},
		{"policy", func(t *testing.T, s *store.Store, f fixture) {
			def := core.DefaultPolicy()
			yes := true
			override := core.Policy{Methods: []core.Method{core.MethodSMSCode}, CodeDigits: 8, EmailLinkCode: &yes, Banner: "hi"}
			update(t, s, func(ctx context.Context, tx core.Tx) error {
				_, err := tx.Policy(ctx, f.A.ID, "")
				require.ErrorIs(t, err, core.ErrNotFound)
				require.NoError(t, tx.PutPolicy(ctx, f.A.ID, "", core.Policy{}))
				require.NoError(t, tx.PutPolicy(ctx, f.A.ID, "", def)) // replaces
				return tx.PutPolicy(ctx, f.A.ID, f.clientA.ID, override)
			})
			require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
				got, err := tx.Policy(ctx, f.A.ID, "")
				require.NoError(t, err)
				assert.Equal(t, def, got)
				got, err = tx.Policy(ctx, f.A.ID, f.clientA.ID)
				require.NoError(t, err)
				assert.Equal(t, override, got)
				return nil
			}))
		}},
		{"verification", func(t *testing.T, s *store.Store, f fixture) {
			bare := core.Verification{TenantID: f.A.ID, ContactID: f.contactA.ID, Method: core.MethodSMSCode, Status: core.StatusPending, CreatedAt: t0.Add(time.Minute)}
			update(t, s, func(ctx context.Context, tx core.Tx) error { return tx.CreateVerification(ctx, &bare) })
			require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
				got, err := tx.Verification(ctx, f.A.ID, f.verA.ID)
				require.NoError(t, err)
				assert.Equal(t, f.verA, got)
				got, err = tx.Verification(ctx, f.A.ID, bare.ID)
				require.NoError(t, err)
				assert.Equal(t, bare, got)
				assert.Nil(t, got.SecretHash)
				assert.Nil(t, got.LinkTokenHash)
				got, err = tx.VerificationByLinkHash(ctx, f.A.ID, []byte("link-hash"))
				require.NoError(t, err)
				assert.Equal(t, f.verA.ID, got.ID)
				got, err = tx.VerificationByProviderRef(ctx, f.A.ID, "SM123")
				require.NoError(t, err)
				assert.Equal(t, f.verA.ID, got.ID)
				list, err := tx.ListVerifications(ctx, f.A.ID, f.contactA.ID, 0)
				require.NoError(t, err)
				assert.Equal(t, []core.Verification{bare, f.verA}, list) // newest first
				list, err = tx.ListVerifications(ctx, f.A.ID, f.contactA.ID, 1)
				require.NoError(t, err)
				assert.Len(t, list, 1)
				list, err = tx.RecentVerifications(ctx, f.A.ID, t0, 10)
				require.NoError(t, err)
				assert.Equal(t, []core.Verification{bare, f.verA}, list, "the tenant's, newest first")
				list, err = tx.RecentVerifications(ctx, f.A.ID, t0.Add(time.Second), 10)
				require.NoError(t, err)
				assert.Equal(t, []core.Verification{bare}, list, "none created before since")
				list, err = tx.RecentVerifications(ctx, f.A.ID, t0, 1)
				require.NoError(t, err)
				assert.Equal(t, []core.Verification{bare}, list, "at most limit")
				return nil
			}))
			update(t, s, func(ctx context.Context, tx core.Tx) error {
				v, err := tx.LockVerification(ctx, f.A.ID, f.verA.ID)
				require.NoError(t, err)
				require.Equal(t, f.verA, v)
				v.Status, v.Attempts, v.LinkTokenHash, v.SecretHash = core.StatusVerified, 3, nil, nil
				v.CompletedAt, v.VerifiedUntil, v.ProviderRef, v.Note = time.Time{}, time.Time{}, "SM999", ""
				f.verA = v
				return tx.UpdateVerification(ctx, &v)
			})
			require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
				got, err := tx.Verification(ctx, f.A.ID, f.verA.ID)
				require.NoError(t, err)
				assert.Equal(t, f.verA, got)
				_, err = tx.VerificationByLinkHash(ctx, f.A.ID, []byte("link-hash"))
				assert.ErrorIs(t, err, core.ErrNotFound)
				return nil
			}))
		}},
		{"failure counter", func(t *testing.T, s *store.Store, f fixture) {
			update(t, s, func(ctx context.Context, tx core.Tx) error {
				n, err := tx.FailureCount(ctx, f.A.ID, f.contactA.ID, core.DestPhone)
				require.NoError(t, err)
				assert.Equal(t, 0, n)
				require.NoError(t, tx.SetFailureCount(ctx, f.A.ID, f.contactA.ID, core.DestPhone, 3, t0))
				require.NoError(t, tx.SetFailureCount(ctx, f.A.ID, f.contactA.ID, core.DestPhone, 4, t0))
				require.NoError(t, tx.SetFailureCount(ctx, f.A.ID, f.contactA.ID, core.DestEmail, 1, t0))
				return nil
			})
			require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
				n, err := tx.FailureCount(ctx, f.A.ID, f.contactA.ID, core.DestPhone)
				require.NoError(t, err)
				assert.Equal(t, 4, n)
				n, err = tx.FailureCount(ctx, f.A.ID, f.contactA.ID, core.DestEmail)
				require.NoError(t, err)
				assert.Equal(t, 1, n)
				return nil
			}))
		}},
		{"outbox", func(t *testing.T, s *store.Store, f fixture) {
			bare := core.OutboxItem{TenantID: f.A.ID, Kind: core.OutboxEmail, CreatedAt: t0.Add(time.Second)}
			update(t, s, func(ctx context.Context, tx core.Tx) error { return tx.EnqueueOutbox(ctx, &bare) })
			assert.Equal(t, core.OutboxPending, bare.Status)
			require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
				got, err := tx.OutboxItem(ctx, f.A.ID, f.outA.ID)
				require.NoError(t, err)
				assert.Equal(t, f.outA, got)
				got, err = tx.OutboxItem(ctx, f.A.ID, bare.ID)
				require.NoError(t, err)
				assert.Equal(t, bare, got)
				list, err := tx.ListOutbox(ctx, f.A.ID, 10)
				require.NoError(t, err)
				assert.Equal(t, []core.OutboxItem{bare, f.outA}, list)
				return nil
			}))
			f.outA.Status, f.outA.Sealed, f.outA.Attempts, f.outA.LastError, f.outA.Reason = core.OutboxDone, nil, 2, "", ""
			f.outA.ProviderRef, f.outA.DoneAt, f.outA.NextAttemptAt, f.outA.LeaseUntil = "SM2", t0.Add(2*time.Hour), time.Time{}, time.Time{}
			update(t, s, func(ctx context.Context, tx core.Tx) error { return tx.UpdateOutbox(ctx, &f.outA) })
			require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
				got, err := tx.OutboxItem(ctx, f.A.ID, f.outA.ID)
				require.NoError(t, err)
				assert.Equal(t, f.outA, got)
				return nil
			}))
			// Ticket notes by verification: only notes, only the tenant's,
			// only the verifications asked for.
			note := core.OutboxItem{TenantID: f.A.ID, Kind: core.OutboxTicketNote, VerificationID: f.verA.ID,
				Status: core.OutboxDead, Attempts: 3, LastError: "permanent delivery failure not_found: gone",
				Reason: "the PSA refused the note: no such ticket", CreatedAt: t0.Add(3 * time.Second)}
			other := core.OutboxItem{TenantID: f.A.ID, Kind: core.OutboxTicketNote, VerificationID: "ver_other", CreatedAt: t0.Add(4 * time.Second)}
			update(t, s, func(ctx context.Context, tx core.Tx) error {
				require.NoError(t, tx.EnqueueOutbox(ctx, &note))
				return tx.EnqueueOutbox(ctx, &other)
			})
			require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
				got, err := tx.TicketNoteItems(ctx, f.A.ID, []string{f.verA.ID, "ver_missing"})
				require.NoError(t, err)
				assert.Equal(t, []core.OutboxItem{note}, got)
				got, err = tx.TicketNoteItems(ctx, f.B.ID, []string{f.verA.ID, "ver_other"})
				require.NoError(t, err)
				assert.Empty(t, got)
				got, err = tx.TicketNoteItems(ctx, f.A.ID, nil)
				require.NoError(t, err)
				assert.Empty(t, got)
				return nil
			}))
		}},
		{"integration", func(t *testing.T, s *store.Store, f fixture) {
			require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
				got, err := tx.Integration(ctx, f.A.ID, f.integrationA.ID)
				require.NoError(t, err)
				assert.Equal(t, f.integrationA, got)
				return nil
			}))
			changed := f.integrationA
			changed.Name, changed.Config, changed.UpdatedAt, changed.CreatedAt = "SMS 2", nil, t0.Add(time.Hour), t0.Add(time.Hour)
			update(t, s, func(ctx context.Context, tx core.Tx) error { return tx.PutIntegration(ctx, &changed) })
			changed.CreatedAt = f.integrationA.CreatedAt // creation time stays
			require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
				all, err := tx.ListIntegrations(ctx, f.A.ID)
				require.NoError(t, err)
				assert.Equal(t, []core.Integration{changed}, all)
				return nil
			}))
		}},
		{"times normalised", func(t *testing.T, s *store.Store, f fixture) {
			local := time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.FixedZone("X", 3600))
			c := core.Client{TenantID: f.A.ID, Name: "TZ", CreatedAt: local}
			update(t, s, func(ctx context.Context, tx core.Tx) error { return tx.CreateClient(ctx, &c) })
			assert.Equal(t, local.UTC().Truncate(time.Microsecond), c.CreatedAt)
			require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
				got, err := tx.Client(ctx, f.A.ID, c.ID)
				require.NoError(t, err)
				assert.Equal(t, c, got)
				return nil
			}))
		}},
	}
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					// A store per case, so that lists compare exactly.
					s := storetest.Open(t, d)
					tc.run(t, s, seed(t, s))
				})
			}
		})
	}
}

func TestTenantIsolation(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		f := seed(t, s)
		b := f.B.ID
		steal := []struct {
			name string
			fn   func(ctx context.Context, tx core.Tx) error
		}{
			{"client", func(ctx context.Context, tx core.Tx) error { _, err := tx.Client(ctx, b, f.clientA.ID); return err }},
			{"contact", func(ctx context.Context, tx core.Tx) error { _, err := tx.Contact(ctx, b, f.contactA.ID); return err }},
			{"add destination", func(ctx context.Context, tx core.Tx) error {
				return tx.AddDestination(ctx, b, &core.Destination{ContactID: f.contactA.ID, Kind: core.DestPhone, Value: "+1"})
			}},
			{"create contact in other's client", func(ctx context.Context, tx core.Tx) error {
				return tx.CreateContact(ctx, &core.Contact{TenantID: b, ClientID: f.clientA.ID})
			}},
			{"update contact", func(ctx context.Context, tx core.Tx) error {
				c := f.contactA
				c.TenantID, c.FirstName = b, "pwned"
				return tx.UpdateContact(ctx, &c)
			}},
			{"update destination", func(ctx context.Context, tx core.Tx) error {
				d := f.contactA.Destinations[0]
				d.Value = "+15550100666"
				return tx.UpdateDestination(ctx, b, &d)
			}},
			{"delete destination", func(ctx context.Context, tx core.Tx) error {
				return tx.DeleteDestination(ctx, b, f.contactA.ID, f.contactA.Destinations[0].ID)
			}},
			{"update client", func(ctx context.Context, tx core.Tx) error {
				c := f.clientA
				c.TenantID, c.Name = b, "pwned"
				return tx.UpdateClient(ctx, &c)
			}},
			{"technician", func(ctx context.Context, tx core.Tx) error { _, err := tx.Technician(ctx, b, f.techA.ID); return err }},
			{"technician by email", func(ctx context.Context, tx core.Tx) error {
				_, err := tx.TechnicianByEmail(ctx, b, f.techA.Email)
				return err
			}},
			{"update technician", func(ctx context.Context, tx core.Tx) error {
				tc := f.techA
				tc.TenantID, tc.Name = b, "pwned"
				return tx.UpdateTechnician(ctx, &tc)
			}},
			{"policy of other's client", func(ctx context.Context, tx core.Tx) error {
				_, err := tx.Policy(ctx, b, f.clientA.ID)
				return err
			}},
			{"put policy for other's client", func(ctx context.Context, tx core.Tx) error {
				return tx.PutPolicy(ctx, b, f.clientA.ID, core.Policy{})
			}},
			{"verification", func(ctx context.Context, tx core.Tx) error { _, err := tx.Verification(ctx, b, f.verA.ID); return err }},
			{"lock verification", func(ctx context.Context, tx core.Tx) error {
				_, err := tx.LockVerification(ctx, b, f.verA.ID)
				return err
			}},
			{"verification by link", func(ctx context.Context, tx core.Tx) error {
				_, err := tx.VerificationByLinkHash(ctx, b, f.verA.LinkTokenHash)
				return err
			}},
			{"verification by provider ref", func(ctx context.Context, tx core.Tx) error {
				_, err := tx.VerificationByProviderRef(ctx, b, f.verA.ProviderRef)
				return err
			}},
			{"update verification", func(ctx context.Context, tx core.Tx) error {
				v := f.verA
				v.TenantID, v.Status = b, core.StatusVerified
				return tx.UpdateVerification(ctx, &v)
			}},
			{"create verification for other's contact", func(ctx context.Context, tx core.Tx) error {
				return tx.CreateVerification(ctx, &core.Verification{TenantID: b, ContactID: f.contactA.ID, Method: core.MethodSMSCode, Status: core.StatusPending})
			}},
			{"record send for other's verification", func(ctx context.Context, tx core.Tx) error {
				return tx.RecordSend(ctx, &core.Send{TenantID: b, VerificationID: f.verA.ID, At: t0})
			}},
			{"set failure count on other's contact", func(ctx context.Context, tx core.Tx) error {
				return tx.SetFailureCount(ctx, b, f.contactA.ID, core.DestPhone, 1, t0)
			}},
			{"outbox item", func(ctx context.Context, tx core.Tx) error { _, err := tx.OutboxItem(ctx, b, f.outA.ID); return err }},
			{"update outbox", func(ctx context.Context, tx core.Tx) error {
				o := f.outA
				o.TenantID, o.Status = b, core.OutboxDead
				return tx.UpdateOutbox(ctx, &o)
			}},
			{"integration", func(ctx context.Context, tx core.Tx) error {
				_, err := tx.Integration(ctx, b, f.integrationA.ID)
				return err
			}},
			{"put integration over other's", func(ctx context.Context, tx core.Tx) error {
				in := f.integrationA
				in.TenantID, in.Name = b, "pwned"
				return tx.PutIntegration(ctx, &in)
			}},
		}
		for _, tc := range steal {
			t.Run(tc.name, func(t *testing.T) {
				err := s.Update(t.Context(), func(tx core.Tx) error { return tc.fn(t.Context(), tx) })
				assert.ErrorIs(t, err, core.ErrNotFound)
			})
		}
		t.Run("lists are empty", func(t *testing.T) {
			require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
				clients, err := tx.ListClients(ctx, b)
				require.NoError(t, err)
				assert.Equal(t, []core.Client{f.clientB}, clients)
				contacts, err := tx.SearchContacts(ctx, b, core.ContactQuery{Text: "jane"})
				require.NoError(t, err)
				assert.Empty(t, contacts)
				contacts, err = tx.SearchContacts(ctx, b, core.ContactQuery{Phone: "+15550100100"})
				require.NoError(t, err)
				assert.Empty(t, contacts)
				techs, err := tx.ListTechnicians(ctx, b)
				require.NoError(t, err)
				assert.Empty(t, techs)
				vs, err := tx.ListVerifications(ctx, b, f.contactA.ID, 0)
				require.NoError(t, err)
				assert.Empty(t, vs)
				vs, err = tx.RecentVerifications(ctx, b, time.Time{}, 10)
				require.NoError(t, err)
				assert.Empty(t, vs)
				out, err := tx.ListOutbox(ctx, b, 0)
				require.NoError(t, err)
				assert.Empty(t, out)
				ins, err := tx.ListIntegrations(ctx, b)
				require.NoError(t, err)
				assert.Empty(t, ins)
				n, err := tx.FailureCount(ctx, b, f.contactA.ID, core.DestPhone)
				require.NoError(t, err)
				assert.Zero(t, n)
				return nil
			}))
		})
		t.Run("tenant A unchanged", func(t *testing.T) {
			require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
				tc, err := tx.Technician(ctx, f.A.ID, f.techA.ID)
				require.NoError(t, err)
				assert.Equal(t, f.techA, tc)
				v, err := tx.Verification(ctx, f.A.ID, f.verA.ID)
				require.NoError(t, err)
				assert.Equal(t, f.verA, v)
				o, err := tx.OutboxItem(ctx, f.A.ID, f.outA.ID)
				require.NoError(t, err)
				assert.Equal(t, f.outA, o)
				in, err := tx.Integration(ctx, f.A.ID, f.integrationA.ID)
				require.NoError(t, err)
				assert.Equal(t, f.integrationA, in)
				c, err := tx.Contact(ctx, f.A.ID, f.contactA.ID)
				require.NoError(t, err)
				assert.Equal(t, f.contactA, c)
				return nil
			}))
		})
	})
}

func TestConflict(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		f := seed(t, s)
		tests := []struct {
			name string
			fn   func(ctx context.Context, tx core.Tx) error
		}{
			{"tenant slug", func(ctx context.Context, tx core.Tx) error {
				return tx.CreateTenant(ctx, &core.Tenant{Slug: "acme", Name: "Again"})
			}},
			{"tenant slug on update", func(ctx context.Context, tx core.Tx) error {
				tn := f.B
				tn.Slug = "acme"
				return tx.UpdateTenant(ctx, &tn)
			}},
			{"tenant id", func(ctx context.Context, tx core.Tx) error {
				return tx.CreateTenant(ctx, &core.Tenant{ID: f.A.ID, Slug: "other"})
			}},
			{"technician email", func(ctx context.Context, tx core.Tx) error {
				return tx.CreateTechnician(ctx, &core.Technician{TenantID: f.A.ID, Email: f.techA.Email, Role: core.RoleTechnician})
			}},
			{"link token hash", func(ctx context.Context, tx core.Tx) error {
				return tx.CreateVerification(ctx, &core.Verification{TenantID: f.A.ID, ContactID: f.contactA.ID,
					Method: core.MethodSMSLink, Status: core.StatusPending, LinkTokenHash: f.verA.LinkTokenHash})
			}},
			{"client id", func(ctx context.Context, tx core.Tx) error {
				return tx.CreateClient(ctx, &core.Client{ID: f.clientA.ID, TenantID: f.A.ID})
			}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				err := s.Update(t.Context(), func(tx core.Tx) error { return tc.fn(t.Context(), tx) })
				assert.ErrorIs(t, err, core.ErrConflict)
			})
		}
		t.Run("same email in another tenant is fine", func(t *testing.T) {
			update(t, s, func(ctx context.Context, tx core.Tx) error {
				return tx.CreateTechnician(ctx, &core.Technician{TenantID: f.B.ID, Email: f.techA.Email, Role: core.RoleOwner})
			})
		})
	})
}

func TestNotFound(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		f := seed(t, s)
		a := f.A.ID
		tests := []struct {
			name string
			fn   func(ctx context.Context, tx core.Tx) error
		}{
			{"tenant", func(ctx context.Context, tx core.Tx) error { _, err := tx.Tenant(ctx, "ten_missing"); return err }},
			{"tenant by slug", func(ctx context.Context, tx core.Tx) error { _, err := tx.TenantBySlug(ctx, "nope"); return err }},
			{"update tenant", func(ctx context.Context, tx core.Tx) error {
				return tx.UpdateTenant(ctx, &core.Tenant{ID: "ten_missing", Slug: "x"})
			}},
			{"client", func(ctx context.Context, tx core.Tx) error { _, err := tx.Client(ctx, a, "cli_missing"); return err }},
			{"contact", func(ctx context.Context, tx core.Tx) error { _, err := tx.Contact(ctx, a, "con_missing"); return err }},
			{"technician", func(ctx context.Context, tx core.Tx) error {
				_, err := tx.Technician(ctx, a, "tec_missing")
				return err
			}},
			{"policy", func(ctx context.Context, tx core.Tx) error { _, err := tx.Policy(ctx, a, ""); return err }},
			{"verification", func(ctx context.Context, tx core.Tx) error {
				_, err := tx.Verification(ctx, a, "ver_missing")
				return err
			}},
			{"link hash nil", func(ctx context.Context, tx core.Tx) error {
				_, err := tx.VerificationByLinkHash(ctx, a, nil)
				return err
			}},
			{"provider ref empty", func(ctx context.Context, tx core.Tx) error {
				_, err := tx.VerificationByProviderRef(ctx, a, "")
				return err
			}},
			{"outbox", func(ctx context.Context, tx core.Tx) error {
				_, err := tx.OutboxItem(ctx, a, "obx_missing")
				return err
			}},
			{"integration", func(ctx context.Context, tx core.Tx) error {
				_, err := tx.Integration(ctx, a, "int_missing")
				return err
			}},
			{"audit head", func(ctx context.Context, tx core.Tx) error { _, _, err := tx.AuditHead(ctx, "ten_missing"); return err }},
			{"append audit", func(ctx context.Context, tx core.Tx) error {
				return tx.AppendAudit(ctx, &core.AuditEvent{TenantID: "ten_missing"})
			}},
			{"client of missing tenant", func(ctx context.Context, tx core.Tx) error {
				return tx.CreateClient(ctx, &core.Client{TenantID: "ten_missing"})
			}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				err := s.Update(t.Context(), func(tx core.Tx) error { return tc.fn(t.Context(), tx) })
				require.Error(t, err)
				assert.ErrorIs(t, err, core.ErrNotFound)
				assert.Equal(t, core.KindNotFound, core.ErrorKind(err))
			})
		}
	})
}

func TestRollback(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		f := seed(t, s)
		boom := errors.New("boom")
		var (
			tn  = core.Tenant{Slug: "ghost", Name: "Ghost"}
			obx = core.OutboxItem{TenantID: f.A.ID, Kind: core.OutboxSMS}
		)
		err := s.Update(t.Context(), func(tx core.Tx) error {
			ctx := t.Context()
			require.NoError(t, tx.CreateTenant(ctx, &tn))
			require.NoError(t, tx.AppendAudit(ctx, &core.AuditEvent{TenantID: f.A.ID, Action: "x"}))
			require.NoError(t, tx.EnqueueOutbox(ctx, &obx))
			v := f.verA
			v.Status = core.StatusFailed
			require.NoError(t, tx.UpdateVerification(ctx, &v))
			return boom
		})
		require.ErrorIs(t, err, boom)
		require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
			_, err := tx.TenantBySlug(ctx, "ghost")
			assert.ErrorIs(t, err, core.ErrNotFound)
			_, err = tx.OutboxItem(ctx, f.A.ID, obx.ID)
			assert.ErrorIs(t, err, core.ErrNotFound)
			seq, hash, err := tx.AuditHead(ctx, f.A.ID)
			require.NoError(t, err)
			assert.Zero(t, seq)
			assert.Nil(t, hash)
			evs, err := tx.AuditEvents(ctx, f.A.ID, core.AuditQuery{})
			require.NoError(t, err)
			assert.Empty(t, evs)
			v, err := tx.Verification(ctx, f.A.ID, f.verA.ID)
			require.NoError(t, err)
			assert.Equal(t, core.StatusSent, v.Status)
			return nil
		}))
	})
}

func TestSearchContacts(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		f := seed(t, s)
		other := core.Client{TenantID: f.A.ID, Name: "Fabrikam Ltd", PSAKind: "memory", PSARef: "co-7"}
		pct := core.Contact{TenantID: f.A.ID, FirstName: "100%", LastName: "Sure_Thing", PSARef: "c-42",
			Destinations: []core.Destination{{Kind: core.DestEmail, Value: "sure@other.example"}}}
		update(t, s, func(ctx context.Context, tx core.Tx) error {
			require.NoError(t, tx.CreateClient(ctx, &other))
			pct.ClientID = other.ID
			return tx.CreateContact(ctx, &pct)
		})
		tests := []struct {
			name string
			q    core.ContactQuery
			want []string
		}{
			{"all", core.ContactQuery{}, []string{f.contactA.ID, pct.ID}},
			{"first name any case", core.ContactQuery{Text: "JAN"}, []string{f.contactA.ID}},
			{"full name", core.ContactQuery{Text: "jane doe"}, []string{f.contactA.ID}},
			{"email part", core.ContactQuery{Text: "contoso.exa"}, []string{f.contactA.ID}},
			{"phone digits", core.ContactQuery{Text: "(555) 010-0100"}, []string{f.contactA.ID}},
			{"phone e164 part", core.ContactQuery{Text: "+1555"}, []string{f.contactA.ID}},
			{"percent is literal", core.ContactQuery{Text: "0%"}, []string{pct.ID}},
			{"underscore is literal", core.ContactQuery{Text: "e_t"}, []string{pct.ID}},
			{"wildcard alone matches nothing", core.ContactQuery{Text: "%"}, []string{pct.ID}},
			{"email exact", core.ContactQuery{Email: "jane@contoso.example"}, []string{f.contactA.ID}},
			{"email not partial", core.ContactQuery{Email: "jane@contoso"}, nil},
			{"phone exact", core.ContactQuery{Phone: "+15550100100"}, []string{f.contactA.ID}},
			{"client", core.ContactQuery{ClientID: other.ID}, []string{pct.ID}},
			{"company name", core.ContactQuery{Text: "FABRIKAM"}, []string{pct.ID}},
			{"client and text", core.ContactQuery{ClientID: other.ID, Text: "jane"}, nil},
			{"limit", core.ContactQuery{Limit: 1}, []string{f.contactA.ID}},
			{"psa ref", core.ContactQuery{PSAKind: "memory", PSARef: "c-42"}, []string{pct.ID}},
			{"psa ref of another psa", core.ContactQuery{PSAKind: "connectwise", PSARef: "c-42"}, nil},
			{"psa ref unknown", core.ContactQuery{PSAKind: "memory", PSARef: "c-43"}, nil},
			{"no match", core.ContactQuery{Text: "zzz"}, nil},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
					got, err := tx.SearchContacts(ctx, f.A.ID, tc.q)
					require.NoError(t, err)
					var ids []string
					for _, c := range got {
						ids = append(ids, c.ID)
						if c.ID == f.contactA.ID {
							assert.Equal(t, f.contactA, c, "destinations filled")
						}
					}
					assert.Equal(t, tc.want, ids)
					return nil
				}))
			})
		}
		t.Run("default limit 50", func(t *testing.T) {
			update(t, s, func(ctx context.Context, tx core.Tx) error {
				for i := range 55 {
					c := core.Contact{TenantID: f.A.ID, ClientID: other.ID, FirstName: "Many", LastName: fmt.Sprintf("M%02d", i),
						Destinations: []core.Destination{{Kind: core.DestPhone, Value: fmt.Sprintf("+1555000%04d", i)}}}
					require.NoError(t, tx.CreateContact(ctx, &c))
				}
				return nil
			})
			require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
				got, err := tx.SearchContacts(ctx, f.A.ID, core.ContactQuery{Text: "many"})
				require.NoError(t, err)
				require.Len(t, got, 50)
				for _, c := range got {
					assert.Len(t, c.Destinations, 1)
				}
				return nil
			}))
		})
	})
}

func TestCountSends(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		f := seed(t, s)
		update(t, s, func(ctx context.Context, tx core.Tx) error {
			for i, snd := range []core.Send{
				{ContactID: "c1", Destination: "+1", TechnicianID: "t1", At: t0.Add(-2 * time.Hour)},
				{ContactID: "c1", Destination: "+1", TechnicianID: "t1", At: t0.Add(-30 * time.Minute)},
				{ContactID: "c1", Destination: "+2", TechnicianID: "t2", At: t0.Add(-10 * time.Minute)},
				{ContactID: "c2", Destination: "+2", TechnicianID: "t1", At: t0},
			} {
				snd.TenantID, snd.VerificationID, snd.Method = f.A.ID, f.verA.ID, core.MethodSMSCode
				require.NoError(t, tx.RecordSend(ctx, &snd), i)
			}
			// Tenant B's sends never count for A.
			vb := core.Verification{TenantID: f.B.ID, ContactID: f.contactB.ID, Method: core.MethodSMSCode, Status: core.StatusSent}
			require.NoError(t, tx.CreateVerification(ctx, &vb))
			return tx.RecordSend(ctx, &core.Send{TenantID: f.B.ID, VerificationID: vb.ID, ContactID: "c1", Destination: "+1", TechnicianID: "t1", At: t0})
		})
		hour := t0.Add(-time.Hour)
		tests := []struct {
			name string
			f    core.SendFilter
			want int
		}{
			{"tenant last hour", core.SendFilter{Since: hour}, 3},
			{"tenant all", core.SendFilter{Since: t0.Add(-24 * time.Hour)}, 4},
			{"since is inclusive", core.SendFilter{Since: t0}, 1},
			{"contact", core.SendFilter{ContactID: "c1", Since: hour}, 2},
			{"destination", core.SendFilter{Destination: "+2", Since: hour}, 2},
			{"technician", core.SendFilter{TechnicianID: "t1", Since: hour}, 2},
			{"contact and destination", core.SendFilter{ContactID: "c1", Destination: "+1", Since: hour}, 1},
			{"none", core.SendFilter{ContactID: "c9", Since: hour}, 0},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
					n, err := tx.CountSends(ctx, f.A.ID, tc.f)
					require.NoError(t, err)
					assert.Equal(t, tc.want, n)
					return nil
				}))
			})
		}
		t.Run("since required", func(t *testing.T) {
			err := view(s, func(ctx context.Context, tx core.Tx) error {
				_, err := tx.CountSends(ctx, f.A.ID, core.SendFilter{ContactID: "c1"})
				return err
			})
			assert.ErrorIs(t, err, core.ErrInvalid)
		})
	})
}

// appendEvents appends n events to tenant and returns them as appended.
func appendEvents(t *testing.T, s *store.Store, tenant string, n int) []core.AuditEvent {
	t.Helper()
	var out []core.AuditEvent
	update(t, s, func(ctx context.Context, tx core.Tx) error {
		for i := range n {
			e := core.AuditEvent{TenantID: tenant, At: t0.Add(time.Duration(i) * time.Second), Actor: "tech:1",
				Action: "verification.started", Subject: fmt.Sprintf("ver_%d", i), Detail: map[string]string{"i": strconv.Itoa(i)}}
			if i == 0 {
				e.Detail = nil // nil and empty details hash differently; both must survive
			}
			if i == 1 {
				e.Detail, e.Action = map[string]string{}, "technician.login_failed"
			}
			require.NoError(t, tx.AppendAudit(ctx, &e))
			out = append(out, e)
		}
		return nil
	})
	return out
}

func readChain(t *testing.T, s *store.Store, tenant string) (events []core.AuditEvent, seq int64, hash []byte) {
	t.Helper()
	require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
		var err error
		events, err = tx.AuditEvents(ctx, tenant, core.AuditQuery{})
		require.NoError(t, err)
		seq, hash, err = tx.AuditHead(ctx, tenant)
		return err
	}))
	return events, seq, hash
}

func TestAuditChain(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		f := seed(t, s)
		t.Run("append and verify", func(t *testing.T) {
			appended := appendEvents(t, s, f.A.ID, 5)
			appendEvents(t, s, f.B.ID, 2) // another tenant's chain is separate
			events, seq, hash := readChain(t, s, f.A.ID)
			assert.Equal(t, appended, events)
			assert.Equal(t, int64(5), seq)
			assert.Equal(t, appended[4].Hash, hash)
			assert.Nil(t, events[0].PrevHash)
			assert.Nil(t, events[0].Detail)
			assert.NotNil(t, events[1].Detail)
			require.NoError(t, core.VerifyAuditChain(events, seq, hash))
			eb, seqB, hashB := readChain(t, s, f.B.ID)
			require.NoError(t, core.VerifyAuditChain(eb, seqB, hashB))
			assert.Len(t, eb, 2)
		})
		t.Run("query", func(t *testing.T) {
			require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
				evs, err := tx.AuditEvents(ctx, f.A.ID, core.AuditQuery{Action: "technician.login_failed"})
				require.NoError(t, err)
				require.Len(t, evs, 1)
				assert.Equal(t, int64(2), evs[0].Seq)
				evs, err = tx.AuditEvents(ctx, f.A.ID, core.AuditQuery{Subject: "ver_3"})
				require.NoError(t, err)
				require.Len(t, evs, 1)
				evs, err = tx.AuditEvents(ctx, f.A.ID, core.AuditQuery{Since: t0.Add(3 * time.Second)})
				require.NoError(t, err)
				assert.Len(t, evs, 2)
				evs, err = tx.AuditEvents(ctx, f.A.ID, core.AuditQuery{Limit: 2})
				require.NoError(t, err)
				require.Len(t, evs, 2)
				assert.Equal(t, int64(1), evs[0].Seq)
				return nil
			}))
		})
	})
}

func TestAuditTamper(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, s *store.Store, tenant string)
	}{
		{"edit detail", func(t *testing.T, s *store.Store, tenant string) {
			raw(t, s, `UPDATE audit_events SET detail = '{"i":"99"}' WHERE tenant_id = ? AND seq = 3`, tenant)
		}},
		{"edit actor", func(t *testing.T, s *store.Store, tenant string) {
			raw(t, s, `UPDATE audit_events SET actor = 'system' WHERE tenant_id = ? AND seq = 1`, tenant)
		}},
		{"delete middle row", func(t *testing.T, s *store.Store, tenant string) {
			raw(t, s, `DELETE FROM audit_events WHERE tenant_id = ? AND seq = 2`, tenant)
		}},
		{"delete last row", func(t *testing.T, s *store.Store, tenant string) {
			raw(t, s, `DELETE FROM audit_events WHERE tenant_id = ? AND seq = 4`, tenant)
		}},
		{"delete last row and rewind head", func(t *testing.T, s *store.Store, tenant string) {
			raw(t, s, `DELETE FROM audit_events WHERE tenant_id = ? AND seq = 4`, tenant)
			raw(t, s, `UPDATE tenants SET audit_seq = 3 WHERE id = ?`, tenant) // hash still names seq 4
		}},
		{"swap seqs", func(t *testing.T, s *store.Store, tenant string) {
			raw(t, s, `UPDATE audit_events SET seq = 100 WHERE tenant_id = ? AND seq = 2`, tenant)
			raw(t, s, `UPDATE audit_events SET seq = 2 WHERE tenant_id = ? AND seq = 3`, tenant)
			raw(t, s, `UPDATE audit_events SET seq = 3 WHERE tenant_id = ? AND seq = 100`, tenant)
		}},
	}
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				tn := core.Tenant{Slug: fmt.Sprintf("tamper-%d", i), Name: "T"}
				update(t, s, func(ctx context.Context, tx core.Tx) error { return tx.CreateTenant(ctx, &tn) })
				appendEvents(t, s, tn.ID, 4)
				events, seq, hash := readChain(t, s, tn.ID)
				require.NoError(t, core.VerifyAuditChain(events, seq, hash))

				tc.tamper(t, s, tn.ID)
				events, seq, hash = readChain(t, s, tn.ID)
				err := core.VerifyAuditChain(events, seq, hash)
				var brk *core.AuditBreak
				require.ErrorAs(t, err, &brk)
				t.Log(brk)
			})
		}
	})
}

// TestAuditAppendsOnlyAtHead: on SQLite, where a trigger advances the
// head on each append (migration 00260), an event written at any seq but
// the head's next is refused, so the head cannot fall behind the rows; and
// an append whose cached head is stale (another process appended) still
// chains to the real head.
func TestAuditAppendsOnlyAtHead(t *testing.T) {
	ctx := context.Background()
	a, b := storetest.OpenTwo(t, store.SQLite, nil, nil)
	tn := core.Tenant{Slug: "at-head", Name: "T"}
	update(t, a, func(ctx context.Context, tx core.Tx) error { return tx.CreateTenant(ctx, &tn) })
	appendEvents(t, a, tn.ID, 2)
	_, err := a.DB().ExecContext(ctx, `INSERT INTO audit_events (tenant_id, seq, at, hash) VALUES (?, 4, 0, x'00')`, tn.ID)
	require.ErrorContains(t, err, "not appended at the head")
	_, err = a.DB().ExecContext(ctx, `INSERT INTO audit_events (tenant_id, seq, at, hash) VALUES (?, 2, 0, x'00')`, tn.ID)
	require.Error(t, err)
	appendEvents(t, b, tn.ID, 1) // a's cached head is now stale
	appendEvents(t, a, tn.ID, 2)
	events, seq, hash := readChain(t, a, tn.ID)
	assert.Len(t, events, 5)
	assert.EqualValues(t, 5, seq)
	require.NoError(t, core.VerifyAuditChain(events, seq, hash))
}

func TestConcurrentAppendAudit(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		f := seed(t, s)
		const workers, each = 8, 5
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					errs <- s.Update(context.Background(), func(tx core.Tx) error {
						return tx.AppendAudit(context.Background(), &core.AuditEvent{TenantID: f.A.ID, At: t0,
							Action: "x", Subject: fmt.Sprintf("%d-%d", w, i)})
					})
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		events, seq, hash := readChain(t, s, f.A.ID)
		assert.Len(t, events, workers*each)
		require.NoError(t, core.VerifyAuditChain(events, seq, hash))
	})
}

func TestClaimOutbox(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		f := seed(t, s)
		now := t0.Add(time.Hour)
		claim := func(now, lease time.Time, n int) []string {
			t.Helper()
			var ids []string
			update(t, s, func(ctx context.Context, tx core.Tx) error {
				items, err := tx.ClaimOutbox(ctx, now, lease, n)
				for _, it := range items {
					assert.Equal(t, normUTC(lease), it.LeaseUntil)
					ids = append(ids, it.ID)
				}
				return err
			})
			return ids
		}
		var (
			due     = core.OutboxItem{TenantID: f.B.ID, Kind: core.OutboxSMS, NextAttemptAt: now.Add(-time.Minute)}
			unsched = core.OutboxItem{TenantID: f.A.ID, Kind: core.OutboxSMS}
			future  = core.OutboxItem{TenantID: f.A.ID, Kind: core.OutboxSMS, NextAttemptAt: now.Add(time.Minute)}
			leased  = core.OutboxItem{TenantID: f.A.ID, Kind: core.OutboxSMS, NextAttemptAt: now.Add(-time.Hour), LeaseUntil: now.Add(time.Minute)}
			done    = core.OutboxItem{TenantID: f.A.ID, Kind: core.OutboxSMS, Status: core.OutboxDone, NextAttemptAt: now.Add(-time.Hour)}
		)
		update(t, s, func(ctx context.Context, tx core.Tx) error {
			for _, o := range []*core.OutboxItem{&due, &unsched, &future, &leased, &done} {
				require.NoError(t, tx.EnqueueOutbox(ctx, o))
			}
			return nil
		})
		// f.outA (due t0, lease expired) and due are claimable, unscheduled
		// first, then by due time.
		assert.Equal(t, []string{unsched.ID, f.outA.ID}, claim(now, now.Add(time.Minute), 2))
		assert.Equal(t, []string{due.ID}, claim(now, now.Add(time.Minute), 10))
		assert.Empty(t, claim(now, now.Add(time.Minute), 10), "leases hold")
		later := now.Add(2 * time.Minute)
		assert.ElementsMatch(t, []string{unsched.ID, f.outA.ID, due.ID, future.ID, leased.ID}, claim(later, later.Add(time.Minute), 10),
			"expired leases and newly due items are claimable again")
	})
}

func normUTC(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func TestClaimOutboxConcurrent(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		f := seed(t, s)
		const items, workers = 60, 8
		update(t, s, func(ctx context.Context, tx core.Tx) error {
			// f.outA is due too; mark it done so the count is exact.
			o := f.outA
			o.Status = core.OutboxDone
			require.NoError(t, tx.UpdateOutbox(ctx, &o))
			for i := range items {
				tenant := f.A.ID
				if i%2 == 1 {
					tenant = f.B.ID
				}
				require.NoError(t, tx.EnqueueOutbox(ctx, &core.OutboxItem{TenantID: tenant, Kind: core.OutboxSMS,
					NextAttemptAt: t0.Add(time.Duration(i) * time.Millisecond)}))
			}
			return nil
		})
		now := t0.Add(time.Hour)
		var (
			mu      sync.Mutex
			claimed = map[string]int{}
			wg      sync.WaitGroup
			errs    = make(chan error, workers)
		)
		for w := range workers {
			wg.Go(func() {
				for {
					var got []core.OutboxItem
					err := s.Update(context.Background(), func(tx core.Tx) error {
						var err error
						got, err = tx.ClaimOutbox(context.Background(), now, now.Add(time.Hour), 3)
						return err
					})
					if err != nil {
						errs <- fmt.Errorf("worker %d: %w", w, err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, it := range got {
						claimed[it.ID]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		assert.Len(t, claimed, items)
		for id, n := range claimed {
			assert.Equal(t, 1, n, "item %s claimed %d times", id, n)
		}
	})
}

func TestOpenUnknownDialect(t *testing.T) {
	_, err := store.Open(t.Context(), "oracle", "x")
	assert.ErrorIs(t, err, core.ErrInvalid)
}

func TestViewIsReadOnly(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		err := view(s, func(ctx context.Context, tx core.Tx) error {
			return tx.CreateTenant(ctx, &core.Tenant{Slug: "ro", Name: "RO"})
		})
		require.Error(t, err)
		require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
			_, err := tx.TenantBySlug(ctx, "ro")
			assert.ErrorIs(t, err, core.ErrNotFound)
			return nil
		}))
	})
}

// TestUpdateRetries checks the retry loop itself; the PostgreSQL error is
// returned by fn directly, since a real serialization failure cannot be
// provoked on demand.
func TestUpdateRetries(t *testing.T) {
	serialization := fmt.Errorf("store: lock verification: %w", &pgconn.PgError{Code: "40001"})
	tests := []struct {
		name      string
		failFirst int
		err       error
		wantCalls int
		wantErr   bool
	}{
		{name: "serialization failure retried", failFirst: 1, err: serialization, wantCalls: 2},
		{name: "deadlock retried", failFirst: 2, err: &pgconn.PgError{Code: "40P01"}, wantCalls: 3},
		{name: "gives up", failFirst: 100, err: serialization, wantCalls: 5, wantErr: true},
		{name: "other errors not retried", failFirst: 100, err: core.ErrConflict, wantCalls: 1, wantErr: true},
	}
	s := storetest.Open(t, store.SQLite)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := s.Update(t.Context(), func(tx core.Tx) error {
				calls++
				if calls <= tc.failFirst {
					return tc.err
				}
				return nil
			})
			assert.Equal(t, tc.wantCalls, calls)
			if tc.wantErr {
				assert.ErrorIs(t, err, tc.err)
			} else {
				assert.NoError(t, err)
			}
		})
	}
}

func TestMigrateIdempotent(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		require.NoError(t, s.Migrate(t.Context()))
	})
}

// TestMigrateOutOfOrder: a database migrated by an earlier release, which
// had 00170 but not yet 00151/00152 (numbers are ranges per feature), is
// brought up to date rather than refused for "missing" migrations.
func TestMigrateOutOfOrder(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		raw(t, s, `DROP TABLE tray_forms`)
		raw(t, s, `DELETE FROM goose_db_version WHERE version_id IN (151, 152)`)
		require.NoError(t, s.Migrate(t.Context()), "the lower-numbered migrations are applied")
		raw(t, s, `SELECT purpose FROM tray_forms`)
	})
}
