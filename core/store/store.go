// Package store implements [core.Store] over database/sql for SQLite
// (mattn/go-sqlite3) and PostgreSQL (pgx).
//
// Queries are written once with ? placeholders and rebound to $n for
// PostgreSQL; dialect-specific DDL lives only in the embedded per-dialect
// migrations (goose v3). Every tenant-data query names its tenant, and driver
// errors become core kinds by error code: a missing row is [core.ErrNotFound],
// a unique violation [core.ErrConflict], and a foreign-key violation
// [core.ErrNotFound] too, because the row it points at does not exist for
// that tenant (another tenant's row must look exactly like a missing one).
//
// Times are stored in UTC with microsecond precision (PostgreSQL's), the zero
// time as NULL. Create and update methods normalise the times of the value
// they are given the same way, so it compares equal to what is read back.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/countersign/countersign/core"

	_ "github.com/jackc/pgx/v5/stdlib" // registers driver "pgx"
	_ "github.com/mattn/go-sqlite3"    // registers driver "sqlite3"
)

// Dialect names accepted by [Open].
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Interface guards.
var (
	_ core.Store = (*Store)(nil)
	_ core.Tx    = (*tx)(nil)
)

// maxRetries is how many times Update re-runs fn after a PostgreSQL
// serialization failure or deadlock before giving up.
const maxRetries = 4

// Store is a [core.Store] on SQLite or PostgreSQL. It is safe for concurrent use.
type Store struct {
	dialect string
	// writer runs Update. On SQLite it holds one connection, so write
	// transactions queue in Go instead of failing with SQLITE_BUSY; on
	// PostgreSQL it is the same pool as reader.
	writer *sql.DB
	reader *sql.DB
	// heads caches each tenant's audit head (seq and hash) as the last
	// append of this process left it, so that an append need not read it
	// first. It is only a guess: the append advances the head on the
	// condition that it still is the cached one, and reads it (locked)
	// when it is not — another process, a concurrent transaction or a
	// rollback moved it.
	heads sync.Map // tenant id → auditHead
}

// Option changes how [Open] sets up a Store.
type Option func(*options)

type options struct {
	skipMigrate bool
	roundTrips  *atomic.Int64 // CountRoundTrips
}

// SkipMigrate makes [Open] leave the schema alone; call [Store.Migrate]
// yourself (e.g. from `countersign migrate`).
func SkipMigrate() Option { return func(o *options) { o.skipMigrate = true } }

// Open connects to the database and, unless [SkipMigrate] is given, migrates
// it to the latest schema. dialect is [SQLite] (dsn is a file path or
// "file:" URI, never ":memory:", which would give each pooled connection its
// own database) or [Postgres] (dsn is a pgx connection string or URL).
func Open(ctx context.Context, dialect, dsn string, opts ...Option) (*Store, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	s := &Store{dialect: dialect}
	switch dialect {
	case SQLite:
		w, err := openDB("sqlite3", sqliteDSN(dsn, true), o.roundTrips)
		if err != nil {
			return nil, fmt.Errorf("store: open sqlite writer: %w", err)
		}
		w.SetMaxOpenConns(1)
		// Keep the one connection: reopening it would redo the pragmas.
		w.SetMaxIdleConns(1)
		w.SetConnMaxLifetime(0)
		r, err := openDB("sqlite3", sqliteDSN(dsn, false), o.roundTrips)
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("store: open sqlite reader: %w", err)
		}
		r.SetMaxOpenConns(max(4, runtime.NumCPU()))
		r.SetMaxIdleConns(max(4, runtime.NumCPU()))
		s.writer, s.reader = w, r
	case Postgres:
		db, err := openDB("pgx", dsn, o.roundTrips)
		if err != nil {
			return nil, fmt.Errorf("store: open postgres: %w", err)
		}
		// database/sql keeps only 2 idle connections by default; a busy
		// server would then open and close connections constantly.
		db.SetMaxIdleConns(10)
		db.SetConnMaxIdleTime(5 * time.Minute)
		s.writer, s.reader = db, db
	default:
		return nil, fmt.Errorf("store: open: unknown dialect %q (want %q or %q): %w", dialect, SQLite, Postgres, core.ErrInvalid)
	}
	if err := s.writer.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: connect %s: %w", dialect, err)
	}
	if !o.skipMigrate {
		if err := s.Migrate(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// sqliteDSN adds our pragmas to a file path in pocketbase's order:
// busy_timeout first, so setting the others cannot fail with SQLITE_BUSY
// while another process holds the file. The writer begins transactions with
// BEGIN IMMEDIATE, taking the write lock up front instead of failing to
// upgrade a read lock half-way through. Readers stay deferred and are
// query-only, so a write inside View fails on SQLite as it does on
// PostgreSQL instead of passing unnoticed. Each connection keeps its
// prepared statements (_stmt_cache_size): re-parsing the same SQL in every
// transaction cost about a fifth of a verification's CPU time.
func sqliteDSN(dsn string, writer bool) string {
	base, extra, _ := strings.Cut(dsn, "?")
	if !strings.HasPrefix(base, "file:") {
		base = "file:" + base
	}
	q := "_busy_timeout=5000&_journal_mode=WAL&_synchronous=NORMAL&_foreign_keys=on&_stmt_cache_size=128"
	if writer {
		q += "&_txlock=immediate"
	} else {
		q += "&_txlock=deferred&_query_only=1"
	}
	if extra != "" {
		q += "&" + extra
	}
	return base + "?" + q
}

// Close closes the connection pools.
func (s *Store) Close() error {
	err := s.writer.Close()
	if s.reader != s.writer {
		err = errors.Join(err, s.reader.Close())
	}
	return err
}

// Dialect returns [SQLite] or [Postgres].
func (s *Store) Dialect() string { return s.dialect }

// DB returns the pool that Update uses, for tests and benchmarks that need
// raw SQL (e.g. to tamper with the audit log). Queries on it must use the
// dialect's own placeholders.
func (s *Store) DB() *sql.DB { return s.writer }

// Update runs fn in a read-write transaction, committing when fn returns nil.
// On PostgreSQL a serialization failure or deadlock re-runs fn (up to a few
// times), which is why fn must have no outside effects.
func (s *Store) Update(ctx context.Context, fn func(core.Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := s.run(ctx, s.writer, nil, fn)
		if err == nil || attempt >= maxRetries || !retryable(err) {
			return err
		}
		// Short, growing pause so the transaction we collided with can finish.
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(time.Duration(attempt+1) * 5 * time.Millisecond):
		}
	}
}

// View runs fn in a read-only transaction.
func (s *Store) View(ctx context.Context, fn func(core.Tx) error) error {
	return s.run(ctx, s.reader, &sql.TxOptions{ReadOnly: true}, fn)
}

func (s *Store) run(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(core.Tx) error) (err error) {
	sqlTx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			sqlTx.Rollback()
			panic(p)
		}
	}()
	t := &tx{tx: sqlTx, dialect: s.dialect, s: s}
	err = fn(t)
	if err == nil {
		err = t.flush(ctx)
	}
	if err != nil {
		sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// tx implements core.Tx on one database/sql transaction.
type tx struct {
	tx      *sql.Tx
	dialect string
	s       *Store
	// Reads that one transaction makes several times (a start reads the
	// tenant and its channel row for the message, the country rules and
	// the outbox) are answered from these after the first; the writes of
	// those rows in the transaction (UpdateTenant, PutChannels) forget them.
	tenants  map[string]core.Tenant
	channels map[string]channelsRead
	// policies holds effective policy rows read along with a contact or a
	// verification (rememberPolicy); PutPolicy and DeletePolicy forget them.
	policies map[policyKey]sql.NullString
	// failures holds failure counts read along with a verification, on
	// SQLite (rememberFailures), kept up to date by SetFailureCount.
	failures map[failureKey]int
	// failuresOf names the contacts whose every kind's count is in
	// failures (rememberContactFailures): a kind absent there counts 0.
	failuresOf map[contactRef]bool
	// batching and held: see batch.go.
	batching bool
	held     []batched
}

type channelsRead struct {
	row core.ChannelsRow
	err error
}

func (t *tx) pg() bool { return t.dialect == Postgres }

// forUpdate returns the row-locking suffix where the dialect has one. SQLite
// needs none: its single writer connection already serialises writers.
func (t *tx) forUpdate() string {
	if t.pg() {
		return " FOR UPDATE"
	}
	return ""
}

// forNoKeyUpdate is forUpdate for a row whose key the transaction leaves
// alone: it still excludes other writers of the row, but not inserts of
// rows that reference it by foreign key (which take FOR KEY SHARE), so a
// transaction that inserts a tenant's rows and then appends to its audit
// log does not deadlock with another doing the same.
func (t *tx) forNoKeyUpdate() string {
	if t.pg() {
		return " FOR NO KEY UPDATE"
	}
	return ""
}

// exec, query and queryRow send the held writes (batch.go) first, so that
// every statement sees them.
func (t *tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	return t.execNow(ctx, q, args...)
}

func (t *tx) execNow(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.rebind(q), t.args(args)...)
}

func (t *tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	return t.tx.QueryContext(ctx, t.rebind(q), t.args(args)...)
}

// queryRow returns the held writes' error, if any, through its Scan.
func (t *tx) queryRow(ctx context.Context, q string, args ...any) row {
	if err := t.flush(ctx); err != nil {
		return row{err: err}
	}
	return row{row: t.tx.QueryRowContext(ctx, t.rebind(q), t.args(args)...)}
}

// row is a *sql.Row, or the error that kept it from being queried.
type row struct {
	row *sql.Row
	err error
}

func (r row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	return r.row.Scan(dest...)
}

// rebind turns ? placeholders into $1, $2, … for PostgreSQL, leaving string
// literals alone.
func (t *tx) rebind(q string) string {
	if !t.pg() {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n, quoted := 0, false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			quoted = !quoted
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// args converts times to the stored form: NULL for the zero time, else UTC
// microseconds, as unix nanoseconds on SQLite (so they compare as integers)
// and as timestamptz on PostgreSQL.
func (t *tx) args(args []any) []any {
	out := make([]any, len(args)) // callers may reuse their slice
	for i, a := range args {
		out[i] = a
		if v, ok := a.(time.Time); ok {
			switch {
			case v.IsZero():
				out[i] = nil
			case t.pg():
				out[i] = normTime(v)
			default:
				out[i] = normTime(v).UnixNano()
			}
		}
	}
	return out
}

// normTime returns v as the store keeps it: UTC, microseconds, no monotonic
// reading; the zero time stays zero.
func normTime(v time.Time) time.Time {
	if v.IsZero() {
		return time.Time{}
	}
	return v.UTC().Truncate(time.Microsecond)
}

// normTimes normalises times in place (see normTime).
func normTimes(ts ...*time.Time) {
	for _, p := range ts {
		*p = normTime(*p)
	}
}

// timeCol scans a stored time: int64 nanoseconds (SQLite), time.Time
// (PostgreSQL) or NULL (the zero time).
type timeCol struct{ p *time.Time }

func tcol(p *time.Time) timeCol { return timeCol{p} }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.p = time.Time{}
	case int64:
		*c.p = time.Unix(0, v).UTC()
	case time.Time:
		*c.p = v.UTC()
	default:
		return fmt.Errorf("store: cannot scan %T into a time", src)
	}
	return nil
}

// placeholders returns "?, ?, …" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// escapeLike escapes LIKE wildcards in s for use with ESCAPE '\'.
func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// newID fills *id with a fresh id when the caller left it empty.
func newID(id *string, prefix string) {
	if *id == "" {
		*id = core.NewID(prefix)
	}
}
