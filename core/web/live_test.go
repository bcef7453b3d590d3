package web_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign/assets"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/countersign/countersign/core/web"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dialLive opens GET /api/v1/live?query on base with c's cookies and the
// given Origin ("" sends none).
func dialLive(t *testing.T, base string, c *http.Client, query, origin string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	if c != nil {
		d.Jar = c.Jar
	}
	conn, res, err := d.DialContext(t.Context(), "ws"+strings.TrimPrefix(base, "http")+"/api/v1/live?"+query, h)
	if conn != nil {
		t.Cleanup(func() { conn.Close() })
	}
	return conn, res, err
}

// watchLive opens a socket that must succeed and reads its hello.
func (e *env) watchLive(t *testing.T, c *http.Client, query string) *websocket.Conn {
	t.Helper()
	conn, res, err := dialLive(t, e.srv.URL, c, query, publicURL)
	require.NoError(t, err, "dial: %v", statusOf(res))
	require.Equal(t, map[string]any{"type": "hello"}, readLive(t, conn, time.Second))
	return conn
}

func statusOf(res *http.Response) any {
	if res == nil {
		return "no response"
	}
	return res.Status
}

// readLive reads one JSON message, failing after d.
func readLive(t *testing.T, conn *websocket.Conn, d time.Duration) map[string]any {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(d)))
	_, raw, err := conn.ReadMessage()
	require.NoError(t, err, "no message within %v", d)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m), "%s", raw)
	return m
}

// readUntil reads messages until one has the given type, failing after d.
func readUntil(t *testing.T, conn *websocket.Conn, typ string, d time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		m := readLive(t, conn, time.Until(deadline))
		if m["type"] == typ {
			return m
		}
	}
}

// assertSilent checks that nothing arrives on conn for d.
func assertSilent(t *testing.T, conn *websocket.Conn, d time.Duration) {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(d)))
	_, raw, err := conn.ReadMessage()
	var ne interface{ Timeout() bool }
	require.Error(t, err, "unexpected message %s", raw)
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "socket ended: %v", err)
}

func TestLiveRefusals(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	c := e.login(t, e.a)
	contact := "contact=" + e.a.contact.ID
	tests := []struct {
		name   string
		client *http.Client
		query  string
		origin string
		want   int
	}{
		{name: "not signed in", query: contact, origin: publicURL, want: http.StatusUnauthorized},
		{name: "cross-origin", client: c, query: contact, origin: "https://evil.example", want: http.StatusForbidden},
		{name: "other origin port", client: c, query: contact, origin: publicURL + ":8443", want: http.StatusForbidden},
		{name: "other tenant's contact", client: c, query: "contact=" + e.b.contact.ID, origin: publicURL, want: http.StatusNotFound},
		{name: "unknown contact", client: c, query: "contact=con_nope", origin: publicURL, want: http.StatusNotFound},
		{name: "nothing to watch", client: c, query: "contact=+&ticket=", origin: publicURL, want: http.StatusBadRequest},
		{name: "contact too long", client: c, query: "contact=" + strings.Repeat("c", 65), origin: publicURL, want: http.StatusBadRequest},
		{name: "ticket too long", client: c, query: "ticket=" + strings.Repeat("t", 101), origin: publicURL, want: http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn, res, err := dialLive(t, e.srv.URL, tc.client, tc.query, tc.origin)
			require.Error(t, err)
			require.Nil(t, conn)
			require.NotNil(t, res, "%v", err)
			assert.Equal(t, tc.want, res.StatusCode)
		})
	}
	assert.Equal(t, 0, e.hub.Subscribers(), "refused requests leave no subscription behind")

	t.Run("plain GET", func(t *testing.T) {
		r := e.api(t, c, http.MethodGet, "/api/v1/live?"+contact, nil)
		assert.Equal(t, http.StatusBadRequest, r.status)
		assert.Contains(t, r.JSON(t)["error"], "websocket")
	})
	t.Run("same origin and no origin are allowed", func(t *testing.T) {
		for _, origin := range []string{publicURL, ""} {
			conn, res, err := dialLive(t, e.srv.URL, c, contact, origin)
			require.NoError(t, err, "origin %q: %v", origin, statusOf(res))
			assert.Equal(t, map[string]any{"type": "hello"}, readLive(t, conn, time.Second))
		}
	})
}

// TestLiveVerification completes an SMS-code verification through the API
// and watches it arrive on sockets watching the contact and the ticket,
// while the other tenant's socket, on a contact of the same id space,
// stays silent.
func TestLiveVerification(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		c := e.login(t, e.a)
		byContact := e.watchLive(t, c, "contact="+e.a.contact.ID)
		byTicket := e.watchLive(t, c, "ticket=T-77")
		other := e.watchLive(t, e.login(t, e.b), "contact="+e.b.contact.ID+"&ticket=T-77")

		r := e.api(t, c, http.MethodPost, "/api/v1/verifications", map[string]string{
			"contact_id": e.a.contact.ID, "method": "sms_code", "ticket_ref": "T-77"})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		id := r.JSON(t)["id"].(string)
		started := readUntil(t, byContact, "verification.started", time.Second)
		assert.Equal(t, id, started["verification_id"])
		e.deliver(t)
		msg, _ := e.sms.last(t)

		r = e.api(t, c, http.MethodPost, "/api/v1/verifications/"+id+"/check", map[string]string{"code": codeIn(t, msg)})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		for name, conn := range map[string]*websocket.Conn{"contact": byContact, "ticket": byTicket} {
			m := readUntil(t, conn, "verification.verified", time.Second)
			assert.Equal(t, map[string]any{"type": "verification.verified", "contact_id": e.a.contact.ID, "ticket_ref": "T-77",
				"verification_id": id, "status": "verified", "at": m["at"]}, m, name)
			at, err := time.Parse(time.RFC3339Nano, m["at"].(string))
			require.NoError(t, err)
			assert.True(t, at.Equal(e.clk.Now()), name)
		}
		assertSilent(t, other, 200*time.Millisecond)
	})
}

func TestLiveLaggingClient(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	conn := e.watchLive(t, e.login(t, e.a), "contact="+e.a.contact.ID)
	// Publish faster than the socket drains until the subscriber falls
	// behind: it gets resync, then a close asking it to come back later.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ev := core.Event{Type: core.EventVerificationResent, TenantID: e.a.tenant.ID, ContactID: e.a.contact.ID,
			TicketRef: strings.Repeat("x", 100), VerificationID: "ver_flood", Status: core.StatusSent, At: time.Now()}
		for {
			select {
			case <-stop:
				return
			default:
				e.hub.Publish(t.Context(), ev)
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	var last []byte
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(20*time.Second)))
	for {
		_, raw, err := conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, websocket.CloseTryAgainLater, ce.Code)
			break
		}
		last = raw
	}
	assert.JSONEq(t, `{"type":"resync"}`, string(last), "the last message before the close is resync")
	require.Eventually(t, func() bool { return e.hub.Subscribers() == 0 }, 2*time.Second, 10*time.Millisecond,
		"the subscription ends with the socket")
}

func TestLiveHubClosing(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	conn := e.watchLive(t, e.login(t, e.a), "ticket=T-1")
	require.Equal(t, 1, e.hub.Subscribers())
	e.hub.Close()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(2*time.Second)))
	_, _, err := conn.ReadMessage()
	var ce *websocket.CloseError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, websocket.CloseGoingAway, ce.Code)
}

func TestLiveClientLeaving(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	conn := e.watchLive(t, e.login(t, e.a), "contact="+e.a.contact.ID)
	require.Equal(t, 1, e.hub.Subscribers())
	require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(`{"ignored":true}`)), "client chatter is ignored")
	require.NoError(t, conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second)))
	conn.Close()
	require.Eventually(t, func() bool { return e.hub.Subscribers() == 0 }, 2*time.Second, 10*time.Millisecond)
}

// TestLiveDisabled: a server without a hub says so instead of failing
// obscurely.
func TestLiveDisabled(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	pages, err := assets.Pages(assets.TemplatesFS(), assets.StaticFS())
	require.NoError(t, err)
	srv, err := web.New(web.Config{Engine: e.eng, Pages: pages, SessionKey: bytes.Repeat([]byte{9}, 32), PublicURL: publicURL,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	// Same session key: the cookie from the env's server is good here.
	c := e.login(t, e.a)
	u, err := url.Parse(e.srv.URL)
	require.NoError(t, err)
	u2, err := url.Parse(hs.URL)
	require.NoError(t, err)
	c.Jar.SetCookies(u2, c.Jar.Cookies(u))
	conn, res, err := dialLive(t, hs.URL, c, "contact="+e.a.contact.ID, publicURL)
	require.Error(t, err)
	require.Nil(t, conn)
	require.NotNil(t, res)
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
}
