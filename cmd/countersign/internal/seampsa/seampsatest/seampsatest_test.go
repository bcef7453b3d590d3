package seampsatest_test

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/countersign/countersign/cmd/countersign/internal/seampsa"
	"github.com/countersign/countersign/cmd/countersign/internal/seampsa/seampsatest"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/psatest"
	"github.com/stretchr/testify/require"
)

// TestConformance runs the shared PSA suite against the seam PSA.
func TestConformance(t *testing.T) {
	settings, _ := json.Marshal(seampsa.Config{BaseURL: "https://seam.example", APIKey: "k", WebhookSecret: "s"})
	psatest.Run(t, psatest.Harness{
		New: func(t *testing.T, deps psa.Deps) (psa.Client, psatest.Fake) {
			srv := seampsatest.NewServer("seam-key", "seam-secret")
			ts := httptest.NewServer(srv)
			t.Cleanup(ts.Close)
			c, err := seampsa.New(seampsa.Config{BaseURL: ts.URL, APIKey: "seam-key", WebhookSecret: "seam-secret"}, deps)
			require.NoError(t, err)
			return c, srv
		},
		Descriptor: seampsa.Descriptor(),
		Settings:   settings,
	})
}
