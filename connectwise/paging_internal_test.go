package connectwise

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core/psa"
)

// TestSamePage holds the next-page link check to the shapes ConnectWise
// writes (captured: a slash before the query) and to nothing else.
func TestSamePage(t *testing.T) {
	c, err := New(Config{Site: "na.myconnectwise.net", CompanyID: "acme", PublicKey: "pub", PrivateKey: "priv", ClientID: "cid"}, psa.Deps{})
	require.NoError(t, err)
	for link, want := range map[string]bool{
		"https://api-na.myconnectwise.net/v2025_1/apis/3.0/company/contacts?pageSize=50&page=2":   true,
		"https://api-na.myconnectwise.net/v2025_1/apis/3.0/company/contacts/?pageSize=50&page=2":  true,
		"https://api-na.myconnectwise.net/v2025_1//apis/3.0/company/contacts/?page=2":             true,
		"https://API-NA.MyConnectWise.net:443/v2025_1/apis/3.0/company/contacts/?page=2":          true,
		"https://api-na.myconnectwise.net/apis/3.0/company/contacts/?page=2":                      true,
		"http://api-na.myconnectwise.net/v2025_1/apis/3.0/company/contacts/?page=2":               false,
		"https://evil.example/v2025_1/apis/3.0/company/contacts/?page=2":                          false,
		"https://api-na.myconnectwise.net.evil.example/v2025_1/apis/3.0/company/contacts/?page=2": false,
		"https://user@api-na.myconnectwise.net/v2025_1/apis/3.0/company/contacts/?page=2":         false,
		"https://api-na.myconnectwise.net/v2025_1/apis/3.0/company/companies/?page=2":             false,
		"https://api-na.myconnectwise.net/v2025_1/apis/3.0/company/contacts/12/?page=2":           false,
		"https://api-na.myconnectwise.net/proxy/v2025_1/apis/3.0/company/contacts/?page=2":        false,
		"https://api-na.myconnectwise.net/apis/apis/3.0/company/contacts/?page=2":                 false,
		"https://api-na.myconnectwise.net:8443/v2025_1/apis/3.0/company/contacts/?page=2":         false,
		"https://api-na.myconnectwise.net/v2025_1/apis/3.0/company/contacts/../companies/?page=2": false,
	} {
		u, err := url.Parse(link)
		require.NoError(t, err)
		assert.Equal(t, want, c.samePage(u, "/company/contacts"), link)
	}
}
