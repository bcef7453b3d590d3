package autotasktest_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/autotask/autotasktest"
	"github.com/countersign/countersign/core/psa"
)

// TestRefusesWhatTheContractLacks sends requests the contract does not
// allow and checks the fake answers as Autotask would and records each as
// a violation.
func TestRefusesWhatTheContractLacks(t *testing.T) {
	f := autotasktest.NewServer(t)
	f.Seed([]psa.Company{{Ref: "1001", Name: "Acme"}}, nil, []psa.Ticket{{Ref: "3001", Summary: "x", CompanyRef: "1001"}})
	zone := f.ZoneURL()
	for _, tc := range []struct {
		name, method, url, body string
		status                  int
		says                    string
	}{
		{"invented endpoint", "POST", zone + "V1.0/Contacts", `{"firstName":"A"}`, 404, "not in the Autotask contract"},
		{"unknown path", "GET", zone + "V1.0/Widgets/1", "", 404, "not in the Autotask contract"},
		{"wrong verb", "DELETE", zone + "V1.0/Tickets/3001", "", 405, "not in the Autotask contract"},
		{"undeclared note field", "POST", zone + "V1.0/Tickets/3001/Notes", `{"title":"t","description":"d","noteType":2,"publish":2,"isInternal":true}`, 500, `"isInternal"`},
		{"wrong kind", "POST", zone + "V1.0/Tickets/3001/Notes", `{"title":"t","description":"d","noteType":"2","publish":2}`, 500, "noteType must be an integer"},
		{"generator artefact", "POST", zone + "V1.0/Tickets/3001/Notes", `{"title":"t","description":"d","noteType":2,"publish":2,"SoapParentPropertyId":{}}`, 500, "SoapParentPropertyId"},
		{"unknown operator", "GET", zone + "V1.0/Contacts/query?search=" + url.QueryEscape(`{"filter":[{"op":"like","field":"lastName","value":"x"}]}`), "", 500, `op "like"`},
		{"unknown filter field", "GET", zone + "V1.0/Contacts/query?search=" + url.QueryEscape(`{"filter":[{"op":"eq","field":"email","value":"x"}]}`), "", 500, `"email"`},
		{"unknown include field", "GET", zone + "V1.0/Contacts/query?search=" + url.QueryEscape(`{"IncludeFields":["nickname"],"filter":[{"op":"gte","field":"id","value":0}]}`), "", 500, `"nickname"`},
		{"no filter", "GET", zone + "V1.0/Contacts/query?search=" + url.QueryEscape(`{"filter":[]}`), "", 500, "at least one filter"},
		{"body on a GET", "GET", zone + "V1.0/Tickets/3001", `{"x":1}`, 200, "takes no body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, tc.url, strings.NewReader(tc.body))
			require.NoError(t, err)
			req.Header.Set("ApiIntegrationCode", autotasktest.IntegrationCode)
			req.Header.Set("UserName", autotasktest.UserName)
			req.Header.Set("Secret", autotasktest.Secret)
			req.Header.Set("Content-Type", "application/json")
			resp, err := f.HTTPClient().Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tc.status, resp.StatusCode)
			v := f.TakeViolations()
			require.Len(t, v, 1, "one violation recorded")
			assert.Contains(t, v[0], tc.says)
		})
	}

	// Credentials sent to zone discovery are a violation too.
	req, _ := http.NewRequest("GET", autotasktest.DiscoveryURL()+"?user="+url.QueryEscape(autotasktest.UserName), nil)
	req.Header.Set("Secret", autotasktest.Secret)
	resp, err := f.HTTPClient().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	v := f.TakeViolations()
	require.Len(t, v, 1)
	assert.Contains(t, v[0], "credentials must not go to zone discovery")

	// Paths and names match case-insensitively, as Autotask's do.
	req, _ = http.NewRequest("GET", strings.ToLower(zone)+"v1.0/tickets/3001", nil)
	req.Header.Set("ApiIntegrationCode", autotasktest.IntegrationCode)
	req.Header.Set("UserName", autotasktest.UserName)
	req.Header.Set("Secret", autotasktest.Secret)
	resp, err = f.HTTPClient().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Empty(t, f.TakeViolations())
}

// TestOtherHostsDoNotExist checks the fake's HTTP client reaches Autotask
// host names only.
func TestOtherHostsDoNotExist(t *testing.T) {
	f := autotasktest.NewServer(t)
	_, err := f.HTTPClient().Get("https://evil.example/ATServicesRest/V1.0/Tickets/1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no such host")
}
