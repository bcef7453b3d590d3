package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// sealedMessage is what an outbox item's encrypted payload holds.
type sealedMessage struct {
	Outbound Outbound `json:"outbound"`
	// Send is the verification's send number this message carries; a newer
	// send revokes it, so an older item still waiting is skipped.
	Send int `json:"send,omitempty"`
}

// outboxAAD binds a sealed payload to its row.
func outboxAAD(tenantID, id string) []byte { return []byte("outbox/" + tenantID + "/" + id) }

// maxInlineSends bounds the sends in flight straight after a commit.
const maxInlineSends = 64

// enqueue seals msg and writes it to the outbox in tx. When a send slot is
// free, the item is written already leased to this process and returned, so
// the caller can send it as soon as tx commits — no worker round trip, no
// claim transaction. Otherwise it returns nil and the worker delivers it.
// The caller must release a returned item's slot with sendAfterCommit or
// releaseSlot.
func (e *Engine) enqueue(ctx context.Context, tx Tx, tenantID, verificationID string, send int, msg Outbound, now time.Time) (*OutboxItem, error) {
	item := OutboxItem{
		ID: NewID("obx"), TenantID: tenantID, Kind: msg.Kind, VerificationID: verificationID,
		Status: OutboxPending, NextAttemptAt: now, CreatedAt: now,
		// Acting on an inbound event is not a message: it runs in dev
		// delivery mode too (what it sends is kept like any message).
		Dev: e.cfg.DevDelivery && msg.Kind != OutboxInboundEvent,
	}
	ready, err := e.channelReady(ctx, tx, tenantID, msg.Kind)
	if err != nil {
		return nil, err
	}
	item.Dev = item.Dev || !ready
	inline := false
	select {
	case e.sendSlots <- struct{}{}:
		inline = true
		// If this process dies before sending, the lease runs out and any
		// node's worker delivers the item.
		item.LeaseUntil = now.Add(outboxLease)
	default:
	}
	if err := e.sealAndEnqueue(ctx, tx, &item, msg, send); err != nil {
		if inline {
			e.releaseSlot()
		}
		return nil, fmt.Errorf("core: enqueue outbox message: %w", err)
	}
	if !inline {
		return nil, nil
	}
	return &item, nil
}

// sealAndEnqueue seals msg into item and writes item to the outbox in tx.
func (e *Engine) sealAndEnqueue(ctx context.Context, tx Tx, item *OutboxItem, msg Outbound, send int) error {
	plain, err := json.Marshal(sealedMessage{Outbound: msg, Send: send})
	if err == nil {
		item.Sealed, err = e.cfg.Sealer.Seal(plain, outboxAAD(item.TenantID, item.ID))
	}
	if err == nil {
		err = tx.EnqueueOutbox(ctx, item)
	}
	return err
}

func (e *Engine) releaseSlot() { <-e.sendSlots }

// sendAfterCommit delivers an item leased by enqueue once its transaction
// has committed; committed false means it rolled back and there is nothing
// to send.
func (e *Engine) sendAfterCommit(item *OutboxItem, committed bool) {
	if item == nil {
		return
	}
	if !committed {
		e.releaseSlot()
		return
	}
	e.inflight.Add(1)
	go func() {
		defer e.inflight.Done()
		defer e.releaseSlot()
		// Not the request's context: the send must finish even when the
		// technician's request is done.
		if err := e.deliverItem(context.Background(), *item, false); err != nil {
			e.log.Error("send after commit failed; the outbox worker will retry", "outbox_id", item.ID, "err", err)
		}
	}()
}

// Wait blocks until sends started after commits have finished, for a
// graceful shutdown.
func (e *Engine) Wait() { e.inflight.Wait() }

// OpenOutbox decrypts an outbox item's message, for the dev outbox view.
// Items delivered for real have had their payload scrubbed and return ErrGone.
func (e *Engine) OpenOutbox(item OutboxItem) (Outbound, error) {
	if item.Sealed == nil {
		return Outbound{}, Errorf(KindGone, "message content was removed after delivery")
	}
	plain, err := e.cfg.Sealer.Open(item.Sealed, outboxAAD(item.TenantID, item.ID))
	if err != nil {
		return Outbound{}, fmt.Errorf("core: open outbox item %s: %w", item.ID, err)
	}
	var m sealedMessage
	if err := json.Unmarshal(plain, &m); err != nil {
		return Outbound{}, fmt.Errorf("core: decode outbox item %s: %w", item.ID, err)
	}
	return m.Outbound, nil
}

// Wake tells the outbox worker there is work, without waiting.
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Outbox retry schedule: exponential from one second, capped, and given up
// after maxOutboxAttempts (about an hour of tries) as dead.
const (
	outboxLease       = 30 * time.Second
	outboxBatch       = 16
	outboxBaseDelay   = time.Second
	outboxMaxDelay    = 10 * time.Minute
	maxOutboxAttempts = 12
	// maxNoteAttempts keeps a ticket note retrying for about three days at
	// the longest backoff: a PSA that is down for a weekend still gets it.
	maxNoteAttempts = 450
	sendTimeout     = 20 * time.Second
)

// maxAttempts is how often an item of kind k is tried before it is dead.
// Codes are useless after minutes; notes are worth waiting for.
func maxAttempts(k OutboxKind) int {
	if k == OutboxTicketNote || k == OutboxPSATicket || k == OutboxPSAContact {
		return maxNoteAttempts
	}
	return maxOutboxAttempts
}

// outboxBackoff returns the delay before retry number attempts (1-based).
func outboxBackoff(attempts int) time.Duration {
	d := outboxBaseDelay << min(attempts-1, 20)
	return min(d, outboxMaxDelay)
}

// RunOutbox delivers outbox items until ctx ends: at once when woken, and
// every poll interval for items another node queued or that wait for a retry.
func (e *Engine) RunOutbox(ctx context.Context, poll time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	// Settings given at start-up may be the fix of a misconfigured channel:
	// each one gets a probe now.
	if _, err := e.resumeDueChannels(ctx, true); err != nil && ctx.Err() == nil {
		e.log.Error("outbox: resume misconfigured channels failed", "err", err)
	}
	for {
		for {
			n, err := e.DeliverDue(ctx)
			if err != nil && ctx.Err() == nil {
				e.log.Error("outbox pass failed", "err", err)
			}
			if n < outboxBatch || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-e.wake:
		case <-t.C:
		}
	}
}

// DeliverDue claims due outbox items and delivers them, returning how many
// it claimed. Items parked on a misconfigured channel whose probe is due
// are made pending first.
func (e *Engine) DeliverDue(ctx context.Context) (int, error) {
	if _, err := e.resumeDueChannels(ctx, false); err != nil {
		return 0, fmt.Errorf("core: resume misconfigured channels: %w", err)
	}
	var items []OutboxItem
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		now := e.Now()
		var err error
		items, err = tx.ClaimOutbox(ctx, now, now.Add(outboxLease), outboxBatch)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("core: claim outbox: %w", err)
	}
	for _, it := range items {
		if err := e.deliverItem(ctx, it, true); err != nil {
			return len(items), err
		}
	}
	return len(items), nil
}

// deliverItem sends one leased item and records the result. checkLive asks
// whether its verification still wants it; an item sent straight after the
// commit that created it is live by construction.
func (e *Engine) deliverItem(ctx context.Context, it OutboxItem, checkLive bool) error {
	log := e.log.With("outbox_id", it.ID, "tenant_id", it.TenantID, "kind", it.Kind, "verification_id", it.VerificationID)
	m, perm := e.openItem(it, log)
	if perm != nil {
		return e.finishItem(ctx, it, "", perm)
	}
	it.sent = &m.Outbound
	if checkLive && it.VerificationID != "" && it.Kind != OutboxTicketNote {
		if skipped, err := e.skipSuperseded(ctx, &it, m.Send, log); err != nil || skipped {
			return err
		}
	}
	// The tenant's rules, its sender and the channel's state, in one read.
	// An item sent straight after the commit that queued it carries what
	// that transaction read and checked: the same state, read
	// microseconds before, as a read now would give (a STOP or a settings
	// change committed in between is as possible either way).
	ch := channelOf(m.Outbound)
	var facts deliveryFacts
	if !checkLive && it.checked != nil {
		facts = *it.checked
	} else {
		var err error
		if facts, err = e.deliveryChecks(ctx, it, m.Outbound, ch); err != nil {
			return err
		}
	}
	snd, done, err := e.itemSender(ctx, it, facts, log)
	if done || err != nil {
		return err
	}
	return e.sendItem(ctx, it, m.Outbound, snd, ch, facts.issue, log)
}

// openItem decrypts and decodes the item's message. An item that cannot
// be opened or read never will be: the error returned is permanent.
func (e *Engine) openItem(it OutboxItem, log *slog.Logger) (sealedMessage, *PermanentError) {
	var m sealedMessage
	plain, err := e.cfg.Sealer.Open(it.Sealed, outboxAAD(it.TenantID, it.ID))
	if err != nil {
		log.Error("outbox item cannot be opened; giving up", "err", err)
		return m, &PermanentError{Code: "sealed", Reason: "message could not be decrypted", Err: err}
	}
	if err := json.Unmarshal(plain, &m); err != nil {
		return m, &PermanentError{Code: "decode", Reason: "message could not be read", Err: err}
	}
	return m, nil
}

// skipSuperseded marks the item done, unsent, when its verification no
// longer wants it (resent, cancelled or completed), and reports whether it
// did.
func (e *Engine) skipSuperseded(ctx context.Context, it *OutboxItem, send int, log *slog.Logger) (bool, error) {
	live, err := e.sendIsLive(ctx, *it, send)
	if err != nil || live {
		return false, err
	}
	log.Info("outbox item skipped: its verification was resent, cancelled or completed")
	it.Status, it.DoneAt, it.Sealed, it.LastError = OutboxDone, e.Now(), nil, "skipped: superseded"
	return true, e.cfg.Store.Update(ctx, func(tx Tx) error { return tx.UpdateOutbox(ctx, it) })
}

// itemSender returns the tenant's sender for the item, or finishes the
// item without a request (done) when the tenant's rules refuse it, no
// sender is configured, or it is a dev item (kept in the outbox).
func (e *Engine) itemSender(ctx context.Context, it OutboxItem, facts deliveryFacts, log *slog.Logger) (snd Sender, done bool, err error) {
	if facts.refusal != nil {
		refused, err := e.refusedAtDelivery(ctx, it, facts.refusal)
		if err != nil {
			return nil, true, err
		}
		log.Warn("delivery refused by the tenant's rules", "code", refused.Code)
		return nil, true, e.finishItem(ctx, it, "", refused)
	}
	err = facts.settingsErr
	if err == nil {
		snd, err = e.senderFrom(facts.settings, it.TenantID, it.Kind)
	}
	if err != nil {
		log.Warn("no sender for the tenant", "err", err)
		return nil, true, e.finishItem(ctx, it, "", err)
	}
	if it.Dev || snd == nil {
		log.Info("dev delivery: message kept in the outbox, not sent")
		return nil, true, e.finishItem(ctx, it, "dev-outbox", nil)
	}
	return snd, false, nil
}

// sendItem sends the message through snd and records the result. A
// channel known to be misconfigured (issue) gets no request, except one
// probe at a time, so a wrong key is not hammered by every queued item;
// a probe that goes through clears the channel's issue.
func (e *Engine) sendItem(ctx context.Context, it OutboxItem, msg Outbound, snd Sender, ch string, issue bool, log *slog.Logger) error {
	probing := false
	if ch != "" && issue {
		var parked bool
		var err error
		if probing, parked, err = e.gate(ctx, it, ch); err != nil {
			return fmt.Errorf("core: check channel %s: %w", ch, err)
		}
		if parked {
			log.Info("outbox item waits: its channel is misconfigured", "channel", ch)
			return nil
		}
	}
	sctx, cancel := context.WithTimeout(ctx, sendTimeout)
	start := time.Now()
	ref, sendErr := snd.Send(sctx, msg)
	cancel()
	if e.cfg.Observer != nil {
		e.cfg.Observer.SendLatency(it.Kind, time.Since(start), sendErr)
	}
	var mis *MisconfiguredError
	switch {
	case ch != "" && errors.As(sendErr, &mis):
		log.Warn("delivery refused: the channel is misconfigured; the item waits for a fix", "channel", ch, "err", sendErr)
		return e.misconfigured(ctx, it, ch, mis)
	case sendErr != nil:
		log.Warn("delivery failed", "err", sendErr, "attempt", it.Attempts+1)
	default:
		log.Info("delivered", "provider_ref", ref)
	}
	if err := e.finishItem(ctx, it, ref, sendErr); err != nil || !probing || sendErr != nil {
		return err
	}
	// The probe went through: the channel works again, and what waited
	// for it goes out now.
	log.Info("misconfigured channel works again", "channel", ch)
	return e.ClearChannelIssue(ctx, it.TenantID, "system", "a delivery went through", ch)
}

// sendIsLive reports whether an item's send is still the verification's
// current one and the verification is open.
func (e *Engine) sendIsLive(ctx context.Context, it OutboxItem, send int) (bool, error) {
	var v Verification
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		v, err = tx.Verification(ctx, it.TenantID, it.VerificationID)
		return err
	})
	if err != nil {
		return false, err
	}
	return v.Status.Open() && (send == 0 || send == v.Sends), nil
}

// finishItem records a delivery result on the item and its verification.
func (e *Engine) finishItem(ctx context.Context, it OutboxItem, ref string, sendErr error) error {
	var rec itemRecord
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		rec.followUp = false
		now := e.Now()
		perm := settleItem(&it, ref, sendErr, now)
		return e.recordItem(ctx, tx, &it, &rec, ref, sendErr, perm, now)
	})
	if err != nil {
		return fmt.Errorf("core: record delivery of %s: %w", it.ID, err)
	}
	e.announceItem(ctx, it, rec)
	return nil
}

// itemRecord is what recording a delivery result leaves for after the
// commit: the verification it moved (if any), the event to tell its
// watchers, and whether an item was queued (the worker is woken for it).
type itemRecord struct {
	v        Verification
	evType   EventType
	followUp bool
}

// settleItem applies the send's result to the item itself, at now: done
// (the code dropped, bar the dev outbox's), dead (a permanent failure, or
// the last try), or due again after a backoff. It returns the permanent
// error, if that was the result.
func settleItem(it *OutboxItem, ref string, sendErr error, now time.Time) *PermanentError {
	it.Attempts++
	it.LeaseUntil = time.Time{}
	var perm *PermanentError
	switch {
	case sendErr == nil:
		it.Status, it.DoneAt, it.ProviderRef, it.LastError, it.Reason = OutboxDone, now, ref, "", ""
		if !it.Dev {
			it.Sealed = nil // the code has left; no reason to keep it, even encrypted
		}
	case errors.As(sendErr, &perm) || it.Attempts >= maxAttempts(it.Kind):
		it.Status, it.DoneAt, it.LastError, it.Reason = OutboxDead, now, sendErr.Error(), DeliveryReason(sendErr)
		if perm == nil {
			it.Reason = fmt.Sprintf("gave up after %d tries: %s", it.Attempts, it.Reason)
		}
		it.Sealed = nil
	default:
		it.NextAttemptAt, it.LastError, it.Reason = now.Add(outboxBackoff(it.Attempts)), sendErr.Error(), DeliveryReason(sendErr)
	}
	return perm
}

// recordItem writes the settled item in tx and what follows from it: a
// note's verification is only re-read (its fate is the item's alone), a
// finished PSA contact queues its follow-up in the same write, and a
// verification's message moves the verification.
func (e *Engine) recordItem(ctx context.Context, tx Tx, it *OutboxItem, rec *itemRecord, ref string, sendErr error, perm *PermanentError, now time.Time) error {
	if it.Kind == OutboxTicketNote && it.VerificationID != "" {
		// A note's fate is the outbox item's alone; its verification's
		// watchers are told that its note state changed.
		if err := tx.UpdateOutbox(ctx, it); err != nil {
			return err
		}
		var err error
		rec.v, err = tx.Verification(ctx, it.TenantID, it.VerificationID)
		rec.evType = EventVerificationNote
		return err
	}
	if it.Kind == OutboxPSAContact && it.Status != OutboxPending {
		// The contact's item and its follow-up (the ticket) are one
		// write: the ticket is queued exactly once.
		if err := tx.UpdateOutbox(ctx, it); err != nil {
			return err
		}
		rec.followUp = true
		return e.psaContactDone(ctx, tx, *it, ref, sendErr)
	}
	if it.VerificationID == "" || it.Status == OutboxPending {
		return tx.UpdateOutbox(ctx, it)
	}
	return e.recordVerificationDelivery(ctx, tx, it, rec, ref, perm, now)
}

// recordVerificationDelivery moves a still-open verification to sent or
// failed with its message's item, queues its outcome and audits it. The
// verification is locked first, so that the item's and its
// verification's writes (and the audit) go as one batch.
func (e *Engine) recordVerificationDelivery(ctx context.Context, tx Tx, it *OutboxItem, rec *itemRecord, ref string, perm *PermanentError, now time.Time) error {
	tx.BatchWrites()
	var err error
	if rec.v, err = tx.LockVerification(ctx, it.TenantID, it.VerificationID); err != nil {
		return err
	}
	if err := tx.UpdateOutbox(ctx, it); err != nil {
		return err
	}
	v := &rec.v
	if !v.Status.Open() {
		return nil
	}
	if it.Status == OutboxDone {
		v.Status, v.ProviderRef = StatusSent, ref
		if v.DeliveryStatus == DeliveryMisconfigured {
			v.Detail = ""
		}
		v.DeliveryStatus = "queued"
		if it.Dev {
			v.DeliveryStatus = "dev-outbox"
		}
		rec.evType = EventVerificationSent
	} else {
		reason := "could not be delivered"
		if perm != nil {
			reason = perm.Reason
		}
		v.Status, v.CompletedAt, v.Detail, v.DeliveryStatus = StatusFailed, now, reason, "failed"
		rec.evType = EventVerificationFailed
	}
	if err := tx.UpdateVerification(ctx, v); err != nil {
		return err
	}
	if err := e.queueOutcome(ctx, tx, *v, now); err != nil {
		return err
	}
	detail := map[string]string{"outbox_id": it.ID, "kind": string(it.Kind)}
	if ref != "" {
		detail["provider_ref"] = ref
	}
	if rec.evType == EventVerificationFailed {
		detail["reason"] = v.Detail
	}
	return e.audit(ctx, tx, it.TenantID, "system", string(rec.evType), v.ID, detail)
}

// announceItem tells, after the commit, whoever waits on the recorded
// result: the worker for a follow-up, the dev outbox's page, and the
// verification's watchers.
func (e *Engine) announceItem(ctx context.Context, it OutboxItem, rec itemRecord) {
	if rec.followUp {
		e.Wake()
	}
	if it.Dev {
		e.publish(ctx, Event{Type: EventOutboxChanged, TenantID: it.TenantID, At: e.Now()})
	}
	if rec.evType == EventVerificationNote {
		e.publish(ctx, e.event(rec.evType, rec.v))
		return
	}
	e.finish(ctx, rec.v, rec.evType)
}

// DeliveryReason says why a delivery failed in words a technician reads:
// a permanent failure's reason, the message of a core or PSA error, or
// what its kind means; never the technical cause (that stays in
// OutboxItem.LastError and the logs).
func DeliveryReason(err error) string {
	var (
		perm *PermanentError
		mis  *MisconfiguredError
	)
	switch {
	case err == nil:
		return ""
	case errors.As(err, &perm) && perm.Reason != "":
		return perm.Reason
	case errors.As(err, &mis) && mis.Fix != "":
		return mis.Fix
	case errors.Is(err, context.DeadlineExceeded):
		return "the service did not answer in time"
	}
	var ce *Error
	if errors.As(err, &ce) && ce.Message != "" && !sentinel(ce) {
		return ce.Message
	}
	switch ErrorKind(err) {
	case KindRateLimited:
		return "the service is limiting requests"
	case KindUnavailable:
		return "the service is unavailable"
	case KindUnauthorized, KindForbidden, KindMisconfigured:
		return "the service refused the integration's keys"
	case KindNotFound:
		return "the service has no such record"
	case KindInvalid:
		return "the service refused the request"
	}
	return "the service could not be reached"
}

// sentinel reports whether e is one of the kind sentinels, whose message
// says less than DeliveryReason's words for its kind.
func sentinel(e *Error) bool {
	switch e {
	case ErrNotFound, ErrInvalid, ErrUnauthorized, ErrForbidden, ErrConflict, ErrRateLimited, ErrUnavailable, ErrGone, ErrMisconfigured:
		return true
	}
	return false
}

// deliveryRank orders provider statuses so a late or duplicated callback
// never moves a message backwards (channels.md §1.4).
var deliveryRank = map[string]int{
	"accepted": 1, "scheduled": 1, "queued": 2, "initiated": 2, "sending": 3, "ringing": 3,
	"sent": 4, "in-progress": 4, "answered": 4, "delivered": 5, "read": 6, "completed": 6,
	"undelivered": 7, "failed": 7, "busy": 7, "no-answer": 7, "canceled": 7,
}

// RecordDelivery applies a provider's status callback to the verification
// whose last send has id ref. Unknown refs are ErrNotFound; stale or repeated
// statuses change nothing.
func (e *Engine) RecordDelivery(ctx context.Context, tenantID, ref, status, errorCode string) error {
	rank, known := deliveryRank[status]
	if !known {
		return Errorf(KindInvalid, "unknown delivery status %q", status)
	}
	var (
		v       Verification
		changed bool
	)
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		var err error
		if v, err = tx.VerificationByProviderRef(ctx, tenantID, ref); err != nil {
			return err
		}
		if v, err = tx.LockVerification(ctx, tenantID, v.ID); err != nil {
			return err
		}
		if rank <= deliveryRank[v.DeliveryStatus] {
			return nil
		}
		v.DeliveryStatus = status
		if rank == 7 && errorCode != "" {
			v.Detail = "not delivered (provider error " + errorCode + ")"
		}
		changed = true
		if err := tx.UpdateVerification(ctx, &v); err != nil {
			return err
		}
		d := map[string]string{"status": status, "provider_ref": ref}
		if errorCode != "" {
			d["error_code"] = errorCode
		}
		return e.audit(ctx, tx, tenantID, "provider", string(EventVerificationDelivery), v.ID, d)
	})
	if err == nil && changed {
		e.publish(ctx, e.event(EventVerificationDelivery, v))
	}
	return err
}
