package store

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/countersign/countersign/core"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"
)

// PostgreSQL SQLSTATE codes we translate
// (https://www.postgresql.org/docs/current/errcodes-appendix.html).
const (
	pgUniqueViolation      = "23505"
	pgForeignKeyViolation  = "23503"
	pgSerializationFailure = "40001"
	pgDeadlockDetected     = "40P01"
)

// wrap names the operation and translates driver errors to core kinds by
// code, never by message text. The driver error stays in the chain (and the
// text) for logs; errors.Is against the core sentinel is what callers use.
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	op := fmt.Sprintf(format, args...)
	if kind := errKind(err); kind != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: %s: %w", op, kind)
		}
		return fmt.Errorf("store: %s: %w: %w", op, kind, err)
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

// errKind returns the core sentinel for err, or nil when err has no kind.
// A foreign-key violation means the row pointed at does not exist for this
// tenant, which Tx reports as not found, like any other tenant's row.
func errKind(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return core.ErrNotFound
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.ExtendedCode {
		case sqlite3.ErrConstraintUnique, sqlite3.ErrConstraintPrimaryKey:
			return core.ErrConflict
		case sqlite3.ErrConstraintForeignKey:
			return core.ErrNotFound
		}
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case pgUniqueViolation:
			return core.ErrConflict
		case pgForeignKeyViolation:
			return core.ErrNotFound
		}
	}
	return nil
}

// retryable reports whether err means PostgreSQL gave up on the transaction
// so another could proceed; running it again normally succeeds.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == pgSerializationFailure || pe.Code == pgDeadlockDetected
	}
	return false
}

// notFound is the error for an update that matched no row of the tenant.
func notFound(format string, args ...any) error {
	return fmt.Errorf("store: %s: %w", fmt.Sprintf(format, args...), core.ErrNotFound)
}

// mustAffect turns an update that matched no row into ErrNotFound.
func mustAffect(res sql.Result, format string, args ...any) error {
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(err, format, args...)
	}
	if n == 0 {
		return notFound(format, args...)
	}
	return nil
}
