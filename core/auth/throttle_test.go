package auth

import (
	"context"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestThrottleCountsFailuresInWindow(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	var slept []time.Duration
	th := &Throttle{Window: time.Minute, Free: 2, Max: 4, Delay: time.Second, MaxDelay: 3 * time.Second, MaxKeys: 2,
		Now:   func() time.Time { return now },
		Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
	ctx := t.Context()
	// A success is not counted.
	done, err := th.Begin(ctx, "a")
	require.NoError(t, err)
	done(true)
	for range 4 {
		done, err := th.Begin(ctx, "a")
		require.NoError(t, err)
		done(false)
	}
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second}, slept, "attempts 3 and 4 wait, doubling")
	_, err = th.Begin(ctx, "a")
	require.Equal(t, core.KindRateLimited, core.ErrorKind(err))
	after, ok := core.RetryAfter(err)
	assert.True(t, ok)
	assert.Equal(t, time.Minute, after)

	_, err = th.Begin(ctx, "b")
	require.NoError(t, err, "another key has its own count")
	_, err = th.Begin(ctx, "c")
	assert.Equal(t, core.KindRateLimited, core.ErrorKind(err), "a full table refuses new keys")

	now = now.Add(time.Minute)
	_, err = th.Begin(ctx, "a")
	assert.NoError(t, err, "the window ends")
	_, err = th.Begin(ctx, "c")
	assert.NoError(t, err, "ended windows are pruned to make room")
}

func TestThrottleDelayCapped(t *testing.T) {
	th := NewAddressThrottle()
	assert.Zero(t, th.delay(5))
	assert.Equal(t, 250*time.Millisecond, th.delay(6))
	assert.Equal(t, 500*time.Millisecond, th.delay(7))
	assert.Equal(t, 4*time.Second, th.delay(20))
}

func TestHashGateSlotsFromMemory(t *testing.T) {
	gib := uint64(1 << 30)
	assert.Equal(t, 1, slotsFor(gib/8, DefaultParams, 8), "never fewer than one")
	assert.Equal(t, 4, slotsFor(1*gib, DefaultParams, 8), "a quarter of 1 GiB holds four 64 MiB hashes")
	assert.Equal(t, 2, slotsFor(24*gib, DefaultParams, 2), "no more than the CPUs")
}

func TestHashGateRefusesWhenFull(t *testing.T) {
	g := NewHashGate(1)
	g.maxWait = 50 * time.Millisecond
	hold := make(chan struct{})
	running := make(chan struct{})
	go func() { _ = g.Do(t.Context(), func() { close(running); <-hold }) }()
	<-running
	err := g.Do(t.Context(), func() { t.Error("ran while the slot was taken") })
	require.Equal(t, core.KindUnavailable, core.ErrorKind(err))
	_, ok := core.RetryAfter(err)
	assert.True(t, ok, "a full gate says when to retry")
	close(hold)
	assert.Equal(t, 1, g.HighWater())
}
