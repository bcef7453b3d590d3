package core

import "fmt"

// Assurance is how much a method shows about the person on the call, in
// the order of security.md §9: a mailbox, then a phone number (PSTN,
// restricted), then an approve-only push to an enrolled device, then
// number matching on the user's own workstation. A policy can require a
// minimum (issue 19.4), for every verification of a client or only for
// those before a password or MFA reset ([Purpose]).
//
// §9 labels an approve-only push and an SMS code both "Medium"; they are
// ranked here push above phone because a push needs the enrolled device,
// not just the number, which a SIM swap or a port moves. A Verified Duo
// Push (the caller types into Duo Mobile the code the technician reads)
// is "Strong" in §9, with the workstation prompt: it is a Duo push's level
// when the Duo account asks for it and Duo gives it for the user
// ([Verification.Level]). "" is no minimum.
type Assurance string

// The assurance levels, weakest first.
const (
	AssuranceMailbox Assurance = "mailbox" // e-mail link or code
	AssurancePhone   Assurance = "phone"   // SMS or voice code, SMS link
	AssurancePush    Assurance = "push"    // Duo or Microsoft Authenticator push, approve-only
	AssuranceStrong  Assurance = "strong"  // workstation prompt, Verified Duo Push (number matching)
)

var assuranceRank = map[Assurance]int{"": 0, AssuranceMailbox: 1, AssurancePhone: 2, AssurancePush: 3, AssuranceStrong: 4}

// Known reports whether a is a level (or "" for none).
func (a Assurance) Known() bool { _, ok := assuranceRank[a]; return ok }

// AtLeast reports whether a meets the minimum min.
func (a Assurance) AtLeast(min Assurance) bool { return assuranceRank[a] >= assuranceRank[min] }

// requirement says in words which methods meet a as a minimum.
func (a Assurance) requirement() string {
	switch a {
	case AssurancePhone:
		return "a text, call, push or workstation prompt"
	case AssurancePush:
		return "a push or workstation prompt"
	case AssuranceStrong:
		return "a Verified Duo Push or workstation prompt"
	}
	return "any method"
}

var methodAssurance = map[Method]Assurance{
	MethodEmailLink:         AssuranceMailbox,
	MethodEmailCode:         AssuranceMailbox,
	MethodSMSCode:           AssurancePhone,
	MethodSMSLink:           AssurancePhone,
	MethodVoiceCode:         AssurancePhone,
	MethodDuoPush:           AssurancePush,
	MethodMicrosoftPush:     AssurancePush,
	MethodWorkstationPrompt: AssuranceStrong,
}

// MethodAssurance returns m's level; a method this build does not know
// ranks below every level.
func MethodAssurance(m Method) Assurance { return methodAssurance[m] }

// AssuranceLevel returns the level v reaches: its Level, else its method's.
func (v Verification) AssuranceLevel() Assurance {
	if v.Level != "" {
		return v.Level
	}
	return MethodAssurance(v.Method)
}

// verifiedDuoPush is what a Duo push is called when Duo sent it as a
// Verified Duo Push.
const verifiedDuoPush = "Verified Duo Push"

// AuditAssuranceTooLow is the audit action of a verification answered with
// a method below the policy's minimum, which therefore did not count.
const AuditAssuranceTooLow = "verification.assurance_too_low"

// Purpose is why a verification is made. The technician marks it when
// starting one; the self-serve page's reset is always PurposeReset.
type Purpose string

// Purposes.
const (
	PurposeIdentity Purpose = ""      // who is calling
	PurposeReset    Purpose = "reset" // before a password or MFA reset
)

// Known reports whether p is a purpose this build knows.
func (p Purpose) Known() bool { return p == PurposeIdentity || p == PurposeReset }

// checkPurpose refuses an unknown purpose.
func checkPurpose(p Purpose) error {
	if !p.Known() {
		return Errorf(KindInvalid, "purpose must be empty (identity check) or %q (password or MFA reset), not %q", PurposeReset, p)
	}
	return nil
}

// RequiredAssurance returns the minimum the policy sets for a verification
// made for purpose: the stricter of MinAssurance and, for a reset,
// ResetMinAssurance.
func (p Policy) RequiredAssurance(purpose Purpose) Assurance {
	req := p.MinAssurance
	if purpose == PurposeReset && !req.AtLeast(p.ResetMinAssurance) {
		req = p.ResetMinAssurance
	}
	return req
}

// CheckAssurance reports, as a KindAssuranceTooLow error, whether method m
// is below the policy's minimum for purpose; nil when it meets it.
func (p Policy) CheckAssurance(m Method, purpose Purpose) error {
	return p.checkLevel(MethodAssurance(m), methodName(m), purpose)
}

// checkLevel is CheckAssurance for a level, what names the way in the
// refusal ("Duo push").
func (p Policy) checkLevel(level Assurance, what string, purpose Purpose) error {
	if level.AtLeast(p.RequiredAssurance(purpose)) {
		return nil
	}
	return &Error{Kind: KindAssuranceTooLow, Message: p.assuranceWords(purpose) + "; " + what + " is not enough"}
}

// checkVerification is CheckAssurance for what v reached, for purpose.
func (p Policy) checkVerification(v Verification, purpose Purpose) error {
	what := methodName(v.Method)
	if v.Method == MethodDuoPush && v.Level == AssuranceStrong {
		what = verifiedDuoPush
	}
	return p.checkLevel(v.AssuranceLevel(), what, purpose)
}

// maxAssurance is the most method m can reach: a Duo push's level is its
// account's (duoAssurance), which a policy cannot know, so a Duo push may
// be the way to a strong minimum; whether it is, is checked at each push.
func maxAssurance(m Method) Assurance {
	if m == MethodDuoPush {
		return AssuranceStrong
	}
	return MethodAssurance(m)
}

// duoAssurance is the most a Duo push of account a can reach: Strong when
// a asks Duo for Verified Duo Push, else an approve-only push's.
func duoAssurance(a DuoAccount) Assurance {
	if a.VerifiedPush {
		return AssuranceStrong
	}
	return AssurancePush
}

// BelowMinimumWords says why method m may not be used for purpose, as the
// card's destinations table shows it beside a disabled button: "below
// this client's minimum for password and MFA resets (a push or
// workstation prompt)"; "" when m meets the minimum. It agrees with
// CheckAssurance, which refuses the same starts in its own words.
func (p Policy) BelowMinimumWords(m Method, purpose Purpose) string {
	if p.CheckAssurance(m, purpose) == nil {
		return ""
	}
	req := p.RequiredAssurance(purpose)
	scope := "every verification"
	if purpose == PurposeReset && req != p.MinAssurance {
		scope = "password and MFA resets"
	}
	return "below this client's minimum for " + scope + " (" + req.requirement() + ")"
}

// assuranceWords is the rule a refusal names: "this client requires a
// push or workstation prompt for password and MFA resets".
func (p Policy) assuranceWords(purpose Purpose) string {
	req := p.RequiredAssurance(purpose)
	s := "this client requires " + req.requirement()
	if purpose == PurposeReset && req != p.MinAssurance {
		s += " for password and MFA resets"
	}
	return s
}

// methodName names m as ticket notes do.
func methodName(m Method) string {
	if w, ok := methodWords[m]; ok {
		return w
	}
	return fmt.Sprintf("%q", m)
}

// validateAssurance is Validate's part for the minimums: known levels, and
// at least one allowed method that meets the strictest of them, so a policy
// cannot leave technicians no way to verify anyone.
func (p Policy) validateAssurance() error {
	for _, a := range []struct {
		name string
		v    Assurance
	}{{"minimum assurance", p.MinAssurance}, {"minimum assurance for resets", p.ResetMinAssurance}} {
		if !a.v.Known() {
			return Errorf(KindInvalid, "%s must be empty, %s, %s, %s or %s, not %q", a.name,
				AssuranceMailbox, AssurancePhone, AssurancePush, AssuranceStrong, a.v)
		}
	}
	strictest := p.RequiredAssurance(PurposeReset)
	ok := false
	for m := range methodAssurance {
		if p.Allows(m) && maxAssurance(m).AtLeast(strictest) {
			ok = true
			break
		}
	}
	if !ok {
		return Errorf(KindInvalid, "none of the allowed methods meets the minimum: %s; allow one of them or lower the minimum",
			p.assuranceWords(PurposeReset))
	}
	if p.OnNewTicket == OnNewTicketAutoSend && p.AutoSendMethod != "" {
		if err := p.CheckAssurance(p.AutoSendMethod, PurposeIdentity); err != nil {
			return Errorf(KindInvalid, "the automatic send method is below the minimum: %s", ErrorMessage(err))
		}
	}
	return nil
}
