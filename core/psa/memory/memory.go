// Package memory is the built-in demo PSA: a small but complete PSA whose
// data lives in memory ([Server]), and the plugin that talks to it over
// HTTP ([Client]). The demo runs it in-process, engine and web tests use it
// as a PSA that is always there, and it passes the psatest conformance
// suite.
//
// It is also the worked example of a PSA plugin. The files are the ones
// every plugin has:
//
//   - memory.go: this documentation, [Descriptor] and the interface guards;
//   - config.go: [Config], decoded strictly and validated;
//   - client.go: HTTP, authentication, paging and error mapping, built on
//     [psa.Doer];
//   - contacts.go, tickets.go, companies.go, members.go: one capability
//     each, turning unexported wire DTOs into psa types;
//   - pod.go, setup.go, events.go: the embedding (pod context, member
//     proof), the PSA-side setup (guide, pods, webhooks) and inbound events;
//   - server.go, server_setup.go: the fake (for a vendor PSA it lives in
//     its own test package, such as connectwise/cwtest), built on the
//     fakes' kit core/psa/psafake.
//
// It has every capability of package psa, so that tests of the host
// (core/web) need no vendor's plugin; reading as the member looking at a
// pod ([psa.MemberReader]) is there too, as [Client.ReadAs], for a
// descriptor that opts in. It is not a production integration:
// its base URL is free, so only the demo and tests register it.
//
// To run it in-process:
//
//	srv := memory.NewServer("demo-key")
//	srv.SeedDemo()
//	ts := httptest.NewServer(srv) // or http.Serve on a loopback listener
//	client, err := memory.New(memory.Config{BaseURL: ts.URL, APIKey: "demo-key"}, psa.Deps{})
package memory

import (
	"encoding/json"

	"github.com/countersign/countersign/core/psa"
)

// ID is the descriptor id of the memory PSA.
const ID = "memory"

// Descriptor returns the memory PSA's descriptor, for psa.NewRegistry.
func Descriptor() psa.Descriptor {
	return psa.Descriptor{
		ID:   ID,
		Name: "Built-in demo PSA",
		Fields: []psa.Field{
			{Name: "base_url", Label: "Base URL", Kind: psa.FieldURL, Required: true, Help: "Where the demo PSA listens, e.g. http://127.0.0.1:8081."},
			{Name: "api_key", Label: "API key", Kind: psa.FieldSecret, Required: true},
			{Name: "webhook_secret", Label: "Webhook secret", Kind: psa.FieldSecret,
				Help: "The secret the demo PSA signs its events with; leave empty to take none."},
		},
		New: func(raw json.RawMessage, deps psa.Deps) (psa.Client, error) {
			var cfg Config
			if err := psa.DecodeConfig(raw, &cfg); err != nil {
				return nil, err
			}
			return New(cfg, deps)
		},
	}
}

// Interface guards: the compiler checks every capability this client claims.
var (
	_ psa.ContactFinder        = (*Client)(nil)
	_ psa.ContactGetter        = (*Client)(nil)
	_ psa.ContactCreator       = (*Client)(nil)
	_ psa.TicketGetter         = (*Client)(nil)
	_ psa.TicketNoter          = (*Client)(nil)
	_ psa.TicketCreator        = (*Client)(nil)
	_ psa.CompanyLister        = (*Client)(nil)
	_ psa.MemberIdentifier     = (*Client)(nil)
	_ psa.MemberLister         = (*Client)(nil)
	_ psa.Checker              = (*Client)(nil)
	_ psa.Embedder             = (*Client)(nil)
	_ psa.TicketOnlyGetter     = (*Client)(nil)
	_ psa.MemberProver         = (*Client)(nil)
	_ psa.CallbackVerifier     = (*Client)(nil)
	_ psa.CallbackRegistrar    = (*Client)(nil)
	_ psa.PodInstaller         = (*Client)(nil)
	_ psa.SetupGuide           = (*Client)(nil)
	_ psa.TicketLinker         = (*Client)(nil)
	_ psa.DefaultContactGetter = (*Client)(nil)
	_ psa.TicketContactSetter  = (*Client)(nil)
	_ psa.ContactNoter         = (*Client)(nil)
	_ psa.ContactPhoneSetter   = (*Client)(nil)
)
