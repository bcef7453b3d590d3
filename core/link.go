package core

import (
	"context"
	"crypto/hmac"
	"fmt"
	"time"
)

// LinkPage is what the end-user link page shows. Reading it changes nothing
// (security.md §5 rule 1): scanners that open every link must not confirm.
type LinkPage struct {
	Tenant         Tenant
	TechnicianName string
	TicketRef      string
	RequestedAt    time.Time
	ExpiresAt      time.Time
	Status         Status    // effective status
	State          LinkState // what the page tells the end user
	NeedsCode      bool      // the page must ask for the code the technician reads out
	VerificationID string
}

// LinkState is what the link page can tell whoever holds a link about its
// request. Expired links have no state: they read as unknown (security.md §8).
type LinkState string

// Link states.
const (
	LinkOpen      LinkState = "open"      // waiting for an answer: the page shows the form
	LinkConfirmed LinkState = "confirmed" // the end user confirmed
	LinkDeclined  LinkState = "declined"  // the end user said "This wasn't me"
	LinkLocked    LinkState = "locked"    // too many wrong technician codes
	LinkCancelled LinkState = "cancelled" // the help desk withdrew the request
	LinkClosed    LinkState = "closed"    // closed another way, e.g. the message could not be delivered
)

// Result details the link flow writes, so LinkStateOf can tell a decline
// from a burned link without a column of its own.
const (
	detailLinkDeclined = "the end user said this wasn't them"
	detailLinkLocked   = "too many wrong codes on the link page"
)

// LinkStateOf returns the link state of v as of now. An expired verification
// reads as closed here; LinkView and LinkConfirm never show it.
func LinkStateOf(v Verification, now time.Time) LinkState {
	switch v.EffectiveStatus(now) {
	case StatusPending, StatusSent:
		return LinkOpen
	case StatusVerified:
		return LinkConfirmed
	case StatusCancelled:
		return LinkCancelled
	case StatusFailed:
		switch v.Detail {
		case detailLinkDeclined:
			return LinkDeclined
		case detailLinkLocked:
			return LinkLocked
		}
	}
	return LinkClosed
}

// LinkAnswer is the end user's POST from the link page.
type LinkAnswer struct {
	Decline   bool   // "This wasn't me"
	Code      string // technician-read code, when the page asks for one
	IP        string // recorded for the technician (security.md §5 rule 5)
	UserAgent string
	// Nonce is the page view's form nonce; LinkConfirm spends it, so one
	// rendered page answers once (a replayed form changes nothing).
	// Empty means the caller checked nothing of the kind (tests of the
	// engine alone).
	Nonce string
}

// errUnknownLink is the one answer for unknown and expired links, so that an
// outsider cannot tell them apart (security.md §8).
var errUnknownLink = Errorf(KindNotFound, "this link is not valid or has expired; ask your IT contact to send a new one")

// unknownLinkOr returns errUnknownLink for a lookup that found nothing, and
// err itself otherwise: a database outage is not an invalid link.
func unknownLinkOr(err error) error {
	if ErrorKind(err) == KindNotFound {
		return errUnknownLink
	}
	return err
}

// LinkView returns what the link page for token shows, without changing
// anything. Unknown and expired links both return the same ErrNotFound.
func (e *Engine) LinkView(ctx context.Context, tenantSlug, token string) (LinkPage, error) {
	if tenantSlug == "" || token == "" || len(token) > 128 {
		return LinkPage{}, errUnknownLink
	}
	var page LinkPage
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		tenant, err := tx.TenantBySlug(ctx, tenantSlug)
		if err != nil {
			return unknownLinkOr(err)
		}
		v, err := tx.VerificationByLinkHash(ctx, tenant.ID, LinkTokenHash(token))
		if err != nil {
			return unknownLinkOr(err)
		}
		now := e.Now()
		st := v.EffectiveStatus(now)
		if st == StatusExpired {
			return errUnknownLink
		}
		page = LinkPage{Tenant: tenant, TicketRef: MessageTicketRef(v.TicketRef), RequestedAt: v.SentAt, ExpiresAt: v.ExpiresAt,
			Status: st, State: LinkStateOf(v, now), NeedsCode: v.SecretHash != nil, VerificationID: v.ID}
		if page.RequestedAt.IsZero() {
			page.RequestedAt = v.CreatedAt
		}
		if tech, err := tx.Technician(ctx, tenant.ID, v.TechnicianID); err == nil {
			page.TechnicianName = MessageName(tech.Name)
		}
		return nil
	})
	if err != nil && ErrorKind(err) != KindNotFound {
		return LinkPage{}, err
	}
	return page, err
}

// LinkConfirm applies the end user's answer from the link page. Confirming
// twice is idempotent; a wrong technician code counts as an attempt and five
// burn the link. Declining fails the verification and alerts the technician.
func (e *Engine) LinkConfirm(ctx context.Context, tenantSlug, token string, a LinkAnswer) (Verification, error) {
	if tenantSlug == "" || token == "" || len(token) > 128 {
		return Verification{}, errUnknownLink
	}
	var lt *linkAnswerTx
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		var err error
		if lt, err = e.openLinkAnswer(ctx, tx, tenantSlug, token); err != nil {
			return err
		}
		return lt.apply(ctx, a)
	})
	if err != nil {
		return Verification{}, err
	}
	e.finish(ctx, lt.v, lt.evType)
	return lt.v, lt.outcome
}

// linkAnswerTx is an end user's answer from the link page as LinkConfirm's
// transaction applies it: v is the link's verification, locked; evType
// the event its change makes; outcome the end user's answer when it is
// not a confirmation (committed with whatever the answer counted).
type linkAnswerTx struct {
	e        *Engine
	tx       Tx
	tenantID string
	policy   Policy
	now      time.Time
	v        Verification
	evType   EventType
	outcome  error
}

// openLinkAnswer finds and locks the verification of the link token of
// the tenant tenantSlug, with its policy.
func (e *Engine) openLinkAnswer(ctx context.Context, tx Tx, tenantSlug, token string) (*linkAnswerTx, error) {
	lt := &linkAnswerTx{e: e, tx: tx, now: e.Now()}
	tenant, err := tx.TenantBySlug(ctx, tenantSlug)
	if err != nil {
		return nil, unknownLinkOr(err)
	}
	lt.tenantID = tenant.ID
	found, err := tx.VerificationByLinkHash(ctx, tenant.ID, LinkTokenHash(token))
	if err != nil {
		return nil, unknownLinkOr(err)
	}
	if lt.v, err = tx.LockVerification(ctx, tenant.ID, found.ID); err != nil {
		return nil, err
	}
	if lt.policy, err = EffectivePolicy(ctx, tx, tenant.ID, lt.v.ClientID); err != nil {
		return nil, err
	}
	return lt, nil
}

// apply applies answer a: a replayed form changes nothing, a repeated
// confirmation is done already, an expired or ended link is refused, a
// decline fails the verification, a code that is not one is refused
// without counting, a wrong one counts; anything else verifies.
func (lt *linkAnswerTx) apply(ctx context.Context, a LinkAnswer) error {
	if a.Nonce != "" {
		if err := lt.tx.UseLinkNonce(ctx, lt.tenantID, lt.v.ID, LinkTokenHash(a.Nonce), lt.now); err != nil {
			if ErrorKind(err) == KindConflict {
				lt.outcome = err // a replayed form: nothing else changes
				return nil
			}
			return err
		}
	}
	detail := map[string]string{"ip": a.IP, "user_agent": ClipBytes(a.UserAgent, 200, "")}
	switch st := lt.v.EffectiveStatus(lt.now); {
	case st == StatusVerified && !a.Decline:
		return nil // a repeat of the confirming POST: already done
	case st == StatusExpired:
		return lt.expired(ctx)
	case !st.Open():
		lt.outcome = Errorf(KindGone, "this request is %s; nothing was changed", st)
		return nil
	case a.Decline:
		return lt.decline(ctx, detail)
	case lt.v.SecretHash != nil && !isDigits(normalizeCode(a.Code), linkCodeDigits):
		// Not a code at all (letters, a digit short): a typo must not
		// burn an attempt. Nothing is written.
		lt.outcome = Errorf(KindInvalid, "the code is %d digits; ask for it to be read again (nothing was counted)", linkCodeDigits)
		return nil
	case lt.v.SecretHash != nil && !hmac.Equal(codeHash(lt.e.cfg.CodeKey, lt.v.ID, linkCodeChannel, normalizeCode(a.Code)), lt.v.SecretHash):
		return lt.wrongCode(ctx)
	}
	if err := lt.e.markVerified(ctx, lt.tx, lt.policy, &lt.v, "enduser", lt.now, &lt.evType); err != nil {
		return err
	}
	return lt.e.audit(ctx, lt.tx, lt.tenantID, "enduser", AuditVerificationLinkConfirmed, lt.v.ID, detail)
}

// expired ends a link used after its expiry (if it is still open) and
// counts the use as a failure.
func (lt *linkAnswerTx) expired(ctx context.Context) error {
	if lt.v.Status.Open() {
		lt.v.Status, lt.v.CompletedAt, lt.v.Detail = StatusExpired, lt.now, "link expired before it was used"
		lt.evType = EventVerificationExpired
		if err := lt.end(ctx); err != nil {
			return err
		}
	}
	lt.outcome = errUnknownLink
	return lt.e.countFailure(ctx, lt.tx, lt.policy, lt.v, "enduser", "link used after expiry", lt.now)
}

// decline fails the verification: the end user says they did not ask.
func (lt *linkAnswerTx) decline(ctx context.Context, detail map[string]string) error {
	lt.v.Status, lt.v.CompletedAt, lt.v.Detail = StatusFailed, lt.now, detailLinkDeclined
	lt.evType, lt.outcome = EventVerificationFailed, nil
	if err := lt.end(ctx); err != nil {
		return err
	}
	if err := lt.e.countFailure(ctx, lt.tx, lt.policy, lt.v, "enduser", "declined", lt.now); err != nil {
		return err
	}
	return lt.e.audit(ctx, lt.tx, lt.tenantID, "enduser", AuditVerificationDeclined, lt.v.ID, detail)
}

// wrongCode counts a wrong technician code; the last attempt burns the
// link.
func (lt *linkAnswerTx) wrongCode(ctx context.Context) error {
	lt.v.Attempts++
	left := lt.v.MaxAttempts - lt.v.Attempts
	lt.evType = EventVerificationAttempt
	lt.outcome = Errorf(KindInvalid, "that code does not match; %s left", plural(left, "attempt"))
	if left <= 0 {
		lt.v.Status, lt.v.CompletedAt, lt.v.Detail = StatusFailed, lt.now, detailLinkLocked
		lt.evType, lt.outcome = EventVerificationFailed, Errorf(KindGone, "too many wrong codes; this link no longer works")
	}
	if err := lt.end(ctx); err != nil {
		return err
	}
	return lt.e.countFailure(ctx, lt.tx, lt.policy, lt.v, "enduser", "wrong link code", lt.now)
}

// end writes v's change and queues what its outcome tells.
func (lt *linkAnswerTx) end(ctx context.Context) error {
	if err := lt.tx.UpdateVerification(ctx, &lt.v); err != nil {
		return err
	}
	return lt.e.queueOutcome(ctx, lt.tx, lt.v, lt.now)
}

// plural returns "1 attempt" or "n attempts".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
