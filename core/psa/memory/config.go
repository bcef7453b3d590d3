package memory

import (
	"net/url"
	"strings"

	"github.com/countersign/countersign/core"
)

// Config is the settings of a memory PSA integration; the JSON keys are the
// descriptor's field names.
type Config struct {
	BaseURL string `json:"base_url"` // scheme and host, e.g. http://127.0.0.1:8081; http is allowed, the demo runs on loopback
	APIKey  string `json:"api_key"`
	// WebhookSecret checks the events the PSA posts; "" refuses them all.
	WebhookSecret string `json:"webhook_secret,omitempty"`
}

// Validate reports the first problem with c as an error of kind
// core.ErrInvalid, in words an admin can act on.
func (c Config) Validate() error {
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return core.Errorf(core.KindInvalid, "base URL %q must be an http or https URL", c.BaseURL)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return core.Errorf(core.KindInvalid, "base URL must not have credentials, a query or a fragment")
	}
	if strings.TrimSpace(c.APIKey) == "" {
		return core.Errorf(core.KindInvalid, "API key is required")
	}
	return nil
}
