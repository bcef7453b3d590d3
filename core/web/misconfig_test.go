package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
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

// TestPSAEventWaitsForRefusedKeys: a genuine "ticket added" event arrives
// while the PSA refuses the integration's API key. Acting on it (reading
// the ticket) is refused once; the event waits, unfinished, asking the PSA
// nothing more, with the integration marked misconfigured; saving the
// integration with the new key acts on it.
func TestPSAEventWaitsForRefusedKeys(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		srv := memory.NewServer("psa-key-1")
		srv.SetClock(e.clk.Now) // the PSA's clients tell time by the server's clock
		srv.SetWebhookSecret("whsec-1")
		srv.Seed([]psa.Company{{Ref: "co1", Name: "Fabrikam"}},
			[]psa.Contact{{Ref: "c1", CompanyRef: "co1", FirstName: "Pat", LastName: "Pod", Phones: []psa.Phone{{Number: "(555) 010-0177", Default: true}}}},
			[]psa.Ticket{{Ref: "900", Summary: "New ticket", CompanyRef: "co1", ContactRef: "c1"}})
		ts := httptest.NewServer(srv)
		t.Cleanup(ts.Close)
		cfg, err := json.Marshal(memory.Config{BaseURL: ts.URL, APIKey: "psa-key-1", WebhookSecret: "whsec-1"})
		require.NoError(t, err)
		in, err := e.eng.PutIntegration(t.Context(), e.a.tenant.ID, "test", core.Integration{Kind: memory.ID, Name: "Memory", Config: cfg})
		require.NoError(t, err)
		p, err := e.eng.Policy(t.Context(), e.a.tenant.ID, "")
		require.NoError(t, err)
		p.OnNewTicket, p.AutoSendMethod = core.OnNewTicketAutoSend, core.MethodSMSCode
		require.NoError(t, e.eng.PutPolicy(t.Context(), e.a.tenant.ID, "test", "", p))

		srv.SetAPIKey("psa-key-2") // rotated in the PSA
		h, body := srv.SignedEvent("ticket", "added", "900")
		// Counted from before the event arrives: the webhook may kick the
		// outbox itself, so its one read can land before e.deliver runs.
		before := srv.Requests()
		r := e.do(t, e.client(t), http.MethodPost, "/webhooks/psa/"+e.a.tenant.Slug+"/"+in.ID, "application/json", body,
			map[string]string{memory.SignatureHeader: h.Get(memory.SignatureHeader)})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		evID, _ := r.JSON(t)["event"].(string)
		require.NotEmpty(t, evID)
		e.deliver(t)
		assert.Equal(t, 1, srv.Requests()-before, "one refused read")
		for range 3 {
			e.clk.Add(10 * time.Second)
			e.deliver(t)
		}
		assert.Equal(t, 1, srv.Requests()-before, "not asked again before the probe")
		issues, err := e.eng.ChannelIssues(t.Context(), e.a.tenant.ID)
		require.NoError(t, err)
		require.Len(t, issues, 1)
		assert.Equal(t, core.PSAChannel(in.ID), issues[0].Channel)
		assert.Equal(t, "missing or wrong API key", issues[0].VendorMessage)
		ev, err := e.eng.InboundEvent(t.Context(), e.a.tenant.ID, evID)
		require.NoError(t, err)
		assert.NotEqual(t, core.InboundDone, ev.Status, "the event is not finished while it waits")

		cfg, err = json.Marshal(memory.Config{BaseURL: ts.URL, APIKey: "psa-key-2", WebhookSecret: "whsec-1"})
		require.NoError(t, err)
		in.Config = cfg
		_, err = e.eng.PutIntegration(t.Context(), e.a.tenant.ID, "tech:"+e.a.tech.ID, in)
		require.NoError(t, err)
		e.deliver(t)
		e.deliver(t)
		ev, err = e.eng.InboundEvent(t.Context(), e.a.tenant.ID, evID)
		require.NoError(t, err)
		assert.Equal(t, "verification sent", ev.Outcome)
		sent := e.sms.Len()
		assert.Equal(t, 1, sent, "the new ticket's caller got the code once the keys were fixed")
	})
}
