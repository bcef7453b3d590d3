package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/gorilla/mux"
)

// The tech-verify inbox (issue 18 item 2): end users who texted #verify,
// newest first. A technician claims an open request to see its code and
// reads it to the caller; the end user's #confirm closes it. The page
// polls the API, like the dev outbox.

func (s *Server) registerTechVerifyPageRoutes(r *mux.Router) {
	r.HandleFunc("/app/techverify", s.handleTechVerifyPage).Methods(http.MethodGet)
}

func (s *Server) registerTechVerifyRoutes(r *mux.Router) {
	r.HandleFunc("/techverify", s.handleTechVerifyList).Methods(http.MethodGet)
	r.HandleFunc("/techverify/{id}/claim", s.handleTechVerifyClaim).Methods(http.MethodPost)
	r.HandleFunc("/techverify/{id}/ticket", s.handleTechVerifyTicket).Methods(http.MethodPost)
	r.HandleFunc("/techverify/{id}/match", s.handleTechVerifyMatch).Methods(http.MethodPost)
	r.HandleFunc("/techverify/{id}/dismiss", s.handleTechVerifyDismiss).Methods(http.MethodPost)
}

// handleTechVerifyPage handles "GET /app/techverify".
func (s *Server) handleTechVerifyPage(w http.ResponseWriter, r *http.Request) {
	tech, err := s.consoleTechnician(r)
	if err != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	page := consolePage{Dev: s.engine.DevDelivery(), Admin: tech.Role.IsAdmin(), TimeZone: s.tenantZone(r.Context(), tech.TenantID),
		Active: "techverify", Issues: s.channelIssues(r.Context(), tech)}
	if t, err := s.engine.Tenant(r.Context(), tech.TenantID); err == nil {
		page.VerifyPageURL = s.origin + "/v/" + t.Slug
	}
	s.renderHTML(w, r, http.StatusOK, "techverify.html", page)
}

type techVerifyOut struct {
	ID          string    `json:"id"`
	Status      string    `json:"status"`
	Expired     bool      `json:"expired"`
	Phone       string    `json:"phone"`
	ContactID   string    `json:"contact_id,omitempty"`
	ContactName string    `json:"contact_name,omitempty"`
	ClientName  string    `json:"client_name,omitempty"`
	Matches     int       `json:"matches"`
	Provenance  string    `json:"provenance,omitempty"`
	Attempts    int       `json:"attempts"`
	Detail      string    `json:"detail,omitempty"`
	ClaimedBy   string    `json:"claimed_by,omitempty"`
	ClaimedMine bool      `json:"claimed_mine"`
	Matchable   bool      `json:"matchable"`
	TicketRef   string    `json:"ticket_ref,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
	ClosedAt    time.Time `json:"closed_at,omitzero"`
}

// handleTechVerifyList handles "GET /api/v1/techverify": the tenant's
// requests of the last day. Codes are never in it (see the claim).
func (s *Server) handleTechVerifyList(w http.ResponseWriter, r *http.Request) {
	tech := techFrom(r)
	items, err := s.engine.TechVerifyInbox(r.Context(), tech)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]techVerifyOut, 0, len(items))
	for _, it := range items {
		// Provenance is the number's source (a raw identifier) or, for a
		// matched unknown caller, already words ("matched by …").
		if it.Provenance != "" && !strings.HasPrefix(it.Provenance, "matched by ") {
			it.Provenance = s.provenance(it.Provenance)
		}
		out = append(out, techVerifyOut{ID: it.ID, Status: string(it.Status), Expired: it.Expired, Phone: it.Phone,
			ContactID: it.ContactID, ContactName: it.ContactName, ClientName: it.ClientName, Matches: it.Matches,
			Provenance: it.Provenance, Attempts: it.Attempts, Detail: it.Detail, ClaimedBy: it.ClaimedByName,
			ClaimedMine: it.ClaimedBy != "" && it.ClaimedBy == tech.ID, Matchable: it.Matchable, TicketRef: it.TicketRef, CreatedAt: it.CreatedAt, ExpiresAt: it.ExpiresAt, ClosedAt: it.ClosedAt})
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
}

// handleTechVerifyClaim handles "POST /api/v1/techverify/{id}/claim": the
// technician claims the request and gets the code to read to the caller.
func (s *Server) handleTechVerifyClaim(w http.ResponseWriter, r *http.Request) {
	tech := techFrom(r)
	if tech.Role == core.RolePodOnly {
		s.writeError(w, r, core.Errorf(core.KindForbidden, "pod-only technicians cannot claim technician checks here"))
		return
	}
	code, err := s.engine.ClaimTechVerify(r.Context(), tech, pathVar(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]string{"code": code})
}

type techVerifyTicketRequest struct {
	IntegrationID string `json:"integration_id"`
	TicketRef     string `json:"ticket_ref"`
}

// handleTechVerifyTicket handles "POST /api/v1/techverify/{id}/ticket":
// the claiming technician assigns the request to a PSA ticket, where its
// outcome is noted.
func (s *Server) handleTechVerifyTicket(w http.ResponseWriter, r *http.Request) {
	var req techVerifyTicketRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	tv, err := s.engine.AssignTechVerify(r.Context(), techFrom(r), pathVar(r, "id"), req.IntegrationID, req.TicketRef)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": tv.ID, "ticket_ref": tv.TicketRef})
}

type techVerifyMatchRequest struct {
	ContactID string `json:"contact_id"`
}

// handleTechVerifyMatch handles "POST /api/v1/techverify/{id}/match": the
// technician on the phone with an unknown caller ties the request to a
// contact; a code goes to the number and comes back for them to read out.
func (s *Server) handleTechVerifyMatch(w http.ResponseWriter, r *http.Request) {
	var req techVerifyMatchRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.ContactID == "" {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "choose the contact the caller is"))
		return
	}
	code, err := s.engine.MatchTechVerify(r.Context(), techFrom(r), pathVar(r, "id"), req.ContactID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]string{"code": code})
}

type techVerifyDismissRequest struct {
	Reason string `json:"reason"`
}

// handleTechVerifyDismiss handles "POST /api/v1/techverify/{id}/dismiss":
// an unknown caller's request is closed as not one of the tenant's
// contacts.
func (s *Server) handleTechVerifyDismiss(w http.ResponseWriter, r *http.Request) {
	var req techVerifyDismissRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.engine.DismissTechVerify(r.Context(), techFrom(r), pathVar(r, "id"), req.Reason); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
