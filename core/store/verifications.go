package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/countersign/countersign/core"
)

const verificationCols = `id, tenant_id, client_id, contact_id, destination_id, dest_kind, destination, method,
	ticket_ref, technician_id, status, secret_hash, link_token_hash, attempts, max_attempts, sends,
	note, detail, delivery_status, provider_ref, created_at, sent_at, expires_at, completed_at, verified_until, integration_id, purpose, level`

func scanVerification(sc interface{ Scan(...any) error }) (core.Verification, error) {
	var (
		v                      core.Verification
		destKind, method, stat string
		purpose, level         string
	)
	err := sc.Scan(&v.ID, &v.TenantID, &v.ClientID, &v.ContactID, &v.DestinationID, &destKind, &v.Destination, &method,
		&v.TicketRef, &v.TechnicianID, &stat, &v.SecretHash, &v.LinkTokenHash, &v.Attempts, &v.MaxAttempts, &v.Sends,
		&v.Note, &v.Detail, &v.DeliveryStatus, &v.ProviderRef,
		tcol(&v.CreatedAt), tcol(&v.SentAt), tcol(&v.ExpiresAt), tcol(&v.CompletedAt), tcol(&v.VerifiedUntil), &v.IntegrationID, &purpose, &level)
	v.DestKind, v.Method, v.Status = core.DestinationKind(destKind), core.Method(method), core.Status(stat)
	v.Purpose, v.Level = core.Purpose(purpose), core.Assurance(level)
	return v, err
}

func normVerification(v *core.Verification) {
	normTimes(&v.CreatedAt, &v.SentAt, &v.ExpiresAt, &v.CompletedAt, &v.VerifiedUntil)
}

// CreateVerification implements core.Tx; an empty id gets a fresh one. The
// contact must belong to the tenant (else ErrNotFound), and a link token hash
// already in use is ErrConflict.
func (t *tx) CreateVerification(ctx context.Context, v *core.Verification) error {
	newID(&v.ID, "ver")
	normVerification(v)
	if err := t.flushFor(ctx, "verifications"); err != nil {
		return err
	}
	return t.batch(ctx, batched{table: "verifications", op: "create verification", q: `INSERT INTO verifications (` + verificationCols + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		args: []any{v.ID, v.TenantID, v.ClientID, v.ContactID, v.DestinationID, string(v.DestKind), v.Destination, string(v.Method),
			v.TicketRef, v.TechnicianID, string(v.Status), v.SecretHash, v.LinkTokenHash, v.Attempts, v.MaxAttempts, v.Sends,
			v.Note, v.Detail, v.DeliveryStatus, v.ProviderRef,
			v.CreatedAt, v.SentAt, v.ExpiresAt, v.CompletedAt, v.VerifiedUntil, v.IntegrationID, string(v.Purpose), string(v.Level)},
		done: anyCount})
}

// Verification implements core.Tx.
func (t *tx) Verification(ctx context.Context, tenantID, id string) (core.Verification, error) {
	v, err := scanVerification(t.queryRow(ctx, `SELECT `+verificationCols+` FROM verifications WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return v, wrap(err, "get verification %s", id)
}

// LockVerification implements core.Tx.
func (t *tx) LockVerification(ctx context.Context, tenantID, id string) (core.Verification, error) {
	v, err := scanVerification(t.queryRow(ctx, `SELECT `+verificationCols+` FROM verifications WHERE tenant_id = ? AND id = ?`+t.forUpdate(), tenantID, id))
	return v, wrap(err, "lock verification %s", id)
}

// VerificationByLinkHash implements core.Tx.
func (t *tx) VerificationByLinkHash(ctx context.Context, tenantID string, hash []byte) (core.Verification, error) {
	if len(hash) == 0 {
		return core.Verification{}, notFound("get verification by link")
	}
	v, err := scanVerification(t.queryRow(ctx, `SELECT `+verificationCols+` FROM verifications WHERE tenant_id = ? AND link_token_hash = ?`, tenantID, hash))
	return v, wrap(err, "get verification by link")
}

// VerificationByProviderRef implements core.Tx. Should a provider ever reuse
// an id, the newest verification wins.
func (t *tx) VerificationByProviderRef(ctx context.Context, tenantID, ref string) (core.Verification, error) {
	if ref == "" {
		return core.Verification{}, notFound("get verification by provider ref")
	}
	v, err := scanVerification(t.queryRow(ctx, `SELECT `+verificationCols+` FROM verifications
		WHERE tenant_id = ? AND provider_ref = ? ORDER BY created_at DESC, id DESC LIMIT 1`, tenantID, ref))
	return v, wrap(err, "get verification by provider ref %q", ref)
}

// UpdateVerification implements core.Tx: it writes every field but the ids
// of the verification, tenant, client and contact and the creation time.
func (t *tx) UpdateVerification(ctx context.Context, v *core.Verification) error {
	normVerification(v)
	if err := t.flushFor(ctx, "verifications"); err != nil {
		return err
	}
	return t.batch(ctx, batched{table: "verifications", op: "update verification " + v.ID, q: `UPDATE verifications SET destination_id = ?, dest_kind = ?, destination = ?, method = ?,
		ticket_ref = ?, technician_id = ?, status = ?, secret_hash = ?, link_token_hash = ?, attempts = ?,
		max_attempts = ?, sends = ?, note = ?, detail = ?, delivery_status = ?, provider_ref = ?,
		sent_at = ?, expires_at = ?, completed_at = ?, verified_until = ?, level = ?
		WHERE tenant_id = ? AND id = ?`,
		args: []any{v.DestinationID, string(v.DestKind), v.Destination, string(v.Method),
			v.TicketRef, v.TechnicianID, string(v.Status), v.SecretHash, v.LinkTokenHash, v.Attempts,
			v.MaxAttempts, v.Sends, v.Note, v.Detail, v.DeliveryStatus, v.ProviderRef,
			v.SentAt, v.ExpiresAt, v.CompletedAt, v.VerifiedUntil, string(v.Level),
			v.TenantID, v.ID},
		done: affected("update verification %s", v.ID)})
}

// ListVerifications implements core.Tx; limit <= 0 means no limit.
func (t *tx) ListVerifications(ctx context.Context, tenantID, contactID string, limit int) ([]core.Verification, error) {
	q := `SELECT ` + verificationCols + ` FROM verifications WHERE tenant_id = ? AND contact_id = ? ORDER BY created_at DESC, id DESC`
	args := []any{tenantID, contactID}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, wrap(err, "list verifications")
	}
	out, err := collect(rows, scanVerification)
	return out, wrap(err, "list verifications")
}

// RecentVerifications implements core.Tx (index verifications_recent).
func (t *tx) RecentVerifications(ctx context.Context, tenantID string, since time.Time, limit int) ([]core.Verification, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := t.query(ctx, `SELECT `+verificationCols+` FROM verifications WHERE tenant_id = ? AND created_at >= ?
		ORDER BY created_at DESC, id DESC LIMIT ?`, tenantID, since, limit)
	if err != nil {
		return nil, wrap(err, "recent verifications")
	}
	out, err := collect(rows, scanVerification)
	return out, wrap(err, "recent verifications")
}

// LastVerified implements core.Tx: one grouped read over the contact's
// verifications (index verifications_contact).
func (t *tx) LastVerified(ctx context.Context, tenantID, contactID string) (map[string]time.Time, error) {
	rows, err := t.query(ctx, `SELECT destination_id, MAX(completed_at) FROM verifications
		WHERE tenant_id = ? AND contact_id = ? AND status = ? AND completed_at IS NOT NULL
		GROUP BY destination_id`, tenantID, contactID, string(core.StatusVerified))
	if err != nil {
		return nil, wrap(err, "last verified")
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var (
			id string
			at time.Time
		)
		if err := rows.Scan(&id, tcol(&at)); err != nil {
			return nil, wrap(err, "last verified")
		}
		out[id] = at
	}
	return out, wrap(rows.Err(), "last verified")
}

// ShieldVerifications implements core.Tx: one read, the newest closed
// verification of each contact by a window over verifications_contact
// (SQLite ≥ 3.25 and PostgreSQL both have ROW_NUMBER).
func (t *tx) ShieldVerifications(ctx context.Context, tenantID string, contactIDs []string, now time.Time) (map[string]core.Verification, error) {
	out := map[string]core.Verification{}
	if len(contactIDs) == 0 {
		return out, nil
	}
	args := []any{tenantID}
	for _, id := range contactIDs {
		args = append(args, id)
	}
	args = append(args, now)
	rows, err := t.query(ctx, `SELECT `+verificationCols+` FROM (
		SELECT `+verificationCols+`, ROW_NUMBER() OVER (PARTITION BY contact_id ORDER BY created_at DESC, id DESC) AS rn
		FROM verifications WHERE tenant_id = ? AND contact_id IN (`+placeholders(len(contactIDs))+`)
			AND (status NOT IN ('pending', 'sent') OR expires_at IS NULL OR expires_at <= ?)) v
		WHERE rn = 1`, args...)
	if err != nil {
		return nil, wrap(err, "shield verifications")
	}
	vs, err := collect(rows, scanVerification)
	if err != nil {
		return nil, wrap(err, "shield verifications")
	}
	for _, v := range vs {
		out[v.ContactID] = v
	}
	return out, nil
}

// LockOpenVerifications implements core.Tx. On PostgreSQL the contact's
// row is locked first, so that two starts for one contact run one after
// the other and the second sees the first's verification; SQLite's single
// writer already serialises them.
func (t *tx) LockOpenVerifications(ctx context.Context, tenantID, contactID string) ([]core.Verification, error) {
	if t.pg() {
		var id string
		err := t.queryRow(ctx, `SELECT id FROM contacts WHERE tenant_id = ? AND id = ? FOR UPDATE`, tenantID, contactID).Scan(&id)
		if err != nil {
			return nil, wrap(err, "lock contact %s", contactID)
		}
	}
	rows, err := t.query(ctx, `SELECT `+verificationCols+` FROM verifications
		WHERE tenant_id = ? AND contact_id = ? AND status IN ('pending', 'sent')
		ORDER BY created_at DESC, id DESC`+t.forUpdate(), tenantID, contactID)
	if err != nil {
		return nil, wrap(err, "lock open verifications")
	}
	out, err := collect(rows, scanVerification)
	return out, wrap(err, "lock open verifications")
}

// LockVerificationFor implements core.Tx. Only the verification's row is
// locked (FOR UPDATE OF on PostgreSQL); when the join finds nothing, the
// two reads are made apart so the error names what is missing. The
// effective policy of the verification's client comes along, for
// PolicyFor (rememberPolicy), and on SQLite the contact's failure count
// on its kind too, for FailureCount and SetFailureCount (rememberFailures).
func (t *tx) LockVerificationFor(ctx context.Context, tenantID, techID, id string) (core.Verification, core.Technician, error) {
	lock, failures := "", "NULL"
	if t.pg() {
		lock = " FOR UPDATE OF v"
	} else {
		// Every channel's count of the contact, for ClearFailures too.
		failures = `(SELECT group_concat(f.kind || ':' || f.n) FROM failure_counters f WHERE f.tenant_id = v.tenant_id AND f.contact_id = v.contact_id AND f.n > 0)`
	}
	var (
		tc     core.Technician
		policy sql.NullString
		n      sql.NullString
	)
	v, err := scanVerificationTech(t.queryRow(ctx, `SELECT `+prefixCols("v.", verificationCols)+`, `+prefixCols("t.", technicianCols)+`,
			(SELECT p.policy FROM policies p WHERE p.tenant_id = v.tenant_id AND p.client_id IN (v.client_id, '')
				ORDER BY p.client_id DESC LIMIT 1), `+failures+`
		FROM verifications v JOIN technicians t ON t.tenant_id = v.tenant_id AND t.id = ?
		WHERE v.tenant_id = ? AND v.id = ?`+lock, techID, tenantID, id), &tc, &policy, &n)
	if errors.Is(err, sql.ErrNoRows) {
		if tc, err = t.Technician(ctx, tenantID, techID); err != nil {
			return core.Verification{}, core.Technician{}, fmt.Errorf("technician: %w", err)
		}
		v, err = t.LockVerification(ctx, tenantID, id)
		return v, tc, err
	}
	if err != nil {
		return core.Verification{}, core.Technician{}, wrap(err, "lock verification %s", id)
	}
	t.rememberPolicy(tenantID, v.ClientID, policy)
	if !t.pg() {
		if err := t.rememberContactFailures(tenantID, v.ContactID, n.String); err != nil {
			return core.Verification{}, core.Technician{}, err
		}
	}
	return v, tc, nil
}

// rememberContactFailures remembers every channel's count of a contact
// from "kind:n,kind:n" (the kinds with failures; the others count 0), on
// SQLite only (see rememberFailures).
func (t *tx) rememberContactFailures(tenantID, contactID, counts string) error {
	if t.failuresOf == nil {
		t.failuresOf = map[contactRef]bool{}
	}
	for _, kn := range strings.Split(counts, ",") {
		if kn == "" {
			continue
		}
		k, v, _ := strings.Cut(kn, ":")
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("store: failure count %q: %w", kn, err)
		}
		t.rememberFailures(tenantID, contactID, core.DestinationKind(k), n)
	}
	t.failuresOf[contactRef{tenantID, contactID}] = true
	return nil
}

// contactRef names a contact of a tenant.
type contactRef struct{ tenantID, contactID string }

// failureKey names a contact's consecutive-failure counter on a kind.
type failureKey struct {
	tenantID, contactID string
	kind                core.DestinationKind
}

// rememberFailures keeps a failure count read along with another row, on
// SQLite only: there the writer's transaction is the only one writing
// until it commits, so the count stays true but for the transaction's own
// writes, which SetFailureCount records. On PostgreSQL a count read with
// a lock may predate a change committed while the lock was awaited.
func (t *tx) rememberFailures(tenantID, contactID string, kind core.DestinationKind, n int) {
	if t.failures == nil {
		t.failures = map[failureKey]int{}
	}
	t.failures[failureKey{tenantID, contactID, kind}] = n
}

// scanVerificationTech scans a verification followed by a technician.
func scanVerificationTech(row interface{ Scan(...any) error }, tc *core.Technician, extra ...any) (core.Verification, error) {
	var (
		v                      core.Verification
		destKind, method, stat string
		role, purpose, level   string
	)
	err := row.Scan(append([]any{&v.ID, &v.TenantID, &v.ClientID, &v.ContactID, &v.DestinationID, &destKind, &v.Destination, &method,
		&v.TicketRef, &v.TechnicianID, &stat, &v.SecretHash, &v.LinkTokenHash, &v.Attempts, &v.MaxAttempts, &v.Sends,
		&v.Note, &v.Detail, &v.DeliveryStatus, &v.ProviderRef,
		tcol(&v.CreatedAt), tcol(&v.SentAt), tcol(&v.ExpiresAt), tcol(&v.CompletedAt), tcol(&v.VerifiedUntil), &v.IntegrationID, &purpose, &level,
		&tc.ID, &tc.TenantID, &tc.Email, &tc.Name, &role, &tc.PasswordHash, &tc.TOTPSecret, &tc.LastTOTPStep,
		&tc.FailedLogins, tcol(&tc.LockedUntil), tcol(&tc.CreatedAt),
		tcol(&tc.DisabledAt), &tc.SessionEpoch, tcol(&tc.LastLoginAt)}, extra...)...)
	v.DestKind, v.Method, v.Status = core.DestinationKind(destKind), core.Method(method), core.Status(stat)
	tc.Role = core.Role(role)
	v.Purpose, v.Level = core.Purpose(purpose), core.Assurance(level)
	return v, err
}

// prefixCols qualifies each column of a comma-separated list with p.
func prefixCols(p, cols string) string {
	fields := strings.Split(cols, ",")
	for i, f := range fields {
		fields[i] = p + strings.TrimSpace(f)
	}
	return strings.Join(fields, ", ")
}

// RecordSend implements core.Tx; an empty id gets a fresh one.
func (t *tx) RecordSend(ctx context.Context, s *core.Send) error {
	newID(&s.ID, "snd")
	normTimes(&s.At)
	if err := t.flushFor(ctx, "verification_sends"); err != nil {
		return err
	}
	return t.batch(ctx, batched{table: "verification_sends", op: "record send", q: `INSERT INTO verification_sends (id, tenant_id, verification_id, contact_id, destination, technician_id, method, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		args: []any{s.ID, s.TenantID, s.VerificationID, s.ContactID, s.Destination, s.TechnicianID, string(s.Method), s.At},
		done: anyCount})
}

// DeleteSends implements core.Tx.
func (t *tx) DeleteSends(ctx context.Context, tenantID, verificationID string) error {
	if err := t.flushFor(ctx, "verification_sends"); err != nil {
		return err
	}
	return t.batch(ctx, batched{table: "verification_sends", op: "delete sends of " + verificationID,
		q: `DELETE FROM verification_sends WHERE tenant_id = ? AND verification_id = ?`, args: []any{tenantID, verificationID},
		done: anyCount})
}

// CountSends implements core.Tx: sends at or after f.Since matching every
// non-empty field of f.
func (t *tx) CountSends(ctx context.Context, tenantID string, f core.SendFilter) (int, error) {
	if f.Since.IsZero() {
		return 0, fmt.Errorf("store: count sends: %w", core.Errorf(core.KindInvalid, "a start time is required to count sends"))
	}
	where := []string{"tenant_id = ?", "at >= ?"}
	args := []any{tenantID, f.Since}
	for _, c := range []struct{ col, val string }{
		{"contact_id", f.ContactID},
		{"destination", f.Destination},
		{"technician_id", f.TechnicianID},
		{"method", string(f.Method)},
	} {
		if c.val != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.val)
		}
	}
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM verification_sends WHERE `+strings.Join(where, " AND "), args...).Scan(&n)
	return n, wrap(err, "count sends")
}

// SendStats implements core.Tx: one statement of scalar subqueries, each
// answered by the index its own count uses (the same indexes as
// CountSends and FailureCount).
func (t *tx) SendStats(ctx context.Context, tenantID string, q core.SendStatsQuery) (core.SendStats, error) {
	if q.Hour.IsZero() || q.Day.IsZero() || q.Year.IsZero() {
		return core.SendStats{}, fmt.Errorf("store: send stats: %w", core.Errorf(core.KindInvalid, "the windows' starts are required"))
	}
	var (
		s                      core.SendStats
		year, issues, optedOut int
	)
	err := t.queryRow(ctx, `SELECT
		(SELECT COUNT(*) FROM verification_sends WHERE tenant_id = ? AND contact_id = ? AND at >= ?),
		(SELECT COUNT(*) FROM verification_sends WHERE tenant_id = ? AND destination = ? AND at >= ?),
		(SELECT COUNT(*) FROM verification_sends WHERE tenant_id = ? AND technician_id = ? AND at >= ?),
		(SELECT COUNT(*) FROM verification_sends WHERE tenant_id = ? AND at >= ?),
		(SELECT COUNT(*) FROM (SELECT 1 FROM verification_sends WHERE tenant_id = ? AND destination = ? AND at >= ? LIMIT 1) y),
		COALESCE((SELECT n FROM failure_counters WHERE tenant_id = ? AND contact_id = ? AND kind = ?), 0),
		(SELECT COUNT(*) FROM channel_issues WHERE tenant_id = ? AND channel = ?),
		(SELECT COUNT(*) FROM sms_optouts WHERE tenant_id = ? AND phone = ? AND opted_out = ?),
		(SELECT COUNT(*) FROM verifications WHERE tenant_id = ? AND contact_id = ? AND status IN ('pending', 'sent'))`,
		tenantID, q.ContactID, q.Hour,
		tenantID, q.Destination, q.Hour,
		tenantID, q.TechnicianID, q.Hour,
		tenantID, q.Day,
		tenantID, q.Destination, q.Year,
		tenantID, q.ContactID, string(q.Kind),
		tenantID, q.Channel,
		tenantID, q.Destination, true,
		tenantID, q.ContactID).
		Scan(&s.ContactHour, &s.DestinationHour, &s.TechnicianHour, &s.TenantDay, &year, &s.Failures, &issues, &optedOut, &s.Open)
	s.DestinationYear, s.ChannelIssue, s.OptedOut = year > 0, issues > 0, optedOut > 0
	return s, wrap(err, "send stats")
}

// FailureCount implements core.Tx; a contact with no failures counts 0.
// A count remembered in the transaction (rememberFailures) answers without
// a statement.
func (t *tx) FailureCount(ctx context.Context, tenantID, contactID string, kind core.DestinationKind) (int, error) {
	if n, ok := t.failures[failureKey{tenantID, contactID, kind}]; ok {
		return n, nil
	}
	if t.failuresOf[contactRef{tenantID, contactID}] {
		return 0, nil // every kind with failures is remembered
	}
	var n int
	err := t.queryRow(ctx, `SELECT n FROM failure_counters WHERE tenant_id = ? AND contact_id = ? AND kind = ?`,
		tenantID, contactID, string(kind)).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, wrap(err, "get failure count")
}

// SetFailureCount implements core.Tx. The contact must belong to the tenant
// (else ErrNotFound).
func (t *tx) SetFailureCount(ctx context.Context, tenantID, contactID string, kind core.DestinationKind, n int, at time.Time) error {
	key := failureKey{tenantID, contactID, kind}
	cur, ok := t.failures[key]
	if !ok && t.failuresOf[contactRef{tenantID, contactID}] {
		cur, ok = 0, true // remembered as no failures
	}
	if ok {
		if cur == n {
			// Already so (a success resetting no failures): the count is
			// all that is read of the row. The contact is the one the
			// count was read with, so it belongs to the tenant.
			return nil
		}
		t.failures[key] = n
	}
	if err := t.flushFor(ctx, "failure_counters"); err != nil {
		return err
	}
	return t.batch(ctx, batched{table: "failure_counters", op: "set failure count", q: `INSERT INTO failure_counters (tenant_id, contact_id, kind, n, at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, contact_id, kind) DO UPDATE SET n = excluded.n, at = excluded.at`,
		args: []any{tenantID, contactID, string(kind), n, at}, done: anyCount})
}

// AddFailure implements core.Tx: one upsert adding to the row as it is
// when the statement runs (on PostgreSQL, the row is locked and read again
// after a concurrent change commits), never a sum computed from an earlier
// read. The contact must belong to the tenant (else ErrNotFound).
func (t *tx) AddFailure(ctx context.Context, tenantID, contactID string, kind core.DestinationKind, at time.Time) (int, error) {
	var n int
	err := t.queryRow(ctx, `INSERT INTO failure_counters (tenant_id, contact_id, kind, n, at) VALUES (?, ?, ?, 1, ?)
		ON CONFLICT (tenant_id, contact_id, kind) DO UPDATE SET n = failure_counters.n + 1, at = excluded.at
		RETURNING n`, tenantID, contactID, string(kind), at).Scan(&n)
	if err != nil {
		return 0, wrap(err, "add failure")
	}
	if _, ok := t.failures[failureKey{tenantID, contactID, kind}]; ok || t.failuresOf[contactRef{tenantID, contactID}] {
		t.rememberFailures(tenantID, contactID, kind, n)
	}
	return n, nil
}

// ClearFailures implements core.Tx: one UPDATE of the contact's rows, held
// back with the success's other writes (batch) on PostgreSQL, where a
// concurrent AddFailure waits for it and then adds to what it left. On
// SQLite, when every count of the contact is remembered (read along with
// the verification) and none is to change, there is no statement.
func (t *tx) ClearFailures(ctx context.Context, tenantID, contactID string, kind core.DestinationKind, locked int, at time.Time) error {
	clears := func(k core.DestinationKind, n int) bool { return n > 0 && (k == kind || n >= locked) }
	if t.failuresOf[contactRef{tenantID, contactID}] {
		changed := false
		for key, n := range t.failures {
			if key.tenantID == tenantID && key.contactID == contactID && clears(key.kind, n) {
				t.failures[key], changed = 0, true
			}
		}
		if !changed {
			return nil
		}
	} else {
		for key, n := range t.failures {
			if key.tenantID == tenantID && key.contactID == contactID && clears(key.kind, n) {
				t.failures[key] = 0
			}
		}
	}
	if err := t.flushFor(ctx, "failure_counters"); err != nil {
		return err
	}
	return t.batch(ctx, batched{table: "failure_counters", op: "clear failures", q: `UPDATE failure_counters SET n = 0, at = ?
		WHERE tenant_id = ? AND contact_id = ? AND n > 0 AND (kind = ? OR n >= ?)`,
		args: []any{at, tenantID, contactID, string(kind), locked}, done: anyCount})
}

// PushStopLifted implements core.Tx.
func (t *tx) PushStopLifted(ctx context.Context, tenantID, contactID string) (time.Time, error) {
	var at time.Time
	err := t.queryRow(ctx, `SELECT at FROM push_stop_lifts WHERE tenant_id = ? AND contact_id = ?`,
		tenantID, contactID).Scan(tcol(&at))
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	return at, wrap(err, "get push stop lift")
}

// LiftPushStop implements core.Tx. The contact must belong to the tenant.
func (t *tx) LiftPushStop(ctx context.Context, tenantID, contactID string, at time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO push_stop_lifts (tenant_id, contact_id, at) VALUES (?, ?, ?)
		ON CONFLICT (tenant_id, contact_id) DO UPDATE SET at = excluded.at`, tenantID, contactID, normTime(at))
	return wrap(err, "lift push stop")
}
