package halo

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/countersign/countersign/core"
)

// DefaultOutcome is the action type notes are written as when the setup
// chose none: "Internal Note" on a stock Halo (reference, Notes via
// Actions). Other instances number their outcomes differently; the setup
// page lists the instance's own.
const DefaultOutcome = "7"

// DefaultScope is the OAuth2 scope asked for: everything the API
// application allows. Narrower: "read:customers read:tickets edit:tickets"
// (+ "edit:customers" to create users).
const DefaultScope = "all"

// DefaultTabVariable is what the custom tab's URL ends in by default, for
// Halo to replace with the ticket's id. Which variable names Halo's Custom
// Tab editor offers is unconfirmed (reference, Custom tabs): the admin
// checks the editor and changes it.
const DefaultTabVariable = "$FAULTID"

// Config is the settings of one Halo integration; the JSON keys are the
// descriptor's field names, every value a string as the console stores
// them. ClientSecret and WebhookPassword are secrets: [Config.String] and
// [Config.LogValue] redact them, and no error or log line of this package
// holds one.
type Config struct {
	// InstanceURL is the Halo web address technicians use:
	// "https://acme.halopsa.com" (hosted) or the MSP's own server. The API
	// is under /api, the authorisation server under /auth.
	InstanceURL string `json:"instance_url"`
	// Tenant is hosted Halo's tenant (API Details page). "" means: ask
	// /api/authinfo, and send none when it names none (self-hosted).
	Tenant string `json:"tenant,omitempty"`
	// ClientID and ClientSecret are the API application's ("Client ID and
	// Secret (Services)", Login Type Agent).
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	// Scope is the space-separated OAuth2 scope; "" means [DefaultScope].
	Scope string `json:"scope,omitempty"`
	// NoteOutcome is the action type of verification notes: an outcome id
	// ("7") or its name ("Private Note"). "" means [DefaultOutcome].
	NoteOutcome string `json:"note_outcome,omitempty"`
	// TicketTypeID is the Halo ticket type (tickettype_id) of the tickets
	// users log from the Windows tray; "" means the instance's default
	// ticket type.
	TicketTypeID string `json:"ticket_type_id,omitempty"`
	// PhoneRegion is the ISO 3166 country of numbers stored without a
	// country code; "" means "US".
	PhoneRegion string `json:"phone_region,omitempty"`
	// TabVariable is what Halo replaces with the ticket id in the custom
	// tab's URL; "" means [DefaultTabVariable].
	TabVariable string `json:"tab_variable,omitempty"`
	// AgentClientID is an optional second API application, "Authorisation
	// Code (Native Application)" with agent logins allowed, whose login
	// redirect URL is Countersign's: technicians then sign in to the
	// custom tab with their Halo account. "" turns Halo agent sign-in off.
	AgentClientID string `json:"agent_client_id,omitempty"`
	// WebhookUser and WebhookPassword are the Basic credentials Halo's
	// webhook sends, generated at setup and shown once.
	WebhookUser     string `json:"webhook_user,omitempty"`
	WebhookPassword string `json:"webhook_password,omitempty"`
	// AuthURL is the authorisation server /api/authinfo named
	// ("https://acme.halopsa.com/auth"), stored after a successful check
	// with the tenant it found, so that a cold client does not ask again.
	AuthURL string `json:"auth_url,omitempty"`
}

// normalized returns c trimmed, with the instance URL reduced to its
// scheme and host.
func (c Config) normalized() Config {
	c.InstanceURL = strings.TrimRight(strings.TrimSpace(c.InstanceURL), "/")
	if u, err := url.Parse(c.InstanceURL); err == nil && u.Host != "" {
		u.Host = strings.ToLower(u.Host)
		u.Scheme = strings.ToLower(u.Scheme)
		u.Path, u.RawQuery, u.Fragment, u.RawPath = "", "", "", ""
		c.InstanceURL = u.String()
	}
	c.Tenant = strings.TrimSpace(c.Tenant)
	c.ClientID = strings.TrimSpace(c.ClientID)
	c.ClientSecret = strings.TrimSpace(c.ClientSecret)
	c.Scope = strings.Join(strings.Fields(c.Scope), " ")
	if c.Scope == "" {
		c.Scope = DefaultScope
	}
	c.NoteOutcome = strings.TrimSpace(c.NoteOutcome)
	if c.NoteOutcome == "" {
		c.NoteOutcome = DefaultOutcome
	}
	c.TicketTypeID = strings.TrimSpace(c.TicketTypeID)
	c.PhoneRegion = strings.ToUpper(strings.TrimSpace(c.PhoneRegion))
	if c.PhoneRegion == "" {
		c.PhoneRegion = "US"
	}
	c.TabVariable = strings.TrimSpace(c.TabVariable)
	if c.TabVariable == "" {
		c.TabVariable = DefaultTabVariable
	}
	c.AgentClientID = strings.TrimSpace(c.AgentClientID)
	c.WebhookUser = strings.TrimSpace(c.WebhookUser)
	c.AuthURL = strings.TrimRight(strings.TrimSpace(c.AuthURL), "/")
	return c
}

// Validate reports the first problem with c as an error of kind
// core.ErrInvalid, in words an admin can act on. It never quotes a secret.
func (c Config) Validate() error {
	c = c.normalized()
	if c.InstanceURL == "" {
		return core.Errorf(core.KindInvalid, "instance URL is required: the address you open Halo at, e.g. https://acme.halopsa.com")
	}
	u, err := url.Parse(c.InstanceURL)
	if err != nil || u.Host == "" || u.User != nil {
		return core.Errorf(core.KindInvalid, "instance URL %q is not a web address such as https://acme.halopsa.com", short(c.InstanceURL))
	}
	if u.Scheme != "https" {
		return core.Errorf(core.KindInvalid, "instance URL must start with https://: Halo's API takes credentials only over TLS")
	}
	if !validHost(u.Host) {
		return core.Errorf(core.KindInvalid, "instance URL %q does not name a host", short(c.InstanceURL))
	}
	if c.Tenant != "" && !printableWithout(c.Tenant, "&?#/ ") {
		return core.Errorf(core.KindInvalid, "tenant %q has characters a Halo tenant cannot have: copy it from Configuration › Integrations › HaloPSA API", short(c.Tenant))
	}
	if c.ClientID == "" || c.ClientSecret == "" {
		return core.Errorf(core.KindInvalid, "client id and client secret are required: create an API application (Client ID and Secret) under Configuration › Integrations › HaloPSA API › View Applications")
	}
	if !printableWithout(c.ClientID, " ") || !printableWithout(c.ClientSecret, " ") {
		return core.Errorf(core.KindInvalid, "client id or secret has characters they cannot have: paste them again")
	}
	if !printableWithout(c.Scope, "") {
		return core.Errorf(core.KindInvalid, "scope %q is not a list of Halo scopes such as \"all\" or \"read:tickets edit:tickets\"", short(c.Scope))
	}
	if _, err := strconv.Atoi(c.NoteOutcome); err != nil && !printableWithout(c.NoteOutcome, "") {
		return core.Errorf(core.KindInvalid, "note outcome must be a Halo outcome id such as 7, or its name")
	}
	if n, err := strconv.Atoi(c.TicketTypeID); c.TicketTypeID != "" && (err != nil || n < 1) {
		return core.Errorf(core.KindInvalid, "ticket type id %q must be a positive number: the id of a ticket type under Configuration › Tickets › Ticket Types", short(c.TicketTypeID))
	}
	if len(c.PhoneRegion) != 2 || c.PhoneRegion[0] < 'A' || c.PhoneRegion[0] > 'Z' || c.PhoneRegion[1] < 'A' || c.PhoneRegion[1] > 'Z' {
		return core.Errorf(core.KindInvalid, "phone region %q must be a two-letter country code such as US or GB", short(c.PhoneRegion))
	}
	if !printableWithout(c.TabVariable, " &?#") {
		return core.Errorf(core.KindInvalid, "custom tab ticket variable %q cannot hold spaces, &, ? or #", short(c.TabVariable))
	}
	if c.AgentClientID != "" && !printableWithout(c.AgentClientID, " ") {
		return core.Errorf(core.KindInvalid, "agent sign-in client id has characters a client id cannot have: paste it again")
	}
	if (c.WebhookUser == "") != (c.WebhookPassword == "") {
		return core.Errorf(core.KindInvalid, "webhook user and password go together: generate them on the setup page")
	}
	if c.WebhookUser != "" && (!printableWithout(c.WebhookUser, ": ") || !printableWithout(c.WebhookPassword, " ")) {
		return core.Errorf(core.KindInvalid, "webhook user or password has characters Basic authentication cannot carry")
	}
	if c.AuthURL != "" {
		a, err := url.Parse(c.AuthURL)
		if err != nil || a.Scheme != "https" || a.Host == "" || a.User != nil || a.RawQuery != "" {
			return core.Errorf(core.KindInvalid, "authorisation server %q is not an https address: leave it empty to have it found", short(c.AuthURL))
		}
	}
	return nil
}

// ticketType returns the tickettype_id of tray tickets; 0 for Halo's
// default.
func (c Config) ticketType() int {
	n, _ := strconv.Atoi(c.TicketTypeID)
	return n
}

// apiBase returns the resource server: {instance}/api.
func (c Config) apiBase() string { return c.InstanceURL + "/api" }

func validHost(h string) bool {
	host := h
	if hh, port, err := net.SplitHostPort(h); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return false
		}
		host = hh
	}
	if host == "" || len(host) > 253 {
		return false
	}
	if net.ParseIP(host) != nil {
		return true
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// printableWithout reports whether s is printable ASCII (spaces allowed
// unless banned) and has none of the characters in banned.
func printableWithout(s, banned string) bool {
	for _, r := range s {
		if r < 0x20 || r > 0x7e || strings.ContainsRune(banned, r) {
			return false
		}
	}
	return true
}

// short quotes nothing and cuts s to a length that fits a message.
func short(s string) string {
	return core.ClipBytes(s, 60, core.Ellipsis)
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
	return fmt.Sprintf("halo.Config{InstanceURL:%q Tenant:%q ClientID:%q ClientSecret:%s Scope:%q NoteOutcome:%q AgentClientID:%q WebhookUser:%q WebhookPassword:%s AuthURL:%q}",
		c.InstanceURL, c.Tenant, c.ClientID, redactedIfSet(c.ClientSecret), c.Scope, c.NoteOutcome, c.AgentClientID, c.WebhookUser, redactedIfSet(c.WebhookPassword), c.AuthURL)
}

// GoString is String, so that %#v does not print the secrets either.
func (c Config) GoString() string { return c.String() }

// LogValue describes c in slog records without its secrets.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("instance_url", c.InstanceURL),
		slog.String("tenant", c.Tenant),
		slog.String("client_id", c.ClientID),
		slog.String("client_secret", redactedIfSet(c.ClientSecret)),
		slog.String("webhook_password", redactedIfSet(c.WebhookPassword)),
	)
}

var (
	_ fmt.Stringer   = Config{}
	_ fmt.GoStringer = Config{}
	_ slog.LogValuer = Config{}
)
