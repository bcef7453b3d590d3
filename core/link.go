package core

import (
	"context"
	"crypto/hmac"
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
	Status         Status // effective status
	NeedsCode      bool   // the page must ask for the code the technician reads out
	VerificationID string
}

// LinkAnswer is the end user's POST from the link page.
type LinkAnswer struct {
	Decline   bool   // "This wasn't me"
	Code      string // technician-read code, when the page asks for one
	IP        string // recorded for the technician (security.md §5 rule 5)
	UserAgent string
}

// errUnknownLink is the one answer for unknown and expired links, so that an
// outsider cannot tell them apart (security.md §8).
var errUnknownLink = Errorf(KindNotFound, "this link is not valid; ask your IT contact to send a new one")

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
			return errUnknownLink
		}
		v, err := tx.VerificationByLinkHash(ctx, tenant.ID, LinkTokenHash(token))
		if err != nil {
			return errUnknownLink
		}
		st := v.EffectiveStatus(e.Now())
		if st == StatusExpired {
			return errUnknownLink
		}
		page = LinkPage{Tenant: tenant, TicketRef: v.TicketRef, RequestedAt: v.SentAt, ExpiresAt: v.ExpiresAt,
			Status: st, NeedsCode: v.SecretHash != nil, VerificationID: v.ID}
		if tech, err := tx.Technician(ctx, tenant.ID, v.TechnicianID); err == nil {
			page.TechnicianName = tech.Name
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
			return errUnknownLink
		}
		found, err := tx.VerificationByLinkHash(ctx, tenant.ID, LinkTokenHash(token))
		if err != nil {
			return errUnknownLink
		}
		if v, err = tx.LockVerification(ctx, tenant.ID, found.ID); err != nil {
			return err
		}
		policy, err := EffectivePolicy(ctx, tx, tenant.ID, v.ClientID)
		if err != nil {
			return err
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
			}
			outcome = errUnknownLink
			return e.countFailure(ctx, tx, policy, v, "enduser", "link used after expiry", now)
		case !st.Open():
			outcome = Errorf(KindGone, "this request is %s; nothing was changed", st)
			return nil
		case a.Decline:
			v.Status, v.CompletedAt, v.Detail = StatusFailed, now, "the end user said this wasn't them"
			evType, outcome = EventVerificationFailed, nil
			if err := tx.UpdateVerification(ctx, &v); err != nil {
				return err
			}
			if err := e.countFailure(ctx, tx, policy, v, "enduser", "declined", now); err != nil {
				return err
			}
			return e.audit(ctx, tx, tenant.ID, "enduser", "verification.declined", v.ID, detail)
		case v.SecretHash != nil && !hmac.Equal(codeHash(e.cfg.CodeKey, v.ID, linkCodeChannel, normalizeCode(a.Code)), v.SecretHash):
			v.Attempts++
			left := v.MaxAttempts - v.Attempts
			evType = EventVerificationAttempt
			outcome = Errorf(KindInvalid, "that code does not match; %d attempt(s) left", left)
			if left <= 0 {
				v.Status, v.CompletedAt, v.Detail = StatusFailed, now, "too many wrong codes on the link page"
				evType, outcome = EventVerificationFailed, Errorf(KindGone, "too many wrong codes; this link no longer works")
			}
			if err := tx.UpdateVerification(ctx, &v); err != nil {
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

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
