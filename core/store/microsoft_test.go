package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// TestMicrosoftStore: connections and imported users round-trip on both
// stores, one connection per client, a replace is whole, a delete takes
// the users, and another tenant reaches none of it.
func TestMicrosoftStore(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		f := seed(t, s)
		conn := core.MicrosoftConnection{TenantID: f.A.ID, ClientID: f.clientA.ID, Name: "Contoso 365",
			EntraTenant: "contoso.onmicrosoft.com", PushEnabled: true, Sealed: []byte{1, 2, 3}, CheckedAt: t0,
			CheckResult: "ok", CreatedAt: t0, UpdatedAt: t0}
		sam := core.MicrosoftUser{ObjectID: "6f1c2d3e-0000-4000-8000-0000000000a1", UPN: "sam@contoso.example",
			Mail: "sam@contoso.example", Mobile: "+1 555 010 0142", DisplayName: "Sam Caller", Source: core.MicrosoftSynced,
			Enabled: true, Authenticator: true, Methods: "microsoftAuthenticator, phone", ContactID: f.contactA.ID,
			MatchedBy: "mail", ImportedAt: t0.Add(time.Hour)}
		kim := core.MicrosoftUser{ObjectID: "6f1c2d3e-0000-4000-8000-0000000000a2", UPN: "kim@contoso.example",
			Source: core.MicrosoftCloudOnly, ImportedAt: t0}
		update(t, s, func(ctx context.Context, tx core.Tx) error {
			require.NoError(t, tx.PutMicrosoftConnection(ctx, &conn))
			return tx.ReplaceMicrosoftUsers(ctx, f.A.ID, conn.ID, []core.MicrosoftUser{sam, kim})
		})
		sam.TenantID, sam.ConnectionID, kim.TenantID, kim.ConnectionID = f.A.ID, conn.ID, f.A.ID, conn.ID
		require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
			got, err := tx.MicrosoftConnection(ctx, f.A.ID, conn.ID)
			require.NoError(t, err)
			assert.Equal(t, conn, got)
			assert.True(t, got.ImportedAt.IsZero())
			byClient, err := tx.MicrosoftConnectionOfClient(ctx, f.A.ID, f.clientA.ID)
			require.NoError(t, err)
			assert.Equal(t, conn.ID, byClient.ID)
			us, err := tx.ListMicrosoftUsers(ctx, f.A.ID, conn.ID)
			require.NoError(t, err)
			assert.Equal(t, []core.MicrosoftUser{kim, sam}, us, "by UPN, every field back")
			u, err := tx.MicrosoftUserOfContact(ctx, f.A.ID, conn.ID, f.contactA.ID)
			require.NoError(t, err)
			assert.Equal(t, sam, u)
			_, err = tx.MicrosoftUserOfContact(ctx, f.A.ID, conn.ID, "")
			assert.ErrorIs(t, err, core.ErrNotFound, "an unmatched user is no one's")

			// Another tenant sees nothing.
			_, err = tx.MicrosoftConnection(ctx, f.B.ID, conn.ID)
			assert.ErrorIs(t, err, core.ErrNotFound)
			_, err = tx.MicrosoftConnectionOfClient(ctx, f.B.ID, f.clientA.ID)
			assert.ErrorIs(t, err, core.ErrNotFound)
			us, err = tx.ListMicrosoftUsers(ctx, f.B.ID, conn.ID)
			require.NoError(t, err)
			assert.Empty(t, us)
			_, err = tx.MicrosoftUserOfContact(ctx, f.B.ID, conn.ID, f.contactA.ID)
			assert.ErrorIs(t, err, core.ErrNotFound)
			cs, err := tx.ListMicrosoftConnections(ctx, f.B.ID)
			require.NoError(t, err)
			assert.Empty(t, cs)
			return nil
		}))

		// Another tenant can neither write users into the connection nor
		// take it over by id, nor delete it.
		err := s.Update(t.Context(), func(tx core.Tx) error {
			return tx.ReplaceMicrosoftUsers(t.Context(), f.B.ID, conn.ID, []core.MicrosoftUser{kim})
		})
		assert.ErrorIs(t, err, core.ErrNotFound)
		err = s.Update(t.Context(), func(tx core.Tx) error {
			stolen := conn
			stolen.TenantID, stolen.ClientID = f.B.ID, f.clientB.ID
			return tx.PutMicrosoftConnection(t.Context(), &stolen)
		})
		assert.ErrorIs(t, err, core.ErrNotFound)
		err = s.Update(t.Context(), func(tx core.Tx) error {
			return tx.PutMicrosoftUser(t.Context(), &core.MicrosoftUser{TenantID: f.B.ID, ConnectionID: conn.ID, ObjectID: "x", UPN: "x@y"})
		})
		assert.ErrorIs(t, err, core.ErrNotFound)
		err = s.Update(t.Context(), func(tx core.Tx) error { return tx.DeleteMicrosoftConnection(t.Context(), f.B.ID, conn.ID) })
		assert.ErrorIs(t, err, core.ErrNotFound)

		// One connection per client.
		err = s.Update(t.Context(), func(tx core.Tx) error {
			second := core.MicrosoftConnection{TenantID: f.A.ID, ClientID: f.clientA.ID, EntraTenant: "x.example", Sealed: []byte{1}}
			return tx.PutMicrosoftConnection(t.Context(), &second)
		})
		assert.ErrorIs(t, err, core.ErrConflict)

		// A replace is the whole list; a user update keeps the others.
		kim.Authenticator, kim.Methods = true, "microsoftAuthenticator"
		update(t, s, func(ctx context.Context, tx core.Tx) error {
			require.NoError(t, tx.ReplaceMicrosoftUsers(ctx, f.A.ID, conn.ID, []core.MicrosoftUser{sam}))
			return tx.PutMicrosoftUser(ctx, &kim)
		})
		require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
			us, err := tx.ListMicrosoftUsers(ctx, f.A.ID, conn.ID)
			require.NoError(t, err)
			assert.Equal(t, []core.MicrosoftUser{kim, sam}, us)
			return nil
		}))

		update(t, s, func(ctx context.Context, tx core.Tx) error { return tx.DeleteMicrosoftConnection(ctx, f.A.ID, conn.ID) })
		require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
			us, err := tx.ListMicrosoftUsers(ctx, f.A.ID, conn.ID)
			require.NoError(t, err)
			assert.Empty(t, us, "the users go with the connection")
			_, err = tx.MicrosoftConnection(ctx, f.A.ID, conn.ID)
			assert.ErrorIs(t, err, core.ErrNotFound)
			return nil
		}))

		// Consents: found by their state's hash in their own tenant only.
		hash := []byte("0123456789abcdef0123456789abcdef")
		consent := core.MicrosoftConsent{TenantID: f.A.ID, StateHash: hash, ClientID: f.clientA.ID, Actor: "tech:1",
			AppClientID: "11111111-2222-4333-8444-555555555555", CreatedAt: t0, ExpiresAt: t0.Add(15 * time.Minute)}
		update(t, s, func(ctx context.Context, tx core.Tx) error { return tx.CreateMicrosoftConsent(ctx, &consent) })
		update(t, s, func(ctx context.Context, tx core.Tx) error { // a lock needs a writing transaction
			_, err := tx.LockMicrosoftConsent(ctx, f.B.ID, hash)
			assert.ErrorIs(t, err, core.ErrNotFound)
			_, err = tx.LatestMicrosoftConsent(ctx, f.A.ID, f.clientA.ID)
			assert.ErrorIs(t, err, core.ErrNotFound, "not granted yet")
			return nil
		})
		update(t, s, func(ctx context.Context, tx core.Tx) error {
			c, err := tx.LockMicrosoftConsent(ctx, f.A.ID, hash)
			require.NoError(t, err)
			assert.Equal(t, consent, c)
			c.UsedAt, c.Result, c.EntraTenant = t0.Add(time.Minute), "granted", "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
			return tx.FinishMicrosoftConsent(ctx, &c)
		})
		require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
			c, err := tx.LatestMicrosoftConsent(ctx, f.A.ID, f.clientA.ID)
			require.NoError(t, err)
			assert.Equal(t, "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f", c.EntraTenant)
			assert.Equal(t, t0.Add(time.Minute), c.UsedAt)
			_, err = tx.LatestMicrosoftConsent(ctx, f.B.ID, f.clientA.ID)
			assert.ErrorIs(t, err, core.ErrNotFound)
			return nil
		}))
	})
}
