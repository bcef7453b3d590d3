package core_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

const consentApp = "11111111-2222-4333-8444-555555555555"
const consentTenant = "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"

func TestMicrosoftConsent(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := t.Context()
		admin := "tech:" + f.admin.ID
		start := func(tenant string) (string, url.Values) {
			t.Helper()
			u, err := f.eng.StartMicrosoftConsent(ctx, f.tenant.ID, admin, core.MicrosoftConsentStart{ClientID: f.client.ID, AppClientID: consentApp, Tenant: tenant})
			require.NoError(t, err)
			p, err := url.Parse(u)
			require.NoError(t, err)
			return p.Scheme + "://" + p.Host + p.Path, p.Query()
		}
		finish := func(actor string, r core.MicrosoftConsentReturn) (core.MicrosoftConsent, error) {
			return f.eng.FinishMicrosoftConsent(ctx, f.tenant.ID, actor, r)
		}

		base, q := start("")
		assert.Equal(t, "https://login.microsoftonline.com/organizations/adminconsent", base)
		assert.Equal(t, consentApp, q.Get("client_id"))
		assert.Equal(t, "https://verify.example.com/app/admin/microsoft/consent", q.Get("redirect_uri"), "from the public URL, never a request")
		state := q.Get("state")
		assert.GreaterOrEqual(t, len(state), 43, "256 bits of nonce")
		base, q2 := start("Contoso.onmicrosoft.com")
		assert.Equal(t, "https://login.microsoftonline.com/contoso.onmicrosoft.com/adminconsent", base)
		assert.NotEqual(t, state, q2.Get("state"), "a fresh nonce each time")
		assert.Contains(t, auditActions(t, f, f.client.ID), core.AuditMicrosoftConsentStarted)

		ok := core.MicrosoftConsentReturn{State: state, AdminConsent: "True", Tenant: consentTenant}
		// A state this server never issued, another tenant's view of it,
		// another admin's: refused, and the state stays good.
		_, err := finish(admin, core.MicrosoftConsentReturn{State: "forged", AdminConsent: "True", Tenant: consentTenant})
		assert.Equal(t, core.KindInvalid, kindOf(err))
		_, err = f.eng.FinishMicrosoftConsent(ctx, "ten_other", admin, ok)
		assert.Equal(t, core.KindInvalid, kindOf(err))
		_, err = finish("tech:"+f.tech.ID, ok)
		assert.Equal(t, core.KindForbidden, kindOf(err))
		_, err = finish(admin, core.MicrosoftConsentReturn{})
		assert.Equal(t, core.KindInvalid, kindOf(err))

		c, err := finish(admin, ok)
		require.NoError(t, err)
		assert.Equal(t, "granted", c.Result)
		assert.Equal(t, consentTenant, c.EntraTenant)
		assert.Equal(t, f.client.ID, c.ClientID, "the client comes from the stored state")
		assert.Equal(t, consentApp, c.AppClientID)
		got, err := f.eng.MicrosoftConsented(ctx, f.tenant.ID, f.client.ID)
		require.NoError(t, err)
		assert.Equal(t, consentTenant, got.EntraTenant, "the tenant id is stored")
		assert.Contains(t, auditActions(t, f, f.client.ID), core.AuditMicrosoftConsented)

		_, err = finish(admin, ok)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "used already", "a state works once")

		// The admin declines: Microsoft's words, recorded; the granted one stays.
		c, err = finish(admin, core.MicrosoftConsentReturn{State: q2.Get("state"), Error: "access_denied",
			ErrorDescription: "AADSTS65004: User declined to consent to access the app.\r\nTrace ID: x"})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "declined the consent (AADSTS65004: User declined to consent to access the app.)")
		assert.Equal(t, "access_denied: AADSTS65004: User declined to consent to access the app.", c.Result)
		got, err = f.eng.MicrosoftConsented(ctx, f.tenant.ID, f.client.ID)
		require.NoError(t, err)
		assert.Equal(t, consentTenant, got.EntraTenant)

		// An answer without consent or without a tenant id grants nothing.
		_, q3 := start("")
		_, err = finish(admin, core.MicrosoftConsentReturn{State: q3.Get("state"), Tenant: consentTenant})
		assert.Equal(t, core.KindInvalid, kindOf(err))
		_, q4 := start("")
		_, err = finish(admin, core.MicrosoftConsentReturn{State: q4.Get("state"), AdminConsent: "True", Tenant: "contoso/../x"})
		assert.Equal(t, core.KindInvalid, kindOf(err))

		// Too late.
		_, q5 := start("")
		f.clk.Add(16 * time.Minute)
		_, err = finish(admin, core.MicrosoftConsentReturn{State: q5.Get("state"), AdminConsent: "True", Tenant: consentTenant})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "longer than 15 minutes")

		// Bad starts.
		for _, in := range []core.MicrosoftConsentStart{
			{AppClientID: consentApp},
			{ClientID: f.client.ID, AppClientID: "nope"},
			{ClientID: f.client.ID, AppClientID: consentApp, Tenant: "../common"},
		} {
			_, err := f.eng.StartMicrosoftConsent(ctx, f.tenant.ID, admin, in)
			assert.Equal(t, core.KindInvalid, kindOf(err), "%+v", in)
		}
		_, err = f.eng.StartMicrosoftConsent(ctx, "ten_other", admin, core.MicrosoftConsentStart{ClientID: f.client.ID, AppClientID: consentApp})
		assert.Equal(t, core.KindNotFound, kindOf(err), "another tenant's client")
	})
}
