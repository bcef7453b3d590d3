package core_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
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
// CheckCode — against two baselines on the same database in the same run:
//
//   - min-work, the least a correct SMS-code verification must do: a
//     transaction inserting a verification row and an outbox row, one
//     loopback HTTP form POST to the Twilio fake (what twilio-go sends), and
//     a transaction updating both rows;
//   - bare-tx, one insert+update transaction (kept so that the history of
//     the ratio stays comparable).
//
// It reports flow-ns/op, min-work-ns/op, flow/min-work, bare-tx-ns/op,
// ratio (flow/bare-tx), and round trips per flow and per min-work, counted
// by the store's wrapping driver (store.CountRoundTrips): every statement,
// prepare, begin, commit and rollback. Round trips are deterministic.
func BenchmarkSMSCodeFlow(b *testing.B) {
	for _, dialect := range storetest.Dialects(b) {
		b.Run(dialect, func(b *testing.B) {
			var trips atomic.Int64
			st := storetest.Open(b, dialect, store.CountRoundTrips(&trips))
			ctx := context.Background()
			baseline := bareTx(b, st)
			// The clock steps two minutes per verification: the quota
			// windows then hold what a busy tenant really sends (≤ 30 an
			// hour, ≤ 720 a day) instead of every send of the benchmark in
			// one hour, which would make each count scan a growing range.
			clk := &clock{t: time.Now().UTC()}
			eng, tw, req := benchEngine(b, st, clk.Now)
			// min-work writes for a contact of its own: its verifications
			// stay open (sent), and the flow's contact would otherwise
			// carry every one of them into each Start's replacement of
			// the contact's open verifications.
			mw := req
			mw.ContactID = benchContact(b, eng, st, req, "+15550100143")
			minWork := minWorkFlow(b, st, tw, mw)
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
			// Warm every path so none pays for first-use costs.
			for range 20 {
				baseline()
				minWork()
				flow()
			}
			countTrips := func(f func()) int64 {
				eng.Wait()
				n0 := trips.Load()
				f()
				eng.Wait()
				return trips.Load() - n0
			}
			flowTrips, minTrips := countTrips(flow), countTrips(minWork)
			b.ResetTimer()
			var tBase, tMin, tFlow time.Duration
			for range b.N {
				t0 := time.Now()
				baseline()
				t1 := time.Now()
				minWork()
				t2 := time.Now()
				flow()
				tBase += t1.Sub(t0)
				tMin += t2.Sub(t1)
				tFlow += time.Since(t2)
			}
			b.StopTimer()
			n := float64(b.N)
			b.ReportMetric(float64(tBase.Nanoseconds())/n, "bare-tx-ns/op")
			b.ReportMetric(float64(tMin.Nanoseconds())/n, "min-work-ns/op")
			b.ReportMetric(float64(tFlow.Nanoseconds())/n, "flow-ns/op")
			b.ReportMetric(n/tFlow.Seconds(), "flows/s")
			b.ReportMetric(float64(tFlow)/float64(tBase), "ratio")
			b.ReportMetric(float64(tFlow)/float64(tMin), "flow/min-work")
			b.ReportMetric(float64(flowTrips), "round-trips/flow")
			b.ReportMetric(float64(minTrips), "round-trips/min-work")
		})
	}
}

// minWorkFlow returns the least work a correct SMS-code verification does,
// on the engine's own tables for req's contact: insert the verification
// (hashed code, expiry, attempts) and its outbox item (sealed message) in
// one transaction, POST the message to the Twilio fake as twilio-go would
// (form-encoded, Basic auth), and mark both rows sent in a second one.
func minWorkFlow(b *testing.B, st *store.Store, tw *twiliotest.Server, req core.StartRequest) func() {
	db := st.DB()
	ph := func(q string) string {
		if st.Dialect() != store.Postgres {
			return q
		}
		for i := 1; strings.Contains(q, "?"); i++ {
			q = strings.Replace(q, "?", fmt.Sprintf("$%d", i), 1)
		}
		return q
	}
	insV := ph(`INSERT INTO verifications (id, tenant_id, contact_id, dest_kind, destination, method, technician_id, status,
		secret_hash, max_attempts, sends, created_at, expires_at) VALUES (?, ?, ?, 'phone', '+15550100142', 'sms_code', ?, 'pending', ?, 5, 1, ?, ?)`)
	insO := ph(`INSERT INTO outbox (id, tenant_id, kind, verification_id, sealed, status, next_attempt_at, created_at)
		VALUES (?, ?, 'sms', ?, ?, 'pending', ?, ?)`)
	updV := ph(`UPDATE verifications SET status = 'sent', provider_ref = ?, sent_at = ? WHERE tenant_id = ? AND id = ?`)
	updO := ph(`UPDATE outbox SET status = 'done', provider_ref = ?, done_at = ? WHERE tenant_id = ? AND id = ?`)
	// Times as the store writes them: timestamptz on PostgreSQL, Unix
	// nanoseconds on SQLite.
	timeArg := func(t time.Time) any {
		if st.Dialect() == store.Postgres {
			return t.UTC()
		}
		return t.UnixNano()
	}
	hc := tw.HTTPClient()
	endpoint := "https://api.twilio.com/2010-04-01/Accounts/" + twiliotest.DefaultAccountSID + "/Messages.json"
	sealed := make([]byte, 120)
	hash := make([]byte, 32)
	exec := func(tx *sql.Tx, q string, args ...any) {
		if _, err := tx.Exec(q, args...); err != nil {
			b.Fatal(err)
		}
	}
	return func() {
		vid, oid := core.NewID("ver"), core.NewID("out")
		now, expires := timeArg(time.Now()), timeArg(time.Now().Add(10*time.Minute))
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		exec(tx, insV, vid, req.TenantID, req.ContactID, req.TechnicianID, hash, now, expires)
		exec(tx, insO, oid, req.TenantID, vid, sealed, now, now)
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		form := url.Values{"To": {"+15550100142"}, "From": {"+15550100000"}, "Body": {"Your Bench IT verification code is 123 456."}}
		hreq, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
		hreq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		hreq.SetBasicAuth(twiliotest.DefaultAccountSID, twiliotest.DefaultAuthToken)
		res, err := hc.Do(hreq)
		if err != nil {
			b.Fatal(err)
		}
		var sent struct {
			SID string `json:"sid"`
		}
		err = json.NewDecoder(res.Body).Decode(&sent)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusCreated || sent.SID == "" {
			b.Fatalf("twilio fake: %s %v", res.Status, err)
		}
		tx, err = db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		exec(tx, updV, sent.SID, now, req.TenantID, vid)
		exec(tx, updO, sent.SID, now, req.TenantID, oid)
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
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
func benchEngine(b testing.TB, st *store.Store, now func() time.Time) (*core.Engine, *twiliotest.Server, core.StartRequest) {
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

// benchContact creates another contact of req's client with a default
// phone, for work that must not touch req's contact.
func benchContact(b testing.TB, eng *core.Engine, st *store.Store, req core.StartRequest, phone string) string {
	ctx := context.Background()
	var clientID string
	err := st.View(ctx, func(tx core.Tx) error {
		c, err := tx.Contact(ctx, req.TenantID, req.ContactID)
		clientID = c.ClientID
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	c, err := eng.CreateContact(ctx, req.TenantID, "bench", "manual", core.NewContact{ClientID: clientID, FirstName: "Min",
		Phones: []core.NewDestination{{Value: phone, Default: true}}})
	if err != nil {
		b.Fatal(err)
	}
	return c.ID
}
