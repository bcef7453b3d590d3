package seampsa

import (
	"net/url"

	"github.com/countersign/countersign/core"
)

// Config is an integration's settings; the JSON keys are the descriptor's
// field names.
type Config struct {
	BaseURL       string `json:"base_url"`
	APIKey        string `json:"api_key"`
	WebhookSecret string `json:"webhook_secret,omitempty"`
}

// Validate reports what is wrong with c, as an error an admin can act on.
func (c Config) Validate() error {
	u, err := url.Parse(c.BaseURL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return core.Errorf(core.KindInvalid, "the base URL must be an absolute http(s) URL")
	case c.APIKey == "":
		return core.Errorf(core.KindInvalid, "the API key is required")
	}
	return nil
}
