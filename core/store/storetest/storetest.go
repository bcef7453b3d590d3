// Package storetest opens real stores for tests and benchmarks: a SQLite file
// in a temporary directory always, and a fresh PostgreSQL database as well
// when COUNTERSIGN_TEST_POSTGRES_DSN names a server.
//
// Set COUNTERSIGN_TEST_REQUIRE_SERVICES=1 (as CI and the README's test
// command do) to make a missing PostgreSQL DSN fail the run instead of
// quietly testing SQLite alone. scripts/postgres.sh starts a throwaway
// server and prints a DSN to use.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/countersign/countersign/core/store"
)

// Environment variables read by this package.
const (
	// EnvPostgresDSN names a PostgreSQL server (any database on it) on which
	// Open creates a fresh database per call, e.g.
	// postgres://postgres@127.0.0.1:55433/postgres?sslmode=disable.
	EnvPostgresDSN = "COUNTERSIGN_TEST_POSTGRES_DSN"
	// EnvRequireServices, when "1", makes a missing EnvPostgresDSN fatal.
	EnvRequireServices = "COUNTERSIGN_TEST_REQUIRE_SERVICES"
)

// Dialects returns the dialects to test: store.SQLite, plus store.Postgres
// when EnvPostgresDSN is set. With EnvRequireServices=1 and no DSN it fails
// tb, so CI never passes having silently skipped PostgreSQL.
func Dialects(tb testing.TB) []string {
	tb.Helper()
	ds := []string{store.SQLite}
	if os.Getenv(EnvPostgresDSN) != "" {
		return append(ds, store.Postgres)
	}
	if os.Getenv(EnvRequireServices) == "1" {
		tb.Fatalf("storetest: %s=1 but %s is not set; start a server with `scripts/postgres.sh start DIR PORT` and export the DSN it prints", EnvRequireServices, EnvPostgresDSN)
	}
	return ds
}

// ForEachDialect runs fn as a subtest named after each of Dialects(t), each
// with its own freshly migrated store.
func ForEachDialect(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	for _, d := range Dialects(t) {
		t.Run(d, func(t *testing.T) {
			fn(t, Open(t, d))
		})
	}
}

// Open returns a migrated store of dialect that is closed (and, on
// PostgreSQL, dropped) when tb ends: store.SQLite is a file in tb.TempDir();
// store.Postgres is a new, uniquely named database on the server of
// EnvPostgresDSN, so tests may run in parallel and leave nothing behind.
// tb may be a benchmark.
func Open(tb testing.TB, dialect string, opts ...store.Option) *store.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn := newDSN(tb, ctx, dialect)
	s, err := store.Open(ctx, dialect, dsn, opts...)
	if err != nil {
		tb.Fatalf("storetest: %v", err)
	}
	// Registered after createDatabase's cleanup, so it runs first: the
	// database cannot be dropped while the store holds connections.
	tb.Cleanup(func() { s.Close() })
	return s
}

// newDSN is a fresh database of dialect for tb: a file in tb.TempDir() on
// SQLite, a new uniquely named database (dropped when tb ends) on
// PostgreSQL.
func newDSN(tb testing.TB, ctx context.Context, dialect string) string {
	tb.Helper()
	switch dialect {
	case store.SQLite:
		return filepath.Join(tb.TempDir(), "countersign.db")
	case store.Postgres:
		return createDatabase(tb, ctx)
	}
	tb.Fatalf("storetest: unknown dialect %q", dialect)
	return ""
}

// OpenTwo is Open with a second store on the same database, as another
// server process would have it (opened with opts2, without migrating);
// both are closed when tb ends.
func OpenTwo(tb testing.TB, dialect string, opts1, opts2 []store.Option) (*store.Store, *store.Store) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn := newDSN(tb, ctx, dialect)
	s1, err := store.Open(ctx, dialect, dsn, opts1...)
	if err != nil {
		tb.Fatalf("storetest: %v", err)
	}
	tb.Cleanup(func() { s1.Close() })
	s2, err := store.Open(ctx, dialect, dsn, append([]store.Option{store.SkipMigrate()}, opts2...)...)
	if err != nil {
		tb.Fatalf("storetest: %v", err)
	}
	tb.Cleanup(func() { s2.Close() })
	return s1, s2
}

// createDatabase makes a fresh database on the EnvPostgresDSN server,
// registers its removal, and returns its DSN.
func createDatabase(tb testing.TB, ctx context.Context) string {
	tb.Helper()
	base := os.Getenv(EnvPostgresDSN)
	if base == "" {
		tb.Fatalf("storetest: dialect postgres needs %s", EnvPostgresDSN)
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" {
		tb.Fatalf("storetest: %s must be a postgres:// URL: %v", EnvPostgresDSN, err)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatalf("storetest: connect to %s: %v", EnvPostgresDSN, err)
	}
	var b [6]byte
	rand.Read(b[:])
	// Only [a-z0-9_] goes in the name, so quoting it is enough.
	name := "cs_test_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
		admin.Close()
		tb.Fatalf("storetest: create database: %v", err)
	}
	tb.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// WITH (FORCE) (PostgreSQL 13+) ends connections a test leaked.
		if _, err := admin.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`); err != nil {
			tb.Errorf("storetest: drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// PostgresDSN returns the DSN of a fresh, empty PostgreSQL database on the
// EnvPostgresDSN server, dropped (connections and all) when tb ends, for
// tests that need PostgreSQL itself rather than a store: LISTEN/NOTIFY,
// several servers on one database. Without EnvPostgresDSN it skips tb, or
// fails it when EnvRequireServices=1.
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	if os.Getenv(EnvPostgresDSN) == "" {
		if os.Getenv(EnvRequireServices) == "1" {
			tb.Fatalf("storetest: %s=1 but %s is not set; start a server with `scripts/postgres.sh start DIR PORT` and export the DSN it prints", EnvRequireServices, EnvPostgresDSN)
		}
		tb.Skipf("storetest: needs PostgreSQL; set %s (scripts/postgres.sh start DIR PORT prints one)", EnvPostgresDSN)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return createDatabase(tb, ctx)
}
