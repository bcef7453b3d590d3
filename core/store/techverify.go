package store

import (
	"context"
	"time"

	"github.com/countersign/countersign/core"
)

// Interface guard.
var _ core.TechVerifyTx = (*tx)(nil)

const techVerifyCols = `id, tenant_id, phone, number, message_sid, contact_id, client_id, matches, provenance, status,
	code_hash, code_sealed, attempts, detail, claimed_by, claimed_at, created_at, expires_at, closed_at, integration_id, ticket_ref`

func scanTechVerify(sc interface{ Scan(...any) error }) (core.TechVerifyRequest, error) {
	var (
		r      core.TechVerifyRequest
		status string
	)
	err := sc.Scan(&r.ID, &r.TenantID, &r.Phone, &r.Number, &r.MessageSID, &r.ContactID, &r.ClientID, &r.Matches, &r.Provenance,
		&status, &r.CodeHash, &r.CodeSealed, &r.Attempts, &r.Detail, &r.ClaimedBy, tcol(&r.ClaimedAt),
		tcol(&r.CreatedAt), tcol(&r.ExpiresAt), tcol(&r.ClosedAt), &r.IntegrationID, &r.TicketRef)
	r.Status = core.TechVerifyStatus(status)
	return r, err
}

// CreateTechVerify implements core.TechVerifyTx; an empty r.ID gets a fresh id.
func (t *tx) CreateTechVerify(ctx context.Context, r *core.TechVerifyRequest) error {
	newID(&r.ID, "tvr")
	normTimes(&r.ClaimedAt, &r.CreatedAt, &r.ExpiresAt, &r.ClosedAt)
	_, err := t.exec(ctx, `INSERT INTO tech_verify_requests (`+techVerifyCols+`) VALUES (`+placeholders(21)+`)`,
		r.ID, r.TenantID, r.Phone, r.Number, r.MessageSID, r.ContactID, r.ClientID, r.Matches, r.Provenance, string(r.Status),
		r.CodeHash, r.CodeSealed, r.Attempts, r.Detail, r.ClaimedBy, r.ClaimedAt, r.CreatedAt, r.ExpiresAt, r.ClosedAt,
		r.IntegrationID, r.TicketRef)
	return wrap(err, "create technician verification")
}

// UpdateTechVerify implements core.TechVerifyTx.
func (t *tx) UpdateTechVerify(ctx context.Context, r *core.TechVerifyRequest) error {
	normTimes(&r.ClaimedAt, &r.ClosedAt)
	res, err := t.exec(ctx, `UPDATE tech_verify_requests SET status = ?, code_sealed = ?, attempts = ?, detail = ?, claimed_by = ?,
		claimed_at = ?, closed_at = ?, integration_id = ?, ticket_ref = ? WHERE tenant_id = ? AND id = ?`,
		string(r.Status), r.CodeSealed, r.Attempts, r.Detail, r.ClaimedBy, r.ClaimedAt, r.ClosedAt, r.IntegrationID, r.TicketRef,
		r.TenantID, r.ID)
	if err != nil {
		return wrap(err, "update technician verification %s", r.ID)
	}
	return mustAffect(res, "update technician verification %s", r.ID)
}

// ResolveUnknownTechVerify implements core.TechVerifyTx.
func (t *tx) ResolveUnknownTechVerify(ctx context.Context, r *core.TechVerifyRequest) (bool, error) {
	normTimes(&r.ClaimedAt, &r.ExpiresAt, &r.ClosedAt)
	res, err := t.exec(ctx, `UPDATE tech_verify_requests SET status = ?, contact_id = ?, client_id = ?, matches = ?, provenance = ?,
		code_hash = ?, code_sealed = ?, detail = ?, claimed_by = ?, claimed_at = ?, expires_at = ?, closed_at = ?
		WHERE tenant_id = ? AND id = ? AND status = ?`,
		string(r.Status), r.ContactID, r.ClientID, r.Matches, r.Provenance, r.CodeHash, r.CodeSealed, r.Detail,
		r.ClaimedBy, r.ClaimedAt, r.ExpiresAt, r.ClosedAt, r.TenantID, r.ID, string(core.TechVerifyUnknown))
	if err != nil {
		return false, wrap(err, "resolve technician verification %s", r.ID)
	}
	n, err := res.RowsAffected()
	return n == 1, wrap(err, "resolve technician verification %s", r.ID)
}

// TechVerify implements core.TechVerifyTx.
func (t *tx) TechVerify(ctx context.Context, tenantID, id string) (core.TechVerifyRequest, error) {
	r, err := scanTechVerify(t.queryRow(ctx, `SELECT `+techVerifyCols+` FROM tech_verify_requests WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return r, wrap(err, "get technician verification %s", id)
}

// OpenTechVerifies implements core.TechVerifyTx.
func (t *tx) OpenTechVerifies(ctx context.Context, tenantID, phone string) ([]core.TechVerifyRequest, error) {
	rows, err := t.query(ctx, `SELECT `+techVerifyCols+` FROM tech_verify_requests
		WHERE tenant_id = ? AND phone = ? AND status = ? ORDER BY created_at, id`, tenantID, phone, string(core.TechVerifyOpen))
	if err != nil {
		return nil, wrap(err, "list open technician verifications")
	}
	out, err := collect(rows, scanTechVerify)
	return out, wrap(err, "list open technician verifications")
}

// ConfirmTechVerify implements core.TechVerifyTx: one conditional update
// decides (security.md §1.5).
func (t *tx) ConfirmTechVerify(ctx context.Context, tenantID, id, detail string, now time.Time) (bool, error) {
	res, err := t.exec(ctx, `UPDATE tech_verify_requests SET status = ?, code_sealed = NULL, detail = ?, closed_at = ?
		WHERE tenant_id = ? AND id = ? AND status = ? AND expires_at > ?`,
		string(core.TechVerifyConfirmed), detail, now, tenantID, id, string(core.TechVerifyOpen), now)
	if err != nil {
		return false, wrap(err, "confirm technician verification %s", id)
	}
	n, err := res.RowsAffected()
	return n == 1, wrap(err, "confirm technician verification %s", id)
}

// CountTechVerifies implements core.TechVerifyTx.
func (t *tx) CountTechVerifies(ctx context.Context, tenantID, phone string, since time.Time, withCode bool) (int, error) {
	q := `SELECT COUNT(*) FROM tech_verify_requests WHERE tenant_id = ? AND phone = ? AND created_at >= ?`
	if withCode {
		q += ` AND contact_id <> ''`
	}
	var n int
	err := t.queryRow(ctx, q, tenantID, phone, since).Scan(&n)
	return n, wrap(err, "count technician verifications")
}

// ListTechVerifies implements core.TechVerifyTx.
func (t *tx) ListTechVerifies(ctx context.Context, tenantID string, since time.Time, limit int) ([]core.TechVerifyRequest, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	rows, err := t.query(ctx, `SELECT `+techVerifyCols+` FROM tech_verify_requests WHERE tenant_id = ? AND created_at >= ?
		ORDER BY created_at DESC, id DESC LIMIT ?`, tenantID, since, limit)
	if err != nil {
		return nil, wrap(err, "list technician verifications")
	}
	out, err := collect(rows, scanTechVerify)
	return out, wrap(err, "list technician verifications")
}

// RecordTechVerifyReply implements core.TechVerifyTx.
func (t *tx) RecordTechVerifyReply(ctx context.Context, tenantID, phone, kind string, at time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO tech_verify_replies (tenant_id, phone, kind, sent_at) VALUES (?, ?, ?, ?)`, tenantID, phone, kind, at)
	return wrap(err, "record technician verification reply")
}

// CountTechVerifyReplies implements core.TechVerifyTx.
func (t *tx) CountTechVerifyReplies(ctx context.Context, tenantID, phone, kind string, since time.Time) (int, error) {
	q := `SELECT COUNT(*) FROM tech_verify_replies WHERE tenant_id = ? AND sent_at >= ?`
	args := []any{tenantID, since}
	if phone != "" {
		q += ` AND phone = ?`
		args = append(args, phone)
	}
	if kind != "" {
		q += ` AND kind = ?`
		args = append(args, kind)
	}
	var n int
	err := t.queryRow(ctx, q, args...).Scan(&n)
	return n, wrap(err, "count technician verification replies")
}
