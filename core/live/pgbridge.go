package live

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/jackc/pgx/v5"
)

// Channel is the PostgreSQL notification channel nodes share.
const Channel = "countersign_events"

// TechnicianChannel is the channel a trigger on the technicians table
// notifies, in the transaction that changes a row (migration 00200), with
// {"tenant": …, "id": …}: every node drops that technician from its cache
// of signed-in technicians. Being sent by the database at commit, it cannot
// be lost by a node that crashes or cannot reach PostgreSQL after
// committing, and covers changes made outside the engine.
const TechnicianChannel = "countersign_technicians"

// maxPayload keeps a notification under PostgreSQL's limit: NOTIFY payloads
// "must be shorter than 8000 bytes" in the default configuration
// (https://www.postgresql.org/docs/current/sql-notify.html).
const maxPayload = 7999

// Bridge defaults; see the PGBridge fields.
const (
	defaultMinBackoff = 250 * time.Millisecond
	defaultMaxBackoff = 30 * time.Second
	// defaultHealthEvery is how long the listener waits for a notification
	// before it probes its own subscription (PGBridge.HealthEvery).
	defaultHealthEvery = 30 * time.Second
	// sendTimeout bounds one pg_notify round trip.
	sendTimeout = 10 * time.Second
	// outQueue bounds events waiting to be sent to other nodes; beyond it
	// they are dropped and the other nodes told to resync.
	outQueue = 4096
	// maxBatch is how many queued events one statement sends.
	maxBatch = 256
	// barrierTimeout bounds how long Barrier waits for the other nodes.
	barrierTimeout = 2 * time.Second
	// listenerName prefixes the listener's application_name; Barrier
	// finds the listening nodes by it in pg_stat_activity.
	listenerName = "countersign live listener "
)

// notice is a notification's payload.
type notice struct {
	Node   string      `json:"node"`
	Resync bool        `json:"resync,omitempty"` // the sender lost events: everyone refetch
	Event  *core.Event `json:"event,omitempty"`
	// Barrier asks every other node to answer Ack with the same token once
	// its listener reaches it (Barrier).
	Barrier string `json:"barrier,omitempty"`
	Ack     string `json:"ack,omitempty"`
	// Probe is the listener's notification to itself (listen): every
	// node ignores it but the one that sent it.
	Probe string `json:"probe,omitempty"`
}

// PGBridge carries events between nodes that share a PostgreSQL database,
// with LISTEN/NOTIFY on [Channel]. It is a [core.Publisher]: Publish hands
// the event to the local hub at once and queues it for the other nodes; a
// listener on its own connection hands other nodes' events to the local hub
// and skips this node's own.
//
// Delivery across nodes is best effort with a safety net: when this node
// loses events (its queue overflowed, or its listener was disconnected),
// the affected watchers get a resync message and refetch.
type PGBridge struct {
	// MinBackoff and MaxBackoff bound the wait between reconnection
	// attempts (exponential, with jitter); zero means 250 ms and 30 s.
	MinBackoff, MaxBackoff time.Duration
	// HealthEvery is how long the listener may hear nothing before it
	// notifies itself on its own connection and waits for that to come
	// back: a connection lost without a TCP reset, or one still up whose
	// subscription was lost (a pooler in between, a server that dropped
	// it), is then noticed within HealthEvery plus a round trip rather
	// than never, and caches that rely on hearing of changes stop trusting
	// what they hold. Zero means 30 s.
	HealthEvery time.Duration

	hub  *Hub
	dsn  string
	node string
	log  *slog.Logger

	out       chan notice
	lost      atomic.Bool // events for other nodes were dropped
	listening atomic.Bool
	ready     chan struct{}
	readyOnce sync.Once

	// barrierMu serialises Barrier calls on barrierConn (nil until the
	// first, and after a failure).
	barrierMu   sync.Mutex
	barrierConn *pgx.Conn
	// waitsMu guards waits: the open barriers by token.
	waitsMu sync.Mutex
	waits   map[string]*barrierWait
}

// barrierWait is one Barrier call's progress.
type barrierWait struct {
	acked   map[string]bool // nodes that answered
	missing map[string]bool // nil until the listening nodes are known
	done    chan struct{}   // closed once missing is empty
}

// NewPGBridge returns a bridge for hub over the PostgreSQL database dsn.
// Nothing connects until Run. log nil means slog.Default().
func NewPGBridge(hub *Hub, dsn string, log *slog.Logger) *PGBridge {
	if log == nil {
		log = slog.Default()
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	// Until the listener runs, other nodes' changes go unheard.
	hub.desync()
	return &PGBridge{hub: hub, dsn: dsn, node: hex.EncodeToString(b[:]), log: log,
		out: make(chan notice, outQueue), ready: make(chan struct{}), waits: map[string]*barrierWait{}}
}

// Node returns this node's id, as carried in its notifications.
func (b *PGBridge) Node() string { return b.node }

// Ready returns a channel closed once the listener has first subscribed to
// the channel; until then other nodes' events are not received.
func (b *PGBridge) Ready() <-chan struct{} { return b.ready }

// Listening reports whether the listener is connected now.
func (b *PGBridge) Listening() bool { return b.listening.Load() }

// Publish implements core.Publisher: local watchers get e at once, other
// nodes as soon as the sender reaches PostgreSQL. It never blocks.
func (b *PGBridge) Publish(ctx context.Context, e core.Event) {
	b.hub.Publish(ctx, e)
	if e.Type == core.EventTechnicianChanged {
		// Other nodes hear of the row's change on TechnicianChannel,
		// from the database itself.
		return
	}
	b.send(notice{Node: b.node, Event: &e})
}

// send queues n for the other nodes without blocking.
func (b *PGBridge) send(n notice) {
	select {
	case b.out <- n:
	default:
		b.lost.Store(true)
	}
}

// Run listens and sends until ctx ends, reconnecting as needed. It returns
// once both connections are closed.
func (b *PGBridge) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		b.runSender(ctx)
	}()
	b.runListener(ctx)
	wg.Wait()
}

// connect opens a connection named role in pg_stat_activity.
func (b *PGBridge) connect(ctx context.Context, role string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(b.dsn)
	if err != nil {
		return nil, err
	}
	cfg.RuntimeParams["application_name"] = "countersign live " + role + " " + b.node
	if role == "listener" {
		cfg.RuntimeParams["application_name"] = listenerName + b.node
	}
	return pgx.ConnectConfig(ctx, cfg)
}

// backoff returns the wait before reconnection attempt n (from 0):
// exponential from MinBackoff, capped at MaxBackoff, with "equal jitter"
// (half fixed, half random) so nodes that lost PostgreSQL together do not
// reconnect in lockstep.
func (b *PGBridge) backoff(n int) time.Duration {
	lo, hi := b.MinBackoff, b.MaxBackoff
	if lo <= 0 {
		lo = defaultMinBackoff
	}
	if hi <= 0 {
		hi = defaultMaxBackoff
	}
	d := lo
	for i := 0; i < n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d/2 + mrand.N(d/2+1)
}

// sleep waits d or until ctx ends, reporting whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// runListener keeps a connection listening on Channel and dispatches what
// arrives.
func (b *PGBridge) runListener(ctx context.Context) {
	attempt := 0
	var down time.Time // start of the current outage; zero while connected
	for ctx.Err() == nil {
		conn, err := b.connect(ctx, "listener")
		if err == nil {
			if _, err = conn.Exec(ctx, "LISTEN "+Channel+"; LISTEN "+TechnicianChannel); err != nil {
				conn.Close(context.Background())
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if attempt == 0 {
				b.log.Warn("live: cannot listen for other nodes' events; retrying", "err", err)
				if down.IsZero() {
					down = time.Now()
				}
			}
			if !sleep(ctx, b.backoff(attempt)) {
				return
			}
			attempt++
			continue
		}
		attempt = 0
		b.listening.Store(true)
		if down.IsZero() {
			b.log.Info("live: listening for other nodes' events", "node", b.node)
		} else {
			b.log.Info("live: reconnected to PostgreSQL; listening again", "node", b.node, "down_for", time.Since(down).Round(time.Millisecond))
		}
		// Whatever other nodes published while nobody listened is lost:
		// local watchers refetch.
		b.hub.ResyncAll()
		b.readyOnce.Do(func() { close(b.ready) })
		err = b.listen(ctx, conn)
		b.listening.Store(false)
		// From now on changes of technicians elsewhere go unheard:
		// caches of signed-in technicians empty and stay off until the
		// listener is back (fail safe).
		b.hub.desync()
		conn.Close(context.Background())
		if ctx.Err() != nil {
			return
		}
		down = time.Now()
		b.log.Warn("live: lost the PostgreSQL connection for other nodes' events; reconnecting", "err", err)
		if !sleep(ctx, b.backoff(0)) {
			return
		}
		attempt = 1
	}
}

// listen dispatches notifications until the connection fails or ctx ends.
// After HealthEvery of silence it probes: a notification to itself, sent
// on this very connection, must come back within sendTimeout, which proves
// the connection and its LISTEN both work (a plain ping would prove only
// the first). A probe that does not come back in time (HealthEvery, at
// most sendTimeout) ends the connection with an error, and runListener
// reconnects and resyncs.
func (b *PGBridge) listen(ctx context.Context, conn *pgx.Conn) error {
	quiet := b.HealthEvery
	if quiet <= 0 {
		quiet = defaultHealthEvery
	}
	probe, deadline := "", time.Time{} // the probe in flight, and when it is late
	for {
		wait := quiet
		if probe != "" {
			wait = time.Until(deadline)
		}
		wctx, cancel := context.WithTimeout(ctx, wait)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			if probe != "" {
				return fmt.Errorf("live: the listener's own notification did not come back within %v: its subscription is lost", min(quiet, sendTimeout))
			}
			if probe, err = b.sendProbe(ctx, conn); err != nil {
				return err
			}
			deadline = time.Now().Add(min(quiet, sendTimeout))
			continue
		}
		if n.Channel == TechnicianChannel {
			b.technicianChanged(n.Payload)
			continue
		}
		if probe != "" && b.isProbe(n.Payload, probe) {
			probe = ""
			continue
		}
		b.dispatch(ctx, n.Payload)
	}
}

// sendProbe notifies the listener's own channel on its own connection and
// returns the probe's token.
func (b *PGBridge) sendProbe(ctx context.Context, conn *pgx.Conn) (string, error) {
	var t [8]byte
	_, _ = rand.Read(t[:])
	token := hex.EncodeToString(t[:])
	payload, err := json.Marshal(notice{Node: b.node, Probe: token})
	if err != nil {
		return "", err
	}
	pctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	if _, err := conn.Exec(pctx, "SELECT pg_notify($1, $2)", Channel, string(payload)); err != nil {
		return "", fmt.Errorf("live: probe the listener: %w", err)
	}
	return token, nil
}

// isProbe reports whether payload is this node's probe with token.
func (b *PGBridge) isProbe(payload, token string) bool {
	var n notice
	return json.Unmarshal([]byte(payload), &n) == nil && n.Node == b.node && n.Probe == token
}

// technicianChanged hands the trigger's notification of a changed
// technician to the hub's hooks. One that cannot be read drops every
// cached technician rather than none.
func (b *PGBridge) technicianChanged(payload string) {
	var row struct {
		Tenant string `json:"tenant"`
		ID     string `json:"id"`
	}
	if err := json.Unmarshal([]byte(payload), &row); err != nil || row.Tenant == "" || row.ID == "" {
		b.log.Warn("live: a malformed technician notification; dropping every cached technician", "err", err)
		row.Tenant, row.ID = "", ""
	}
	b.hub.changedRow(row.Tenant, row.ID)
}

// dispatch hands another node's notification to the local hub.
func (b *PGBridge) dispatch(ctx context.Context, payload string) {
	var n notice
	if err := json.Unmarshal([]byte(payload), &n); err != nil {
		b.log.Warn("live: ignoring a malformed notification", "err", err)
		return
	}
	switch {
	case n.Node == b.node:
		// Our own, already delivered locally by Publish.
	case n.Ack != "":
		b.acked(n.Ack, n.Node)
	case n.Barrier != "":
		// Everything committed before the barrier has been dispatched
		// (notifications arrive in commit order, one at a time).
		b.send(notice{Node: b.node, Ack: n.Barrier})
	case n.Resync:
		b.hub.ResyncAll()
	case n.Event != nil:
		b.hub.Publish(ctx, *n.Event)
	}
}

// runSender sends queued events to the other nodes, keeping its own
// connection (the listener's is busy waiting).
func (b *PGBridge) runSender(ctx context.Context) {
	var (
		conn    *pgx.Conn
		pending []string
		attempt int
		down    time.Time
	)
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	for {
		if len(pending) == 0 && !b.lost.Load() {
			select {
			case <-ctx.Done():
				return
			case n := <-b.out:
				pending = b.appendPayload(pending, n)
			}
		}
	drain:
		for len(pending) < maxBatch {
			select {
			case n := <-b.out:
				pending = b.appendPayload(pending, n)
			default:
				break drain
			}
		}
		if b.lost.Swap(false) {
			// Some events never left: tell the others to refetch.
			p, _ := json.Marshal(notice{Node: b.node, Resync: true})
			pending = append(pending, string(p))
		}
		if conn == nil {
			var err error
			conn, err = b.connect(ctx, "sender")
			if err != nil {
				conn = nil
				if ctx.Err() != nil {
					return
				}
				if attempt == 0 {
					down = time.Now()
					b.log.Warn("live: cannot reach PostgreSQL to send events to other nodes; retrying", "err", err)
				}
				b.keepPending(&pending)
				if !sleep(ctx, b.backoff(attempt)) {
					return
				}
				attempt++
				continue
			}
			if !down.IsZero() {
				b.log.Info("live: reconnected to PostgreSQL; sending events to other nodes again", "down_for", time.Since(down).Round(time.Millisecond))
				down = time.Time{}
			}
			attempt = 0
		}
		// One statement (one transaction), so a batch is notified entirely
		// or not at all, in order; a failed batch is sent again whole.
		sctx, cancel := context.WithTimeout(ctx, sendTimeout)
		_, err := conn.Exec(sctx, `SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p`, Channel, pending)
		cancel()
		if err != nil {
			conn.Close(context.Background())
			conn = nil
			if ctx.Err() != nil {
				return
			}
			down = time.Now()
			b.log.Warn("live: lost the PostgreSQL connection for sending events to other nodes; reconnecting", "err", err)
			b.keepPending(&pending)
			if !sleep(ctx, b.backoff(0)) {
				return
			}
			attempt = 1
			continue
		}
		pending = pending[:0]
	}
}

// keepPending bounds what waits for a reconnection: beyond outQueue the
// oldest go, and the others will be told to resync.
func (b *PGBridge) keepPending(pending *[]string) {
	if n := len(*pending) - outQueue; n > 0 {
		*pending = append((*pending)[:0], (*pending)[n:]...)
		b.lost.Store(true)
	}
}

// appendPayload adds notification n to pending. An event too large for
// NOTIFY (only possible with absurd ids) becomes a resync.
func (b *PGBridge) appendPayload(pending []string, n notice) []string {
	p, err := json.Marshal(n)
	if err != nil || len(p) > maxPayload {
		b.lost.Store(true)
		return pending
	}
	return append(pending, string(p))
}

// Barrier implements core.Barrier: it returns once every other node whose
// listener is connected has dispatched every notification committed before
// the call, so that a change just committed here (a technician disabled:
// the database's notification on TechnicianChannel) is known to every node
// before its next request. It notifies a token on Channel, after the
// changes' own notifications in commit order, and waits for each node
// listed in pg_stat_activity as listening to answer it, at most ctx's
// deadline or 2 s. A node that starts listening meanwhile needs no answer:
// it resynchronises (and empties its caches) on connecting; one that stops
// listening empties them too. The error names the nodes that did not
// answer in time.
func (b *PGBridge) Barrier(ctx context.Context) error {
	if !b.Listening() {
		return errors.New("live: barrier: this node is not listening")
	}
	ctx, cancel := context.WithTimeout(ctx, barrierTimeout)
	defer cancel()
	var t [12]byte
	_, _ = rand.Read(t[:])
	token := hex.EncodeToString(t[:])
	w := &barrierWait{acked: map[string]bool{}, done: make(chan struct{})}
	b.waitsMu.Lock()
	b.waits[token] = w
	b.waitsMu.Unlock()
	defer func() {
		b.waitsMu.Lock()
		delete(b.waits, token)
		b.waitsMu.Unlock()
	}()
	nodes, err := b.notifyBarrier(ctx, token)
	if err != nil {
		return fmt.Errorf("live: barrier: %w", err)
	}
	b.waitsMu.Lock()
	w.missing = map[string]bool{}
	for _, n := range nodes {
		if n != b.node && !w.acked[n] {
			w.missing[n] = true
		}
	}
	if len(w.missing) == 0 {
		close(w.done)
	}
	b.waitsMu.Unlock()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		b.waitsMu.Lock()
		missing := slices.Sorted(maps.Keys(w.missing))
		b.waitsMu.Unlock()
		return fmt.Errorf("live: barrier: nodes %s did not answer: %w", strings.Join(missing, ", "), ctx.Err())
	}
}

// notifyBarrier lists the listening nodes and notifies token, in one
// statement on the barrier connection.
func (b *PGBridge) notifyBarrier(ctx context.Context, token string) ([]string, error) {
	b.barrierMu.Lock()
	defer b.barrierMu.Unlock()
	if b.barrierConn == nil {
		conn, err := b.connect(ctx, "barrier")
		if err != nil {
			return nil, err
		}
		b.barrierConn = conn
	}
	p, _ := json.Marshal(notice{Node: b.node, Barrier: token})
	var nodes []string
	err := b.barrierConn.QueryRow(ctx, `SELECT array(SELECT substr(application_name, length($1) + 1) FROM pg_stat_activity
		WHERE datname = current_database() AND starts_with(application_name, $1)) FROM (SELECT pg_notify($2, $3)) AS n`,
		listenerName, Channel, string(p)).Scan(&nodes)
	if err != nil {
		b.barrierConn.Close(context.Background())
		b.barrierConn = nil
		return nil, err
	}
	return nodes, nil
}

// acked records node's answer to barrier token.
func (b *PGBridge) acked(token, node string) {
	b.waitsMu.Lock()
	defer b.waitsMu.Unlock()
	w := b.waits[token]
	if w == nil {
		return
	}
	w.acked[node] = true
	if w.missing != nil && w.missing[node] {
		delete(w.missing, node)
		if len(w.missing) == 0 {
			close(w.done)
		}
	}
}

// Close closes the barrier connection; Run's connections close when its
// context ends.
func (b *PGBridge) Close() {
	b.barrierMu.Lock()
	defer b.barrierMu.Unlock()
	if b.barrierConn != nil {
		b.barrierConn.Close(context.Background())
		b.barrierConn = nil
	}
}

// Interface guards.
var (
	_ core.Publisher = (*PGBridge)(nil)
	_ core.Barrier   = (*PGBridge)(nil)
)
