package autotask

import (
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"

	"github.com/countersign/countersign/core"
)

// Config is the settings of one Autotask integration; the JSON keys are the
// descriptor's field names. Secret and IntegrationCode are secrets:
// [Config.String] and [Config.LogValue] redact them, and no error or log
// line of this package contains them.
type Config struct {
	// UserName is the API-only user's username (reference: "looks like an
	// e-mail address"); zone discovery is per username.
	UserName string `json:"username"`
	// Secret is the API user's secret.
	Secret string `json:"secret"`
	// IntegrationCode is the API tracking identifier sent as
	// ApiIntegrationCode: a vendor code or a "Custom (Internal
	// Integration)" code generated on the API user.
	IntegrationCode string `json:"integration_code"`
	// PhoneRegion is the ISO 3166 country for phone numbers stored without
	// a country code; "" means "US".
	PhoneRegion string `json:"phone_region,omitempty"`
	// NoteType is the ticket note type (a TicketNotes noteType picklist
	// value) of verification notes, picked by label on the setup page. ""
	// means the picklist's default, read once a day from Autotask.
	NoteType string `json:"note_type,omitempty"`
	// NotePublish is the publish value of internal notes, picked by label
	// on the setup page. "" means the value labelled "Internal…", read once
	// a day from Autotask.
	NotePublish string `json:"note_publish,omitempty"`
	// TicketQueue is the queue (a Tickets queueID picklist value) of the
	// tickets users log from the Windows tray, picked by label on the setup
	// page. "" means the picklist's default queue, else its first.
	TicketQueue string `json:"ticket_queue,omitempty"`
	// ContactNoteType is the action type (a CompanyNotes actionType
	// picklist value) of the notes written on contacts. "" means the
	// picklist's default.
	ContactNoteType string `json:"contact_note_type,omitempty"`
	// ZoneURL is the zone's API base ("https://webservices5.autotask.net/ATServicesRest/"),
	// stored after the live check. "" means it is discovered on the first
	// call.
	ZoneURL string `json:"zone_url,omitempty"`
	// WebURL is the tenant's UI origin ("https://ww5.autotask.net/"), found
	// with the zone. It is the only origin that may frame the Insight.
	WebURL string `json:"web_url,omitempty"`
}

// normalized returns c with its values trimmed.
func (c Config) normalized() Config {
	c.UserName = strings.TrimSpace(c.UserName)
	c.Secret = strings.TrimSpace(c.Secret)
	c.IntegrationCode = strings.TrimSpace(c.IntegrationCode)
	c.PhoneRegion = strings.ToUpper(strings.TrimSpace(c.PhoneRegion))
	c.NoteType = strings.TrimSpace(c.NoteType)
	c.NotePublish = strings.TrimSpace(c.NotePublish)
	c.TicketQueue = strings.TrimSpace(c.TicketQueue)
	c.ContactNoteType = strings.TrimSpace(c.ContactNoteType)
	c.ZoneURL = strings.TrimSpace(c.ZoneURL)
	c.WebURL = strings.TrimSpace(c.WebURL)
	if c.ZoneURL != "" && !strings.HasSuffix(c.ZoneURL, "/") {
		c.ZoneURL += "/"
	}
	return c
}

// Validate reports the first problem with c as an error of kind
// core.ErrInvalid, in words an admin can act on. It never quotes a secret.
func (c Config) Validate() error {
	c = c.normalized()
	if c.UserName == "" {
		return core.Errorf(core.KindInvalid, "API username is required: the username of an Autotask API user (security level API User (API-only))")
	}
	if !printableWithout(c.UserName, " /?#&%") || len(c.UserName) > 128 {
		return core.Errorf(core.KindInvalid, "API username %q has characters an Autotask username cannot have", c.UserName)
	}
	if c.Secret == "" {
		return core.Errorf(core.KindInvalid, "API secret is required: the API user's secret (password)")
	}
	if !printableWithout(c.Secret, "") {
		return core.Errorf(core.KindInvalid, "API secret has characters a header cannot carry: paste it again")
	}
	if c.IntegrationCode == "" {
		return core.Errorf(core.KindInvalid, "integration code is required: the API tracking identifier on the API user's page in Autotask")
	}
	if !printableWithout(c.IntegrationCode, " ") {
		return core.Errorf(core.KindInvalid, "integration code has characters a tracking identifier cannot have: paste it again")
	}
	if c.PhoneRegion != "" && (len(c.PhoneRegion) != 2 || strings.Trim(c.PhoneRegion, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "") {
		return core.Errorf(core.KindInvalid, "phone region %q must be a two-letter country code such as US or GB", c.PhoneRegion)
	}
	for name, v := range map[string]string{"note type": c.NoteType, "note visibility": c.NotePublish,
		"ticket queue": c.TicketQueue, "contact note type": c.ContactNoteType} {
		if v == "" {
			continue
		}
		if n, err := strconv.Atoi(v); err != nil || n < 0 {
			return core.Errorf(core.KindInvalid, "%s %q is not an Autotask picklist value: pick it on the setup page", name, v)
		}
	}
	if c.ZoneURL != "" {
		if _, err := zoneBase(c.ZoneURL); err != nil {
			return err
		}
	}
	if c.WebURL != "" {
		if _, err := webOrigin(c.WebURL); err != nil {
			return err
		}
	}
	return nil
}

// autotaskDomain is the domain every Autotask API and UI host is under
// (webservices5.autotask.net, ww5.autotask.net).
const autotaskDomain = ".autotask.net"

// zoneBase checks a zone's API URL: https, a host under autotask.net, no
// query or fragment. Credentials go to this host, so nothing else passes.
func zoneBase(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
		!strings.HasSuffix(strings.ToLower(u.Hostname()), autotaskDomain) {
		return nil, core.Errorf(core.KindInvalid, "zone API URL %q is not an https address under autotask.net: leave it empty to have it found", raw)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u, nil
}

// webOrigin returns the origin of the tenant's UI URL ("https://ww5.autotask.net").
func webOrigin(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.User != nil || !strings.HasSuffix(strings.ToLower(u.Hostname()), autotaskDomain) {
		return "", core.Errorf(core.KindInvalid, "Autotask web URL %q is not an https address under autotask.net: leave it empty to have it found", raw)
	}
	return "https://" + strings.ToLower(u.Host), nil
}

// printableWithout reports whether s is printable ASCII without the
// characters in banned.
func printableWithout(s, banned string) bool {
	for _, r := range s {
		if r < 0x20 || r > 0x7e || strings.ContainsRune(banned, r) {
			return false
		}
	}
	return true
}

const redacted = "[redacted]"

func redactedIfSet(s string) string {
	if s == "" {
		return `""`
	}
	return redacted
}

// String describes c without its secrets.
func (c Config) String() string {
	return fmt.Sprintf("autotask.Config{UserName:%q Secret:%s IntegrationCode:%s PhoneRegion:%q NoteType:%q NotePublish:%q TicketQueue:%q ContactNoteType:%q ZoneURL:%q WebURL:%q}",
		c.UserName, redactedIfSet(c.Secret), redactedIfSet(c.IntegrationCode), c.PhoneRegion, c.NoteType, c.NotePublish,
		c.TicketQueue, c.ContactNoteType, c.ZoneURL, c.WebURL)
}

// GoString is String, so that %#v does not print the secrets either.
func (c Config) GoString() string { return c.String() }

// LogValue describes c in slog records without its secrets.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("username", c.UserName),
		slog.String("secret", redactedIfSet(c.Secret)),
		slog.String("integration_code", redactedIfSet(c.IntegrationCode)),
		slog.String("zone_url", c.ZoneURL),
	)
}

var (
	_ fmt.Stringer   = Config{}
	_ fmt.GoStringer = Config{}
	_ slog.LogValuer = Config{}
)
