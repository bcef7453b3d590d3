package core

import (
	"strings"
	"time"
)

// Provider is one verification method: what kind of destination it needs,
// what secret it sends, and how it turns a challenge into an outbound
// message. The engine knows methods only through providers, so a new method
// (a Duo push, a portal confirm, a workstation prompt) is a new Provider plus
// a Sender for its OutboxKind.
type Provider interface {
	Method() Method
	DestinationKind() DestinationKind
	Secret() SecretKind
	OutboxKind() OutboxKind
	// Compose builds the message that carries c's secret to the end user.
	Compose(c Challenge) (Outbound, error)
}

// Challenge is what a Provider composes a message from. Code and Link are the
// plaintext secret; they exist only in memory and in the sealed outbox.
type Challenge struct {
	Tenant       Tenant
	Contact      Contact
	Technician   Technician
	Verification Verification
	Policy       Policy
	Code         string // read-back code; "" for links
	Link         string // one-click URL; "" for codes
	Renderer     Renderer
	// StatusCallback is where the provider should report delivery; "" for none.
	StatusCallback string
}

// messageProvider is a Provider that renders the template named after its
// method; the five built-in methods are all of this shape.
type messageProvider struct {
	method Method
	dest   DestinationKind
	secret SecretKind
	kind   OutboxKind
}

// DefaultProviders returns the built-in methods: SMS code and link, email
// link and code, and a voice call reading a code.
func DefaultProviders() []Provider {
	return []Provider{
		messageProvider{MethodSMSCode, DestPhone, SecretCode, OutboxSMS},
		messageProvider{MethodSMSLink, DestPhone, SecretLink, OutboxSMS},
		messageProvider{MethodEmailLink, DestEmail, SecretLink, OutboxEmail},
		messageProvider{MethodEmailCode, DestEmail, SecretCode, OutboxEmail},
		messageProvider{MethodVoiceCode, DestPhone, SecretCode, OutboxVoice},
	}
}

func (p messageProvider) Method() Method                   { return p.method }
func (p messageProvider) DestinationKind() DestinationKind { return p.dest }
func (p messageProvider) Secret() SecretKind               { return p.secret }
func (p messageProvider) OutboxKind() OutboxKind           { return p.kind }

// Compose renders the method's template for c. Names and the ticket
// reference reach the template only in their checked forms (MessageName,
// MessageTicketRef).
func (p messageProvider) Compose(c Challenge) (Outbound, error) {
	lifetime := c.Verification.ExpiresAt.Sub(c.Verification.SentAt)
	data := MessageData{
		TenantName:     c.Tenant.DisplayName(),
		ContactName:    MessageName(c.Contact.FirstName),
		TechnicianName: MessageName(c.Technician.Name),
		TicketRef:      MessageTicketRef(c.Verification.TicketRef),
		Code:           c.Code,
		CodeSpoken:     spokenCode(c.Code),
		Link:           c.Link,
		ExpiresMinutes: int((lifetime + time.Minute - 1) / time.Minute),
		Branding:       c.Tenant.Branding,
	}
	r, err := c.Renderer.Render(string(p.method), data)
	if err != nil {
		return Outbound{}, err
	}
	out := Outbound{
		Kind:           p.kind,
		To:             c.Verification.Destination,
		From:           c.Tenant.SMSFrom,
		FromName:       c.Tenant.DisplayName(),
		Subject:        r.Subject,
		Text:           r.Text,
		HTML:           r.HTML,
		Say:            r.Say,
		StatusCallback: c.StatusCallback,
	}
	switch p.kind {
	case OutboxSMS:
		// Twilio drops a queued SMS older than ValidityPeriod: a code that
		// arrives after it expired only confuses (security.md §6).
		out.ValidityPeriod = lifetime
	case OutboxVoice:
		out.TimeLimit = 60 * time.Second
	}
	return out, nil
}

// spokenCode spaces digits for text-to-speech: "123456" → "1, 2, 3, 4, 5, 6".
func spokenCode(code string) string {
	if code == "" {
		return ""
	}
	parts := make([]string, 0, len(code))
	for _, r := range code {
		parts = append(parts, string(r))
	}
	return strings.Join(parts, ", ")
}

// Interface guards.
var _ Provider = messageProvider{}
