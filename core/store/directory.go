package store

import (
	"context"
	"strings"

	"github.com/countersign/countersign/core"
)

// Interface guard.
var _ core.DirectoryTx = (*tx)(nil)

const directoryUserCols = `tenant_id, client_id, guid, sid, device_id, dn, sam_account_name, upn, given_name, surname,
	display_name, mail, proxy_addresses, mobile, phone, mobile_e164, phone_e164, enabled, locked, password_last_set,
	must_change_password, password_never_expires, password_expires_at, usn_changed, synced_at`

func scanDirectoryUser(sc interface{ Scan(...any) error }) (core.DirectoryUser, error) {
	var (
		u       core.DirectoryUser
		proxies string
	)
	err := sc.Scan(&u.TenantID, &u.ClientID, &u.GUID, &u.SID, &u.DeviceID, &u.DN, &u.SAMAccountName, &u.UPN,
		&u.GivenName, &u.Surname, &u.DisplayName, &u.Mail, &proxies, &u.Mobile, &u.Phone, &u.MobileE164,
		&u.PhoneE164, &u.Enabled, &u.Locked, tcol(&u.PasswordLastSet), &u.MustChangePassword,
		&u.PasswordNeverExpires, tcol(&u.PasswordExpiresAt), &u.USNChanged, tcol(&u.SyncedAt))
	if proxies != "" {
		u.ProxyAddresses = strings.Split(proxies, "\n")
	}
	return u, err
}

// PutDirectoryUser implements core.DirectoryTx.
func (t *tx) PutDirectoryUser(ctx context.Context, u *core.DirectoryUser) error {
	normTimes(&u.PasswordLastSet, &u.PasswordExpiresAt, &u.SyncedAt)
	for _, p := range u.ProxyAddresses {
		if strings.Contains(p, "\n") {
			return wrap(core.ErrInvalid, "proxy address with a line break")
		}
	}
	_, err := t.exec(ctx, `INSERT INTO directory_users (`+directoryUserCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, client_id, guid) DO UPDATE SET sid = excluded.sid, device_id = excluded.device_id,
			dn = excluded.dn, sam_account_name = excluded.sam_account_name, upn = excluded.upn,
			given_name = excluded.given_name, surname = excluded.surname, display_name = excluded.display_name,
			mail = excluded.mail, proxy_addresses = excluded.proxy_addresses, mobile = excluded.mobile,
			phone = excluded.phone, mobile_e164 = excluded.mobile_e164, phone_e164 = excluded.phone_e164,
			enabled = excluded.enabled, locked = excluded.locked, password_last_set = excluded.password_last_set,
			must_change_password = excluded.must_change_password,
			password_never_expires = excluded.password_never_expires,
			password_expires_at = excluded.password_expires_at, usn_changed = excluded.usn_changed,
			synced_at = excluded.synced_at`,
		u.TenantID, u.ClientID, u.GUID, u.SID, u.DeviceID, u.DN, u.SAMAccountName, u.UPN, u.GivenName, u.Surname,
		u.DisplayName, u.Mail, strings.Join(u.ProxyAddresses, "\n"), u.Mobile, u.Phone, u.MobileE164, u.PhoneE164,
		u.Enabled, u.Locked, u.PasswordLastSet, u.MustChangePassword, u.PasswordNeverExpires, u.PasswordExpiresAt,
		u.USNChanged, u.SyncedAt)
	return wrap(err, "store directory user %s", u.GUID)
}

// DeleteDirectoryUser implements core.DirectoryTx.
func (t *tx) DeleteDirectoryUser(ctx context.Context, tenantID, clientID, guid string) error {
	_, err := t.exec(ctx, `DELETE FROM directory_users WHERE tenant_id = ? AND client_id = ? AND guid = ?`, tenantID, clientID, guid)
	if err != nil {
		return wrap(err, "delete directory user %s", guid)
	}
	_, err = t.exec(ctx, `DELETE FROM directory_match_decisions WHERE tenant_id = ? AND client_id = ? AND guid = ?`, tenantID, clientID, guid)
	if err != nil {
		return wrap(err, "delete match decisions of %s", guid)
	}
	_, err = t.exec(ctx, `DELETE FROM directory_selfserve WHERE tenant_id = ? AND client_id = ? AND guid = ?`, tenantID, clientID, guid)
	return wrap(err, "delete self-serve switch of %s", guid)
}

// DirectoryUsers implements core.DirectoryTx.
func (t *tx) DirectoryUsers(ctx context.Context, tenantID, clientID string) ([]core.DirectoryUser, error) {
	rows, err := t.query(ctx, `SELECT `+directoryUserCols+` FROM directory_users WHERE tenant_id = ? AND client_id = ?
		ORDER BY display_name, sam_account_name, guid`, tenantID, clientID)
	if err != nil {
		return nil, wrap(err, "list directory users")
	}
	out, err := collect(rows, scanDirectoryUser)
	return out, wrap(err, "list directory users")
}

// PutMatchDecision implements core.DirectoryTx. Accepting a pair drops any
// other accepted contact of the same user: a user is one person.
func (t *tx) PutMatchDecision(ctx context.Context, m *core.MatchDecision) error {
	normTimes(&m.At)
	if m.State == core.MatchAccepted {
		if _, err := t.exec(ctx, `DELETE FROM directory_match_decisions WHERE tenant_id = ? AND client_id = ? AND guid = ?
			AND state = ? AND contact_id <> ?`, m.TenantID, m.ClientID, m.GUID, string(core.MatchAccepted), m.ContactID); err != nil {
			return wrap(err, "replace accepted match of %s", m.GUID)
		}
	}
	_, err := t.exec(ctx, `INSERT INTO directory_match_decisions (tenant_id, client_id, guid, contact_id, state, made_by, made_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, client_id, guid, contact_id) DO UPDATE SET state = excluded.state,
			made_by = excluded.made_by, made_at = excluded.made_at`,
		m.TenantID, m.ClientID, m.GUID, m.ContactID, string(m.State), m.By, m.At)
	return wrap(err, "store match decision of %s", m.GUID)
}

// MatchDecisions implements core.DirectoryTx.
func (t *tx) MatchDecisions(ctx context.Context, tenantID, clientID string) ([]core.MatchDecision, error) {
	rows, err := t.query(ctx, `SELECT tenant_id, client_id, guid, contact_id, state, made_by, made_at
		FROM directory_match_decisions WHERE tenant_id = ? AND client_id = ? ORDER BY guid, contact_id`, tenantID, clientID)
	if err != nil {
		return nil, wrap(err, "list match decisions")
	}
	out, err := collect(rows, func(sc interface{ Scan(...any) error }) (core.MatchDecision, error) {
		var (
			m     core.MatchDecision
			state string
		)
		err := sc.Scan(&m.TenantID, &m.ClientID, &m.GUID, &m.ContactID, &state, &m.By, tcol(&m.At))
		m.State = core.MatchDecisionState(state)
		return m, err
	})
	return out, wrap(err, "list match decisions")
}

// RemoveBinding implements core.DirectoryTx.
func (t *tx) RemoveBinding(ctx context.Context, tenantID, clientID, sid, contactID string) (bool, error) {
	res, err := t.exec(ctx, `DELETE FROM bindings WHERE tenant_id = ? AND client_id = ? AND sid = ? AND contact_id = ?`,
		tenantID, clientID, sid, contactID)
	if err != nil {
		return false, wrap(err, "remove binding of %s", sid)
	}
	n, err := res.RowsAffected()
	return n > 0, wrap(err, "remove binding of %s", sid)
}
