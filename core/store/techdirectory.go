package store

import (
	"context"

	"github.com/countersign/countersign/core"
)

// Interface guard.
var _ core.TechDirectoryTx = (*tx)(nil)

// DirectoryUserBySID implements core.TechDirectoryTx.
func (t *tx) DirectoryUserBySID(ctx context.Context, tenantID, clientID, sid string) (core.DirectoryUser, error) {
	u, err := scanDirectoryUser(t.queryRow(ctx, `SELECT `+directoryUserCols+` FROM directory_users
		WHERE tenant_id = ? AND sid = ? AND client_id = ? ORDER BY guid LIMIT 1`, tenantID, sid, clientID))
	return u, wrap(err, "find directory user by SID")
}

// DirectoryUserByGUID implements core.TechDirectoryTx.
func (t *tx) DirectoryUserByGUID(ctx context.Context, tenantID, clientID, guid string) (core.DirectoryUser, error) {
	u, err := scanDirectoryUser(t.queryRow(ctx, `SELECT `+directoryUserCols+` FROM directory_users
		WHERE tenant_id = ? AND client_id = ? AND guid = ?`, tenantID, clientID, guid))
	return u, wrap(err, "find directory user")
}

// UseDirectoryGrant implements core.TechDirectoryTx: the insert on the
// grant's key is the one conditional write that decides, so of two uses at
// once (two presses, two nodes) exactly one gets a row; the other affects
// nothing and is refused (on PostgreSQL it waits for the first to commit
// or roll back, security.md §1.5).
func (t *tx) UseDirectoryGrant(ctx context.Context, g *core.DirectoryGrant) error {
	normTimes(&g.ExpiresAt, &g.UsedAt)
	res, err := t.exec(ctx, `INSERT INTO directory_grants
		(tenant_id, verification_id, action, contact_id, technician_id, request_id, expires_at, used_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, verification_id, action) DO NOTHING`,
		g.TenantID, g.VerificationID, string(g.Action), g.ContactID, g.TechnicianID, g.RequestID, g.ExpiresAt, g.UsedAt)
	if err != nil {
		return wrap(err, "use directory grant")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(err, "use directory grant")
	}
	if n == 0 {
		return wrap(core.ErrConflict, "use directory grant: used already")
	}
	return nil
}

// SelfServeRequestsOfVerification implements core.TechDirectoryTx.
func (t *tx) SelfServeRequestsOfVerification(ctx context.Context, tenantID, verificationID string) ([]core.SelfServeRequest, error) {
	rows, err := t.query(ctx, `SELECT `+requestCols+` FROM selfserve_requests
		WHERE tenant_id = ? AND verification_id = ? ORDER BY created_at DESC, id`, tenantID, verificationID)
	if err != nil {
		return nil, wrap(err, "list directory requests of verification")
	}
	out, err := collect(rows, scanRequest)
	return out, wrap(err, "list directory requests of verification")
}
