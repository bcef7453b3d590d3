package main

import (
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa/memory"
)

// TestServeRefusesTheDemoPSA: the memory PSA takes any base URL, so in a
// real server a tenant admin could point it anywhere (server-side request
// forgery). serve does not carry it; only the demo and tests do.
func TestServeRefusesTheDemoPSA(t *testing.T) {
	prod, err := psaRegistry(false)
	require.NoError(t, err)
	_, err = prod.Get(memory.ID)
	assert.ErrorIs(t, err, core.ErrNotFound, "serve's plugins include the demo PSA")
	demo, err := psaRegistry(true)
	require.NoError(t, err)
	_, err = demo.Get(memory.ID)
	require.NoError(t, err, "the demo runs the demo PSA")
	assert.Len(t, demo.List(), len(prod.List())+1)

	for _, tc := range []struct {
		name   string
		demo   bool
		status int
	}{{"serve", false, http.StatusNotFound}, {"demo", true, http.StatusOK}} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, func(c *Config) { c.demoPSA = tc.demo })
			id := s.AddIntegration(t, memory.ID, "Demo PSA", memory.Config{BaseURL: "http://127.0.0.1:1", APIKey: "k"})
			resp, err := http.Get(s.URL + "/pod/" + testTenantSlug + "/" + id + "?ticket=5001")
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, tc.status, resp.StatusCode, "%s", body)
		})
	}
}
