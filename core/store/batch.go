package store

import (
	"context"
	"fmt"
	"strings"
)

// Batched writes (PostgreSQL). After [tx.BatchWrites], the writes that allow
// it — inserting and updating verifications, recording a send, queueing and
// updating an outbox item, setting a failure counter, appending to the
// audit log — are held back and sent together, as the data-modifying CTEs
// of one statement, right before the transaction's next other statement or
// its commit: one round trip instead of one each. The statement returns
// how many rows each changed, so an update that matched no row is still
// ErrNotFound, and a stale audit head still falls back to the locked read.
//
// Sub-statements of one statement see the same snapshot and not each
// other's changes, so a write to a table the batch already writes flushes
// the batch first; reads flush it too, so they see every earlier write.
// Foreign keys are checked at the end of the statement, after every
// sub-statement, so an outbox item may go with its new verification. A held
// write's error is returned by the statement or commit that sends it.
// SQLite runs each write at once: it has no data-modifying CTEs, and its
// statements cost no network trip.

// batched is one held-back write.
type batched struct {
	table string
	op    string // what its errors say it was
	// pre, when set, is a data-modifying statement whose RETURNING rows q
	// selects from by the name {pre} (the audit head's conditional advance).
	pre     string
	preArgs []any
	q       string
	args    []any
	// done is given the rows q changed (its RETURNING rows).
	done func(ctx context.Context, n int64) error
}

// BatchWrites implements core.Tx.
func (t *tx) BatchWrites() { t.batching = t.pg() }

// batch holds w back, or runs it at once when the transaction does not
// batch. Callers first call flushFor(w.table).
func (t *tx) batch(ctx context.Context, w batched) error {
	if !t.batching {
		return t.run1(ctx, w)
	}
	t.held = append(t.held, w)
	return nil
}

// flushFor sends the held writes when one of them writes table.
func (t *tx) flushFor(ctx context.Context, table string) error {
	for _, w := range t.held {
		if w.table == table {
			return t.flush(ctx)
		}
	}
	return nil
}

// run1 runs one write as its own statement.
func (t *tx) run1(ctx context.Context, w batched) error {
	q, args := w.q, w.args
	if w.pre != "" {
		q = "WITH pre AS (" + w.pre + ") " + strings.ReplaceAll(q, "{pre}", "pre")
		args = append(append([]any{}, w.preArgs...), w.args...)
	}
	res, err := t.execNow(ctx, q, args...)
	if err != nil {
		return wrap(err, "%s", w.op)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(err, "%s", w.op)
	}
	return w.done(ctx, n)
}

// flush sends the held writes: one alone as it is, several as one
// statement that returns each one's count of changed rows.
func (t *tx) flush(ctx context.Context) error {
	held := t.held
	t.held = nil
	switch len(held) {
	case 0:
		return nil
	case 1:
		return t.run1(ctx, held[0])
	}
	var (
		with, sel []string
		args      []any
		ops       []string
	)
	for i, w := range held {
		name := fmt.Sprintf("w%d", i)
		q := w.q
		if w.pre != "" {
			with = append(with, name+"p AS ("+w.pre+")")
			args = append(args, w.preArgs...)
			q = strings.ReplaceAll(q, "{pre}", name+"p")
		}
		with = append(with, name+" AS ("+q+" RETURNING 1)")
		args = append(args, w.args...)
		sel = append(sel, "(SELECT COUNT(*) FROM "+name+")")
		ops = append(ops, w.op)
	}
	counts := make([]int64, len(held))
	dest := make([]any, len(held))
	for i := range counts {
		dest[i] = &counts[i]
	}
	q := "WITH " + strings.Join(with, ", ") + " SELECT " + strings.Join(sel, ", ")
	if err := t.tx.QueryRowContext(ctx, t.rebind(q), t.args(args)...).Scan(dest...); err != nil {
		return wrap(err, "%s", strings.Join(ops, ", "))
	}
	for i, w := range held {
		if err := w.done(ctx, counts[i]); err != nil {
			return err
		}
	}
	return nil
}

// affected is a done func turning no changed row into ErrNotFound.
func affected(format string, args ...any) func(context.Context, int64) error {
	return func(_ context.Context, n int64) error {
		if n == 0 {
			return notFound(format, args...)
		}
		return nil
	}
}

// anyCount is a done func for writes that need not change a row.
func anyCount(context.Context, int64) error { return nil }
