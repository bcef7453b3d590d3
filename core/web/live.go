package web

import (
	"net/http"
	"strings"
	"sync"
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

// handleLive handles "GET /api/v1/live?contact=ID&ticket=REF": a websocket
// on which the signed-in tenant's events about that contact and/or ticket
// arrive as JSON, from whichever node made the change:
//
//	{"type":"hello"}                      once, when subscribed
//	{"type":"verification.verified", "contact_id", "ticket_ref", "verification_id", "status", "at"}
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
	switch {
	case watch.ContactID == "" && watch.TicketRef == "":
		s.writeError(w, r, core.Errorf(core.KindInvalid, "say what to watch: ?contact=ID and/or ?ticket=REF"))
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
	sub, err := hub.Subscribe(tenantID, watch)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer sub.Close()
	up := websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second, ReadBufferSize: 512, WriteBufferSize: 1024, WriteBufferPool: &liveWriteBuffers,
		CheckOrigin: func(*http.Request) bool { return true }, // checked above against the configured public origin
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			s.writeError(w, r, core.Errorf(core.KindInvalid, "websocket handshake failed: %v", reason))
		},
	}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade answered
	}
	defer conn.Close()
	s.serveLive(r, conn, sub)
}

// serveLive writes sub's messages to conn until either side ends.
func (s *Server) serveLive(r *http.Request, conn *websocket.Conn, sub *live.Subscription) {
	// The reader only keeps control frames flowing (pongs, close); clients
	// have nothing to say.
	conn.SetReadLimit(512)
	_ = conn.SetReadDeadline(time.Now().Add(liveReadWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(liveReadWait)) })
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		for {
			if _, _, err := conn.NextReader(); err != nil {
				return
			}
		}
	}()
	write := func(data []byte) bool {
		_ = conn.SetWriteDeadline(time.Now().Add(liveWriteWait))
		return conn.WriteMessage(websocket.TextMessage, data) == nil
	}
	closeWith := func(code int, text string) {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
	}
	if !write(helloJSON) {
		return
	}
	ping := time.NewTicker(livePingEvery)
	defer ping.Stop()
	for {
		select {
		case m, ok := <-sub.C():
			if !ok {
				closeWith(websocket.CloseGoingAway, "server restarting")
				return
			}
			if !m.Resync() && m.Event.Type == core.EventTechnicianSignedOut {
				closeWith(closeSignedOut, closeReason(m.Event.Reason))
				return
			}
			if !write(m.JSON()) {
				return
			}
			if m.Resync() && sub.Lagged() {
				closeWith(websocket.CloseTryAgainLater, "fell behind; reconnect and refetch")
				return
			}
		case <-ping.C:
			if conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(liveWriteWait)) != nil {
				return
			}
		case <-gone:
			return
		case <-r.Context().Done():
			closeWith(websocket.CloseGoingAway, "server restarting")
			return
		}
	}
}
