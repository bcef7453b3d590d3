package core

import (
	"context"
	"strings"
	"unicode/utf8"
)

// NewContact is a contact as a person or a PSA sync describes it, before
// normalisation.
type NewContact struct {
	ClientID  string           `json:"client_id"`
	FirstName string           `json:"first_name"`
	LastName  string           `json:"last_name"`
	Title     string           `json:"title,omitempty"`
	PSARef    string           `json:"psa_ref,omitempty"`
	Phones    []NewDestination `json:"phones,omitempty"`
	Emails    []NewDestination `json:"emails,omitempty"`
}

// NewDestination is one phone or email as written by a person or a PSA.
type NewDestination struct {
	Value   string `json:"value"`
	Label   string `json:"label,omitempty"`
	Default bool   `json:"default,omitempty"`
}

// CreateContact validates and normalises c (phones to E.164 in the tenant's
// region, emails lower-cased) and stores it with provenance: source says
// where the data came from ("manual", "psa:connectwise", …) and actor who set it.
func (e *Engine) CreateContact(ctx context.Context, tenantID, actor, source string, c NewContact) (Contact, error) {
	c.FirstName, c.LastName = strings.TrimSpace(c.FirstName), strings.TrimSpace(c.LastName)
	switch {
	case c.ClientID == "":
		return Contact{}, Errorf(KindInvalid, "client_id is required")
	case c.FirstName == "" && c.LastName == "":
		return Contact{}, Errorf(KindInvalid, "a contact needs a first or last name")
	case utf8.RuneCountInString(c.FirstName) > 100 || utf8.RuneCountInString(c.LastName) > 100 || utf8.RuneCountInString(c.Title) > 100:
		return Contact{}, Errorf(KindInvalid, "names and title must be at most 100 characters")
	case len(c.Phones)+len(c.Emails) > 20:
		return Contact{}, Errorf(KindInvalid, "a contact can have at most 20 phones and emails")
	}
	var out Contact
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		now := e.Now()
		tenant, err := tx.Tenant(ctx, tenantID)
		if err != nil {
			return err
		}
		if _, err := tx.Client(ctx, tenantID, c.ClientID); err != nil {
			return Errorf(KindNotFound, "client %q not found", c.ClientID)
		}
		out = Contact{ID: NewID("con"), TenantID: tenantID, ClientID: c.ClientID, FirstName: c.FirstName,
			LastName: c.LastName, Title: strings.TrimSpace(c.Title), PSARef: c.PSARef, CreatedAt: now, UpdatedAt: now}
		for _, group := range []struct {
			kind DestinationKind
			in   []NewDestination
		}{{DestPhone, c.Phones}, {DestEmail, c.Emails}} {
			hasDefault := false
			for _, d := range group.in {
				v, err := NormalizeDestination(group.kind, d.Value, tenant.Region())
				if err != nil {
					return err
				}
				isDefault := d.Default && !hasDefault
				hasDefault = hasDefault || isDefault
				out.Destinations = append(out.Destinations, Destination{
					ID: NewID("dst"), ContactID: out.ID, Kind: group.kind, Value: v, Label: truncate(strings.TrimSpace(d.Label), 50),
					IsDefault: isDefault, Source: source, SetAt: now, SetBy: actor,
				})
			}
		}
		if err := tx.CreateContact(ctx, &out); err != nil {
			return err
		}
		return e.audit(ctx, tx, tenantID, actor, "contact.created", out.ID, map[string]string{"source": source})
	})
	return out, err
}

// CreateClient adds a local client company (one not synced from a PSA).
func (e *Engine) CreateClient(ctx context.Context, tenantID, actor, name string) (Client, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 200 {
		return Client{}, Errorf(KindInvalid, "a client needs a name of at most 200 characters")
	}
	c := Client{ID: NewID("cli"), TenantID: tenantID, Name: name, CreatedAt: e.Now()}
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		if err := tx.CreateClient(ctx, &c); err != nil {
			return err
		}
		return e.audit(ctx, tx, tenantID, actor, "client.created", c.ID, map[string]string{"name": name})
	})
	return c, err
}
