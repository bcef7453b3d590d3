package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/gorilla/mux"
)

func (s *Server) registerAdminRoutes(r *mux.Router) {
	r.HandleFunc("/policies/{scope}", s.handleGetPolicy).Methods(http.MethodGet)
	r.HandleFunc("/policies/{scope}", s.handlePutPolicy).Methods(http.MethodPut)
	r.HandleFunc("/outbox", s.handleListOutbox).Methods(http.MethodGet)
	r.HandleFunc("/audit", s.handleListAudit).Methods(http.MethodGet)
	s.registerAdminAPIRoutes(r)
}

// policyScope reads {scope}: "default" is the tenant default, else a client id.
func policyScope(r *http.Request) string {
	if sc := pathVar(r, "scope"); sc != "default" {
		return sc
	}
	return ""
}

// handleGetPolicy handles "GET /api/v1/policies/{default|client id}": the
// effective policy; 404 for a client id that is not one of the tenant's.
func (s *Server) handleGetPolicy(w http.ResponseWriter, r *http.Request) {
	p, err := s.engine.ClientPolicy(r.Context(), techFrom(r).TenantID, policyScope(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// handlePutPolicy handles "PUT /api/v1/policies/{default|client id}" (admins).
func (s *Server) handlePutPolicy(w http.ResponseWriter, r *http.Request) {
	if err := requireAdmin(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	var p core.Policy
	if err := decodeJSON(w, r, &p); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := checkPolicyInput(p); err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := techFrom(r)
	if err := s.engine.PutPolicy(r.Context(), tech.TenantID, "tech:"+tech.ID, policyScope(r), p); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p.Normalized())
}

type outboxOut struct {
	ID             string    `json:"id"`
	Kind           string    `json:"kind"`
	VerificationID string    `json:"verification_id,omitempty"`
	Status         string    `json:"status"`
	Attempts       int       `json:"attempts"`
	LastError      string    `json:"last_error,omitempty"`
	Dev            bool      `json:"dev"`
	CreatedAt      time.Time `json:"created_at"`
	// ContactName is whom the verification's message was for; "" for
	// items without one.
	ContactName string         `json:"contact_name,omitempty"`
	Message     *core.Outbound `json:"message,omitempty"`
}

// handleListOutbox handles "GET /api/v1/outbox". In dev delivery mode the
// messages are shown in full — that is the point of the dev outbox — and
// the response says so; sent messages have had their content removed.
func (s *Server) handleListOutbox(w http.ResponseWriter, r *http.Request) {
	items, names, err := s.engine.OutboxWithContacts(r.Context(), techFrom(r).TenantID, 50)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]outboxOut, 0, len(items))
	for _, it := range items {
		o := outboxOut{ID: it.ID, Kind: string(it.Kind), VerificationID: it.VerificationID, Status: string(it.Status),
			Attempts: it.Attempts, LastError: it.LastError, Dev: it.Dev, CreatedAt: it.CreatedAt, ContactName: names[it.VerificationID]}
		if it.Dev && it.Sealed != nil {
			if m, err := s.engine.OpenOutbox(it); err == nil {
				o.Message = &m
			}
		}
		out = append(out, o)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"dev_delivery": s.engine.DevDelivery(),
		"notice":       "DEV DELIVERY MODE: messages are kept here and never sent to anyone",
		"items":        out,
	})
}

type auditOut struct {
	Seq     int64             `json:"seq"`
	At      time.Time         `json:"at"`
	Actor   string            `json:"actor"`
	Action  string            `json:"action"`
	Subject string            `json:"subject"`
	Detail  map[string]string `json:"detail,omitempty"`
}

// handleListAudit handles "GET /api/v1/audit?action=&subject=&limit=&before="
// (admins): the newest events first; next_before, when not 0, is the
// before= of the next (older) page.
func (s *Server) handleListAudit(w http.ResponseWriter, r *http.Request) {
	if err := requireAdmin(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	q := core.AuditQuery{Action: r.URL.Query().Get("action"), Subject: r.URL.Query().Get("subject"), Limit: 200, NewestFirst: true}
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 5000 {
			s.writeError(w, r, core.Errorf(core.KindInvalid, "limit must be a number from 1 to 5000"))
			return
		}
		q.Limit = n
	}
	if b := r.URL.Query().Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 1 {
			s.writeError(w, r, core.Errorf(core.KindInvalid, "before must be an event number (next_before of the previous page)"))
			return
		}
		q.BeforeSeq = n
	}
	limit := q.Limit
	q.Limit++ // one more tells whether there is a next page
	evs, err := s.engine.AuditEvents(r.Context(), techFrom(r).TenantID, q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var next int64
	if len(evs) > limit {
		evs = evs[:limit]
		next = evs[limit-1].Seq
	}
	out := make([]auditOut, 0, len(evs))
	for _, e := range evs {
		out = append(out, auditOut{Seq: e.Seq, At: e.At, Actor: e.Actor, Action: e.Action, Subject: e.Subject, Detail: e.Detail})
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out, "next_before": next})
}
