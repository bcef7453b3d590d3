package store

import (
	"context"
	"time"

	"github.com/countersign/countersign/core"
)

const outboxCols = `id, tenant_id, kind, verification_id, sealed, status, attempts, next_attempt_at, lease_until,
	last_error, provider_ref, dev, created_at, done_at, channel, reason`

func scanOutbox(sc interface{ Scan(...any) error }) (core.OutboxItem, error) {
	var (
		o            core.OutboxItem
		kind, status string
	)
	err := sc.Scan(&o.ID, &o.TenantID, &kind, &o.VerificationID, &o.Sealed, &status, &o.Attempts,
		tcol(&o.NextAttemptAt), tcol(&o.LeaseUntil), &o.LastError, &o.ProviderRef, &o.Dev,
		tcol(&o.CreatedAt), tcol(&o.DoneAt), &o.Channel, &o.Reason)
	o.Kind, o.Status = core.OutboxKind(kind), core.OutboxStatus(status)
	return o, err
}

func normOutbox(o *core.OutboxItem) {
	normTimes(&o.NextAttemptAt, &o.LeaseUntil, &o.CreatedAt, &o.DoneAt)
}

// EnqueueOutbox implements core.Tx; an empty id gets a fresh one and an empty
// status is pending. A zero NextAttemptAt means due at once.
func (t *tx) EnqueueOutbox(ctx context.Context, o *core.OutboxItem) error {
	newID(&o.ID, "obx")
	if o.Status == "" {
		o.Status = core.OutboxPending
	}
	normOutbox(o)
	if err := t.flushFor(ctx, "outbox"); err != nil {
		return err
	}
	return t.batch(ctx, batched{table: "outbox", op: "enqueue outbox", q: `INSERT INTO outbox (` + outboxCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		args: []any{o.ID, o.TenantID, string(o.Kind), o.VerificationID, o.Sealed, string(o.Status), o.Attempts,
			o.NextAttemptAt, o.LeaseUntil, o.LastError, o.ProviderRef, o.Dev, o.CreatedAt, o.DoneAt, o.Channel, o.Reason},
		done: anyCount})
}

// ClaimOutbox implements core.Tx. Items are taken oldest due first (never
// scheduled first), skipping items whose lease has not run out. On
// PostgreSQL, SKIP LOCKED lets concurrent workers pass over rows another
// worker is claiming instead of waiting for or double-claiming them; on
// SQLite the single writer connection runs claims one after another.
func (t *tx) ClaimOutbox(ctx context.Context, now, lease time.Time, limit int) ([]core.OutboxItem, error) {
	if limit <= 0 {
		return nil, nil
	}
	lock := ""
	if t.pg() {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	rows, err := t.query(ctx, `SELECT `+outboxCols+` FROM outbox
		WHERE status = ? AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
			AND (lease_until IS NULL OR lease_until <= ?)
		ORDER BY next_attempt_at IS NOT NULL, next_attempt_at, id
		LIMIT ?`+lock, string(core.OutboxPending), now, now, limit)
	if err != nil {
		return nil, wrap(err, "claim outbox")
	}
	items, err := collect(rows, scanOutbox)
	if err != nil || len(items) == 0 {
		return nil, wrap(err, "claim outbox")
	}
	lease = normTime(lease)
	args := []any{lease}
	for i := range items {
		items[i].LeaseUntil = lease
		args = append(args, items[i].ID)
	}
	if _, err := t.exec(ctx, `UPDATE outbox SET lease_until = ? WHERE id IN (`+placeholders(len(items))+`)`, args...); err != nil {
		return nil, wrap(err, "claim outbox")
	}
	return items, nil
}

// UpdateOutbox implements core.Tx: status, attempts, next attempt, lease,
// last error and reason, provider ref, sealed payload and done time.
func (t *tx) UpdateOutbox(ctx context.Context, o *core.OutboxItem) error {
	normOutbox(o)
	if err := t.flushFor(ctx, "outbox"); err != nil {
		return err
	}
	return t.batch(ctx, batched{table: "outbox", op: "update outbox " + o.ID, q: `UPDATE outbox SET status = ?, attempts = ?, next_attempt_at = ?, lease_until = ?,
		last_error = ?, reason = ?, provider_ref = ?, sealed = ?, done_at = ?, channel = ? WHERE tenant_id = ? AND id = ?`,
		args: []any{string(o.Status), o.Attempts, o.NextAttemptAt, o.LeaseUntil, o.LastError, o.Reason, o.ProviderRef, o.Sealed, o.DoneAt,
			o.Channel, o.TenantID, o.ID},
		done: affected("update outbox %s", o.ID)})
}

// OutboxItem implements core.Tx.
func (t *tx) OutboxItem(ctx context.Context, tenantID, id string) (core.OutboxItem, error) {
	o, err := scanOutbox(t.queryRow(ctx, `SELECT `+outboxCols+` FROM outbox WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return o, wrap(err, "get outbox item %s", id)
}

// ListOutbox implements core.Tx; limit <= 0 means no limit.
func (t *tx) ListOutbox(ctx context.Context, tenantID string, limit int) ([]core.OutboxItem, error) {
	q := `SELECT ` + outboxCols + ` FROM outbox WHERE tenant_id = ? ORDER BY created_at DESC, id DESC`
	args := []any{tenantID}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, wrap(err, "list outbox")
	}
	out, err := collect(rows, scanOutbox)
	return out, wrap(err, "list outbox")
}

// TicketNoteItems implements core.Tx: the ticket-note items of the given
// verifications (at most one each), by the (tenant_id, verification_id)
// index.
func (t *tx) TicketNoteItems(ctx context.Context, tenantID string, verificationIDs []string) ([]core.OutboxItem, error) {
	if len(verificationIDs) == 0 {
		return nil, nil
	}
	args := []any{tenantID, string(core.OutboxTicketNote)}
	for _, id := range verificationIDs {
		args = append(args, id)
	}
	rows, err := t.query(ctx, `SELECT `+outboxCols+` FROM outbox WHERE tenant_id = ? AND kind = ? AND verification_id IN (`+
		placeholders(len(verificationIDs))+`) ORDER BY created_at DESC, id DESC`, args...)
	if err != nil {
		return nil, wrap(err, "list ticket notes")
	}
	out, err := collect(rows, scanOutbox)
	return out, wrap(err, "list ticket notes")
}
