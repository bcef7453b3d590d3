package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/countersign/countersign/core"
)

// auditHead is a tenant's audit head as the store last saw it.
type auditHead struct {
	seq  int64
	hash []byte
}

// AppendAudit implements core.Tx. It chains e to the tenant's head and
// advances the head, all in the caller's transaction, and stays exact under
// concurrency: the head is advanced only on the condition that it is still
// the one e was chained to.
//
// The head is first taken from the store's cache (the last append of this
// process). On PostgreSQL the conditional advance and the insert are then
// one statement: the advance's row lock (NO KEY UPDATE, so inserts of rows
// referencing the tenant, which take KEY SHARE, do not conflict) queues
// concurrent appends, and one whose head moved meanwhile advances nothing
// and inserts nothing. On SQLite, which has no data-modifying CTE, the
// insert is made on the condition and a trigger advances the head, also
// one statement (the single writer connection serialises them).
// When the cached head was stale — another process, a concurrent or a
// rolled-back transaction moved it — the head is read, locked on
// PostgreSQL, and the append made on it. e.At is normalised before hashing,
// so the hash matches the stored row.
func (t *tx) AppendAudit(ctx context.Context, e *core.AuditEvent) error {
	normTimes(&e.At)
	detail, err := json.Marshal(e.Detail)
	if err != nil {
		return wrap(err, "append audit")
	}
	// A held append of the tenant goes first: this one chains to it.
	if err := t.flushFor(ctx, "audit_events"); err != nil {
		return err
	}
	if h, ok := t.s.heads.Load(e.TenantID); ok {
		return t.batch(ctx, t.appendOn(e, h.(auditHead), detail, func(ctx context.Context) error {
			return t.appendLocked(ctx, e, detail)
		}))
	}
	return t.appendLocked(ctx, e, detail)
}

// appendLocked reads the tenant's head, locked on PostgreSQL, and appends
// e on it at once.
func (t *tx) appendLocked(ctx context.Context, e *core.AuditEvent, detail []byte) error {
	var h auditHead
	err := t.queryRow(ctx, `SELECT audit_seq, audit_hash FROM tenants WHERE id = ?`+t.forNoKeyUpdate(), e.TenantID).Scan(&h.seq, &h.hash)
	if err != nil {
		return wrap(err, "append audit: tenant %s", e.TenantID)
	}
	return t.run1(ctx, t.appendOn(e, h, detail, func(context.Context) error {
		// The head is locked (PostgreSQL) or the writer is ours (SQLite):
		// it cannot have moved since it was read.
		return fmt.Errorf("store: append audit: tenant %s: the audit head moved under its lock", e.TenantID)
	}))
}

// appendOn is the write appending e after head h if h is still the
// tenant's head; stale is called when it was not.
func (t *tx) appendOn(e *core.AuditEvent, h auditHead, detail []byte, stale func(context.Context) error) batched {
	e.Seq, e.PrevHash = h.seq+1, h.hash
	e.Hash = core.AuditHash(*e)
	w := batched{table: "audit_events", op: "append audit",
		done: func(ctx context.Context, n int64) error {
			if n == 0 {
				t.s.heads.Delete(e.TenantID)
				return stale(ctx)
			}
			t.s.heads.Store(e.TenantID, auditHead{seq: e.Seq, hash: e.Hash})
			return nil
		}}
	if t.pg() {
		w.pre = `UPDATE tenants SET audit_seq = ?, audit_hash = ? WHERE id = ? AND audit_seq = ? RETURNING id`
		w.preArgs = []any{e.Seq, e.Hash, e.TenantID, h.seq}
		w.q = `INSERT INTO audit_events (tenant_id, seq, at, actor, action, subject, detail, prev_hash, hash)
			SELECT id, CAST(? AS BIGINT), CAST(? AS TIMESTAMPTZ), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT),
				CAST(? AS TEXT), CAST(? AS BYTEA), CAST(? AS BYTEA) FROM {pre}`
		w.args = []any{e.Seq, e.At, e.Actor, e.Action, e.Subject, string(detail), e.PrevHash, e.Hash}
		return w
	}
	// SQLite: never held (no batching). The insert is made only if h is
	// still the head, and the trigger of migration 00260 advances the head
	// in the same statement.
	w.q = `INSERT INTO audit_events (tenant_id, seq, at, actor, action, subject, detail, prev_hash, hash)
		SELECT id, ?, ?, ?, ?, ?, ?, ?, ? FROM tenants WHERE id = ? AND audit_seq = ?`
	w.args = []any{e.Seq, e.At, e.Actor, e.Action, e.Subject, string(detail), e.PrevHash, e.Hash, e.TenantID, h.seq}
	return w
}

// AuditEvents implements core.Tx, in seq order (the order VerifyAuditChain
// expects) or, with q.NewestFirst, newest first from q.BeforeSeq down; the
// primary key (tenant_id, seq) serves both.
func (t *tx) AuditEvents(ctx context.Context, tenantID string, q core.AuditQuery) ([]core.AuditEvent, error) {
	where := []string{"tenant_id = ?"}
	args := []any{tenantID}
	if q.Action != "" {
		where = append(where, "action = ?")
		args = append(args, q.Action)
	}
	if q.Subject != "" {
		where = append(where, "subject = ?")
		args = append(args, q.Subject)
	}
	if q.Actor != "" {
		where = append(where, "actor = ?")
		args = append(args, q.Actor)
	}
	if !q.Since.IsZero() {
		where = append(where, "at >= ?")
		args = append(args, q.Since)
	}
	if !q.Until.IsZero() {
		where = append(where, "at < ?")
		args = append(args, q.Until)
	}
	if q.BeforeSeq > 0 {
		where = append(where, "seq < ?")
		args = append(args, q.BeforeSeq)
	}
	order := "seq"
	if q.NewestFirst {
		order = "seq DESC"
	}
	query := `SELECT tenant_id, seq, at, actor, action, subject, detail, prev_hash, hash FROM audit_events
		WHERE ` + strings.Join(where, " AND ") + ` ORDER BY ` + order
	if q.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, q.Limit)
	}
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return nil, wrap(err, "list audit events")
	}
	out, err := collect(rows, func(sc interface{ Scan(...any) error }) (core.AuditEvent, error) {
		var (
			e      core.AuditEvent
			detail string
		)
		if err := sc.Scan(&e.TenantID, &e.Seq, tcol(&e.At), &e.Actor, &e.Action, &e.Subject, &detail, &e.PrevHash, &e.Hash); err != nil {
			return e, err
		}
		// An undecodable detail is returned empty rather than failing the
		// read: the hash check in VerifyAuditChain then reports the row.
		_ = json.Unmarshal([]byte(detail), &e.Detail)
		return e, nil
	})
	return out, wrap(err, "list audit events")
}

// AuditHead implements core.Tx; an unknown tenant is ErrNotFound.
func (t *tx) AuditHead(ctx context.Context, tenantID string) (int64, []byte, error) {
	var (
		seq  int64
		hash []byte
	)
	err := t.queryRow(ctx, `SELECT audit_seq, audit_hash FROM tenants WHERE id = ?`, tenantID).Scan(&seq, &hash)
	if err != nil {
		return 0, nil, wrap(err, "get audit head")
	}
	return seq, hash, nil
}
