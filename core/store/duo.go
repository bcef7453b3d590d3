package store

import (
	"context"

	"github.com/countersign/countersign/core"
)

// Interface guard.
var _ core.DuoTx = (*tx)(nil)

const duoAccountCols = `id, tenant_id, client_id, name, verified_push, sealed, checked_at, check_result, created_at, updated_at`

func scanDuoAccount(sc interface{ Scan(...any) error }) (core.DuoAccount, error) {
	var a core.DuoAccount
	err := sc.Scan(&a.ID, &a.TenantID, &a.ClientID, &a.Name, &a.VerifiedPush, &a.Sealed,
		tcol(&a.CheckedAt), &a.CheckResult, tcol(&a.CreatedAt), tcol(&a.UpdatedAt))
	return a, err
}

// PutDuoAccount implements core.DuoTx.
func (t *tx) PutDuoAccount(ctx context.Context, a *core.DuoAccount) error {
	newID(&a.ID, "duo")
	normTimes(&a.CheckedAt, &a.CreatedAt, &a.UpdatedAt)
	_, err := t.exec(ctx, `INSERT INTO duo_accounts (`+duoAccountCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET client_id = excluded.client_id, name = excluded.name,
			verified_push = excluded.verified_push, sealed = excluded.sealed, checked_at = excluded.checked_at,
			check_result = excluded.check_result, updated_at = excluded.updated_at
		WHERE duo_accounts.tenant_id = excluded.tenant_id`,
		a.ID, a.TenantID, a.ClientID, a.Name, a.VerifiedPush, a.Sealed, a.CheckedAt, a.CheckResult, a.CreatedAt, a.UpdatedAt)
	return wrap(err, "put Duo account %s", a.ID)
}

// DuoAccount implements core.DuoTx.
func (t *tx) DuoAccount(ctx context.Context, tenantID, id string) (core.DuoAccount, error) {
	a, err := scanDuoAccount(t.queryRow(ctx, `SELECT `+duoAccountCols+` FROM duo_accounts WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return a, wrap(err, "get Duo account %s", id)
}

// DuoAccountOfClient implements core.DuoTx.
func (t *tx) DuoAccountOfClient(ctx context.Context, tenantID, clientID string) (core.DuoAccount, error) {
	a, err := scanDuoAccount(t.queryRow(ctx, `SELECT `+duoAccountCols+` FROM duo_accounts WHERE tenant_id = ? AND client_id = ?`,
		tenantID, clientID))
	return a, wrap(err, "get Duo account of client %q", clientID)
}

// ListDuoAccounts implements core.DuoTx: the tenant default first, then by client.
func (t *tx) ListDuoAccounts(ctx context.Context, tenantID string) ([]core.DuoAccount, error) {
	rows, err := t.query(ctx, `SELECT `+duoAccountCols+` FROM duo_accounts WHERE tenant_id = ? ORDER BY client_id, id`, tenantID)
	if err != nil {
		return nil, wrap(err, "list Duo accounts")
	}
	out, err := collect(rows, scanDuoAccount)
	return out, wrap(err, "list Duo accounts")
}

// DeleteDuoAccount implements core.DuoTx.
func (t *tx) DeleteDuoAccount(ctx context.Context, tenantID, id string) error {
	if _, err := t.exec(ctx, `DELETE FROM duo_users WHERE tenant_id = ? AND account_id = ?`, tenantID, id); err != nil {
		return wrap(err, "delete Duo users of %s", id)
	}
	res, err := t.exec(ctx, `DELETE FROM duo_accounts WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err != nil {
		return wrap(err, "delete Duo account %s", id)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return wrap(core.ErrNotFound, "delete Duo account %s", id)
	}
	return nil
}

// PutDuoUser implements core.DuoTx.
func (t *tx) PutDuoUser(ctx context.Context, u *core.DuoUser) error {
	normTimes(&u.UpdatedAt)
	_, err := t.exec(ctx, `INSERT INTO duo_users (tenant_id, account_id, contact_id, username, matched_by, updated_by, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, account_id, contact_id) DO UPDATE SET username = excluded.username,
			matched_by = excluded.matched_by, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
		u.TenantID, u.AccountID, u.ContactID, u.Username, u.MatchedBy, u.UpdatedBy, u.UpdatedAt)
	return wrap(err, "put Duo user of contact %s", u.ContactID)
}

const duoUserCols = `tenant_id, account_id, contact_id, username, matched_by, updated_by, updated_at`

func scanDuoUser(sc interface{ Scan(...any) error }) (core.DuoUser, error) {
	var u core.DuoUser
	err := sc.Scan(&u.TenantID, &u.AccountID, &u.ContactID, &u.Username, &u.MatchedBy, &u.UpdatedBy, tcol(&u.UpdatedAt))
	return u, err
}

// DuoUser implements core.DuoTx.
func (t *tx) DuoUser(ctx context.Context, tenantID, accountID, contactID string) (core.DuoUser, error) {
	u, err := scanDuoUser(t.queryRow(ctx, `SELECT `+duoUserCols+` FROM duo_users
		WHERE tenant_id = ? AND account_id = ? AND contact_id = ?`, tenantID, accountID, contactID))
	return u, wrap(err, "get Duo user of contact %s", contactID)
}

// ListDuoUsers implements core.DuoTx, by username.
func (t *tx) ListDuoUsers(ctx context.Context, tenantID, accountID string) ([]core.DuoUser, error) {
	rows, err := t.query(ctx, `SELECT `+duoUserCols+` FROM duo_users WHERE tenant_id = ? AND account_id = ?
		ORDER BY username, contact_id`, tenantID, accountID)
	if err != nil {
		return nil, wrap(err, "list Duo users")
	}
	out, err := collect(rows, scanDuoUser)
	return out, wrap(err, "list Duo users")
}
