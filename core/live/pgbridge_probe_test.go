package live

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core/store/storetest"
)

// TestListenerProbe: after HealthEvery of silence the listener notifies
// itself; while its LISTEN works the probe comes back and the connection
// stays, and once the subscription is lost on a connection that is still
// up (UNLISTEN here; a pooler or a server dropping it in life) the
// listener gives up within HealthEvery plus the probe's wait, instead of
// waiting forever while a ping keeps succeeding.
func TestListenerProbe(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	b := NewPGBridge(NewHub(0), dsn, slog.New(slog.NewTextHandler(io.Discard, nil)))
	b.HealthEvery = 100 * time.Millisecond
	conn, err := pgx.Connect(t.Context(), dsn)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	_, err = conn.Exec(t.Context(), "LISTEN "+Channel)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(t.Context(), 800*time.Millisecond)
	err = b.listen(ctx, conn)
	cancel()
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "a listener whose probes come back keeps listening: %v", err)

	_, err = conn.Exec(t.Context(), "UNLISTEN *")
	require.NoError(t, err)
	start := time.Now()
	ctx, cancel = context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	err = b.listen(ctx, conn)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "did not come back")
	assert.Less(t, time.Since(start), 2*time.Second, "noticed within HealthEvery and the probe's wait")
	require.NoError(t, conn.Ping(t.Context()), "the connection itself is fine: a ping would never have noticed")
}
