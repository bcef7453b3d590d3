package core

import "context"

// BrandingChange is one admin change of a tenant's branding, for
// ChangeBranding.
type BrandingChange struct {
	// Action is the audit action: AuditBrandingUpdated,
	// AuditBrandingLogoUpdated, AuditBrandingLogoRemoved,
	// AuditMessageTemplateUpdated or AuditMessageTemplateReset.
	Action string
	// Subject is what changed ("" means the tenant), Detail the audit's
	// detail.
	Subject string
	Detail  map[string]string
	// Apply changes the branding read in the transaction; an error
	// (e.g. ErrNotFound: "there is no logo to remove") changes nothing.
	Apply func(b *Branding) error
}

// brandingActions are the audit actions a BrandingChange may name.
var brandingActions = map[string]bool{
	AuditBrandingUpdated: true, AuditBrandingLogoUpdated: true, AuditBrandingLogoRemoved: true,
	AuditMessageTemplateUpdated: true, AuditMessageTemplateReset: true,
}

// ChangeBranding applies ch to a tenant's branding and audits it, in one
// transaction. The audit event is appended first: that locks the tenant's
// audit head (FOR NO KEY UPDATE on PostgreSQL), so that concurrent changes
// of one tenant run one after the other and each Apply sees what the one
// before committed. It returns the tenant as changed.
func (e *Engine) ChangeBranding(ctx context.Context, tenantID, actor string, ch BrandingChange) (Tenant, error) {
	if !brandingActions[ch.Action] || ch.Apply == nil {
		return Tenant{}, Errorf(KindInvalid, "engine: branding change %q is not one", ch.Action)
	}
	subject := ch.Subject
	if subject == "" {
		subject = tenantID
	}
	var out Tenant
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		if err := e.audit(ctx, tx, tenantID, actor, ch.Action, subject, ch.Detail); err != nil {
			return err
		}
		t, err := tx.Tenant(ctx, tenantID)
		if err != nil {
			return err
		}
		if err := ch.Apply(&t.Branding); err != nil {
			return err
		}
		out = t
		return tx.UpdateTenant(ctx, &t)
	})
	return out, err
}
