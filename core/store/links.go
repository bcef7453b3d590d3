package store

import (
	"context"
	"time"

	"github.com/countersign/countersign/core"
)

// LinkTechnician implements core.Tx: it records (or moves) the link from a
// PSA member of an integration to a technician.
func (t *tx) LinkTechnician(ctx context.Context, tenantID, integrationID, memberRef, technicianID string, at time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO technician_links (tenant_id, integration_id, member_ref, technician_id, created_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, integration_id, member_ref) DO UPDATE SET technician_id = excluded.technician_id, created_at = excluded.created_at`,
		tenantID, integrationID, memberRef, technicianID, at.UTC())
	return wrap(err, "link member %s to technician %s", memberRef, technicianID)
}

// LinkedTechnician implements core.Tx.
func (t *tx) LinkedTechnician(ctx context.Context, tenantID, integrationID, memberRef string) (core.Technician, error) {
	var id string
	err := t.queryRow(ctx, `SELECT technician_id FROM technician_links WHERE tenant_id = ? AND integration_id = ? AND member_ref = ?`,
		tenantID, integrationID, memberRef).Scan(&id)
	if err != nil {
		return core.Technician{}, wrap(err, "find the technician of member %s", memberRef)
	}
	return t.Technician(ctx, tenantID, id)
}

// UseLinkNonce implements core.Tx. ON CONFLICT DO NOTHING rather than a
// unique violation, which would abort the whole PostgreSQL transaction.
func (t *tx) UseLinkNonce(ctx context.Context, tenantID, verificationID string, nonceHash []byte, at time.Time) error {
	res, err := t.exec(ctx, `INSERT INTO link_nonces (nonce_hash, tenant_id, verification_id, used_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (nonce_hash) DO NOTHING`, nonceHash, tenantID, verificationID, normTime(at))
	if err != nil {
		return wrap(err, "use link nonce")
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return core.Errorf(core.KindConflict, "this page was already sent once; open the link again")
	}
	return nil
}
