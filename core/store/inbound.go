package store

import (
	"context"

	"github.com/countersign/countersign/core"
)

const inboundCols = `id, tenant_id, integration_id, event_key, type, action, ref, status, outcome, attempts, received_at, done_at`

func scanInbound(sc interface{ Scan(...any) error }) (core.InboundEvent, error) {
	var (
		ev     core.InboundEvent
		status string
	)
	err := sc.Scan(&ev.ID, &ev.TenantID, &ev.IntegrationID, &ev.Key, &ev.Type, &ev.Action, &ev.Ref, &status,
		&ev.Outcome, &ev.Attempts, tcol(&ev.ReceivedAt), tcol(&ev.DoneAt))
	ev.Status = core.InboundStatus(status)
	return ev, err
}

// RecordInboundEvent implements core.Tx. ON CONFLICT DO NOTHING keeps a
// duplicate from aborting a PostgreSQL transaction.
func (t *tx) RecordInboundEvent(ctx context.Context, ev *core.InboundEvent) (bool, error) {
	newID(&ev.ID, "iev")
	if ev.Status == "" {
		ev.Status = core.InboundReceived
	}
	normTimes(&ev.ReceivedAt, &ev.DoneAt)
	res, err := t.exec(ctx, `INSERT INTO inbound_events (`+inboundCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, integration_id, event_key) DO NOTHING`,
		ev.ID, ev.TenantID, ev.IntegrationID, ev.Key, ev.Type, ev.Action, ev.Ref, string(ev.Status), ev.Outcome,
		ev.Attempts, ev.ReceivedAt, ev.DoneAt)
	if err != nil {
		return false, wrap(err, "record inbound event")
	}
	n, err := res.RowsAffected()
	return n == 1, wrap(err, "record inbound event")
}

// UpdateInboundEvent implements core.Tx.
func (t *tx) UpdateInboundEvent(ctx context.Context, ev *core.InboundEvent) error {
	normTimes(&ev.DoneAt)
	res, err := t.exec(ctx, `UPDATE inbound_events SET status = ?, outcome = ?, attempts = ?, done_at = ? WHERE tenant_id = ? AND id = ?`,
		string(ev.Status), ev.Outcome, ev.Attempts, ev.DoneAt, ev.TenantID, ev.ID)
	if err != nil {
		return wrap(err, "update inbound event %s", ev.ID)
	}
	return mustAffect(res, "update inbound event %s", ev.ID)
}

// InboundEvent implements core.Tx.
func (t *tx) InboundEvent(ctx context.Context, tenantID, id string) (core.InboundEvent, error) {
	ev, err := scanInbound(t.queryRow(ctx, `SELECT `+inboundCols+` FROM inbound_events WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return ev, wrap(err, "get inbound event %s", id)
}

// ListInboundEvents implements core.Tx; limit <= 0 means no limit.
func (t *tx) ListInboundEvents(ctx context.Context, tenantID, integrationID string, limit int) ([]core.InboundEvent, error) {
	q := `SELECT ` + inboundCols + ` FROM inbound_events WHERE tenant_id = ? AND integration_id = ? ORDER BY received_at DESC, id DESC`
	args := []any{tenantID, integrationID}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, wrap(err, "list inbound events")
	}
	out, err := collect(rows, scanInbound)
	return out, wrap(err, "list inbound events")
}
