package store

import (
	"context"
	"time"

	"github.com/countersign/countersign/core"
)

const channelIssueCols = `tenant_id, channel, code, vendor_message, fix, since, last_seen, next_probe_at, probes`

func scanChannelIssue(sc interface{ Scan(...any) error }) (core.ChannelIssue, error) {
	var is core.ChannelIssue
	err := sc.Scan(&is.TenantID, &is.Channel, &is.Code, &is.VendorMessage, &is.Fix,
		tcol(&is.Since), tcol(&is.LastSeen), tcol(&is.NextProbeAt), &is.Probes)
	return is, err
}

// ChannelIssue implements core.Tx.
func (t *tx) ChannelIssue(ctx context.Context, tenantID, channel string) (core.ChannelIssue, error) {
	is, err := scanChannelIssue(t.queryRow(ctx, `SELECT `+channelIssueCols+` FROM channel_issues
		WHERE tenant_id = ? AND channel = ?`, tenantID, channel))
	return is, wrap(err, "get channel issue %s", channel)
}

// PutChannelIssue implements core.Tx.
func (t *tx) PutChannelIssue(ctx context.Context, is *core.ChannelIssue) error {
	normTimes(&is.Since, &is.LastSeen, &is.NextProbeAt)
	_, err := t.exec(ctx, `INSERT INTO channel_issues (`+channelIssueCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, channel) DO UPDATE SET code = excluded.code, vendor_message = excluded.vendor_message,
			fix = excluded.fix, since = excluded.since, last_seen = excluded.last_seen,
			next_probe_at = excluded.next_probe_at, probes = excluded.probes`,
		is.TenantID, is.Channel, is.Code, is.VendorMessage, is.Fix, is.Since, is.LastSeen, is.NextProbeAt, is.Probes)
	return wrap(err, "put channel issue %s", is.Channel)
}

// DeleteChannelIssue implements core.Tx.
func (t *tx) DeleteChannelIssue(ctx context.Context, tenantID, channel string) error {
	_, err := t.exec(ctx, `DELETE FROM channel_issues WHERE tenant_id = ? AND channel = ?`, tenantID, channel)
	return wrap(err, "delete channel issue %s", channel)
}

// ListChannelIssues implements core.Tx.
func (t *tx) ListChannelIssues(ctx context.Context, tenantID string) ([]core.ChannelIssue, error) {
	rows, err := t.query(ctx, `SELECT `+channelIssueCols+`,
			(SELECT COUNT(*) FROM outbox o WHERE o.tenant_id = channel_issues.tenant_id
				AND o.channel = channel_issues.channel AND o.status = ?)
		FROM channel_issues WHERE tenant_id = ? ORDER BY since, channel`, string(core.OutboxWaiting), tenantID)
	if err != nil {
		return nil, wrap(err, "list channel issues")
	}
	out, err := collect(rows, func(sc interface{ Scan(...any) error }) (core.ChannelIssue, error) {
		var is core.ChannelIssue
		err := sc.Scan(&is.TenantID, &is.Channel, &is.Code, &is.VendorMessage, &is.Fix,
			tcol(&is.Since), tcol(&is.LastSeen), tcol(&is.NextProbeAt), &is.Probes, &is.Waiting)
		return is, err
	})
	return out, wrap(err, "list channel issues")
}

// ClaimChannelProbe implements core.Tx: one conditional UPDATE, so of two
// workers only one sees its row change.
func (t *tx) ClaimChannelProbe(ctx context.Context, tenantID, channel string, now, next time.Time) (bool, error) {
	res, err := t.exec(ctx, `UPDATE channel_issues SET next_probe_at = ?, probes = probes + 1
		WHERE tenant_id = ? AND channel = ? AND (next_probe_at IS NULL OR next_probe_at <= ?)`,
		normTime(next), tenantID, channel, normTime(now))
	if err != nil {
		return false, wrap(err, "claim channel probe %s", channel)
	}
	n, err := res.RowsAffected()
	return n == 1, wrap(err, "claim channel probe %s", channel)
}

// DueChannelIssues implements core.Tx.
func (t *tx) DueChannelIssues(ctx context.Context, before time.Time, limit int) ([]core.ChannelIssue, error) {
	rows, err := t.query(ctx, `SELECT `+channelIssueCols+` FROM channel_issues
		WHERE next_probe_at IS NULL OR next_probe_at <= ? ORDER BY next_probe_at LIMIT ?`, normTime(before), limit)
	if err != nil {
		return nil, wrap(err, "due channel issues")
	}
	out, err := collect(rows, scanChannelIssue)
	return out, wrap(err, "due channel issues")
}

// ResumeWaitingOutbox implements core.Tx.
func (t *tx) ResumeWaitingOutbox(ctx context.Context, tenantID, channel string, now time.Time) (int, error) {
	res, err := t.exec(ctx, `UPDATE outbox SET status = ?, channel = '', next_attempt_at = ?, lease_until = NULL
		WHERE tenant_id = ? AND channel = ? AND status = ?`,
		string(core.OutboxPending), normTime(now), tenantID, channel, string(core.OutboxWaiting))
	if err != nil {
		return 0, wrap(err, "resume outbox of %s", channel)
	}
	n, err := res.RowsAffected()
	return int(n), wrap(err, "resume outbox of %s", channel)
}
