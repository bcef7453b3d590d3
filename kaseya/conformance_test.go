package kaseya_test

import (
	"encoding/json"
	"testing"

	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/psatest"
	"github.com/countersign/countersign/kaseya"
	"github.com/countersign/countersign/kaseya/kaseyatest"
)

// Interface guard: the fake is a conformance-suite fake.
var _ psatest.Fake = (*kaseyatest.Server)(nil)

func TestConformance(t *testing.T) {
	psatest.Run(t, psatest.Harness{
		New: func(t *testing.T, deps psa.Deps) (psa.Client, psatest.Fake) {
			srv := kaseyatest.NewServer(t)
			return srv.NewClient(t, deps), srv
		},
		Descriptor: kaseya.Descriptor(),
		Settings:   json.RawMessage(`{"gateway_url":"https://bms.kaseya.com/","tenant":"Psatest","username":"psatest","password":"psatest-pass-s3cr3t"}`),
	})
}
