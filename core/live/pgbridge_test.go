package live_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/live"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a log sink safe for the bridge's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// node is one server's hub and bridge.
type node struct {
	hub    *live.Hub
	bridge *live.PGBridge
	logs   *syncBuffer
}

// startNode runs a bridge on dsn until the test ends and waits until it
// listens.
func startNode(t *testing.T, dsn string) node {
	t.Helper()
	n := node{hub: live.NewHub(0), logs: &syncBuffer{}}
	n.bridge = live.NewPGBridge(n.hub, dsn, slog.New(slog.NewTextHandler(n.logs, nil)))
	n.bridge.MinBackoff, n.bridge.MaxBackoff = 50*time.Millisecond, 500*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.bridge.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("the bridge did not stop when its context ended")
		}
	})
	select {
	case <-n.bridge.Ready():
	case <-time.After(10 * time.Second):
		t.Fatalf("bridge never listened; logs:\n%s", n.logs.String())
	}
	return n
}

// next waits up to d for s's next message.
func next(t *testing.T, s *live.Subscription, d time.Duration) (live.Message, bool) {
	t.Helper()
	select { // what is there already wins over a zero wait
	case m, ok := <-s.C():
		require.True(t, ok, "subscription closed")
		return m, true
	default:
	}
	select {
	case m, ok := <-s.C():
		require.True(t, ok, "subscription closed")
		return m, true
	case <-time.After(d):
		return live.Message{}, false
	}
}

// nextEvent waits up to d for s's next event, skipping resync cues.
func nextEvent(t *testing.T, s *live.Subscription, d time.Duration) (live.Message, bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		m, ok := next(t, s, time.Until(deadline))
		if !ok || !m.Resync() {
			return m, ok
		}
	}
}

// admin runs SQL on the test database outside any bridge.
func admin(t *testing.T, dsn, sql string, args ...any) int64 {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	tag, err := conn.Exec(t.Context(), sql, args...)
	require.NoError(t, err)
	return tag.RowsAffected()
}

func TestPGBridge(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	a, b := startNode(t, dsn), startNode(t, dsn)
	require.NotEqual(t, a.bridge.Node(), b.bridge.Node())

	onA := subscribe(t, a.hub, "ten_a", live.Watch{ContactID: "con_1"})
	onB := subscribe(t, b.hub, "ten_a", live.Watch{ContactID: "con_1"})
	otherTenantOnB := subscribe(t, b.hub, "ten_b", live.Watch{ContactID: "con_1"})

	t.Run("A to B", func(t *testing.T) {
		e := event("ten_a", "con_1", "T-1")
		start := time.Now()
		a.bridge.Publish(t.Context(), e)
		m, ok := next(t, onA, 0)
		require.True(t, ok, "local watchers get the event synchronously")
		assert.Equal(t, e, *m.Event)
		m, ok = nextEvent(t, onB, time.Second)
		require.True(t, ok, "node B's watcher got nothing within 1 s")
		assert.Equal(t, e.VerificationID, m.Event.VerificationID)
		assert.True(t, e.At.Equal(m.Event.At))
		t.Logf("A→B in %v", time.Since(start))

		// The notification also reaches A's own listener, which skips it.
		_, dup := next(t, onA, 300*time.Millisecond)
		assert.False(t, dup, "node A delivered its own event twice")
		_, dup = next(t, onB, 0)
		assert.False(t, dup, "node B got the event twice")
		_, leak := next(t, otherTenantOnB, 0)
		assert.False(t, leak, "tenant isolation holds across nodes")
	})

	t.Run("B to A", func(t *testing.T) {
		e := event("ten_a", "con_1", "")
		b.bridge.Publish(t.Context(), e)
		m, ok := nextEvent(t, onA, time.Second)
		require.True(t, ok)
		assert.Equal(t, e.VerificationID, m.Event.VerificationID)
		m, ok = next(t, onB, 0)
		require.True(t, ok)
		assert.Equal(t, e.VerificationID, m.Event.VerificationID)
	})

	t.Run("listener reconnects", func(t *testing.T) {
		killed := admin(t, dsn, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`,
			"countersign live listener "+b.bridge.Node())
		require.EqualValues(t, 1, killed)
		// Back online, B tells its watchers to refetch what they may have
		// missed.
		m, ok := next(t, onB, 10*time.Second)
		require.True(t, ok, "no resync after reconnecting; logs:\n%s", b.logs.String())
		require.True(t, m.Resync())
		require.True(t, b.bridge.Listening())

		e := event("ten_a", "con_1", "after-reconnect")
		a.bridge.Publish(t.Context(), e)
		m, ok = nextEvent(t, onB, time.Second)
		require.True(t, ok, "no delivery after reconnecting")
		assert.Equal(t, e.VerificationID, m.Event.VerificationID)
		next(t, onA, 0)
		logs := b.logs.String()
		assert.Contains(t, logs, "lost the PostgreSQL connection")
		assert.Contains(t, logs, "reconnected to PostgreSQL")
	})

	t.Run("sender reconnects", func(t *testing.T) {
		killed := admin(t, dsn, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`,
			"countersign live sender "+a.bridge.Node())
		require.EqualValues(t, 1, killed)
		e := event("ten_a", "con_1", "after-sender-killed")
		a.bridge.Publish(t.Context(), e)
		next(t, onA, 0)
		m, ok := nextEvent(t, onB, 2*time.Second)
		require.True(t, ok, "the event was not sent again after reconnecting; logs:\n%s", a.logs.String())
		assert.Equal(t, e.VerificationID, m.Event.VerificationID)
		assert.Contains(t, a.logs.String(), "lost the PostgreSQL connection for sending")
	})

	t.Run("oversized event becomes a resync", func(t *testing.T) {
		e := event("ten_a", "con_1", strings.Repeat("x", 8000))
		a.bridge.Publish(t.Context(), e)
		m, ok := next(t, onA, 0)
		require.True(t, ok)
		assert.False(t, m.Resync(), "local watchers get the event itself")
		m, ok = next(t, onB, time.Second)
		require.True(t, ok)
		assert.True(t, m.Resync(), "other nodes are told to refetch")
	})

	t.Run("foreign notifications", func(t *testing.T) {
		admin(t, dsn, `SELECT pg_notify($1, 'not json')`, live.Channel)
		admin(t, dsn, `SELECT pg_notify($1, '{"node":"elsewhere","resync":true}')`, live.Channel)
		m, ok := next(t, onB, time.Second)
		require.True(t, ok)
		assert.True(t, m.Resync())
		assert.Contains(t, b.logs.String(), "malformed notification")
	})

	t.Run("a tray's answer reaches its technician on the other node", func(t *testing.T) {
		card := subscribe(t, b.hub, "ten_a", live.Watch{ContactID: "con_1", TechnicianID: "tec_1"})
		colleague := subscribe(t, b.hub, "ten_a", live.Watch{ContactID: "con_1", TechnicianID: "tec_2"})
		otherTenant := subscribe(t, b.hub, "ten_b", live.Watch{ContactID: "con_1", TechnicianID: "tec_1"})
		e := core.Event{Type: core.EventTechCheckAnswered, TenantID: "ten_a", TechnicianID: "tec_1", ContactID: "con_1",
			TicketRef: "T-9", Answer: core.TechCheckNotThePerson, Reason: "Sam said you are NOT the person", At: time.Now().UTC()}
		a.bridge.Publish(t.Context(), e)
		m, ok := nextEvent(t, card, time.Second)
		require.True(t, ok, "node B's card of tec_1 got nothing within 1 s")
		assert.Equal(t, core.EventTechCheckAnswered, m.Event.Type)
		assert.Equal(t, core.TechCheckNotThePerson, m.Event.Answer)
		assert.Equal(t, e.Reason, m.Event.Reason)
		assert.Equal(t, "T-9", m.Event.TicketRef)
		_, leak := next(t, colleague, 200*time.Millisecond)
		assert.False(t, leak, "another technician of the tenant hears nothing")
		_, leak = next(t, otherTenant, 0)
		assert.False(t, leak, "tenant isolation holds across nodes")
		_, leak = next(t, onB, 0)
		assert.False(t, leak, "a contact watcher without the technician hears nothing")
	})
}

// A hub with a bridge is out of sync until the listener runs and again
// while it is disconnected; Barrier returns once the other node has
// dispatched what was committed before it.
func TestPGBridgeSyncAndBarrier(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	hub := live.NewHub(0)
	live.NewPGBridge(hub, dsn, nil)
	assert.False(t, hub.InSync(), "not listening yet")

	a, b := startNode(t, dsn), startNode(t, dsn)
	t.Cleanup(a.bridge.Close)
	require.True(t, b.hub.InSync())
	var mu sync.Mutex
	var heard []string
	b.hub.OnTechnicianChange(func(tenant, tech string) {
		mu.Lock()
		defer mu.Unlock()
		heard = append(heard, tenant+"/"+tech)
	})
	// What the trigger of migration 00200 sends, from outside any node.
	admin(t, dsn, `SELECT pg_notify($1, '{"tenant":"ten_a","id":"tec_1"}')`, live.TechnicianChannel)
	require.NoError(t, a.bridge.Barrier(t.Context()))
	mu.Lock()
	assert.Equal(t, []string{"ten_a/tec_1"}, heard, "B dispatched the change before answering the barrier")
	mu.Unlock()

	admin(t, dsn, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`,
		"countersign live listener "+b.bridge.Node())
	require.Eventually(t, func() bool { return !b.hub.InSync() }, 5*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return b.hub.InSync() }, 10*time.Second, 5*time.Millisecond, "back in sync after reconnecting")
	mu.Lock()
	assert.Equal(t, []string{"ten_a/tec_1", "/", "/"}, heard, "dropped everything on losing the link and on regaining it")
	mu.Unlock()
}
