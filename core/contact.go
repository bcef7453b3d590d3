package core

import (
	"net/mail"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// DestinationKind says whether a destination is a phone number or an email.
type DestinationKind string

// Destination kinds.
const (
	DestPhone DestinationKind = "phone"
	DestEmail DestinationKind = "email"
)

// Contact is an end user of a client (a PSA contact), mirrored locally.
type Contact struct {
	ID           string
	TenantID     string
	ClientID     string
	FirstName    string
	LastName     string
	Title        string
	PSARef       string // the contact's id in the client's PSA; "" for local
	Destinations []Destination
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// SyncedAt is when a PSA mirror was last read from its PSA; zero for
	// local contacts. A mirror older than MirrorMaxAge is read again.
	SyncedAt time.Time
	// DeletedAt is zero unless the contact was deleted. Deletion is soft:
	// verifications and the audit log keep pointing at the row, reads
	// treat it as missing, and a PSA contact seen again is restored.
	DeletedAt time.Time
}

// Name returns "First Last", trimmed.
func (c Contact) Name() string {
	return strings.TrimSpace(c.FirstName + " " + c.LastName)
}

// Destination returns the contact's destination with id, or ErrNotFound.
func (c Contact) Destination(id string) (Destination, error) {
	for _, d := range c.Destinations {
		if d.ID == id {
			return d, nil
		}
	}
	return Destination{}, Errorf(KindNotFound, "destination %q is not on record for this contact", id)
}

// DefaultDestination returns the contact's default destination of kind k:
// the one marked default, else the first of that kind.
func (c Contact) DefaultDestination(k DestinationKind) (Destination, bool) {
	var first *Destination
	for i := range c.Destinations {
		d := &c.Destinations[i]
		if d.Kind != k {
			continue
		}
		if d.IsDefault {
			return *d, true
		}
		if first == nil {
			first = d
		}
	}
	if first == nil {
		return Destination{}, false
	}
	return *first, true
}

// Destination is one phone number or email address of a contact, with where
// it came from. Security rules send codes only to destinations on record
// (security.md §6), so provenance is kept for every one.
type Destination struct {
	ID        string
	ContactID string
	Kind      DestinationKind
	Value     string // E.164 for phones, lower-case address for emails
	// Raw is a phone's Value as the PSA or a person wrote it when it was
	// set, before it was normalised ("(555) 010-0100"); like SetAt it
	// stays when the same number is written another way. "" for e-mails
	// and rows older than it.
	Raw       string
	Label     string // "Mobile", "Work", …
	IsDefault bool
	Source    string    // "psa:connectwise", "manual", "directory", "demo", …
	SetAt     time.Time // when Value was last set
	SetBy     string    // technician id, integration id or "system"
}

// Masked returns the destination with all but its last characters hidden.
func (d Destination) Masked() string { return MaskDestination(d.Kind, d.Value) }

// MaskDestination hides a phone number but for its last 2 digits, and an
// email's local part but for its first character.
func MaskDestination(k DestinationKind, v string) string {
	switch k {
	case DestPhone:
		if len(v) <= 2 {
			return strings.Repeat("•", len(v))
		}
		return strings.Repeat("•", len(v)-2) + v[len(v)-2:]
	case DestEmail:
		at := strings.LastIndexByte(v, '@')
		if at <= 0 {
			return "•••"
		}
		return v[:1] + strings.Repeat("•", 3) + v[at:]
	case DestWorkstation:
		return "workstation" // v is a SID: not secret, but meaningless to read
	case DestDuo:
		return "Duo user " + v // a username: the technician checks the mapping
	case DestMicrosoft:
		return "Microsoft 365 user " + v // a UPN, as Duo's username
	}
	return "•••"
}

// NormalizePhone parses a phone number as written by a person or a PSA and
// returns it in E.164. region is the ISO 3166 country used for national
// formats ("US" when empty).
func NormalizePhone(raw, region string) (string, error) {
	if region == "" {
		region = "US"
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", Errorf(KindInvalid, "phone number is empty")
	}
	num, err := phonenumbers.Parse(raw, region)
	if err != nil || !phonenumbers.IsPossibleNumber(num) {
		return "", Errorf(KindInvalid, "%q is not a phone number (use international format, e.g. +1 555 010 0100)", raw)
	}
	e := phonenumbers.Format(num, phonenumbers.E164)
	// Some regions' rules call very short numbers possible ("10" in
	// Germany); no number anyone can be texted or called on from abroad
	// has fewer than 7 digits with its country code (found by
	// FuzzNormalizePhone).
	if len(e) < 8 {
		return "", Errorf(KindInvalid, "%q is too short to be a phone number (use international format, e.g. +1 555 010 0100)", raw)
	}
	// E.164 allows at most 15 digits; some regions' rules call longer
	// ones possible ("+49 1000…" in Germany), but no carrier routes them
	// (found by FuzzNormalizePhone).
	if len(e) > 16 {
		return "", Errorf(KindInvalid, "%q has more digits than any phone number (at most 15 with the country code)", raw)
	}
	// A number whose E.164 form reads as another number ("+358 0…": the
	// national prefix after the country code, dropped when parsed again) is
	// ambiguous; a code must not go to whichever one a later read picks
	// (found by FuzzNormalizePhone).
	if again, err := phonenumbers.Parse(e, region); err != nil || phonenumbers.Format(again, phonenumbers.E164) != e {
		return "", Errorf(KindInvalid, "%q is not a phone number (use international format, e.g. +1 555 010 0100)", raw)
	}
	return e, nil
}

// NormalizeEmail validates a single bare address and returns it lower-cased.
func NormalizeEmail(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	a, err := mail.ParseAddress(raw)
	if err != nil || a.Address != raw || !strings.Contains(a.Address[strings.LastIndexByte(a.Address, '@')+1:], ".") {
		return "", Errorf(KindInvalid, "%q is not an email address", raw)
	}
	return strings.ToLower(a.Address), nil
}

// NormalizeDestination normalizes v according to k.
func NormalizeDestination(k DestinationKind, v, region string) (string, error) {
	switch k {
	case DestPhone:
		return NormalizePhone(v, region)
	case DestEmail:
		return NormalizeEmail(v)
	}
	return "", Errorf(KindInvalid, "unknown destination kind %q (want phone or email)", k)
}
