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
	var (
		v       Verification
		outcome error
		evType  EventType
	)
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		now := e.Now()
		tenant, err := tx.TenantBySlug(ctx, tenantSlug)
		if err != nil {
			return unknownLinkOr(err)
		}
		found, err := tx.VerificationByLinkHash(ctx, tenant.ID, LinkTokenHash(token))
		if err != nil {
			return unknownLinkOr(err)
		}
		if v, err = tx.LockVerification(ctx, tenant.ID, found.ID); err != nil {
			return err
		}
		policy, err := EffectivePolicy(ctx, tx, tenant.ID, v.ClientID)
		if err != nil {
			return err
		}
		if a.Nonce != "" {
			if err := tx.UseLinkNonce(ctx, tenant.ID, v.ID, LinkTokenHash(a.Nonce), now); err != nil {
				if ErrorKind(err) == KindConflict {
					outcome = err // a replayed form: nothing else changes
					return nil
				}
				return err
			}
		}
		detail := map[string]string{"ip": a.IP, "user_agent": truncate(a.UserAgent, 200)}
		switch st := v.EffectiveStatus(now); {
		case st == StatusVerified && !a.Decline:
			return nil // a repeat of the confirming POST: already done
		case st == StatusExpired:
			if v.Status.Open() {
				v.Status, v.CompletedAt, v.Detail = StatusExpired, now, "link expired before it was used"
				evType = EventVerificationExpired
				if err := tx.UpdateVerification(ctx, &v); err != nil {
					return err
				}
				if err := e.queueOutcome(ctx, tx, v, now); err != nil {
					return err
				}
			}
			outcome = errUnknownLink
			return e.countFailure(ctx, tx, policy, v, "enduser", "link used after expiry", now)
		case !st.Open():
			outcome = Errorf(KindGone, "this request is %s; nothing was changed", st)
			return nil
		case a.Decline:
			v.Status, v.CompletedAt, v.Detail = StatusFailed, now, detailLinkDeclined
			evType, outcome = EventVerificationFailed, nil
			if err := tx.UpdateVerification(ctx, &v); err != nil {
				return err
			}
			if err := e.queueOutcome(ctx, tx, v, now); err != nil {
				return err
			}
			if err := e.countFailure(ctx, tx, policy, v, "enduser", "declined", now); err != nil {
				return err
			}
			return e.audit(ctx, tx, tenant.ID, "enduser", "verification.declined", v.ID, detail)
		case v.SecretHash != nil && !isDigits(normalizeCode(a.Code), linkCodeDigits):
			// Not a code at all (letters, a digit short): a typo must not
			// burn an attempt. Nothing is written.
			outcome = Errorf(KindInvalid, "the code is %d digits; ask for it to be read again (nothing was counted)", linkCodeDigits)
			return nil
		case v.SecretHash != nil && !hmac.Equal(codeHash(e.cfg.CodeKey, v.ID, linkCodeChannel, normalizeCode(a.Code)), v.SecretHash):
			v.Attempts++
			left := v.MaxAttempts - v.Attempts
			evType = EventVerificationAttempt
			outcome = Errorf(KindInvalid, "that code does not match; %s left", plural(left, "attempt"))
			if left <= 0 {
				v.Status, v.CompletedAt, v.Detail = StatusFailed, now, detailLinkLocked
				evType, outcome = EventVerificationFailed, Errorf(KindGone, "too many wrong codes; this link no longer works")
			}
			if err := tx.UpdateVerification(ctx, &v); err != nil {
				return err
			}
			if err := e.queueOutcome(ctx, tx, v, now); err != nil {
				return err
			}
			return e.countFailure(ctx, tx, policy, v, "enduser", "wrong link code", now)
		}
		if err := e.markVerified(ctx, tx, policy, &v, "enduser", now, &evType); err != nil {
			return err
		}
		return e.audit(ctx, tx, tenant.ID, "enduser", "verification.link_confirmed", v.ID, detail)
	})
	if err != nil {
		return Verification{}, err
	}
	e.finish(ctx, v, evType)
	return v, outcome
}

// plural returns "1 attempt" or "n attempts".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
