package store

import (
	"context"
	"time"

	"github.com/countersign/countersign/core"
)

// Interface guard.
var _ core.AgentTx = (*tx)(nil)

// PutActivationKey implements core.AgentTx.
func (t *tx) PutActivationKey(ctx context.Context, k *core.ActivationKey) error {
	normTimes(&k.CreatedAt)
	_, err := t.exec(ctx, `INSERT INTO activation_keys (tenant_id, client_id, key_hash, key_sealed, created_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, client_id) DO UPDATE SET key_hash = excluded.key_hash,
			key_sealed = excluded.key_sealed, created_at = excluded.created_at`,
		k.TenantID, k.ClientID, k.Hash, k.Sealed, k.CreatedAt)
	return wrap(err, "put activation key of client %s", k.ClientID)
}

const activationKeyCols = `tenant_id, client_id, key_hash, key_sealed, created_at`

func scanActivationKey(sc interface{ Scan(...any) error }) (core.ActivationKey, error) {
	var k core.ActivationKey
	err := sc.Scan(&k.TenantID, &k.ClientID, &k.Hash, &k.Sealed, tcol(&k.CreatedAt))
	return k, err
}

// ActivationKey implements core.AgentTx.
func (t *tx) ActivationKey(ctx context.Context, tenantID, clientID string) (core.ActivationKey, error) {
	k, err := scanActivationKey(t.queryRow(ctx, `SELECT `+activationKeyCols+` FROM activation_keys
		WHERE tenant_id = ? AND client_id = ?`, tenantID, clientID))
	return k, wrap(err, "get activation key of client %s", clientID)
}

// ActivationKeyByHash implements core.AgentTx.
func (t *tx) ActivationKeyByHash(ctx context.Context, hash []byte) (core.ActivationKey, error) {
	k, err := scanActivationKey(t.queryRow(ctx, `SELECT `+activationKeyCols+` FROM activation_keys WHERE key_hash = ?`, hash))
	return k, wrap(err, "find activation key")
}

const deviceCols = `id, tenant_id, client_id, name, os, domain, agent_version, credential_hash, created_at, last_seen_at, revoked_at`

func scanDevice(sc interface{ Scan(...any) error }) (core.Device, error) {
	var d core.Device
	err := sc.Scan(&d.ID, &d.TenantID, &d.ClientID, &d.Name, &d.OS, &d.Domain, &d.AgentVersion, &d.CredentialHash,
		tcol(&d.CreatedAt), tcol(&d.LastSeenAt), tcol(&d.RevokedAt))
	return d, err
}

// CreateDevice implements core.AgentTx; an empty d.ID gets a fresh id.
func (t *tx) CreateDevice(ctx context.Context, d *core.Device) error {
	newID(&d.ID, "dev")
	normTimes(&d.CreatedAt, &d.LastSeenAt, &d.RevokedAt)
	_, err := t.exec(ctx, `INSERT INTO devices (`+deviceCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.TenantID, d.ClientID, d.Name, d.OS, d.Domain, d.AgentVersion, d.CredentialHash,
		d.CreatedAt, d.LastSeenAt, d.RevokedAt)
	return wrap(err, "create device")
}

// Device implements core.AgentTx.
func (t *tx) Device(ctx context.Context, tenantID, id string) (core.Device, error) {
	d, err := scanDevice(t.queryRow(ctx, `SELECT `+deviceCols+` FROM devices WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return d, wrap(err, "get device %s", id)
}

// DeviceForAuth implements core.AgentTx.
func (t *tx) DeviceForAuth(ctx context.Context, id string) (core.Device, error) {
	d, err := scanDevice(t.queryRow(ctx, `SELECT `+deviceCols+` FROM devices WHERE id = ?`, id))
	return d, wrap(err, "find device")
}

// UpdateDevice implements core.AgentTx.
func (t *tx) UpdateDevice(ctx context.Context, d *core.Device) error {
	normTimes(&d.LastSeenAt, &d.RevokedAt)
	res, err := t.exec(ctx, `UPDATE devices SET name = ?, os = ?, domain = ?, agent_version = ?, last_seen_at = ?, revoked_at = ?
		WHERE tenant_id = ? AND id = ?`,
		d.Name, d.OS, d.Domain, d.AgentVersion, d.LastSeenAt, d.RevokedAt, d.TenantID, d.ID)
	if err != nil {
		return wrap(err, "update device %s", d.ID)
	}
	return mustAffect(res, "update device %s", d.ID)
}

// TouchDevice implements core.AgentTx.
func (t *tx) TouchDevice(ctx context.Context, tenantID, id string, at time.Time) error {
	res, err := t.exec(ctx, `UPDATE devices SET last_seen_at = ? WHERE tenant_id = ? AND id = ?`, at, tenantID, id)
	if err != nil {
		return wrap(err, "touch device %s", id)
	}
	return mustAffect(res, "touch device %s", id)
}

// ListDevices implements core.AgentTx.
func (t *tx) ListDevices(ctx context.Context, tenantID, clientID string) ([]core.Device, error) {
	q := `SELECT ` + deviceCols + ` FROM devices WHERE tenant_id = ?`
	args := []any{tenantID}
	if clientID != "" {
		q += ` AND client_id = ?`
		args = append(args, clientID)
	}
	rows, err := t.query(ctx, q+` ORDER BY name, id`, args...)
	if err != nil {
		return nil, wrap(err, "list devices")
	}
	out, err := collect(rows, scanDevice)
	return out, wrap(err, "list devices")
}

const deviceUserCols = `tenant_id, device_id, sid, account, upn, display_name, local, logged_on, seen_at`

func scanDeviceUser(sc interface{ Scan(...any) error }) (core.DeviceUser, error) {
	var u core.DeviceUser
	err := sc.Scan(&u.TenantID, &u.DeviceID, &u.SID, &u.Account, &u.UPN, &u.DisplayName, &u.Local, &u.LoggedOn, tcol(&u.SeenAt))
	return u, err
}

// PutDeviceUsers implements core.AgentTx.
func (t *tx) PutDeviceUsers(ctx context.Context, tenantID, deviceID string, users []core.DeviceUser) error {
	if _, err := t.exec(ctx, `DELETE FROM device_users WHERE tenant_id = ? AND device_id = ?`, tenantID, deviceID); err != nil {
		return wrap(err, "replace users of device %s", deviceID)
	}
	for i := range users {
		u := &users[i]
		u.TenantID, u.DeviceID = tenantID, deviceID
		normTimes(&u.SeenAt)
		_, err := t.exec(ctx, `INSERT INTO device_users (`+deviceUserCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			u.TenantID, u.DeviceID, u.SID, u.Account, u.UPN, u.DisplayName, u.Local, u.LoggedOn, u.SeenAt)
		if err != nil {
			return wrap(err, "store user %s of device %s", u.SID, deviceID)
		}
	}
	return nil
}

// DeviceUsers implements core.AgentTx, ordered by account.
func (t *tx) DeviceUsers(ctx context.Context, tenantID, deviceID string) ([]core.DeviceUser, error) {
	rows, err := t.query(ctx, `SELECT `+deviceUserCols+` FROM device_users WHERE tenant_id = ? AND device_id = ?
		ORDER BY account, sid`, tenantID, deviceID)
	if err != nil {
		return nil, wrap(err, "list users of device %s", deviceID)
	}
	out, err := collect(rows, scanDeviceUser)
	return out, wrap(err, "list users of device %s", deviceID)
}

// DevicesOfSID implements core.AgentTx.
func (t *tx) DevicesOfSID(ctx context.Context, tenantID, sid string) ([]core.DeviceUser, error) {
	rows, err := t.query(ctx, `SELECT `+deviceUserCols+` FROM device_users WHERE tenant_id = ? AND sid = ?
		ORDER BY logged_on DESC, seen_at DESC`, tenantID, sid)
	if err != nil {
		return nil, wrap(err, "list devices of user")
	}
	out, err := collect(rows, scanDeviceUser)
	return out, wrap(err, "list devices of user")
}

const bindingCols = `tenant_id, client_id, sid, contact_id, how, state, made_by, created_at, confirmed_at`

func scanBinding(sc interface{ Scan(...any) error }) (core.Binding, error) {
	var b core.Binding
	err := sc.Scan(&b.TenantID, &b.ClientID, &b.SID, &b.ContactID, &b.How, &b.State, &b.By,
		tcol(&b.CreatedAt), tcol(&b.ConfirmedAt))
	return b, err
}

// PutBinding implements core.AgentTx.
func (t *tx) PutBinding(ctx context.Context, b *core.Binding) error {
	normTimes(&b.CreatedAt, &b.ConfirmedAt)
	_, err := t.exec(ctx, `INSERT INTO bindings (`+bindingCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, client_id, sid) DO UPDATE SET contact_id = excluded.contact_id, how = excluded.how,
			state = excluded.state, made_by = excluded.made_by, created_at = excluded.created_at,
			confirmed_at = excluded.confirmed_at`,
		b.TenantID, b.ClientID, b.SID, b.ContactID, string(b.How), string(b.State), b.By, b.CreatedAt, b.ConfirmedAt)
	return wrap(err, "put binding")
}

// Binding implements core.AgentTx.
func (t *tx) Binding(ctx context.Context, tenantID, clientID, sid string) (core.Binding, error) {
	b, err := scanBinding(t.queryRow(ctx, `SELECT `+bindingCols+` FROM bindings WHERE tenant_id = ? AND client_id = ? AND sid = ?`,
		tenantID, clientID, sid))
	return b, wrap(err, "get binding")
}

// BindingsOfContact implements core.AgentTx.
func (t *tx) BindingsOfContact(ctx context.Context, tenantID, contactID string) ([]core.Binding, error) {
	rows, err := t.query(ctx, `SELECT `+bindingCols+` FROM bindings WHERE tenant_id = ? AND contact_id = ? AND state = ?
		ORDER BY confirmed_at DESC`, tenantID, contactID, string(core.BindingConfirmed))
	if err != nil {
		return nil, wrap(err, "list bindings of contact %s", contactID)
	}
	out, err := collect(rows, scanBinding)
	return out, wrap(err, "list bindings of contact %s", contactID)
}

const agentTaskCols = `id, tenant_id, device_id, sid, kind, payload, created_at, expires_at, delivered_at`

func scanAgentTask(sc interface{ Scan(...any) error }) (core.AgentTask, error) {
	var a core.AgentTask
	err := sc.Scan(&a.ID, &a.TenantID, &a.DeviceID, &a.SID, &a.Kind, &a.Payload,
		tcol(&a.CreatedAt), tcol(&a.ExpiresAt), tcol(&a.DeliveredAt))
	return a, err
}

// CreateAgentTask implements core.AgentTx; an empty a.ID gets a fresh id.
func (t *tx) CreateAgentTask(ctx context.Context, a *core.AgentTask) error {
	newID(&a.ID, "tsk")
	normTimes(&a.CreatedAt, &a.ExpiresAt, &a.DeliveredAt)
	_, err := t.exec(ctx, `INSERT INTO agent_tasks (`+agentTaskCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.TenantID, a.DeviceID, a.SID, string(a.Kind), a.Payload, a.CreatedAt, a.ExpiresAt, a.DeliveredAt)
	return wrap(err, "create agent task")
}

// PendingAgentTasks implements core.AgentTx.
func (t *tx) PendingAgentTasks(ctx context.Context, tenantID, deviceID string, now time.Time) ([]core.AgentTask, error) {
	rows, err := t.query(ctx, `SELECT `+agentTaskCols+` FROM agent_tasks
		WHERE tenant_id = ? AND device_id = ? AND delivered_at IS NULL AND expires_at > ?
		ORDER BY created_at, id`, tenantID, deviceID, now)
	if err != nil {
		return nil, wrap(err, "list tasks of device %s", deviceID)
	}
	out, err := collect(rows, scanAgentTask)
	return out, wrap(err, "list tasks of device %s", deviceID)
}

// MarkAgentTaskDelivered implements core.AgentTx.
func (t *tx) MarkAgentTaskDelivered(ctx context.Context, tenantID, id string, at time.Time) error {
	res, err := t.exec(ctx, `UPDATE agent_tasks SET delivered_at = ? WHERE tenant_id = ? AND id = ? AND delivered_at IS NULL`, normTime(at), tenantID, id)
	if err != nil {
		return wrap(err, "mark task %s delivered", id)
	}
	return mustAffect(res, "mark task %s delivered", id)
}
