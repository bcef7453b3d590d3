package core

import "context"

// Reads for adapters. core/web reads through these rather than opening
// store transactions of its own, so that every transaction of the product
// is the engine's (and the rules it keeps are in one place).

// view runs fn in a read-only transaction and returns what it read.
func view[T any](ctx context.Context, e *Engine, fn func(Tx) (T, error)) (T, error) {
	var out T
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	return out, err
}

// Tenant returns tenant id.
func (e *Engine) Tenant(ctx context.Context, id string) (Tenant, error) {
	return view(ctx, e, func(tx Tx) (Tenant, error) { return tx.Tenant(ctx, id) })
}

// TenantBySlug returns the tenant with the short name slug.
func (e *Engine) TenantBySlug(ctx context.Context, slug string) (Tenant, error) {
	return view(ctx, e, func(tx Tx) (Tenant, error) { return tx.TenantBySlug(ctx, slug) })
}

// Clients returns a tenant's clients (not the deleted ones), by name.
func (e *Engine) Clients(ctx context.Context, tenantID string) ([]Client, error) {
	return view(ctx, e, func(tx Tx) ([]Client, error) { return tx.ListClients(ctx, tenantID) })
}

// Client returns client id of a tenant; a deleted one is ErrNotFound.
func (e *Engine) Client(ctx context.Context, tenantID, id string) (Client, error) {
	return view(ctx, e, func(tx Tx) (Client, error) { return tx.Client(ctx, tenantID, id) })
}

// Contact returns contact id of a tenant with its destinations; a deleted
// one is ErrNotFound.
func (e *Engine) Contact(ctx context.Context, tenantID, id string) (Contact, error) {
	return view(ctx, e, func(tx Tx) (Contact, error) { return tx.Contact(ctx, tenantID, id) })
}

// SearchContacts returns a tenant's contacts matching q (see ContactQuery).
func (e *Engine) SearchContacts(ctx context.Context, tenantID string, q ContactQuery) ([]Contact, error) {
	return view(ctx, e, func(tx Tx) ([]Contact, error) { return tx.SearchContacts(ctx, tenantID, q) })
}

// Technicians returns a tenant's technicians, by name.
func (e *Engine) Technicians(ctx context.Context, tenantID string) ([]Technician, error) {
	return view(ctx, e, func(tx Tx) ([]Technician, error) { return tx.ListTechnicians(ctx, tenantID) })
}

// Technician returns technician id of a tenant.
func (e *Engine) Technician(ctx context.Context, tenantID, id string) (Technician, error) {
	return view(ctx, e, func(tx Tx) (Technician, error) { return tx.Technician(ctx, tenantID, id) })
}

// Outbox returns a tenant's most recent outbox items, newest first.
func (e *Engine) Outbox(ctx context.Context, tenantID string, limit int) ([]OutboxItem, error) {
	return view(ctx, e, func(tx Tx) ([]OutboxItem, error) { return tx.ListOutbox(ctx, tenantID, limit) })
}

// OutboxWithContacts returns what Outbox does, and the name of the contact
// each item's verification is for, by verification id (an item without a
// verification, or whose verification or contact is gone, has none). It is
// the dev outbox's read, so that each message says whom it was for: a few
// dozen items, so one read per verification is fine.
func (e *Engine) OutboxWithContacts(ctx context.Context, tenantID string, limit int) ([]OutboxItem, map[string]string, error) {
	names := map[string]string{}
	items, err := view(ctx, e, func(tx Tx) ([]OutboxItem, error) {
		items, err := tx.ListOutbox(ctx, tenantID, limit)
		if err != nil {
			return nil, err
		}
		contacts := map[string]string{} // contact id → name
		for _, it := range items {
			if it.VerificationID == "" {
				continue
			}
			if _, done := names[it.VerificationID]; done {
				continue
			}
			v, err := tx.Verification(ctx, tenantID, it.VerificationID)
			if isNotFound(err) {
				names[it.VerificationID] = ""
				continue
			} else if err != nil {
				return nil, err
			}
			name, ok := contacts[v.ContactID]
			if !ok {
				c, err := tx.Contact(ctx, tenantID, v.ContactID)
				if err != nil && !isNotFound(err) {
					return nil, err
				}
				name = c.Name()
				contacts[v.ContactID] = name
			}
			names[it.VerificationID] = name
		}
		return items, nil
	})
	return items, names, err
}

// LinkedTechnician returns the technician linked to member memberRef of a
// tenant's integration, or ErrNotFound when none is.
func (e *Engine) LinkedTechnician(ctx context.Context, tenantID, integrationID, memberRef string) (Technician, error) {
	return view(ctx, e, func(tx Tx) (Technician, error) {
		return tx.LinkedTechnician(ctx, tenantID, integrationID, memberRef)
	})
}

// ContactAndClient returns contact id of a tenant and the client it
// belongs to, read together.
func (e *Engine) ContactAndClient(ctx context.Context, tenantID, id string) (Contact, Client, error) {
	var cl Client
	c, err := view(ctx, e, func(tx Tx) (Contact, error) {
		c, err := tx.Contact(ctx, tenantID, id)
		if err != nil {
			return c, err
		}
		cl, err = tx.Client(ctx, tenantID, c.ClientID)
		return c, err
	})
	return c, cl, err
}

// Ready reports whether the store answers a query, for readiness probes.
func (e *Engine) Ready(ctx context.Context) error {
	_, err := view(ctx, e, func(tx Tx) ([]Tenant, error) { return tx.ListTenants(ctx) })
	return err
}
