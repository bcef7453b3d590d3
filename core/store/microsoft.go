package store

import (
	"context"

	"github.com/countersign/countersign/core"
)

// Interface guard.
var _ core.MicrosoftTx = (*tx)(nil)

const msConnCols = `id, tenant_id, client_id, name, entra_tenant, push_enabled, sealed, checked_at, check_result, imported_at, created_at, updated_at`

func scanMSConn(sc interface{ Scan(...any) error }) (core.MicrosoftConnection, error) {
	var c core.MicrosoftConnection
	err := sc.Scan(&c.ID, &c.TenantID, &c.ClientID, &c.Name, &c.EntraTenant, &c.PushEnabled, &c.Sealed,
		tcol(&c.CheckedAt), &c.CheckResult, tcol(&c.ImportedAt), tcol(&c.CreatedAt), tcol(&c.UpdatedAt))
	return c, err
}

// PutMicrosoftConnection implements core.MicrosoftTx. The row's tenant
// never changes: an id of another tenant updates nothing and is refused.
func (t *tx) PutMicrosoftConnection(ctx context.Context, c *core.MicrosoftConnection) error {
	newID(&c.ID, "msc")
	normTimes(&c.CheckedAt, &c.ImportedAt, &c.CreatedAt, &c.UpdatedAt)
	res, err := t.exec(ctx, `INSERT INTO microsoft_connections (`+msConnCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET client_id = excluded.client_id, name = excluded.name,
			entra_tenant = excluded.entra_tenant, push_enabled = excluded.push_enabled, sealed = excluded.sealed,
			checked_at = excluded.checked_at, check_result = excluded.check_result, imported_at = excluded.imported_at,
			updated_at = excluded.updated_at
		WHERE microsoft_connections.tenant_id = excluded.tenant_id`,
		c.ID, c.TenantID, c.ClientID, c.Name, c.EntraTenant, c.PushEnabled, c.Sealed, c.CheckedAt, c.CheckResult,
		c.ImportedAt, c.CreatedAt, c.UpdatedAt)
	if err != nil {
		return wrap(err, "put Microsoft connection %s", c.ID)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return wrap(core.ErrNotFound, "put Microsoft connection %s", c.ID)
	}
	return nil
}

// MicrosoftConnection implements core.MicrosoftTx.
func (t *tx) MicrosoftConnection(ctx context.Context, tenantID, id string) (core.MicrosoftConnection, error) {
	c, err := scanMSConn(t.queryRow(ctx, `SELECT `+msConnCols+` FROM microsoft_connections WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return c, wrap(err, "get Microsoft connection %s", id)
}

// MicrosoftConnectionOfClient implements core.MicrosoftTx.
func (t *tx) MicrosoftConnectionOfClient(ctx context.Context, tenantID, clientID string) (core.MicrosoftConnection, error) {
	c, err := scanMSConn(t.queryRow(ctx, `SELECT `+msConnCols+` FROM microsoft_connections WHERE tenant_id = ? AND client_id = ?`,
		tenantID, clientID))
	return c, wrap(err, "get Microsoft connection of client %s", clientID)
}

// ListMicrosoftConnections implements core.MicrosoftTx, by client.
func (t *tx) ListMicrosoftConnections(ctx context.Context, tenantID string) ([]core.MicrosoftConnection, error) {
	rows, err := t.query(ctx, `SELECT `+msConnCols+` FROM microsoft_connections WHERE tenant_id = ? ORDER BY client_id, id`, tenantID)
	if err != nil {
		return nil, wrap(err, "list Microsoft connections")
	}
	out, err := collect(rows, scanMSConn)
	return out, wrap(err, "list Microsoft connections")
}

// DeleteMicrosoftConnection implements core.MicrosoftTx.
func (t *tx) DeleteMicrosoftConnection(ctx context.Context, tenantID, id string) error {
	if _, err := t.exec(ctx, `DELETE FROM microsoft_users WHERE tenant_id = ? AND connection_id = ?`, tenantID, id); err != nil {
		return wrap(err, "delete Microsoft users of %s", id)
	}
	res, err := t.exec(ctx, `DELETE FROM microsoft_connections WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err != nil {
		return wrap(err, "delete Microsoft connection %s", id)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return wrap(core.ErrNotFound, "delete Microsoft connection %s", id)
	}
	return nil
}

const msUserCols = `tenant_id, connection_id, object_id, upn, mail, mobile, display_name, source, enabled, authenticator,
	methods, contact_id, matched_by, imported_at`

func scanMSUser(sc interface{ Scan(...any) error }) (core.MicrosoftUser, error) {
	var u core.MicrosoftUser
	err := sc.Scan(&u.TenantID, &u.ConnectionID, &u.ObjectID, &u.UPN, &u.Mail, &u.Mobile, &u.DisplayName, &u.Source,
		&u.Enabled, &u.Authenticator, &u.Methods, &u.ContactID, &u.MatchedBy, tcol(&u.ImportedAt))
	return u, err
}

// checkConnection refuses a connection that is not the tenant's.
func (t *tx) checkConnection(ctx context.Context, tenantID, id string) error {
	var one int
	err := t.queryRow(ctx, `SELECT 1 FROM microsoft_connections WHERE tenant_id = ? AND id = ?`, tenantID, id).Scan(&one)
	return wrap(err, "get Microsoft connection %s", id)
}

// ReplaceMicrosoftUsers implements core.MicrosoftTx.
func (t *tx) ReplaceMicrosoftUsers(ctx context.Context, tenantID, connectionID string, users []core.MicrosoftUser) error {
	if err := t.checkConnection(ctx, tenantID, connectionID); err != nil {
		return err
	}
	if _, err := t.exec(ctx, `DELETE FROM microsoft_users WHERE tenant_id = ? AND connection_id = ?`, tenantID, connectionID); err != nil {
		return wrap(err, "replace Microsoft users of %s", connectionID)
	}
	for i := range users {
		u := &users[i]
		u.TenantID, u.ConnectionID = tenantID, connectionID
		if err := t.insertMSUser(ctx, u); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) insertMSUser(ctx context.Context, u *core.MicrosoftUser) error {
	normTimes(&u.ImportedAt)
	_, err := t.exec(ctx, `INSERT INTO microsoft_users (`+msUserCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, connection_id, object_id) DO UPDATE SET upn = excluded.upn, mail = excluded.mail,
			mobile = excluded.mobile, display_name = excluded.display_name, source = excluded.source,
			enabled = excluded.enabled, authenticator = excluded.authenticator, methods = excluded.methods,
			contact_id = excluded.contact_id, matched_by = excluded.matched_by, imported_at = excluded.imported_at`,
		u.TenantID, u.ConnectionID, u.ObjectID, u.UPN, u.Mail, u.Mobile, u.DisplayName, u.Source, u.Enabled,
		u.Authenticator, u.Methods, u.ContactID, u.MatchedBy, u.ImportedAt)
	return wrap(err, "put Microsoft user %s", u.ObjectID)
}

// PutMicrosoftUser implements core.MicrosoftTx.
func (t *tx) PutMicrosoftUser(ctx context.Context, u *core.MicrosoftUser) error {
	if err := t.checkConnection(ctx, u.TenantID, u.ConnectionID); err != nil {
		return err
	}
	return t.insertMSUser(ctx, u)
}

// ListMicrosoftUsers implements core.MicrosoftTx, by UPN.
func (t *tx) ListMicrosoftUsers(ctx context.Context, tenantID, connectionID string) ([]core.MicrosoftUser, error) {
	rows, err := t.query(ctx, `SELECT `+msUserCols+` FROM microsoft_users WHERE tenant_id = ? AND connection_id = ?
		ORDER BY upn, object_id`, tenantID, connectionID)
	if err != nil {
		return nil, wrap(err, "list Microsoft users")
	}
	out, err := collect(rows, scanMSUser)
	return out, wrap(err, "list Microsoft users")
}

// ListMicrosoftUsersPage implements core.MicrosoftTx: keyset paging on
// (upn, object_id), the list's order, so a page costs its size and an
// import between pages neither repeats nor skips a user that stayed.
func (t *tx) ListMicrosoftUsersPage(ctx context.Context, tenantID, connectionID, afterUPN, afterObject string, limit int) ([]core.MicrosoftUser, error) {
	rows, err := t.query(ctx, `SELECT `+msUserCols+` FROM microsoft_users WHERE tenant_id = ? AND connection_id = ?
		AND (upn > ? OR (upn = ? AND object_id > ?)) ORDER BY upn, object_id LIMIT ?`,
		tenantID, connectionID, afterUPN, afterUPN, afterObject, limit)
	if err != nil {
		return nil, wrap(err, "list Microsoft users")
	}
	out, err := collect(rows, scanMSUser)
	return out, wrap(err, "list Microsoft users")
}

// MicrosoftUserOfContact implements core.MicrosoftTx. When several users
// are on one contact (an admin's match beside the matcher's), the admin's
// wins, then the first by UPN.
func (t *tx) MicrosoftUserOfContact(ctx context.Context, tenantID, connectionID, contactID string) (core.MicrosoftUser, error) {
	if contactID == "" {
		return core.MicrosoftUser{}, wrap(core.ErrNotFound, "get Microsoft user of no contact")
	}
	u, err := scanMSUser(t.queryRow(ctx, `SELECT `+msUserCols+` FROM microsoft_users
		WHERE tenant_id = ? AND connection_id = ? AND contact_id = ?
		ORDER BY CASE WHEN matched_by = 'manual' THEN 0 ELSE 1 END, upn LIMIT 1`, tenantID, connectionID, contactID))
	return u, wrap(err, "get Microsoft user of contact %s", contactID)
}

const msConsentCols = `tenant_id, state_hash, client_id, actor, app_client_id, created_at, expires_at, used_at, entra_tenant, result`

func scanMSConsent(sc interface{ Scan(...any) error }) (core.MicrosoftConsent, error) {
	var c core.MicrosoftConsent
	err := sc.Scan(&c.TenantID, &c.StateHash, &c.ClientID, &c.Actor, &c.AppClientID, tcol(&c.CreatedAt), tcol(&c.ExpiresAt),
		tcol(&c.UsedAt), &c.EntraTenant, &c.Result)
	return c, err
}

// CreateMicrosoftConsent implements core.MicrosoftTx.
func (t *tx) CreateMicrosoftConsent(ctx context.Context, c *core.MicrosoftConsent) error {
	normTimes(&c.CreatedAt, &c.ExpiresAt, &c.UsedAt)
	_, err := t.exec(ctx, `INSERT INTO microsoft_consents (`+msConsentCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.TenantID, c.StateHash, c.ClientID, c.Actor, c.AppClientID, c.CreatedAt, c.ExpiresAt, c.UsedAt, c.EntraTenant, c.Result)
	return wrap(err, "create Microsoft consent")
}

// LockMicrosoftConsent implements core.MicrosoftTx.
func (t *tx) LockMicrosoftConsent(ctx context.Context, tenantID string, stateHash []byte) (core.MicrosoftConsent, error) {
	c, err := scanMSConsent(t.queryRow(ctx, `SELECT `+msConsentCols+` FROM microsoft_consents
		WHERE tenant_id = ? AND state_hash = ?`+t.forUpdate(), tenantID, stateHash))
	return c, wrap(err, "get Microsoft consent")
}

// FinishMicrosoftConsent implements core.MicrosoftTx.
func (t *tx) FinishMicrosoftConsent(ctx context.Context, c *core.MicrosoftConsent) error {
	normTimes(&c.UsedAt)
	res, err := t.exec(ctx, `UPDATE microsoft_consents SET used_at = ?, entra_tenant = ?, result = ?
		WHERE tenant_id = ? AND state_hash = ?`, c.UsedAt, c.EntraTenant, c.Result, c.TenantID, c.StateHash)
	if err != nil {
		return wrap(err, "finish Microsoft consent")
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return wrap(core.ErrNotFound, "finish Microsoft consent")
	}
	return nil
}

// LatestMicrosoftConsent implements core.MicrosoftTx.
func (t *tx) LatestMicrosoftConsent(ctx context.Context, tenantID, clientID string) (core.MicrosoftConsent, error) {
	c, err := scanMSConsent(t.queryRow(ctx, `SELECT `+msConsentCols+` FROM microsoft_consents
		WHERE tenant_id = ? AND client_id = ? AND result = 'granted' ORDER BY used_at DESC LIMIT 1`, tenantID, clientID))
	return c, wrap(err, "get Microsoft consent of client %s", clientID)
}
