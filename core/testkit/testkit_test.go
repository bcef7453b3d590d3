package testkit_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/testkit"
)

// TestCapture: a refusal wins over queued failures, queued failures are
// used one a send in order, and only a send that succeeds is recorded —
// what the engine's retry tests rely on.
func TestCapture(t *testing.T) {
	c := testkit.NewCapture("SM")
	down, gone, off := errors.New("down"), errors.New("gone"), errors.New("misconfigured")
	c.FailNext(down, gone)
	c.Refuse(off)
	_, err := c.Send(t.Context(), core.Outbound{To: "a"})
	assert.Same(t, off, err)
	assert.Equal(t, 2, c.PendingFailures(), "a refusal uses no queued failure")
	c.Refuse(nil)
	for _, want := range []error{down, gone} {
		_, err := c.Send(t.Context(), core.Outbound{To: "b"})
		assert.Same(t, want, err)
	}
	assert.Zero(t, c.PendingFailures())
	assert.Zero(t, c.Len(), "nothing failed was recorded")
	ref1, err := c.Send(t.Context(), core.Outbound{To: "c"})
	require.NoError(t, err)
	ref2, err := c.Send(t.Context(), core.Outbound{To: "d"})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(ref1, "SM"), ref1)
	assert.NotEqual(t, ref1, ref2, "every reference is unique")
	m, ref := c.LastRef(t)
	assert.Equal(t, "d", m.To)
	assert.Equal(t, ref2, ref)
	assert.Equal(t, []string{"c", "d"}, []string{c.Messages()[0].To, c.Messages()[1].To})
	assert.Equal(t, 5, c.Calls(), "every send is counted")
	c.Reset()
	assert.Zero(t, c.Len())
}

func TestClockAndLogBuffer(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	clk := testkit.NewClock(t0)
	var logs testkit.LogBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			clk.Add(time.Minute)
			_, _ = logs.Write([]byte("x"))
		})
	}
	wg.Wait()
	assert.Equal(t, t0.Add(8*time.Minute), clk.Now())
	assert.Equal(t, "xxxxxxxx", logs.String())
}
