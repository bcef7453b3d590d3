package connectwise_test

import (
	"encoding/json"
	"testing"

	"github.com/countersign/countersign/connectwise"
	"github.com/countersign/countersign/connectwise/cwtest"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/psatest"
)

func TestConformance(t *testing.T) {
	psatest.Run(t, psatest.Harness{
		New: func(t *testing.T, deps psa.Deps) (psa.Client, psatest.Fake) {
			srv := cwtest.NewServer(t)
			return srv.NewClient(t, deps), srv
		},
		Descriptor: connectwise.Descriptor(),
		Settings: json.RawMessage(`{"site":"na.myconnectwise.net","company_id":"psatest","public_key":"psatestPublic",` +
			`"private_key":"psatest-private-s3cr3t","client_id":"11111111-2222-4333-8444-555555555555"}`),
	})
}
