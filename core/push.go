package core

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// pushVendor is what differs between the push providers in the steps
// they share: the words a technician reads and the audit keys.
type pushVendor struct {
	name      string // "Duo push": in details and the MSP's alert
	prefix    string // before a failure's detail in the failure count
	destKey   string // audit key of the destination (Duo username, UPN)
	resultKey string // audit key of the provider's answer before a push
	statusKey string // audit key of the provider's final answer (DeliveryStatus)
}

var (
	duoVendor       = pushVendor{name: "Duo push", prefix: "duo", destKey: "username", resultKey: "duo_result", statusKey: "duo_status"}
	microsoftVendor = pushVendor{name: "Microsoft Authenticator push", prefix: "microsoft", destKey: "upn", resultKey: "microsoft_result", statusKey: "microsoft_result"}
)

// vendorOf is the provider of a push method.
func vendorOf(m Method) pushVendor {
	if m == MethodMicrosoftPush {
		return microsoftVendor
	}
	return duoVendor
}

// checkPushRequest tidies req and checks what needs no reading: a push
// needs a contact and a ticket (security.md §4: only on an open
// verification tied to a ticket), and a ticket reference given without an
// integration must be one Countersign can read.
func checkPushRequest(req *PushRequest) error {
	req.Note = strings.TrimSpace(req.Note)
	req.TicketRef = strings.TrimSpace(req.TicketRef)
	if err := checkPurpose(req.Purpose); err != nil {
		return err
	}
	switch {
	case req.ContactID == "":
		return Errorf(KindInvalid, "contact is required")
	case req.TicketRef == "":
		return Errorf(KindInvalid, "a push needs a ticket: open the caller's ticket first")
	case utf8.RuneCountInString(req.Note) > maxNoteLen:
		return Errorf(KindInvalid, "note must be at most %d characters", maxNoteLen)
	case utf8.RuneCountInString(req.TicketRef) > maxTicketRefLen:
		return Errorf(KindInvalid, "ticket reference must be at most %d characters", maxTicketRefLen)
	case req.IntegrationID == "":
		return CheckTicketRef(req.TicketRef)
	}
	return nil
}

// pushParties is who a push is for, read in its opening transaction: the
// technician pressing, the contact, and the contact's policy.
type pushParties struct {
	tech    Technician
	contact Contact
	policy  Policy
}

// readPushParties reads, inside the opening transaction, the technician,
// contact and policy of a push (or workstation prompt) request, and checks that the policy allows
// method m for the request's purpose and that a named integration exists.
func readPushParties(ctx context.Context, tx Tx, req PushRequest, m Method) (pushParties, error) {
	var p pushParties
	var err error
	if p.tech, err = tx.Technician(ctx, req.TenantID, req.TechnicianID); err != nil {
		return p, fmt.Errorf("technician: %w", err)
	}
	if p.contact, err = tx.Contact(ctx, req.TenantID, req.ContactID); err != nil {
		return p, err
	}
	if p.policy, err = EffectivePolicy(ctx, tx, req.TenantID, p.contact.ClientID); err != nil {
		return p, err
	}
	if !p.policy.Allows(m) {
		return p, Errorf(KindForbidden, "the policy for this client does not allow %s", notAllowedWords(m))
	}
	// A Duo push's level depends on its account (Verified Duo Push):
	// openDuoPush checks it once the account is known.
	if m != MethodDuoPush {
		if err := p.policy.CheckAssurance(m, req.Purpose); err != nil {
			return p, err
		}
	}
	if req.IntegrationID != "" {
		if _, err := tx.Integration(ctx, req.TenantID, req.IntegrationID); err != nil {
			return p, err
		}
	}
	return p, nil
}

// notAllowedWords names m in the refusal of a policy that does not allow
// it: a push by its provider's words, other methods by their ID.
func notAllowedWords(m Method) string {
	if isPush(m) {
		return vendorOf(m).name
	}
	return string(m)
}

// lockForPush locks the contact's open verifications first, so that
// concurrent presses queue there and each sees the pushes of those before
// it, then applies the push limits and the failure cap of channel k.
func (e *Engine) lockForPush(ctx context.Context, tx Tx, tenantID string, p pushParties, k DestinationKind, now time.Time) error {
	open, err := tx.LockOpenVerifications(ctx, tenantID, p.contact.ID)
	if err != nil {
		return err
	}
	// The technician too (after the contact, in LockContactFor's order):
	// one technician's presses for different users then count each
	// other's pushes, which recordPushStarted reserves.
	if _, err := tx.LockTechnician(ctx, tenantID, p.tech.ID); err != nil {
		return fmt.Errorf("technician: %w", err)
	}
	if err := e.checkPushLimits(ctx, tx, p.policy, open, tenantID, p.contact.ID, p.tech.ID, now); err != nil {
		return err
	}
	return e.checkFailureCap(ctx, tx, p.policy, tenantID, p.contact.ID, k)
}

// newPush is the pending verification of a push by method m to the
// contact's user destination at the account or connection destID; detail
// is what the technician reads until the provider answers.
func newPush(req PushRequest, p pushParties, m Method, k DestinationKind, destID, destination, detail string, now time.Time) Verification {
	return Verification{
		ID: NewID("ver"), TenantID: req.TenantID, ClientID: p.contact.ClientID, ContactID: p.contact.ID,
		DestinationID: destID, DestKind: k, Destination: destination,
		Method: m, TicketRef: req.TicketRef, IntegrationID: req.IntegrationID, Purpose: req.Purpose,
		TechnicianID: p.tech.ID, Status: StatusPending, MaxAttempts: 1, Note: req.Note, CreatedAt: now,
		ExpiresAt: now.Add(min(p.policy.Lifetime.D(), pushMaxLifetime)), Detail: detail,
	}
}

// recordPushStarted, inside the opening transaction, cancels the
// contact's other live verifications, inserts v and audits its start with
// d (and the note, if any). It returns the verifications it cancelled.
func (e *Engine) recordPushStarted(ctx context.Context, tx Tx, v *Verification, d map[string]string, now time.Time) ([]Verification, error) {
	replaced, err := e.replaceLive(ctx, tx, *v, techActor(v.TechnicianID), now)
	if err != nil {
		return nil, err
	}
	if err := tx.CreateVerification(ctx, v); err != nil {
		return nil, err
	}
	// The technician's hourly limit counts this push from now, not from
	// when the provider took it: presses racing for other users (which
	// wait on the technician's row, lockForPush) see it. pushUnavailable
	// gives the slot back when no push goes out.
	if err := tx.RecordSend(ctx, &Send{ID: NewID("snd"), TenantID: v.TenantID, VerificationID: v.ID,
		ContactID: v.ContactID, Destination: v.Destination, TechnicianID: v.TechnicianID, Method: v.Method, At: now}); err != nil {
		return nil, err
	}
	if v.Note != "" {
		d["note"] = v.Note
	}
	return replaced, e.audit(ctx, tx, v.TenantID, techActor(v.TechnicianID), string(EventVerificationStarted), v.ID, d)
}

// announcePushStarted tells, once the opening transaction has committed,
// that the replaced verifications ended and that v started.
func (e *Engine) announcePushStarted(ctx context.Context, v Verification, replaced []Verification) {
	for _, old := range replaced {
		e.finish(ctx, old, EventVerificationCancelled)
	}
	e.observe(v.Method, "started")
	e.publish(ctx, e.event(EventVerificationStarted, v))
}

// awaitPush runs wait, which awaits the provider's answer to a push, in
// the background: the request that pressed Push is done. Wait waits for
// it.
func (e *Engine) awaitPush(wait func()) {
	e.inflight.Add(1)
	go func() {
		defer e.inflight.Done()
		wait()
	}()
}

// pushUnavailable ends a push that no prompt can reach, as cancelled with
// the reason in words: not a verification failure, and not a push counted
// by the limits. result is the provider's answer, if it gave one.
func (e *Engine) pushUnavailable(ctx context.Context, v Verification, result, reason string) (Verification, error) {
	vendor := vendorOf(v.Method)
	var changed bool
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		now := e.Now()
		cur, err := tx.LockVerification(ctx, v.TenantID, v.ID)
		if err != nil {
			return err
		}
		// No push went out: the technician's limit does not count it.
		if err := tx.DeleteSends(ctx, v.TenantID, v.ID); err != nil {
			return err
		}
		if !cur.Status.Open() {
			v = cur
			return nil
		}
		cur.Status, cur.CompletedAt, cur.Detail = StatusCancelled, now, vendor.name+" unavailable: "+reason
		cur.DeliveryStatus = result
		if err := tx.UpdateVerification(ctx, &cur); err != nil {
			return err
		}
		v, changed = cur, true
		if err := e.queueTicketNote(ctx, tx, cur, now); err != nil {
			return err
		}
		d := map[string]string{"reason": reason, vendor.destKey: cur.Destination}
		if result != "" {
			d[vendor.resultKey] = result
		}
		return e.audit(ctx, tx, v.TenantID, "provider", AuditPushUnavailable, v.ID, d)
	})
	if err != nil {
		return Verification{}, err
	}
	if changed {
		e.finish(ctx, v, EventVerificationCancelled)
	}
	return v, nil
}

// pushSend is one push going out, as markPushSent records it.
type pushSend struct {
	destination string            // the provider's user (Duo username, UPN)
	ref         string            // the provider's handle (Duo txid, Microsoft ContextId)
	detail      string            // what the technician reads while waiting
	level       Assurance         // Verification.Level ("" the method's)
	audit       map[string]string // the sent audit's details
	// lateAudit, when set, is audited if the verification ended first:
	// the push went out already (Duo sends before we record).
	lateAudit map[string]string
}

// markPushSent records a push: its handle and audit (its send record, for
// the technician's limit, was reserved when it was opened). live is false when the verification ended
// meanwhile (replaced by a newer one); its push is then not awaited.
func (e *Engine) markPushSent(ctx context.Context, v Verification, p pushSend) (Verification, bool, error) {
	live := false
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		now := e.Now()
		cur, err := tx.LockVerification(ctx, v.TenantID, v.ID)
		if err != nil {
			return err
		}
		if !cur.Status.Open() {
			v, live = cur, false
			if p.lateAudit == nil {
				return nil
			}
			p.lateAudit["reason"] = "push sent after the verification was " + string(cur.Status)
			return e.audit(ctx, tx, v.TenantID, "provider", AuditPushLate, v.ID, p.lateAudit)
		}
		cur.Status, cur.Destination, cur.ProviderRef, cur.DeliveryStatus = StatusSent, p.destination, p.ref, "pushed"
		cur.Sends, cur.SentAt, cur.Detail, cur.Level = 1, now, p.detail, p.level
		if err := tx.UpdateVerification(ctx, &cur); err != nil {
			return err
		}
		v, live = cur, true
		return e.audit(ctx, tx, v.TenantID, "provider", string(EventVerificationSent), v.ID, p.audit)
	})
	if err != nil {
		return Verification{}, false, err
	}
	if live {
		e.publish(ctx, e.event(EventVerificationSent, v))
	}
	return v, live, nil
}

// endPushNotVerified records, inside the answer's transaction, a final
// answer that does not verify: the verification ends with status and
// detail, the ticket note (or, where the policy asks, the on-call notice)
// is queued, a denial or fraud report alerts the MSP, and a failure counts
// toward the channel's consecutive failures.
func (e *Engine) endPushNotVerified(ctx context.Context, tx Tx, policy Policy, v *Verification, now time.Time, status Status, detail string, alert, failure bool) error {
	v.Status, v.CompletedAt, v.Detail = status, now, detail
	if err := tx.UpdateVerification(ctx, v); err != nil {
		return err
	}
	// A denial or fraud report raises its own alert below; other
	// failures tell the on-call users where the policy asks.
	queue := e.queueOutcome
	if alert {
		queue = e.queueTicketNote
	}
	if err := queue(ctx, tx, *v, now); err != nil {
		return err
	}
	if alert {
		if err := e.queuePushAlert(ctx, tx, policy, *v, now); err != nil {
			return err
		}
	}
	if failure {
		return e.countFailure(ctx, tx, policy, *v, "provider", vendorOf(v.Method).prefix+": "+v.Detail, now)
	}
	return nil
}

// pushRefusal says how the user refused v's push: "denied", "reported as
// fraud", or "" when they did not (security.md §4: 24 hours without
// pushes and an alert after either).
func pushRefusal(v Verification) string {
	switch v.DeliveryStatus {
	case "deny", "PhoneAppDenied":
		return "denied"
	case "fraud", "PhoneAppFraud":
		return "reported as fraud"
	}
	return ""
}

// queuePushAlert tells the MSP that a user denied a push or reported it
// as fraud: someone may be impersonating them. The on-call users of the
// groups that want NotifyPushRefused are told by their own ways; without
// such a group every owner and admin is e-mailed.
func (e *Engine) queuePushAlert(ctx context.Context, tx Tx, policy Policy, v Verification, now time.Time) error {
	contact, err := tx.Contact(ctx, v.TenantID, v.ContactID)
	if err != nil {
		return err
	}
	requester, err := tx.Technician(ctx, v.TenantID, v.TechnicianID)
	if err != nil {
		return err
	}
	loc, err := tenantLocation(ctx, tx, v.TenantID)
	if err != nil {
		return err
	}
	vendor, what := vendorOf(v.Method), pushRefusal(v)
	text := fmt.Sprintf("Countersign alert: %s %s a %s sent by %s on ticket %s at %s. "+
		"The caller may not be who they say they are. Pushes to this user are stopped for %s.",
		contact.Name(), what, vendor.name, requester.Name, v.TicketRef, FormatStamp(now, loc), durationWords(policy.Normalized().Push.DeniedBlock.D()))
	n, err := e.alertOnCallOrAdmins(ctx, tx, v.TenantID, NotifyPushRefused, v.ID, NotifyMessage{
		Subject: "Countersign alert: " + vendor.name + " " + what + " by " + contact.Name(), Text: text,
		Say: "Countersign alert. " + contact.Name() + " " + what + " a " + vendor.name + ". The caller may not be who they say they are."}, now)
	if err != nil {
		return err
	}
	return e.audit(ctx, tx, v.TenantID, "provider", AuditPushAlert, v.ID,
		map[string]string{"contact": v.ContactID, vendor.statusKey: v.DeliveryStatus, "recipients": fmt.Sprint(n)})
}
