package core

import "time"

// OutboxKind names what an outbox item does when delivered, and so which
// Sender delivers it.
type OutboxKind string

// Outbox kinds.
const (
	OutboxSMS   OutboxKind = "sms"
	OutboxVoice OutboxKind = "voice"
	OutboxEmail OutboxKind = "email"
	// OutboxTicketNote writes a verification's result to its PSA ticket.
	OutboxTicketNote OutboxKind = "ticket_note"
	// OutboxPSATicket creates a ticket in a PSA: one a user logged from
	// the agent's tray.
	OutboxPSATicket OutboxKind = "psa_ticket"
	// OutboxPSAContact creates a contact in a PSA, the person a first
	// ticket from the tray came from when the PSA did not know them yet
	// (their address is at the client's usual domain); once it is
	// delivered the engine records the contact's PSA id on its local
	// contact and queues the ticket (OutboxPSATicket) for it.
	OutboxPSAContact OutboxKind = "psa_contact"
)

// OutboxStatus is where an outbox item stands.
type OutboxStatus string

// Outbox statuses.
const (
	OutboxPending OutboxStatus = "pending"
	OutboxDone    OutboxStatus = "done"
	OutboxDead    OutboxStatus = "dead" // gave up: permanent error or too many attempts
	// OutboxWaiting: the item's channel is misconfigured (see ChannelIssue);
	// it is not retried until an administrator fixes the channel, or a
	// probe finds it working again.
	OutboxWaiting OutboxStatus = "waiting"
)

// OutboxItem is one outbound side effect, written in the same transaction as
// the state change that caused it and delivered afterwards with retries.
//
// Payload is the encoded Outbound message. It can hold a code, so the store
// keeps it encrypted (Sealed) and the engine scrubs it after delivery.
type OutboxItem struct {
	ID             string
	TenantID       string
	Kind           OutboxKind
	VerificationID string // "" for items not tied to a verification
	Sealed         []byte // encrypted payload; nil once scrubbed
	Status         OutboxStatus
	Attempts       int
	NextAttemptAt  time.Time
	LeaseUntil     time.Time // a worker owns the item until then
	LastError      string    // the technical cause, for the outbox view and logs
	// Reason is why the last attempt failed in words a technician reads
	// ("the PSA refused the note: no such ticket"); "" after a success.
	Reason      string
	ProviderRef string // provider's id once sent
	Dev         bool   // dev delivery mode: kept for display, never sent
	// Channel is what a waiting item waits for (ChannelSMS, …,
	// PSAChannel(id)); "" for items that are not waiting.
	Channel   string
	CreatedAt time.Time
	DoneAt    time.Time

	// checked, on an item sent straight after the commit that queued it,
	// is what that transaction read of the tenant's rules, settings and
	// channel: the send needs no read of its own (never stored).
	checked *deliveryFacts
	// sent is the message an attempt delivered, for the follow-up of a
	// created PSA contact (never stored).
	sent *Outbound
}

// Outbound is an outgoing message as the senders see it.
type Outbound struct {
	Kind     OutboxKind `json:"kind"`
	To       string     `json:"to"`   // E.164 or email address
	From     string     `json:"from"` // E.164 sender; "" means the sender's default
	FromName string     `json:"from_name,omitempty"`
	Subject  string     `json:"subject,omitempty"`
	Text     string     `json:"text"`           // SMS body, email text part, or words for voice
	HTML     string     `json:"html,omitempty"` // email HTML part
	Say      []string   `json:"say,omitempty"`  // voice: phrases read in order, with pauses between
	// ValidityPeriod caps how long the message may wait in the provider's
	// queue (Twilio ValidityPeriod); zero means the provider's default.
	ValidityPeriod time.Duration `json:"validity,omitempty"`
	// TimeLimit caps a call's length (Twilio TimeLimit), for cost control.
	TimeLimit time.Duration `json:"time_limit,omitempty"`
	// StatusCallback is where the provider reports delivery; "" for none.
	StatusCallback string `json:"status_callback,omitempty"`

	// Ticket notes (OutboxTicketNote): To is the ticket's reference in the
	// PSA of integration Integration of tenant Tenant; Text is the note.
	Tenant      string `json:"tenant,omitempty"`
	Integration string `json:"integration,omitempty"`

	// New tickets (OutboxPSATicket): Tenant and Integration as for notes;
	// the ticket is for the contact ContactRef of company CompanyRef, with
	// Subject as its summary and Text as its description.
	CompanyRef string `json:"company_ref,omitempty"`
	ContactRef string `json:"contact_ref,omitempty"`

	// New contacts (OutboxPSAContact): Tenant, Integration and CompanyRef
	// as for tickets; the contact is FirstName LastName with the e-mail
	// address To. Subject and Text are the ticket to create for it next,
	// ContactID the local contact to give the PSA's id and SID the Windows
	// user bound to it (for the audit).
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	ContactID string `json:"contact_id,omitempty"`
	SID       string `json:"sid,omitempty"`

	// Corrected numbers (OutboxContactPhone): Phone replaces OldPhone
	// on the PSA contact To, labelled PhoneLabel.
	Phone      string `json:"phone,omitempty"`
	OldPhone   string `json:"old_phone,omitempty"`
	PhoneLabel string `json:"phone_label,omitempty"`
}
