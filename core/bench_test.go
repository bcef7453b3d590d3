package core_test

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/assets"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/secret"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/countersign/countersign/core/twilio"
	"github.com/countersign/countersign/core/twilio/twiliotest"
)

// BenchmarkSMSCodeFlow measures one SMS-code verification — Start, outbox
// delivery through the real twilio-go client to the loopback Twilio fake,
// CheckCode — against a bare insert+update transaction on the same database
// in the same run. It reports both and their ratio, so the figure survives
// a noisy machine.
func BenchmarkSMSCodeFlow(b *testing.B) {
	for _, dialect := range storetest.Dialects(b) {
		b.Run(dialect, func(b *testing.B) {
			st := storetest.Open(b, dialect)
			ctx := context.Background()
			baseline := bareTx(b, st)
			// The clock steps two minutes per verification: the quota
			// windows then hold what a busy tenant really sends (≤ 30 an
			// hour, ≤ 720 a day) instead of every send of the benchmark in
			// one hour, which would make each count scan a growing range.
			clk := &clock{t: time.Now().UTC()}
			eng, tw, req := benchEngine(b, st, clk.Now)
			digits := regexp.MustCompile(`\d{3} ?\d{3}`)

			flow := func() {
				clk.Add(2 * time.Minute)
				s, err := eng.Start(ctx, req)
				if err != nil {
					b.Fatal(err)
				}
				eng.Wait() // the send started right after Start's commit
				m, ok := tw.LastMessageTo(s.Verification.Destination)
				if !ok {
					b.Fatal("no message reached the Twilio fake")
				}
				code := strings.ReplaceAll(digits.FindString(m.Body), " ", "")
				if v, err := eng.CheckCode(ctx, req.TenantID, req.TechnicianID, s.Verification.ID, code); err != nil || v.Status != core.StatusVerified {
					b.Fatalf("check: %v %v", v.Status, err)
				}
			}
			// Warm both paths so neither pays for first-use costs.
			for range 20 {
				baseline()
				flow()
			}
			b.ResetTimer()
			var tBase, tFlow time.Duration
			for range b.N {
				t0 := time.Now()
				baseline()
				t1 := time.Now()
				flow()
				tBase += t1.Sub(t0)
				tFlow += time.Since(t1)
			}
			b.StopTimer()
			n := float64(b.N)
			b.ReportMetric(float64(tBase.Nanoseconds())/n, "bare-tx-ns/op")
			b.ReportMetric(float64(tFlow.Nanoseconds())/n, "flow-ns/op")
			b.ReportMetric(n/tFlow.Seconds(), "flows/s")
			b.ReportMetric(float64(tFlow)/float64(tBase), "ratio")
		})
	}
}

// bareTx returns one insert+update transaction on st's writer: the floor
// any verification write sits on.
func bareTx(b *testing.B, st *store.Store) func() {
	db := st.DB()
	if _, err := db.Exec(`CREATE TABLE bench_bare (id TEXT PRIMARY KEY, n INTEGER NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	ins, upd := `INSERT INTO bench_bare (id, n) VALUES (?, 0)`, `UPDATE bench_bare SET n = n + 1 WHERE id = ?`
	if st.Dialect() == "postgres" {
		ins, upd = `INSERT INTO bench_bare (id, n) VALUES ($1, 0)`, `UPDATE bench_bare SET n = n + 1 WHERE id = $1`
	}
	i := 0
	return func() {
		i++
		id := fmt.Sprint(i)
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tx.Exec(ins, id); err != nil {
			b.Fatal(err)
		}
		if _, err := tx.Exec(upd, id); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

// benchEngine builds an engine sending through twilio-go to the fake, with a
// tenant whose quotas do not stop a benchmark.
func benchEngine(b *testing.B, st *store.Store, now func() time.Time) (*core.Engine, *twiliotest.Server, core.StartRequest) {
	ctx := context.Background()
	tw := twiliotest.New(b)
	tc, err := twilio.New(twilio.Config{AccountSID: twiliotest.DefaultAccountSID, Secret: twiliotest.DefaultAuthToken,
		From: "+15550100000", HTTPClient: tw.HTTPClient()})
	if err != nil {
		b.Fatal(err)
	}
	keys, err := secret.NewKeyring("k1", map[string][]byte{"k1": make([]byte, 32)})
	if err != nil {
		b.Fatal(err)
	}
	msgs, err := assets.NewMessages()
	if err != nil {
		b.Fatal(err)
	}
	eng, err := core.NewEngine(core.Config{Store: st, Renderer: msgs, Sealer: keys, CodeKey: keys.Derive("code-hmac"),
		PublicURL: "https://verify.example.com", Senders: map[core.OutboxKind]core.Sender{core.OutboxSMS: tc.SMS()},
		Logger: slog.New(slog.DiscardHandler), Now: now})
	if err != nil {
		b.Fatal(err)
	}
	created := now()
	tenant := core.Tenant{ID: core.NewID("ten"), Slug: "bench", Name: "Bench IT", CreatedAt: created}
	client := core.Client{ID: core.NewID("cli"), TenantID: tenant.ID, Name: "Contoso", CreatedAt: created}
	tech := core.Technician{ID: core.NewID("tec"), TenantID: tenant.ID, Email: "t@bench.example", Name: "T", Role: core.RoleTechnician, CreatedAt: created}
	err = st.Update(ctx, func(tx core.Tx) error {
		for _, f := range []func() error{
			func() error { return tx.CreateTenant(ctx, &tenant) },
			func() error { return tx.CreateClient(ctx, &client) },
			func() error { return tx.CreateTechnician(ctx, &tech) },
		} {
			if err := f(); err != nil {
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
	if err := eng.PutPolicy(ctx, tenant.ID, "bench", "", p); err != nil {
		b.Fatal(err)
	}
	c, err := eng.CreateContact(ctx, tenant.ID, "bench", "manual", core.NewContact{ClientID: client.ID, FirstName: "Sam",
		Phones: []core.NewDestination{{Value: "+15550100142", Default: true}}})
	if err != nil {
		b.Fatal(err)
	}
	return eng, tw, core.StartRequest{TenantID: tenant.ID, TechnicianID: tech.ID, ContactID: c.ID, Method: core.MethodSMSCode}
}
