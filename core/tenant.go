package core

import "time"

// Tenant is one MSP. Everything else in the store hangs off a tenant, and
// every query names one.
type Tenant struct {
	ID        string
	Slug      string // short unique name used in end-user URLs, e.g. "acme-it"
	Name      string // shown to end users: "Acme IT"
	Country   string // ISO 3166 region used to read national phone numbers; "" means "US"
	Branding  Branding
	SMSFrom   string // E.164 sender for SMS and calls; "" uses the server default
	CreatedAt time.Time
}

// Branding is what end users see in messages and on link pages.
type Branding struct {
	SenderName   string `json:"sender_name,omitempty"`   // "" means the tenant name
	PrimaryColor string `json:"primary_color,omitempty"` // CSS hex, "" means the default
	AccentColor  string `json:"accent_color,omitempty"`
	LogoDataURI  string `json:"logo,omitempty"` // data: URI so pages load no third-party resource
	SupportPhone string `json:"support_phone,omitempty"`
	// GradientFrom and GradientTo are the CSS hex colours of the end-user
	// page background; "" means the primary and accent colours.
	GradientFrom string `json:"gradient_from,omitempty"`
	GradientTo   string `json:"gradient_to,omitempty"`
	// TimeZone is the IANA zone ("Europe/Berlin") every time the tenant's
	// pages show is in, for technicians and end users alike; "" is UTC.
	TimeZone string `json:"time_zone,omitempty"`
	// Messages holds the tenant's own message templates by name ("sms_code",
	// "email_link", …); a name without an entry uses the built-in template.
	Messages map[string]MessageTemplate `json:"messages,omitempty"`
}

// MessageTemplate is a tenant's own wording of one end-user message, in
// text/template syntax over MessageData. It is checked when saved (see
// assets.CheckMessageTemplate) and the built-in template is used whenever it
// cannot be rendered.
type MessageTemplate struct {
	Subject string `json:"subject,omitempty"` // emails only; "" keeps the built-in subject
	Body    string `json:"body"`              // the SMS or email text, or the voice phrases one per line
}

// DisplayName returns the name end users see for the tenant.
func (t Tenant) DisplayName() string {
	if t.Branding.SenderName != "" {
		return t.Branding.SenderName
	}
	return t.Name
}

// Region returns the phone-number region of the tenant, "US" by default.
func (t Tenant) Region() string {
	if t.Country == "" {
		return "US"
	}
	return t.Country
}

// Client is a customer company of the MSP (a PSA company), mirrored locally.
type Client struct {
	ID        string
	TenantID  string
	Name      string
	PSAKind   string // "" for a local client; else the PSA descriptor id
	PSARef    string // the company's id in that PSA
	CreatedAt time.Time
	DeletedAt time.Time // zero unless deleted (softly: history keeps it)
}

// Integration is one PSA or provider connection of a tenant. Config holds the
// connection's settings as JSON; it is encrypted before it reaches the store.
type Integration struct {
	ID        string
	TenantID  string
	Kind      string // descriptor id, e.g. "connectwise", "twilio"
	Name      string
	Config    []byte // plaintext JSON in memory; ciphertext at rest
	CreatedAt time.Time
	UpdatedAt time.Time
}
