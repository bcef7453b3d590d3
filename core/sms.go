package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Inbound SMS (issue 18 items 1 and 3). Twilio posts every text sent to a
// tenant's verification number to one webhook; the web layer checks its
// X-Twilio-Signature against the tenant that owns the receiving number and
// hands it to [Engine.ReceiveSMS], which records it once (by MessageSid),
// parses its keyword and acts:
//
//   - STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT: the sender is opted
//     out of the tenant's SMS ([SMSOptOut]); no SMS goes to the number again
//     until it texts START. Twilio confirms the opt-out itself.
//   - START, UNSTOP: opted in again.
//   - HELP: the tenant's help text ([ChannelSettings.HelpText]).
//   - #verify, #confirm: the [TechVerifyHandler] set with
//     [Engine.SetTechVerifyHandler]; without one, a polite line.
//   - anything else: no reply (never a list of commands, channels.md §1.5).
//
// Every answer is at most one reply to the number that texted us, and none
// to an opted-out number or one outside the tenant's SMS countries.

// SMSKeyword is what an inbound text asks for.
type SMSKeyword string

// Inbound SMS keywords.
const (
	SMSKeywordNone    SMSKeyword = ""        // not a keyword: no reply
	SMSKeywordVerify  SMSKeyword = "verify"  // #verify: the sender checks a technician
	SMSKeywordConfirm SMSKeyword = "confirm" // #confirm: the sender confirms that check
	SMSKeywordStop    SMSKeyword = "stop"    // the STOP family: opt out
	SMSKeywordStart   SMSKeyword = "start"   // START, UNSTOP: opt in again
	SMSKeywordHelp    SMSKeyword = "help"    // HELP: the tenant's help text
)

// stopWords and startWords are the carrier opt-out and opt-in keywords
// (CTIA; Twilio's defaults), compared without case and spaces.
var (
	stopWords  = map[string]bool{"stop": true, "stopall": true, "unsubscribe": true, "cancel": true, "end": true, "quit": true}
	startWords = map[string]bool{"start": true, "unstop": true}
)

// ParseSMSKeyword reads the keyword of an inbound text and returns it with
// the text after it (trimmed; "" for none).
//
// STOP, START and HELP words are whole-message keywords, as carriers
// treat them: case, spaces ("STOP ALL", " stop ") and a leading '#' or
// trailing punctuation ("Stop.") do not matter, but "please stop" is not an
// opt-out. #verify and #confirm may omit the '#', have spaces after it, and
// carry trailing text ("#confirm 482913"); a text of only 6 to 8 digits
// ("482 913") is #confirm with that code.
func ParseSMSKeyword(body string) (SMSKeyword, string) {
	body = strings.TrimSpace(body)
	squashed := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return unicode.ToLower(r)
	}, body)
	squashed = strings.TrimLeft(squashed, "#")
	squashed = strings.TrimRightFunc(squashed, func(r rune) bool { return unicode.IsPunct(r) })
	switch {
	case stopWords[squashed]:
		return SMSKeywordStop, ""
	case startWords[squashed]:
		return SMSKeywordStart, ""
	case squashed == "help" || squashed == "info":
		return SMSKeywordHelp, ""
	}
	// A text that is only a code ("482913", "482 913") confirms with it:
	// people answer a code with the code (issue 18 item 2).
	if code := strings.ReplaceAll(squashed, "-", ""); len(code) >= 6 && len(code) <= 8 && isDigits(code, len(code)) {
		return SMSKeywordConfirm, code
	}
	rest := strings.TrimLeftFunc(strings.TrimPrefix(body, "#"), unicode.IsSpace)
	word, tail, _ := strings.Cut(rest, " ")
	word = strings.TrimRightFunc(word, func(r rune) bool { return unicode.IsPunct(r) })
	switch strings.ToLower(word) {
	case "verify":
		return SMSKeywordVerify, strings.TrimSpace(tail)
	case "confirm":
		return SMSKeywordConfirm, strings.TrimSpace(tail)
	}
	return SMSKeywordNone, ""
}

// InboundSMS is one text Twilio posted to us, signature already checked.
type InboundSMS struct {
	MessageSID string // "SM…", 34 characters: the de-duplication key
	AccountSID string // the Twilio account it arrived on
	From       string // the sender, E.164: the only identity we get
	To         string // the tenant's number, E.164: selects the tenant
	Body       string // up to 1,600 characters
}

// InboundSMSRecord is an inbound text as the store keeps it.
type InboundSMSRecord struct {
	MessageSID string
	TenantID   string
	From, To   string
	Body       string
	Keyword    SMSKeyword
	Outcome    string // what was done, in words ("opted out", "help sent", …)
	ReceivedAt time.Time
}

// SMSOptOut is a number's opt-out state for one tenant's SMS.
type SMSOptOut struct {
	TenantID  string
	Phone     string // E.164
	OptedOut  bool
	Keyword   string // the word that changed it, upper case ("STOP", "START"), or "admin"
	ChangedAt time.Time
}

// SMSTx is the part of [Tx] for channels, inbound SMS and opt-outs.
type SMSTx interface {
	// PutChannels writes a tenant's channel row; a verification number
	// another tenant has is ErrConflict.
	PutChannels(ctx context.Context, row *ChannelsRow) error
	// Channels reads a tenant's channel row; none is ErrNotFound.
	Channels(ctx context.Context, tenantID string) (ChannelsRow, error)
	// TenantBySMSNumber returns the id of the tenant whose verification
	// number is number; none is ErrNotFound. It is the one lookup across
	// tenants besides the outbox claim: routing an inbound text needs it.
	TenantBySMSNumber(ctx context.Context, number string) (string, error)
	// RecordInboundSMS inserts m unless a text with its MessageSID was
	// recorded already, and reports whether it did; a duplicate is no
	// error (and aborts nothing on PostgreSQL).
	RecordInboundSMS(ctx context.Context, m *InboundSMSRecord) (bool, error)
	// SetInboundSMSOutcome writes what acting on a recorded text did.
	SetInboundSMSOutcome(ctx context.Context, tenantID, messageSID, outcome string) error
	// InboundSMS reads a recorded text.
	InboundSMS(ctx context.Context, tenantID, messageSID string) (InboundSMSRecord, error)
	// PutSMSOptOut writes a number's opt-out state.
	PutSMSOptOut(ctx context.Context, o *SMSOptOut) error
	// SMSOptOut reads a number's opt-out state; a number that never
	// changed it is ErrNotFound.
	SMSOptOut(ctx context.Context, tenantID, phone string) (SMSOptOut, error)
}

// InboundText is what a [TechVerifyHandler] is handed: a recorded,
// de-duplicated #verify or #confirm text and the tenant it is for.
type InboundText struct {
	Tenant   Tenant
	Message  InboundSMS
	Keyword  SMSKeyword // SMSKeywordVerify or SMSKeywordConfirm
	Argument string     // the text after the keyword, e.g. "482913"; "" for none
}

// TechVerifyHandler acts on #verify and #confirm texts (technician
// verification, issue 18 item 2). HandleInboundText runs while Twilio
// waits for the webhook's answer (at most 15 s, channels.md §1.5), so it
// must be quick: slow work (PSA lookups) goes to the outbox. It returns the
// one reply to text back ("" for none); the engine drops a reply to a
// number that opted out or is outside the tenant's SMS countries. An error
// is logged and answered with no reply; the text stays recorded and is
// not handed over again (Twilio's retries carry the same MessageSid).
type TechVerifyHandler interface {
	HandleInboundText(ctx context.Context, in InboundText) (reply string, err error)
}

// TechVerifyFunc adapts a function to [TechVerifyHandler].
type TechVerifyFunc func(ctx context.Context, in InboundText) (string, error)

// HandleInboundText calls f.
func (f TechVerifyFunc) HandleInboundText(ctx context.Context, in InboundText) (string, error) {
	return f(ctx, in)
}

// techVerifyHolder lets the handler be set after the engine exists (the
// handler usually needs the engine).
type techVerifyHolder struct{ h TechVerifyHandler }

// SetTechVerifyHandler installs the handler for #verify and #confirm
// texts; nil restores the polite default reply. Safe to call at any time.
func (e *Engine) SetTechVerifyHandler(h TechVerifyHandler) {
	e.techVerify.Store(&techVerifyHolder{h: h})
}

func (e *Engine) techVerifyHandler() TechVerifyHandler {
	if p := e.techVerify.Load(); p != nil {
		return p.h
	}
	return nil
}

// Limits of what an inbound text stores.
const (
	maxInboundSMSBody = 1600
	maxSMSOutcome     = 200
)

// Outcomes recorded on inbound texts.
const (
	smsOutcomeOptedOut  = "opted out"
	smsOutcomeOptedIn   = "opted in again"
	smsOutcomeHelp      = "help sent"
	smsOutcomeIgnored   = "ignored"
	smsOutcomeNoReply   = "no reply: the number has opted out or is outside the SMS countries"
	smsOutcomeNoHandler = "technician verification by text is not available; polite reply sent"
)

// Audit actions of inbound SMS.
const (
	AuditSMSOptedOut = "sms.opted_out"
	AuditSMSOptedIn  = "sms.opted_in"
)

// ReceiveSMS acts on one inbound text addressed to tenant tenantID (the
// owner of m.To, see [Engine.SMSWebhookAccount]) and returns the reply to
// send back in the webhook's answer ("" for none). A text whose MessageSid
// was seen before changes nothing and gets no reply: Twilio's signature has
// no timestamp, so a captured request could be replayed (security.md §7).
func (e *Engine) ReceiveSMS(ctx context.Context, tenantID string, m InboundSMS) (string, error) {
	switch {
	case len(m.MessageSID) != 34 || !strings.HasPrefix(m.MessageSID, "SM") && !strings.HasPrefix(m.MessageSID, "MM") || !isAlnum(m.MessageSID):
		return "", Errorf(KindInvalid, "inbound SMS without a valid MessageSid")
	case !isE164(m.From) || !isE164(m.To):
		return "", Errorf(KindInvalid, "inbound SMS needs From and To in E.164")
	case !utf8.ValidString(m.Body):
		return "", Errorf(KindInvalid, "inbound SMS body is not UTF-8")
	}
	if len(m.Body) > maxInboundSMSBody*4 {
		m.Body = m.Body[:maxInboundSMSBody*4]
	}
	kw, arg := ParseSMSKeyword(m.Body)
	now := e.Now()
	var (
		tenant   Tenant
		settings ChannelSettings
		reply    string
		outcome  string
		fresh    bool
	)
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		reply, outcome = "", ""
		var err error
		if tenant, err = tx.Tenant(ctx, tenantID); err != nil {
			return err
		}
		if settings, err = e.channelSettings(ctx, tx, tenantID); err != nil {
			return err
		}
		rec := InboundSMSRecord{MessageSID: m.MessageSID, TenantID: tenantID, From: m.From, To: m.To,
			Body: ClipRunes(m.Body, maxInboundSMSBody, ""), Keyword: kw, ReceivedAt: now}
		if fresh, err = tx.RecordInboundSMS(ctx, &rec); err != nil || !fresh {
			return err
		}
		switch kw {
		case SMSKeywordStop, SMSKeywordStart:
			out := kw == SMSKeywordStop
			word := strings.ToUpper(strings.Join(strings.Fields(m.Body), ""))
			word = strings.Trim(word, "#.!?")
			if err := tx.PutSMSOptOut(ctx, &SMSOptOut{TenantID: tenantID, Phone: m.From, OptedOut: out, Keyword: word, ChangedAt: now}); err != nil {
				return err
			}
			action, what := AuditSMSOptedIn, smsOutcomeOptedIn
			if out {
				action, what = AuditSMSOptedOut, smsOutcomeOptedOut
			}
			outcome = what
			// Twilio answers STOP and START itself (Advanced Opt-Out); a
			// reply of ours to a number that just opted out would fail.
			if err := e.audit(ctx, tx, tenantID, "sms:"+MaskDestination(DestPhone, m.From), action, MaskDestination(DestPhone, m.From),
				map[string]string{"keyword": word, "message_sid": m.MessageSID}); err != nil {
				return err
			}
		case SMSKeywordHelp:
			reply, outcome = settings.helpText(tenant), smsOutcomeHelp
		case SMSKeywordNone:
			outcome = smsOutcomeIgnored
		}
		if outcome != "" {
			return tx.SetInboundSMSOutcome(ctx, tenantID, m.MessageSID, outcome)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("core: receive sms: %w", err)
	}
	if !fresh {
		e.log.InfoContext(ctx, "inbound sms replayed; ignored", "tenant_id", tenantID, "message_sid", m.MessageSID)
		return "", nil
	}
	if kw == SMSKeywordVerify || kw == SMSKeywordConfirm {
		reply, outcome = e.dispatchTechVerify(ctx, InboundText{Tenant: tenant, Message: m, Keyword: kw, Argument: arg})
		if err := e.setInboundOutcome(ctx, tenantID, m.MessageSID, outcome); err != nil {
			e.log.ErrorContext(ctx, "inbound sms: record outcome", "message_sid", m.MessageSID, "err", err)
		}
	}
	if reply == "" {
		return "", nil
	}
	if ok, err := e.replyAllowed(ctx, tenantID, settings, tenant, m.From); err != nil || !ok {
		if err == nil {
			err = e.setInboundOutcome(ctx, tenantID, m.MessageSID, smsOutcomeNoReply)
		}
		return "", err
	}
	return reply, nil
}

// dispatchTechVerify hands a #verify or #confirm text to the handler and
// returns the reply and the outcome to record.
func (e *Engine) dispatchTechVerify(ctx context.Context, in InboundText) (string, string) {
	h := e.techVerifyHandler()
	if h == nil {
		return fmt.Sprintf("%s: checking a technician by text is not available yet. Please call %s on a number you already know.",
			in.Tenant.DisplayName(), in.Tenant.DisplayName()), smsOutcomeNoHandler
	}
	reply, err := h.HandleInboundText(ctx, in)
	if err != nil {
		e.log.ErrorContext(ctx, "inbound sms: technician verification handler failed", "message_sid", in.Message.MessageSID,
			"tenant_id", in.Tenant.ID, "err", err)
		return "", ClipRunes("handler failed: "+ErrorMessage(err), maxSMSOutcome, "")
	}
	return reply, ClipRunes(string(in.Keyword)+" handled", maxSMSOutcome, "")
}

func (e *Engine) setInboundOutcome(ctx context.Context, tenantID, sid, outcome string) error {
	return e.cfg.Store.Update(ctx, func(tx Tx) error {
		return tx.SetInboundSMSOutcome(ctx, tenantID, sid, ClipRunes(outcome, maxSMSOutcome, ""))
	})
}

// replyAllowed reports whether a reply may be texted to phone: not opted
// out, and in the tenant's SMS countries.
func (e *Engine) replyAllowed(ctx context.Context, tenantID string, s ChannelSettings, t Tenant, phone string) (bool, error) {
	if s.CountryOf(phone) == "" || !s.AllowsSMS(t, phone) {
		return false, nil
	}
	out, err := e.SMSOptedOut(ctx, tenantID, phone)
	return !out, err
}

// SMSOptedOut reports whether phone has opted out of the tenant's SMS.
func (e *Engine) SMSOptedOut(ctx context.Context, tenantID, phone string) (bool, error) {
	var out bool
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		out, err = smsOptedOut(ctx, tx, tenantID, phone)
		return err
	})
	return out, err
}

func smsOptedOut(ctx context.Context, tx Tx, tenantID, phone string) (bool, error) {
	o, err := tx.SMSOptOut(ctx, tenantID, phone)
	switch {
	case err == nil:
		return o.OptedOut, nil
	case isNotFound(err):
		return false, nil
	}
	return false, err
}

// InboundSMSRecord returns a recorded inbound text of the tenant.
func (e *Engine) InboundSMSRecord(ctx context.Context, tenantID, messageSID string) (InboundSMSRecord, error) {
	var r InboundSMSRecord
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		r, err = tx.InboundSMS(ctx, tenantID, messageSID)
		return err
	})
	return r, err
}

// ErrSMSOptedOut is the kind of error a send to an opted-out number fails
// with; errors.Is(err, ErrSMSOptedOut) finds it.
var ErrSMSOptedOut = errors.New("recipient opted out of SMS")

// optedOutError is the refusal of an SMS to an opted-out number.
func optedOutError() error {
	return fmt.Errorf("%w: %w", Errorf(KindForbidden,
		"this number has opted out of text messages (it replied STOP); verify by e-mail or a voice call instead, or ask the caller to text START"),
		ErrSMSOptedOut)
}

func isAlnum(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return s != ""
}

// isE164 reports whether s is +, a non-zero digit and up to 14 more digits.
func isE164(s string) bool {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	return isDigits(s[1:], len(s)-1)
}

// SMSNumberOwner returns the tenant whose verification number is number,
// with that tenant's Twilio settings, so the web layer can check the
// webhook's signature with the right account's auth token before anything
// is recorded. A number no tenant has is ErrNotFound.
func (e *Engine) SMSNumberOwner(ctx context.Context, number string) (Tenant, TwilioSettings, error) {
	var (
		t Tenant
		s ChannelSettings
	)
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		id, err := tx.TenantBySMSNumber(ctx, number)
		if err != nil {
			return err
		}
		if t, err = tx.Tenant(ctx, id); err != nil {
			return err
		}
		s, err = e.channelSettings(ctx, tx, id)
		return err
	})
	return t, s.Twilio, err
}
