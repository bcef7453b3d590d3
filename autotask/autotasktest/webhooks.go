package autotasktest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/countersign/countersign/core/psa"
)

// Webhook is a ticket webhook registered on the fake.
type Webhook struct {
	ID        int64
	URL       string
	Active    bool
	OnCreate  bool
	SecretKey string
}

// Webhooks returns the ticket webhooks registered, oldest first.
func (s *Server) Webhooks() []Webhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Webhook
	for _, w := range s.webhooks {
		out = append(out, Webhook{ID: int64(toFloat(w.rec["id"])), URL: fmt.Sprint(w.rec["webhookUrl"]),
			Active: w.rec["isActive"] == true, OnCreate: w.rec["isSubscribedToCreateEvents"] == true, SecretKey: fmt.Sprint(w.rec["secretKey"])})
	}
	return out
}

// DisableWebhooks deactivates every webhook, as Autotask does after
// repeated delivery failures.
func (s *Server) DisableWebhooks() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.webhooks {
		s.webhooks[i].rec["isActive"] = false
	}
}

// AddTicket adds a ticket, as a technician or an e-mail would create it.
func (s *Server) AddTicket(t psa.Ticket) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.mustID(t.Ref)
	rec := ticketRec{"id": id, "ticketNumber": fmt.Sprintf("T20260101.%04d", len(s.tickets)+1), "title": t.Summary, "status": 1,
		"priority": 2, "queueID": 8, "createDate": "2026-01-01T00:00:00Z"}
	if t.CompanyRef != "" {
		rec["companyID"] = s.mustID(t.CompanyRef)
	}
	if t.ContactRef != "" {
		rec["contactID"] = s.mustID(t.ContactRef)
	}
	s.tickets[id] = &rec
}

// Event is one webhook delivery, as Autotask would post it.
type Event struct {
	URL    string
	Header http.Header
	Body   []byte
}

// TicketEvent builds the delivery of a ticket event ("Create", "Update")
// for the first active webhook, signed with its secret key
// (X-Hook-Signature: sha1=<base64 HMAC-SHA1 of the body>), dated at. It
// fails the test when no webhook is registered.
func (s *Server) TicketEvent(ticketRef, action string, at time.Time) Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.webhooks {
		if w.rec["isActive"] != true {
			continue
		}
		s.lastID++
		body, _ := json.Marshal(map[string]any{"Action": action, "Guid": fmt.Sprintf("9c1f%08d-0000-4000-8000-%012d", s.lastID, s.lastID),
			"EntityType": "Ticket", "Id": s.mustID(ticketRef), "Fields": map[string]any{"id": s.mustID(ticketRef)},
			"EventTime": at.UTC().Format("2006-01-02T15:04:05.000Z"), "SequenceNumber": s.lastID, "PersonID": s.apiUser})
		m := hmac.New(sha1.New, []byte(fmt.Sprint(w.rec["secretKey"])))
		m.Write(body)
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		h.Set("X-Hook-Signature", "sha1="+base64.StdEncoding.EncodeToString(m.Sum(nil)))
		return Event{URL: fmt.Sprint(w.rec["webhookUrl"]), Header: h, Body: body}
	}
	s.t.Fatalf("autotasktest: no active ticket webhook to deliver %s of ticket %s", strings.ToLower(action), ticketRef)
	return Event{}
}
