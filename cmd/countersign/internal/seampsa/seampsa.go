// Package seampsa is a PSA written only to prove the plugin seam (issue 10,
// "Done when"): a small but real plugin — an HTTP client of its fake
// ([seampsatest]), a pod embedding with its own embedded script and setup
// help, a setup guide and signed inbound events — that the server takes
// through its [Descriptor] alone. Nothing outside this folder names it but
// the test in cmd/countersign that registers it (seam_test.go), which also
// checks that this stays true.
//
// It is compiled into tests only: no production binary lists it.
package seampsa

import (
	"embed"
	"encoding/json"
	"io/fs"

	"github.com/countersign/countersign/core/psa"
)

// ID is the descriptor id of the seam PSA.
const ID = "seampsa"

//go:embed assets
var assetFiles embed.FS

// Descriptor returns the seam PSA's descriptor, for psa.NewRegistry.
func Descriptor() psa.Descriptor {
	files, _ := fs.Sub(assetFiles, "assets")
	return psa.Descriptor{
		ID:   ID,
		Name: "Seam Test PSA",
		Fields: []psa.Field{
			{Name: "base_url", Label: "Base URL", Kind: psa.FieldURL, Required: true, Help: "Where the seam PSA's API is."},
			{Name: "api_key", Label: "API key", Kind: psa.FieldSecret, Required: true},
			{Name: "webhook_secret", Label: "Webhook secret", Kind: psa.FieldSecret, Help: "The secret its events are signed with."},
		},
		New: func(raw json.RawMessage, deps psa.Deps) (psa.Client, error) {
			var cfg Config
			if err := psa.DecodeConfig(raw, &cfg); err != nil {
				return nil, err
			}
			return New(cfg, deps)
		},
		Assets: psa.Assets{FS: files, PodScripts: []string{"pod-seam.js"}, SetupHelp: "setup.html"},
	}
}

// Interface guards: the compiler checks every capability this client claims.
var (
	_ psa.TicketGetter     = (*Client)(nil)
	_ psa.TicketNoter      = (*Client)(nil)
	_ psa.Embedder         = (*Client)(nil)
	_ psa.SetupGuide       = (*Client)(nil)
	_ psa.CallbackVerifier = (*Client)(nil)
)
