package connectwise

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core/psa"
)

// TestKeyFetchTransport checks rule 5 of reference §10.4 on the transport
// the server uses in production (no injected HTTP client): no proxy, no
// redirects, and for cloud tenants no private addresses.
func TestKeyFetchTransport(t *testing.T) {
	for _, tc := range []struct {
		site  string
		cloud bool
	}{{"na.myconnectwise.net", true}, {"cw.msp.example", false}} {
		c, err := New(Config{Site: tc.site, CompanyID: "acme", PublicKey: "p", PrivateKey: "k", ClientID: "c"}, psa.Deps{})
		require.NoError(t, err)
		assert.Equal(t, tc.cloud, c.isCloud())
		d := c.keyDoer()
		require.NotSame(t, http.DefaultClient, d.Client)
		tr, ok := d.Client.Transport.(*http.Transport)
		require.True(t, ok)
		assert.Nil(t, tr.Proxy, "no proxy")
		assert.Equal(t, http.ErrUseLastResponse, d.Client.CheckRedirect(nil, nil), "redirects are not followed")
		assert.Equal(t, 2, d.Policy.MaxAttempts)
	}
	assert.Nil(t, http.DefaultClient.CheckRedirect, "the shared default client is not changed")

	// An injected client keeps its transport (tests, a deliberate proxy).
	inj := &http.Client{Transport: &http.Transport{}}
	c, err := New(Config{Site: "na.myconnectwise.net", CompanyID: "acme", PublicKey: "p", PrivateKey: "k", ClientID: "c"}, psa.Deps{HTTPClient: inj})
	require.NoError(t, err)
	assert.Same(t, inj.Transport, c.keyDoer().Client.Transport)
	assert.Nil(t, inj.CheckRedirect)
}

func TestRefusePrivate(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:443", "10.1.2.3:443", "192.168.1.1:443", "172.16.0.1:443", "169.254.169.254:80",
		"[::1]:443", "[fe80::1]:443", "[fd00::1]:443", "0.0.0.0:443", "nonsense"} {
		assert.Error(t, refusePrivate("tcp", addr, nil), addr)
	}
	for _, addr := range []string{"8.8.8.8:443", "[2606:4700::1111]:443"} {
		assert.NoError(t, refusePrivate("tcp", addr, nil), addr)
	}
}
