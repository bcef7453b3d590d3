package autotask_test

import (
	"encoding/json"
	"testing"

	"github.com/countersign/countersign/autotask"
	"github.com/countersign/countersign/autotask/autotasktest"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/psatest"
)

// Interface guards: the fake is a conformance-suite fake, with the
// read-backs of the capabilities the client has.
var (
	_ psatest.Fake               = (*autotasktest.Server)(nil)
	_ psatest.MemberSeeder       = (*autotasktest.Server)(nil)
	_ psatest.ContactNoteFake    = (*autotasktest.Server)(nil)
	_ psatest.ContactPhoneFake   = (*autotasktest.Server)(nil)
	_ psatest.TicketContactFake  = (*autotasktest.Server)(nil)
	_ psatest.DefaultContactFake = (*autotasktest.Server)(nil)
	_ psatest.WriteFaulter       = (*autotasktest.Server)(nil)
)

func TestConformance(t *testing.T) {
	psatest.Run(t, psatest.Harness{
		New: func(t *testing.T, deps psa.Deps) (psa.Client, psatest.Fake) {
			srv := autotasktest.NewServer(t)
			return srv.NewClient(t, deps), srv
		},
		Descriptor: autotask.Descriptor(),
		Settings:   json.RawMessage(`{"username":"psatest@example.com","secret":"psatest-secret-s3cr3t","integration_code":"PSATESTCODE0123456789"}`),
	})
}
