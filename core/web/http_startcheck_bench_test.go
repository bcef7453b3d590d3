package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign/assets"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/live"
	"github.com/countersign/countersign/core/secret"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/countersign/countersign/core/web"
)

// codeSink is an SMS sender that hands each message's code to whoever
// waits for that number.
type codeSink struct {
	mu    sync.Mutex
	codes map[string]chan string
}

var sinkDigits = regexp.MustCompile(`\d{3} ?\d{3}`)

func (s *codeSink) ch(to string) chan string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.codes[to]
	if !ok {
		c = make(chan string, 4)
		s.codes[to] = c
	}
	return c
}

func (s *codeSink) Send(_ context.Context, m core.Outbound) (string, error) {
	s.ch(m.To) <- strings.ReplaceAll(sinkDigits.FindString(m.Text), " ", "")
	return core.NewID("SM"), nil
}

// wait returns the next code sent to to.
func (s *codeSink) wait(to string) (string, error) {
	select {
	case c := <-s.ch(to):
		return c, nil
	case <-time.After(10 * time.Second):
		return "", fmt.Errorf("no code reached %s", to)
	}
}

// BenchmarkHTTPStartCheck is the JSON API load test of issue 11 item 4:
// 50 technicians signed in at once, each verifying a contact of its own by
// SMS code — POST /api/v1/verifications, the code from the sender, POST
// /api/v1/verifications/{id}/check — for a bounded time on loopback, and
// the engine alone doing the same Start and CheckCode (the baseline),
// interleaved in the same run on the same store. It reports req/s (a flow
// is one start and one check), p50 and p99 of each, the errors (must be 0)
// and the ratios HTTP/engine.
func BenchmarkHTTPStartCheck(b *testing.B) {
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
			sink := &codeSink{codes: map[string]chan string{}}
			eng, err := core.NewEngine(core.Config{Store: st, Renderer: msgs, Sealer: keys, CodeKey: keys.Derive("code-hmac"),
				PublicURL: publicURL, Publisher: hub, Senders: map[core.OutboxKind]core.Sender{core.OutboxSMS: sink},
				Logger: slog.New(slog.DiscardHandler)})
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
			p := core.DefaultPolicy()
			p.Limits = core.RateLimits{PerContactHour: 1 << 30, PerDestinationHour: 1 << 30, PerTechnicianHour: 1 << 30, PerTenantDay: 1 << 30}
			if err := eng.PutPolicy(ctx, ten.ID, "bench", "", p); err != nil {
				b.Fatal(err)
			}
			// Two contacts per technician: one for the HTTP runs, one for the
			// engine's, so that neither replaces the other's verification.
			type pair struct{ id, phone string }
			contacts := make([][2]pair, loadTechs)
			for i := range contacts {
				for k := range 2 {
					phone := fmt.Sprintf("+1555010%d%03d", k+1, i)
					c, err := eng.CreateContact(ctx, ten.ID, "test", "manual", core.NewContact{ClientID: cli.ID, FirstName: "Sam",
						LastName: fmt.Sprintf("Caller %d", i), Phones: []core.NewDestination{{Value: phone, Default: true}}})
					if err != nil {
						b.Fatal(err)
					}
					contacts[i][k] = pair{c.ID, phone}
				}
			}
			pages, err := assets.Pages(assets.TemplatesFS(), assets.StaticFS())
			if err != nil {
				b.Fatal(err)
			}
			srv, err := web.New(web.Config{Engine: eng, Pages: pages, SessionKey: bytes.Repeat([]byte{9}, 32), PublicURL: publicURL,
				Auth: &web.PasswordAuth{Engine: eng, Keys: keys, Now: eng.Now, SkipRehash: true}, Live: hub,
				AddressThrottle: unlimited(), TenantThrottle: unlimited()})
			if err != nil {
				b.Fatal(err)
			}
			hs := httptest.NewServer(srv)
			b.Cleanup(hs.Close)
			tr := &http.Transport{MaxIdleConnsPerHost: loadTechs}
			b.Cleanup(tr.CloseIdleConnections)
			post := func(c *http.Client, path, body string, want int, out any) error {
				res, err := c.Post(hs.URL+path, "application/json", strings.NewReader(body))
				if err != nil {
					return err
				}
				defer res.Body.Close()
				if res.StatusCode != want {
					msg, _ := io.ReadAll(res.Body)
					return fmt.Errorf("%s: status %d: %s", path, res.StatusCode, msg)
				}
				if out == nil {
					_, err = io.Copy(io.Discard, res.Body)
					return err
				}
				return json.NewDecoder(res.Body).Decode(out)
			}
			clients := make([]*http.Client, loadTechs)
			for i, tc := range techs {
				jar, _ := cookiejar.New(nil)
				clients[i] = &http.Client{Jar: jar, Transport: tr, Timeout: 30 * time.Second}
				if err := post(clients[i], "/api/v1/login", fmt.Sprintf(`{"tenant":%q,"email":%q,"password":%q}`, ten.Slug, tc.Email, password),
					http.StatusOK, nil); err != nil {
					b.Fatal(err)
				}
			}
			viaHTTP := func(i int) error {
				c := contacts[i][0]
				var v struct {
					ID string `json:"id"`
				}
				if err := post(clients[i], "/api/v1/verifications", fmt.Sprintf(`{"contact_id":%q,"method":"sms_code"}`, c.id), http.StatusCreated, &v); err != nil {
					return err
				}
				code, err := sink.wait(c.phone)
				if err != nil {
					return err
				}
				return post(clients[i], "/api/v1/verifications/"+v.ID+"/check", fmt.Sprintf(`{"code":%q}`, code), http.StatusOK, nil)
			}
			viaEngine := func(i int) error {
				c := contacts[i][1]
				s, err := eng.Start(ctx, core.StartRequest{TenantID: ten.ID, TechnicianID: techs[i].ID, ContactID: c.id, Method: core.MethodSMSCode})
				if err != nil {
					return err
				}
				code, err := sink.wait(c.phone)
				if err != nil {
					return err
				}
				v, err := eng.CheckCode(ctx, ten.ID, techs[i].ID, s.Verification.ID, code)
				if err == nil && v.Status != core.StatusVerified {
					err = fmt.Errorf("check: %s", v.Status)
				}
				return err
			}
			const d = 2 * time.Second
			var h, e loadResult
			for b.Loop() {
				// Interleaved, so that the machine's load falls on both.
				e, h = runLoad(d, viaEngine), runLoad(d, viaHTTP)
			}
			report := func(name string, r loadResult) {
				b.ReportMetric(r.rps(), name+"-flows/s")
				b.ReportMetric(float64(r.pct(0.50).Microseconds()), name+"-p50-µs")
				b.ReportMetric(float64(r.pct(0.99).Microseconds()), name+"-p99-µs")
				b.ReportMetric(float64(r.errors), name+"-errors")
			}
			report("http", h)
			report("engine", e)
			b.ReportMetric(e.rps()/h.rps(), "engine/http-flows/s")
			b.ReportMetric(float64(h.pct(0.5))/float64(e.pct(0.5)), "http/engine-p50")
			b.ReportMetric(float64(h.pct(0.99))/float64(e.pct(0.99)), "http/engine-p99")
			if h.errors+e.errors != 0 {
				b.Errorf("errors: http %d, engine %d", h.errors, e.errors)
			}
		})
	}
}
