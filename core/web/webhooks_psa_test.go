package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/memory"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// ticketGate holds the PSA's ticket reads until n reads of one ticket have
// arrived (or a few seconds have passed), so that every delivery of a
// "ticket added" event reaches the "handled already?" step at once: the
// race a PSA's duplicate deliveries, or two outbox workers, run for real.
type ticketGate struct {
	next http.Handler
	n    int
	mu   sync.Mutex
	hold map[string]chan struct{}
	seen map[string]int
}

func (g *ticketGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if ref, ok := strings.CutPrefix(r.URL.Path, "/api/v1/tickets/"); ok && r.Method == http.MethodGet {
		g.mu.Lock()
		ch, found := g.hold[ref]
		if !found {
			ch = make(chan struct{})
			g.hold[ref] = ch
		}
		if g.seen[ref]++; g.seen[ref] == g.n {
			close(ch)
		}
		g.mu.Unlock()
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}
	g.next.ServeHTTP(w, r)
}

// TestPSAEventNewTicketAutoSendsOnce checks that a "ticket added" event
// delivered several times at once (each delivery with its own event id,
// as PSAs retry) auto-sends one verification: the "handled already?"
// check and its record are one transaction in the engine
// (core.Engine.ClaimNewTicket), so the deliveries cannot all pass it.
func TestPSAEventNewTicketAutoSendsOnce(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		const deliveries = 5
		tickets := []string{"900", "901", "902"}
		e := newEnv(t, st)
		srv := memory.NewServer("psa-key-1")
		srv.SetClock(e.clk.Now) // the PSA's clients tell time by the server's clock
		srv.SetWebhookSecret("whsec-concurrent")
		var seeded []psa.Ticket
		for _, ref := range tickets {
			seeded = append(seeded, psa.Ticket{Ref: ref, Summary: "New ticket " + ref, CompanyRef: "co1", ContactRef: "c1"})
		}
		srv.Seed([]psa.Company{{Ref: "co1", Name: "Fabrikam"}},
			[]psa.Contact{{Ref: "c1", CompanyRef: "co1", FirstName: "Pat", LastName: "Pod", Phones: []psa.Phone{{Number: "(555) 010-0177", Default: true}}}},
			seeded)
		ts := httptest.NewServer(&ticketGate{next: srv, n: deliveries, hold: map[string]chan struct{}{}, seen: map[string]int{}})
		t.Cleanup(ts.Close)
		cfg, err := json.Marshal(memory.Config{BaseURL: ts.URL, APIKey: "psa-key-1", WebhookSecret: "whsec-concurrent"})
		require.NoError(t, err)
		in, err := e.eng.PutIntegration(t.Context(), e.a.tenant.ID, "test", core.Integration{Kind: memory.ID, Name: "Memory", Config: cfg})
		require.NoError(t, err)
		p, err := e.eng.Policy(t.Context(), e.a.tenant.ID, "")
		require.NoError(t, err)
		p.OnNewTicket, p.AutoSendMethod = core.OnNewTicketAutoSend, core.MethodSMSCode
		require.NoError(t, e.eng.PutPolicy(t.Context(), e.a.tenant.ID, "test", "", p))

		path := "/webhooks/psa/" + e.a.tenant.Slug + "/" + in.ID
		var events []string
		for _, ref := range tickets {
			ids := make([]string, deliveries)
			var wg sync.WaitGroup
			for i := range deliveries {
				h, body := srv.SignedEvent("ticket", "added", ref)
				wg.Add(1)
				go func() {
					defer wg.Done()
					hdr := map[string]string{memory.SignatureHeader: h.Get(memory.SignatureHeader)}
					r := e.do(t, e.client(t), http.MethodPost, path, "application/json", body, hdr)
					if assert.Equal(t, http.StatusOK, r.status, "%s", r.body) {
						ids[i], _ = r.JSON(t)["event"].(string)
					}
				}()
			}
			wg.Wait()
			events = append(events, ids...)
		}
		e.deliver(t)

		outcomes := map[string]int{}
		for _, id := range events {
			require.NotEmpty(t, id, "every delivery has its own event id and is accepted")
			ev, err := e.eng.InboundEvent(t.Context(), e.a.tenant.ID, id)
			require.NoError(t, err)
			outcomes[ev.Outcome]++
		}
		assert.Equal(t, map[string]int{
			"verification sent":                       len(tickets),
			"ignored: the ticket was handled already": len(tickets) * (deliveries - 1),
		}, outcomes)
		sent := e.sms.Len()
		assert.Equal(t, len(tickets), sent, "one SMS per new ticket")
		added, err := e.eng.AuditEvents(t.Context(), e.a.tenant.ID, core.AuditQuery{Action: string(core.EventTicketAdded)})
		require.NoError(t, err)
		assert.Equal(t, len(tickets), len(added), "one ticket.added record per ticket")
		if t.Failed() {
			t.Log(e.logs.String())
		}
	})
}
