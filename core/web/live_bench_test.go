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
// CheckCode's commit, to the moment the last client has read it. In the
// same run it times plain loopback HTTP round trips (GET to a trivial
// handler on the same kind of listener) as the baseline.
//
// Reported: fanout-p50-µs and fanout-p99-µs (to the last client),
// rtt-p50-µs, and p99/rtt (the target is under 10).
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
	clk := &clock{t: time.Now().UTC()}
	sms := &capture{prefix: "SM"}
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
		Auth: &web.PasswordAuth{Store: st, Keys: keys, Now: eng.Now, SkipRehash: true}, Live: hub, Logger: logger})
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

	// The clients: each counts down the event it waits for and records
	// when it read it, as an offset on one monotonic clock.
	var (
		epoch     = time.Now()
		want      atomic.Value // the core.EventType clients count now
		remaining atomic.Int64
		lastRecv  atomic.Int64
		allIn     = make(chan struct{}, 1)
	)
	want.Store(core.EventType(""))
	dialer := websocket.Dialer{Jar: jar, HandshakeTimeout: 30 * time.Second, ReadBufferSize: 512, WriteBufferSize: 256}
	wsURL := "ws" + strings.TrimPrefix(hs.URL, "http") + "/api/v1/live?contact=" + contact.ID
	hdr := http.Header{"Origin": {publicURL}}
	conns := make([]*websocket.Conn, n)
	var g errgroup.Group
	g.SetLimit(32)
	for i := range conns {
		g.Go(func() error {
			c, _, err := dialer.Dial(wsURL, hdr)
			if err != nil {
				return fmt.Errorf("client %d: %w", i, err)
			}
			if _, raw, err := c.ReadMessage(); err != nil || !bytes.Contains(raw, []byte(`"hello"`)) {
				c.Close()
				return fmt.Errorf("client %d: no hello: %v %s", i, err, raw)
			}
			conns[i] = c
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatalf("opening %d sockets (ulimit -n?): %v", n, err)
	}
	var readers sync.WaitGroup
	b.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
		readers.Wait()
	})
	for _, c := range conns {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				_, raw, err := c.ReadMessage()
				if err != nil {
					return
				}
				t := int64(time.Since(epoch))
				typ := want.Load().(core.EventType)
				if typ == "" || !bytes.Contains(raw, []byte(`"type":"`+string(typ)+`"`)) {
					continue
				}
				for {
					cur := lastRecv.Load()
					if t <= cur || lastRecv.CompareAndSwap(cur, t) {
						break
					}
				}
				if remaining.Add(-1) == 0 {
					allIn <- struct{}{}
				}
			}
		}()
	}
	await := func(what string) {
		select {
		case <-allIn:
		case <-time.After(30 * time.Second):
			b.Fatalf("%d of %d clients never got %s", remaining.Load(), n, what)
		}
	}
	arm := func(t core.EventType) {
		remaining.Store(int64(n))
		lastRecv.Store(0)
		want.Store(t)
	}

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
		arm(fence)
		hub.Publish(ctx, core.Event{Type: fence, TenantID: tenant.ID, ContactID: contact.ID})
		await(string(fence))
		sms.mu.Lock()
		text := sms.msgs[len(sms.msgs)-1].Text
		sms.mu.Unlock()
		code := codeRE.FindStringSubmatch(text)
		if code == nil {
			b.Fatalf("no code in %q", text)
		}

		arm(core.EventVerificationVerified)
		v, err := eng.CheckCode(ctx, tenant.ID, tech.ID, s.Verification.ID, code[1]+code[2])
		if err != nil || v.Status != core.StatusVerified {
			b.Fatalf("check: %v %v", v.Status, err)
		}
		await("verification.verified")
		fanout = append(fanout, time.Duration(lastRecv.Load())-stamp.last().Sub(epoch))
		for range 3 {
			rtts = append(rtts, roundTrip())
		}
	}

	b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
		fanout, rtts = fanout[:0], rtts[:0]
		for b.Loop() {
			verify()
		}
		p50, p99, rttP50 := percentile(fanout, 50), percentile(fanout, 99), percentile(rtts, 50)
		b.ReportMetric(us(p50), "fanout-p50-µs")
		b.ReportMetric(us(p99), "fanout-p99-µs")
		b.ReportMetric(us(rttP50), "rtt-p50-µs")
		b.ReportMetric(float64(p99)/float64(rttP50), "p99/rtt")
	})
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
