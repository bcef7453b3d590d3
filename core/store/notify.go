package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/countersign/countersign/core"
)

// Interface guard.
var _ core.NotifyTx = (*tx)(nil)

const notifyGroupCols = `id, tenant_id, name, events, created_at, updated_at`

func scanNotifyGroup(sc interface{ Scan(...any) error }) (core.NotifyGroup, error) {
	var (
		g      core.NotifyGroup
		events string
	)
	if err := sc.Scan(&g.ID, &g.TenantID, &g.Name, &events, tcol(&g.CreatedAt), tcol(&g.UpdatedAt)); err != nil {
		return g, err
	}
	if err := json.Unmarshal([]byte(events), &g.Events); err != nil {
		return g, fmt.Errorf("events: %w", err)
	}
	return g, nil
}

// CreateNotifyGroup implements core.NotifyTx; an empty g.ID gets a fresh id.
func (t *tx) CreateNotifyGroup(ctx context.Context, g *core.NotifyGroup) error {
	newID(&g.ID, "ngr")
	normTimes(&g.CreatedAt, &g.UpdatedAt)
	events, err := json.Marshal(nonNil(g.Events))
	if err != nil {
		return wrap(err, "create notification group")
	}
	_, err = t.exec(ctx, `INSERT INTO notify_groups (`+notifyGroupCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		g.ID, g.TenantID, g.Name, string(events), g.CreatedAt, g.UpdatedAt)
	return wrap(err, "create notification group %q", g.Name)
}

// UpdateNotifyGroup implements core.NotifyTx.
func (t *tx) UpdateNotifyGroup(ctx context.Context, g *core.NotifyGroup) error {
	normTimes(&g.UpdatedAt)
	events, err := json.Marshal(nonNil(g.Events))
	if err != nil {
		return wrap(err, "update notification group %s", g.ID)
	}
	res, err := t.exec(ctx, `UPDATE notify_groups SET name = ?, events = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`,
		g.Name, string(events), g.UpdatedAt, g.TenantID, g.ID)
	if err != nil {
		return wrap(err, "update notification group %s", g.ID)
	}
	return mustAffect(res, "update notification group %s", g.ID)
}

// NotifyGroup implements core.NotifyTx.
func (t *tx) NotifyGroup(ctx context.Context, tenantID, id string) (core.NotifyGroup, error) {
	g, err := scanNotifyGroup(t.queryRow(ctx, `SELECT `+notifyGroupCols+` FROM notify_groups WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return g, wrap(err, "get notification group %s", id)
}

// ListNotifyGroups implements core.NotifyTx.
func (t *tx) ListNotifyGroups(ctx context.Context, tenantID string) ([]core.NotifyGroup, error) {
	rows, err := t.query(ctx, `SELECT `+notifyGroupCols+` FROM notify_groups WHERE tenant_id = ? ORDER BY name, id`, tenantID)
	if err != nil {
		return nil, wrap(err, "list notification groups")
	}
	out, err := collect(rows, scanNotifyGroup)
	return out, wrap(err, "list notification groups")
}

// DeleteNotifyGroup implements core.NotifyTx. The users go with the group
// (their foreign key cascades), deleted here as well so that SQLite
// connections without foreign keys behave the same.
func (t *tx) DeleteNotifyGroup(ctx context.Context, tenantID, id string) error {
	if _, err := t.exec(ctx, `DELETE FROM notify_users WHERE tenant_id = ? AND group_id = ?`, tenantID, id); err != nil {
		return wrap(err, "delete users of notification group %s", id)
	}
	res, err := t.exec(ctx, `DELETE FROM notify_groups WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err != nil {
		return wrap(err, "delete notification group %s", id)
	}
	return mustAffect(res, "delete notification group %s", id)
}

const notifyUserCols = `id, tenant_id, group_id, name, email, sms, voice, by_email, by_sms, by_voice, source, schedule, created_at, updated_at`

func scanNotifyUser(sc interface{ Scan(...any) error }) (core.NotifyUser, error) {
	var (
		u        core.NotifyUser
		schedule string
	)
	if err := sc.Scan(&u.ID, &u.TenantID, &u.GroupID, &u.Name, &u.Email, &u.SMS, &u.Voice, &u.ByEmail, &u.BySMS, &u.ByVoice,
		&u.Source, &schedule, tcol(&u.CreatedAt), tcol(&u.UpdatedAt)); err != nil {
		return u, err
	}
	if err := json.Unmarshal([]byte(schedule), &u.Schedule); err != nil {
		return u, fmt.Errorf("schedule: %w", err)
	}
	return u, nil
}

// CreateNotifyUser implements core.NotifyTx; an empty u.ID gets a fresh id.
func (t *tx) CreateNotifyUser(ctx context.Context, u *core.NotifyUser) error {
	newID(&u.ID, "nus")
	normTimes(&u.CreatedAt, &u.UpdatedAt)
	schedule, err := json.Marshal(nonNil(u.Schedule))
	if err != nil {
		return wrap(err, "create notification user")
	}
	_, err = t.exec(ctx, `INSERT INTO notify_users (`+notifyUserCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.TenantID, u.GroupID, u.Name, u.Email, u.SMS, u.Voice, u.ByEmail, u.BySMS, u.ByVoice, u.Source, string(schedule),
		u.CreatedAt, u.UpdatedAt)
	return wrap(err, "create notification user in group %s", u.GroupID)
}

// UpdateNotifyUser implements core.NotifyTx.
func (t *tx) UpdateNotifyUser(ctx context.Context, u *core.NotifyUser) error {
	normTimes(&u.UpdatedAt)
	schedule, err := json.Marshal(nonNil(u.Schedule))
	if err != nil {
		return wrap(err, "update notification user %s", u.ID)
	}
	res, err := t.exec(ctx, `UPDATE notify_users SET name = ?, email = ?, sms = ?, voice = ?, by_email = ?, by_sms = ?, by_voice = ?,
		schedule = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`,
		u.Name, u.Email, u.SMS, u.Voice, u.ByEmail, u.BySMS, u.ByVoice, string(schedule), u.UpdatedAt, u.TenantID, u.ID)
	if err != nil {
		return wrap(err, "update notification user %s", u.ID)
	}
	return mustAffect(res, "update notification user %s", u.ID)
}

// NotifyUser implements core.NotifyTx.
func (t *tx) NotifyUser(ctx context.Context, tenantID, id string) (core.NotifyUser, error) {
	u, err := scanNotifyUser(t.queryRow(ctx, `SELECT `+notifyUserCols+` FROM notify_users WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return u, wrap(err, "get notification user %s", id)
}

// ListNotifyUsers implements core.NotifyTx.
func (t *tx) ListNotifyUsers(ctx context.Context, tenantID, groupID string) ([]core.NotifyUser, error) {
	q := `SELECT ` + notifyUserCols + ` FROM notify_users WHERE tenant_id = ?`
	args := []any{tenantID}
	if groupID != "" {
		q += ` AND group_id = ?`
		args = append(args, groupID)
	}
	rows, err := t.query(ctx, q+` ORDER BY name, id`, args...)
	if err != nil {
		return nil, wrap(err, "list notification users")
	}
	out, err := collect(rows, scanNotifyUser)
	return out, wrap(err, "list notification users")
}

// DeleteNotifyUser implements core.NotifyTx.
func (t *tx) DeleteNotifyUser(ctx context.Context, tenantID, id string) error {
	res, err := t.exec(ctx, `DELETE FROM notify_users WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err != nil {
		return wrap(err, "delete notification user %s", id)
	}
	return mustAffect(res, "delete notification user %s", id)
}

// NotifyTimeZone implements core.NotifyTx.
func (t *tx) NotifyTimeZone(ctx context.Context, tenantID string) (string, error) {
	var zone string
	err := t.queryRow(ctx, `SELECT time_zone FROM notify_settings WHERE tenant_id = ?`, tenantID).Scan(&zone)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return zone, wrap(err, "get on-call time zone")
}

// SetNotifyTimeZone implements core.NotifyTx.
func (t *tx) SetNotifyTimeZone(ctx context.Context, tenantID, zone string) error {
	_, err := t.exec(ctx, `INSERT INTO notify_settings (tenant_id, time_zone) VALUES (?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET time_zone = excluded.time_zone`, tenantID, zone)
	return wrap(err, "set on-call time zone")
}

// nonNil returns s, or an empty slice for nil, so it is stored as [] not null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
