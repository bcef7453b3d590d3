package connectwise_test

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
	"github.com/countersign/countersign/core/web/webtest"
)

// ConnectWise's callbacks through the host: signed by the fake
// ConnectWise as ConnectWise signs them (a key fetched from the tenant's
// own site), posted to the generic inbound route and to the legacy
// /webhooks/connectwise/ route the plugin's descriptor keeps, and acted on
// by a whole Countersign server (core/web/webtest). The host's own tests
// (core/web) cover the inbound route on the memory PSA.

// cwHook is tenant a's ConnectWise integration, set up through the API,
// and its callback paths: the generic inbound route, and the route
// callbacks were registered at before it, which the plugin's descriptor
// keeps working.
type cwHook struct {
	e      *webtest.Env
	cw     *cwtest.Server
	id     string
	path   string
	legacy string
}

func newCWHook(t *testing.T, dialect string) *cwHook {
	t.Helper()
	e, cw := newCWEnv(t, dialect)
	in := createCW(t, e, e.AdminClient(t), cw)
	h := &cwHook{e: e, cw: cw, id: in["id"].(string)}
	h.path = "/webhooks/psa/" + e.A.Tenant.Slug + "/" + h.id
	h.legacy = "/webhooks/connectwise/" + e.A.Tenant.Slug + "/" + h.id
	require.Equal(t, webtest.PublicURL+h.path+"?recordId=", in["callback_url"])
	return h
}

// post sends a callback as ConnectWise does: the raw body, its signature
// header, and the record id appended to the registered URL.
func (h *cwHook) post(t *testing.T, path string, body []byte, sig string) webtest.Response {
	t.Helper()
	hdr := map[string]string{}
	if sig != "" {
		hdr["x-content-signature"] = sig
	}
	return h.e.Do(t, h.e.Client(t), http.MethodPost, path+"?recordId=3001", "application/json", body, hdr)
}

func (h *cwHook) setPolicy(t *testing.T, change func(*core.Policy)) {
	t.Helper()
	h.e.SetPolicy(t, change)
}

func (h *cwHook) audit(t *testing.T, action string) []core.AuditEvent {
	t.Helper()
	return h.e.Audit(t, action)
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
	h.e.Deliver(t)
	ev, err := h.e.Engine.InboundEvent(t.Context(), h.e.A.Tenant.ID, id)
	require.NoError(t, err)
	require.NotEqual(t, core.InboundReceived, ev.Status, "acted on: %+v", ev)
	return ev.Outcome
}

func result(t *testing.T, r webtest.Response) string {
	t.Helper()
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	s, _ := r.JSON(t)["result"].(string)
	return s
}

func TestConnectWiseCallbackBanner(t *testing.T) {
	h := newCWHook(t, webtest.SQLite)
	e := h.e
	h.setPolicy(t, func(p *core.Policy) { p.OnNewTicket, p.Banner = core.OnNewTicketBanner, "Verify every caller" })

	sub := e.WatchTicket(t, icwTicket.Ref)

	cb := h.cw.SignedCallback("added", "ticket", 3001, map[string]any{"id": 3001, "summary": "Password reset"})
	assert.Equal(t, "recorded", h.act(t, h.path, cb.Body, cb.Signature))

	evs := h.audit(t, string(core.EventTicketAdded))
	require.Len(t, evs, 1)
	assert.Equal(t, "psa:connectwise", evs[0].Actor)
	assert.Equal(t, "ticket:"+h.id+":3001", evs[0].Subject)
	assert.Equal(t, "banner", evs[0].Detail["on_new_ticket"])
	// The ticket's contact was read through the API and mirrored.
	mirrored, err := e.Engine.SearchContacts(t.Context(), e.A.Tenant.ID, core.ContactQuery{PSAKind: "connectwise", PSARef: icwAlice.Ref})
	require.NoError(t, err)
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
	before := e.State(t)
	cb = h.cw.SignedCallback("added", "ticket", 3002, map[string]any{"id": 3002})
	assert.Equal(t, "ignored: the policy does nothing on new tickets", h.act(t, h.path, cb.Body, cb.Signature))
	before.Outbox[e.A.Tenant.ID]++
	assert.Equal(t, before, e.State(t))
}

func TestConnectWiseCallbackAutoSend(t *testing.T) {
	webtest.ForEachDialect(t, testConnectWiseCallbackAutoSend)
}

func testConnectWiseCallbackAutoSend(t *testing.T, dialect string) {
	h := newCWHook(t, dialect)
	e := h.e
	c := e.Login(t, e.A) // tenant a's technician, no longer an admin below
	e.SetRole(t, &e.A, core.RoleTechnician)

	// Links whose code a technician must read cannot go out on their own.
	e.SetRole(t, &e.A, core.RoleAdmin)
	bad := map[string]any{"on_new_ticket": "auto_send", "auto_send_method": "email_link"}
	r := e.API(t, c, http.MethodPut, "/api/v1/admin/policies/default", bad)
	require.Equal(t, http.StatusBadRequest, r.Status, "%s", r.Body)
	assert.Contains(t, r.JSON(t)["error"], "links need a code the technician reads")
	r = e.API(t, c, http.MethodPut, "/api/v1/admin/policies/default", map[string]any{"on_new_ticket": "auto_send"})
	require.Equal(t, http.StatusBadRequest, r.Status)
	r = e.API(t, c, http.MethodPut, "/api/v1/admin/policies/default", map[string]any{"on_new_ticket": "shout"})
	require.Equal(t, http.StatusBadRequest, r.Status)
	r = e.API(t, c, http.MethodPut, "/api/v1/admin/policies/default", map[string]any{"on_new_ticket": "auto_send", "auto_send_method": "sms_code"})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	e.SetRole(t, &e.A, core.RoleTechnician)

	cb := h.cw.SignedCallback("added", "ticket", 3001, map[string]any{"id": 3001})
	assert.Equal(t, "verification sent", h.act(t, h.path, cb.Body, cb.Signature))
	e.Deliver(t)
	msg := e.SMS.Last(t)
	assert.Equal(t, "+15550100177", msg.To)
	assert.NotContains(t, msg.Text, "Jane", "no technician's name: nobody asked")

	var contact core.Contact
	require.NoError(t, e.Store.View(t.Context(), func(tx core.Tx) error {
		cs, err := tx.SearchContacts(t.Context(), e.A.Tenant.ID, core.ContactQuery{PSAKind: "connectwise", PSARef: icwAlice.Ref})
		if err == nil {
			require.Len(t, cs, 1)
			contact = cs[0]
		}
		return err
	}))
	history, err := e.Engine.History(t.Context(), e.A.Tenant.ID, contact.ID)
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
	r = e.API(t, c, http.MethodPost, "/api/v1/verifications/"+v.ID+"/check", map[string]string{"code": webtest.CodeIn(t, msg)})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, "verified", r.JSON(t)["status"])
	e.Deliver(t)
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
	h := newCWHook(t, webtest.SQLite)
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
	otherPath := "/webhooks/psa/" + e.B.Tenant.Slug + "/" + h.id

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
		{name: "unknown integration", path: "/webhooks/psa/" + e.A.Tenant.Slug + "/int_nope", body: good.Body, sig: good.Signature, status: 404, log: "no such integration"},
		{name: "another tenant's path", path: otherPath, body: good.Body, sig: good.Signature, status: 404, log: "no such integration"},
		{name: "unknown tenant", path: "/webhooks/psa/nobody/" + h.id, body: good.Body, sig: good.Signature, status: 404, log: "no such integration"},
		{name: "legacy route, no signature", path: h.legacy, body: good.Body, status: 401, log: "bad signature"},
		{name: "legacy route, another tenant", path: "/webhooks/connectwise/" + e.B.Tenant.Slug + "/" + h.id, body: good.Body, sig: good.Signature, status: 404, log: "no such integration"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.State(t)
			fetches, calls := h.cw.KeyFetches(), h.cw.Requests()
			logsBefore := e.Logs.String()
			r := h.post(t, tc.path, tc.body, tc.sig)
			require.Equal(t, tc.status, r.Status, "%s", r.Body)
			assert.NotContains(t, string(r.Body), "3001", "the answer says nothing about the callback")
			assert.Equal(t, before, e.State(t), "a refused callback changed the store")
			assert.Equal(t, calls, h.cw.Requests(), "a refused callback made ConnectWise calls")
			if tc.name != "wrong signature" && tc.name != "tampered body" {
				assert.Equal(t, fetches, h.cw.KeyFetches(), "a refused callback fetched a key")
			}
			if tc.log != "" {
				var lines []string
				for _, l := range strings.Split(strings.TrimPrefix(e.Logs.String(), logsBefore), "\n") {
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
	assert.Empty(t, e.SMS.Messages(), "nothing was sent")

	// GET is not a callback.
	r := e.Do(t, e.Client(t), http.MethodGet, h.path, "", nil, nil)
	assert.Equal(t, http.StatusMethodNotAllowed, r.Status)

	// ConnectWise down: the key cannot be fetched, so nothing happens.
	h.cw.RotateCallbackKey() // so that the cached key does not match…
	e.Clock.Add(2 * time.Minute)
	fresh := h.cw.SignedCallback("added", "ticket", 3001, map[string]any{"id": 3001})
	h.cw.SetDown(true)
	before := e.State(t)
	r = h.post(t, h.path, fresh.Body, fresh.Signature)
	assert.Equal(t, http.StatusServiceUnavailable, r.Status, "%s", r.Body)
	assert.Equal(t, before, e.State(t))
	h.cw.SetDown(false)
	// …and once it is back, the same callback is acted on.
	assert.Equal(t, "verification sent", h.act(t, h.path, fresh.Body, fresh.Signature))
}

// TestPSAEventRoutes checks the routing of the inbound seam: a plugin's
// legacy route serves that plugin's integrations only, and an integration
// that cannot verify events (a memory PSA without a webhook secret) takes
// none: 401, nothing recorded.
func TestPSAEventRoutes(t *testing.T) {
	h := newCWHook(t, webtest.SQLite)
	e := h.e
	h.setPolicy(t, func(p *core.Policy) { p.OnNewTicket = core.OnNewTicketBanner })
	cfg, _ := json.Marshal(map[string]string{"base_url": "http://127.0.0.1:1", "api_key": "k"})
	mem, err := e.Engine.PutIntegration(t.Context(), e.A.Tenant.ID, "test", core.Integration{Kind: "memory", Name: "Memory", Config: cfg})
	require.NoError(t, err)
	cb := h.cw.SignedCallback("added", "ticket", 3001, map[string]any{"id": 3001})

	r := h.post(t, "/webhooks/connectwise/"+e.A.Tenant.Slug+"/"+mem.ID, cb.Body, cb.Signature)
	assert.Equal(t, http.StatusNotFound, r.Status, "the ConnectWise legacy route takes no other PSA's events")
	assert.Contains(t, e.Logs.String(), "is not a connectwise integration")
	r = h.post(t, "/webhooks/psa/"+e.A.Tenant.Slug+"/"+mem.ID, cb.Body, cb.Signature)
	assert.Equal(t, http.StatusUnauthorized, r.Status, "an integration that cannot verify events takes none")
	assert.Contains(t, e.Logs.String(), "has no webhook secret")
	evs, err := e.Engine.InboundEvents(t.Context(), e.A.Tenant.ID, mem.ID, 10)
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
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newCWHook(t, dialect)
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
		e.Deliver(t)
		ev, err := e.Engine.InboundEvent(t.Context(), e.A.Tenant.ID, id)
		require.NoError(t, err)
		assert.Equal(t, core.InboundFailed, ev.Status)
		assert.Equal(t, "failed: the ticket could not be read", ev.Outcome)
		assert.Empty(t, e.SMS.Messages())

		// Back: the outbox acts on it, once.
		h.cw.SetDown(false)
		e.Clock.Add(time.Minute)
		e.Deliver(t)
		e.Deliver(t)
		ev, err = e.Engine.InboundEvent(t.Context(), e.A.Tenant.ID, id)
		require.NoError(t, err)
		assert.Equal(t, core.InboundDone, ev.Status)
		assert.Equal(t, "verification sent", ev.Outcome)
		assert.GreaterOrEqual(t, ev.Attempts, 2)
		require.Len(t, e.SMS.Messages(), 1, "one verification for the new ticket")
		e.Clock.Add(time.Hour)
		e.Deliver(t)
		assert.Len(t, e.SMS.Messages(), 1)
		assert.Len(t, h.audit(t, string(core.EventTicketAdded)), 1)

		// The integration page shows the last callbacks and their outcome.
		r = e.API(t, e.AdminClient(t), http.MethodGet, "/api/v1/admin/integrations/"+h.id, nil)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		var page struct {
			Events []struct {
				Type, Action, Ref, Status, Outcome, Received string
			} `json:"events"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &page))
		require.Len(t, page.Events, 2)
		byAction := map[string]string{}
		for _, ev := range page.Events {
			assert.Equal(t, "ticket", ev.Type)
			assert.Equal(t, "3001", ev.Ref)
			assert.NotEmpty(t, ev.Received)
			byAction[ev.Action] = ev.Status + ": " + ev.Outcome
		}
		assert.Equal(t, map[string]string{"added": "done: verification sent", "updated": "ignored: ignored"}, byAction)
		r = e.API(t, e.AdminClient(t), http.MethodGet, "/api/v1/admin/integrations/"+h.id, nil)
		assert.NotContains(t, string(r.Body), "sha256:", "event keys are not shown")
	})
}
