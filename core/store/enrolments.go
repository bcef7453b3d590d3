package store

import (
	"context"
	"time"

	"github.com/countersign/countersign/core"
)

// Interface guard.
var _ core.EnrolmentTx = (*tx)(nil)

const enrolmentCols = `id, tenant_id, client_id, device_id, sid, how, state, first_name, last_name, email,
	contact_id, integration_id, summary, details, secret_hash, attempts, created_at, expires_at, done_at`

func scanEnrolment(sc interface{ Scan(...any) error }) (core.Enrolment, error) {
	var en core.Enrolment
	err := sc.Scan(&en.ID, &en.TenantID, &en.ClientID, &en.DeviceID, &en.SID, &en.How, &en.State,
		&en.FirstName, &en.LastName, &en.Email, &en.ContactID, &en.IntegrationID, &en.Summary, &en.Details,
		&en.SecretHash, &en.Attempts, tcol(&en.CreatedAt), tcol(&en.ExpiresAt), tcol(&en.DoneAt))
	return en, err
}

// CreateEnrolment implements core.EnrolmentTx; an empty en.ID gets a fresh id.
func (t *tx) CreateEnrolment(ctx context.Context, en *core.Enrolment) error {
	newID(&en.ID, "enr")
	normTimes(&en.CreatedAt, &en.ExpiresAt, &en.DoneAt)
	_, err := t.exec(ctx, `INSERT INTO agent_enrolments (`+enrolmentCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		en.ID, en.TenantID, en.ClientID, en.DeviceID, en.SID, string(en.How), string(en.State),
		en.FirstName, en.LastName, en.Email, en.ContactID, en.IntegrationID, en.Summary, en.Details,
		en.SecretHash, en.Attempts, en.CreatedAt, en.ExpiresAt, en.DoneAt)
	return wrap(err, "create enrolment")
}

// EnrolmentBySecret implements core.EnrolmentTx.
func (t *tx) EnrolmentBySecret(ctx context.Context, hash []byte) (core.Enrolment, error) {
	en, err := scanEnrolment(t.queryRow(ctx, `SELECT `+enrolmentCols+` FROM agent_enrolments WHERE secret_hash = ?`, hash))
	return en, wrap(err, "find enrolment")
}

// Enrolment implements core.EnrolmentTx.
func (t *tx) Enrolment(ctx context.Context, tenantID, id string) (core.Enrolment, error) {
	en, err := scanEnrolment(t.queryRow(ctx, `SELECT `+enrolmentCols+` FROM agent_enrolments WHERE tenant_id = ? AND id = ?`,
		tenantID, id))
	return en, wrap(err, "get enrolment %s", id)
}

// UserEnrolments implements core.EnrolmentTx.
func (t *tx) UserEnrolments(ctx context.Context, tenantID, clientID, sid string, since time.Time) ([]core.Enrolment, error) {
	rows, err := t.query(ctx, `SELECT `+enrolmentCols+` FROM agent_enrolments
		WHERE tenant_id = ? AND client_id = ? AND sid = ? AND created_at >= ?
		ORDER BY created_at DESC, id DESC`, tenantID, clientID, sid, since)
	if err != nil {
		return nil, wrap(err, "list enrolments of user")
	}
	out, err := collect(rows, scanEnrolment)
	return out, wrap(err, "list enrolments of user")
}

// UpdateEnrolment implements core.EnrolmentTx.
func (t *tx) UpdateEnrolment(ctx context.Context, en *core.Enrolment) error {
	normTimes(&en.DoneAt)
	res, err := t.exec(ctx, `UPDATE agent_enrolments SET state = ?, contact_id = ?, attempts = ?, done_at = ?
		WHERE tenant_id = ? AND id = ?`, string(en.State), en.ContactID, en.Attempts, en.DoneAt, en.TenantID, en.ID)
	if err != nil {
		return wrap(err, "update enrolment %s", en.ID)
	}
	return mustAffect(res, "update enrolment %s", en.ID)
}
