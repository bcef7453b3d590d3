package core

import "time"

// Method is how a challenge reaches the end user.
type Method string

// The methods the engine ships with. More (pushes, portal, workstation
// prompt) are added by registering a Provider.
const (
	MethodSMSCode   Method = "sms_code"
	MethodSMSLink   Method = "sms_link"
	MethodEmailLink Method = "email_link"
	MethodEmailCode Method = "email_code"
	MethodVoiceCode Method = "voice_code"
)

var knownMethods = map[Method]bool{
	MethodSMSCode: true, MethodSMSLink: true, MethodEmailLink: true,
	MethodEmailCode: true, MethodVoiceCode: true, MethodWorkstationPrompt: true,
	MethodDuoPush: true, MethodMicrosoftPush: true,
}

// Known reports whether m is a method this build knows by name.
func (m Method) Known() bool { return knownMethods[m] }

// Status is where a verification stands.
//
//	pending → sent → verified | failed | expired | cancelled
type Status string

// Verification statuses.
const (
	StatusPending   Status = "pending"
	StatusSent      Status = "sent"
	StatusVerified  Status = "verified"
	StatusFailed    Status = "failed"
	StatusExpired   Status = "expired"
	StatusCancelled Status = "cancelled"
)

// Open reports whether a verification in status s can still be answered.
func (s Status) Open() bool { return s == StatusPending || s == StatusSent }

// SecretKind is what the end user gets: a code to read back, or a link to open.
type SecretKind string

// Secret kinds.
const (
	SecretCode SecretKind = "code"
	SecretLink SecretKind = "link"
)

// Verification is one challenge sent to one contact.
//
// The secret is bound to this verification alone (security.md §3): SecretHash
// is HMAC-SHA-256(server key, id ‖ channel ‖ code) for codes, and
// LinkTokenHash is SHA-256(token) for links. Neither secret is ever stored.
type Verification struct {
	ID            string
	TenantID      string
	ClientID      string
	ContactID     string
	DestinationID string
	DestKind      DestinationKind
	Destination   string // normalised value, kept for binding and rate limits; never shown unmasked
	Method        Method
	TicketRef     string // PSA ticket reference, "" when started outside a ticket
	// IntegrationID is the PSA integration TicketRef belongs to; when set,
	// the result is written to that ticket as a note (through the outbox).
	IntegrationID string
	TechnicianID  string
	// Purpose is why it was started (PurposeReset before a password or MFA
	// reset); the policy's minimum assurance for it applies.
	Purpose Purpose
	// Level is the assurance this verification reaches when it differs
	// from its method's: AssuranceStrong for a Duo push that Duo sent as a
	// Verified Duo Push (security.md §9). "" means MethodAssurance(Method).
	Level          Assurance
	Status         Status
	SecretHash     []byte // HMAC of the code: read-back code, or technician-read code on a link
	LinkTokenHash  []byte // SHA-256 of the link token; nil for code methods
	Attempts       int    // wrong answers so far; a resend does not reset it
	MaxAttempts    int
	Sends          int // first send + resends
	Note           string
	Detail         string // result detail shown to technicians, e.g. "recipient opted out"
	DeliveryStatus string // provider's last status, e.g. Twilio "delivered"
	ProviderRef    string // provider's id for the last send, e.g. Twilio MessageSid
	CreatedAt      time.Time
	SentAt         time.Time // last send; zero until the first send is queued
	ExpiresAt      time.Time
	CompletedAt    time.Time // zero while open
	VerifiedUntil  time.Time // shield end; zero unless verified
}

// EffectiveStatus returns the status as of now: an open verification past its
// expiry reads as expired even before anything rewrote its row.
func (v Verification) EffectiveStatus(now time.Time) Status {
	if v.Status.Open() && !now.Before(v.ExpiresAt) {
		return StatusExpired
	}
	return v.Status
}

// MaskedDestination returns the destination as technicians see it.
func (v Verification) MaskedDestination() string { return MaskDestination(v.DestKind, v.Destination) }

// Send is one delivery of a secret, counted for the rate limits.
type Send struct {
	ID             string
	TenantID       string
	VerificationID string
	ContactID      string
	Destination    string
	TechnicianID   string
	Method         Method
	At             time.Time
}

// SendStatsQuery asks for what a send is checked against before it is made
// (security.md §1.2, §6): the sends in the last hour to the contact, to the
// destination and by the technician, the tenant's sends in the last day,
// whether the destination had any send in the last year (the carrier
// notice goes with the first), the contact's consecutive failures on the
// destination's kind, whether the channel is misconfigured and whether the
// destination opted out of texts. Hour, Day and Year are the windows' starts.
type SendStatsQuery struct {
	ContactID    string
	Destination  string
	TechnicianID string
	Kind         DestinationKind
	Hour         time.Time
	Day          time.Time
	Year         time.Time
	// Channel names the message channel (ChannelSMS, …) whose open
	// misconfiguration SendStats.ChannelIssue reports.
	Channel string
}

// SendStats answers a SendStatsQuery.
type SendStats struct {
	ContactHour, DestinationHour, TechnicianHour, TenantDay int
	// DestinationYear is whether the destination was sent anything since
	// Year.
	DestinationYear bool
	Failures        int
	// ChannelIssue is whether Channel has an open misconfiguration;
	// OptedOut whether Destination (a phone) has opted out of texts.
	ChannelIssue, OptedOut bool
	// Open is how many of the contact's verifications are open in the
	// store (pending or sent, expired or not), as LockOpenVerifications
	// would return them.
	Open int
}

// SendFilter selects sends for counting. Empty fields match everything;
// Since is required.
type SendFilter struct {
	ContactID    string
	Destination  string
	TechnicianID string
	Method       Method // "" counts every method
	Since        time.Time
}
