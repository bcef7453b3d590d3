package psa_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

func TestLimiter(t *testing.T) {
	var n atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
	t.Cleanup(ts.Close)
	get := func(d *psa.Doer, op string) error {
		resp, err := d.Do(t.Context(), op, func(ctx context.Context) (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodGet, ts.URL, nil)
		})
		if err == nil {
			resp.Body.Close()
		}
		return err
	}

	t.Run("per op", func(t *testing.T) {
		n.Store(0)
		d := psa.Deps{}.Doer()
		d.Limit = psa.NewLimiter(3, time.Hour, 3, true)
		for range 3 {
			require.NoError(t, get(d, "GET /a"))
		}
		err := get(d, "GET /a")
		require.Error(t, err, "the fourth call in the hour waits far longer than a person would")
		assert.ErrorIs(t, err, core.ErrRateLimited)
		assert.Contains(t, err.Error(), "rate limit")
		assert.Equal(t, int32(3), n.Load(), "the refused call never reached the PSA")
		require.NoError(t, get(d, "GET /b"), "another endpoint has its own budget")
	})
	t.Run("shared, short waits are waited", func(t *testing.T) {
		n.Store(0)
		d := psa.Deps{}.Doer()
		d.Limit = psa.NewLimiter(20, time.Second, 1, false)
		start := time.Now()
		for range 3 {
			require.NoError(t, get(d, "GET /a"))
		}
		assert.GreaterOrEqual(t, time.Since(start), 90*time.Millisecond, "20/s with no burst spaces calls 50 ms apart")
		assert.Equal(t, int32(3), n.Load())
	})
	t.Run("cancelled while waiting", func(t *testing.T) {
		l := psa.NewLimiter(1, time.Second, 1, false)
		now := time.Now()
		require.NoError(t, l.Wait(t.Context(), "op", now))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		assert.ErrorIs(t, l.Wait(ctx, "op", now), context.Canceled)
	})
}
