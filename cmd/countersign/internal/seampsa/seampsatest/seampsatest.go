// Package seampsatest is the fake of the seam PSA (package seampsa): two
// API routes, GET /tickets/{id} and POST /tickets/{id}/notes, behind an
// X-Seam-Key header, built on the fakes' kit core/psa/psafake so that
// psatest can fail, truncate and count its answers, and its signed events.
package seampsatest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/countersign/countersign/cmd/countersign/internal/seampsa"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/psafake"
)

// Server is a seam PSA. Its methods are safe for concurrent use.
type Server struct {
	psafake.Faults // FailNext, MalformedNext, SetDown, RejectCredentials, Requests

	key, secret string

	mu       sync.Mutex
	contacts map[string]psa.Contact
	tickets  map[string]psa.Ticket
	notes    map[string][]psa.Note
	events   int
}

// NewServer returns an empty seam PSA that takes key and signs its events
// with secret.
func NewServer(key, secret string) *Server {
	return &Server{key: key, secret: secret, contacts: map[string]psa.Contact{}, tickets: map[string]psa.Ticket{}, notes: map[string][]psa.Note{}}
}

// The vendor's error body: {"error": "..."}.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func vendorError(w http.ResponseWriter, status int) {
	msg := http.StatusText(status)
	if status == http.StatusUnauthorized {
		msg = "invalid API key"
	}
	writeError(w, status, msg)
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f, ok := s.Begin(); ok {
		f.Write(w, vendorError)
		return
	}
	if r.Header.Get("X-Seam-Key") != s.key {
		vendorError(w, http.StatusUnauthorized)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == http.MethodGet && len(parts) == 2 && parts[0] == "tickets":
		s.getTicket(w, parts[1])
	case r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "tickets" && parts[2] == "notes":
		s.addNote(w, r, parts[1])
	default:
		writeError(w, http.StatusNotFound, "no such route")
	}
}

func (s *Server) getTicket(w http.ResponseWriter, id string) {
	s.mu.Lock()
	t, ok := s.tickets[id]
	c, hasContact := s.contacts[t.ContactRef]
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "no such ticket")
		return
	}
	out := seampsa.WireTicket{ID: t.Ref, Summary: t.Summary, CompanyID: t.CompanyRef, Status: t.Status}
	if t.ContactRef != "" && hasContact {
		wc := &seampsa.WireContact{ID: c.Ref, CompanyID: c.CompanyRef, First: c.FirstName, Last: c.LastName}
		for _, e := range c.Emails {
			wc.Emails = append(wc.Emails, e.Address)
		}
		for _, p := range c.Phones {
			wc.Phones = append(wc.Phones, p.Number)
		}
		out.Contact = wc
	}
	b, _ := json.Marshal(out)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.Body(b))
}

func (s *Server) addNote(w http.ResponseWriter, r *http.Request, id string) {
	var n seampsa.WireNote
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&n); err != nil || strings.TrimSpace(n.Text) == "" {
		writeError(w, http.StatusBadRequest, "a note needs text")
		return
	}
	s.mu.Lock()
	_, ok := s.tickets[id]
	if ok {
		s.notes[id] = append(s.notes[id], psa.Note{Text: n.Text, Public: !n.Private})
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "no such ticket")
		return
	}
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write([]byte(`{}`))
}

// Seed replaces the data (companies are not kept: the seam PSA has none).
func (s *Server) Seed(_ []psa.Company, contacts []psa.Contact, tickets []psa.Ticket) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.contacts, s.tickets = map[string]psa.Contact{}, map[string]psa.Ticket{}
	for _, c := range contacts {
		s.contacts[c.Ref] = c
	}
	for _, t := range tickets {
		s.tickets[t.Ref] = t
	}
}

// SetMember implements psatest.Fake; the seam PSA identifies no member.
func (s *Server) SetMember(psa.Member) {}

// SetPageSize implements psatest.Fake; the seam PSA lists nothing.
func (s *Server) SetPageSize(int) {}

// Notes returns the notes of a ticket, oldest first.
func (s *Server) Notes(ref string) []psa.Note {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]psa.Note(nil), s.notes[ref]...)
}

// PodQuery implements psatest.PodFake: the ticket screen adds ?seam_ticket=.
func (s *Server) PodQuery(screen psa.Screen, ref string) (url.Values, bool) {
	if screen != psa.ScreenTicket {
		return nil, false
	}
	return url.Values{"seam_ticket": {ref}}, true
}

// SignedEvent implements psatest.EventFake.
func (s *Server) SignedEvent(typ, action, ref string) (http.Header, []byte) {
	s.mu.Lock()
	s.events++
	id := fmt.Sprintf("evt-%d", s.events)
	s.mu.Unlock()
	body, _ := json.Marshal(seampsa.WireEvent{ID: id, Type: typ, Action: action, Ref: ref})
	h := http.Header{}
	h.Set(seampsa.SignatureHeader, seampsa.Sign(s.secret, time.Now().Unix(), body))
	h.Set("Content-Type", "application/json")
	return h, body
}
