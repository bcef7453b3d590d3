package core

import (
	"context"
	"time"
)

// Sender delivers outbound messages of one kind (SMS, voice, email).
// core/twilio and core/smtp implement it.
//
// Send returns the provider's id for the message (e.g. a Twilio MessageSid).
// A failure that retrying cannot fix is a *PermanentError; any other error is
// retried by the outbox with backoff. Send must honour ctx.
type Sender interface {
	Send(ctx context.Context, m Outbound) (ref string, err error)
}

// SenderFunc is a function as a Sender. It lets the server wire a sender
// that exists only after the engine does (the web layer acting on inbound
// PSA events).
type SenderFunc func(ctx context.Context, m Outbound) (string, error)

// Send implements Sender.
func (f SenderFunc) Send(ctx context.Context, m Outbound) (string, error) { return f(ctx, m) }

// MessageData is what message templates see.
type MessageData struct {
	TenantName     string // the MSP's display name
	ContactName    string
	TechnicianName string
	TicketRef      string
	Code           string // the code to read back, "" for links
	CodeSpoken     string // the code with separators for voice, e.g. "1, 2, 3, 4, 5, 6"
	Link           string // the one-click URL, "" for codes
	ExpiresMinutes int
	Branding       Branding
	// Destination is the last two digits of the number an opt-in form
	// asks about ("" for none), and Channel how the form went, in words
	// (PSA notes only).
	Destination string
	Channel     string

	// Account, DaysLeft and ExpiresOn are the password notices' (notices.go):
	// the directory account (sAMAccountName), the days before its password
	// expires (0 on the day) and that day as the tenant's pages write dates.
	// Verification messages leave them empty.
	Account   string
	DaysLeft  int
	ExpiresOn string
}

// Rendered is a message body produced from a template.
type Rendered struct {
	Subject string
	Text    string
	HTML    string
	Say     []string
}

// Renderer turns a named message template and its data into a message. The
// names are the Method values ("sms_code", "email_link", …). assets
// implements it with embedded templates.
type Renderer interface {
	Render(name string, d MessageData) (Rendered, error)
}

// EventType names a state change the engine announces.
type EventType string

// Event types.
const (
	EventVerificationStarted   EventType = "verification.started"
	EventVerificationSent      EventType = "verification.sent"
	EventVerificationDelivery  EventType = "verification.delivery"
	EventVerificationVerified  EventType = "verification.verified"
	EventVerificationFailed    EventType = "verification.failed"
	EventVerificationExpired   EventType = "verification.expired"
	EventVerificationCancelled EventType = "verification.cancelled"
	EventVerificationAttempt   EventType = "verification.attempt_failed"
	EventVerificationResent    EventType = "verification.resent"
	// EventVerificationNote: the note of a closed verification on its PSA
	// ticket was written, failed, or waits for a retry or a fix
	// (Engine.TicketNotes says which).
	EventVerificationNote EventType = "verification.note"
	// EventTicketAdded: a PSA reported a new ticket that the policy acts on
	// (Policy.OnNewTicket); VerificationID is empty.
	EventTicketAdded EventType = "ticket.added"
	// EventTechnicianSignedOut: every session of technician TechnicianID
	// ended (disabled, password or authenticator reset, signed out
	// everywhere); live sockets of that technician close at once.
	// ContactID and VerificationID are empty.
	EventTechnicianSignedOut EventType = "technician.signed_out"
	// EventTechnicianChanged: technician TechnicianID's row changed
	// without ending its sessions (name, role, re-enabled, a sign-in's
	// counters): caches of signed-in technicians drop it. Nothing is shown
	// to watchers. ContactID and VerificationID are empty.
	EventTechnicianChanged EventType = "technician.changed"
	// EventTechVerifyChanged: a technician check (#verify) of the tenant
	// was opened, claimed, assigned, matched, dismissed or closed; the
	// tech-verify inboxes refetch. Only TenantID and At are set: the
	// event says nothing about who texted (watchers of the inbox see the
	// list through its API, as the technician they are).
	EventTechVerifyChanged EventType = "techverify.changed"
	// EventOutboxChanged: a message kept in the tenant's dev outbox (dev
	// delivery mode, or a channel not set up) was written; the dev outbox
	// panel and page refetch GET /api/v1/outbox. Only TenantID and At are
	// set: the message itself never leaves the database this way (other
	// nodes hear of events through PostgreSQL notifications).
	EventOutboxChanged EventType = "outbox.changed"
	// EventTechCheckAnswered: a Windows user answered the tray's "Verify
	// my technician" for technician TechnicianID about the call with
	// contact ContactID (TicketRef where one is known): Answer is the
	// TechCheckAnswer, Reason the words the technician's card shows. It
	// goes to that technician's pages only.
	EventTechCheckAnswered EventType = "techcheck.answered"
)

// Event is a state change, published after its transaction commits so that
// watchers never see a change that was rolled back.
type Event struct {
	Type           EventType `json:"type"`
	TenantID       string    `json:"tenant_id"`
	ContactID      string    `json:"contact_id"`
	TicketRef      string    `json:"ticket_ref,omitempty"`
	VerificationID string    `json:"verification_id"`
	Status         Status    `json:"status"`
	At             time.Time `json:"at"`
	// TechnicianID is set on technician events (EventTechnicianSignedOut,
	// EventTechnicianChanged, EventTechCheckAnswered),
	// and Reason says why, in words the technician's page shows.
	TechnicianID string `json:"technician_id,omitempty"`
	Reason       string `json:"reason,omitempty"`
	// Answer is set on EventTechCheckAnswered.
	Answer TechCheckAnswer `json:"answer,omitempty"`
}

// Publisher fans events out to whoever watches (web sockets, other nodes).
// Publish must not block the engine for long.
type Publisher interface {
	Publish(ctx context.Context, e Event)
}

// Barrier is implemented by publishers that reach other nodes
// (core/live.PGBridge). Barrier returns once every other node has heard
// every event and change committed before the call, or an error when some
// did not in a short time; the engine calls it after revoking a
// technician's access, so that the revocation holds for the technician's
// next request on any node, not only on the one that made it.
type Barrier interface {
	Barrier(ctx context.Context) error
}

// PublisherFunc adapts a function to Publisher.
type PublisherFunc func(ctx context.Context, e Event)

// Publish calls f.
func (f PublisherFunc) Publish(ctx context.Context, e Event) { f(ctx, e) }
