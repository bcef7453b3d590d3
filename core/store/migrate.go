package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrations holds one directory per dialect with the same version numbers,
// so a version means the same schema on both (TestMigrationVersionsMatch).
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// Migrate applies every pending migration. On PostgreSQL it holds an
// advisory lock meanwhile, so several nodes starting at once migrate exactly
// once; SQLite has a single writer connection and needs no lock.
func (s *Store) Migrate(ctx context.Context) error {
	p, err := s.provider()
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("store: migrate %s: %w", s.dialect, err)
	}
	return nil
}

func (s *Store) provider() (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations/"+s.dialect)
	if err != nil {
		return nil, fmt.Errorf("store: migrations for %s: %w", s.dialect, err)
	}
	var (
		dialect goose.Dialect
		opts    []goose.ProviderOption
	)
	switch s.dialect {
	case SQLite:
		dialect = goose.DialectSQLite3
	case Postgres:
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, fmt.Errorf("store: migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	// Migration numbers are ranges per feature, so a release can bring a
	// number below one a database already has (00150 after 00170): it is
	// applied, not refused as "missing". Each migration stands alone.
	opts = append(opts, goose.WithAllowOutofOrder(true))
	p, err := goose.NewProvider(dialect, s.writer, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("store: migrations for %s: %w", s.dialect, err)
	}
	return p, nil
}
