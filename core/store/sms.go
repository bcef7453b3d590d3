package store

import (
	"context"
	"errors"

	"github.com/countersign/countersign/core"
)

var _ core.SMSTx = (*tx)(nil)

// PutChannels implements core.SMSTx: one row per tenant, replaced.
func (t *tx) PutChannels(ctx context.Context, row *core.ChannelsRow) error {
	normTimes(&row.UpdatedAt)
	delete(t.channels, row.TenantID)
	_, err := t.exec(ctx, `INSERT INTO tenant_channels (tenant_id, sms_number, sealed, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET sms_number = excluded.sms_number, sealed = excluded.sealed, updated_at = excluded.updated_at`,
		row.TenantID, row.SMSNumber, row.Sealed, row.UpdatedAt)
	return wrap(err, "put channels of %s", row.TenantID)
}

// Channels implements core.SMSTx. A transaction reads the row (or its
// absence) once; later reads are answered from memory until it puts one.
func (t *tx) Channels(ctx context.Context, tenantID string) (core.ChannelsRow, error) {
	if r, ok := t.channels[tenantID]; ok {
		return r.row, r.err
	}
	row := core.ChannelsRow{TenantID: tenantID}
	err := t.queryRow(ctx, `SELECT sms_number, sealed, updated_at FROM tenant_channels WHERE tenant_id = ?`, tenantID).
		Scan(&row.SMSNumber, &row.Sealed, tcol(&row.UpdatedAt))
	err = wrap(err, "get channels of %s", tenantID)
	if err == nil || errors.Is(err, core.ErrNotFound) {
		if t.channels == nil {
			t.channels = map[string]channelsRead{}
		}
		t.channels[tenantID] = channelsRead{row, err}
	}
	return row, err
}

// TenantBySMSNumber implements core.SMSTx.
func (t *tx) TenantBySMSNumber(ctx context.Context, number string) (string, error) {
	var id string
	err := t.queryRow(ctx, `SELECT tenant_id FROM tenant_channels WHERE sms_number = ? AND sms_number <> ''`, number).Scan(&id)
	return id, wrap(err, "tenant by sms number")
}

// RecordInboundSMS implements core.SMSTx. ON CONFLICT DO NOTHING keeps a
// replay from aborting a PostgreSQL transaction.
func (t *tx) RecordInboundSMS(ctx context.Context, m *core.InboundSMSRecord) (bool, error) {
	normTimes(&m.ReceivedAt)
	res, err := t.exec(ctx, `INSERT INTO sms_inbound (message_sid, tenant_id, from_number, to_number, body, keyword, outcome, received_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (message_sid) DO NOTHING`,
		m.MessageSID, m.TenantID, m.From, m.To, m.Body, string(m.Keyword), m.Outcome, m.ReceivedAt)
	if err != nil {
		return false, wrap(err, "record inbound sms")
	}
	n, err := res.RowsAffected()
	return n == 1, wrap(err, "record inbound sms")
}

// SetInboundSMSOutcome implements core.SMSTx.
func (t *tx) SetInboundSMSOutcome(ctx context.Context, tenantID, messageSID, outcome string) error {
	res, err := t.exec(ctx, `UPDATE sms_inbound SET outcome = ? WHERE tenant_id = ? AND message_sid = ?`, outcome, tenantID, messageSID)
	if err != nil {
		return wrap(err, "set inbound sms outcome")
	}
	return mustAffect(res, "set inbound sms outcome %s", messageSID)
}

// InboundSMS implements core.SMSTx.
func (t *tx) InboundSMS(ctx context.Context, tenantID, messageSID string) (core.InboundSMSRecord, error) {
	var (
		m  core.InboundSMSRecord
		kw string
	)
	err := t.queryRow(ctx, `SELECT message_sid, tenant_id, from_number, to_number, body, keyword, outcome, received_at
		FROM sms_inbound WHERE tenant_id = ? AND message_sid = ?`, tenantID, messageSID).
		Scan(&m.MessageSID, &m.TenantID, &m.From, &m.To, &m.Body, &kw, &m.Outcome, tcol(&m.ReceivedAt))
	m.Keyword = core.SMSKeyword(kw)
	return m, wrap(err, "get inbound sms %s", messageSID)
}

// PutSMSOptOut implements core.SMSTx.
func (t *tx) PutSMSOptOut(ctx context.Context, o *core.SMSOptOut) error {
	normTimes(&o.ChangedAt)
	_, err := t.exec(ctx, `INSERT INTO sms_optouts (tenant_id, phone, opted_out, keyword, changed_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, phone) DO UPDATE SET opted_out = excluded.opted_out, keyword = excluded.keyword, changed_at = excluded.changed_at`,
		o.TenantID, o.Phone, o.OptedOut, o.Keyword, o.ChangedAt)
	return wrap(err, "put sms opt-out")
}

// SMSOptOut implements core.SMSTx.
func (t *tx) SMSOptOut(ctx context.Context, tenantID, phone string) (core.SMSOptOut, error) {
	o := core.SMSOptOut{TenantID: tenantID, Phone: phone}
	err := t.queryRow(ctx, `SELECT opted_out, keyword, changed_at FROM sms_optouts WHERE tenant_id = ? AND phone = ?`, tenantID, phone).
		Scan(&o.OptedOut, &o.Keyword, tcol(&o.ChangedAt))
	return o, wrap(err, "get sms opt-out")
}
