package superops_test

import (
	"encoding/json"
	"testing"

	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/psatest"
	"github.com/countersign/countersign/superops"
	"github.com/countersign/countersign/superops/superopstest"
)

// Interface guard: the fake is a conformance-suite fake.
var _ psatest.Fake = (*superopstest.Server)(nil)

func TestConformance(t *testing.T) {
	psatest.Run(t, psatest.Harness{
		New: func(t *testing.T, deps psa.Deps) (psa.Client, psatest.Fake) {
			srv := superopstest.NewServer(t)
			return srv.NewClient(t, deps), srv
		},
		Descriptor: superops.Descriptor(),
		Settings:   json.RawMessage(`{"subdomain":"psatest","api_token":"psatest-token-s3cr3t"}`),
	})
}
