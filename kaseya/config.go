package kaseya

import (
	"encoding/base32"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// Config is the settings of one Kaseya BMS integration; the JSON keys are
// the descriptor's field names. Password and TOTPSecret are secrets:
// [Config.String] and [Config.LogValue] redact them, and no error or log
// line of this package contains them.
type Config struct {
	// GatewayURL is the tenant's gateway ("https://bmsemea.kaseya.com/"),
	// from which the API host is derived.
	GatewayURL string `json:"gateway_url"`
	// APIURL overrides the API base ("https://api.bmsemea.kaseya.com").
	APIURL     string `json:"api_url,omitempty"`
	Tenant     string `json:"tenant"`
	Username   string `json:"username"`
	Password   string `json:"password"`
	TOTPSecret string `json:"totp_secret,omitempty"`
	// NoteTypeID is the BMS note type of verification notes; "" means 1.
	NoteTypeID string `json:"note_type_id,omitempty"`
	// TicketTypeID and TicketSourceID are the BMS ticket type and source
	// of the tickets users log from the tray (TicketInputDto requires
	// both; BMS does not document their values, reference open item 3);
	// "" means 1.
	TicketTypeID   string `json:"ticket_type_id,omitempty"`
	TicketSourceID string `json:"ticket_source_id,omitempty"`
	// PhoneRegion is the ISO 3166 country for numbers stored without a
	// country code; "" means "US".
	PhoneRegion string `json:"phone_region,omitempty"`
	// CallsPerHour is Countersign's own budget per BMS endpoint; 0 means
	// [DefaultCallsPerHour]. BMS allows 1,500 calls an hour per endpoint,
	// shared with the MSP's other integrations.
	CallsPerHour string `json:"calls_per_hour,omitempty"`
	// TicketURL is the address of a ticket in BMS's web app, with {id} or
	// {number} for the ticket ("https://bmsemea.kaseya.com/...{id}"); BMS
	// does not document it, so it is a setting. "" shows no link.
	TicketURL string `json:"ticket_url,omitempty"`
}

// callsPerHour returns the budget per endpoint.
func (c Config) callsPerHour() int {
	if n, err := strconv.Atoi(strings.TrimSpace(c.CallsPerHour)); err == nil && n > 0 {
		return n
	}
	return DefaultCallsPerHour
}

// DefaultCallsPerHour is the default budget per endpoint: well under the
// 500 an hour an older vendor article gives, and the 1,500 of the current
// one (reference, "Limits").
const DefaultCallsPerHour = 400

// apiHosts maps a gateway host to its API host (reference, "Hosts per
// region").
var apiHosts = map[string]string{
	"bms.kaseya.com":            "api.bms.kaseya.com",
	"bmsemea.kaseya.com":        "api.bmsemea.kaseya.com",
	"bmsapac.kaseya.com":        "api.bmsapac.kaseya.com",
	"vorexlogin.com":            "api.vorexlogin.com",
	"vorexlogin.kaseya.com":     "api.vorexlogin.kaseya.com",
	"www.bms.kaseya.com":        "api.bms.kaseya.com",
	"www.bmsemea.kaseya.com":    "api.bmsemea.kaseya.com",
	"www.bmsapac.kaseya.com":    "api.bmsapac.kaseya.com",
	"www.vorexlogin.com":        "api.vorexlogin.com",
	"api.bms.kaseya.com":        "api.bms.kaseya.com",
	"api.bmsemea.kaseya.com":    "api.bmsemea.kaseya.com",
	"api.bmsapac.kaseya.com":    "api.bmsapac.kaseya.com",
	"api.vorexlogin.com":        "api.vorexlogin.com",
	"api.vorexlogin.kaseya.com": "api.vorexlogin.kaseya.com",
}

func (c Config) normalized() Config {
	c.GatewayURL = strings.TrimSpace(c.GatewayURL)
	c.APIURL = strings.TrimRight(strings.TrimSpace(c.APIURL), "/")
	c.Tenant = strings.TrimSpace(c.Tenant)
	c.Username = strings.TrimSpace(c.Username)
	c.TOTPSecret = strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(c.TOTPSecret), " ", ""))
	c.NoteTypeID = strings.TrimSpace(c.NoteTypeID)
	c.TicketTypeID = strings.TrimSpace(c.TicketTypeID)
	c.TicketSourceID = strings.TrimSpace(c.TicketSourceID)
	c.TicketURL = strings.TrimSpace(c.TicketURL)
	c.PhoneRegion = strings.ToUpper(strings.TrimSpace(c.PhoneRegion))
	return c
}

// apiBase returns the API base URL without a trailing slash.
func (c Config) apiBase() (string, error) {
	if c.APIURL != "" {
		u, err := url.Parse(c.APIURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return "", core.Errorf(core.KindInvalid, "API URL %q must be an https address with no path, e.g. https://api.bmsemea.kaseya.com", c.APIURL)
		}
		return "https://" + strings.ToLower(u.Host), nil
	}
	raw := c.GatewayURL
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", core.Errorf(core.KindInvalid, "gateway URL %q is not an address: copy it from My Settings in BMS, e.g. https://bmsemea.kaseya.com/", c.GatewayURL)
	}
	if u.Scheme != "https" {
		return "", core.Errorf(core.KindInvalid, "gateway URL must be https, e.g. https://bmsemea.kaseya.com/")
	}
	host, ok := apiHosts[strings.ToLower(u.Hostname())]
	if !ok {
		return "", core.Errorf(core.KindInvalid, "gateway %q is not a Kaseya BMS region we know (bms, bmsemea, bmsapac, vorexlogin): enter the API URL by hand", u.Hostname())
	}
	return "https://" + host, nil
}

// noteType returns the note type id to send.
func (c Config) noteType() int { return idOr1(c.NoteTypeID) }

// ticketType and ticketSource return the ids new tickets are sent with.
func (c Config) ticketType() int   { return idOr1(c.TicketTypeID) }
func (c Config) ticketSource() int { return idOr1(c.TicketSourceID) }

func idOr1(s string) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return 1
}

// Validate reports the first problem with c as an error of kind
// core.ErrInvalid, in words an admin can act on. It never quotes a secret.
func (c Config) Validate() error {
	c = c.normalized()
	if c.GatewayURL == "" && c.APIURL == "" {
		return core.Errorf(core.KindInvalid, "gateway URL is required: copy it from My Settings in BMS, e.g. https://bmsemea.kaseya.com/")
	}
	if _, err := c.apiBase(); err != nil {
		return err
	}
	if c.Tenant == "" {
		return core.Errorf(core.KindInvalid, "tenant is required: the company name shown under My Settings in BMS")
	}
	if c.Username == "" || c.Password == "" {
		return core.Errorf(core.KindInvalid, "user name and password are required: those of the BMS user Countersign signs in as")
	}
	if c.TOTPSecret != "" {
		if _, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.TrimRight(c.TOTPSecret, "=")); err != nil {
			return core.Errorf(core.KindInvalid, "TOTP secret is not base32: paste the secret shown when MFA was set up (letters A–Z and digits 2–7)")
		}
	}
	for _, f := range []struct{ name, v string }{{"note type id", c.NoteTypeID}, {"ticket type id", c.TicketTypeID}, {"ticket source id", c.TicketSourceID}} {
		if f.v == "" {
			continue
		}
		if n, err := strconv.Atoi(f.v); err != nil || n < 1 {
			return core.Errorf(core.KindInvalid, "%s %q must be a positive number", f.name, f.v)
		}
	}
	if n, err := strconv.Atoi(strings.TrimSpace(c.CallsPerHour)); strings.TrimSpace(c.CallsPerHour) != "" && (err != nil || n < 1 || n > 100000) {
		return core.Errorf(core.KindInvalid, "calls per hour must be between 1 and 100000 (empty means %d)", DefaultCallsPerHour)
	}
	if err := psa.ValidateTicketURL("ticket URL", c.TicketURL); err != nil {
		return err
	}
	if c.PhoneRegion != "" && (len(c.PhoneRegion) != 2 || strings.ToUpper(c.PhoneRegion) != c.PhoneRegion || strings.ContainsFunc(c.PhoneRegion, func(r rune) bool { return r < 'A' || r > 'Z' })) {
		return core.Errorf(core.KindInvalid, "phone region %q must be a two-letter country code such as US or GB", c.PhoneRegion)
	}
	return nil
}

// String returns c with its secrets redacted.
func (c Config) String() string {
	return fmt.Sprintf("kaseya.Config{GatewayURL:%q APIURL:%q Tenant:%q Username:%q Password:%s TOTPSecret:%s}",
		c.GatewayURL, c.APIURL, c.Tenant, c.Username, redacted(c.Password), redacted(c.TOTPSecret))
}

// LogValue logs c without its secrets.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("gateway_url", c.GatewayURL), slog.String("tenant", c.Tenant),
		slog.String("username", c.Username), slog.Bool("mfa", c.TOTPSecret != ""))
}

func redacted(s string) string {
	if s == "" {
		return `""`
	}
	return "[redacted]"
}
