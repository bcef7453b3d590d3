package halotest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/halo/halotest"
)

// TestFakeRefusesWhatTheContractDoesNot verifies the fake is strict: each
// request below is one the halo client must never make.
func TestFakeRefusesWhatTheContractDoesNot(t *testing.T) {
	srv := halotest.NewServer(t)
	srv.Seed([]psa.Company{{Ref: "1", Name: "A"}}, nil, []psa.Ticket{{Ref: "3", Summary: "s", CompanyRef: "1"}})
	tok := token(t, srv)
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		violation                string
	}{
		{"unknown path", "GET", "/api/Contacts", "", 404, "not in the Halo contract"},
		{"wrong method", "DELETE", "/api/Tabs", "", 404, "under another method"},
		{"misspelt paging", "GET", "/api/Users?paginate=true", "", 400, `no query parameter "paginate"`},
		{"int parameter", "GET", "/api/Users?client_id=abc", "", 400, "must be an integer"},
		{"bare object", "POST", "/api/Actions", `{"ticket_id":3,"note":"x"}`, 400, "not a bare object"},
		{"undeclared field", "POST", "/api/Actions", `[{"ticket_id":3,"note":"x","private":true}]`, 400, `field "private"`},
		{"wrong kind", "POST", "/api/Actions", `[{"ticket_id":"3","note":"x"}]`, 400, "must be an integer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tc.method, srv.URL()+tc.path, strings.NewReader(tc.body))
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := srv.HTTPClient().Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tc.status, resp.StatusCode)
			v := srv.TakeViolations()
			require.Len(t, v, 1)
			assert.Contains(t, v[0], tc.violation)
		})
	}
	// Case-insensitive routes, as Halo's; no token, no answer.
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL()+"/api/tickets/3", nil)
	resp, err := srv.HTTPClient().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Empty(t, srv.TakeViolations())
}

func token(t *testing.T, srv *halotest.Server) string {
	t.Helper()
	body := "grant_type=client_credentials&client_id=" + halotest.ClientID + "&client_secret=" + halotest.ClientSecret + "&scope=all"
	req, err := http.NewRequestWithContext(t.Context(), "POST", srv.URL()+"/auth/token?tenant="+halotest.DefaultTenant, bytes.NewBufferString(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := srv.HTTPClient().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var v struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, jsonDecode(resp, &v))
	return v.AccessToken
}

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }
