package halotest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/countersign/countersign/core/psa"
)

// Webhook deliveries as Halo makes them: a POST of the event's ticket (and
// its latest action) as JSON, with the webhook's Basic credentials. The
// exact payload is unconfirmed (reference, Webhooks); this one carries the
// Faults-like ticket under "ticket", as the reference expects.

// SignedEvent implements psatest.EventFake: a delivery about ticket ref
// with the credentials of [Server.Config]. action "added" is the "New
// Ticket Logged" event, anything else "Ticket Updated".
func (s *Server) SignedEvent(typ, action, ref string) (http.Header, []byte) {
	return basicHeader(WebhookUser, WebhookPassword), s.eventBody(action, ref)
}

// ForgedEvent implements psatest.SharedSecretEvents: the same delivery
// with credentials that are not the integration's.
func (s *Server) ForgedEvent(typ, action, ref string) (http.Header, []byte) {
	return basicHeader(WebhookUser, WebhookPassword+"-not"), s.eventBody(action, ref)
}

func basicHeader(user, pass string) http.Header {
	return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))},
		"Content-Type": {"application/json"}}
}

func (s *Server) eventBody(action, ref string) []byte {
	id, _ := strconv.Atoi(ref)
	event := "New Ticket Logged"
	if action != psa.CallbackAdded {
		event = "Ticket Updated"
	}
	ticket := map[string]any{"id": id}
	if t, ok := s.findTicket(id); ok {
		ticket = s.ticketJSON(t)
	}
	s.mu.Lock()
	s.lastID++
	n := s.lastID
	s.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"event": event, "delivery_id": n, "ticket": ticket})
	return b
}

// Deliver posts the delivery of SignedEvent (or, with user "", none's
// credentials) to url, as Halo's webhook would, and returns the status.
func (s *Server) Deliver(ctx context.Context, url, user, pass, action, ref string) (int, error) {
	body := s.eventBody(action, ref)
	return s.Post(ctx, url, user, pass, body)
}

// Post posts body to url with Basic credentials user and pass (none when
// user is ""), and returns the status.
func (s *Server) Post(ctx context.Context, url, user, pass string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("halotest: deliver webhook: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}
