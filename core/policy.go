package core

import (
	"encoding/json"
	"fmt"
	"time"
)

// Policy holds a tenant's verification rules; a client may override the
// tenant default as a whole. Zero fields take the defaults of DefaultPolicy
// when the policy is normalised, so a stored policy written by an older
// version keeps working.
type Policy struct {
	Methods          []Method `json:"methods,omitempty"`     // allowed methods; empty means every method
	CodeDigits       int      `json:"code_digits,omitempty"` // 6–8
	Lifetime         Duration `json:"lifetime,omitempty"`    // code/link lifetime, ≤ 10 minutes (security.md §1)
	MaxAttempts      int      `json:"max_attempts,omitempty"`
	MaxSends         int      `json:"max_sends,omitempty"`       // sends per verification (first send + resends)
	ResendCooldown   Duration `json:"resend_cooldown,omitempty"` // doubles with each resend
	ShieldDuration   Duration `json:"shield_duration,omitempty"` // how long a success keeps the shield green
	HistoryLength    int      `json:"history_length,omitempty"`  // verifications shown per contact
	FailureCap       int      `json:"failure_cap,omitempty"`     // consecutive failures per contact+channel, ≤ 100 (NIST §3.2.2)
	NoteOnNonDefault bool     `json:"note_on_non_default"`       // ask for a note when a non-default destination is used
	NoteRequired     bool     `json:"note_required"`             // …and refuse to send without one
	EmailLinkCode    *bool    `json:"email_link_code,omitempty"` // technician-read code on email links; nil means on
	SMSLinkCode      bool     `json:"sms_link_code"`             // technician-read code on SMS links
	Banner           string   `json:"banner,omitempty"`
	ShowOnLoad       bool     `json:"show_on_load"`
	// AutoCreatePodTechnicians lets a PSA member whom the PSA vouches for in
	// a pod act as a new pod-only technician without signing in first.
	// Only the tenant default's value counts.
	AutoCreatePodTechnicians bool       `json:"auto_create_pod_technicians"`
	Limits                   RateLimits `json:"limits"`
	// Push limits the pushes (Duo) sent to one end user and by one
	// technician (security.md §4); zero fields take the defaults.
	Push PushLimits `json:"push"`
	// OnNewTicket is what a PSA's new-ticket callback does for this
	// client's tickets (one of the OnNewTicket constants; "" nothing), and
	// AutoSendMethod the method of OnNewTicketAutoSend.
	OnNewTicket    string `json:"on_new_ticket,omitempty"`
	AutoSendMethod Method `json:"auto_send_method,omitempty"`
	// PodContactToTicket makes a contact created from the pod on a ticket
	// without a contact the ticket's contact in the PSA.
	PodContactToTicket bool `json:"pod_contact_to_ticket,omitempty"`
	// NotifyOnFailure tells the notification groups that want
	// NotifyVerificationFailed, those of their users on call, when a
	// verification of this client's contacts fails.
	NotifyOnFailure bool `json:"notify_on_failure,omitempty"`
	// MinAssurance is the weakest method any verification of this client
	// may use, and ResetMinAssurance the weakest for one before a password
	// or MFA reset (security.md §9: a minimum per request type); "" sets
	// none. A start below it is refused, and a verification answered below
	// it (the policy changed meanwhile) does not count.
	MinAssurance      Assurance `json:"min_assurance,omitempty"`
	ResetMinAssurance Assurance `json:"reset_min_assurance,omitempty"`
}

// What a new PSA ticket does (Policy.OnNewTicket). Banner and show-on-load
// record the ticket and tell the pods and consoles watching it, which show
// the policy's Banner (and open verification when ShowOnLoad); auto-send
// also starts a verification to the ticket's contact.
const (
	OnNewTicketBanner     = "banner"
	OnNewTicketShowOnLoad = "show_on_load"
	OnNewTicketAutoSend   = "auto_send"
)

// RateLimits are the send quotas of security.md §6. Zero fields take defaults.
type RateLimits struct {
	PerContactHour     int `json:"per_contact_hour,omitempty"`
	PerDestinationHour int `json:"per_destination_hour,omitempty"`
	PerTechnicianHour  int `json:"per_technician_hour,omitempty"`
	PerTenantDay       int `json:"per_tenant_day,omitempty"`
}

// PushLimits are the push-bombing limits of security.md §4. A tenant may
// make them stricter than the defaults, never looser.
type PushLimits struct {
	// PerContact15m: pushes to one end user in 15 minutes (1–3, default 3).
	PerContact15m int `json:"per_contact_15m,omitempty"`
	// PerContactDay: pushes to one end user in 24 hours (1–10, default 10).
	PerContactDay int `json:"per_contact_day,omitempty"`
	// PerTechnicianHour: pushes one technician sends in an hour, to
	// anyone (1–30, default 20).
	PerTechnicianHour int `json:"per_technician_hour,omitempty"`
	// DeniedBlock: how long no push goes to a user after they denied one
	// or reported it as fraud (24h–168h, default 24h).
	DeniedBlock Duration `json:"denied_block,omitempty"`
}

// The loosest push limits a policy may set (security.md §4).
const (
	MaxPushPerContact15m     = 3
	MaxPushPerContactDay     = 10
	MaxPushPerTechnicianHour = 30
	// MinPushDeniedBlock is the shortest block after a denial (security.md
	// §4: 24 hours), MaxPushDeniedBlock the longest a policy may set.
	MinPushDeniedBlock = 24 * time.Hour
	MaxPushDeniedBlock = 7 * 24 * time.Hour
)

// Limits of the security rules that no policy may exceed.
const (
	MaxLifetime   = 10 * time.Minute
	MaxFailureCap = 100
)

// DefaultPolicy returns the policy a tenant has before anyone changes it.
func DefaultPolicy() Policy {
	return Policy{
		CodeDigits:       6,
		Lifetime:         Duration(5 * time.Minute),
		MaxAttempts:      5,
		MaxSends:         3,
		ResendCooldown:   Duration(30 * time.Second),
		ShieldDuration:   Duration(8 * time.Hour),
		HistoryLength:    10,
		FailureCap:       10,
		NoteOnNonDefault: true,
		Limits: RateLimits{
			PerContactHour:     5,
			PerDestinationHour: 5,
			PerTechnicianHour:  30,
			PerTenantDay:       1000,
		},
		Push: PushLimits{PerContact15m: MaxPushPerContact15m, PerContactDay: MaxPushPerContactDay, PerTechnicianHour: 20,
			DeniedBlock: Duration(MinPushDeniedBlock)},
	}
}

// Normalized returns p with zero fields set to their defaults.
func (p Policy) Normalized() Policy {
	d := DefaultPolicy()
	setInt := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setDur := func(v *Duration, def Duration) {
		if *v == 0 {
			*v = def
		}
	}
	setInt(&p.CodeDigits, d.CodeDigits)
	setDur(&p.Lifetime, d.Lifetime)
	setInt(&p.MaxAttempts, d.MaxAttempts)
	setInt(&p.MaxSends, d.MaxSends)
	setDur(&p.ResendCooldown, d.ResendCooldown)
	setDur(&p.ShieldDuration, d.ShieldDuration)
	setInt(&p.HistoryLength, d.HistoryLength)
	setInt(&p.FailureCap, d.FailureCap)
	setInt(&p.Limits.PerContactHour, d.Limits.PerContactHour)
	setInt(&p.Limits.PerDestinationHour, d.Limits.PerDestinationHour)
	setInt(&p.Limits.PerTechnicianHour, d.Limits.PerTechnicianHour)
	setInt(&p.Limits.PerTenantDay, d.Limits.PerTenantDay)
	setInt(&p.Push.PerContact15m, d.Push.PerContact15m)
	setInt(&p.Push.PerContactDay, d.Push.PerContactDay)
	setInt(&p.Push.PerTechnicianHour, d.Push.PerTechnicianHour)
	setDur(&p.Push.DeniedBlock, d.Push.DeniedBlock)
	return p
}

// Validate reports the first rule p breaks, as an ErrInvalid-kind error.
func (p Policy) Validate() error {
	p = p.Normalized()
	switch {
	case p.CodeDigits < 6 || p.CodeDigits > 8:
		return Errorf(KindInvalid, "code digits must be 6 to 8, not %d", p.CodeDigits)
	case p.Lifetime.D() < 30*time.Second || p.Lifetime.D() > MaxLifetime:
		return Errorf(KindInvalid, "lifetime must be between 30s and %s, not %s", MaxLifetime, p.Lifetime.D())
	case p.MaxAttempts < 1 || p.MaxAttempts > 10:
		return Errorf(KindInvalid, "max attempts must be 1 to 10, not %d", p.MaxAttempts)
	case p.MaxSends < 1 || p.MaxSends > 5:
		return Errorf(KindInvalid, "max sends must be 1 to 5, not %d", p.MaxSends)
	case p.FailureCap < 1 || p.FailureCap > MaxFailureCap:
		return Errorf(KindInvalid, "failure cap must be 1 to %d, not %d", MaxFailureCap, p.FailureCap)
	case p.HistoryLength < 1 || p.HistoryLength > 500:
		return Errorf(KindInvalid, "history length must be 1 to 500, not %d", p.HistoryLength)
	case p.ShieldDuration.D() < time.Minute || p.ShieldDuration.D() > 30*24*time.Hour:
		return Errorf(KindInvalid, "shield duration must be between 1m and 720h, not %s", p.ShieldDuration.D())
	case p.Push.PerContact15m < 1 || p.Push.PerContact15m > MaxPushPerContact15m:
		return Errorf(KindInvalid, "pushes per user in 15 minutes must be 1 to %d, not %d", MaxPushPerContact15m, p.Push.PerContact15m)
	case p.Push.PerContactDay < 1 || p.Push.PerContactDay > MaxPushPerContactDay:
		return Errorf(KindInvalid, "pushes per user in 24 hours must be 1 to %d, not %d", MaxPushPerContactDay, p.Push.PerContactDay)
	case p.Push.PerTechnicianHour < 1 || p.Push.PerTechnicianHour > MaxPushPerTechnicianHour:
		return Errorf(KindInvalid, "pushes per technician in an hour must be 1 to %d, not %d", MaxPushPerTechnicianHour, p.Push.PerTechnicianHour)
	case p.Push.DeniedBlock.D() < MinPushDeniedBlock || p.Push.DeniedBlock.D() > MaxPushDeniedBlock:
		return Errorf(KindInvalid, "the block after a denied push must be between 24h and 168h, not %s", p.Push.DeniedBlock.D())
	case len(p.Banner) > 500:
		return Errorf(KindInvalid, "banner must be at most 500 characters")
	}
	for _, m := range p.Methods {
		if !m.Known() {
			return Errorf(KindInvalid, "unknown method %q", m)
		}
	}
	if p.AutoSendMethod != "" && !p.AutoSendMethod.Known() {
		return Errorf(KindInvalid, "unknown automatic send method %q", p.AutoSendMethod)
	}
	switch p.OnNewTicket {
	case "", OnNewTicketBanner, OnNewTicketShowOnLoad:
	case OnNewTicketAutoSend:
		switch {
		case p.AutoSendMethod == "":
			return Errorf(KindInvalid, "sending automatically on new tickets needs a method")
		case !p.Allows(p.AutoSendMethod):
			return Errorf(KindInvalid, "the automatic send method %s is not one of the allowed methods", p.AutoSendMethod)
		case p.LinkCodeFor(p.AutoSendMethod):
			// Nobody is on the phone to read the technician's code to the
			// caller when nobody started the verification.
			return Errorf(KindInvalid, "%s links need a code the technician reads to the caller, which an automatic send cannot give: choose a code method, or turn that link code off", p.AutoSendMethod)
		}
	default:
		return Errorf(KindInvalid, "on new ticket must be empty, banner, show_on_load or auto_send, not %q", p.OnNewTicket)
	}
	return p.validateAssurance()
}

// Allows reports whether the policy allows method m.
func (p Policy) Allows(m Method) bool {
	if len(p.Methods) == 0 {
		return true
	}
	for _, x := range p.Methods {
		if x == m {
			return true
		}
	}
	return false
}

// LinkCodeFor reports whether links sent by method m need a technician-read code
// (security.md §5 item 3: on by default for email, off by default for SMS).
func (p Policy) LinkCodeFor(m Method) bool {
	switch m {
	case MethodEmailLink:
		return p.EmailLinkCode == nil || *p.EmailLinkCode
	case MethodSMSLink:
		return p.SMSLinkCode
	}
	return false
}

// durationWords says d for a sentence: "24 hours", "1 hour", else Go's
// form ("36h30m0s").
func durationWords(d time.Duration) string {
	switch {
	case d == time.Hour:
		return "1 hour"
	case d > 0 && d%time.Hour == 0:
		return fmt.Sprintf("%d hours", d/time.Hour)
	}
	return d.String()
}

// Duration is a time.Duration that reads and writes JSON as "5m0s".
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a Go duration string, or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var secs float64
		if err2 := json.Unmarshal(b, &secs); err2 != nil {
			return Errorf(KindInvalid, "duration must be a string like \"5m\" or a number of seconds")
		}
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return Errorf(KindInvalid, "bad duration %q (use e.g. \"5m\")", s)
	}
	*d = Duration(v)
	return nil
}
