package web_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/countersign/countersign/assets"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/live"
	"github.com/countersign/countersign/core/secret"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/countersign/countersign/core/web"
)

// loadTechs is how many technicians the load test signs in at once (issue
// 11 item 4).
const loadTechs = 50

// loadResult is one load run: requests answered 200, others, and the
// latencies of each.
type loadResult struct {
	ok, errors int64
	elapsed    time.Duration
	lat        []time.Duration
}

func (r loadResult) rps() float64 { return float64(r.ok) / r.elapsed.Seconds() }

func (r loadResult) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[min(len(r.lat)-1, int(float64(len(r.lat))*p))]
}

// runLoad runs do from loadTechs goroutines (goroutine i as technician i)
// for d, and collects what happened.
func runLoad(d time.Duration, do func(i int) error) loadResult {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		res      loadResult
		ok, errs atomic.Int64
	)
	start := time.Now()
	deadline := start.Add(d)
	for i := range loadTechs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := do(i); err != nil {
					errs.Add(1)
					continue
				}
				lat = append(lat, time.Since(t0))
				ok.Add(1)
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.ok, res.errors = ok.Load(), errs.Load()
	slices.Sort(res.lat)
	return res
}

// BenchmarkHTTPTechnicianCache is the load test of issue 11 item 4: 50
// technicians signed in at once, each reading the contact card the console
// shows (GET /api/v1/contacts/{id}) for a bounded time on loopback, through
// a server with the cache of signed-in technicians and one without, on the
// same store in the same run, and the engine alone doing the handler's
// reads (the baseline). It reports req/s, p50 and p99 of each, the errors
// (must be 0), and the ratios cached/uncached and HTTP/engine.
func BenchmarkHTTPTechnicianCache(b *testing.B) {
	for _, dialect := range storetest.Dialects(b) {
		b.Run(dialect, func(b *testing.B) {
			st := storetest.Open(b, dialect)
			ctx := context.Background()
			keys, err := secret.NewKeyring("k1", map[string][]byte{"k1": bytes.Repeat([]byte{7}, 32)})
			if err != nil {
				b.Fatal(err)
			}
			msgs, err := assets.NewMessages()
			if err != nil {
				b.Fatal(err)
			}
			hub := live.NewHub(0)
			eng, err := core.NewEngine(core.Config{Store: st, Renderer: msgs, Sealer: keys, CodeKey: keys.Derive("code-hmac"),
				PublicURL: publicURL, Publisher: hub})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(eng.Wait)
			now := time.Now().UTC()
			ten := core.Tenant{ID: core.NewID("ten"), Slug: "load-" + core.NewID("x")[2:8], Name: "Load MSP", CreatedAt: now}
			cli := core.Client{ID: core.NewID("cli"), TenantID: ten.ID, Name: "Contoso", CreatedAt: now}
			techs := make([]core.Technician, loadTechs)
			hash := cheapHash(password)
			err = st.Update(ctx, func(tx core.Tx) error {
				if err := tx.CreateTenant(ctx, &ten); err != nil {
					return err
				}
				if err := tx.CreateClient(ctx, &cli); err != nil {
					return err
				}
				for i := range techs {
					techs[i] = core.Technician{ID: core.NewID("tec"), TenantID: ten.ID, Email: fmt.Sprintf("tech%d@load.example", i),
						Name: fmt.Sprintf("Tech %d", i), Role: core.RoleTechnician, PasswordHash: hash, CreatedAt: now}
					if err := tx.CreateTechnician(ctx, &techs[i]); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			contact, err := eng.CreateContact(ctx, ten.ID, "test", "manual", core.NewContact{ClientID: cli.ID, FirstName: "Sam", LastName: "Caller",
				Phones: []core.NewDestination{{Value: "(555) 010-0142", Label: "Mobile", Default: true}},
				Emails: []core.NewDestination{{Value: "sam@contoso.example", Default: true}}})
			if err != nil {
				b.Fatal(err)
			}
			pages, err := assets.Pages(assets.TemplatesFS(), assets.StaticFS())
			if err != nil {
				b.Fatal(err)
			}
			server := func(ttl time.Duration) *httptest.Server {
				srv, err := web.New(web.Config{Engine: eng, Pages: pages, SessionKey: bytes.Repeat([]byte{9}, 32), PublicURL: publicURL,
					Auth: &web.PasswordAuth{Engine: eng, Keys: keys, Now: eng.Now, SkipRehash: true}, Live: hub, TechnicianCacheTTL: ttl,
					AddressThrottle: unlimited(), TenantThrottle: unlimited()})
				if err != nil {
					b.Fatal(err)
				}
				hs := httptest.NewServer(srv)
				b.Cleanup(hs.Close)
				return hs
			}
			tr := &http.Transport{MaxIdleConnsPerHost: loadTechs}
			b.Cleanup(tr.CloseIdleConnections)
			signIn := func(hs *httptest.Server) []*http.Client {
				cs := make([]*http.Client, loadTechs)
				for i, tc := range techs {
					jar, _ := cookiejar.New(nil)
					cs[i] = &http.Client{Jar: jar, Transport: tr, Timeout: 30 * time.Second}
					body := fmt.Sprintf(`{"tenant":%q,"email":%q,"password":%q}`, ten.Slug, tc.Email, password)
					req, _ := http.NewRequest(http.MethodPost, hs.URL+"/api/v1/login", strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					res, err := cs[i].Do(req)
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						b.Fatalf("login: %d", res.StatusCode)
					}
				}
				return cs
			}
			load := func(hs *httptest.Server) func(d time.Duration) loadResult {
				cs := signIn(hs)
				url := hs.URL + "/api/v1/contacts/" + contact.ID
				return func(d time.Duration) loadResult {
					return runLoad(d, func(i int) error {
						res, err := cs[i].Get(url)
						if err != nil {
							return err
						}
						_, _ = io.Copy(io.Discard, res.Body)
						res.Body.Close()
						if res.StatusCode != http.StatusOK {
							return fmt.Errorf("status %d", res.StatusCode)
						}
						return nil
					})
				}
			}
			cached, uncached := load(server(0)), load(server(-1))
			// The engine alone: the handler's reads (Engine.ContactCard, the
			// card's one transaction), without HTTP, sessions or JSON. Until
			// the card was one read this baseline was ContactAndClient, one
			// of the handler's three transactions, which is why HTTP/engine
			// read 6–22× then.
			engine := func(d time.Duration) loadResult {
				return runLoad(d, func(int) error {
					_, err := eng.ContactCard(ctx, ten.ID, contact.ID)
					return err
				})
			}
			const d = 2 * time.Second
			var c, u, e loadResult
			for b.Loop() {
				// Interleaved, so that the machine's load falls on all three.
				e, c, u = engine(d), cached(d), uncached(d)
			}
			report := func(name string, r loadResult) {
				b.ReportMetric(r.rps(), name+"-req/s")
				b.ReportMetric(float64(r.pct(0.50).Microseconds()), name+"-p50-µs")
				b.ReportMetric(float64(r.pct(0.99).Microseconds()), name+"-p99-µs")
				b.ReportMetric(float64(r.errors), name+"-errors")
			}
			report("cached", c)
			report("uncached", u)
			report("engine", e)
			b.ReportMetric(c.rps()/u.rps(), "cached/uncached-req/s")
			b.ReportMetric(float64(c.pct(0.5))/float64(u.pct(0.5)), "cached/uncached-p50")
			b.ReportMetric(float64(c.pct(0.99))/float64(u.pct(0.99)), "cached/uncached-p99")
			b.ReportMetric(e.rps()/c.rps(), "engine/cached-req/s")
			b.ReportMetric(float64(c.pct(0.5))/float64(e.pct(0.5)), "cached/engine-p50")
			if c.errors+u.errors+e.errors != 0 {
				b.Errorf("errors: cached %d, uncached %d, engine %d", c.errors, u.errors, e.errors)
			}
		})
	}
}
