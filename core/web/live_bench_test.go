package web_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/countersign/countersign/assets"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/live"
	"github.com/countersign/countersign/core/secret"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/countersign/countersign/core/testkit"
	"github.com/countersign/countersign/core/web"
	"github.com/gorilla/websocket"
	"golang.org/x/sync/errgroup"
)

// envBenchClients overrides how many websocket clients BenchmarkLiveFanout
// opens (default 5000; 500 with -short).
const envBenchClients = "COUNTERSIGN_BENCH_WS_CLIENTS"

// stampPublisher notes when the engine publishes a verified event (right
// after its commit), then hands it on.
type stampPublisher struct {
	next core.Publisher
	mu   sync.Mutex
	at   time.Time
}

func (p *stampPublisher) Publish(ctx context.Context, e core.Event) {
	if e.Type == core.EventVerificationVerified {
		p.mu.Lock()
		p.at = time.Now()
		p.mu.Unlock()
	}
	p.next.Publish(ctx, e)
}

func (p *stampPublisher) last() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.at
}

// BenchmarkLiveFanout opens N websocket pod clients through the real
// handler (session cookie, origin check, contact lookup, upgrade) on a
// loopback listener, all watching one contact. Each iteration completes an
// SMS-code verification through the engine (Start, delivery, CheckCode)
// and measures from the verified event's publication, right after
// CheckCode's commit, to the moment the last client has read it.
//
// Baselines in the same run: plain loopback HTTP round trips (GET to a
// trivial handler on the same kind of listener), and a bare
// gorilla/websocket broadcaster (one writer goroutine per connection fed
// by a channel, nothing else) sending the same kind of message to the same
// number of clients, read through the same harness.
//
// Reported: fanout-p50-µs and fanout-p99-µs (to the last client),
// rtt-p50-µs and p99/rtt (kept for history); bare-p50-µs, bare-p99-µs,
// p50/bare and p99/bare (target ≤ 1.2 at p99); KiB/conn, bare-KiB/conn and
// mem/bare: heap and stack in use per open socket, client side included
// for both (target ≤ 1.3). At least 100 fanouts are timed for each.
func BenchmarkLiveFanout(b *testing.B) {
	n := 5000
	if testing.Short() {
		n = 500
	}
	if v := os.Getenv(envBenchClients); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("%s=%q: want a positive number", envBenchClients, v)
		}
	}
	ctx := context.Background()
	st := storetest.Open(b, store.SQLite)
	clk := testkit.NewClock(time.Now().UTC())
	sms := testkit.NewCapture("SM")
	keys, err := secret.NewKeyring("k1", map[string][]byte{"k1": bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		b.Fatal(err)
	}
	msgs, err := assets.NewMessages()
	if err != nil {
		b.Fatal(err)
	}
	hub := live.NewHub(0)
	stamp := &stampPublisher{next: hub}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng, err := core.NewEngine(core.Config{Store: st, Renderer: msgs, Sealer: keys, CodeKey: keys.Derive("code-hmac"),
		PublicURL: publicURL, Senders: map[core.OutboxKind]core.Sender{core.OutboxSMS: sms}, Publisher: stamp,
		Now: clk.Now, Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(eng.Wait)

	tenant := core.Tenant{ID: core.NewID("ten"), Slug: "bench-" + core.NewID("x")[2:8], Name: "Bench IT", CreatedAt: clk.Now()}
	client := core.Client{ID: core.NewID("cli"), TenantID: tenant.ID, Name: "Contoso", CreatedAt: clk.Now()}
	tech := core.Technician{ID: core.NewID("tec"), TenantID: tenant.ID, Email: "jane@bench.example", Name: "Jane Tech",
		Role: core.RoleTechnician, PasswordHash: cheapHash(password), CreatedAt: clk.Now()}
	err = st.Update(ctx, func(tx core.Tx) error {
		if err := tx.CreateTenant(ctx, &tenant); err != nil {
			return err
		}
		if err := tx.CreateClient(ctx, &client); err != nil {
			return err
		}
		return tx.CreateTechnician(ctx, &tech)
	})
	if err != nil {
		b.Fatal(err)
	}
	contact, err := eng.CreateContact(ctx, tenant.ID, "bench", "manual", core.NewContact{ClientID: client.ID,
		FirstName: "Sam", LastName: "Caller", Phones: []core.NewDestination{{Value: "(555) 010-0142", Default: true}}})
	if err != nil {
		b.Fatal(err)
	}

	pages, err := assets.Pages(assets.TemplatesFS(), assets.StaticFS())
	if err != nil {
		b.Fatal(err)
	}
	srv, err := web.New(web.Config{Engine: eng, Pages: pages, SessionKey: bytes.Repeat([]byte{9}, 32), PublicURL: publicURL,
		Auth: &web.PasswordAuth{Engine: eng, Keys: keys, Now: eng.Now, SkipRehash: true}, Live: hub, Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	b.Cleanup(hs.Close)
	b.Cleanup(hub.Close) // ends the server side of every socket
	rtt := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	b.Cleanup(rtt.Close)

	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	res, err := hc.Post(hs.URL+"/api/v1/login", "application/json", strings.NewReader(
		fmt.Sprintf(`{"tenant":%q,"email":%q,"password":%q}`, tenant.Slug, tech.Email, password)))
	if err != nil {
		b.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b.Fatalf("login: %s", res.Status)
	}

	wsURL := "ws" + strings.TrimPrefix(hs.URL, "http") + "/api/v1/live?contact=" + contact.ID
	hdr := http.Header{"Origin": {publicURL}}
	dialer := websocket.Dialer{Jar: jar, HandshakeTimeout: 30 * time.Second, ReadBufferSize: 512, WriteBufferSize: 256}

	// The baseline before Countersign's sockets and again after them (both
	// sets cannot be open at once within the usual 20,000 descriptors), so
	// that its samples span the same stretch of a shared machine's load as
	// ours; each set is measured alone, so that per-connection memory is the
	// growth one set of sockets causes (the first round's is reported).
	bare := newBareBroadcaster()
	bs := httptest.NewServer(bare)
	b.Cleanup(bs.Close)
	bareWS := "ws" + strings.TrimPrefix(bs.URL, "http") + "/"
	var bareFan, bareFirst, bareSecond []time.Duration
	bareRound := func() ([]time.Duration, float64) {
		before := liveMemory()
		clients := openFanClients(b, dialer, bareWS, nil, n)
		perConn := (liveMemory() - before) / float64(n)
		for range 20 { // warm
			clients.broadcast(b, func() time.Time { return bare.send([]byte(`{"type":"warm"}`)) }, "warm")
		}
		var fan []time.Duration
		for range fanSamples {
			fan = append(fan, clients.broadcast(b, func() time.Time {
				return bare.send([]byte(`{"type":"verification.verified","contact_id":"x"}`))
			}, "verification.verified"))
		}
		clients.close()
		bare.closeAll()
		return fan, perConn
	}
	bareFirst, bareMem := bareRound()

	before := liveMemory()
	clients := openFanClients(b, dialer, wsURL, hdr, n)
	ourMem := (liveMemory() - before) / float64(n)
	closeOurs := clients.close
	b.Cleanup(closeOurs)

	rttClient := &http.Client{Timeout: 10 * time.Second}
	roundTrip := func() time.Duration {
		t0 := time.Now()
		res, err := rttClient.Get(rtt.URL)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return time.Since(t0)
	}
	for range 50 {
		roundTrip()
	}

	req := core.StartRequest{TenantID: tenant.ID, TechnicianID: tech.ID, ContactID: contact.ID, Method: core.MethodSMSCode, TicketRef: "T-1"}
	var fanout, rtts []time.Duration
	const fence = core.EventType("bench.fence")
	verify := func() {
		// Untimed: start and deliver (the clock steps past the per-contact
		// hourly quota), then publish a fence and wait until every client
		// has it: streams are FIFO, so nothing the engine published before
		// (started, sent, …) is still in flight when the clock runs.
		clk.Add(15 * time.Minute)
		s, err := eng.Start(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		eng.Wait() // the send started right after Start's commit
		clients.broadcast(b, func() time.Time {
			hub.Publish(ctx, core.Event{Type: fence, TenantID: tenant.ID, ContactID: contact.ID})
			return time.Now()
		}, string(fence))
		text := sms.Last(b).Text
		code := codeRE.FindStringSubmatch(text)
		if code == nil {
			b.Fatalf("no code in %q", text)
		}
		fanout = append(fanout, clients.broadcast(b, func() time.Time {
			v, err := eng.CheckCode(ctx, tenant.ID, tech.ID, s.Verification.ID, code[1]+code[2])
			if err != nil || v.Status != core.StatusVerified {
				b.Fatalf("check: %v %v", v.Status, err)
			}
			return stamp.last()
		}, string(core.EventVerificationVerified)))
		for range 3 {
			rtts = append(rtts, roundTrip())
		}
	}

	b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
		fanout, rtts = fanout[:0], rtts[:0]
		for b.Loop() {
			verify()
		}
		// Percentiles come from the samples, not b's timer: take at least
		// fanSamples, so that p99 is not simply the maximum.
		for len(fanout) < fanSamples {
			verify()
		}
		// The baseline's second round, after ours, on the same number of
		// descriptors: ours close first.
		if bareSecond == nil {
			closeOurs()
			bareSecond, _ = bareRound()
		}
		bareFan = append(slices.Clone(bareFirst), bareSecond...)
		p50, p99, rttP50 := percentile(fanout, 50), percentile(fanout, 99), percentile(rtts, 50)
		bareP50, bareP99 := percentile(bareFan, 50), percentile(bareFan, 99)
		b.ReportMetric(us(percentile(bareFirst, 99)), "bare-before-p99-µs")
		b.ReportMetric(us(percentile(bareSecond, 99)), "bare-after-p99-µs")
		b.ReportMetric(us(p50), "fanout-p50-µs")
		b.ReportMetric(us(p99), "fanout-p99-µs")
		b.ReportMetric(us(rttP50), "rtt-p50-µs")
		b.ReportMetric(float64(p99)/float64(rttP50), "p99/rtt")
		b.ReportMetric(us(bareP50), "bare-p50-µs")
		b.ReportMetric(us(bareP99), "bare-p99-µs")
		b.ReportMetric(float64(p50)/float64(bareP50), "p50/bare")
		b.ReportMetric(float64(p99)/float64(bareP99), "p99/bare")
		b.ReportMetric(ourMem/1024, "KiB/conn")
		b.ReportMetric(bareMem/1024, "bare-KiB/conn")
		b.ReportMetric(ourMem/bareMem, "mem/bare")
	})
}

// fanSamples is the fewest fanouts a run times, for both servers.
const fanSamples = 100

// liveMemory is the heap and stack in use after a collection: what open
// sockets hold, client and server side.
func liveMemory() float64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapInuse + m.StackInuse)
}

// fanClients are n websocket clients, each with a reader goroutine that
// counts down the message type it is armed for and records when it read
// it, on one monotonic clock. The same harness reads from the bare
// baseline and from Countersign.
type fanClients struct {
	n         int
	conns     []*websocket.Conn
	epoch     time.Time
	want      atomic.Value // the message type counted now
	remaining atomic.Int64
	lastRecv  atomic.Int64
	allIn     chan struct{}
	readers   sync.WaitGroup
	closeOnce sync.Once
}

func openFanClients(b *testing.B, dialer websocket.Dialer, url string, hdr http.Header, n int) *fanClients {
	c := &fanClients{n: n, conns: make([]*websocket.Conn, n), epoch: time.Now(), allIn: make(chan struct{}, 1)}
	c.want.Store("")
	var g errgroup.Group
	g.SetLimit(32)
	for i := range c.conns {
		g.Go(func() error {
			conn, _, err := dialer.Dial(url, hdr)
			if err != nil {
				return fmt.Errorf("client %d: %w", i, err)
			}
			if _, raw, err := conn.ReadMessage(); err != nil || !bytes.Contains(raw, []byte(`"hello"`)) {
				conn.Close()
				return fmt.Errorf("client %d: no hello: %v %s", i, err, raw)
			}
			c.conns[i] = conn
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatalf("opening %d sockets (ulimit -n?): %v", n, err)
	}
	for _, conn := range c.conns {
		c.readers.Add(1)
		go func() {
			defer c.readers.Done()
			for {
				_, raw, err := conn.ReadMessage()
				if err != nil {
					return
				}
				t := int64(time.Since(c.epoch))
				typ := c.want.Load().(string)
				if typ == "" || !bytes.Contains(raw, []byte(`"type":"`+typ+`"`)) {
					continue
				}
				for {
					cur := c.lastRecv.Load()
					if t <= cur || c.lastRecv.CompareAndSwap(cur, t) {
						break
					}
				}
				if c.remaining.Add(-1) == 0 {
					c.allIn <- struct{}{}
				}
			}
		}()
	}
	return c
}

// broadcast arms the clients for typ, runs send (which returns when the
// message was published), and returns the time from then until the last
// client read it.
func (c *fanClients) broadcast(b *testing.B, send func() time.Time, typ string) time.Duration {
	c.remaining.Store(int64(c.n))
	c.lastRecv.Store(0)
	c.want.Store(typ)
	at := send()
	select {
	case <-c.allIn:
	case <-time.After(30 * time.Second):
		b.Fatalf("%d of %d clients never got %s", c.remaining.Load(), c.n, typ)
	}
	return time.Duration(c.lastRecv.Load()) - at.Sub(c.epoch)
}

func (c *fanClients) close() {
	c.closeOnce.Do(func() {
		for _, conn := range c.conns {
			conn.Close()
		}
		c.readers.Wait()
	})
}

// bareBroadcaster is the baseline: a bare gorilla/websocket server with one
// writer goroutine per connection, fed by a channel, and nothing else — no
// session, no subscription, no reader, no pings.
type bareBroadcaster struct {
	mu    sync.Mutex
	outs  []chan []byte
	conns []*websocket.Conn
	wg    sync.WaitGroup
}

func newBareBroadcaster() *bareBroadcaster { return &bareBroadcaster{} }

func (bb *bareBroadcaster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{ReadBufferSize: 512, WriteBufferSize: 1024, WriteBufferPool: &bareWriteBuffers}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	out := make(chan []byte, 32)
	bb.mu.Lock()
	bb.outs, bb.conns = append(bb.outs, out), append(bb.conns, conn)
	bb.mu.Unlock()
	bb.wg.Add(1)
	go func() {
		defer bb.wg.Done()
		for data := range out {
			if conn.WriteMessage(websocket.TextMessage, data) != nil {
				return
			}
		}
	}()
	out <- []byte(`{"type":"hello"}`)
}

var bareWriteBuffers sync.Pool

// send queues data for every connection and returns when it began.
func (bb *bareBroadcaster) send(data []byte) time.Time {
	at := time.Now()
	bb.mu.Lock()
	defer bb.mu.Unlock()
	for _, out := range bb.outs {
		out <- data
	}
	return at
}

func (bb *bareBroadcaster) closeAll() {
	bb.mu.Lock()
	for _, out := range bb.outs {
		close(out)
	}
	for _, c := range bb.conns {
		c.Close()
	}
	bb.outs, bb.conns = nil, nil
	bb.mu.Unlock()
	bb.wg.Wait()
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// percentile returns the p-th percentile of ds (nearest rank).
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(i-1, 0)]
}
