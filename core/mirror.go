package core

import (
	"context"
	"strings"
	"time"
)

// MirrorMaxAge is how long the local mirror of a PSA contact is trusted:
// an older one is read from the PSA again before it is used, so that a
// number or address changed in the PSA reaches verifications within it.
const MirrorMaxAge = time.Hour

// PSAContact is a contact as a PSA describes it, for MirrorContact.
type PSAContact struct {
	// Kind is the PSA descriptor id ("connectwise", …) and IntegrationName
	// the integration's display name (for the catch-all client of contacts
	// under no company).
	Kind            string
	IntegrationName string
	// CompanyRef is the contact's company in the PSA, "" for none;
	// CompanyName names a new mirror of it ("" for a placeholder).
	CompanyRef  string
	CompanyName string
	// Contact is the contact; its PSARef is required, its ClientID is
	// ignored (the mirror of CompanyRef is used).
	Contact NewContact
}

// Stale reports whether c, a PSA mirror, should be read from its PSA again
// at now.
func (c Contact) Stale(now time.Time) bool {
	return c.PSARef != "" && now.Sub(c.SyncedAt) >= MirrorMaxAge
}

// MirroredContact returns the local mirror of PSA contact ref of PSA kind,
// or ErrNotFound when there is none (or it was deleted).
func (e *Engine) MirroredContact(ctx context.Context, tenantID, kind, ref string) (Contact, error) {
	var found []Contact
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		found, err = tx.SearchContacts(ctx, tenantID, ContactQuery{PSAKind: kind, PSARef: ref, Limit: 1})
		return err
	})
	switch {
	case err != nil:
		return Contact{}, err
	case len(found) == 0:
		return Contact{}, Errorf(KindNotFound, "no local copy of %s contact %s", kind, ref)
	}
	return found[0], nil
}

// MirroredClient returns the id of the local client mirroring company
// companyRef of PSA kind, or "" (whose policy is the tenant default) when
// there is none yet or companyRef is "".
func (e *Engine) MirroredClient(ctx context.Context, tenantID, kind, companyRef string) (string, error) {
	if companyRef == "" {
		return "", nil
	}
	return view(ctx, e, func(tx Tx) (string, error) {
		clients, err := tx.ListClients(ctx, tenantID)
		for _, c := range clients {
			if c.PSAKind == kind && c.PSARef == companyRef {
				return c.ID, err
			}
		}
		return "", err
	})
}

// MirrorContact writes what the PSA says about a contact to its local
// mirror in one transaction: the company's client is found or created, the
// contact is created, or updated (and restored if it was deleted) with its
// destinations rewritten as UpdateContact does, and its sync time is set.
// A creation or a change is audited with actor "psa:<kind>"; a refresh that
// changes nothing only moves the sync time.
func (e *Engine) MirrorContact(ctx context.Context, tenantID string, p PSAContact) (Contact, error) {
	if p.Kind == "" || p.Contact.PSARef == "" {
		return Contact{}, Errorf(KindInvalid, "a PSA contact needs its PSA kind and reference")
	}
	var out Contact
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		var err error
		out, err = e.mirrorContact(ctx, tx, tenantID, p)
		return err
	})
	return out, err
}

// MirrorCreatedContact is MirrorContact for a contact that actor (a
// technician, in a pod) has just created in the PSA: the mirror and the
// audit of the creation (AuditPodContactCreated, with detail) are one
// transaction.
func (e *Engine) MirrorCreatedContact(ctx context.Context, tenantID, actor string, p PSAContact, detail map[string]string) (Contact, error) {
	if p.Kind == "" || p.Contact.PSARef == "" {
		return Contact{}, Errorf(KindInvalid, "a PSA contact needs its PSA kind and reference")
	}
	var out Contact
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		var err error
		if out, err = e.mirrorContact(ctx, tx, tenantID, p); err != nil {
			return err
		}
		return e.audit(ctx, tx, tenantID, actor, AuditPodContactCreated, out.ID, detail)
	})
	return out, err
}

// mirrorContact is MirrorContact's work in tx.
func (e *Engine) mirrorContact(ctx context.Context, tx Tx, tenantID string, p PSAContact) (Contact, error) {
	actor := "psa:" + p.Kind
	now := e.Now()
	clientID, err := e.mirrorClient(ctx, tx, tenantID, p)
	if err != nil {
		return Contact{}, err
	}
	c := p.Contact
	c.ClientID = clientID
	if err := checkNewContact(&c); err != nil {
		return Contact{}, err
	}
	found, err := tx.SearchContacts(ctx, tenantID, ContactQuery{PSAKind: p.Kind, PSARef: c.PSARef, IncludeDeleted: true, Limit: 1})
	if err != nil {
		return Contact{}, err
	}
	if len(found) == 0 {
		return e.createContact(ctx, tx, tenantID, actor, actor, c, now)
	}
	cur := found[0]
	restored := !cur.DeletedAt.IsZero()
	if restored {
		// The PSA still has it: bring it back before rewriting it.
		cur.DeletedAt = time.Time{}
		if err := tx.UpdateContact(ctx, &cur); err != nil {
			return Contact{}, err
		}
	}
	changed, err := e.rewriteContact(ctx, tx, &cur, actor, actor, c)
	if err != nil {
		return Contact{}, err
	}
	cur.SyncedAt = now
	if err := tx.UpdateContact(ctx, &cur); err != nil {
		return Contact{}, err
	}
	if restored {
		changed = append(changed, "restored")
	}
	if len(changed) == 0 {
		return cur, nil
	}
	return cur, e.audit(ctx, tx, tenantID, actor, AuditContactRefreshed, cur.ID, map[string]string{"changed": strings.Join(changed, ",")})
}

// mirrorClient returns, in tx, the id of the client mirroring p's company,
// creating it when needed; a contact under no company goes to a catch-all
// client of its integration.
func (e *Engine) mirrorClient(ctx context.Context, tx Tx, tenantID string, p PSAContact) (string, error) {
	clients, err := tx.ListClients(ctx, tenantID)
	if err != nil {
		return "", err
	}
	for _, c := range clients {
		if c.PSAKind == p.Kind && c.PSARef == p.CompanyRef {
			return c.ID, nil
		}
	}
	name := p.CompanyName
	switch {
	case p.CompanyRef == "":
		name = "No company (" + p.IntegrationName + ")"
	case name == "":
		// A placeholder until a directory sync names it.
		name = "Company " + p.CompanyRef
	}
	c := Client{ID: NewID("cli"), TenantID: tenantID, Name: ClipBytes(name, 200, ""), PSAKind: p.Kind, PSARef: p.CompanyRef, CreatedAt: e.Now()}
	if err := tx.CreateClient(ctx, &c); err != nil {
		return "", err
	}
	return c.ID, e.audit(ctx, tx, tenantID, "psa:"+p.Kind, AuditClientCreated, c.ID, map[string]string{"name": c.Name, "psa_ref": p.CompanyRef})
}
