package superops

import (
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// Config is the settings of one SuperOps integration; the JSON keys are the
// descriptor's field names. APIToken is a secret: [Config.String] and
// [Config.LogValue] redact it, and no error or log line of this package
// contains it.
type Config struct {
	Subdomain string `json:"subdomain"`
	APIToken  string `json:"api_token"`
	// Region is "us" (default) or "eu".
	Region string `json:"region,omitempty"`
	// MobileField is the column name of the requesters' mobile-number
	// custom field ("udf7text"); "" reads no mobile number.
	MobileField string `json:"mobile_field,omitempty"`
	// RequesterRoleID is the role of requesters the client creates; ""
	// refuses to create any.
	RequesterRoleID string `json:"requester_role_id,omitempty"`
	PhoneRegion     string `json:"phone_region,omitempty"`
	// CallsPerMinute is Countersign's own budget; 0 means
	// [DefaultCallsPerMinute].
	CallsPerMinute string `json:"calls_per_minute,omitempty"`
	// TicketURL is the address of a ticket in SuperOps' web app, with {id}
	// for its internal id or {number} for its display id; "" shows no
	// link.
	TicketURL string `json:"ticket_url,omitempty"`
	// ClosedStatuses are the status names of closed tickets (comma
	// separated; per tenant); "" means "Resolved, Closed".
	ClosedStatuses string `json:"closed_statuses,omitempty"`

	// endpoint overrides the API URL, for tests of this package only.
	endpoint string
}

// DefaultCallsPerMinute is the default budget: the lower of the two limits
// sources give (reference, "Rate limits": 100 or 800 a minute).
const DefaultCallsPerMinute = 100

var (
	subdomainPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	columnPattern    = regexp.MustCompile(`^udf[0-9]+[a-z]+$`)
)

func (c Config) normalized() Config {
	c.Subdomain = strings.ToLower(strings.TrimSpace(c.Subdomain))
	c.APIToken = strings.TrimSpace(c.APIToken)
	c.Region = strings.ToLower(strings.TrimSpace(c.Region))
	c.MobileField = strings.TrimSpace(c.MobileField)
	c.RequesterRoleID = strings.TrimSpace(c.RequesterRoleID)
	c.PhoneRegion = strings.ToUpper(strings.TrimSpace(c.PhoneRegion))
	c.TicketURL = strings.TrimSpace(c.TicketURL)
	return c
}

// url returns the MSP API endpoint of the region.
func (c Config) url() string {
	if c.endpoint != "" {
		return c.endpoint
	}
	if c.Region == "eu" {
		return "https://euapi.superops.ai/msp"
	}
	return "https://api.superops.ai/msp"
}

// Validate reports the first problem with c as an error of kind
// core.ErrInvalid, in words an admin can act on. It never quotes a secret.
func (c Config) Validate() error {
	c = c.normalized()
	if c.Subdomain == "" {
		return core.Errorf(core.KindInvalid, "subdomain is required: it is shown under Settings › MSP Information in SuperOps")
	}
	if !subdomainPattern.MatchString(c.Subdomain) {
		return core.Errorf(core.KindInvalid, "subdomain %q is not a SuperOps subdomain: enter just the name, e.g. acmemsp", c.Subdomain)
	}
	if c.APIToken == "" {
		return core.Errorf(core.KindInvalid, "API token is required: generate one under Settings › My Profile › API token")
	}
	if strings.ContainsAny(c.APIToken, " \t\r\n") {
		return core.Errorf(core.KindInvalid, "API token has spaces in it: paste it again")
	}
	if c.Region != "" && c.Region != "us" && c.Region != "eu" {
		return core.Errorf(core.KindInvalid, "region %q must be us or eu", c.Region)
	}
	if c.MobileField != "" && !columnPattern.MatchString(c.MobileField) {
		return core.Errorf(core.KindInvalid, "mobile-number field %q is not a SuperOps column name such as udf7text", c.MobileField)
	}
	if n, err := strconv.Atoi(strings.TrimSpace(c.CallsPerMinute)); strings.TrimSpace(c.CallsPerMinute) != "" && (err != nil || n < 1 || n > 100000) {
		return core.Errorf(core.KindInvalid, "calls per minute must be between 1 and 100000 (empty means %d)", DefaultCallsPerMinute)
	}
	if err := psa.ValidateTicketURL("ticket URL", c.TicketURL); err != nil {
		return err
	}
	if c.PhoneRegion != "" && (len(c.PhoneRegion) != 2 || strings.ContainsFunc(c.PhoneRegion, func(r rune) bool { return r < 'A' || r > 'Z' })) {
		return core.Errorf(core.KindInvalid, "phone region %q must be a two-letter country code such as US or GB", c.PhoneRegion)
	}
	return nil
}

// closedStatuses returns the status names of closed tickets.
func (c Config) closedStatuses() []any {
	var out []any
	for _, s := range strings.Split(c.ClosedStatuses, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return []any{"Resolved", "Closed"}
	}
	return out
}

// callsPerMinute returns the budget.
func (c Config) callsPerMinute() int {
	if n, err := strconv.Atoi(strings.TrimSpace(c.CallsPerMinute)); err == nil && n > 0 {
		return n
	}
	return DefaultCallsPerMinute
}

// String returns c with its secret redacted.
func (c Config) String() string {
	tok := `""`
	if c.APIToken != "" {
		tok = "[redacted]"
	}
	return fmt.Sprintf("superops.Config{Subdomain:%q Region:%q MobileField:%q APIToken:%s}", c.Subdomain, c.Region, c.MobileField, tok)
}

// LogValue logs c without its secret.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("subdomain", c.Subdomain), slog.String("region", c.Region), slog.String("mobile_field", c.MobileField))
}
