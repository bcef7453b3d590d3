package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/countersign/countersign/core"
)

// Interface guard.
var (
	_ core.SelfServeTx = (*tx)(nil)
	_ core.NoticeTx    = (*tx)(nil)
	_ core.WelcomeTx   = (*tx)(nil)
)

// SelfServeSettings implements core.SelfServeTx.
func (t *tx) SelfServeSettings(ctx context.Context, tenantID string) (core.SelfServeSettings, error) {
	s := core.SelfServeSettings{TenantID: tenantID}
	err := t.queryRow(ctx, `SELECT enabled, new_users_on, updated_by, updated_at FROM directory_settings WHERE tenant_id = ?`,
		tenantID).Scan(&s.Enabled, &s.NewUsersOn, &s.UpdatedBy, tcol(&s.UpdatedAt))
	if errors.Is(err, sql.ErrNoRows) {
		return s, nil
	}
	return s, wrap(err, "read self-serve settings")
}

// PutSelfServeSettings implements core.SelfServeTx.
func (t *tx) PutSelfServeSettings(ctx context.Context, s *core.SelfServeSettings) error {
	normTimes(&s.UpdatedAt)
	_, err := t.exec(ctx, `INSERT INTO directory_settings (tenant_id, enabled, new_users_on, updated_by, updated_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET enabled = excluded.enabled, new_users_on = excluded.new_users_on,
			updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
		s.TenantID, s.Enabled, s.NewUsersOn, s.UpdatedBy, s.UpdatedAt)
	return wrap(err, "store self-serve settings")
}

// SelfServeUsers implements core.SelfServeTx.
func (t *tx) SelfServeUsers(ctx context.Context, tenantID, clientID string) ([]core.SelfServeUser, error) {
	rows, err := t.query(ctx, `SELECT tenant_id, client_id, guid, enabled, status, changed_by, changed_at
		FROM directory_selfserve WHERE tenant_id = ? AND client_id = ? ORDER BY guid`, tenantID, clientID)
	if err != nil {
		return nil, wrap(err, "list self-serve switches")
	}
	out, err := collect(rows, func(sc interface{ Scan(...any) error }) (core.SelfServeUser, error) {
		var (
			u      core.SelfServeUser
			status string
		)
		err := sc.Scan(&u.TenantID, &u.ClientID, &u.GUID, &u.Enabled, &status, &u.ChangedBy, tcol(&u.ChangedAt))
		u.Status = core.SelfServeStatus(status)
		return u, err
	})
	return out, wrap(err, "list self-serve switches")
}

// PutSelfServeUser implements core.SelfServeTx. The user must be on record
// for the client (the foreign key refuses anything else as not found).
func (t *tx) PutSelfServeUser(ctx context.Context, u *core.SelfServeUser) error {
	normTimes(&u.ChangedAt)
	_, err := t.exec(ctx, `INSERT INTO directory_selfserve (tenant_id, client_id, guid, enabled, status, changed_by, changed_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, client_id, guid) DO UPDATE SET enabled = excluded.enabled, status = excluded.status,
			changed_by = excluded.changed_by, changed_at = excluded.changed_at`,
		u.TenantID, u.ClientID, u.GUID, u.Enabled, string(u.Status), u.ChangedBy, u.ChangedAt)
	return wrap(err, "store self-serve switch of %s", u.GUID)
}

// ClaimNotice implements core.NoticeTx: the primary key (tenant, client,
// GUID, day) lets one transaction in, on every node; the others insert
// nothing.
func (t *tx) ClaimNotice(ctx context.Context, tenantID, clientID, guid, day string, kind core.NoticeKind, at time.Time) (bool, error) {
	normTimes(&at)
	res, err := t.exec(ctx, `INSERT INTO directory_notices (tenant_id, client_id, guid, day, kind, queued_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, client_id, guid, day) DO NOTHING`,
		tenantID, clientID, guid, day, string(kind), at)
	if err != nil {
		return false, wrap(err, "claim notice of %s", guid)
	}
	n, err := res.RowsAffected()
	return n == 1, wrap(err, "claim notice of %s", guid)
}

// ForgetNotices implements core.NoticeTx.
func (t *tx) ForgetNotices(ctx context.Context, tenantID, day string) error {
	_, err := t.exec(ctx, `DELETE FROM directory_notices WHERE tenant_id = ? AND day < ?`, tenantID, day)
	return wrap(err, "forget old notices")
}

// SMSTextedSince implements core.NoticeTx: a verification's text
// (verification_sends) or a notice's (sms_texted), each answered by its
// own index.
func (t *tx) SMSTextedSince(ctx context.Context, tenantID, phone string, since time.Time) (bool, error) {
	var n int
	err := t.queryRow(ctx, `SELECT
		(SELECT COUNT(*) FROM (SELECT 1 FROM verification_sends WHERE tenant_id = ? AND destination = ? AND at >= ? LIMIT 1) v) +
		(SELECT COUNT(*) FROM sms_texted WHERE tenant_id = ? AND phone = ? AND last_at >= ?)`,
		tenantID, phone, normTime(since), tenantID, phone, normTime(since)).Scan(&n)
	return n > 0, wrap(err, "read when a number was last texted")
}

// NoteSMSTexted implements core.NoticeTx.
func (t *tx) NoteSMSTexted(ctx context.Context, tenantID, phone string, at time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO sms_texted (tenant_id, phone, last_at) VALUES (?, ?, ?)
		ON CONFLICT (tenant_id, phone) DO UPDATE SET last_at = excluded.last_at`, tenantID, phone, normTime(at))
	return wrap(err, "note a number texted")
}

// PutWelcome implements core.WelcomeTx.
func (t *tx) PutWelcome(ctx context.Context, w *core.Welcome) error {
	normTimes(&w.CreatedAt, &w.ExpiresAt, &w.UsedAt)
	_, err := t.exec(ctx, `INSERT INTO directory_welcome (tenant_id, client_id, guid, token_hash, mobile, created_at, expires_at, used_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, client_id, guid) DO UPDATE SET token_hash = excluded.token_hash, mobile = excluded.mobile,
			created_at = excluded.created_at, expires_at = excluded.expires_at, used_at = excluded.used_at`,
		w.TenantID, w.ClientID, w.GUID, w.TokenHash, w.Mobile, w.CreatedAt, w.ExpiresAt, w.UsedAt)
	return wrap(err, "store welcome of %s", w.GUID)
}

// WelcomeByToken implements core.WelcomeTx.
func (t *tx) WelcomeByToken(ctx context.Context, tenantID string, tokenHash []byte) (core.Welcome, error) {
	var w core.Welcome
	err := t.queryRow(ctx, `SELECT tenant_id, client_id, guid, token_hash, mobile, created_at, expires_at, used_at
		FROM directory_welcome WHERE tenant_id = ? AND token_hash = ?`, tenantID, tokenHash).Scan(&w.TenantID, &w.ClientID,
		&w.GUID, &w.TokenHash, &w.Mobile, tcol(&w.CreatedAt), tcol(&w.ExpiresAt), tcol(&w.UsedAt))
	return w, wrap(err, "find welcome")
}

// Welcomes implements core.WelcomeTx.
func (t *tx) Welcomes(ctx context.Context, tenantID, clientID string) ([]core.Welcome, error) {
	rows, err := t.query(ctx, `SELECT tenant_id, client_id, guid, token_hash, mobile, created_at, expires_at, used_at
		FROM directory_welcome WHERE tenant_id = ? AND client_id = ? ORDER BY guid`, tenantID, clientID)
	if err != nil {
		return nil, wrap(err, "list welcomes")
	}
	out, err := collect(rows, func(sc interface{ Scan(...any) error }) (core.Welcome, error) {
		var w core.Welcome
		err := sc.Scan(&w.TenantID, &w.ClientID, &w.GUID, &w.TokenHash, &w.Mobile, tcol(&w.CreatedAt), tcol(&w.ExpiresAt), tcol(&w.UsedAt))
		return w, err
	})
	return out, wrap(err, "list welcomes")
}

// UseWelcome implements core.WelcomeTx: only an unused welcome is marked.
func (t *tx) UseWelcome(ctx context.Context, tenantID string, tokenHash []byte, at time.Time) error {
	normTimes(&at)
	res, err := t.exec(ctx, `UPDATE directory_welcome SET used_at = ? WHERE tenant_id = ? AND token_hash = ? AND used_at IS NULL`,
		at, tenantID, tokenHash)
	if err != nil {
		return wrap(err, "use welcome")
	}
	return mustAffect(res, "use welcome")
}
