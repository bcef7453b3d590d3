package core

import (
	"context"
	"strings"
)

// Sign-in steps. The rules of a password sign-in (argon2id, TOTP, lockout)
// live in core/auth, which builds on this package; the engine keeps the
// transactions: each step changes the technician's row, locked against
// concurrent sign-ins, and audits it in the same transaction.

// SignInAccount returns the tenant with short name slug and its
// technician with email (case-insensitive), read together. Either may be
// missing: an unknown tenant is the zero Tenant, an unknown email a nil
// technician, and neither is an error, so that the caller answers both
// alike.
func (e *Engine) SignInAccount(ctx context.Context, slug, email string) (Tenant, *Technician, error) {
	var tech *Technician
	tenant, err := view(ctx, e, func(tx Tx) (Tenant, error) {
		tenant, err := tx.TenantBySlug(ctx, slug)
		if isNotFound(err) {
			return Tenant{}, nil
		}
		if err != nil {
			return tenant, err
		}
		t, err := tx.TechnicianByEmail(ctx, tenant.ID, strings.ToLower(email))
		switch {
		case err == nil:
			tech = &t
		case !isNotFound(err):
			return tenant, err
		}
		return tenant, nil
	})
	return tenant, tech, err
}

// SignInChange is what one sign-in step did to a technician's row.
type SignInChange struct {
	// Write stores the changed row; false leaves it as it was.
	Write bool
	// Action, when not "", is audited with the technician as actor and
	// subject (AuditTechnicianLogin, AuditTechnicianLoginFailed,
	// AuditTechnicianTOTPEnrolled), with Detail.
	Action string
	Detail map[string]string
}

// SignInStep runs one step of a sign-in on technician techID of a tenant:
// fn gets the row, locked until the transaction ends (so parallel attempts
// count exactly and a TOTP step is accepted once), changes it and says
// what to write and audit. The write and its audit are one transaction;
// an error from fn rolls both back. It returns the row as fn left it.
func (e *Engine) SignInStep(ctx context.Context, tenantID, techID string, fn func(cur *Technician) (SignInChange, error)) (Technician, error) {
	var (
		out     Technician
		written bool
	)
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		written = false // a retried transaction starts again
		cur, err := tx.LockTechnician(ctx, tenantID, techID)
		if err != nil {
			return err
		}
		ch, err := fn(&cur)
		if err != nil {
			return err
		}
		if ch.Write {
			if err := tx.UpdateTechnician(ctx, &cur); err != nil {
				return err
			}
			written = true
		}
		out = cur
		if ch.Action == "" {
			return nil
		}
		return e.audit(ctx, tx, tenantID, techActor(techID), ch.Action, techID, ch.Detail)
	})
	if err == nil && written {
		// Cached copies of the row (core/web) go stale: drop them.
		e.publish(ctx, Event{Type: EventTechnicianChanged, TenantID: tenantID, TechnicianID: techID, At: e.Now()})
	}
	return out, err
}
