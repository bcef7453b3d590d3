package core

import (
	"context"
	"crypto/hmac"
	"fmt"
	"strings"
	"time"
)

// Technician verification by text (issue 18 item 2): verification in
// reverse. Someone calls an end user claiming to be the MSP's help desk;
// the end user texts #verify to the MSP's verification number and gets a
// code back, the technicians on call for [NotifyTechVerify] get the same
// code (and the console's tech-verify inbox shows it to the technician who
// claims the request), the technician reads it out, and the end user texts
// #confirm when it matched. A caller who cannot read the code did not get
// it from Countersign.
//
// The code flows from Countersign to the technician to the caller, the
// direction security.md §8 allows a technician to see; it proves nothing
// about the end user. It follows the one-time code rules all the same
// (security.md §1): crypto/rand, 6 digits, 5 minutes, one success
// (an atomic conditional update), 5 wrong entries burn it, a new #verify
// revokes the previous code, stored only as an HMAC for checking plus a
// sealed copy for the technicians that is emptied when the request ends.
//
// Who may text: a number on file for a contact of the tenant whose number
// was texted (never a number a caller typed, security.md §6). Any other
// number gets one generic line a day, and its request is listed as an
// unknown caller for a technician to look at — no code is ever sent to it.
// The replies never say whether a number is on file: a known number that
// has no open request and an unknown one answer #confirm alike.
//
// Rate limits (security.md §6): at most [TechVerifyCodesPerHour] codes per
// number an hour, [TechVerifyRepliesPerHour] replies per number an hour
// and [TechVerifyTenantRepliesPerHour] per tenant; over them a text is
// recorded and audited but not answered.

// TechVerifyStatus is where a technician-verification request stands.
type TechVerifyStatus string

// Technician-verification statuses.
const (
	TechVerifyOpen      TechVerifyStatus = "open"      // code sent; waiting for #confirm
	TechVerifyConfirmed TechVerifyStatus = "confirmed" // the end user confirmed within the window
	TechVerifyExpired   TechVerifyStatus = "expired"   // #confirm came after the window
	TechVerifyFailed    TechVerifyStatus = "failed"    // too many wrong codes texted back
	TechVerifyReplaced  TechVerifyStatus = "replaced"  // a newer #verify from the number revoked it
	TechVerifyUnknown   TechVerifyStatus = "unknown"   // the number is on file for no contact: no code
)

// Limits of technician verification.
const (
	TechVerifyTTL                  = 5 * time.Minute
	TechVerifyMaxAttempts          = 5
	TechVerifyCodesPerHour         = 3
	TechVerifyRepliesPerHour       = 5
	TechVerifyTenantRepliesPerHour = 200
	techVerifyCodeDigits           = 6
	techVerifyChannel              = "sms_inbound"
)

// TechVerifyRequest is one #verify text and what became of it.
type TechVerifyRequest struct {
	ID         string
	TenantID   string
	Phone      string // the end user's number (the text's From), E.164
	Number     string // the tenant's number it was sent to (To)
	MessageSID string // the #verify text
	// ContactID and ClientID are the contact the number is on file for;
	// "" for an unknown caller. Matches counts the contacts that have the
	// number (the first by name is ContactID); Provenance is where that
	// contact's number came from (Destination.Source, e.g. "psa:…").
	ContactID  string
	ClientID   string
	Matches    int
	Provenance string
	Status     TechVerifyStatus
	CodeHash   []byte // HMAC-SHA-256(CodeKey, id ‖ channel ‖ code)
	CodeSealed []byte // the code sealed for the technicians; nil once ended
	Attempts   int    // wrong codes texted back
	Detail     string // why it ended, in words
	// ClaimedBy is the technician who claimed the request (and saw its
	// code in the console); "" for none.
	ClaimedBy string
	ClaimedAt time.Time
	CreatedAt time.Time
	ExpiresAt time.Time // zero for an unknown caller
	ClosedAt  time.Time // zero while open
	// IntegrationID and TicketRef are the PSA ticket the claiming
	// technician assigned the request to; "" for none. Its outcome is
	// noted there when it ends (or when assigned, if it has).
	IntegrationID string
	TicketRef     string
}

// TechVerifyTx is the part of [Tx] for technician verification.
type TechVerifyTx interface {
	CreateTechVerify(ctx context.Context, r *TechVerifyRequest) error
	// UpdateTechVerify writes status, attempts, sealed code, detail,
	// claim, close time and ticket.
	UpdateTechVerify(ctx context.Context, r *TechVerifyRequest) error
	TechVerify(ctx context.Context, tenantID, id string) (TechVerifyRequest, error)
	// OpenTechVerifies returns the number's open requests, expired or not.
	OpenTechVerifies(ctx context.Context, tenantID, phone string) ([]TechVerifyRequest, error)
	// ConfirmTechVerify marks an open, unexpired request confirmed and
	// empties its sealed code in one conditional update, and reports
	// whether it did: a second confirmation, or one racing it, changes
	// nothing (security.md §1.5).
	ConfirmTechVerify(ctx context.Context, tenantID, id, detail string, now time.Time) (bool, error)
	// CountTechVerifies counts the number's requests since; withCode
	// counts only those that were sent a code.
	CountTechVerifies(ctx context.Context, tenantID, phone string, since time.Time, withCode bool) (int, error)
	// ListTechVerifies returns the tenant's requests since, newest first.
	ListTechVerifies(ctx context.Context, tenantID string, since time.Time, limit int) ([]TechVerifyRequest, error)
	// RecordTechVerifyReply notes a reply texted to phone; CountTechVerifyReplies
	// counts them since (phone "" for the whole tenant, kind "" for any).
	RecordTechVerifyReply(ctx context.Context, tenantID, phone, kind string, at time.Time) error
	// ResolveUnknownTechVerify writes r (status, contact, code, claim,
	// expiry, close time, detail) over the request if it is still an
	// unknown caller's, and reports whether it was: of two technicians
	// acting on it at once, one wins.
	ResolveUnknownTechVerify(ctx context.Context, r *TechVerifyRequest) (bool, error)
	CountTechVerifyReplies(ctx context.Context, tenantID, phone, kind string, since time.Time) (int, error)
}

// Audit actions of technician verification.
const (
	AuditTechVerifyRequested   = "techverify.requested"    // a code was sent to a known number
	AuditTechVerifyUnknown     = "techverify.unknown"      // #verify from a number on file for no contact
	AuditTechVerifyConfirmed   = "techverify.confirmed"    // the end user confirmed
	AuditTechVerifyRejected    = "techverify.rejected"     // a #confirm that confirmed nothing (detail: reason)
	AuditTechVerifyFailed      = "techverify.failed"       // too many wrong codes: the request is closed
	AuditTechVerifyRateLimited = "techverify.rate_limited" // a text over a limit: not acted on
	AuditTechVerifyClaimed     = "techverify.claimed"      // a technician claimed the request and saw its code
	AuditTechVerifyAssigned    = "techverify.assigned"     // the claiming technician assigned it to a PSA ticket
)

// Kinds of replies, for the rate limits.
const (
	tvReplyCode    = "code"
	tvReplyUnknown = "unknown"
	tvReplyOther   = "other"
)

// TechVerifyHandler returns the engine's handler of #verify and #confirm
// texts, for [Engine.SetTechVerifyHandler].
func (e *Engine) TechVerifyHandler() TechVerifyHandler {
	return TechVerifyFunc(e.handleTechVerifyText)
}

func techVerifyAAD(tenantID, id string) []byte {
	return []byte("techverify\x00" + tenantID + "\x00" + id)
}

// spaceCode writes a 6-digit code as "123 456", easier to read out.
func spaceCode(c string) string {
	if len(c) == 6 {
		return c[:3] + " " + c[3:]
	}
	return c
}

func (e *Engine) handleTechVerifyText(ctx context.Context, in InboundText) (string, error) {
	var (
		reply   string
		changed bool
	)
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		var err error
		tv := techVerifyTx{e: e, tx: tx, in: in, now: e.Now(), actor: "sms:" + MaskDestination(DestPhone, in.Message.From)}
		if in.Keyword == SMSKeywordVerify {
			reply, err = tv.verify(ctx)
		} else {
			reply, err = tv.confirm(ctx)
		}
		changed = tv.changed
		return err
	})
	if err != nil {
		return "", fmt.Errorf("core: technician verification: %w", err)
	}
	if changed {
		e.techVerifyChanged(ctx, in.Tenant.ID)
	}
	// The on-call notifications wait in the outbox: send them now.
	e.Wake()
	return reply, nil
}

// techVerifyTx is one inbound text being acted on in one transaction.
type techVerifyTx struct {
	e     *Engine
	tx    Tx
	in    InboundText
	now   time.Time
	actor string
	// changed is set when a request was created or changed: the inboxes
	// are told once the transaction commits.
	changed bool
	// onPage is set for the end-user page (techverify_page.go): whoever
	// typed the number may not hold it, so a number on file for no
	// contact opens no request.
	onPage bool
}

func (t *techVerifyTx) create(ctx context.Context, r *TechVerifyRequest) error {
	t.changed = true
	return t.tx.CreateTechVerify(ctx, r)
}

func (t *techVerifyTx) update(ctx context.Context, r *TechVerifyRequest) error {
	t.changed = true
	return t.tx.UpdateTechVerify(ctx, r)
}

func (t *techVerifyTx) tenantID() string { return t.in.Tenant.ID }
func (t *techVerifyTx) phone() string    { return t.in.Message.From }
func (t *techVerifyTx) msp() string      { return t.in.Tenant.DisplayName() }

func (t *techVerifyTx) audit(ctx context.Context, action, subject string, detail map[string]string) error {
	if detail == nil {
		detail = map[string]string{}
	}
	detail["message_sid"] = t.in.Message.MessageSID
	return t.e.audit(ctx, t.tx, t.tenantID(), t.actor, action, subject, detail)
}

// replyBudget reports whether one more reply may be texted to the sender
// now, and audits a refusal.
func (t *techVerifyTx) replyBudget(ctx context.Context) (bool, error) {
	hour := t.now.Add(-time.Hour)
	n, err := t.tx.CountTechVerifyReplies(ctx, t.tenantID(), t.phone(), "", hour)
	if err != nil {
		return false, err
	}
	all, err := t.tx.CountTechVerifyReplies(ctx, t.tenantID(), "", "", hour)
	if err != nil {
		return false, err
	}
	switch {
	case n >= TechVerifyRepliesPerHour:
		return false, t.audit(ctx, AuditTechVerifyRateLimited, MaskDestination(DestPhone, t.phone()),
			map[string]string{"limit": fmt.Sprintf("%d replies per number per hour", TechVerifyRepliesPerHour), "keyword": string(t.in.Keyword)})
	case all >= TechVerifyTenantRepliesPerHour:
		return false, t.audit(ctx, AuditTechVerifyRateLimited, MaskDestination(DestPhone, t.phone()),
			map[string]string{"limit": fmt.Sprintf("%d replies per tenant per hour", TechVerifyTenantRepliesPerHour), "keyword": string(t.in.Keyword)})
	}
	return true, nil
}

// answer notes a reply for the rate limits and returns it.
func (t *techVerifyTx) answer(ctx context.Context, kind, text string) (string, error) {
	if err := t.tx.RecordTechVerifyReply(ctx, t.tenantID(), t.phone(), kind, t.now); err != nil {
		return "", err
	}
	return text, nil
}

// enabled reports whether the tenant takes #verify: some notification
// group wants NotifyTechVerify (Settings → notification groups).
func (t *techVerifyTx) enabled(ctx context.Context) (bool, error) {
	groups, err := t.tx.ListNotifyGroups(ctx, t.tenantID())
	if err != nil {
		return false, err
	}
	for _, g := range groups {
		if g.Wants(NotifyTechVerify) {
			return true, nil
		}
	}
	return false, nil
}

// verify answers a #verify from a number: within the reply and code
// budgets, a new code for on-call to read to the contact the number is on
// file for, replacing the number's earlier ones; it returns the reply.
func (t *techVerifyTx) verify(ctx context.Context) (string, error) {
	ok, err := t.replyBudget(ctx)
	if err != nil || !ok {
		return "", err
	}
	on, err := t.enabled(ctx)
	if err != nil {
		return "", err
	}
	if !on {
		return t.answer(ctx, tvReplyOther, fmt.Sprintf("%s: checking a technician by text is not available. "+
			"If someone says they are calling from %s, hang up and call %s on a number you already know.", t.msp(), t.msp(), t.msp()))
	}
	if ok, err := t.canText(ctx); err != nil || !ok {
		return "", err
	}
	contacts, err := t.tx.SearchContacts(ctx, t.tenantID(), ContactQuery{Phone: t.phone(), Limit: 20})
	if err != nil {
		return "", err
	}
	hour := t.now.Add(-time.Hour)
	if len(contacts) == 0 {
		if t.onPage {
			return "", t.reject(ctx, MaskDestination(DestPhone, t.phone()), "the number typed on the end-user page is on file for no contact")
		}
		return t.unknown(ctx, hour)
	}
	if ok, err := t.codeBudget(ctx, hour); err != nil || !ok {
		return "", err
	}
	replaced, err := t.replaceOpen(ctx)
	if err != nil {
		return "", err
	}
	contact := contacts[0]
	provenance := phoneSource(contact, t.phone())
	r, code, err := t.newRequest(ctx, contact, len(contacts), provenance)
	if err != nil {
		return "", err
	}
	who := contact.Name()
	if c, err := t.tx.Client(ctx, t.tenantID(), contact.ClientID); err == nil {
		who += " (" + c.Name + ")"
	} else if !isNotFound(err) {
		return "", err
	}
	if err := t.audit(ctx, AuditTechVerifyRequested, r.ID, map[string]string{"contact": contact.ID, "client": contact.ClientID,
		"matches": fmt.Sprint(len(contacts)), "provenance": provenance, "replaced": fmt.Sprint(replaced)}); err != nil {
		return "", err
	}
	if err := t.notifyCode(ctx, r, contact, who, code); err != nil {
		return "", err
	}
	return t.answer(ctx, tvReplyCode, techVerifyCodeText(t.msp(), code))
}

// canText reports whether a code can reach the number. A code nobody can
// receive is not sent: the number opted out, or is outside the tenant's
// SMS countries (the engine drops such replies); that is audited as a
// limit.
func (t *techVerifyTx) canText(ctx context.Context) (bool, error) {
	err := t.e.techVerifyCanText(ctx, t.tx, t.in.Tenant, t.phone())
	if err == nil {
		return true, nil
	}
	if ErrorKind(err) != KindInvalid {
		return false, err
	}
	return false, t.audit(ctx, AuditTechVerifyRateLimited, MaskDestination(DestPhone, t.phone()),
		map[string]string{"limit": ErrorMessage(err), "keyword": string(t.in.Keyword)})
}

// codeBudget reports whether the number may get another code this hour
// (since hour); at TechVerifyCodesPerHour it is refused and audited.
func (t *techVerifyTx) codeBudget(ctx context.Context, hour time.Time) (bool, error) {
	sent, err := t.tx.CountTechVerifies(ctx, t.tenantID(), t.phone(), hour, true)
	if err != nil {
		return false, err
	}
	if sent < TechVerifyCodesPerHour {
		return true, nil
	}
	return false, t.audit(ctx, AuditTechVerifyRateLimited, MaskDestination(DestPhone, t.phone()),
		map[string]string{"limit": fmt.Sprintf("%d codes per number per hour", TechVerifyCodesPerHour), "keyword": string(t.in.Keyword)})
}

// replaceOpen closes the number's open requests, each noted on its
// ticket, and returns how many: a new code revokes the number's earlier
// ones (security.md §1.3).
func (t *techVerifyTx) replaceOpen(ctx context.Context) (int, error) {
	open, err := t.tx.OpenTechVerifies(ctx, t.tenantID(), t.phone())
	if err != nil {
		return 0, err
	}
	for _, old := range open {
		old.Status, old.CodeSealed, old.ClosedAt, old.Detail = TechVerifyReplaced, nil, t.now, "a newer #verify from the number"
		if err := t.update(ctx, &old); err != nil {
			return 0, err
		}
		if err := t.e.queueTechVerifyNote(ctx, t.tx, old, t.now); err != nil {
			return 0, err
		}
	}
	return len(open), nil
}

// phoneSource returns where the contact's copy of phone came from (its
// destination's source), "" when it has none: the request records how
// far the number that asked can be trusted.
func phoneSource(c Contact, phone string) string {
	for _, d := range c.Destinations {
		if d.Kind == DestPhone && d.Value == phone {
			return d.Source
		}
	}
	return ""
}

// newRequest creates the open request for the contact with a new code,
// kept as a hash to check and sealed for the on-call message, and
// returns it with the code.
func (t *techVerifyTx) newRequest(ctx context.Context, contact Contact, matches int, provenance string) (TechVerifyRequest, string, error) {
	code, err := newCode(t.e.cfg.Rand, techVerifyCodeDigits)
	if err != nil {
		return TechVerifyRequest{}, "", err
	}
	r := TechVerifyRequest{ID: NewID("tvr"), TenantID: t.tenantID(), Phone: t.phone(), Number: t.in.Message.To,
		MessageSID: t.in.Message.MessageSID, ContactID: contact.ID, ClientID: contact.ClientID, Matches: matches,
		Provenance: provenance, Status: TechVerifyOpen, CreatedAt: t.now, ExpiresAt: t.now.Add(TechVerifyTTL)}
	r.CodeHash = codeHash(t.e.cfg.CodeKey, r.ID, techVerifyChannel, code)
	if r.CodeSealed, err = t.e.cfg.Sealer.Seal([]byte(code), techVerifyAAD(r.TenantID, r.ID)); err != nil {
		return TechVerifyRequest{}, "", fmt.Errorf("seal code: %w", err)
	}
	if err := t.create(ctx, &r); err != nil {
		return TechVerifyRequest{}, "", err
	}
	return r, code, nil
}

// notifyCode sends the code to on-call, who read it to the contact (who)
// on the phone; the contact texts #confirm when it matches.
func (t *techVerifyTx) notifyCode(ctx context.Context, r TechVerifyRequest, contact Contact, who, code string) error {
	loc, err := tenantLocation(ctx, t.tx, t.tenantID())
	if err != nil {
		return err
	}
	until := FormatStampFrom(r.ExpiresAt, t.now, loc)
	text := fmt.Sprintf("Countersign: %s, %s, asks to verify the technician calling them. Read them this code: %s (valid until %s). "+
		"They text #confirm when it matches.", who, t.phone(), spaceCode(code), until)
	_, _, err = t.e.notifyOnCall(ctx, t.tx, t.tenantID(), NotifyTechVerify, r.ID, NotifyMessage{
		Subject: "Countersign: " + contact.Name() + " asks to verify the technician calling them",
		Text:    text,
		Say:     "Countersign. " + contact.Name() + " asks to verify the technician calling them. Read them this code: " + strings.Join(strings.Split(code, ""), " ") + ".",
	}, t.now)
	return err
}

// unknown answers #verify from a number on file for no contact: listed for
// the technicians, one generic line a day, never a code.
func (t *techVerifyTx) unknown(ctx context.Context, hour time.Time) (string, error) {
	n, err := t.tx.CountTechVerifies(ctx, t.tenantID(), t.phone(), hour, false)
	if err != nil {
		return "", err
	}
	if n >= TechVerifyCodesPerHour {
		return "", t.audit(ctx, AuditTechVerifyRateLimited, MaskDestination(DestPhone, t.phone()),
			map[string]string{"limit": fmt.Sprintf("%d requests per number per hour", TechVerifyCodesPerHour), "keyword": string(t.in.Keyword)})
	}
	r := TechVerifyRequest{ID: NewID("tvr"), TenantID: t.tenantID(), Phone: t.phone(), Number: t.in.Message.To,
		MessageSID: t.in.Message.MessageSID, Status: TechVerifyUnknown, CreatedAt: t.now, ClosedAt: t.now,
		Detail: "the number is not on file for any contact"}
	if err := t.create(ctx, &r); err != nil {
		return "", err
	}
	if err := t.audit(ctx, AuditTechVerifyUnknown, r.ID, nil); err != nil {
		return "", err
	}
	told, err := t.tx.CountTechVerifyReplies(ctx, t.tenantID(), t.phone(), tvReplyUnknown, t.now.Add(-24*time.Hour))
	if err != nil || told > 0 {
		return "", err
	}
	return t.answer(ctx, tvReplyUnknown, fmt.Sprintf("%s: we cannot check a technician from this number. "+
		"If someone says they are calling from %s, hang up and call %s on a number you already know.", t.msp(), t.msp(), t.msp()))
}

func (t *techVerifyTx) reject(ctx context.Context, subject, reason string) error {
	return t.audit(ctx, AuditTechVerifyRejected, subject, map[string]string{"reason": reason})
}

func (t *techVerifyTx) confirm(ctx context.Context) (string, error) {
	canReply, err := t.replyBudget(ctx)
	if err != nil {
		return "", err
	}
	reply := func(text string) (string, error) {
		if !canReply {
			return "", nil
		}
		return t.answer(ctx, tvReplyOther, text)
	}
	open, err := t.tx.OpenTechVerifies(ctx, t.tenantID(), t.phone())
	if err != nil {
		return "", err
	}
	if len(open) != 1 {
		// Zero, or (never expected: #verify revokes) several: don't guess
		// (security.md §3). Only a number that texted #verify lately is
		// answered, known or not, so the answer tells nothing about it.
		if err := t.reject(ctx, MaskDestination(DestPhone, t.phone()), fmt.Sprintf("%d open requests for the number", len(open))); err != nil {
			return "", err
		}
		recent, err := t.tx.CountTechVerifies(ctx, t.tenantID(), t.phone(), t.now.Add(-24*time.Hour), false)
		if err != nil || recent == 0 {
			return "", err
		}
		return reply(fmt.Sprintf("%s: there is no open technician check for this number. Text #verify to start one.", t.msp()))
	}
	r := open[0]
	if !t.now.Before(r.ExpiresAt) {
		r.Status, r.CodeSealed, r.ClosedAt, r.Detail = TechVerifyExpired, nil, t.now, "#confirm after the code expired"
		if err := t.update(ctx, &r); err != nil {
			return "", err
		}
		if err := t.e.queueTechVerifyNote(ctx, t.tx, r, t.now); err != nil {
			return "", err
		}
		if err := t.reject(ctx, r.ID, "expired"); err != nil {
			return "", err
		}
		return reply(fmt.Sprintf("%s: that code has expired. Text #verify for a new one.", t.msp()))
	}
	if arg := normalizeCode(t.in.Argument); arg != "" {
		if !isDigits(arg, techVerifyCodeDigits) || !hmac.Equal(codeHash(t.e.cfg.CodeKey, r.ID, techVerifyChannel, arg), r.CodeHash) {
			r.Attempts++
			if r.Attempts >= TechVerifyMaxAttempts {
				r.Status, r.CodeSealed, r.ClosedAt, r.Detail = TechVerifyFailed, nil, t.now, "too many wrong codes texted back"
			}
			if err := t.update(ctx, &r); err != nil {
				return "", err
			}
			if r.Status == TechVerifyFailed {
				if err := t.audit(ctx, AuditTechVerifyFailed, r.ID, map[string]string{"attempts": fmt.Sprint(r.Attempts)}); err != nil {
					return "", err
				}
				if err := t.e.queueTechVerifyNote(ctx, t.tx, r, t.now); err != nil {
					return "", err
				}
				return reply(fmt.Sprintf("%s: too many codes did not match; this check is closed. If someone says they are calling from %s, "+
					"hang up and call %s on a number you already know.", t.msp(), t.msp(), t.msp()))
			}
			if err := t.reject(ctx, r.ID, "wrong code"); err != nil {
				return "", err
			}
			return reply(fmt.Sprintf("%s: that is not the code we sent you. If the caller read it to you, they may not be from %s: hang up.",
				t.msp(), t.msp()))
		}
	}
	done, err := t.tx.ConfirmTechVerify(ctx, t.tenantID(), r.ID, "confirmed by the end user", t.now)
	if err != nil {
		return "", err
	}
	t.changed = t.changed || done
	if !done {
		if err := t.reject(ctx, r.ID, "no longer open"); err != nil {
			return "", err
		}
		return reply(fmt.Sprintf("%s: there is no open technician check for this number. Text #verify to start one.", t.msp()))
	}
	if err := t.audit(ctx, AuditTechVerifyConfirmed, r.ID, map[string]string{"contact": r.ContactID, "with_code": fmt.Sprint(t.in.Argument != "")}); err != nil {
		return "", err
	}
	r.Status, r.CodeSealed, r.ClosedAt, r.Detail = TechVerifyConfirmed, nil, t.now, "confirmed by the end user"
	if err := t.e.queueTechVerifyNote(ctx, t.tx, r, t.now); err != nil {
		return "", err
	}
	return reply(fmt.Sprintf("%s: thank you, the technician check is complete.", t.msp()))
}

// TechVerifyItem is a request as the technicians' inbox shows it.
type TechVerifyItem struct {
	TechVerifyRequest
	ContactName string // "" for an unknown caller
	ClientName  string
	// Expired reports whether an open request's code has run out (it is
	// closed as expired on the next #confirm).
	Expired bool
	// ClaimedByName is the claiming technician's name.
	ClaimedByName string
	// Matchable reports whether an unknown caller's request is recent
	// enough to match to a contact (see [Engine.MatchTechVerify]).
	Matchable bool
}

// TechVerifyInbox returns the tenant's requests of the last 24 hours,
// newest first, for technician tech. Codes are not in it: see
// [Engine.ClaimTechVerify].
func (e *Engine) TechVerifyInbox(ctx context.Context, tech Technician) ([]TechVerifyItem, error) {
	now := e.Now()
	return view(ctx, e, func(tx Tx) ([]TechVerifyItem, error) {
		rs, err := tx.ListTechVerifies(ctx, tech.TenantID, now.Add(-24*time.Hour), 100)
		if err != nil {
			return nil, err
		}
		out := make([]TechVerifyItem, 0, len(rs))
		names := map[string]string{}
		for _, r := range rs {
			r.CodeHash, r.CodeSealed = nil, nil
			it := TechVerifyItem{TechVerifyRequest: r, Expired: r.Status == TechVerifyOpen && !now.Before(r.ExpiresAt),
				Matchable: r.Status == TechVerifyUnknown && now.Sub(r.CreatedAt) <= TechVerifyMatchWindow}
			if r.ContactID != "" {
				if c, err := tx.Contact(ctx, tech.TenantID, r.ContactID); err == nil {
					it.ContactName = c.Name()
				} else if !isNotFound(err) {
					return nil, err
				}
				if cl, err := tx.Client(ctx, tech.TenantID, r.ClientID); err == nil {
					it.ClientName = cl.Name
				} else if !isNotFound(err) {
					return nil, err
				}
			}
			if r.ClaimedBy != "" {
				if _, ok := names[r.ClaimedBy]; !ok {
					if t, err := tx.Technician(ctx, tech.TenantID, r.ClaimedBy); err == nil {
						names[r.ClaimedBy] = t.Name
					}
				}
				it.ClaimedByName = names[r.ClaimedBy]
			}
			out = append(out, it)
		}
		return out, nil
	})
}

// ClaimTechVerify claims an open request for technician tech, who is then
// the one reading its code to the caller, and returns the code. A request
// claimed by another technician stays theirs (ErrConflict) unless tech is
// an admin taking it over; claims and take-overs are audited with who.
func (e *Engine) ClaimTechVerify(ctx context.Context, tech Technician, id string) (string, error) {
	var code string
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		r, err := tx.TechVerify(ctx, tech.TenantID, id)
		if err != nil {
			return err
		}
		code, err = e.claimTechVerify(ctx, tx, tech, &r, e.Now())
		return err
	})
	if err == nil {
		e.techVerifyChanged(ctx, tech.TenantID)
	}
	return code, err
}

// ClaimTechVerifyForTicket is ClaimTechVerify from a PSA ticket's screen
// (the pod): in one transaction tech claims the request and, unless it is
// assigned to a ticket already, assigns it to ticketRef of integration
// integrationID, so that its outcome is noted there. It returns the code
// and the ticket the request is assigned to.
func (e *Engine) ClaimTechVerifyForTicket(ctx context.Context, tech Technician, id, integrationID, ticketRef string) (code, assigned string, err error) {
	if ticketRef, err = checkTechVerifyTicket(ticketRef); err != nil {
		return "", "", err
	}
	err = e.cfg.Store.Update(ctx, func(tx Tx) error {
		now := e.Now()
		r, err := tx.TechVerify(ctx, tech.TenantID, id)
		if err != nil {
			return err
		}
		if code, err = e.claimTechVerify(ctx, tx, tech, &r, now); err != nil {
			return err
		}
		if r.TicketRef == "" {
			if err := e.assignTechVerify(ctx, tx, tech, &r, integrationID, ticketRef, now); err != nil {
				return err
			}
		}
		assigned = r.TicketRef
		return nil
	})
	if err == nil {
		e.techVerifyChanged(ctx, tech.TenantID)
	}
	return code, assigned, err
}

// claimTechVerify claims r for tech in tx and returns its code, spaced.
func (e *Engine) claimTechVerify(ctx context.Context, tx Tx, tech Technician, r *TechVerifyRequest, now time.Time) (string, error) {
	switch {
	case r.Status != TechVerifyOpen || len(r.CodeSealed) == 0:
		return "", Errorf(KindConflict, "this request is %s; there is no code to read", r.Status)
	case !now.Before(r.ExpiresAt):
		return "", Errorf(KindConflict, "this request's code has expired; the caller can text #verify again")
	case r.ClaimedBy != "" && r.ClaimedBy != tech.ID && !tech.Role.IsAdmin():
		return "", Errorf(KindConflict, "another technician has claimed this request")
	}
	plain, err := e.cfg.Sealer.Open(r.CodeSealed, techVerifyAAD(r.TenantID, r.ID))
	if err != nil {
		return "", fmt.Errorf("core: open technician-verification code: %w", err)
	}
	detail := map[string]string{}
	if r.ClaimedBy != "" && r.ClaimedBy != tech.ID {
		detail["taken_over_from"] = r.ClaimedBy
	}
	if r.ClaimedBy != tech.ID {
		r.ClaimedBy, r.ClaimedAt = tech.ID, now
		if err := tx.UpdateTechVerify(ctx, r); err != nil {
			return "", err
		}
	}
	if err := e.audit(ctx, tx, tech.TenantID, techActor(tech.ID), AuditTechVerifyClaimed, r.ID, detail); err != nil {
		return "", err
	}
	return spaceCode(string(plain)), nil
}

// checkTechVerifyTicket trims a ticket reference and refuses one that is
// empty, too long or spans lines.
func checkTechVerifyTicket(ref string) (string, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" || len(ref) > 100 || strings.ContainsAny(ref, "\r\n\t") {
		return "", Errorf(KindInvalid, "give the ticket number (at most 100 characters)")
	}
	return ref, nil
}

// AssignTechVerify assigns a request that tech claimed (or any, for an
// admin) to a PSA ticket: ticketRef of integration integrationID ("" picks
// the tenant's only integration). The outcome is noted on the ticket
// through the outbox when the request ends, or at once if it has.
func (e *Engine) AssignTechVerify(ctx context.Context, tech Technician, id, integrationID, ticketRef string) (TechVerifyRequest, error) {
	ticketRef, err := checkTechVerifyTicket(ticketRef)
	if err != nil {
		return TechVerifyRequest{}, err
	}
	var out TechVerifyRequest
	err = e.cfg.Store.Update(ctx, func(tx Tx) error {
		r, err := tx.TechVerify(ctx, tech.TenantID, id)
		if err != nil {
			return err
		}
		if err := e.assignTechVerify(ctx, tx, tech, &r, integrationID, ticketRef, e.Now()); err != nil {
			return err
		}
		out = r
		return nil
	})
	if err == nil {
		e.techVerifyChanged(ctx, tech.TenantID)
	}
	out.CodeHash, out.CodeSealed = nil, nil
	return out, err
}

// assignTechVerify assigns r to the ticket in tx, audited, and queues the
// note at once if r has ended.
func (e *Engine) assignTechVerify(ctx context.Context, tx Tx, tech Technician, r *TechVerifyRequest, integrationID, ticketRef string, now time.Time) error {
	switch {
	case r.Status == TechVerifyUnknown || r.Status == TechVerifyReplaced:
		return Errorf(KindConflict, "a request that is %s cannot be assigned to a ticket", r.Status)
	case r.ClaimedBy == "" || r.ClaimedBy != tech.ID && !tech.Role.IsAdmin():
		return Errorf(KindConflict, "claim the request before assigning it to a ticket")
	case r.TicketRef != "":
		return Errorf(KindConflict, "the request is assigned to ticket %s already", r.TicketRef)
	}
	if integrationID == "" {
		ins, err := tx.ListIntegrations(ctx, tech.TenantID)
		if err != nil {
			return err
		}
		if len(ins) != 1 {
			return Errorf(KindInvalid, "choose the PSA the ticket is in")
		}
		integrationID = ins[0].ID
	} else if _, err := tx.Integration(ctx, tech.TenantID, integrationID); err != nil {
		return err
	}
	r.IntegrationID, r.TicketRef = integrationID, ticketRef
	if err := tx.UpdateTechVerify(ctx, r); err != nil {
		return err
	}
	if err := e.audit(ctx, tx, tech.TenantID, techActor(tech.ID), AuditTechVerifyAssigned, r.ID,
		map[string]string{"integration": integrationID, "ticket": ticketRef}); err != nil {
		return err
	}
	if r.Status == TechVerifyOpen {
		return nil
	}
	return e.queueTechVerifyNote(ctx, tx, *r, now)
}

// techVerifyChanged tells the tenant's tech-verify inboxes, on every node,
// to refetch; called after the change committed.
func (e *Engine) techVerifyChanged(ctx context.Context, tenantID string) {
	e.publish(ctx, Event{Type: EventTechVerifyChanged, TenantID: tenantID, At: e.Now()})
}

// queueTechVerifyNote writes an ended request's outcome to its ticket
// through the outbox, in the transaction that ended it (or assigned it).
func (e *Engine) queueTechVerifyNote(ctx context.Context, tx Tx, r TechVerifyRequest, now time.Time) error {
	if r.TicketRef == "" || r.IntegrationID == "" || r.Status == TechVerifyOpen {
		return nil
	}
	who := "the caller's contact"
	if c, err := tx.Contact(ctx, r.TenantID, r.ContactID); err == nil {
		who = c.Name()
	} else if !isNotFound(err) {
		return err
	}
	tech := "a technician"
	if t, err := tx.Technician(ctx, r.TenantID, r.ClaimedBy); err == nil {
		tech = t.Name
	} else if !isNotFound(err) {
		return err
	}
	loc, err := tenantLocation(ctx, tx, r.TenantID)
	if err != nil {
		return err
	}
	when := FormatStamp(r.ClosedAt, loc)
	phone := MaskDestination(DestPhone, r.Phone)
	var text string
	if r.Status == TechVerifyConfirmed {
		text = fmt.Sprintf("Countersign: %s checked technician %s by text and CONFIRMED the code read to them (#verify from %s, %s). "+
			"Medium — restricted (PSTN): shows control of the phone number.", who, tech, phone, when)
	} else {
		text = fmt.Sprintf("Countersign: %s's check of technician %s by text was NOT confirmed: %s (#verify from %s, %s).",
			who, tech, strings.ToUpper(string(r.Status))+" — "+r.Detail, phone, when)
	}
	msg := Outbound{Kind: OutboxTicketNote, To: r.TicketRef, Tenant: r.TenantID, Integration: r.IntegrationID, Text: text}
	item := OutboxItem{ID: NewID("obx"), TenantID: r.TenantID, Kind: OutboxTicketNote, Status: OutboxPending,
		NextAttemptAt: now, CreatedAt: now, Dev: e.cfg.Senders[OutboxTicketNote] == nil}
	return e.sealAndEnqueue(ctx, tx, &item, msg, 0)
}
