package store

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/countersign/countersign/core"
)

// AppendAudit implements core.Tx. It reads the tenant's head, chains e to it
// and advances the head, all in the caller's transaction; on PostgreSQL the
// tenant row is locked first so concurrent appends queue instead of both
// taking the same seq (the loser would fail on the primary key). e.At is
// normalised before hashing, so the hash matches the stored row.
func (t *tx) AppendAudit(ctx context.Context, e *core.AuditEvent) error {
	var (
		head     int64
		headHash []byte
	)
	err := t.queryRow(ctx, `SELECT audit_seq, audit_hash FROM tenants WHERE id = ?`+t.forNoKeyUpdate(), e.TenantID).Scan(&head, &headHash)
	if err != nil {
		return wrap(err, "append audit: tenant %s", e.TenantID)
	}
	normTimes(&e.At)
	e.Seq, e.PrevHash = head+1, headHash
	e.Hash = core.AuditHash(*e)
	detail, err := json.Marshal(e.Detail)
	if err != nil {
		return wrap(err, "append audit")
	}
	if _, err := t.exec(ctx, `INSERT INTO audit_events (tenant_id, seq, at, actor, action, subject, detail, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.TenantID, e.Seq, e.At, e.Actor, e.Action, e.Subject, string(detail), e.PrevHash, e.Hash); err != nil {
		return wrap(err, "append audit")
	}
	_, err = t.exec(ctx, `UPDATE tenants SET audit_seq = ?, audit_hash = ? WHERE id = ?`, e.Seq, e.Hash, e.TenantID)
	return wrap(err, "append audit: advance head")
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
