package core

import "context"

// ClientOverride is one client of a tenant and whether it has a policy of
// its own (else the tenant default applies).
type ClientOverride struct {
	Client   Client
	Override bool
}

// PolicyOverview returns, read together, a tenant's effective default
// policy and its clients with whether each overrides it.
func (e *Engine) PolicyOverview(ctx context.Context, tenantID string) (Policy, []ClientOverride, error) {
	var def Policy
	clients, err := view(ctx, e, func(tx Tx) ([]ClientOverride, error) {
		var err error
		if def, err = EffectivePolicy(ctx, tx, tenantID, ""); err != nil {
			return nil, err
		}
		cs, err := tx.ListClients(ctx, tenantID)
		if err != nil {
			return nil, err
		}
		out := make([]ClientOverride, 0, len(cs))
		for _, c := range cs {
			has, err := hasOverride(ctx, tx, tenantID, c.ID)
			if err != nil {
				return nil, err
			}
			out = append(out, ClientOverride{Client: c, Override: has})
		}
		return out, nil
	})
	return def, clients, err
}

// PolicyScope returns the effective policy of client clientID of a tenant
// ("" for the tenant default) and whether it is the client's own (always
// true for the default). A client id that is not the tenant's is
// ErrNotFound.
func (e *Engine) PolicyScope(ctx context.Context, tenantID, clientID string) (Policy, bool, error) {
	override := clientID == ""
	p, err := view(ctx, e, func(tx Tx) (Policy, error) {
		if clientID != "" {
			if _, err := tx.Client(ctx, tenantID, clientID); err != nil {
				return Policy{}, err
			}
			var err error
			if override, err = hasOverride(ctx, tx, tenantID, clientID); err != nil {
				return Policy{}, err
			}
		}
		return EffectivePolicy(ctx, tx, tenantID, clientID)
	})
	return p, override, err
}

// hasOverride reports, in tx, whether a client has its own policy.
func hasOverride(ctx context.Context, tx Tx, tenantID, clientID string) (bool, error) {
	_, err := tx.Policy(ctx, tenantID, clientID)
	switch {
	case err == nil:
		return true, nil
	case isNotFound(err):
		return false, nil
	}
	return false, err
}

// DeletePolicy removes client clientID's own policy, so that the tenant
// default applies to it again, and audits it in the same transaction. A
// client without one is ErrNotFound; the tenant default cannot be deleted.
func (e *Engine) DeletePolicy(ctx context.Context, tenantID, actor, clientID string) error {
	if clientID == "" {
		return Errorf(KindInvalid, "the tenant default cannot be deleted; change its fields instead")
	}
	return e.cfg.Store.Update(ctx, func(tx Tx) error {
		if err := tx.DeletePolicy(ctx, tenantID, clientID); err != nil {
			if isNotFound(err) {
				return Errorf(KindNotFound, "this client has no policy of its own to delete")
			}
			return err
		}
		return e.audit(ctx, tx, tenantID, actor, AuditPolicyDeleted, clientID, nil)
	})
}
