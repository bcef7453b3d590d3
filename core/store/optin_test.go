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

// TestOptInForms: opt-in forms, consents and settings round-trip on both
// stores and stay in their tenant; a form is answered by one conditional
// update, once; a destination keeps the number as it was written.
func TestOptInForms(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		f := seed(t, s)
		phone := f.contactA.Destinations[0].Value
		form := core.OptInForm{TenantID: f.A.ID, ContactID: f.contactA.ID, DestinationID: f.contactA.Destinations[0].ID, Phone: phone,
			Channel: core.OptInByEmail, SentTo: "jane@contoso.example", TokenHash: []byte("optin-hash"), CreatedBy: f.techA.ID,
			CreatedAt: t0, ExpiresAt: t0.Add(core.OptInTTL)}
		raw := core.Destination{ContactID: f.contactA.ID, Kind: core.DestPhone, Value: "+15550100177", Raw: "(555) 010-0177", Label: "Cell", SetAt: t0}
		update(t, s, func(ctx context.Context, tx core.Tx) error {
			require.NoError(t, tx.CreateOptInForm(ctx, &form))
			require.NoError(t, tx.AddDestination(ctx, f.A.ID, &raw))
			require.NoError(t, tx.PutSMSOptOut(ctx, &core.SMSOptOut{TenantID: f.A.ID, Phone: "+15550100177", OptedOut: true, Keyword: "STOP", ChangedAt: t0}))
			return nil
		})
		require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
			got, err := tx.OptInFormByHash(ctx, f.A.ID, []byte("optin-hash"))
			require.NoError(t, err)
			assert.Equal(t, form, got)
			_, err = tx.OptInFormByHash(ctx, f.B.ID, []byte("optin-hash"))
			assert.ErrorIs(t, err, core.ErrNotFound, "another tenant's form")
			n, err := tx.CountOptInForms(ctx, f.A.ID, f.contactA.ID, t0)
			require.NoError(t, err)
			assert.Equal(t, 1, n)
			n, err = tx.CountOptInForms(ctx, f.A.ID, f.contactA.ID, t0.Add(time.Second))
			require.NoError(t, err)
			assert.Zero(t, n)
			c, err := tx.Contact(ctx, f.A.ID, f.contactA.ID)
			require.NoError(t, err)
			d, err := c.Destination(raw.ID)
			require.NoError(t, err)
			assert.Equal(t, "(555) 010-0177", d.Raw)
			_, err = tx.OptInSettings(ctx, f.A.ID)
			assert.ErrorIs(t, err, core.ErrNotFound, "no settings stored yet")
			return nil
		}))

		// Answered once: the second answer is a conflict and changes nothing.
		used := form
		used.UsedAt, used.Consented, used.ConsentedPhone = t0.Add(time.Minute), true, phone
		update(t, s, func(ctx context.Context, tx core.Tx) error {
			require.NoError(t, tx.UseOptInForm(ctx, &used))
			again := used
			again.UsedAt, again.Consented, again.ConsentedPhone = t0.Add(2*time.Minute), false, ""
			err := tx.UseOptInForm(ctx, &again)
			assert.Equal(t, core.KindConflict, core.ErrorKind(err))
			other := used
			other.TenantID = f.B.ID
			assert.Equal(t, core.KindConflict, core.ErrorKind(tx.UseOptInForm(ctx, &other)), "another tenant cannot answer it")
			require.NoError(t, tx.PutSMSOptIn(ctx, &core.SMSOptIn{TenantID: f.A.ID, Phone: phone, ContactID: f.contactA.ID, FormID: form.ID, ConsentedAt: t0}))
			require.NoError(t, tx.PutSMSOptIn(ctx, &core.SMSOptIn{TenantID: f.A.ID, Phone: phone, ContactID: f.contactA.ID, FormID: form.ID, ConsentedAt: t0.Add(time.Hour)}))
			require.NoError(t, tx.PutOptInSettings(ctx, &core.OptInSettings{TenantID: f.A.ID, AllowCorrection: true, UpdatedAt: t0, UpdatedBy: f.techA.ID}))
			return nil
		})
		require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
			got, err := tx.OptInFormByHash(ctx, f.A.ID, []byte("optin-hash"))
			require.NoError(t, err)
			assert.Equal(t, used, got, "the first answer stands")
			ins, outs, err := tx.SMSConsents(ctx, f.A.ID, []string{phone, phone, "+15550100177"})
			require.NoError(t, err)
			require.Len(t, ins, 1)
			assert.Equal(t, core.SMSOptIn{TenantID: f.A.ID, Phone: phone, ContactID: f.contactA.ID, FormID: form.ID, ConsentedAt: t0.Add(time.Hour)},
				ins[phone], "a new consent replaces the old one")
			require.Len(t, outs, 1)
			assert.Equal(t, core.SMSOptOut{TenantID: f.A.ID, Phone: "+15550100177", OptedOut: true, Keyword: "STOP", ChangedAt: t0}, outs["+15550100177"])
			ins, outs, err = tx.SMSConsents(ctx, f.B.ID, []string{phone, "+15550100177"})
			require.NoError(t, err)
			assert.Empty(t, ins, "another tenant's consents")
			assert.Empty(t, outs, "another tenant's opt-outs")
			ins, outs, err = tx.SMSConsents(ctx, f.A.ID, nil)
			require.NoError(t, err)
			assert.Empty(t, ins)
			assert.Empty(t, outs)
			st, err := tx.OptInSettings(ctx, f.A.ID)
			require.NoError(t, err)
			assert.Equal(t, core.OptInSettings{TenantID: f.A.ID, AllowCorrection: true, UpdatedAt: t0, UpdatedBy: f.techA.ID}, st)
			_, err = tx.OptInSettings(ctx, f.B.ID)
			assert.ErrorIs(t, err, core.ErrNotFound)
			return nil
		}))
	})
}
