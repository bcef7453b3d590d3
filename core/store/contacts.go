package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/countersign/countersign/core"
)

const contactCols = `c.id, c.tenant_id, c.client_id, c.first_name, c.last_name, c.title, c.psa_ref, c.created_at, c.updated_at,
	c.synced_at, c.deleted_at`

func scanContact(sc interface{ Scan(...any) error }) (core.Contact, error) {
	var c core.Contact
	err := sc.Scan(&c.ID, &c.TenantID, &c.ClientID, &c.FirstName, &c.LastName, &c.Title, &c.PSARef,
		tcol(&c.CreatedAt), tcol(&c.UpdatedAt), tcol(&c.SyncedAt), tcol(&c.DeletedAt))
	return c, err
}

// defaultContactLimit is SearchContacts' page size when the query gives none.
const defaultContactLimit = 50

// CreateContact implements core.Tx: it stores c and c.Destinations (each
// given c's id and, when empty, a fresh id of its own).
func (t *tx) CreateContact(ctx context.Context, c *core.Contact) error {
	newID(&c.ID, "con")
	normTimes(&c.CreatedAt, &c.UpdatedAt, &c.SyncedAt, &c.DeletedAt)
	_, err := t.exec(ctx, `INSERT INTO contacts (id, tenant_id, client_id, first_name, last_name, title, psa_ref, created_at, updated_at,
		synced_at, deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.TenantID, c.ClientID, c.FirstName, c.LastName, c.Title, c.PSARef, c.CreatedAt, c.UpdatedAt, c.SyncedAt, c.DeletedAt)
	if err != nil {
		return wrap(err, "create contact")
	}
	for i := range c.Destinations {
		c.Destinations[i].ContactID = c.ID
		if err := t.AddDestination(ctx, c.TenantID, &c.Destinations[i]); err != nil {
			return err
		}
	}
	return nil
}

// AddDestination implements core.Tx. The destination goes after the
// contact's others, so "first of its kind" stays the oldest.
func (t *tx) AddDestination(ctx context.Context, tenantID string, d *core.Destination) error {
	newID(&d.ID, "dst")
	normTimes(&d.SetAt)
	_, err := t.exec(ctx, `INSERT INTO contact_destinations
		(id, tenant_id, contact_id, ord, kind, value, label, is_default, source, set_at, set_by, raw)
		VALUES (?, ?, ?, (SELECT COALESCE(MAX(ord), 0) + 1 FROM contact_destinations WHERE tenant_id = ? AND contact_id = ?),
			?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, tenantID, d.ContactID, tenantID, d.ContactID,
		string(d.Kind), d.Value, d.Label, d.IsDefault, d.Source, d.SetAt, d.SetBy, d.Raw)
	return wrap(err, "add destination to contact %s", d.ContactID)
}

// UpdateContact implements core.Tx: the contact's own fields, not its
// destinations (see AddDestination, UpdateDestination, DeleteDestination).
func (t *tx) UpdateContact(ctx context.Context, c *core.Contact) error {
	normTimes(&c.UpdatedAt, &c.SyncedAt, &c.DeletedAt)
	res, err := t.exec(ctx, `UPDATE contacts SET client_id = ?, first_name = ?, last_name = ?, title = ?, psa_ref = ?,
		updated_at = ?, synced_at = ?, deleted_at = ? WHERE tenant_id = ? AND id = ?`,
		c.ClientID, c.FirstName, c.LastName, c.Title, c.PSARef, c.UpdatedAt, c.SyncedAt, c.DeletedAt, c.TenantID, c.ID)
	if err != nil {
		return wrap(err, "update contact %s", c.ID)
	}
	return mustAffect(res, "update contact %s", c.ID)
}

// UpdateDestination implements core.Tx: value, label, default flag and
// provenance of one destination of a contact.
func (t *tx) UpdateDestination(ctx context.Context, tenantID string, d *core.Destination) error {
	normTimes(&d.SetAt)
	res, err := t.exec(ctx, `UPDATE contact_destinations SET value = ?, label = ?, is_default = ?, source = ?, set_at = ?, set_by = ?,
		raw = ? WHERE tenant_id = ? AND contact_id = ? AND id = ?`,
		d.Value, d.Label, d.IsDefault, d.Source, d.SetAt, d.SetBy, d.Raw, tenantID, d.ContactID, d.ID)
	if err != nil {
		return wrap(err, "update destination %s", d.ID)
	}
	return mustAffect(res, "update destination %s", d.ID)
}

// DeleteDestination implements core.Tx.
func (t *tx) DeleteDestination(ctx context.Context, tenantID, contactID, id string) error {
	res, err := t.exec(ctx, `DELETE FROM contact_destinations WHERE tenant_id = ? AND contact_id = ? AND id = ?`, tenantID, contactID, id)
	if err != nil {
		return wrap(err, "delete destination %s", id)
	}
	return mustAffect(res, "delete destination %s", id)
}

// Contact implements core.Tx; a deleted contact is ErrNotFound. One
// statement reads the contact with its destinations and its client's
// effective policy row, which the transaction remembers for PolicyFor (a
// contact is read to act on it under its policy: a start, a card).
func (t *tx) Contact(ctx context.Context, tenantID, id string) (core.Contact, error) {
	c, _, err := t.readContact(ctx, tenantID, "", id, false)
	return c, err
}

// LockContactFor implements core.Tx: Contact's statement, joined with the
// technician's row and, on PostgreSQL, locking the contact's (FOR UPDATE
// OF, so neither the technician nor the destinations are locked). The
// contact's tenant and its channel row come along unless the transaction
// has read them already, and are remembered as Tenant would (a start reads
// the tenant for its message: one round trip fewer). When the join finds
// nothing, the reads are made apart so the error names what is missing.
func (t *tx) LockContactFor(ctx context.Context, tenantID, techID, id string) (core.Contact, core.Technician, error) {
	c, tc, err := t.readContact(ctx, tenantID, techID, id, true)
	if err == nil || techID == "" || !errors.Is(err, core.ErrNotFound) {
		return c, tc, err
	}
	if tc, err = t.Technician(ctx, tenantID, techID); err != nil {
		return core.Contact{}, core.Technician{}, fmt.Errorf("technician: %w", err)
	}
	c, _, err = t.readContact(ctx, tenantID, "", id, true)
	return c, tc, err
}

// readContact is the statement of Contact and LockContactFor: the contact,
// one row per destination (a LEFT JOIN: none gives one row of NULLs), the
// effective policy of its client, and, when techID is set, the technician.
func (t *tx) readContact(ctx context.Context, tenantID, techID, id string, lock bool) (core.Contact, core.Technician, error) {
	cols := contactCols + `, d.id, d.kind, d.value, d.label, d.is_default, d.source, d.set_at, d.set_by, d.raw,
		(SELECT p.policy FROM policies p WHERE p.tenant_id = c.tenant_id AND p.client_id IN (c.client_id, '')
			ORDER BY p.client_id DESC LIMIT 1)`
	from := ` FROM contacts c`
	var args []any
	if techID != "" {
		cols += `, ` + prefixCols("t.", technicianCols)
		from += ` JOIN technicians t ON t.tenant_id = c.tenant_id AND t.id = ?`
		args = append(args, techID)
	}
	var tenant *tenantWithChannel
	if _, known := t.tenants[tenantID]; lock && !known {
		tenant = new(tenantWithChannel)
		cols += `, ` + tenantWithChannelCols
		from += ` LEFT JOIN tenants tn ON tn.id = c.tenant_id LEFT JOIN tenant_channels ch ON ch.tenant_id = c.tenant_id`
	}
	q := `SELECT ` + cols + from + `
		LEFT JOIN contact_destinations d ON d.tenant_id = c.tenant_id AND d.contact_id = c.id
		WHERE c.tenant_id = ? AND c.id = ? AND c.deleted_at IS NULL ORDER BY d.ord`
	if lock && t.pg() {
		q += ` FOR UPDATE OF c`
	}
	rows, err := t.query(ctx, q, append(args, tenantID, id)...)
	if err != nil {
		return core.Contact{}, core.Technician{}, wrap(err, "get contact %s", id)
	}
	defer rows.Close()
	var (
		c      core.Contact
		tc     core.Technician
		policy sql.NullString
		found  bool
	)
	for rows.Next() {
		var (
			d                                      core.Destination
			dID, kind, value, label, source, setBy sql.NullString
			raw                                    sql.NullString
			isDefault                              sql.NullBool
			role                                   string
		)
		dest := []any{&c.ID, &c.TenantID, &c.ClientID, &c.FirstName, &c.LastName, &c.Title, &c.PSARef,
			tcol(&c.CreatedAt), tcol(&c.UpdatedAt), tcol(&c.SyncedAt), tcol(&c.DeletedAt),
			&dID, &kind, &value, &label, &isDefault, &source, tcol(&d.SetAt), &setBy, &raw, &policy}
		if techID != "" {
			dest = append(dest, &tc.ID, &tc.TenantID, &tc.Email, &tc.Name, &role, &tc.PasswordHash, &tc.TOTPSecret, &tc.LastTOTPStep,
				&tc.FailedLogins, tcol(&tc.LockedUntil), tcol(&tc.CreatedAt),
				tcol(&tc.DisabledAt), &tc.SessionEpoch, tcol(&tc.LastLoginAt))
		}
		if tenant != nil {
			dest = append(dest, tenant.dest()...)
		}
		if err := rows.Scan(dest...); err != nil {
			return core.Contact{}, core.Technician{}, wrap(err, "get contact %s", id)
		}
		tc.Role = core.Role(role)
		found = true
		if dID.Valid {
			d.ID, d.ContactID, d.Kind, d.Value, d.Label = dID.String, c.ID, core.DestinationKind(kind.String), value.String, label.String
			d.IsDefault, d.Source, d.SetBy, d.Raw = isDefault.Bool, source.String, setBy.String, raw.String
			c.Destinations = append(c.Destinations, d)
		}
	}
	if err := rows.Err(); err != nil {
		return core.Contact{}, core.Technician{}, wrap(err, "get contact %s", id)
	}
	if !found {
		return core.Contact{}, core.Technician{}, notFound("get contact %s", id)
	}
	t.rememberPolicy(tenantID, c.ClientID, policy)
	if tenant != nil {
		if err := tenant.remember(t); err != nil {
			return core.Contact{}, core.Technician{}, err
		}
	}
	return c, tc, nil
}

// SearchContacts implements core.Tx. Text matches, case-insensitively, the
// first, last or full name, or part of any destination (phone digits are
// compared without punctuation, so "(555) 010" finds +15550100100). Results
// are ordered by last name, first name. Deleted contacts are left out
// unless q.IncludeDeleted.
func (t *tx) SearchContacts(ctx context.Context, tenantID string, q core.ContactQuery) ([]core.Contact, error) {
	var (
		where = []string{"c.tenant_id = ?"}
		args  = []any{tenantID}
	)
	if !q.IncludeDeleted {
		where = append(where, "c.deleted_at IS NULL")
	}
	if q.ClientID != "" {
		where = append(where, "c.client_id = ?")
		args = append(args, q.ClientID)
	}
	if q.PSAKind != "" {
		// A PSA ref is unique only within its PSA: match through the
		// contact's client, which records the PSA it was mirrored from.
		where = append(where, "c.psa_ref = ? AND EXISTS (SELECT 1 FROM clients k WHERE k.tenant_id = c.tenant_id AND k.id = c.client_id AND k.psa_kind = ?)")
		args = append(args, q.PSARef, q.PSAKind)
	}
	const destExists = `EXISTS (SELECT 1 FROM contact_destinations d WHERE d.tenant_id = c.tenant_id AND d.contact_id = c.id AND `
	if q.Email != "" {
		where = append(where, destExists+`d.kind = 'email' AND d.value = ?)`)
		args = append(args, q.Email)
	}
	if q.Phone != "" {
		where = append(where, destExists+`d.kind = 'phone' AND d.value = ?)`)
		args = append(args, q.Phone)
	}
	if text := strings.TrimSpace(q.Text); text != "" {
		pat := "%" + escapeLike(strings.ToLower(text)) + "%"
		or := []string{
			`LOWER(c.first_name) LIKE ? ESCAPE '\'`,
			`LOWER(c.last_name) LIKE ? ESCAPE '\'`,
			`LOWER(c.first_name || ' ' || c.last_name) LIKE ? ESCAPE '\'`,
			destExists + `LOWER(d.value) LIKE ? ESCAPE '\')`,
			`EXISTS (SELECT 1 FROM clients k WHERE k.tenant_id = c.tenant_id AND k.id = c.client_id AND LOWER(k.name) LIKE ? ESCAPE '\')`,
		}
		args = append(args, pat, pat, pat, pat, pat)
		if digits := onlyDigits(text); len(digits) >= 3 && digits != text {
			or = append(or, destExists+`d.kind = 'phone' AND d.value LIKE ?)`)
			args = append(args, "%"+digits+"%")
		}
		where = append(where, "("+strings.Join(or, " OR ")+")")
	}
	limit := q.Limit
	if limit <= 0 {
		limit = defaultContactLimit
	}
	args = append(args, limit)
	rows, err := t.query(ctx, `SELECT `+contactCols+` FROM contacts c WHERE `+strings.Join(where, " AND ")+
		` ORDER BY c.last_name, c.first_name, c.id LIMIT ?`, args...)
	if err != nil {
		return nil, wrap(err, "search contacts")
	}
	cs, err := collect(rows, scanContact)
	if err != nil {
		return nil, wrap(err, "search contacts")
	}
	if err := t.fillDestinations(ctx, tenantID, cs); err != nil {
		return nil, err
	}
	return cs, nil
}

// fillDestinations loads the destinations of all cs in one query, rather
// than one query per contact.
func (t *tx) fillDestinations(ctx context.Context, tenantID string, cs []core.Contact) error {
	if len(cs) == 0 {
		return nil
	}
	idx := make(map[string]int, len(cs))
	args := []any{tenantID}
	for i, c := range cs {
		idx[c.ID] = i
		args = append(args, c.ID)
	}
	rows, err := t.query(ctx, `SELECT id, contact_id, kind, value, label, is_default, source, set_at, set_by, raw
		FROM contact_destinations WHERE tenant_id = ? AND contact_id IN (`+placeholders(len(cs))+`)
		ORDER BY contact_id, ord`, args...)
	if err != nil {
		return wrap(err, "load destinations")
	}
	defer rows.Close()
	for rows.Next() {
		var (
			d    core.Destination
			kind string
		)
		if err := rows.Scan(&d.ID, &d.ContactID, &kind, &d.Value, &d.Label, &d.IsDefault, &d.Source, tcol(&d.SetAt), &d.SetBy, &d.Raw); err != nil {
			return wrap(err, "load destinations")
		}
		d.Kind = core.DestinationKind(kind)
		c := &cs[idx[d.ContactID]]
		c.Destinations = append(c.Destinations, d)
	}
	return wrap(rows.Err(), "load destinations")
}

func onlyDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsDigit(r) && r < 128 {
			return r
		}
		return -1
	}, s)
}

// ClientEmailDomains implements core.Tx. The domains are cut in Go: the
// two dialects share no function for it, and the path is rare (an unbound
// user's first ticket with an address no contact has).
func (t *tx) ClientEmailDomains(ctx context.Context, tenantID, clientID string) (map[string]int, error) {
	rows, err := t.query(ctx, `SELECT d.contact_id, d.value FROM contact_destinations d
		JOIN contacts c ON c.tenant_id = d.tenant_id AND c.id = d.contact_id
		WHERE d.tenant_id = ? AND c.client_id = ? AND c.deleted_at IS NULL AND d.kind = 'email'`, tenantID, clientID)
	if err != nil {
		return nil, wrap(err, "client email domains")
	}
	defer rows.Close()
	seen := map[[2]string]bool{}
	out := map[string]int{}
	for rows.Next() {
		var contact, value string
		if err := rows.Scan(&contact, &value); err != nil {
			return nil, wrap(err, "client email domains")
		}
		at := strings.LastIndexByte(value, '@')
		if at < 0 {
			continue
		}
		domain := strings.ToLower(value[at+1:])
		if k := [2]string{contact, domain}; !seen[k] {
			seen[k] = true
			out[domain]++
		}
	}
	return out, wrap(rows.Err(), "client email domains")
}
