package core

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text from outside the message templates — a ticket reference typed in
// the console or read from a PSA, a contact's or technician's name synced
// from a PSA — must not let anyone write to a caller under the MSP's name:
// "code 638084 for ticket <img …> Call +1 555 0199 now" is a phishing
// message from the MSP's own number. Such text reaches a message (SMS,
// email, voice) or the link page only in a checked form: a ticket
// reference that matches TicketRefPattern, a name that looks like a name.
// Anything else is left out of the message (the history and the PSA note,
// which only technicians read, keep the reference as given).

// TicketRefPattern is the form of a ticket reference a technician may type:
// letters, digits, '#' and '-', at most MaxTicketRefTyped of them.
const TicketRefPattern = `^[A-Za-z0-9#-]{1,20}$`

// MaxTicketRefTyped is the longest ticket reference a technician may type.
const MaxTicketRefTyped = 20

var ticketRefRE = regexp.MustCompile(TicketRefPattern)

// ValidTicketRef reports whether ref has the form of TicketRefPattern.
func ValidTicketRef(ref string) bool { return ticketRefRE.MatchString(ref) }

// CheckTicketRef refuses a typed ticket reference that is not of the form
// of TicketRefPattern, with a message for the technician. "" (no ticket)
// passes.
func CheckTicketRef(ref string) error {
	if ref == "" || ValidTicketRef(ref) {
		return nil
	}
	return Errorf(KindInvalid, "a ticket reference is letters, digits, '#' and '-', at most %d (e.g. 48213 or T-48213); it is shown to the caller, so nothing else is allowed", MaxTicketRefTyped)
}

// MessageTicketRef returns ref as a message may show it: ref itself when
// it has the form of TicketRefPattern, else "" (the message then names no
// ticket). A PSA's own reference that does not fit stays in the history
// and the note but never reaches the caller.
func MessageTicketRef(ref string) string {
	if ValidTicketRef(ref) {
		return ref
	}
	return ""
}

// maxMessageName is the longest name a message shows.
const maxMessageName = 40

// MessageName returns a person's name as a message may show it: the name,
// trimmed, when it is at most 40 characters of letters, combining marks,
// spaces and the punctuation of names (apostrophes, hyphens, full stops);
// else "" (the message then names nobody). Digits, '@', ':', '/' and markup
// are what a phone number, an address or a link needs, so a name holding
// any of them is not shown.
func MessageName(name string) string {
	name = strings.Join(strings.Fields(name), " ")
	if name == "" || utf8.RuneCountInString(name) > maxMessageName {
		return ""
	}
	for _, r := range name {
		switch {
		case unicode.IsLetter(r), unicode.Is(unicode.Mn, r), unicode.Is(unicode.Mc, r):
		case r == ' ', r == '\'', r == '\u2019', r == '-', r == '.':
		default:
			return ""
		}
	}
	return name
}

// OptOutNotice is the carrier opt-out wording (CTIA Messaging Principles;
// Twilio's A2P rules) an MSP's first text to a number carries.
const OptOutNotice = "Reply STOP to opt out."

// CarrierWording makes an SMS text meet the carrier rules whatever
// template wrote it: it names the sender (the MSP, prefixed as "Name: "
// when the text does not name it), and the first text to a number says how
// to opt out (OptOutNotice, unless the text already mentions STOP); the
// engine counts a text as the first when none went to the number in a year.
// Later texts skip the notice to stay within one segment.
func CarrierWording(text, sender string, first bool) string {
	if sender != "" && !strings.Contains(strings.ToLower(text), strings.ToLower(sender)) {
		text = sender + ": " + text
	}
	if first && !strings.Contains(strings.ToUpper(text), "STOP") {
		text = strings.TrimRight(text, " ") + " " + OptOutNotice
	}
	return text
}
