package autotask_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/autotask"
	"github.com/countersign/countersign/autotask/autotasktest"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// clock is a settable clock for budget tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// sleeps records the waits the client asks for and returns at once.
type sleeps struct {
	mu sync.Mutex
	ds []time.Duration
}

func (s *sleeps) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.ds = append(s.ds, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) Take() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.ds
	s.ds = nil
	return out
}

func budgetEnv(t *testing.T) (*autotasktest.Server, *autotask.Client, *clock, *sleeps, *callLog) {
	t.Helper()
	f := autotasktest.NewServer(t)
	f.Seed([]psa.Company{acme}, []psa.Contact{alice, bob}, []psa.Ticket{ticket})
	clk := &clock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	sl := &sleeps{}
	calls := &callLog{}
	cfg := f.Config()
	cfg.ZoneURL, cfg.WebURL = f.ZoneURL(), f.WebURL() // stored at setup
	c, err := autotask.New(cfg, f.Deps(psa.Deps{Now: clk.Now, Calls: calls, Retry: psa.RetryPolicy{MaxAttempts: 3, Sleep: sl.Sleep}}))
	require.NoError(t, err)
	return f, c, clk, sl, calls
}

// TestThresholdSlowsAndStopsBackgroundWork: background work reads
// ThresholdInformation at most every five minutes, slows down above 50 %
// of the database's threshold and stops above 75 %, while the calls a
// technician waits for go on.
func TestThresholdSlowsAndStopsBackgroundWork(t *testing.T) {
	f, c, clk, sl, calls := budgetEnv(t)

	_, err := c.ListCompanies(t.Context(), psa.ListOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"GET /V1.0/ThresholdInformation 200", "GET /V1.0/Companies/query 200"}, calls.Take())
	assert.Empty(t, sl.Take(), "no pause under half the threshold")
	used, limit, ok := c.Budget().Usage()
	require.True(t, ok)
	assert.Equal(t, 10000, limit)
	assert.Equal(t, 2, used, "the reading plus the calls made since")

	// Other integrations use 60 %: the next reading (after five minutes)
	// slows the sync down.
	f.SetOtherUsage(6000)
	_, err = c.ListCompanies(t.Context(), psa.ListOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"GET /V1.0/Companies/query 200"}, calls.Take(), "no new reading within five minutes")
	clk.Add(5 * time.Minute)
	_, err = c.ListCompanies(t.Context(), psa.ListOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"GET /V1.0/ThresholdInformation 200", "GET /V1.0/Companies/query 200"}, calls.Take())
	assert.Equal(t, []time.Duration{2 * time.Second}, sl.Take(), "slowed above 50 %")

	// Above 75 %: the sync stops, with a message an admin can act on, and
	// sends nothing but the reading.
	f.SetOtherUsage(7600)
	clk.Add(5 * time.Minute)
	_, err = c.ListCompanies(t.Context(), psa.ListOptions{})
	require.ErrorIs(t, err, core.ErrRateLimited)
	assert.Contains(t, core.ErrorMessage(err), "pauses background work above 75%")
	assert.Equal(t, []string{"GET /V1.0/ThresholdInformation 200"}, calls.Take())

	// A verification still reads its ticket and writes its note.
	_, err = c.GetTicket(t.Context(), ticket.Ref)
	require.NoError(t, err)
	require.NoError(t, c.AddTicketNote(t.Context(), ticket.Ref, psa.Note{Text: "verified (ver_b1)"}))
	assert.Len(t, calls.Take(), 3)

	// Our own calls count towards the estimate between readings.
	f.SetOtherUsage(0)
	clk.Add(5 * time.Minute)
	_, err = c.ListCompanies(t.Context(), psa.ListOptions{})
	require.NoError(t, err, "below the threshold again")
}

// TestBudgetsAreSharedPerDatabase: two clients of one descriptor (an
// integration re-saved, or two on the same database) share one budget.
func TestBudgetsAreSharedPerDatabase(t *testing.T) {
	f := autotasktest.NewServer(t)
	f.Seed([]psa.Company{acme}, []psa.Contact{alice}, []psa.Ticket{ticket})
	d := autotask.Descriptor()
	cfg := `{"username":"` + autotasktest.UserName + `","secret":"` + autotasktest.Secret + `","integration_code":"` + autotasktest.IntegrationCode + `"}`
	c1, err := d.New([]byte(cfg), f.Deps(psa.Deps{}))
	require.NoError(t, err)
	c2, err := d.New([]byte(cfg), f.Deps(psa.Deps{}))
	require.NoError(t, err)
	a, b := c1.(*autotask.Client), c2.(*autotask.Client)
	assert.Same(t, a.Budget(), b.Budget())
	_, err = a.GetContact(t.Context(), alice.Ref)
	require.NoError(t, err)
	_, err = b.GetContact(t.Context(), alice.Ref)
	require.NoError(t, err)
	assert.EqualValues(t, 2, a.Budget().Calls())
}

// TestVerificationCallBudget counts the API calls of what a technician
// does on a ticket's Insight: load it (the ticket, then its contact unless
// the server already mirrors it), verify the caller (no Autotask call), and
// the note. The zone is stored at setup. At most 4 cold, at most 2 warm.
func TestVerificationCallBudget(t *testing.T) {
	f, c, _, _, calls := budgetEnv(t)
	tk, err := c.GetTicketOnly(t.Context(), ticket.Ref)
	require.NoError(t, err)
	_, err = c.GetContact(t.Context(), tk.ContactRef)
	require.NoError(t, err)
	require.NoError(t, c.AddTicketNote(t.Context(), ticket.Ref, psa.Note{Text: "Alice Smith was VERIFIED by SMS code (ver_c1)"}))
	cold := calls.Take()
	assert.Equal(t, []string{"GET /V1.0/Tickets/{id} 200", "GET /V1.0/Contacts/{id} 200", "POST /V1.0/Tickets/{parentId}/Notes 200"}, cold)
	assert.LessOrEqual(t, len(cold), 4)
	t.Logf("Autotask calls, cold Insight load + verification + note: %d %v", len(cold), cold)

	_, err = c.GetTicketOnly(t.Context(), ticket.Ref)
	require.NoError(t, err)
	require.NoError(t, c.AddTicketNote(t.Context(), ticket.Ref, psa.Note{Text: "Alice Smith was VERIFIED by SMS code (ver_c2)"}))
	warm := calls.Take()
	assert.Equal(t, []string{"GET /V1.0/Tickets/{id} 200", "POST /V1.0/Tickets/{parentId}/Notes 200"}, warm)
	t.Logf("Autotask calls, warm Insight load + verification + note: %d %v", len(warm), warm)
	assert.Len(t, f.Notes(ticket.Ref), 2)
}

// BenchmarkVerificationsPerHour runs 500 verifications, each on its own
// ticket, through one client in the steady state (zone stored, contacts
// mirrored: a ticket read and a note each) and reports the share of
// Autotask's 10,000 requests an hour they use.
func BenchmarkVerificationsPerHour(b *testing.B) {
	const perHour = 500
	f := autotasktest.NewServer(b)
	var tickets []psa.Ticket
	for i := range perHour {
		tickets = append(tickets, psa.Ticket{Ref: itoa(5000 + i), Summary: "call", CompanyRef: acme.Ref, ContactRef: alice.Ref})
	}
	f.Seed([]psa.Company{acme}, []psa.Contact{alice}, tickets)
	cfg := f.Config()
	cfg.ZoneURL, cfg.WebURL = f.ZoneURL(), f.WebURL()
	var share float64
	for b.Loop() {
		c, err := autotask.New(cfg, f.Deps(psa.Deps{}))
		if err != nil {
			b.Fatal(err)
		}
		for _, tk := range tickets {
			if _, err := c.GetTicketOnly(b.Context(), tk.Ref); err != nil {
				b.Fatal(err)
			}
			if err := c.AddTicketNote(b.Context(), tk.Ref, psa.Note{Text: "Alice Smith was VERIFIED by SMS code"}); err != nil {
				b.Fatal(err)
			}
		}
		share = float64(c.Budget().Calls()) / 10000 * 100
	}
	b.ReportMetric(share, "%-of-10000/h")
	b.ReportMetric(share*10000/100/perHour, "calls/verification")
}

func itoa(n int) string { return autotaskRef(n) }
