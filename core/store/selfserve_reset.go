package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/countersign/countersign/core"
)

// Interface guard.
var _ core.SelfServeResetTx = (*tx)(nil)

// DirectoryUsersByAccount implements core.SelfServeResetTx.
func (t *tx) DirectoryUsersByAccount(ctx context.Context, tenantID, account string) ([]core.DirectoryUser, error) {
	a := strings.ToLower(strings.TrimSpace(account))
	rows, err := t.query(ctx, `SELECT `+directoryUserCols+` FROM directory_users
		WHERE tenant_id = ? AND (lower(sam_account_name) = ? OR lower(upn) = ? OR mail = ?)
		ORDER BY client_id, guid LIMIT 3`, tenantID, a, a, a)
	if err != nil {
		return nil, wrap(err, "find directory user by account")
	}
	out, err := collect(rows, scanDirectoryUser)
	return out, wrap(err, "find directory user by account")
}

const challengeCols = `tenant_id, id, client_id, guid, destination, code_hash, attempts, created_at, expires_at, consumed_at, revoked_at`

func scanChallenge(sc interface{ Scan(...any) error }) (core.SelfServeChallenge, error) {
	var c core.SelfServeChallenge
	err := sc.Scan(&c.TenantID, &c.ID, &c.ClientID, &c.GUID, &c.Destination, &c.CodeHash, &c.Attempts,
		tcol(&c.CreatedAt), tcol(&c.ExpiresAt), tcol(&c.ConsumedAt), tcol(&c.RevokedAt))
	return c, err
}

// CreateSelfServeChallenge implements core.SelfServeResetTx.
func (t *tx) CreateSelfServeChallenge(ctx context.Context, c *core.SelfServeChallenge) error {
	normTimes(&c.CreatedAt, &c.ExpiresAt, &c.ConsumedAt, &c.RevokedAt)
	_, err := t.exec(ctx, `INSERT INTO selfserve_challenges (`+challengeCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.TenantID, c.ID, c.ClientID, c.GUID, c.Destination, c.CodeHash, c.Attempts, c.CreatedAt, c.ExpiresAt, c.ConsumedAt, c.RevokedAt)
	return wrap(err, "create self-serve code")
}

// SelfServeChallenge implements core.SelfServeResetTx.
func (t *tx) SelfServeChallenge(ctx context.Context, tenantID, id string) (core.SelfServeChallenge, error) {
	c, err := scanChallenge(t.queryRow(ctx, `SELECT `+challengeCols+` FROM selfserve_challenges WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return c, wrap(err, "find self-serve code")
}

// SelfServeChallengesSince implements core.SelfServeResetTx.
func (t *tx) SelfServeChallengesSince(ctx context.Context, tenantID, clientID, guid string, since time.Time) ([]core.SelfServeChallenge, error) {
	rows, err := t.query(ctx, `SELECT `+challengeCols+` FROM selfserve_challenges
		WHERE tenant_id = ? AND client_id = ? AND guid = ? AND created_at >= ? ORDER BY created_at DESC, id`,
		tenantID, clientID, guid, since)
	if err != nil {
		return nil, wrap(err, "list self-serve codes")
	}
	out, err := collect(rows, scanChallenge)
	return out, wrap(err, "list self-serve codes")
}

// RevokeSelfServeChallenges implements core.SelfServeResetTx.
func (t *tx) RevokeSelfServeChallenges(ctx context.Context, tenantID, clientID, guid string, at time.Time) error {
	_, err := t.exec(ctx, `UPDATE selfserve_challenges SET revoked_at = ?
		WHERE tenant_id = ? AND client_id = ? AND guid = ? AND consumed_at IS NULL AND revoked_at IS NULL`,
		at, tenantID, clientID, guid)
	return wrap(err, "revoke self-serve codes")
}

// FailSelfServeChallenge implements core.SelfServeResetTx.
func (t *tx) FailSelfServeChallenge(ctx context.Context, tenantID, id string) error {
	res, err := t.exec(ctx, `UPDATE selfserve_challenges SET attempts = attempts + 1 WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err != nil {
		return wrap(err, "count a wrong self-serve code")
	}
	return mustAffect(res, "count a wrong self-serve code")
}

// ConsumeSelfServeChallenge implements core.SelfServeResetTx: one
// conditional update decides (security.md §1.5).
func (t *tx) ConsumeSelfServeChallenge(ctx context.Context, tenantID, id string, maxAttempts int, at time.Time) error {
	res, err := t.exec(ctx, `UPDATE selfserve_challenges SET consumed_at = ?
		WHERE tenant_id = ? AND id = ? AND consumed_at IS NULL AND revoked_at IS NULL AND expires_at > ? AND attempts < ?`,
		at, tenantID, id, at, maxAttempts)
	if err != nil {
		return wrap(err, "use self-serve code")
	}
	return mustAffect(res, "use self-serve code")
}

// SelfServeFailures implements core.SelfServeResetTx.
func (t *tx) SelfServeFailures(ctx context.Context, tenantID, clientID, guid string) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT failures FROM selfserve_failures WHERE tenant_id = ? AND client_id = ? AND guid = ?`,
		tenantID, clientID, guid).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, wrap(err, "read self-serve failures")
}

// SelfServeLockedOut implements core.SelfServeResetTx.
func (t *tx) SelfServeLockedOut(ctx context.Context, tenantID, clientID string, atLeast int) ([]string, error) {
	rows, err := t.query(ctx, `SELECT guid FROM selfserve_failures WHERE tenant_id = ? AND client_id = ? AND failures >= ? ORDER BY guid`,
		tenantID, clientID, atLeast)
	if err != nil {
		return nil, wrap(err, "list locked-out self-serve users")
	}
	out, err := collect(rows, func(sc interface{ Scan(...any) error }) (string, error) {
		var g string
		return g, sc.Scan(&g)
	})
	return out, wrap(err, "list locked-out self-serve users")
}

// SetSelfServeFailures implements core.SelfServeResetTx.
func (t *tx) SetSelfServeFailures(ctx context.Context, tenantID, clientID, guid string, n int, at time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO selfserve_failures (tenant_id, client_id, guid, failures, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, client_id, guid) DO UPDATE SET failures = excluded.failures, updated_at = excluded.updated_at`,
		tenantID, clientID, guid, n, at)
	return wrap(err, "store self-serve failures")
}

const requestCols = `tenant_id, id, client_id, guid, action, device_id, task_id, status, reason, created_at, expires_at, finished_at,
	verification_id, technician_id`

func scanRequest(sc interface{ Scan(...any) error }) (core.SelfServeRequest, error) {
	var (
		r              core.SelfServeRequest
		action, status string
	)
	err := sc.Scan(&r.TenantID, &r.ID, &r.ClientID, &r.GUID, &action, &r.DeviceID, &r.TaskID, &status, &r.Reason,
		tcol(&r.CreatedAt), tcol(&r.ExpiresAt), tcol(&r.FinishedAt), &r.VerificationID, &r.TechnicianID)
	r.Action, r.Status = core.SelfServeAction(action), core.SelfServeRequestStatus(status)
	return r, err
}

// CreateSelfServeRequest implements core.SelfServeResetTx.
func (t *tx) CreateSelfServeRequest(ctx context.Context, r *core.SelfServeRequest) error {
	normTimes(&r.CreatedAt, &r.ExpiresAt, &r.FinishedAt)
	_, err := t.exec(ctx, `INSERT INTO selfserve_requests (`+requestCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.TenantID, r.ID, r.ClientID, r.GUID, string(r.Action), r.DeviceID, r.TaskID, string(r.Status), r.Reason,
		r.CreatedAt, r.ExpiresAt, r.FinishedAt, r.VerificationID, r.TechnicianID)
	return wrap(err, "create self-serve request")
}

// SelfServeRequest implements core.SelfServeResetTx.
func (t *tx) SelfServeRequest(ctx context.Context, tenantID, id string) (core.SelfServeRequest, error) {
	r, err := scanRequest(t.queryRow(ctx, `SELECT `+requestCols+` FROM selfserve_requests WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return r, wrap(err, "find self-serve request")
}

// SelfServeRequestByTask implements core.SelfServeResetTx.
func (t *tx) SelfServeRequestByTask(ctx context.Context, tenantID, taskID string) (core.SelfServeRequest, error) {
	r, err := scanRequest(t.queryRow(ctx, `SELECT `+requestCols+` FROM selfserve_requests WHERE tenant_id = ? AND task_id = ?`,
		tenantID, taskID))
	return r, wrap(err, "find self-serve request of task %s", taskID)
}

// FinishSelfServeRequest implements core.SelfServeResetTx.
func (t *tx) FinishSelfServeRequest(ctx context.Context, tenantID, id string, status core.SelfServeRequestStatus, reason string, at time.Time) error {
	res, err := t.exec(ctx, `UPDATE selfserve_requests SET status = ?, reason = ?, finished_at = ?
		WHERE tenant_id = ? AND id = ? AND status = ?`, string(status), reason, at, tenantID, id, string(core.SelfServeQueued))
	if err != nil {
		return wrap(err, "finish self-serve request")
	}
	return mustAffect(res, "finish self-serve request")
}

// ExpiredSelfServeRequests implements core.SelfServeResetTx. A request
// whose task row is gone (its device deleted) counts as never fetched.
func (t *tx) ExpiredSelfServeRequests(ctx context.Context, tenantID string, now time.Time, limit int) ([]core.SelfServeRequest, error) {
	rows, err := t.query(ctx, `SELECT `+requestCols+` FROM selfserve_requests r
		WHERE r.tenant_id = ? AND r.status = ? AND r.expires_at <= ?
			AND NOT EXISTS (SELECT 1 FROM agent_tasks a WHERE a.id = r.task_id AND a.tenant_id = r.tenant_id AND a.delivered_at IS NOT NULL)
		ORDER BY r.expires_at, r.id LIMIT ?`, tenantID, string(core.SelfServeQueued), normTime(now), limit)
	if err != nil {
		return nil, wrap(err, "list expired self-serve requests")
	}
	out, err := collect(rows, scanRequest)
	return out, wrap(err, "list expired self-serve requests")
}

// UnreportedSelfServeRequests implements core.SelfServeResetTx.
func (t *tx) UnreportedSelfServeRequests(ctx context.Context, tenantID string, deliveredBefore time.Time, limit int) ([]core.SelfServeRequest, error) {
	rows, err := t.query(ctx, `SELECT `+requestCols+` FROM selfserve_requests r
		WHERE r.tenant_id = ? AND r.status = ?
			AND EXISTS (SELECT 1 FROM agent_tasks a WHERE a.id = r.task_id AND a.tenant_id = r.tenant_id AND a.delivered_at < ?)
		ORDER BY r.expires_at, r.id LIMIT ?`, tenantID, string(core.SelfServeQueued), normTime(deliveredBefore), limit)
	if err != nil {
		return nil, wrap(err, "list unreported self-serve requests")
	}
	out, err := collect(rows, scanRequest)
	return out, wrap(err, "list unreported self-serve requests")
}

// AmendSelfServeRequest implements core.SelfServeResetTx: one conditional
// update on the outcome it replaces decides.
func (t *tx) AmendSelfServeRequest(ctx context.Context, tenantID, id, fromReason string, status core.SelfServeRequestStatus, reason string, at time.Time) error {
	res, err := t.exec(ctx, `UPDATE selfserve_requests SET status = ?, reason = ?, finished_at = ?
		WHERE tenant_id = ? AND id = ? AND status = ? AND reason = ?`,
		string(status), reason, normTime(at), tenantID, id, string(core.SelfServeFailed), fromReason)
	if err != nil {
		return wrap(err, "amend self-serve request")
	}
	return mustAffect(res, "amend self-serve request")
}

// DropUndeliveredAgentTask implements core.SelfServeResetTx. The delete
// is conditional on the task being undelivered, and so is the update that
// delivers it (MarkAgentTaskDelivered): on PostgreSQL the second of the two
// waits for the first's row lock and then finds nothing to do, so a task
// is either fetched or dropped, never both.
func (t *tx) DropUndeliveredAgentTask(ctx context.Context, tenantID, id string) error {
	res, err := t.exec(ctx, `DELETE FROM agent_tasks WHERE tenant_id = ? AND id = ? AND delivered_at IS NULL`, tenantID, id)
	if err != nil {
		return wrap(err, "drop task %s", id)
	}
	n, err := res.RowsAffected()
	if err != nil || n > 0 {
		return wrap(err, "drop task %s", id)
	}
	var one int
	err = t.queryRow(ctx, `SELECT 1 FROM agent_tasks WHERE tenant_id = ? AND id = ?`, tenantID, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return wrap(err, "drop task %s", id)
	}
	return wrap(core.ErrConflict, "drop task %s: delivered already", id)
}

// ClearAgentTaskPayload implements core.SelfServeResetTx.
func (t *tx) ClearAgentTaskPayload(ctx context.Context, tenantID, id string) error {
	_, err := t.exec(ctx, `UPDATE agent_tasks SET payload = ? WHERE tenant_id = ? AND id = ?`, []byte{}, tenantID, id)
	return wrap(err, "clear task payload")
}

// PutPasswordPolicy implements core.SelfServeResetTx.
func (t *tx) PutPasswordPolicy(ctx context.Context, p *core.PasswordPolicy) error {
	normTimes(&p.UpdatedAt)
	_, err := t.exec(ctx, `INSERT INTO directory_policy (tenant_id, client_id, min_length, complexity, history, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, client_id) DO UPDATE SET min_length = excluded.min_length, complexity = excluded.complexity,
			history = excluded.history, updated_at = excluded.updated_at`,
		p.TenantID, p.ClientID, p.MinLength, p.Complexity, p.History, p.UpdatedAt)
	return wrap(err, "store password policy")
}

// PasswordPolicy implements core.SelfServeResetTx.
func (t *tx) PasswordPolicy(ctx context.Context, tenantID, clientID string) (core.PasswordPolicy, error) {
	p := core.PasswordPolicy{TenantID: tenantID, ClientID: clientID}
	err := t.queryRow(ctx, `SELECT min_length, complexity, history, updated_at FROM directory_policy WHERE tenant_id = ? AND client_id = ?`,
		tenantID, clientID).Scan(&p.MinLength, &p.Complexity, &p.History, tcol(&p.UpdatedAt))
	return p, wrap(err, "read password policy")
}
