package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/countersign/countersign/core"
)

const tenantCols = `id, slug, name, country, branding, sms_from, created_at`

func scanTenant(sc interface{ Scan(...any) error }) (core.Tenant, error) {
	var (
		t        core.Tenant
		branding string
	)
	if err := sc.Scan(&t.ID, &t.Slug, &t.Name, &t.Country, &branding, &t.SMSFrom, tcol(&t.CreatedAt)); err != nil {
		return core.Tenant{}, err
	}
	if err := json.Unmarshal([]byte(branding), &t.Branding); err != nil {
		return core.Tenant{}, fmt.Errorf("branding: %w", err)
	}
	return t, nil
}

// scanTail scans a row into a scan function's columns followed by tail.
type scanTail struct {
	row  interface{ Scan(...any) error }
	tail []any
}

func (s scanTail) Scan(dest ...any) error { return s.row.Scan(append(dest, s.tail...)...) }

// CreateTenant implements core.Tx; an empty t.ID gets a fresh id.
func (t *tx) CreateTenant(ctx context.Context, tn *core.Tenant) error {
	newID(&tn.ID, "ten")
	normTimes(&tn.CreatedAt)
	branding, err := json.Marshal(tn.Branding)
	if err != nil {
		return wrap(err, "create tenant")
	}
	_, err = t.exec(ctx, `INSERT INTO tenants (`+tenantCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		tn.ID, tn.Slug, tn.Name, tn.Country, string(branding), tn.SMSFrom, tn.CreatedAt)
	return wrap(err, "create tenant %q", tn.Slug)
}

// Tenant implements core.Tx.
// A transaction reads a tenant once; later reads are answered from memory
// until the transaction updates it.
func (t *tx) Tenant(ctx context.Context, id string) (core.Tenant, error) {
	if tn, ok := t.tenants[id]; ok {
		return tn, nil
	}
	// The tenant's channel row comes along (a send needs both): it is
	// remembered as Channels would read it.
	var (
		ch  core.ChannelsRow
		has bool
	)
	var chNumber sql.NullString
	tn, err := scanTenant(scanTail{t.queryRow(ctx, `SELECT `+prefixCols("t.", tenantCols)+`,
			c.tenant_id IS NOT NULL, c.sms_number, c.sealed, c.updated_at
		FROM tenants t LEFT JOIN tenant_channels c ON c.tenant_id = t.id WHERE t.id = ?`, id),
		[]any{&has, &chNumber, &ch.Sealed, tcol(&ch.UpdatedAt)}})
	if err != nil {
		return tn, wrap(err, "get tenant %s", id)
	}
	t.rememberTenant(tn, has, chNumber, ch)
	return tn, nil
}

// tenantWithChannelCols are Tenant's columns, the tenant as tn and its
// channel row as ch (LEFT JOINed), for a read that brings the tenant
// along (LockContactFor); tenantWithChannel scans them.
const tenantWithChannelCols = `tn.id, tn.slug, tn.name, tn.country, tn.branding, tn.sms_from, tn.created_at,
	ch.tenant_id IS NOT NULL, ch.sms_number, ch.sealed, ch.updated_at`

// tenantWithChannel is the destination of tenantWithChannelCols in a row:
// dest lists them in order; remember keeps what was read, as Tenant would.
type tenantWithChannel struct {
	id, slug, name, country, branding, smsFrom sql.NullString
	createdAt                                  time.Time
	has                                        sql.NullBool
	chNumber                                   sql.NullString
	ch                                         core.ChannelsRow
}

func (r *tenantWithChannel) dest() []any {
	return []any{&r.id, &r.slug, &r.name, &r.country, &r.branding, &r.smsFrom, tcol(&r.createdAt),
		&r.has, &r.chNumber, &r.ch.Sealed, tcol(&r.ch.UpdatedAt)}
}

// remember keeps the tenant read in t, as Tenant does; a row without the
// tenant (none matched the LEFT JOIN) keeps nothing, so that Tenant then
// reads it and says what is missing.
func (r *tenantWithChannel) remember(t *tx) error {
	if !r.id.Valid {
		return nil
	}
	tn := core.Tenant{ID: r.id.String, Slug: r.slug.String, Name: r.name.String, Country: r.country.String,
		SMSFrom: r.smsFrom.String, CreatedAt: r.createdAt}
	if err := json.Unmarshal([]byte(r.branding.String), &tn.Branding); err != nil {
		return wrap(fmt.Errorf("branding: %w", err), "get tenant %s", tn.ID)
	}
	t.rememberTenant(tn, r.has.Bool, r.chNumber, r.ch)
	return nil
}

// rememberTenant keeps tn and its channel row (has says whether there is
// one) for the rest of the transaction, as Tenant and Channels would read
// them; a channel row already known stays.
func (t *tx) rememberTenant(tn core.Tenant, has bool, chNumber sql.NullString, ch core.ChannelsRow) {
	id := tn.ID
	if _, known := t.channels[id]; !known {
		if t.channels == nil {
			t.channels = map[string]channelsRead{}
		}
		ch.TenantID, ch.SMSNumber = id, chNumber.String
		r := channelsRead{row: ch}
		if !has {
			r = channelsRead{row: core.ChannelsRow{TenantID: id}, err: notFound("get channels of %s", id)}
		}
		t.channels[id] = r
	}
	if t.tenants == nil {
		t.tenants = map[string]core.Tenant{}
	}
	t.tenants[id] = tn
}

// TenantBySlug implements core.Tx.
func (t *tx) TenantBySlug(ctx context.Context, slug string) (core.Tenant, error) {
	tn, err := scanTenant(t.queryRow(ctx, `SELECT `+tenantCols+` FROM tenants WHERE slug = ?`, slug))
	return tn, wrap(err, "get tenant by slug %q", slug)
}

// UpdateTenant implements core.Tx: it writes slug, name, country, branding
// and SMS sender; the creation time and audit head stay.
func (t *tx) UpdateTenant(ctx context.Context, tn *core.Tenant) error {
	delete(t.tenants, tn.ID)
	branding, err := json.Marshal(tn.Branding)
	if err != nil {
		return wrap(err, "update tenant %s", tn.ID)
	}
	res, err := t.exec(ctx, `UPDATE tenants SET slug = ?, name = ?, country = ?, branding = ?, sms_from = ? WHERE id = ?`,
		tn.Slug, tn.Name, tn.Country, string(branding), tn.SMSFrom, tn.ID)
	if err != nil {
		return wrap(err, "update tenant %s", tn.ID)
	}
	return mustAffect(res, "update tenant %s", tn.ID)
}

// ListTenants implements core.Tx, ordered by slug.
func (t *tx) ListTenants(ctx context.Context) ([]core.Tenant, error) {
	rows, err := t.query(ctx, `SELECT `+tenantCols+` FROM tenants ORDER BY slug`)
	if err != nil {
		return nil, wrap(err, "list tenants")
	}
	out, err := collect(rows, scanTenant)
	return out, wrap(err, "list tenants")
}

const clientCols = `id, tenant_id, name, psa_kind, psa_ref, created_at, deleted_at`

func scanClient(sc interface{ Scan(...any) error }) (core.Client, error) {
	var c core.Client
	err := sc.Scan(&c.ID, &c.TenantID, &c.Name, &c.PSAKind, &c.PSARef, tcol(&c.CreatedAt), tcol(&c.DeletedAt))
	return c, err
}

// CreateClient implements core.Tx; an empty c.ID gets a fresh id.
func (t *tx) CreateClient(ctx context.Context, c *core.Client) error {
	newID(&c.ID, "cli")
	normTimes(&c.CreatedAt, &c.DeletedAt)
	_, err := t.exec(ctx, `INSERT INTO clients (`+clientCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.TenantID, c.Name, c.PSAKind, c.PSARef, c.CreatedAt, c.DeletedAt)
	return wrap(err, "create client")
}

// UpdateClient implements core.Tx: name and deletion time.
func (t *tx) UpdateClient(ctx context.Context, c *core.Client) error {
	normTimes(&c.DeletedAt)
	res, err := t.exec(ctx, `UPDATE clients SET name = ?, deleted_at = ? WHERE tenant_id = ? AND id = ?`,
		c.Name, c.DeletedAt, c.TenantID, c.ID)
	if err != nil {
		return wrap(err, "update client %s", c.ID)
	}
	return mustAffect(res, "update client %s", c.ID)
}

// Client implements core.Tx; a deleted client is ErrNotFound.
func (t *tx) Client(ctx context.Context, tenantID, id string) (core.Client, error) {
	c, err := scanClient(t.queryRow(ctx, `SELECT `+clientCols+` FROM clients WHERE tenant_id = ? AND id = ? AND deleted_at IS NULL`, tenantID, id))
	return c, wrap(err, "get client %s", id)
}

// ListClients implements core.Tx, ordered by name, without deleted ones.
func (t *tx) ListClients(ctx context.Context, tenantID string) ([]core.Client, error) {
	rows, err := t.query(ctx, `SELECT `+clientCols+` FROM clients WHERE tenant_id = ? AND deleted_at IS NULL ORDER BY name, id`, tenantID)
	if err != nil {
		return nil, wrap(err, "list clients")
	}
	out, err := collect(rows, scanClient)
	return out, wrap(err, "list clients")
}

// Policy implements core.Tx.
func (t *tx) Policy(ctx context.Context, tenantID, clientID string) (core.Policy, error) {
	var raw string
	err := t.queryRow(ctx, `SELECT policy FROM policies WHERE tenant_id = ? AND client_id = ?`, tenantID, clientID).Scan(&raw)
	if err != nil {
		return core.Policy{}, wrap(err, "get policy %q", clientID)
	}
	var p core.Policy
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return core.Policy{}, wrap(err, "decode policy %q", clientID)
	}
	return p, nil
}

// PolicyFor implements core.Tx: the tenant default sorts after any
// client's id, so the first row is the client's when it has one. A row
// read along with a contact or verification of the client in this
// transaction (rememberPolicy) answers without a statement.
func (t *tx) PolicyFor(ctx context.Context, tenantID, clientID string) (core.Policy, error) {
	raw, known := t.policies[policyKey{tenantID, clientID}]
	if !known {
		err := t.queryRow(ctx, `SELECT policy FROM policies WHERE tenant_id = ? AND client_id IN (?, '')
			ORDER BY client_id DESC LIMIT 1`, tenantID, clientID).Scan(&raw)
		if err != nil {
			return core.Policy{}, wrap(err, "get policy for %q", clientID)
		}
	} else if !raw.Valid {
		return core.Policy{}, notFound("get policy for %q", clientID)
	}
	var p core.Policy
	if err := json.Unmarshal([]byte(raw.String), &p); err != nil {
		return core.Policy{}, wrap(err, "decode policy for %q", clientID)
	}
	return p, nil
}

// policyKey names the effective policy of a client ("" the tenant default).
type policyKey struct{ tenantID, clientID string }

// rememberPolicy keeps the effective policy row of a client (NULL: none,
// the defaults apply) read along with another row, for PolicyFor. The
// transaction's own policy writes forget every remembered row.
func (t *tx) rememberPolicy(tenantID, clientID string, raw sql.NullString) {
	if t.policies == nil {
		t.policies = map[policyKey]sql.NullString{}
	}
	t.policies[policyKey{tenantID, clientID}] = raw
}

// PutPolicy implements core.Tx. A client id must name a client of the
// tenant; the database cannot check it because "" (the default) is no client.
func (t *tx) PutPolicy(ctx context.Context, tenantID, clientID string, p core.Policy) error {
	if clientID != "" {
		var one int
		if err := t.queryRow(ctx, `SELECT 1 FROM clients WHERE tenant_id = ? AND id = ?`, tenantID, clientID).Scan(&one); err != nil {
			return wrap(err, "put policy: client %s", clientID)
		}
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return wrap(err, "put policy %q", clientID)
	}
	t.policies = nil
	_, err = t.exec(ctx, `INSERT INTO policies (tenant_id, client_id, policy) VALUES (?, ?, ?)
		ON CONFLICT (tenant_id, client_id) DO UPDATE SET policy = excluded.policy`,
		tenantID, clientID, string(raw))
	return wrap(err, "put policy %q", clientID)
}

// DeletePolicy implements core.Tx. The tenant default ("") is never
// deleted: the admin console resets its fields instead.
func (t *tx) DeletePolicy(ctx context.Context, tenantID, clientID string) error {
	if clientID == "" {
		return core.Errorf(core.KindInvalid, "the tenant default policy cannot be deleted")
	}
	t.policies = nil
	res, err := t.exec(ctx, `DELETE FROM policies WHERE tenant_id = ? AND client_id = ?`, tenantID, clientID)
	if err != nil {
		return wrap(err, "delete policy %q", clientID)
	}
	return mustAffect(res, "delete policy %q", clientID)
}

const integrationCols = `id, tenant_id, kind, name, config, created_at, updated_at`

func scanIntegration(sc interface{ Scan(...any) error }) (core.Integration, error) {
	var in core.Integration
	err := sc.Scan(&in.ID, &in.TenantID, &in.Kind, &in.Name, &in.Config, tcol(&in.CreatedAt), tcol(&in.UpdatedAt))
	return in, err
}

// PutIntegration implements core.Tx: it creates the integration or replaces
// kind, name, config and update time of the tenant's existing one (creation
// time stays). An id held by another tenant is ErrNotFound.
func (t *tx) PutIntegration(ctx context.Context, in *core.Integration) error {
	newID(&in.ID, "int")
	normTimes(&in.CreatedAt, &in.UpdatedAt)
	res, err := t.exec(ctx, `INSERT INTO integrations (`+integrationCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name,
			config = excluded.config, updated_at = excluded.updated_at
		WHERE integrations.tenant_id = excluded.tenant_id`,
		in.ID, in.TenantID, in.Kind, in.Name, in.Config, in.CreatedAt, in.UpdatedAt)
	if err != nil {
		return wrap(err, "put integration %s", in.ID)
	}
	// No row affected: the id exists under another tenant.
	return mustAffect(res, "put integration %s", in.ID)
}

// Integration implements core.Tx.
func (t *tx) Integration(ctx context.Context, tenantID, id string) (core.Integration, error) {
	in, err := scanIntegration(t.queryRow(ctx, `SELECT `+integrationCols+` FROM integrations WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return in, wrap(err, "get integration %s", id)
}

// ListIntegrations implements core.Tx, ordered by kind and name.
func (t *tx) ListIntegrations(ctx context.Context, tenantID string) ([]core.Integration, error) {
	rows, err := t.query(ctx, `SELECT `+integrationCols+` FROM integrations WHERE tenant_id = ? ORDER BY kind, name, id`, tenantID)
	if err != nil {
		return nil, wrap(err, "list integrations")
	}
	out, err := collect(rows, scanIntegration)
	return out, wrap(err, "list integrations")
}

// collect scans every row with scan and closes rows.
func collect[T any](rows *sql.Rows, scan func(interface{ Scan(...any) error }) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
