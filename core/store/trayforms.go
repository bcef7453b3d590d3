package store

import (
	"context"
	"time"

	"github.com/countersign/countersign/core"
)

// Interface guard.
var _ core.TrayFormTx = (*tx)(nil)

const trayFormCols = `id, tenant_id, device_id, sid, purpose, token_hash, created_at, expires_at, used_at`

func scanTrayForm(sc interface{ Scan(...any) error }) (core.TrayForm, error) {
	var f core.TrayForm
	err := sc.Scan(&f.ID, &f.TenantID, &f.DeviceID, &f.SID, &f.Purpose, &f.TokenHash, tcol(&f.CreatedAt), tcol(&f.ExpiresAt), tcol(&f.UsedAt))
	return f, err
}

// CreateTrayForm implements core.TrayFormTx; an empty f.ID gets a fresh id.
func (t *tx) CreateTrayForm(ctx context.Context, f *core.TrayForm) error {
	newID(&f.ID, "tfm")
	normTimes(&f.CreatedAt, &f.ExpiresAt, &f.UsedAt)
	if f.Purpose == "" {
		f.Purpose = core.TrayFormTicket
	}
	_, err := t.exec(ctx, `INSERT INTO tray_forms (`+trayFormCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.ID, f.TenantID, f.DeviceID, f.SID, string(f.Purpose), f.TokenHash, f.CreatedAt, f.ExpiresAt, f.UsedAt)
	return wrap(err, "create tray form")
}

// TrayFormByHash implements core.TrayFormTx.
func (t *tx) TrayFormByHash(ctx context.Context, hash []byte) (core.TrayForm, error) {
	f, err := scanTrayForm(t.queryRow(ctx, `SELECT `+trayFormCols+` FROM tray_forms WHERE token_hash = ?`, hash))
	return f, wrap(err, "find tray form")
}

// CountTrayForms implements core.TrayFormTx.
func (t *tx) CountTrayForms(ctx context.Context, tenantID, deviceID, sid string, since time.Time) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM tray_forms WHERE tenant_id = ? AND device_id = ? AND sid = ? AND created_at >= ?`,
		tenantID, deviceID, sid, since).Scan(&n)
	return n, wrap(err, "count tray forms")
}

// UseTrayForm implements core.TrayFormTx: it marks an unused form used, and
// reports ErrConflict for one used already (two submits racing).
func (t *tx) UseTrayForm(ctx context.Context, tenantID, id string, at time.Time) error {
	normTimes(&at)
	res, err := t.exec(ctx, `UPDATE tray_forms SET used_at = ? WHERE tenant_id = ? AND id = ? AND used_at IS NULL`, at, tenantID, id)
	if err != nil {
		return wrap(err, "use tray form %s", id)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return core.Errorf(core.KindConflict, "this form was sent already")
	}
	return nil
}
