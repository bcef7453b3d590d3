package core

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Inbound PSA events. A PSA that posts events to us (callbacks, webhooks)
// waits only a few seconds for an answer, and retries or disables the
// registration when it does not get one. So the web layer checks the
// signature, records the event here — durably, once per event — and
// answers; acting on it (reading the record again through the PSA,
// applying the policy) happens afterwards from the outbox, as an item of
// kind OutboxInboundEvent, with the outbox's retries while the PSA or a
// provider is slow or down.

// OutboxInboundEvent acts on a recorded inbound PSA event: Outbound.To is
// the event's id, Tenant and Integration say whose it is.
const OutboxInboundEvent OutboxKind = "inbound_event"

// InboundStatus is where an inbound event stands.
type InboundStatus string

// Inbound event statuses.
const (
	InboundReceived InboundStatus = "received" // recorded; not acted on yet
	InboundDone     InboundStatus = "done"     // acted on
	InboundIgnored  InboundStatus = "ignored"  // nothing to do (a type we do not act on, a gone record)
	InboundFailed   InboundStatus = "failed"   // acting failed; Outcome says why (retried while the outbox item lives)
)

// InboundEvent is one event a PSA integration posted to us.
type InboundEvent struct {
	ID            string
	TenantID      string
	IntegrationID string
	// Key identifies the event for de-duplication within the integration:
	// the PSA's message id with the record it is about, or a digest of the
	// body when the PSA sends no id. A PSA retrying an event sends the same
	// key, and the event is recorded (and acted on) once.
	Key        string
	Type       string // the record type, lower case: "ticket"
	Action     string // "added", "updated", "deleted", …
	Ref        string // the record's id in the PSA
	Status     InboundStatus
	Outcome    string // what acting on it did, in words; "" until acted on
	Attempts   int    // how often acting on it was tried
	ReceivedAt time.Time
	DoneAt     time.Time // zero until done, ignored or given up on
}

// Limits of what an inbound event stores: they come from outside.
const (
	maxInboundKey     = 200
	maxInboundField   = 100
	maxInboundOutcome = 500
)

// RecordInboundEvent records ev, a verified event of integration
// ev.IntegrationID of tenant tenantID, and queues acting on it. It returns
// the recorded event and true, or — when an event with the same Key was
// recorded already — the zero event and false, queueing nothing: a PSA's
// retry of an event is acted on once. Acting on it starts right after the
// commit when a send slot is free, else with the outbox worker.
func (e *Engine) RecordInboundEvent(ctx context.Context, tenantID string, ev InboundEvent) (InboundEvent, bool, error) {
	ev.TenantID = tenantID
	ev.Type, ev.Action = strings.ToLower(ev.Type), strings.ToLower(ev.Action)
	switch {
	case ev.IntegrationID == "" || ev.Key == "":
		return InboundEvent{}, false, Errorf(KindInvalid, "an inbound event needs its integration and key")
	case len(ev.Key) > maxInboundKey || !utf8.ValidString(ev.Key):
		return InboundEvent{}, false, Errorf(KindInvalid, "the event's id is too long")
	case len(ev.Type) > maxInboundField || len(ev.Action) > maxInboundField || len(ev.Ref) > maxInboundField ||
		!utf8.ValidString(ev.Type+ev.Action+ev.Ref):
		return InboundEvent{}, false, Errorf(KindInvalid, "the event's type, action or record id is too long")
	}
	now := e.Now()
	ev.ID, ev.Status, ev.Outcome, ev.Attempts, ev.ReceivedAt, ev.DoneAt = NewID("iev"), InboundReceived, "", 0, now, time.Time{}
	var (
		item    *OutboxItem
		created bool
	)
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		item = nil
		var err error
		if created, err = tx.RecordInboundEvent(ctx, &ev); err != nil || !created {
			return err
		}
		msg := Outbound{Kind: OutboxInboundEvent, To: ev.ID, Tenant: tenantID, Integration: ev.IntegrationID}
		item, err = e.enqueue(ctx, tx, tenantID, "", 0, msg, now)
		return err
	})
	e.sendAfterCommit(item, err == nil)
	if err != nil {
		return InboundEvent{}, false, fmt.Errorf("core: record inbound event: %w", err)
	}
	if !created {
		return InboundEvent{}, false, nil
	}
	return ev, true, nil
}

// InboundEvent returns one recorded event of the tenant.
func (e *Engine) InboundEvent(ctx context.Context, tenantID, id string) (InboundEvent, error) {
	var ev InboundEvent
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		ev, err = tx.InboundEvent(ctx, tenantID, id)
		return err
	})
	return ev, err
}

// InboundEvents returns the integration's most recent events, newest
// first; limit <= 0 means 20.
func (e *Engine) InboundEvents(ctx context.Context, tenantID, integrationID string, limit int) ([]InboundEvent, error) {
	if limit <= 0 {
		limit = 20
	}
	var evs []InboundEvent
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		evs, err = tx.ListInboundEvents(ctx, tenantID, integrationID, limit)
		return err
	})
	return evs, err
}

// FinishInboundEvent records what acting on an event did: status done,
// ignored or failed, and the outcome in words. Failed counts an attempt
// and leaves the event open for the outbox's next try.
func (e *Engine) FinishInboundEvent(ctx context.Context, tenantID, id string, status InboundStatus, outcome string) error {
	outcome = ClipBytes(outcome, maxInboundOutcome, "")
	return e.cfg.Store.Update(ctx, func(tx Tx) error {
		ev, err := tx.InboundEvent(ctx, tenantID, id)
		if err != nil {
			return err
		}
		ev.Status, ev.Outcome = status, outcome
		ev.Attempts++
		if status != InboundFailed {
			ev.DoneAt = e.Now()
		}
		return tx.UpdateInboundEvent(ctx, &ev)
	})
}

// NewTicket is a PSA ticket that an inbound event announced, as the policy
// of its client acts on it (Policy.OnNewTicket).
type NewTicket struct {
	IntegrationID string
	Kind          string // the integration's PSA kind; the audit actor is "psa:<kind>"
	TicketRef     string
	ContactID     string // the local mirror of the ticket's contact; "" for none
	OnNewTicket   string // what the policy does (Policy.OnNewTicket)
}

func (t NewTicket) subject() string { return "ticket:" + t.IntegrationID + ":" + t.TicketRef }
func (t NewTicket) actor() string   { return "psa:" + t.Kind }

// TicketHandled reports whether a new ticket was recorded already
// (ClaimNewTicket): a cheap check before the work of mirroring it. Only
// ClaimNewTicket's answer is final.
func (e *Engine) TicketHandled(ctx context.Context, tenantID string, t NewTicket) (bool, error) {
	seen, err := view(ctx, e, func(tx Tx) ([]AuditEvent, error) {
		return tx.AuditEvents(ctx, tenantID, AuditQuery{Action: string(EventTicketAdded), Subject: t.subject(), Limit: 1})
	})
	return len(seen) > 0, err
}

// errTicketHandled rolls back a claim of a ticket that another delivery
// claimed first.
var errTicketHandled = Errorf(KindConflict, "the ticket was handled already")

// ClaimNewTicket records a new ticket (audit action EventTicketAdded) and
// reports whether this call recorded it: false means a delivery of the
// same ticket did first, and the caller does nothing more. The check and
// the record are one transaction, so that two deliveries of one event
// (PSAs retry with new ids; two outbox workers may act at once) act once:
// the audit append comes first and locks the tenant's audit head (FOR
// UPDATE on PostgreSQL; SQLite's one writer serialises anyway), so the
// check after it sees any record committed before.
func (e *Engine) ClaimNewTicket(ctx context.Context, tenantID string, t NewTicket) (bool, error) {
	if t.IntegrationID == "" || t.TicketRef == "" {
		return false, Errorf(KindInvalid, "a new ticket needs its integration and reference")
	}
	detail := map[string]string{"integration": t.IntegrationID, "ticket": t.TicketRef, "on_new_ticket": t.OnNewTicket}
	if t.ContactID != "" {
		detail["contact"] = t.ContactID
	}
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		ev := AuditEvent{TenantID: tenantID, At: e.Now(), Actor: t.actor(), Action: string(EventTicketAdded),
			Subject: t.subject(), Detail: detail}
		if err := tx.AppendAudit(ctx, &ev); err != nil {
			return err
		}
		seen, err := tx.AuditEvents(ctx, tenantID, AuditQuery{Action: string(EventTicketAdded), Subject: t.subject(), Limit: 2})
		if err != nil {
			return err
		}
		for _, s := range seen {
			if s.Seq != ev.Seq {
				return errTicketHandled
			}
		}
		return nil
	})
	switch {
	case err == errTicketHandled:
		return false, nil
	case err != nil:
		return false, fmt.Errorf("core: record new ticket %s: %w", t.TicketRef, err)
	}
	return true, nil
}

// NewTicketAutoSendFailed records why no verification went out on its own
// for a new ticket whose policy says it should, the reason in words.
func (e *Engine) NewTicketAutoSendFailed(ctx context.Context, tenantID string, t NewTicket, reason string) error {
	return e.Audit(ctx, tenantID, t.actor(), AuditTicketAutoSendFailed, t.subject(), map[string]string{"reason": reason})
}
