package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAPIBadInputChangesNothing sends malformed, oversized, unknown and
// cross-tenant requests and checks each gets a 4xx with a clear JSON
// message and leaves the store exactly as it was.
func TestAPIBadInputChangesNothing(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	c := e.login(t, e.a)

	// A verification in the other tenant, for isolation checks.
	other, err := e.eng.Start(t.Context(), core.StartRequest{TenantID: e.b.tenant.ID, TechnicianID: e.b.tech.ID,
		ContactID: e.b.contact.ID, Method: core.MethodSMSCode})
	require.NoError(t, err)
	e.deliver(t)
	otherID := other.Verification.ID
	contactID := e.a.contact.ID
	var emailDest string
	for _, d := range e.a.contact.Destinations {
		if d.Kind == core.DestEmail {
			emailDest = d.ID
		}
	}
	require.NotEmpty(t, emailDest)

	big := `{"contact_id":"` + contactID + `","method":"sms_code","note":"` + strings.Repeat("x", 70<<10) + `"}`
	start := func(fields string) string { return `{"contact_id":"` + contactID + `"` + fields + `}` }

	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		wantStatus  int
		wantMsg     string // substring of the JSON "error"
	}{
		{name: "malformed json", method: "POST", path: "/api/v1/verifications", contentType: "application/json",
			body: `{"contact_id": nope}`, wantStatus: 400, wantMsg: "malformed JSON"},
		{name: "truncated json", method: "POST", path: "/api/v1/verifications", contentType: "application/json",
			body: `{"contact_id": "x"`, wantStatus: 400, wantMsg: "malformed JSON"},
		{name: "wrong content type", method: "POST", path: "/api/v1/verifications", contentType: "text/plain",
			body: start(`,"method":"sms_code"`), wantStatus: 400, wantMsg: "application/json"},
		{name: "no content type", method: "POST", path: "/api/v1/verifications",
			body: start(`,"method":"sms_code"`), wantStatus: 400, wantMsg: "application/json"},
		{name: "form content type", method: "POST", path: "/api/v1/verifications", contentType: "application/x-www-form-urlencoded",
			body: "contact_id=" + contactID + "&method=sms_code", wantStatus: 400, wantMsg: "application/json"},
		{name: "empty body", method: "POST", path: "/api/v1/verifications", contentType: "application/json",
			wantStatus: 400, wantMsg: "empty"},
		{name: "trailing data", method: "POST", path: "/api/v1/verifications", contentType: "application/json",
			body: start(`,"method":"sms_code"`) + ` {}`, wantStatus: 400, wantMsg: "exactly one JSON object"},
		{name: "trailing garbage", method: "POST", path: "/api/v1/verifications", contentType: "application/json",
			body: start(`,"method":"sms_code"`) + `x`, wantStatus: 400, wantMsg: "JSON"},
		{name: "unknown field", method: "POST", path: "/api/v1/verifications", contentType: "application/json",
			body: start(`,"method":"sms_code","destination":"+15550000000"`), wantStatus: 400, wantMsg: `unknown field "destination"`},
		{name: "wrong field type", method: "POST", path: "/api/v1/verifications", contentType: "application/json",
			body: `{"contact_id": 42, "method":"sms_code"}`, wantStatus: 400, wantMsg: `"contact_id" must be a string`},
		{name: "oversized body", method: "POST", path: "/api/v1/verifications", contentType: "application/json",
			body: big, wantStatus: 400, wantMsg: "too large"},
		{name: "unknown method", method: "POST", path: "/api/v1/verifications", contentType: "application/json",
			body: start(`,"method":"carrier_pigeon"`), wantStatus: 400, wantMsg: "carrier_pigeon"},
		{name: "missing contact", method: "POST", path: "/api/v1/verifications", contentType: "application/json",
			body: `{"method":"sms_code"}`, wantStatus: 400, wantMsg: "contact is required"},
		{name: "email destination for sms", method: "POST", path: "/api/v1/verifications", contentType: "application/json",
			body: start(`,"method":"sms_code","destination_id":"` + emailDest + `"`), wantStatus: 400, wantMsg: "sms_code"},
		{name: "unknown contact for start", method: "POST", path: "/api/v1/verifications", contentType: "application/json",
			body: `{"contact_id":"con_nope","method":"sms_code"}`, wantStatus: 404},
		{name: "other tenant's contact for start", method: "POST", path: "/api/v1/verifications", contentType: "application/json",
			body: `{"contact_id":"` + e.b.contact.ID + `","method":"sms_code"}`, wantStatus: 404},
		{name: "invalid phone", method: "POST", path: "/api/v1/contacts", contentType: "application/json",
			body: `{"client_id":"` + e.a.client.ID + `","first_name":"Ann","last_name":"Lee","phones":[{"value":"call me"}]}`, wantStatus: 400, wantMsg: "call me"},
		{name: "invalid email", method: "POST", path: "/api/v1/contacts", contentType: "application/json",
			body: `{"client_id":"` + e.a.client.ID + `","first_name":"Ann","last_name":"Lee","emails":[{"value":"not-an-email"}]}`, wantStatus: 400, wantMsg: "not-an-email"},
		{name: "contact without name", method: "POST", path: "/api/v1/contacts", contentType: "application/json",
			body: `{"client_id":"` + e.a.client.ID + `","phones":[{"value":"+15550100100"}]}`, wantStatus: 400},
		{name: "contact in other tenant's client", method: "POST", path: "/api/v1/contacts", contentType: "application/json",
			body: `{"client_id":"` + e.b.client.ID + `","first_name":"Ann","last_name":"Lee","phones":[{"value":"+15550100100"}]}`, wantStatus: 404},
		{name: "unknown contact", method: "GET", path: "/api/v1/contacts/con_nope", wantStatus: 404},
		{name: "unknown contact history", method: "GET", path: "/api/v1/contacts/con_nope/verifications", wantStatus: 404},
		{name: "other tenant's contact", method: "GET", path: "/api/v1/contacts/" + e.b.contact.ID, wantStatus: 404},
		{name: "other tenant's contact history", method: "GET", path: "/api/v1/contacts/" + e.b.contact.ID + "/verifications", wantStatus: 404},
		{name: "unknown verification", method: "GET", path: "/api/v1/verifications/ver_nope", wantStatus: 404},
		{name: "check unknown verification", method: "POST", path: "/api/v1/verifications/ver_nope/check", contentType: "application/json",
			body: `{"code":"123456"}`, wantStatus: 404},
		{name: "other tenant's verification", method: "GET", path: "/api/v1/verifications/" + otherID, wantStatus: 404},
		{name: "check other tenant's verification", method: "POST", path: "/api/v1/verifications/" + otherID + "/check", contentType: "application/json",
			body: `{"code":"123456"}`, wantStatus: 404},
		{name: "cancel other tenant's verification", method: "POST", path: "/api/v1/verifications/" + otherID + "/cancel", wantStatus: 404},
		{name: "resend other tenant's verification", method: "POST", path: "/api/v1/verifications/" + otherID + "/resend", wantStatus: 404},
		{name: "unknown api route", method: "GET", path: "/api/v1/nope", wantStatus: 404, wantMsg: "no such endpoint"},
		{name: "unknown route", method: "GET", path: "/nope", wantStatus: 404, wantMsg: "no such endpoint"},
		{name: "wrong http method", method: "DELETE", path: "/api/v1/contacts", wantStatus: 405, wantMsg: "DELETE"},
		{name: "wrong http method on verifications", method: "PUT", path: "/api/v1/verifications", contentType: "application/json",
			body: start(`,"method":"sms_code"`), wantStatus: 405, wantMsg: "PUT"},
		{name: "bad search limit", method: "GET", path: "/api/v1/contacts?limit=0", wantStatus: 400, wantMsg: "limit"},
		{name: "audit needs admin", method: "GET", path: "/api/v1/audit", wantStatus: 403, wantMsg: "admin"},
		{name: "policy needs admin", method: "PUT", path: "/api/v1/policies/default", contentType: "application/json",
			body: `{}`, wantStatus: 403, wantMsg: "admin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.state(t)
			var body any
			if tc.body != "" {
				body = tc.body
			}
			r := e.do(t, c, tc.method, tc.path, tc.contentType, body, nil)
			require.Equal(t, tc.wantStatus, r.status, "body: %s", r.body)
			assert.Contains(t, r.header.Get("Content-Type"), "application/json")
			m := r.JSON(t)
			msg, _ := m["error"].(string)
			assert.NotEmpty(t, msg, "no error message")
			assert.NotEmpty(t, m["kind"])
			assert.NotContains(t, msg, "internal error")
			if tc.wantMsg != "" {
				assert.Contains(t, msg, tc.wantMsg)
			}
			if tc.wantStatus == http.StatusMethodNotAllowed {
				assert.NotEmpty(t, r.header.Get("Allow"))
			}
			assert.Equal(t, before, e.state(t), "a refused request changed the store")
		})
	}

	// The wrong code on the other tenant's verification was not counted.
	assert.Equal(t, 0, e.verification(t, e.b, otherID).Attempts)
}

// TestAuth covers sign-in, the generic failure message, lockout, sessions
// and same-origin enforcement.
func TestAuth(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)

		t.Run("no session", func(t *testing.T) {
			c := e.client(t)
			before := e.state(t)
			for _, rq := range []struct{ method, path string }{
				{"GET", "/api/v1/me"}, {"GET", "/api/v1/contacts"}, {"GET", "/api/v1/contacts/" + e.a.contact.ID},
				{"POST", "/api/v1/verifications"}, {"GET", "/api/v1/outbox"},
			} {
				var body any
				if rq.method == "POST" {
					body = map[string]string{"contact_id": e.a.contact.ID, "method": "sms_code"}
				}
				r := e.api(t, c, rq.method, rq.path, body)
				assert.Equal(t, http.StatusUnauthorized, r.status, "%s %s", rq.method, rq.path)
				assert.Equal(t, "sign in first", r.JSON(t)["error"])
			}
			assert.Equal(t, before, e.state(t))
		})

		t.Run("forged cookie", func(t *testing.T) {
			r := e.do(t, e.client(t), "GET", "/api/v1/me", "", nil, map[string]string{"Cookie": "cs_session=forged"})
			assert.Equal(t, http.StatusUnauthorized, r.status)
		})

		t.Run("same generic message for every wrong credential", func(t *testing.T) {
			bodies := map[string]map[string]string{
				"wrong password": loginBody(e.a, "not the password", ""),
				"unknown email":  {"tenant": e.a.tenant.Slug, "email": "nobody@acme.example", "password": password},
				"unknown tenant": {"tenant": "no-such-tenant", "email": e.a.tech.Email, "password": password},
				"other tenant":   {"tenant": e.b.tenant.Slug, "email": e.a.tech.Email, "password": password},
			}
			var first []byte
			for name, b := range bodies {
				r := e.api(t, e.client(t), "POST", "/api/v1/login", b)
				require.Equal(t, http.StatusUnauthorized, r.status, name)
				assert.Equal(t, "email, password or code is wrong", r.JSON(t)["error"], name)
				assert.Empty(t, r.header.Values("Set-Cookie"), "%s: a failed login set a cookie", name)
				if first == nil {
					first = r.body
				}
				assert.Equal(t, string(first), string(r.body), "%s: the answer differs", name)
			}
			// The one wrong password was counted.
			assert.Equal(t, 1, e.state(t).Technicians[e.a.tech.ID].FailedLogins)
		})

		t.Run("login and logout", func(t *testing.T) {
			c := e.login(t, e.a)
			r := e.api(t, c, "GET", "/api/v1/me", nil)
			require.Equal(t, http.StatusOK, r.status)
			assert.Equal(t, e.a.tech.Email, r.JSON(t)["technician"].(map[string]any)["email"])
			assert.Equal(t, 0, e.state(t).Technicians[e.a.tech.ID].FailedLogins, "success resets the failure count")
			require.Equal(t, http.StatusOK, e.api(t, c, "POST", "/api/v1/logout", nil).status)
			assert.Equal(t, http.StatusUnauthorized, e.api(t, c, "GET", "/api/v1/me", nil).status)
		})

		t.Run("lockout after five failures", func(t *testing.T) {
			for i := range 5 {
				r := e.api(t, e.client(t), "POST", "/api/v1/login", loginBody(e.b, "wrong password "+string(rune('a'+i)), ""))
				require.Equal(t, http.StatusUnauthorized, r.status, "attempt %d", i+1)
			}
			r := e.api(t, e.client(t), "POST", "/api/v1/login", loginBody(e.b, password, ""))
			require.Equal(t, http.StatusForbidden, r.status, "the right password is refused while locked: %s", r.body)
			assert.Contains(t, r.JSON(t)["error"], "locked")
			assert.Empty(t, r.header.Values("Set-Cookie"))
			e.clk.Add(16 * time.Minute)
			e.login(t, e.b)
		})

		t.Run("cross-origin post refused", func(t *testing.T) {
			c := e.login(t, e.a)
			before := e.state(t)
			for _, path := range []string{"/api/v1/verifications", "/api/v1/contacts", "/api/v1/login", "/api/v1/logout"} {
				var body any = map[string]string{"contact_id": e.a.contact.ID, "method": "sms_code"}
				switch path {
				case "/api/v1/contacts":
					body = map[string]any{"client_id": e.a.client.ID, "first_name": "Eve", "last_name": "Il",
						"phones": []map[string]string{{"value": "+15550100177"}}}
				case "/api/v1/login":
					body = loginBody(e.a, password, "")
				case "/api/v1/logout":
					body = nil
				}
				r := e.do(t, c, "POST", path, "application/json", body, map[string]string{"Origin": "https://evil.example"})
				assert.Equal(t, http.StatusForbidden, r.status, path)
				assert.Contains(t, r.JSON(t)["error"], "cross-origin", path)
			}
			assert.Equal(t, before, e.state(t), "a cross-origin request changed the store")
			assert.Equal(t, http.StatusOK, e.api(t, c, "GET", "/api/v1/me", nil).status, "the cross-origin logout must not end the session")
			// Our own origin is fine.
			r := e.do(t, c, "POST", "/api/v1/verifications", "application/json",
				map[string]string{"contact_id": e.a.contact.ID, "method": "sms_code"}, map[string]string{"Origin": e.srv.URL})
			assert.Equal(t, http.StatusForbidden, r.status, "the httptest origin is not the configured public origin")
			r = e.do(t, c, "POST", "/api/v1/verifications", "application/json",
				map[string]string{"contact_id": e.a.contact.ID, "method": "sms_code"}, map[string]string{"Origin": publicURL})
			assert.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		})
	})
}

// TestTOTPEnrollmentAndLogin walks a technician through TOTP enrolment and
// a later sign-in that needs the code, which cannot be replayed.
func TestTOTPEnrollmentAndLogin(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, envOptions{requireTOTP: true})
		c := e.client(t)

		r := e.api(t, c, "POST", "/api/v1/login", loginBody(e.a, password, ""))
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		m := r.JSON(t)
		require.Equal(t, true, m["totp_enrollment_required"])
		secret, _ := m["secret"].(string)
		require.NotEmpty(t, secret)
		assert.Contains(t, m["otpauth_url"], "otpauth://totp/")
		assert.Equal(t, http.StatusUnauthorized, e.api(t, c, "GET", "/api/v1/me", nil).status, "no session before enrolment")

		// Enrolment without the pending sign-in is refused.
		r = e.api(t, e.client(t), "POST", "/api/v1/login/totp", map[string]string{"code": "123456"})
		assert.Equal(t, http.StatusUnauthorized, r.status)

		code, err := totp.GenerateCode(secret, e.clk.Now())
		require.NoError(t, err)
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		r = e.api(t, c, "POST", "/api/v1/login/totp", map[string]string{"code": wrong})
		require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
		assert.Contains(t, r.JSON(t)["error"], "does not match")
		assert.Nil(t, e.state(t).Technicians[e.a.tech.ID].TOTPSecret, "a wrong code enrolled the secret")
		assert.Equal(t, http.StatusUnauthorized, e.api(t, c, "GET", "/api/v1/me", nil).status)

		r = e.api(t, c, "POST", "/api/v1/login/totp", map[string]string{"code": code})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, http.StatusOK, e.api(t, c, "GET", "/api/v1/me", nil).status, "enrolment grants a session")
		assert.NotNil(t, e.state(t).Technicians[e.a.tech.ID].TOTPSecret)

		// A later sign-in needs a fresh code.
		e.clk.Add(time.Minute)
		r = e.api(t, e.client(t), "POST", "/api/v1/login", loginBody(e.a, password, ""))
		assert.Equal(t, http.StatusUnauthorized, r.status, "password alone must not do: %s", r.body)
		assert.Equal(t, "email, password or code is wrong", r.JSON(t)["error"])
		r = e.api(t, e.client(t), "POST", "/api/v1/login", loginBody(e.a, password, code))
		assert.Equal(t, http.StatusUnauthorized, r.status, "the enrolment code is too old and already used")

		code2, err := totp.GenerateCode(secret, e.clk.Now())
		require.NoError(t, err)
		c2 := e.client(t)
		r = e.api(t, c2, "POST", "/api/v1/login", loginBody(e.a, password, code2))
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, http.StatusOK, e.api(t, c2, "GET", "/api/v1/me", nil).status)

		t.Run("replayed code refused", func(t *testing.T) {
			stored := e.state(t).Technicians[e.a.tech.ID].LastTOTPStep
			assert.NotZero(t, stored, "the store did not keep the technician's last TOTP step")
			r := e.api(t, e.client(t), "POST", "/api/v1/login", loginBody(e.a, password, code2))
			assert.Equal(t, http.StatusUnauthorized, r.status, "a TOTP code must not work twice")
		})
		e.assertLogsClean(t, code2)
	})
}

// TestSMSCodeFlowOverHTTP starts an SMS code verification through the API,
// checks a wrong and the right code, and reads the green shield.
func TestSMSCodeFlowOverHTTP(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		c := e.login(t, e.a)

		r := e.api(t, c, "POST", "/api/v1/verifications", map[string]string{
			"contact_id": e.a.contact.ID, "method": "sms_code", "ticket_ref": "4821"})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		startBody := r.body
		v := r.JSON(t)
		id, _ := v["id"].(string)
		require.NotEmpty(t, id)
		assert.Equal(t, "pending", v["status"])
		assert.NotContains(t, v, "tech_code", "SMS codes have no technician code")
		assert.Equal(t, "4821", v["ticket_ref"])
		assert.NotContains(t, v["destination"], "0100142", "destinations are masked")

		e.deliver(t)
		msg, _ := e.sms.last(t)
		assert.Equal(t, "+15550100142", msg.To)
		code := codeIn(t, msg)
		assert.NotContains(t, string(startBody), code, "the start response holds the code")

		r = e.api(t, c, "GET", "/api/v1/verifications/"+id, nil)
		require.Equal(t, http.StatusOK, r.status)
		assert.NotContains(t, string(r.body), code, "the verification holds the code")
		assert.Equal(t, "sent", r.JSON(t)["status"])

		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		r = e.api(t, c, "POST", "/api/v1/verifications/"+id+"/check", map[string]string{"code": wrong})
		require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
		m := r.JSON(t)
		assert.Contains(t, m["error"], "(4 attempts left)")
		assert.EqualValues(t, 1, m["verification"].(map[string]any)["attempts"])
		assert.Equal(t, 1, e.verification(t, e.a, id).Attempts)

		r = e.api(t, c, "POST", "/api/v1/verifications/"+id+"/check", map[string]string{"code": code[:3] + " " + code[3:]})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, "verified", r.JSON(t)["status"])
		assert.NotContains(t, string(r.body), code)

		r = e.api(t, c, "POST", "/api/v1/verifications/"+id+"/check", map[string]string{"code": code})
		assert.Equal(t, http.StatusGone, r.status, "a used code must not work again")

		r = e.api(t, c, "GET", "/api/v1/contacts/"+e.a.contact.ID, nil)
		require.Equal(t, http.StatusOK, r.status)
		shield := r.JSON(t)["shield"].(map[string]any)
		assert.Equal(t, "green", shield["state"])
		assert.Equal(t, "sms_code", shield["method"])
		assert.Equal(t, e.a.tech.ID, shield["technician_id"])

		r = e.api(t, c, "GET", "/api/v1/contacts/"+e.a.contact.ID+"/verifications", nil)
		require.Equal(t, http.StatusOK, r.status)
		hist := r.JSON(t)["verifications"].([]any)
		require.Len(t, hist, 1)
		assert.Equal(t, id, hist[0].(map[string]any)["id"])
		assert.Equal(t, "verified", hist[0].(map[string]any)["status"])
		assert.NotContains(t, string(r.body), code)

		// The other tenant sees none of it.
		cb := e.login(t, e.b)
		assert.Equal(t, http.StatusNotFound, e.api(t, cb, "GET", "/api/v1/verifications/"+id, nil).status)

		e.assertLogsClean(t, code)
	})
}

// TestPolicyOfAnotherTenantsClient: GET /api/v1/policies/{client} names a
// client, so another tenant's client id (or none) is 404 like every other
// route, not 200 with the defaults.
func TestPolicyOfAnotherTenantsClient(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		c := e.login(t, e.a)
		r := e.api(t, c, http.MethodGet, "/api/v1/policies/"+e.a.client.ID, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		r = e.api(t, c, http.MethodGet, "/api/v1/policies/default", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		for _, id := range []string{e.b.client.ID, "cli_nope"} {
			r = e.api(t, c, http.MethodGet, "/api/v1/policies/"+id, nil)
			assert.Equal(t, http.StatusNotFound, r.status, "%s: %s", id, r.body)
			assert.NotContains(t, string(r.body), "attempts", "no policy fields for %s", id)
		}
	})
}
