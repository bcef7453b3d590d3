package core

import (
	"context"
	"strconv"
	"strings"
	"time"
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

// checkNewContact validates what a person or a PSA sync wrote.
func checkNewContact(c *NewContact) error {
	c.FirstName, c.LastName, c.Title = strings.TrimSpace(c.FirstName), strings.TrimSpace(c.LastName), strings.TrimSpace(c.Title)
	switch {
	case c.ClientID == "":
		return Errorf(KindInvalid, "client_id is required")
	case c.FirstName == "" && c.LastName == "":
		return Errorf(KindInvalid, "a contact needs a first or last name")
	case utf8.RuneCountInString(c.FirstName) > 100 || utf8.RuneCountInString(c.LastName) > 100 || utf8.RuneCountInString(c.Title) > 100:
		return Errorf(KindInvalid, "names and title must be at most 100 characters")
	case len(c.Phones)+len(c.Emails) > 20:
		return Errorf(KindInvalid, "a contact can have at most 20 phones and emails")
	}
	return nil
}

// destinations normalises c's phones (to E.164 in region) and emails into
// destinations of contactID set by actor from source at now; the first one
// marked default of each kind is its default.
func destinations(c NewContact, contactID, region, source, actor string, now time.Time) ([]Destination, error) {
	var out []Destination
	for _, group := range []struct {
		kind DestinationKind
		in   []NewDestination
	}{{DestPhone, c.Phones}, {DestEmail, c.Emails}} {
		hasDefault := false
		for _, d := range group.in {
			v, err := NormalizeDestination(group.kind, d.Value, region)
			if err != nil {
				return nil, err
			}
			isDefault := d.Default && !hasDefault
			hasDefault = hasDefault || isDefault
			raw := ""
			if group.kind == DestPhone {
				raw = ClipBytes(strings.TrimSpace(d.Value), 64, "")
			}
			out = append(out, Destination{Raw: raw,
				ID: NewID("dst"), ContactID: contactID, Kind: group.kind, Value: v, Label: ClipBytes(strings.TrimSpace(d.Label), 50, ""),
				IsDefault: isDefault, Source: source, SetAt: now, SetBy: actor,
			})
		}
	}
	return out, nil
}

// CreateContact validates and normalises c (phones to E.164 in the tenant's
// region, emails lower-cased) and stores it with provenance: source says
// where the data came from ("manual", "psa:connectwise", …) and actor who set it.
func (e *Engine) CreateContact(ctx context.Context, tenantID, actor, source string, c NewContact) (Contact, error) {
	if err := checkNewContact(&c); err != nil {
		return Contact{}, err
	}
	var out Contact
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		var err error
		out, err = e.createContact(ctx, tx, tenantID, actor, source, c, time.Time{})
		return err
	})
	return out, err
}

// createContact stores a checked c in tx with its audit; syncedAt is the
// time a PSA mirror was read (zero for a local contact).
func (e *Engine) createContact(ctx context.Context, tx Tx, tenantID, actor, source string, c NewContact, syncedAt time.Time) (Contact, error) {
	now := e.Now()
	tenant, err := tx.Tenant(ctx, tenantID)
	if err != nil {
		return Contact{}, err
	}
	if _, err := tx.Client(ctx, tenantID, c.ClientID); err != nil {
		return Contact{}, Errorf(KindNotFound, "client %q not found", c.ClientID)
	}
	out := Contact{ID: NewID("con"), TenantID: tenantID, ClientID: c.ClientID, FirstName: c.FirstName,
		LastName: c.LastName, Title: c.Title, PSARef: c.PSARef, CreatedAt: now, UpdatedAt: now, SyncedAt: syncedAt}
	if out.Destinations, err = destinations(c, out.ID, tenant.Region(), source, actor, now); err != nil {
		return Contact{}, err
	}
	if err := tx.CreateContact(ctx, &out); err != nil {
		return Contact{}, err
	}
	return out, e.audit(ctx, tx, tenantID, actor, AuditContactCreated, out.ID, map[string]string{"source": source})
}

// UpdateContact replaces contact id's names, title, client and
// destinations with c (validated and normalised as CreateContact does), in
// one audited transaction. A destination whose value stays keeps its id and
// the time it was set; one that goes is removed; a new one is recorded as
// set now by actor from source.
func (e *Engine) UpdateContact(ctx context.Context, tenantID, actor, source, id string, c NewContact) (Contact, error) {
	if err := checkNewContact(&c); err != nil {
		return Contact{}, err
	}
	var out Contact
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		cur, err := tx.Contact(ctx, tenantID, id)
		if err != nil {
			return err
		}
		if c.PSARef == "" {
			c.PSARef = cur.PSARef // a person's edit keeps the PSA link
		}
		changed, err := e.rewriteContact(ctx, tx, &cur, actor, source, c)
		if err != nil {
			return err
		}
		out = cur
		if len(changed) == 0 {
			return nil
		}
		return e.audit(ctx, tx, tenantID, actor, AuditContactUpdated, id,
			map[string]string{"source": source, "changed": strings.Join(changed, ",")})
	})
	return out, err
}

// rewriteContact makes cur say what c says and writes the difference in tx;
// it returns what changed ("name", "client", "phones", …), nothing when c
// says what cur said already (and then writes nothing).
func (e *Engine) rewriteContact(ctx context.Context, tx Tx, cur *Contact, actor, source string, c NewContact) ([]string, error) {
	now := e.Now()
	tenant, err := tx.Tenant(ctx, cur.TenantID)
	if err != nil {
		return nil, err
	}
	var changed []string
	if c.ClientID != cur.ClientID {
		if _, err := tx.Client(ctx, cur.TenantID, c.ClientID); err != nil {
			return nil, Errorf(KindNotFound, "client %q not found", c.ClientID)
		}
		cur.ClientID = c.ClientID
		changed = append(changed, "client")
	}
	if c.FirstName != cur.FirstName || c.LastName != cur.LastName {
		cur.FirstName, cur.LastName = c.FirstName, c.LastName
		changed = append(changed, "name")
	}
	if c.Title != cur.Title {
		cur.Title = c.Title
		changed = append(changed, "title")
	}
	if c.PSARef != cur.PSARef {
		cur.PSARef = c.PSARef
		changed = append(changed, "psa_ref")
	}
	want, err := destinations(c, cur.ID, tenant.Region(), source, actor, now)
	if err != nil {
		return nil, err
	}
	destChanged, err := e.rewriteDestinations(ctx, tx, cur, want)
	if err != nil {
		return nil, err
	}
	changed = append(changed, destChanged...)
	if len(changed) > 0 {
		cur.UpdatedAt = now
		if err := tx.UpdateContact(ctx, cur); err != nil {
			return nil, err
		}
		// Read back: destinations keep the order they were first added in.
		if *cur, err = tx.Contact(ctx, cur.TenantID, cur.ID); err != nil {
			return nil, err
		}
	}
	return changed, nil
}

// rewriteDestinations turns cur's destinations into want in tx, keeping
// the id and set time of every value that stays, and returns the kinds
// that changed ("phones", "emails"); the caller reads the contact back.
func (e *Engine) rewriteDestinations(ctx context.Context, tx Tx, cur *Contact, want []Destination) ([]string, error) {
	kinds := map[DestinationKind]bool{}
	key := func(d Destination) string { return string(d.Kind) + "\x00" + d.Value }
	have := map[string]Destination{}
	for _, d := range cur.Destinations {
		have[key(d)] = d
	}
	for _, w := range want {
		old, ok := have[key(w)]
		if !ok {
			if err := tx.AddDestination(ctx, cur.TenantID, &w); err != nil {
				return nil, err
			}
			kinds[w.Kind] = true
			continue
		}
		delete(have, key(w))
		if old.Label != w.Label || old.IsDefault != w.IsDefault {
			old.Label, old.IsDefault = w.Label, w.IsDefault
			if err := tx.UpdateDestination(ctx, cur.TenantID, &old); err != nil {
				return nil, err
			}
			kinds[w.Kind] = true
		}
	}
	for _, gone := range have {
		if err := tx.DeleteDestination(ctx, cur.TenantID, cur.ID, gone.ID); err != nil {
			return nil, err
		}
		kinds[gone.Kind] = true
	}
	var out []string
	if kinds[DestPhone] {
		out = append(out, "phones")
	}
	if kinds[DestEmail] {
		out = append(out, "emails")
	}
	return out, nil
}

// DeleteContact deletes contact id softly: it no longer shows or can be
// verified, while its verifications and audit entries stay.
func (e *Engine) DeleteContact(ctx context.Context, tenantID, actor, id string) error {
	return e.cfg.Store.Update(ctx, func(tx Tx) error {
		c, err := tx.Contact(ctx, tenantID, id)
		if err != nil {
			return err
		}
		c.DeletedAt = e.Now()
		if err := tx.UpdateContact(ctx, &c); err != nil {
			return err
		}
		return e.audit(ctx, tx, tenantID, actor, AuditContactDeleted, id, map[string]string{"name": c.Name()})
	})
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
		return e.audit(ctx, tx, tenantID, actor, AuditClientCreated, c.ID, map[string]string{"name": name})
	})
	return c, err
}

// UpdateClient renames client id.
func (e *Engine) UpdateClient(ctx context.Context, tenantID, actor, id, name string) (Client, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 200 {
		return Client{}, Errorf(KindInvalid, "a client needs a name of at most 200 characters")
	}
	var c Client
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		var err error
		if c, err = tx.Client(ctx, tenantID, id); err != nil {
			return err
		}
		if c.Name == name {
			return nil
		}
		previous := c.Name
		c.Name = name
		if err := tx.UpdateClient(ctx, &c); err != nil {
			return err
		}
		return e.audit(ctx, tx, tenantID, actor, AuditClientUpdated, id, map[string]string{"name": name, "previous_name": previous})
	})
	return c, err
}

// DeleteClient deletes client id and every contact of it softly, in one
// audited transaction.
func (e *Engine) DeleteClient(ctx context.Context, tenantID, actor, id string) error {
	return e.cfg.Store.Update(ctx, func(tx Tx) error {
		c, err := tx.Client(ctx, tenantID, id)
		if err != nil {
			return err
		}
		now := e.Now()
		n := 0
		for {
			// Deleted contacts drop out of the search, so each page is new.
			cs, err := tx.SearchContacts(ctx, tenantID, ContactQuery{ClientID: id, Limit: 500})
			if err != nil {
				return err
			}
			for i := range cs {
				cs[i].DeletedAt = now
				if err := tx.UpdateContact(ctx, &cs[i]); err != nil {
					return err
				}
			}
			n += len(cs)
			if len(cs) < 500 {
				break
			}
		}
		c.DeletedAt = now
		if err := tx.UpdateClient(ctx, &c); err != nil {
			return err
		}
		return e.audit(ctx, tx, tenantID, actor, AuditClientDeleted, id, map[string]string{"name": c.Name, "contacts": strconv.Itoa(n)})
	})
}
