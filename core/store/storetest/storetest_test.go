package storetest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fatalTB records Fatalf instead of stopping the test, to check that a
// missing service fails rather than skips.
type fatalTB struct {
	testing.TB
	fatal string
}

func (f *fatalTB) Fatalf(format string, args ...any) { f.fatal = fmt.Sprintf(format, args...) }

func TestDialects(t *testing.T) {
	tests := []struct {
		name, dsn, require string
		want               []string
		wantFatal          bool
	}{
		{name: "sqlite only", want: []string{store.SQLite}},
		{name: "with postgres", dsn: "postgres://x", want: []string{store.SQLite, store.Postgres}},
		{name: "required and present", dsn: "postgres://x", require: "1", want: []string{store.SQLite, store.Postgres}},
		{name: "required and missing", require: "1", wantFatal: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(storetest.EnvPostgresDSN, tc.dsn)
			t.Setenv(storetest.EnvRequireServices, tc.require)
			tb := &fatalTB{TB: t}
			got := storetest.Dialects(tb)
			if tc.wantFatal {
				assert.Contains(t, tb.fatal, storetest.EnvPostgresDSN)
				return
			}
			assert.Empty(t, tb.fatal)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestOpen(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		require.NoError(t, s.Update(t.Context(), func(tx core.Tx) error {
			return tx.CreateTenant(t.Context(), &core.Tenant{Slug: "a", Name: "A"})
		}))
	})
}

// BenchmarkCreateTenant shows the helpers work with *testing.B.
func BenchmarkCreateTenant(b *testing.B) {
	for _, d := range storetest.Dialects(b) {
		b.Run(d, func(b *testing.B) {
			s := storetest.Open(b, d)
			ctx := context.Background()
			for i := 0; b.Loop(); i++ {
				err := s.Update(ctx, func(tx core.Tx) error {
					return tx.CreateTenant(ctx, &core.Tenant{Slug: fmt.Sprint("t", i), Name: "T"})
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
