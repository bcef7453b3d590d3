// Package live fans committed engine events out to whoever watches a
// contact or a ticket: console and pod pages over websockets (core/web), on
// this node and, through [PGBridge], on every node sharing a PostgreSQL
// database.
//
// A [Hub] is a [core.Publisher]. Subscribers watch topics within one tenant
// (a contact id and/or a ticket reference), and the hub indexes them by
// (tenant, topic), so an event of one tenant can never reach another
// tenant's subscriber and fan-out to thousands of watchers of one contact
// costs one map lookup plus one channel send each.
//
// Publish never blocks: each subscription has a bounded buffer. A
// subscriber that falls behind is marked lagged and gets a final resync
// [Message] (its buffer keeps a slot for it) instead of silently missing
// events; it should refetch what it shows and subscribe again.
package live

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/countersign/countersign/core"
)

// DefaultBuffer is the per-subscription buffer when NewHub is given none.
const DefaultBuffer = 32

// Watch names what a subscriber watches within its tenant. A contact, a
// ticket, the tech-verify inbox or the dev outbox is set; an event matches
// when its contact or its ticket does, or, for TechVerify, when it is a
// core.EventTechVerifyChanged, for Outbox a core.EventOutboxChanged. TechnicianID, when set, also delivers the
// events about that technician (core.EventTechnicianSignedOut), so that a
// signed-in page learns at once that its session ended.
type Watch struct {
	ContactID    string
	TicketRef    string
	TechVerify   bool
	Outbox       bool
	TechnicianID string
}

// Message is one delivery to a subscriber: an event, or a cue to refetch.
type Message struct {
	// Event is the event, shared by every subscriber it went to (do not
	// modify it). nil means resync: events may have been lost, so the
	// watcher should refetch what it shows.
	Event *core.Event
	data  []byte
}

// Resync reports whether m is a cue to refetch rather than an event.
func (m Message) Resync() bool { return m.Event == nil }

var resyncJSON = []byte(`{"type":"resync"}`)

// JSON returns m as watchers see it, encoded once per event for all
// subscribers: the event without its tenant id (a watcher only ever sees
// its own tenant), or {"type":"resync"}. The slice is shared: do not modify.
func (m Message) JSON() []byte {
	if m.Event == nil {
		return resyncJSON
	}
	return m.data
}

// wireEvent is core.Event without the tenant.
type wireEvent struct {
	Type           core.EventType `json:"type"`
	ContactID      string         `json:"contact_id"`
	TicketRef      string         `json:"ticket_ref,omitempty"`
	VerificationID string         `json:"verification_id"`
	Status         core.Status    `json:"status"`
	At             time.Time      `json:"at"`
	Reason         string         `json:"reason,omitempty"`
	Answer         string         `json:"answer,omitempty"`
}

func eventMessage(e core.Event) Message {
	data, err := json.Marshal(wireEvent{Type: e.Type, ContactID: e.ContactID, TicketRef: e.TicketRef,
		VerificationID: e.VerificationID, Status: e.Status, At: e.At, Reason: e.Reason, Answer: string(e.Answer)})
	if err != nil {
		// Only strings and a time: cannot fail short of a year outside
		// 0–9999. Tell the watcher to refetch rather than drop it.
		return Message{}
	}
	return Message{Event: &e, data: data}
}

// topic is one index key of the hub.
type topic struct {
	tenant string
	kind   byte // 'c' contact, 't' ticket, 'u' technician (user), 'v' tech-verify inbox, 'o' dev outbox (key "")
	key    string
}

// Hub is an in-process event fan-out. It is safe for concurrent use.
type Hub struct {
	buffer int
	// unsynced is set while events of other nodes may be missed (a
	// [PGBridge] not listening); see InSync.
	unsynced atomic.Bool

	mu     sync.RWMutex
	closed bool
	topics map[topic]map[*Subscription]struct{}
	all    map[*Subscription]struct{}
	hooks  map[*hook]struct{}
}

// hook is one OnTechnicianChange callback (a pointer, so it can be removed).
type hook struct {
	fn func(tenantID, technicianID string)
}

// NewHub returns a hub whose subscriptions buffer up to buffer messages;
// buffer ≤ 0 means DefaultBuffer.
func NewHub(buffer int) *Hub {
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	return &Hub{buffer: buffer, topics: map[topic]map[*Subscription]struct{}{}, all: map[*Subscription]struct{}{},
		hooks: map[*hook]struct{}{}}
}

// OnTechnicianChange calls fn, synchronously and before any subscriber
// hears of it, for every event about a technician (core.EventTechnicianSignedOut,
// core.EventTechnicianChanged) published on this hub or received from
// another node, and for each change of a technician's row another node
// made (PGBridge). fn("", "") means every technician may have changed: this
// node lost or regained its link to the others (see InSync), or another
// node lost events. It is how a cache of signed-in technicians stays exact
// (core/web). fn must be quick and must not call the hub. remove stops the
// calls.
func (h *Hub) OnTechnicianChange(fn func(tenantID, technicianID string)) (remove func()) {
	k := &hook{fn: fn}
	h.mu.Lock()
	h.hooks[k] = struct{}{}
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		delete(h.hooks, k)
		h.mu.Unlock()
	}
}

// InSync reports whether this hub hears every other node's changes: always
// for a hub on its own; with a [PGBridge], only while its listener is
// connected. A cache that relies on OnTechnicianChange must not fill while
// it is false.
func (h *Hub) InSync() bool { return !h.unsynced.Load() }

// technicianChanged runs the OnTechnicianChange hooks. The caller holds h.mu
// (read or write).
func (h *Hub) technicianChanged(tenantID, technicianID string) {
	for k := range h.hooks {
		k.fn(tenantID, technicianID)
	}
}

// changedRow runs the hooks for a row another node changed.
func (h *Hub) changedRow(tenantID, technicianID string) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	h.technicianChanged(tenantID, technicianID)
}

// desync marks the hub out of touch with the other nodes (InSync false)
// and tells the hooks that anything may have changed; ResyncAll ends it.
func (h *Hub) desync() {
	h.unsynced.Store(true)
	h.mu.RLock()
	defer h.mu.RUnlock()
	h.technicianChanged("", "")
}

// Subscribe starts delivering tenantID's events that match w. Close the
// subscription when done. It fails when the tenant or the watch is empty,
// or when the hub is closed.
func (h *Hub) Subscribe(tenantID string, w Watch) (*Subscription, error) {
	return h.SubscribeFunc(tenantID, w, nil)
}

// SubscribeFunc is Subscribe with a ready callback: ready runs after each
// message is queued on C and once when C closes, so that a subscriber can
// sleep without a goroutine parked on C (a websocket with nothing to send
// holds no writer; core/web starts one when ready runs). ready must not
// block: it runs while the hub publishes. nil means no callback.
func (h *Hub) SubscribeFunc(tenantID string, w Watch, ready func()) (*Subscription, error) {
	w.ContactID, w.TicketRef, w.TechnicianID = strings.TrimSpace(w.ContactID), strings.TrimSpace(w.TicketRef), strings.TrimSpace(w.TechnicianID)
	if tenantID == "" || (w.ContactID == "" && w.TicketRef == "" && !w.TechVerify && !w.Outbox) {
		return nil, core.Errorf(core.KindInvalid, "live: a subscription needs a tenant and a contact, a ticket, the tech-verify inbox or the dev outbox")
	}
	// One slot more than the buffer, kept for the resync message.
	s := &Subscription{hub: h, tenant: tenantID, watch: w, ch: make(chan Message, h.buffer+1), ready: ready}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, core.Errorf(core.KindUnavailable, "live: the server is shutting down")
	}
	for _, t := range s.topics() {
		set := h.topics[t]
		if set == nil {
			set = map[*Subscription]struct{}{}
			h.topics[t] = set
		}
		set[s] = struct{}{}
	}
	h.all[s] = struct{}{}
	return s, nil
}

// Publish implements core.Publisher: it hands e to every subscriber of e's
// tenant watching its contact or its ticket (or, for an event about a
// technician, that technician), without blocking.
func (h *Hub) Publish(_ context.Context, e core.Event) {
	if e.TenantID == "" {
		return
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if e.Type == core.EventTechCheckAnswered {
		// For that technician's pages only; the technician's row did not
		// change, so the hooks are not told.
		if e.TechnicianID == "" {
			return
		}
		byTech := h.topics[topic{e.TenantID, 'u', e.TechnicianID}]
		if len(byTech) == 0 {
			return
		}
		m := eventMessage(e)
		for s := range byTech {
			s.offer(m)
		}
		return
	}
	if e.TechnicianID != "" {
		h.technicianChanged(e.TenantID, e.TechnicianID)
		if e.Type == core.EventTechnicianChanged {
			return // for caches only; pages have nothing to show
		}
		byTech := h.topics[topic{e.TenantID, 'u', e.TechnicianID}]
		if len(byTech) == 0 {
			return
		}
		m := eventMessage(e)
		for s := range byTech {
			s.offer(m)
		}
		return
	}
	if e.Type == core.EventTechVerifyChanged || e.Type == core.EventOutboxChanged {
		kind := byte('v')
		if e.Type == core.EventOutboxChanged {
			kind = 'o'
		}
		inbox := h.topics[topic{e.TenantID, kind, ""}]
		if len(inbox) == 0 {
			return
		}
		m := eventMessage(e)
		for s := range inbox {
			s.offer(m)
		}
		return
	}
	var byContact, byTicket map[*Subscription]struct{}
	if e.ContactID != "" {
		byContact = h.topics[topic{e.TenantID, 'c', e.ContactID}]
	}
	if e.TicketRef != "" {
		byTicket = h.topics[topic{e.TenantID, 't', e.TicketRef}]
	}
	if len(byContact) == 0 && len(byTicket) == 0 {
		return
	}
	m := eventMessage(e)
	for s := range byContact {
		s.offer(m)
	}
	for s := range byTicket {
		if e.ContactID != "" && s.watch.ContactID == e.ContactID {
			continue // already reached through its contact
		}
		s.offer(m)
	}
}

// ResyncAll tells every subscriber to refetch, e.g. after this node lost
// its link to the others for a while and may have missed their events. It
// marks the hub in sync again and tells the OnTechnicianChange hooks that
// every technician may have changed.
func (h *Hub) ResyncAll() {
	h.mu.RLock()
	defer h.mu.RUnlock()
	h.technicianChanged("", "")
	h.unsynced.Store(false) // after the hooks: nothing cached before is kept
	for s := range h.all {
		s.offer(Message{})
	}
}

// Subscribers returns the number of open subscriptions.
func (h *Hub) Subscribers() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.all)
}

// Close ends every subscription (their channels close) and refuses new
// ones. Servers call it when shutting down, since http.Server.Shutdown does
// not wait for hijacked (websocket) connections.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.all {
		s.close()
	}
	clear(h.all)
	clear(h.topics)
}

// Subscription is one subscriber's view of a hub.
type Subscription struct {
	hub    *Hub
	tenant string
	watch  Watch
	ch     chan Message
	ready  func() // nil, or SubscribeFunc's callback

	mu     sync.Mutex
	closed bool
	lagged bool
}

func (s *Subscription) topics() []topic {
	var ts []topic
	if s.watch.ContactID != "" {
		ts = append(ts, topic{s.tenant, 'c', s.watch.ContactID})
	}
	if s.watch.TicketRef != "" {
		ts = append(ts, topic{s.tenant, 't', s.watch.TicketRef})
	}
	if s.watch.TechVerify {
		ts = append(ts, topic{s.tenant, 'v', ""})
	}
	if s.watch.Outbox {
		ts = append(ts, topic{s.tenant, 'o', ""})
	}
	if s.watch.TechnicianID != "" {
		ts = append(ts, topic{s.tenant, 'u', s.watch.TechnicianID})
	}
	return ts
}

// C returns the channel messages arrive on. It is closed when the
// subscription or its hub closes.
func (s *Subscription) C() <-chan Message { return s.ch }

// Watch returns what s watches.
func (s *Subscription) Watch() Watch { return s.watch }

// Lagged reports whether s fell behind: its buffer filled, a resync message
// was queued as its last message, and later events are not delivered. The
// subscriber should refetch, close s and subscribe again.
func (s *Subscription) Lagged() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lagged
}

// offer queues m without blocking. Only offer sends on s.ch, always under
// s.mu, so the length check cannot race with another sender.
func (s *Subscription) offer(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.lagged {
		return
	}
	if len(s.ch) < cap(s.ch)-1 {
		s.ch <- m
	} else {
		s.lagged = true
		s.ch <- Message{} // the reserved slot
	}
	if s.ready != nil {
		s.ready()
	}
}

// Close stops deliveries and closes C. It is safe to call more than once.
func (s *Subscription) Close() {
	h := s.hub
	h.mu.Lock()
	if _, ok := h.all[s]; ok {
		delete(h.all, s)
		for _, t := range s.topics() {
			if set := h.topics[t]; set != nil {
				delete(set, s)
				if len(set) == 0 {
					delete(h.topics, t)
				}
			}
		}
	}
	h.mu.Unlock()
	s.close()
}

func (s *Subscription) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.ch)
		if s.ready != nil {
			s.ready()
		}
	}
}

// Interface guards.
var _ core.Publisher = (*Hub)(nil)
