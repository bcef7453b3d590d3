package web

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/live"
	"github.com/gorilla/mux"
	"github.com/gorilla/websocket"
)

const (
	// livePingEvery keeps idle sockets alive through proxies that drop
	// connections quiet for 30–60 s, and finds dead peers.
	livePingEvery = 25 * time.Second
	// liveReadWait is how long a socket may stay silent (no pong, nothing)
	// before it counts as dead.
	liveReadWait  = 2*livePingEvery + 10*time.Second
	liveWriteWait = 10 * time.Second
	// Parameter caps: contact ids are short; ticket references follow the
	// engine's limit (core: 100 characters).
	liveMaxContact = 64
	liveMaxTicket  = 100
)

// closeSignedOut is the close code (from the range RFC 6455 leaves to
// applications) of a socket whose technician's sessions an admin ended; the
// close reason says why, and live.js shows it with a way to sign in again
// instead of reconnecting.
const closeSignedOut = 4001

// closeReason fits reason into a close frame (123 bytes of reason at most),
// cutting at a rune boundary.
func closeReason(reason string) string {
	const max = 123
	if len(reason) <= max {
		return reason
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut]
}

var (
	helloJSON = []byte(`{"type":"hello"}`)
	// liveWriteBuffers lends write buffers to sockets only while they
	// write, so thousands of idle sockets do not each hold one.
	liveWriteBuffers sync.Pool
)

func (s *Server) registerLiveRoutes(r *mux.Router) {
	r.HandleFunc("/live", s.handleLive).Methods(http.MethodGet)
}

// handleLive handles "GET /api/v1/live?contact=ID&ticket=REF&techverify=1&outbox=1":
// a websocket on which the signed-in tenant's events about that contact
// and/or ticket, and/or changes of its tech-verify inbox or its dev outbox,
// arrive as JSON,
// from whichever node made the change:
//
//	{"type":"hello"}                      once, when subscribed
//	{"type":"verification.verified", "contact_id", "ticket_ref", "verification_id", "status", "at"}
//	{"type":"techverify.changed", "at"}   the inbox changed: refetch GET /api/v1/techverify
//	{"type":"outbox.changed", "at"}       a dev outbox message was kept: refetch GET /api/v1/outbox
//	{"type":"techcheck.answered", "contact_id", "ticket_ref", "answer", "reason", "at"}
//	                                      to the signed-in technician's sockets only: a Windows
//	                                      user answered "Verify my technician" about them
//	{"type":"resync"}                     events may have been lost: refetch
//
// When an admin ends the technician's sessions (disabled, password or
// authenticator reset) the socket closes at once with code 4001 and the
// reason to show.
//
// A client that falls behind gets resync and then a close (1013, try again
// later); a server shutting down closes with 1001. Clients reconnect and
// refetch (assets/static/live.js).
func (s *Server) handleLive(w http.ResponseWriter, r *http.Request) {
	hub := s.cfg.Live
	if hub == nil {
		s.writeError(w, r, core.Errorf(core.KindUnavailable, "live updates are not enabled on this server; reload the page to see changes"))
		return
	}
	// Browsers send Origin on every websocket handshake, and the cookie
	// goes along whoever opens it: without this check any site could read a
	// signed-in technician's events (cross-site websocket hijacking).
	// Non-browser clients send no Origin and carry no ambient cookie.
	if o := r.Header.Get("Origin"); o != "" && o != s.origin {
		s.writeError(w, r, core.Errorf(core.KindForbidden, "cross-origin websocket refused (origin %s)", o))
		return
	}
	q := r.URL.Query()
	watch := live.Watch{ContactID: strings.TrimSpace(q.Get("contact")), TicketRef: strings.TrimSpace(q.Get("ticket"))}
	switch tv := q.Get("techverify"); tv {
	case "":
	case "1":
		watch.TechVerify = true
	default:
		s.writeError(w, r, core.Errorf(core.KindInvalid, "techverify must be 1 (watch the tech-verify inbox) or absent"))
		return
	}
	switch ob := q.Get("outbox"); ob {
	case "":
	case "1":
		watch.Outbox = true
	default:
		s.writeError(w, r, core.Errorf(core.KindInvalid, "outbox must be 1 (watch the dev outbox) or absent"))
		return
	}
	switch {
	case watch.ContactID == "" && watch.TicketRef == "" && !watch.TechVerify && !watch.Outbox:
		s.writeError(w, r, core.Errorf(core.KindInvalid, "say what to watch: ?contact=ID, ?ticket=REF, ?techverify=1 and/or ?outbox=1"))
		return
	case len(watch.ContactID) > liveMaxContact:
		s.writeError(w, r, core.Errorf(core.KindInvalid, "contact id must be at most %d characters", liveMaxContact))
		return
	case utf8.RuneCountInString(watch.TicketRef) > liveMaxTicket:
		s.writeError(w, r, core.Errorf(core.KindInvalid, "ticket reference must be at most %d characters", liveMaxTicket))
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "this endpoint speaks websocket; open it with new WebSocket(…)"))
		return
	}
	tech := techFrom(r)
	tenantID := tech.TenantID
	// The socket also hears when its technician's sessions end, and then
	// closes with closeSignedOut.
	watch.TechnicianID = tech.ID
	if watch.ContactID != "" {
		if _, err := s.engine.Contact(r.Context(), tenantID, watch.ContactID); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	ls := &liveSocket{}
	sub, err := hub.SubscribeFunc(tenantID, watch, ls.wake)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	up := websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second, ReadBufferSize: 512, WriteBufferSize: 1024, WriteBufferPool: &liveWriteBuffers,
		CheckOrigin: func(*http.Request) bool { return true }, // checked above against the configured public origin
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			s.writeError(w, r, core.Errorf(core.KindInvalid, "websocket handshake failed: %v", reason))
		},
	}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		sub.Close()
		return // Upgrade answered
	}
	// The handler returns at once: net/http's connection goroutine, its
	// buffers and the stack this request grew are released, and the socket
	// lives on as a reader goroutine plus a timer (liveSocket).
	ls.start(conn, sub)
}

// liveSocket serves one websocket of handleLive after the handler returned.
// An idle socket holds one goroutine, its reader, which keeps control
// frames flowing; a writer goroutine runs only while the subscription has
// messages queued (wake starts it), and pings come from a timer. Writes are
// serialised by the writing flag; control frames (pings, close) may be
// written concurrently (gorilla/websocket allows WriteControl alongside a
// writer). The subscription's bounded buffer is the per-client queue: a
// client that falls behind gets resync and a close, and the rest never wait
// for it.
type liveSocket struct {
	conn    *websocket.Conn
	sub     *live.Subscription
	started atomic.Bool // conn and sub are set
	writing atomic.Bool // a drain goroutine runs
	ping    *time.Timer
	end     sync.Once
}

// start writes the hello, then serves conn: its reader, its pings, and
// whatever sub queued meanwhile.
func (ls *liveSocket) start(conn *websocket.Conn, sub *live.Subscription) {
	ls.conn, ls.sub = conn, sub
	// The reader only keeps control frames flowing (pongs, close); clients
	// have nothing to say.
	conn.SetReadLimit(512)
	_ = conn.SetReadDeadline(time.Now().Add(liveReadWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(liveReadWait)) })
	if !ls.write(helloJSON) {
		ls.close()
		return
	}
	ls.ping = time.AfterFunc(livePingEvery, ls.sendPing)
	ls.started.Store(true)
	go ls.read()
	ls.wake() // for anything queued before start
}

func (ls *liveSocket) read() {
	defer ls.close()
	for {
		if _, _, err := ls.conn.NextReader(); err != nil {
			return
		}
	}
}

func (ls *liveSocket) sendPing() {
	if ls.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(liveWriteWait)) != nil {
		ls.close()
		return
	}
	ls.ping.Reset(livePingEvery)
}

// wake is the subscription's ready callback: it starts a writer unless one
// runs. It never blocks (the hub calls it while publishing).
func (ls *liveSocket) wake() {
	if ls.started.Load() && ls.writing.CompareAndSwap(false, true) {
		go ls.drain()
	}
}

// drain writes queued messages until the queue is empty, then ends; a wake
// after that starts the next drain. The second look after clearing writing
// closes the gap where a message queued just before it would wait.
func (ls *liveSocket) drain() {
	for {
		select {
		case m, ok := <-ls.sub.C():
			if !ls.deliver(m, ok) {
				ls.close()
				return
			}
		default:
			ls.writing.Store(false)
			if len(ls.sub.C()) == 0 || !ls.writing.CompareAndSwap(false, true) {
				return
			}
		}
	}
}

// deliver writes one message; false means the socket is done.
func (ls *liveSocket) deliver(m live.Message, ok bool) bool {
	switch {
	case !ok:
		ls.closeWith(websocket.CloseGoingAway, "server restarting")
		return false
	case !m.Resync() && m.Event.Type == core.EventTechnicianSignedOut:
		ls.closeWith(closeSignedOut, closeReason(m.Event.Reason))
		return false
	case !ls.write(m.JSON()):
		return false
	case m.Resync() && ls.sub.Lagged():
		ls.closeWith(websocket.CloseTryAgainLater, "fell behind; reconnect and refetch")
		return false
	}
	return true
}

func (ls *liveSocket) write(data []byte) bool {
	_ = ls.conn.SetWriteDeadline(time.Now().Add(liveWriteWait))
	return ls.conn.WriteMessage(websocket.TextMessage, data) == nil
}

func (ls *liveSocket) closeWith(code int, text string) {
	_ = ls.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
}

// close ends the socket once: its subscription, its timer and its
// connection (which ends the reader).
func (ls *liveSocket) close() {
	ls.end.Do(func() {
		if ls.ping != nil {
			ls.ping.Stop()
		}
		ls.sub.Close()
		_ = ls.conn.Close()
	})
}
