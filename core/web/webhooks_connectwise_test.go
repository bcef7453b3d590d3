package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/connectwise/cwtest"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/live"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// cwHook is tenant a's ConnectWise integration, set up through the API,
// and its callback paths: the generic inbound route, and the route
// callbacks were registered at before it, which the plugin's descriptor
// keeps working.
type cwHook struct {
	e      *env
	cw     *cwtest.Server
	id     string
	path   string
	legacy string
}

func newCWHook(t *testing.T, st *store.Store) *cwHook {
	t.Helper()
	e, cw := newCWEnv(t, st)
	in := e.createCW(t, e.adminClient(t), cw)
	h := &cwHook{e: e, cw: cw, id: in["id"].(string)}
	h.path = "/webhooks/psa/" + e.a.tenant.Slug + "/" + h.id
	h.legacy = "/webhooks/connectwise/" + e.a.tenant.Slug + "/" + h.id
	require.Equal(t, publicURL+h.path+"?recordId=", in["callback_url"])
	return h
}

// post sends a callback as ConnectWise does: the raw body, its signature
// header, and the record id appended to the registered URL.
func (h *cwHook) post(t *testing.T, path string, body []byte, sig string) response {
	t.Helper()
	hdr := map[string]string{}
	if sig != "" {
		hdr["x-content-signature"] = sig
	}
	return h.e.do(t, h.e.client(t), http.MethodPost, path+"?recordId=3001", "application/json", body, hdr)
}

func (h *cwHook) setPolicy(t *testing.T, change func(*core.Policy)) {
	t.Helper()
	p, err := h.e.eng.Policy(t.Context(), h.e.a.tenant.ID, "")
	require.NoError(t, err)
	change(&p)
	require.NoError(t, h.e.eng.PutPolicy(t.Context(), h.e.a.tenant.ID, "test", "", p))
}

func (h *cwHook) audit(t *testing.T, action string) []core.AuditEvent {
	t.Helper()
	var evs []core.AuditEvent
	require.NoError(t, h.e.st.View(t.Context(), func(tx core.Tx) error {
		var err error
		evs, err = tx.AuditEvents(t.Context(), h.e.a.tenant.ID, core.AuditQuery{Action: action})
		return err
	}))
	return evs
}

// act posts a callback as post does and returns what came of it: the
// answer's result when the event was not taken (a duplicate), else —
// the event is acknowledged at once and acted on from the outbox — the
// outcome recorded on the event once the outbox has delivered it.
func (h *cwHook) act(t *testing.T, path string, body []byte, sig string) string {
	t.Helper()
	r := h.post(t, path, body, sig)
	if got := result(t, r); got != "accepted" {
		return got
	}
	id, _ := r.JSON(t)["event"].(string)
	h.e.deliver(t)
	ev, err := h.e.eng.InboundEvent(t.Context(), h.e.a.tenant.ID, id)
	require.NoError(t, err)
	require.NotEqual(t, core.InboundReceived, ev.Status, "acted on: %+v", ev)
	return ev.Outcome
}

func result(t *testing.T, r response) string {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	s, _ := r.JSON(t)["result"].(string)
	return s
}

func TestConnectWiseCallbackBanner(t *testing.T) {
	h := newCWHook(t, storetest.Open(t, store.SQLite))
	e := h.e
	h.setPolicy(t, func(p *core.Policy) { p.OnNewTicket, p.Banner = core.OnNewTicketBanner, "Verify every caller" })

	sub, err := e.hub.Subscribe(e.a.tenant.ID, live.Watch{TicketRef: icwTicket.Ref})
	require.NoError(t, err)
	defer sub.Close()

	cb := h.cw.SignedCallback("added", "ticket", 3001, map[string]any{"id": 3001, "summary": "Password reset"})
	assert.Equal(t, "recorded", h.act(t, h.path, cb.Body, cb.Signature))

	evs := h.audit(t, string(core.EventTicketAdded))
	require.Len(t, evs, 1)
	assert.Equal(t, "psa:connectwise", evs[0].Actor)
	assert.Equal(t, "ticket:"+h.id+":3001", evs[0].Subject)
	assert.Equal(t, "banner", evs[0].Detail["on_new_ticket"])
	// The ticket's contact was read through the API and mirrored.
	var mirrored []core.Contact
	require.NoError(t, e.st.View(t.Context(), func(tx core.Tx) error {
		mirrored, err = tx.SearchContacts(t.Context(), e.a.tenant.ID, core.ContactQuery{PSAKind: "connectwise", PSARef: icwAlice.Ref})
		return err
	}))
	require.Len(t, mirrored, 1)
	assert.Equal(t, mirrored[0].ID, evs[0].Detail["contact"])
	select {
	case m := <-sub.C():
		require.False(t, m.Resync())
		assert.Equal(t, core.EventTicketAdded, m.Event.Type)
		assert.Equal(t, mirrored[0].ID, m.Event.ContactID)
		assert.Contains(t, string(m.JSON()), `"type":"ticket.added"`)
	case <-time.After(2 * time.Second):
		t.Fatal("no live event for the new ticket")
	}

	// The same event again (a replay, on either route) is dropped; another
	// event about the same ticket does nothing either.
	assert.Equal(t, "ignored: this event was delivered already", h.act(t, h.path, cb.Body, cb.Signature))
	assert.Equal(t, "ignored: this event was delivered already", h.act(t, h.legacy, cb.Body, cb.Signature))
	again := h.cw.SignedCallback("added", "ticket", 3001, map[string]any{"id": 3001, "summary": "Password reset"})
	assert.Equal(t, "ignored: the ticket was handled already", h.act(t, h.legacy, again.Body, again.Signature))
	assert.Len(t, h.audit(t, string(core.EventTicketAdded)), 1)
	assert.Equal(t, 1, h.cw.KeyFetches(), "one key fetch for four callbacks")

	// Other events are acknowledged and ignored.
	for _, action := range []string{"updated", "deleted", "merged"} {
		cb := h.cw.SignedCallback(action, "ticket", 3001, map[string]any{"id": 3001})
		assert.Equal(t, "ignored", h.act(t, h.path, cb.Body, cb.Signature), action)
	}
	cb = h.cw.SignedCallback("added", "contact", 2001, map[string]any{"id": 2001})
	assert.Equal(t, "ignored", h.act(t, h.path, cb.Body, cb.Signature))
	// A ticket that is gone by the time we read it.
	cb = h.cw.SignedCallback("added", "ticket", 3999, map[string]any{"id": 3999})
	assert.Equal(t, "ignored: the ticket is gone", h.act(t, h.path, cb.Body, cb.Signature))

	// A policy that does nothing reads the ticket and writes nothing but
	// the event's own record (and its outbox item).
	h.setPolicy(t, func(p *core.Policy) { p.OnNewTicket = "" })
	before := e.state(t)
	cb = h.cw.SignedCallback("added", "ticket", 3002, map[string]any{"id": 3002})
	assert.Equal(t, "ignored: the policy does nothing on new tickets", h.act(t, h.path, cb.Body, cb.Signature))
	before.Outbox[e.a.tenant.ID]++
	assert.Equal(t, before, e.state(t))
}

func TestConnectWiseCallbackAutoSend(t *testing.T) {
	storetest.ForEachDialect(t, testConnectWiseCallbackAutoSend)
}

func testConnectWiseCallbackAutoSend(t *testing.T, st *store.Store) {
	h := newCWHook(t, st)
	e := h.e
	c := e.login(t, e.a) // tenant a's technician, no longer an admin below
	e.setRole(t, &e.a, core.RoleTechnician)

	// Links whose code a technician must read cannot go out on their own.
	e.setRole(t, &e.a, core.RoleAdmin)
	bad := map[string]any{"on_new_ticket": "auto_send", "auto_send_method": "email_link"}
	r := e.api(t, c, http.MethodPut, "/api/v1/admin/policies/default", bad)
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	assert.Contains(t, r.JSON(t)["error"], "links need a code the technician reads")
	r = e.api(t, c, http.MethodPut, "/api/v1/admin/policies/default", map[string]any{"on_new_ticket": "auto_send"})
	require.Equal(t, http.StatusBadRequest, r.status)
	r = e.api(t, c, http.MethodPut, "/api/v1/admin/policies/default", map[string]any{"on_new_ticket": "shout"})
	require.Equal(t, http.StatusBadRequest, r.status)
	r = e.api(t, c, http.MethodPut, "/api/v1/admin/policies/default", map[string]any{"on_new_ticket": "auto_send", "auto_send_method": "sms_code"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	e.setRole(t, &e.a, core.RoleTechnician)

	cb := h.cw.SignedCallback("added", "ticket", 3001, map[string]any{"id": 3001})
	assert.Equal(t, "verification sent", h.act(t, h.path, cb.Body, cb.Signature))
	e.deliver(t)
	msg, _ := e.sms.last(t)
	assert.Equal(t, "+15550100177", msg.To)
	assert.NotContains(t, msg.Text, "Jane", "no technician's name: nobody asked")

	var contact core.Contact
	require.NoError(t, e.st.View(t.Context(), func(tx core.Tx) error {
		cs, err := tx.SearchContacts(t.Context(), e.a.tenant.ID, core.ContactQuery{PSAKind: "connectwise", PSARef: icwAlice.Ref})
		if err == nil {
			require.Len(t, cs, 1)
			contact = cs[0]
		}
		return err
	}))
	history, err := e.eng.History(t.Context(), e.a.tenant.ID, contact.ID)
	require.NoError(t, err)
	require.Len(t, history, 1)
	v := history[0]
	assert.Equal(t, "system:integration:"+h.id, v.TechnicianID)
	assert.Equal(t, h.id, v.IntegrationID)
	assert.Equal(t, "3001", v.TicketRef)
	started := h.audit(t, string(core.EventVerificationStarted))
	require.Len(t, started, 1)
	assert.Equal(t, "system:integration:"+h.id, started[0].Actor)

	// Whoever picks up the ticket checks the code the caller reads out.
	r = e.api(t, c, http.MethodPost, "/api/v1/verifications/"+v.ID+"/check", map[string]string{"code": codeIn(t, msg)})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, "verified", r.JSON(t)["status"])
	e.deliver(t)
	notes := h.cw.Notes("3001")
	require.Len(t, notes, 1)
	assert.Contains(t, notes[0].Text, "VERIFIED")
	assert.Contains(t, notes[0].Text, "automatically on the new ticket")
	assert.False(t, notes[0].Public)

	// A ticket without a contact is recorded, and says why nothing went out.
	cb = h.cw.SignedCallback("added", "ticket", 3002, map[string]any{"id": 3002})
	assert.Equal(t, "recorded; no verification sent: the ticket has no contact", h.act(t, h.path, cb.Body, cb.Signature))
	assert.Len(t, h.audit(t, "ticket.auto_send_failed"), 1)
}

// TestConnectWiseCallbackRefused checks that a callback without a good
// signature gets 401, one log line and nothing else: no database write,
// no PSA call, and no key fetch from a host that is not the tenant's.
func TestConnectWiseCallbackRefused(t *testing.T) {
	h := newCWHook(t, storetest.Open(t, store.SQLite))
	e := h.e
	h.setPolicy(t, func(p *core.Policy) { p.OnNewTicket = core.OnNewTicketAutoSend; p.AutoSendMethod = core.MethodSMSCode })
	good := h.cw.SignedCallback("added", "ticket", 3001, map[string]any{"id": 3001})
	forge := func(keyURL string) ([]byte, string) {
		b, err := json.Marshal(map[string]any{"MessageId": "m-1", "Action": "added", "Type": "ticket", "ID": 3001,
			"CompanyId": h.cw.CompanyID(), "Metadata": map[string]string{"key_url": keyURL}})
		require.NoError(t, err)
		return b, h.cw.Sign(b)
	}
	foreign, foreignSig := forge(strings.Replace(h.cw.CallbackKeyURL(), h.cw.Site(), "keys.evil.example", 1))
	otherCo, otherCoSig := forge(strings.Replace(h.cw.CallbackKeyURL(), "companyName="+h.cw.CompanyID(), "companyName=evilmsp", 1))
	otherPath := "/webhooks/psa/" + e.b.tenant.Slug + "/" + h.id

	tests := []struct {
		name   string
		path   string
		body   []byte
		sig    string
		status int
		log    string
	}{
		{name: "no signature", path: h.path, body: good.Body, status: 401, log: "bad signature"},
		{name: "wrong signature", path: h.path, body: good.Body, sig: "hvVsyd56k7UfG7bm34yJmY7JmfxMl/0G+BbvIvA8Pxg=", status: 401, log: "bad signature"},
		{name: "tampered body", path: h.path, body: []byte(strings.Replace(string(good.Body), "3001", "3002", 1)), sig: good.Signature, status: 401, log: "bad signature"},
		{name: "key on a foreign host", path: h.path, body: foreign, sig: foreignSig, status: 401, log: "keys.evil.example"},
		{name: "key of another company", path: h.path, body: otherCo, sig: otherCoSig, status: 401, log: "evilmsp"},
		{name: "malformed json", path: h.path, body: []byte(`{"Action":"added","ID":`), sig: good.Signature, status: 400, log: "malformed"},
		{name: "not an object", path: h.path, body: []byte(`"added"`), sig: good.Signature, status: 400, log: "malformed"},
		{name: "empty body", path: h.path, body: []byte{}, sig: good.Signature, status: 400, log: "malformed"},
		{name: "huge body", path: h.path, body: []byte(`{"x":"` + strings.Repeat("a", 1<<20) + `"}`), sig: good.Signature, status: 413},
		{name: "unknown integration", path: "/webhooks/psa/" + e.a.tenant.Slug + "/int_nope", body: good.Body, sig: good.Signature, status: 404, log: "no such integration"},
		{name: "another tenant's path", path: otherPath, body: good.Body, sig: good.Signature, status: 404, log: "no such integration"},
		{name: "unknown tenant", path: "/webhooks/psa/nobody/" + h.id, body: good.Body, sig: good.Signature, status: 404, log: "no such integration"},
		{name: "legacy route, no signature", path: h.legacy, body: good.Body, status: 401, log: "bad signature"},
		{name: "legacy route, another tenant", path: "/webhooks/connectwise/" + e.b.tenant.Slug + "/" + h.id, body: good.Body, sig: good.Signature, status: 404, log: "no such integration"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.state(t)
			fetches, calls := h.cw.KeyFetches(), h.cw.Requests()
			logsBefore := e.logs.String()
			r := h.post(t, tc.path, tc.body, tc.sig)
			require.Equal(t, tc.status, r.status, "%s", r.body)
			assert.NotContains(t, string(r.body), "3001", "the answer says nothing about the callback")
			assert.Equal(t, before, e.state(t), "a refused callback changed the store")
			assert.Equal(t, calls, h.cw.Requests(), "a refused callback made ConnectWise calls")
			if tc.name != "wrong signature" && tc.name != "tampered body" {
				assert.Equal(t, fetches, h.cw.KeyFetches(), "a refused callback fetched a key")
			}
			if tc.log != "" {
				var lines []string
				for _, l := range strings.Split(strings.TrimPrefix(e.logs.String(), logsBefore), "\n") {
					if strings.Contains(l, "psa event") {
						lines = append(lines, l)
					}
				}
				require.Len(t, lines, 1, "one log line")
				assert.Contains(t, lines[0], tc.log)
				assert.Contains(t, lines[0], "source_ip=")
			}
		})
	}
	assert.Empty(t, e.sms.msgs, "nothing was sent")

	// GET is not a callback.
	r := e.do(t, e.client(t), http.MethodGet, h.path, "", nil, nil)
	assert.Equal(t, http.StatusMethodNotAllowed, r.status)

	// ConnectWise down: the key cannot be fetched, so nothing happens.
	h.cw.RotateCallbackKey() // so that the cached key does not match…
	e.clk.Add(2 * time.Minute)
	fresh := h.cw.SignedCallback("added", "ticket", 3001, map[string]any{"id": 3001})
	h.cw.SetDown(true)
	before := e.state(t)
	r = h.post(t, h.path, fresh.Body, fresh.Signature)
	assert.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r.body)
	assert.Equal(t, before, e.state(t))
	h.cw.SetDown(false)
	// …and once it is back, the same callback is acted on.
	assert.Equal(t, "verification sent", h.act(t, h.path, fresh.Body, fresh.Signature))
}

// TestPSAEventRoutes checks the routing of the inbound seam: a plugin's
// legacy route serves that plugin's integrations only, and an integration
// that cannot verify events (a memory PSA without a webhook secret) takes
// none: 401, nothing recorded.
func TestPSAEventRoutes(t *testing.T) {
	h := newCWHook(t, storetest.Open(t, store.SQLite))
	e := h.e
	h.setPolicy(t, func(p *core.Policy) { p.OnNewTicket = core.OnNewTicketBanner })
	cfg, _ := json.Marshal(map[string]string{"base_url": "http://127.0.0.1:1", "api_key": "k"})
	mem, err := e.eng.PutIntegration(t.Context(), e.a.tenant.ID, "test", core.Integration{Kind: "memory", Name: "Memory", Config: cfg})
	require.NoError(t, err)
	cb := h.cw.SignedCallback("added", "ticket", 3001, map[string]any{"id": 3001})

	r := h.post(t, "/webhooks/connectwise/"+e.a.tenant.Slug+"/"+mem.ID, cb.Body, cb.Signature)
	assert.Equal(t, http.StatusNotFound, r.status, "the ConnectWise legacy route takes no other PSA's events")
	assert.Contains(t, e.logs.String(), "is not a connectwise integration")
	r = h.post(t, "/webhooks/psa/"+e.a.tenant.Slug+"/"+mem.ID, cb.Body, cb.Signature)
	assert.Equal(t, http.StatusUnauthorized, r.status, "an integration that cannot verify events takes none")
	assert.Contains(t, e.logs.String(), "has no webhook secret")
	evs, err := e.eng.InboundEvents(t.Context(), e.a.tenant.ID, mem.ID, 10)
	require.NoError(t, err)
	assert.Empty(t, evs)

	assert.Equal(t, "recorded", h.act(t, h.legacy, cb.Body, cb.Signature), "the legacy route still works")
	assert.Len(t, h.audit(t, string(core.EventTicketAdded)), 1)
}

// TestConnectWiseCallbackAcknowledgedFirst checks that a callback is
// acknowledged once it is verified and recorded, whatever ConnectWise or
// the SMS provider are doing: the ticket is read and the policy applied
// afterwards, from the outbox, again after a failure, and once only; the
// integration page lists the callbacks and what came of them.
func TestConnectWiseCallbackAcknowledgedFirst(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		h := newCWHook(t, st)
		e := h.e
		h.setPolicy(t, func(p *core.Policy) { p.OnNewTicket = core.OnNewTicketAutoSend; p.AutoSendMethod = core.MethodSMSCode })
		warm := h.cw.SignedCallback("updated", "ticket", 3001, map[string]any{"id": 3001})
		assert.Equal(t, "ignored", h.act(t, h.path, warm.Body, warm.Signature), "the signing key is cached now")

		// ConnectWise goes down right after sending the callback.
		h.cw.SetDown(true)
		cb := h.cw.SignedCallback("added", "ticket", 3001, map[string]any{"id": 3001})
		r := h.post(t, h.path, cb.Body, cb.Signature)
		require.Equal(t, "accepted", result(t, r), "acknowledged without waiting for ConnectWise")
		id, _ := r.JSON(t)["event"].(string)
		assert.Equal(t, "ignored: this event was delivered already", result(t, h.post(t, h.legacy, cb.Body, cb.Signature)),
			"ConnectWise's retry is recorded once")
		e.deliver(t)
		ev, err := e.eng.InboundEvent(t.Context(), e.a.tenant.ID, id)
		require.NoError(t, err)
		assert.Equal(t, core.InboundFailed, ev.Status)
		assert.Equal(t, "failed: the ticket could not be read", ev.Outcome)
		assert.Empty(t, e.sms.msgs)

		// Back: the outbox acts on it, once.
		h.cw.SetDown(false)
		e.clk.Add(time.Minute)
		e.deliver(t)
		e.deliver(t)
		ev, err = e.eng.InboundEvent(t.Context(), e.a.tenant.ID, id)
		require.NoError(t, err)
		assert.Equal(t, core.InboundDone, ev.Status)
		assert.Equal(t, "verification sent", ev.Outcome)
		assert.GreaterOrEqual(t, ev.Attempts, 2)
		require.Len(t, e.sms.msgs, 1, "one verification for the new ticket")
		e.clk.Add(time.Hour)
		e.deliver(t)
		assert.Len(t, e.sms.msgs, 1)
		assert.Len(t, h.audit(t, string(core.EventTicketAdded)), 1)

		// The integration page shows the last callbacks and their outcome.
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
		r = e.api(t, e.adminClient(t), http.MethodGet, "/api/v1/admin/integrations/"+h.id, nil)
		assert.NotContains(t, string(r.body), "sha256:", "event keys are not shown")
	})
}
