package store

import (
	"context"

	"github.com/countersign/countersign/core"
)

const technicianCols = `id, tenant_id, email, name, role, password_hash, totp_secret, last_totp_step, failed_logins, locked_until, created_at,
	disabled_at, session_epoch, last_login_at`

func scanTechnician(sc interface{ Scan(...any) error }) (core.Technician, error) {
	var (
		tc   core.Technician
		role string
	)
	err := sc.Scan(&tc.ID, &tc.TenantID, &tc.Email, &tc.Name, &role, &tc.PasswordHash, &tc.TOTPSecret, &tc.LastTOTPStep,
		&tc.FailedLogins, tcol(&tc.LockedUntil), tcol(&tc.CreatedAt),
		tcol(&tc.DisabledAt), &tc.SessionEpoch, tcol(&tc.LastLoginAt))
	tc.Role = core.Role(role)
	return tc, err
}

// CreateTechnician implements core.Tx; an empty id gets a fresh one. A second
// technician with the same email in the tenant is ErrConflict.
func (t *tx) CreateTechnician(ctx context.Context, tc *core.Technician) error {
	newID(&tc.ID, "tec")
	normTimes(&tc.LockedUntil, &tc.CreatedAt, &tc.DisabledAt, &tc.LastLoginAt)
	_, err := t.exec(ctx, `INSERT INTO technicians (`+technicianCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		tc.ID, tc.TenantID, tc.Email, tc.Name, string(tc.Role), tc.PasswordHash, tc.TOTPSecret, tc.LastTOTPStep,
		tc.FailedLogins, tc.LockedUntil, tc.CreatedAt, tc.DisabledAt, tc.SessionEpoch, tc.LastLoginAt)
	return wrap(err, "create technician")
}

// Technician implements core.Tx.
func (t *tx) Technician(ctx context.Context, tenantID, id string) (core.Technician, error) {
	tc, err := scanTechnician(t.queryRow(ctx, `SELECT `+technicianCols+` FROM technicians WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return tc, wrap(err, "get technician %s", id)
}

// LockTechnician implements core.Tx: FOR UPDATE on PostgreSQL; SQLite's
// single writer connection already serialises write transactions.
func (t *tx) LockTechnician(ctx context.Context, tenantID, id string) (core.Technician, error) {
	tc, err := scanTechnician(t.queryRow(ctx, `SELECT `+technicianCols+` FROM technicians WHERE tenant_id = ? AND id = ?`+t.forUpdate(), tenantID, id))
	return tc, wrap(err, "lock technician %s", id)
}

// TechnicianByEmail implements core.Tx. email must already be normalised
// (core.NormalizeEmail); it is compared exactly.
func (t *tx) TechnicianByEmail(ctx context.Context, tenantID, email string) (core.Technician, error) {
	tc, err := scanTechnician(t.queryRow(ctx, `SELECT `+technicianCols+` FROM technicians WHERE tenant_id = ? AND email = ?`, tenantID, email))
	return tc, wrap(err, "get technician by email")
}

// ListTechnicians implements core.Tx, ordered by name.
func (t *tx) ListTechnicians(ctx context.Context, tenantID string) ([]core.Technician, error) {
	rows, err := t.query(ctx, `SELECT `+technicianCols+` FROM technicians WHERE tenant_id = ? ORDER BY name, email`, tenantID)
	if err != nil {
		return nil, wrap(err, "list technicians")
	}
	out, err := collect(rows, scanTechnician)
	return out, wrap(err, "list technicians")
}

// UpdateTechnician implements core.Tx.
func (t *tx) UpdateTechnician(ctx context.Context, tc *core.Technician) error {
	normTimes(&tc.LockedUntil, &tc.DisabledAt, &tc.LastLoginAt)
	res, err := t.exec(ctx, `UPDATE technicians SET name = ?, role = ?, password_hash = ?, totp_secret = ?,
		last_totp_step = ?, failed_logins = ?, locked_until = ?, disabled_at = ?, session_epoch = ?, last_login_at = ?
		WHERE tenant_id = ? AND id = ?`,
		tc.Name, string(tc.Role), tc.PasswordHash, tc.TOTPSecret, tc.LastTOTPStep, tc.FailedLogins, tc.LockedUntil,
		tc.DisabledAt, tc.SessionEpoch, tc.LastLoginAt, tc.TenantID, tc.ID)
	if err != nil {
		return wrap(err, "update technician %s", tc.ID)
	}
	return mustAffect(res, "update technician %s", tc.ID)
}
