package halo_test

import (
	"encoding/json"
	"testing"

	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/psatest"
	"github.com/countersign/countersign/halo"
	"github.com/countersign/countersign/halo/halotest"
)

// Interface guards: the fake is a conformance-suite fake, with the
// optional parts for the tab, agent sign-in, webhooks and agent lists.
var (
	_ psatest.Fake               = (*halotest.Server)(nil)
	_ psatest.PodFake            = (*halotest.Server)(nil)
	_ psatest.MemberFake         = (*halotest.Server)(nil)
	_ psatest.SharedSecretEvents = (*halotest.Server)(nil)
	_ psatest.MemberSeeder       = (*halotest.Server)(nil)
	_ psatest.ContactNoteFake    = (*halotest.Server)(nil)
	_ psatest.ContactPhoneFake   = (*halotest.Server)(nil)
	_ psatest.TicketContactFake  = (*halotest.Server)(nil)
	_ psatest.DefaultContactFake = (*halotest.Server)(nil)
	_ psatest.WriteFaulter       = (*halotest.Server)(nil)
)

func TestConformance(t *testing.T) {
	psatest.Run(t, psatest.Harness{
		New: func(t *testing.T, deps psa.Deps) (psa.Client, psatest.Fake) {
			srv := halotest.NewServer(t)
			return srv.NewClient(t, deps), srv
		},
		Descriptor: halo.Descriptor(),
		Settings: json.RawMessage(`{"instance_url":"https://acme.halopsa.com","client_id":"psatest-client",` +
			`"client_secret":"psatest-client-s3cr3t","webhook_user":"psatest-hook","webhook_password":"psatest-hook-s3cr3t"}`),
	})
}
