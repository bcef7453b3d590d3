package connectwise

import (
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/countersign/countersign/core"
)

// Config is the settings of one ConnectWise PSA integration; the JSON keys
// are the descriptor's field names. PrivateKey and ClientID are secrets:
// [Config.String] and [Config.LogValue] redact them, and no error or log
// line of this package contains them.
type Config struct {
	// Site is the ConnectWise host technicians sign in to, without scheme
	// or path: "na.myconnectwise.net" in the cloud, or the MSP's own host
	// ("cw.msp.example", optionally with a port) on premises. A pasted
	// "https://na.myconnectwise.net/" is accepted and trimmed.
	Site string `json:"site"`
	// APIHost overrides the REST API host. "" derives it: "api-" + Site for
	// ConnectWise's cloud (reference §1), Site itself on premises.
	APIHost string `json:"api_host,omitempty"`
	// CompanyID is the company typed on the ConnectWise login page.
	CompanyID string `json:"company_id"`
	// PublicKey and PrivateKey are an API member's key pair.
	PublicKey  string `json:"public_key"`
	PrivateKey string `json:"private_key"`
	// ClientID is the integration's clientId GUID from
	// developer.connectwise.com, sent on every call. ConnectWise asks for
	// it to be kept like a password.
	ClientID string `json:"client_id"`
	// PhoneRegion is the ISO 3166 country for phone numbers stored without
	// a country code; "" means "US".
	PhoneRegion string `json:"phone_region,omitempty"`
	// Codebase is the tenant's codebase ("v2025_1/"), stored when the
	// integration is set up ([Client.Codebase] finds it). "" means the
	// client discovers it on its first call. When set, a cold client skips
	// that call — a pod's first load is one call cheaper — and a codebase
	// ConnectWise no longer routes (after an upgrade) is still discovered
	// again on the 404.
	Codebase string `json:"codebase,omitempty"`
	// Origins lists the other addresses technicians open ConnectWise at,
	// separated by spaces or commas: hosts ("eu.myconnectwise.net",
	// "cw.msp.example:8443") or https origins. The pod accepts ConnectWise's
	// messages from, and may be framed by, the site and these only.
	Origins string `json:"origins,omitempty"`
	// NoteVisibility is where ConnectWise shows the verification notes:
	// "internal" (Internal Analysis, technicians only; the default for ""),
	// "discussion" (Detail Description, which the customer sees) or
	// "resolution" (Resolution, which can appear on invoices).
	NoteVisibility string `json:"note_visibility,omitempty"`
	// NoteEmail is whether ConnectWise sends its own e-mail notifications
	// for a note (its processNotifications flag, which with the ticket's
	// automatic e-mail settings can mail the contact): "off" (the default
	// for "") or "on".
	NoteEmail string `json:"note_email,omitempty"`
}

// Note visibilities (Config.NoteVisibility).
const (
	NoteInternal   = "internal"
	NoteDiscussion = "discussion"
	NoteResolution = "resolution"
)

// cloudDomains are the domains of ConnectWise's hosted PSA, whose REST API
// answers only on the "api-" sibling of the sign-in host (reference §1:
// calling the UI host with API keys is refused with code "Security").
var cloudDomains = []string{".myconnectwise.net", ".connectwisedev.com"}

// normalized returns c with Site and APIHost trimmed to a lower-case host
// (and port), the scheme and path of a pasted URL removed.
func (c Config) normalized() Config {
	c.Site = normalizeHost(c.Site)
	c.APIHost = normalizeHost(c.APIHost)
	c.CompanyID = strings.TrimSpace(c.CompanyID)
	c.PublicKey = strings.TrimSpace(c.PublicKey)
	c.PrivateKey = strings.TrimSpace(c.PrivateKey)
	c.ClientID = strings.TrimSpace(c.ClientID)
	c.PhoneRegion = strings.ToUpper(strings.TrimSpace(c.PhoneRegion))
	var origins []string
	for _, o := range strings.FieldsFunc(c.Origins, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		if h := normalizeHost(o); h != "" && !slices.Contains(origins, h) {
			origins = append(origins, h)
		}
	}
	c.Origins = strings.Join(origins, " ")
	c.NoteVisibility = strings.ToLower(strings.TrimSpace(c.NoteVisibility))
	if c.NoteVisibility == "" {
		c.NoteVisibility = NoteInternal
	}
	c.NoteEmail = strings.ToLower(strings.TrimSpace(c.NoteEmail))
	if c.NoteEmail == "" {
		c.NoteEmail = "off"
	}
	if cb := strings.TrimPrefix(strings.TrimSpace(c.Codebase), "/"); cb != "" && !strings.HasSuffix(cb, "/") {
		c.Codebase = cb + "/"
	} else {
		c.Codebase = cb
	}
	return c
}

func normalizeHost(s string) string {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(strings.ToLower(s), "https://"); ok {
		s = rest
	}
	s, _, _ = strings.Cut(s, "/")
	return strings.ToLower(s)
}

// Validate reports the first problem with c as an error of kind
// core.ErrInvalid, in words an admin can act on. It never quotes a secret.
func (c Config) Validate() error {
	c = c.normalized()
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(c.Site)), "http:") {
		return core.Errorf(core.KindInvalid, "site must be reached over https: enter just the host, e.g. na.myconnectwise.net")
	}
	if c.Site == "" {
		return core.Errorf(core.KindInvalid, "site is required: the host you sign in to ConnectWise at, e.g. na.myconnectwise.net")
	}
	if !validHost(c.Site) {
		return core.Errorf(core.KindInvalid, "site %q is not a host name: enter just the host, e.g. na.myconnectwise.net", c.Site)
	}
	for _, o := range strings.Fields(c.Origins) {
		if !validHost(o) {
			return core.Errorf(core.KindInvalid, "other ConnectWise address %q is not a host name: enter hosts such as eu.myconnectwise.net, separated by spaces", o)
		}
	}
	if c.APIHost != "" && !validHost(c.APIHost) {
		return core.Errorf(core.KindInvalid, "API host %q is not a host name, e.g. api-na.myconnectwise.net", c.APIHost)
	}
	if c.CompanyID == "" {
		return core.Errorf(core.KindInvalid, "company id is required: the company you type on the ConnectWise login page")
	}
	if !printableWithout(c.CompanyID, "+:/?#%;,\"\\ ") {
		return core.Errorf(core.KindInvalid, "company id %q has characters a ConnectWise company id cannot have", c.CompanyID)
	}
	if c.PublicKey == "" || c.PrivateKey == "" {
		return core.Errorf(core.KindInvalid, "public key and private key are required: generate them on the API member's API Keys tab")
	}
	if !printableWithout(c.PublicKey, ": ") || !printableWithout(c.PrivateKey, " ") {
		return core.Errorf(core.KindInvalid, "public or private key has characters an API key cannot have: paste them again")
	}
	if c.ClientID == "" {
		return core.Errorf(core.KindInvalid, "client id is required: the integration's clientId from developer.connectwise.com")
	}
	if !printableWithout(c.ClientID, " ") {
		return core.Errorf(core.KindInvalid, "client id has characters a clientId cannot have: paste it again")
	}
	if c.PhoneRegion != "" && (len(c.PhoneRegion) != 2 || !isUpperASCII(c.PhoneRegion)) {
		return core.Errorf(core.KindInvalid, "phone region %q must be a two-letter country code such as US or GB", c.PhoneRegion)
	}
	switch c.NoteVisibility {
	case NoteInternal, NoteDiscussion, NoteResolution:
	default:
		return core.Errorf(core.KindInvalid, "note visibility %q is not one ConnectWise has: enter internal (technicians only), discussion (the customer sees it) or resolution", c.NoteVisibility)
	}
	if c.NoteEmail != "off" && c.NoteEmail != "on" {
		return core.Errorf(core.KindInvalid, "note e-mail %q must be off (ConnectWise sends no e-mail for Countersign's notes) or on", c.NoteEmail)
	}
	if c.Codebase != "" && !codebasePattern.MatchString(c.Codebase) {
		return core.Errorf(core.KindInvalid, "codebase %q is not a ConnectWise codebase such as v2025_1/: leave it empty to have it discovered", c.Codebase)
	}
	return nil
}

// uiHosts returns the hosts technicians open ConnectWise at: the site,
// then Origins.
func (c Config) uiHosts() []string {
	out := []string{c.Site}
	for _, h := range strings.Fields(c.Origins) {
		if h != c.Site {
			out = append(out, h)
		}
	}
	return out
}

// apiHost returns the host REST calls go to.
func (c Config) apiHost() string {
	if c.APIHost != "" {
		return c.APIHost
	}
	return APIHostFor(c.Site)
}

// APIHostFor returns the REST API host of a ConnectWise site: "api-" + site
// for ConnectWise's cloud ("na.myconnectwise.net" →
// "api-na.myconnectwise.net"), and site itself on premises. A site already
// given as its api- host is returned unchanged.
func APIHostFor(site string) string {
	site = normalizeHost(site)
	host, port, err := net.SplitHostPort(site)
	if err != nil {
		host, port = site, ""
	}
	if strings.HasPrefix(host, "api-") {
		return site
	}
	for _, d := range cloudDomains {
		if strings.HasSuffix(host, d) {
			host = "api-" + host
			if port != "" {
				return net.JoinHostPort(host, port)
			}
			return host
		}
	}
	return site
}

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

// printableWithout reports whether s is printable ASCII and has none of the
// characters in banned.
func printableWithout(s, banned string) bool {
	for _, r := range s {
		if r < 0x21 && r != ' ' || r > 0x7e || strings.ContainsRune(banned, r) {
			return false
		}
	}
	return true
}

func isUpperASCII(s string) bool {
	for _, r := range s {
		if r > unicode.MaxASCII || !unicode.IsUpper(r) {
			return false
		}
	}
	return true
}

const redacted = "[redacted]"

// String describes c without its secrets.
func (c Config) String() string {
	return fmt.Sprintf("connectwise.Config{Site:%q APIHost:%q CompanyID:%q PublicKey:%q PrivateKey:%s ClientID:%s PhoneRegion:%q Codebase:%q Origins:%q NoteVisibility:%q NoteEmail:%q}",
		c.Site, c.APIHost, c.CompanyID, c.PublicKey, redactedIfSet(c.PrivateKey), redactedIfSet(c.ClientID), c.PhoneRegion, c.Codebase, c.Origins, c.NoteVisibility, c.NoteEmail)
}

// GoString is String, so that %#v does not print the secrets either.
func (c Config) GoString() string { return c.String() }

// LogValue describes c in slog records without its secrets.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("site", c.Site),
		slog.String("api_host", c.APIHost),
		slog.String("company_id", c.CompanyID),
		slog.String("public_key", c.PublicKey),
		slog.String("private_key", redactedIfSet(c.PrivateKey)),
		slog.String("client_id", redactedIfSet(c.ClientID)),
		slog.String("codebase", c.Codebase),
		slog.String("origins", c.Origins),
		slog.String("note_visibility", c.NoteVisibility),
		slog.String("note_email", c.NoteEmail),
	)
}

func redactedIfSet(s string) string {
	if s == "" {
		return `""`
	}
	return redacted
}

var (
	_ fmt.Stringer   = Config{}
	_ fmt.GoStringer = Config{}
	_ slog.LogValuer = Config{}
)
