package store

import (
	"io/fs"
	"path"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMigrationVersionsMatch keeps the dialects in step: a version must mean
// the same schema change on SQLite and PostgreSQL.
func TestMigrationVersionsMatch(t *testing.T) {
	versions := func(dialect string) []int64 {
		t.Helper()
		entries, err := fs.ReadDir(migrations, "migrations/"+dialect)
		require.NoError(t, err)
		var vs []int64
		for _, e := range entries {
			name := e.Name()
			require.Equal(t, ".sql", path.Ext(name), "unexpected file %s/%s", dialect, name)
			num, _, ok := strings.Cut(name, "_")
			require.True(t, ok, "migration %s/%s is not named NNNNN_description.sql", dialect, name)
			v, err := strconv.ParseInt(num, 10, 64)
			require.NoError(t, err, "migration %s/%s", dialect, name)
			vs = append(vs, v)
		}
		return vs
	}
	sqlite, postgres := versions(SQLite), versions(Postgres)
	require.NotEmpty(t, sqlite)
	assert.Equal(t, sqlite, postgres)
}

func TestRebind(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "a = ? AND b = ?", "a = $1 AND b = $2"},
		{"literal kept", `x LIKE ? ESCAPE '\' AND y = '?'`, `x LIKE $1 ESCAPE '\' AND y = '?'`},
		{"none", "SELECT 1", "SELECT 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, (&tx{dialect: Postgres}).rebind(tc.in))
			assert.Equal(t, tc.in, (&tx{dialect: SQLite}).rebind(tc.in))
		})
	}
}

func TestSQLiteDSN(t *testing.T) {
	assert.Equal(t, "file:/x/db?_busy_timeout=5000&_journal_mode=WAL&_synchronous=NORMAL&_foreign_keys=on&_stmt_cache_size=128&_txlock=immediate",
		sqliteDSN("/x/db", true))
	assert.Equal(t, "file:/x/db?_busy_timeout=5000&_journal_mode=WAL&_synchronous=NORMAL&_foreign_keys=on&_stmt_cache_size=128&_txlock=deferred&_query_only=1&cache=private",
		sqliteDSN("file:/x/db?cache=private", false))
}
