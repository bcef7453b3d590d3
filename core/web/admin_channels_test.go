package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAdminChannelsAPI: admins save the tenant's own accounts; secrets go
// in and never come out; other technicians and other tenants see nothing.
func TestAdminChannelsAPI(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		tech := e.login(t, e.a)
		r := e.api(t, tech, "GET", "/api/v1/admin/channels", nil)
		assert.Equal(t, http.StatusForbidden, r.status, "only admins see channel settings")

		e.setRole(t, &e.a, core.RoleAdmin)
		admin := e.login(t, e.a)
		r = e.api(t, admin, "GET", "/api/v1/admin/channels", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		got := r.JSON(t)
		assert.Equal(t, "US", got["tenant_country"])
		assert.Equal(t, true, got["shared_allowed"])
		assert.Equal(t, publicURL+"/webhooks/twilio/sms", got["webhook_url"])

		in := map[string]any{
			"twilio": map[string]any{"account_sid": ownAccount, "secret": ownToken, "number": "+1 (555) 000-1111"},
			"email": map[string]any{"host": "smtp.acme.example", "port": 587, "username": "verify", "password": "mail-secret-99",
				"from": "verify@acme.example"},
			"sms_countries": []string{"us", "ca"}, "help_text": "Acme IT help: +1 555 010 0000. Reply STOP to opt out.",
		}
		r = e.api(t, admin, "PUT", "/api/v1/admin/channels", in)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		for _, body := range []string{string(r.body), string(e.api(t, admin, "GET", "/api/v1/admin/channels", nil).body)} {
			assert.NotContains(t, body, ownToken)
			assert.NotContains(t, body, "mail-secret-99")
			assert.Contains(t, body, `"has_secret":true`)
			assert.Contains(t, body, `"has_password":true`)
			assert.Contains(t, body, `"number":"+15550001111"`)
			assert.Contains(t, body, `"sms_countries":["US","CA"]`)
		}

		// The other tenant's admin sees its own, empty, settings.
		e.setRole(t, &e.b, core.RoleAdmin)
		r = e.api(t, e.login(t, e.b), "GET", "/api/v1/admin/channels", nil)
		require.Equal(t, http.StatusOK, r.status)
		assert.NotContains(t, string(r.body), ownAccount)
		assert.NotContains(t, string(r.body), "smtp.acme.example")

		// Bad input is a 400 that says what to fix; nothing changes.
		bad := map[string]any{"twilio": map[string]any{"account_sid": "AC12", "number": "+15550001111"}}
		r = e.api(t, admin, "PUT", "/api/v1/admin/channels", bad)
		assert.Equal(t, http.StatusBadRequest, r.status)
		assert.Contains(t, string(r.body), "account SID")
		r = e.api(t, admin, "PUT", "/api/v1/admin/channels", map[string]any{"sms_countries": []string{"Narnia"}})
		assert.Equal(t, http.StatusBadRequest, r.status)
		c, err := e.eng.ChannelSettings(t.Context(), e.a.tenant.ID)
		require.NoError(t, err)
		assert.Equal(t, ownToken, c.Twilio.Secret)
		assert.Equal(t, []string{"US", "CA"}, c.SMSCountries)

		// The live check runs through the channel factory.
		r = e.api(t, admin, "POST", "/api/v1/admin/channels/check", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, map[string]any{"configured": true, "ok": true, "message": "Twilio works."}, r.JSON(t)["twilio"])
		r = e.api(t, admin, "PUT", "/api/v1/admin/channels", map[string]any{
			"twilio": map[string]any{"account_sid": ownAccount, "secret": "wrongtoken", "number": "+15550001111"}})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		r = e.api(t, admin, "POST", "/api/v1/admin/channels/check", nil)
		assert.True(t, strings.Contains(string(r.body), "rejected the credentials"), "%s", r.body)
		assert.Equal(t, false, r.JSON(t)["twilio"].(map[string]any)["ok"])

		evs, err := e.eng.AuditEvents(t.Context(), e.a.tenant.ID, core.AuditQuery{Action: core.AuditChannelsSaved})
		require.NoError(t, err)
		require.Len(t, evs, 2)
		assert.Equal(t, "tech:"+e.a.tech.ID, evs[0].Actor)
	})
}
