package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/live"
	"github.com/countersign/countersign/core/psa/memory"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// The inbound seam: events a PSA posts to the generic route (and to the
// legacy route a plugin's descriptor keeps), verified by the plugin, made
// durable and acted on from the outbox. Here the PSA is the memory PSA
// as seamDescriptor, which signs its events with an HMAC of a timestamp
// and the body (memory.SignatureHeader).

// psaHook is tenant a's seam integration, set up through the API, and
// its event paths: the generic inbound route and the plugin's legacy one.
type psaHook struct {
	e      *env
	psa    *memory.Server
	id     string
	path   string
	legacy string
}

func newPSAHook(t *testing.T, st *store.Store) *psaHook {
	t.Helper()
	e, srv, base := newSeamEnv(t, st)
	in := e.createSeam(t, e.adminClient(t), base)
	h := &psaHook{e: e, psa: srv, id: in["id"].(string)}
	h.path = "/webhooks/psa/" + e.a.tenant.Slug + "/" + h.id
	h.legacy = seamLegacyPath + e.a.tenant.Slug + "/" + h.id
	require.Equal(t, publicURL+h.path+"?via=webhook", in["callback_url"])
	return h
}

// event is one event as the memory PSA posts it.
type event struct {
	sig  string // the memory.SignatureHeader value; "" for none
	body []byte
}

// event returns a freshly signed event about record ref.
func (h *psaHook) event(typ, action, ref string) event {
	hdr, body := h.psa.SignedEvent(typ, action, ref)
	return event{sig: hdr.Get(memory.SignatureHeader), body: body}
}

// signed returns body signed as the PSA would sign it at t.
func signed(body []byte, at time.Time) event {
	return event{sig: memory.Sign(seamWebhookSecret, at, body), body: body}
}

// post sends ev to path as the PSA does, to the URL it was given (with the
// plugin's query).
func (h *psaHook) post(t *testing.T, path string, ev event) response {
	t.Helper()
	hdr := map[string]string{}
	if ev.sig != "" {
		hdr[memory.SignatureHeader] = ev.sig
	}
	return h.e.do(t, h.e.client(t), http.MethodPost, path+"?via=webhook", "application/json", ev.body, hdr)
}

func (h *psaHook) setPolicy(t *testing.T, change func(*core.Policy)) {
	t.Helper()
	p, err := h.e.eng.Policy(t.Context(), h.e.a.tenant.ID, "")
	require.NoError(t, err)
	change(&p)
	require.NoError(t, h.e.eng.PutPolicy(t.Context(), h.e.a.tenant.ID, "test", "", p))
}

func (h *psaHook) audit(t *testing.T, action string) []core.AuditEvent {
	t.Helper()
	evs, err := h.e.eng.AuditEvents(t.Context(), h.e.a.tenant.ID, core.AuditQuery{Action: action})
	require.NoError(t, err)
	return evs
}

// act posts ev as post does and returns what came of it: the answer's
// result when the event was not taken (a duplicate), else — the event is
// acknowledged at once and acted on from the outbox — the outcome
// recorded on the event once the outbox has delivered it.
func (h *psaHook) act(t *testing.T, path string, ev event) string {
	t.Helper()
	r := h.post(t, path, ev)
	if got := result(t, r); got != "accepted" {
		return got
	}
	id, _ := r.JSON(t)["event"].(string)
	h.e.deliver(t)
	in, err := h.e.eng.InboundEvent(t.Context(), h.e.a.tenant.ID, id)
	require.NoError(t, err)
	require.NotEqual(t, core.InboundReceived, in.Status, "acted on: %+v", in)
	return in.Outcome
}

func result(t *testing.T, r response) string {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	s, _ := r.JSON(t)["result"].(string)
	return s
}

// mirroredContact returns tenant a's mirror of the PSA's contact ref.
func (e *env) mirroredContact(t *testing.T, ref string) core.Contact {
	t.Helper()
	cs, err := e.eng.SearchContacts(t.Context(), e.a.tenant.ID, core.ContactQuery{PSAKind: seamKind, PSARef: ref})
	require.NoError(t, err)
	require.Len(t, cs, 1)
	return cs[0]
}

// TestPSAEventBanner checks a new ticket under a banner policy: recorded
// and audited once, its contact mirrored, a live event published; a
// replay on either route and another event about the same ticket do
// nothing; other events are acknowledged and ignored.
func TestPSAEventBanner(t *testing.T) {
	h := newPSAHook(t, storetest.Open(t, store.SQLite))
	e := h.e
	h.setPolicy(t, func(p *core.Policy) { p.OnNewTicket, p.Banner = core.OnNewTicketBanner, "Verify every caller" })

	sub, err := e.hub.Subscribe(e.a.tenant.ID, live.Watch{TicketRef: "3001"})
	require.NoError(t, err)
	defer sub.Close()

	ev := h.event("ticket", "added", "3001")
	assert.Equal(t, "recorded", h.act(t, h.path, ev))

	evs := h.audit(t, string(core.EventTicketAdded))
	require.Len(t, evs, 1)
	assert.Equal(t, "psa:"+seamKind, evs[0].Actor)
	assert.Equal(t, "ticket:"+h.id+":3001", evs[0].Subject)
	assert.Equal(t, "banner", evs[0].Detail["on_new_ticket"])
	mirrored := e.mirroredContact(t, "c1")
	assert.Equal(t, mirrored.ID, evs[0].Detail["contact"], "the ticket's contact was read through the API and mirrored")
	select {
	case m := <-sub.C():
		require.False(t, m.Resync())
		assert.Equal(t, core.EventTicketAdded, m.Event.Type)
		assert.Equal(t, mirrored.ID, m.Event.ContactID)
		assert.Contains(t, string(m.JSON()), `"type":"ticket.added"`)
	case <-time.After(2 * time.Second):
		t.Fatal("no live event for the new ticket")
	}

	assert.Equal(t, "ignored: this event was delivered already", h.act(t, h.path, ev))
	assert.Equal(t, "ignored: this event was delivered already", h.act(t, h.legacy, ev), "the legacy route shares the replay check")
	assert.Equal(t, "ignored: the ticket was handled already", h.act(t, h.legacy, h.event("ticket", "added", "3001")))
	assert.Len(t, h.audit(t, string(core.EventTicketAdded)), 1)

	for _, action := range []string{"updated", "deleted", "merged"} {
		assert.Equal(t, "ignored", h.act(t, h.path, h.event("ticket", action, "3001")), action)
	}
	assert.Equal(t, "ignored", h.act(t, h.path, h.event("contact", "added", "c1")))
	assert.Equal(t, "ignored: the ticket is gone", h.act(t, h.path, h.event("ticket", "added", "3999")))

	// A policy that does nothing reads the ticket and writes nothing but
	// the event's own record (and its outbox item).
	h.setPolicy(t, func(p *core.Policy) { p.OnNewTicket = "" })
	before := e.state(t)
	assert.Equal(t, "ignored: the policy does nothing on new tickets", h.act(t, h.path, h.event("ticket", "added", "3002")))
	before.Outbox[e.a.tenant.ID]++
	assert.Equal(t, before, e.state(t))
}

// TestPSAEventAutoSend checks the automatic send on a new ticket: the
// policy API refuses what cannot go out alone, the ticket's contact gets
// a code on no technician's behalf, whoever picks the ticket up checks it,
// and the result is written to the ticket.
func TestPSAEventAutoSend(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		h := newPSAHook(t, st)
		e := h.e
		c := e.login(t, e.a) // an admin for the policy, a technician below

		r := e.api(t, c, http.MethodPut, "/api/v1/admin/policies/default", map[string]any{"on_new_ticket": "auto_send", "auto_send_method": "email_link"})
		require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
		assert.Contains(t, r.JSON(t)["error"], "links need a code the technician reads")
		r = e.api(t, c, http.MethodPut, "/api/v1/admin/policies/default", map[string]any{"on_new_ticket": "auto_send"})
		require.Equal(t, http.StatusBadRequest, r.status)
		r = e.api(t, c, http.MethodPut, "/api/v1/admin/policies/default", map[string]any{"on_new_ticket": "shout"})
		require.Equal(t, http.StatusBadRequest, r.status)
		r = e.api(t, c, http.MethodPut, "/api/v1/admin/policies/default", map[string]any{"on_new_ticket": "auto_send", "auto_send_method": "sms_code"})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		e.setRole(t, &e.a, core.RoleTechnician)

		assert.Equal(t, "verification sent", h.act(t, h.path, h.event("ticket", "added", "3001")))
		e.deliver(t)
		msg, _ := e.sms.last(t)
		assert.Equal(t, "+15550100177", msg.To)
		assert.NotContains(t, msg.Text, "Jane", "no technician's name: nobody asked")

		history, err := e.eng.History(t.Context(), e.a.tenant.ID, e.mirroredContact(t, "c1").ID)
		require.NoError(t, err)
		require.Len(t, history, 1)
		v := history[0]
		assert.Equal(t, "system:integration:"+h.id, v.TechnicianID)
		assert.Equal(t, h.id, v.IntegrationID)
		assert.Equal(t, "3001", v.TicketRef)
		started := h.audit(t, string(core.EventVerificationStarted))
		require.Len(t, started, 1)
		assert.Equal(t, "system:integration:"+h.id, started[0].Actor)

		r = e.api(t, c, http.MethodPost, "/api/v1/verifications/"+v.ID+"/check", map[string]string{"code": codeIn(t, msg)})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, "verified", r.JSON(t)["status"])
		e.deliver(t)
		notes := h.psa.Notes("3001")
		require.Len(t, notes, 1)
		assert.Contains(t, notes[0].Text, "VERIFIED")
		assert.Contains(t, notes[0].Text, "automatically on the new ticket")
		assert.False(t, notes[0].Public)

		assert.Equal(t, "recorded; no verification sent: the ticket has no contact", h.act(t, h.path, h.event("ticket", "added", "3002")))
		assert.Len(t, h.audit(t, "ticket.auto_send_failed"), 1)
	})
}

// TestPSAEventRefused checks that an event the plugin does not verify —
// unsigned, forged, tampered, replayed late, oversize, or posted to a path
// that is not its integration's — gets its error status, one log line and
// nothing else: no database write and no PSA call.
func TestPSAEventRefused(t *testing.T) {
	h := newPSAHook(t, storetest.Open(t, store.SQLite))
	e := h.e
	h.setPolicy(t, func(p *core.Policy) { p.OnNewTicket = core.OnNewTicketAutoSend; p.AutoSendMethod = core.MethodSMSCode })
	good := h.event("ticket", "added", "3001")
	now := e.clk.Now()
	tampered := []byte(strings.Replace(string(good.body), "3001", "3002", 1))
	tests := []struct {
		name   string
		path   string
		ev     event
		status int
		log    string
	}{
		{name: "no signature", path: h.path, ev: event{body: good.body}, status: 401, log: "bad signature"},
		{name: "wrong signature", path: h.path, ev: event{sig: "t=1,v1=00ff", body: good.body}, status: 401, log: "bad signature"},
		{name: "another secret", path: h.path, ev: event{sig: memory.Sign("not-the-secret", now, good.body), body: good.body}, status: 401, log: "does not match"},
		{name: "tampered body", path: h.path, ev: event{sig: good.sig, body: tampered}, status: 401, log: "does not match"},
		{name: "replayed late", path: h.path, ev: signed(good.body, now.Add(-10*time.Minute)), status: 401, log: "too far from now"},
		{name: "from the future", path: h.path, ev: signed(good.body, now.Add(10*time.Minute)), status: 401, log: "too far from now"},
		{name: "malformed json", path: h.path, ev: signed([]byte(`{"type":"ticket","ref":`), now), status: 400, log: "malformed"},
		{name: "not an object", path: h.path, ev: signed([]byte(`"added"`), now), status: 400, log: "malformed"},
		{name: "empty body", path: h.path, ev: signed([]byte{}, now), status: 400, log: "malformed"},
		{name: "huge body", path: h.path, ev: signed([]byte(`{"x":"`+strings.Repeat("a", 1<<20)+`"}`), now), status: 413, log: "too large"},
		{name: "unknown integration", path: "/webhooks/psa/" + e.a.tenant.Slug + "/int_nope", ev: good, status: 404, log: "no such integration"},
		{name: "another tenant's path", path: "/webhooks/psa/" + e.b.tenant.Slug + "/" + h.id, ev: good, status: 404, log: "no such integration"},
		{name: "unknown tenant", path: "/webhooks/psa/nobody/" + h.id, ev: good, status: 404, log: "no such integration"},
		{name: "legacy route, no signature", path: h.legacy, ev: event{body: good.body}, status: 401, log: "bad signature"},
		{name: "legacy route, another tenant", path: seamLegacyPath + e.b.tenant.Slug + "/" + h.id, ev: good, status: 404, log: "no such integration"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, calls := e.state(t), h.psa.Requests()
			logsBefore := e.logs.String()
			r := h.post(t, tc.path, tc.ev)
			require.Equal(t, tc.status, r.status, "%s", r.body)
			assert.NotContains(t, string(r.body), "3001", "the answer says nothing about the event")
			assert.Equal(t, before, e.state(t), "a refused event changed the store")
			assert.Equal(t, calls, h.psa.Requests(), "a refused event made PSA calls")
			var lines []string
			for _, l := range strings.Split(strings.TrimPrefix(e.logs.String(), logsBefore), "\n") {
				if strings.Contains(l, "psa event") {
					lines = append(lines, l)
				}
			}
			require.Len(t, lines, 1, "one log line")
			assert.Contains(t, lines[0], tc.log)
			assert.Contains(t, lines[0], "source_ip=")
		})
	}
	assert.Empty(t, e.sms.Messages(), "nothing was sent")
	e.assertLogsClean(t, seamWebhookSecret)

	r := e.do(t, e.client(t), http.MethodGet, h.path, "", nil, nil)
	assert.Equal(t, http.StatusMethodNotAllowed, r.status, "GET is not an event")

	// The genuine event still gets through, on the legacy route too.
	assert.Equal(t, "verification sent", h.act(t, h.legacy, good))
}

// TestPSAEventRoutes checks the routing of the inbound seam: a plugin's
// legacy route serves that plugin's integrations only, and an integration
// that cannot verify events (a memory PSA without a webhook secret) takes
// none: 401, nothing recorded.
func TestPSAEventRoutes(t *testing.T) {
	h := newPSAHook(t, storetest.Open(t, store.SQLite))
	e := h.e
	h.setPolicy(t, func(p *core.Policy) { p.OnNewTicket = core.OnNewTicketBanner })
	cfg, _ := json.Marshal(map[string]string{"base_url": "http://127.0.0.1:1", "api_key": "k"})
	mem, err := e.eng.PutIntegration(t.Context(), e.a.tenant.ID, "test", core.Integration{Kind: memory.ID, Name: "Memory", Config: cfg})
	require.NoError(t, err)
	ev := h.event("ticket", "added", "3001")

	r := h.post(t, seamLegacyPath+e.a.tenant.Slug+"/"+mem.ID, ev)
	assert.Equal(t, http.StatusNotFound, r.status, "the seam PSA's legacy route takes no other PSA's events")
	assert.Contains(t, e.logs.String(), "is not a seam integration")
	r = h.post(t, "/webhooks/psa/"+e.a.tenant.Slug+"/"+mem.ID, ev)
	assert.Equal(t, http.StatusUnauthorized, r.status, "an integration that cannot verify events takes none")
	assert.Contains(t, e.logs.String(), "has no webhook secret")
	evs, err := e.eng.InboundEvents(t.Context(), e.a.tenant.ID, mem.ID, 10)
	require.NoError(t, err)
	assert.Empty(t, evs)

	assert.Equal(t, "recorded", h.act(t, h.legacy, ev), "the legacy route works")
	assert.Len(t, h.audit(t, string(core.EventTicketAdded)), 1)
}

// TestPSAEventAcknowledgedFirst checks that an event is acknowledged once
// it is verified and recorded, whatever the PSA is doing: the ticket is
// read and the policy applied afterwards, from the outbox, again after a
// failure, and once only; the integration page lists the events and what
// came of them.
func TestPSAEventAcknowledgedFirst(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		h := newPSAHook(t, st)
		e := h.e
		h.setPolicy(t, func(p *core.Policy) { p.OnNewTicket = core.OnNewTicketAutoSend; p.AutoSendMethod = core.MethodSMSCode })
		assert.Equal(t, "ignored", h.act(t, h.path, h.event("ticket", "updated", "3001")))

		// The PSA goes down right after sending the event.
		h.psa.SetDown(true)
		ev := h.event("ticket", "added", "3001")
		r := h.post(t, h.path, ev)
		require.Equal(t, "accepted", result(t, r), "acknowledged without waiting for the PSA")
		id, _ := r.JSON(t)["event"].(string)
		assert.Equal(t, "ignored: this event was delivered already", result(t, h.post(t, h.legacy, ev)), "the PSA's retry is recorded once")
		e.deliver(t)
		in, err := e.eng.InboundEvent(t.Context(), e.a.tenant.ID, id)
		require.NoError(t, err)
		assert.Equal(t, core.InboundFailed, in.Status)
		assert.Equal(t, "failed: the ticket could not be read", in.Outcome)
		assert.Empty(t, e.sms.Messages())

		// Back: the outbox acts on it, once.
		h.psa.SetDown(false)
		e.clk.Add(time.Minute)
		e.deliver(t)
		e.deliver(t)
		in, err = e.eng.InboundEvent(t.Context(), e.a.tenant.ID, id)
		require.NoError(t, err)
		assert.Equal(t, core.InboundDone, in.Status)
		assert.Equal(t, "verification sent", in.Outcome)
		assert.GreaterOrEqual(t, in.Attempts, 2)
		require.Len(t, e.sms.Messages(), 1, "one verification for the new ticket")
		e.clk.Add(time.Hour)
		e.deliver(t)
		assert.Len(t, e.sms.Messages(), 1)
		assert.Len(t, h.audit(t, string(core.EventTicketAdded)), 1)

		r = e.api(t, e.adminClient(t), http.MethodGet, "/api/v1/admin/integrations/"+h.id, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var page struct {
			Events []struct {
				Type, Action, Ref, Status, Outcome, Received string
			} `json:"events"`
		}
		require.NoError(t, json.Unmarshal(r.body, &page))
		require.Len(t, page.Events, 2)
		byAction := map[string]string{}
		for _, ev := range page.Events {
			assert.Equal(t, "ticket", ev.Type)
			assert.Equal(t, "3001", ev.Ref)
			assert.NotEmpty(t, ev.Received)
			byAction[ev.Action] = ev.Status + ": " + ev.Outcome
		}
		assert.Equal(t, map[string]string{"added": "done: verification sent", "updated": "ignored: ignored"}, byAction)
		assert.NotContains(t, string(r.body), "sha256:", "event keys are not shown")
		assert.NotContains(t, string(r.body), "evt_", "nor the PSA's event ids")
	})
}
