package web

import (
	"net/http"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/gorilla/mux"
)

func (s *Server) registerVerificationRoutes(r *mux.Router) {
	r.HandleFunc("/verifications", s.handleStartVerification).Methods(http.MethodPost)
	r.HandleFunc("/verifications/recent", s.handleRecentVerifications).Methods(http.MethodGet) // before {id}
	r.HandleFunc("/verifications/{id}", s.handleGetVerification).Methods(http.MethodGet)
	r.HandleFunc("/verifications/{id}/check", s.handleCheckCode).Methods(http.MethodPost)
	r.HandleFunc("/verifications/{id}/resend", s.handleResend).Methods(http.MethodPost)
	r.HandleFunc("/verifications/{id}/cancel", s.handleCancel).Methods(http.MethodPost)
}

type startRequest struct {
	ContactID     string `json:"contact_id"`
	DestinationID string `json:"destination_id"`
	Method        string `json:"method"`
	TicketRef     string `json:"ticket_ref"`
	Note          string `json:"note"`
	Purpose       string `json:"purpose"` // "" identity check, "reset" password or MFA reset
}

// handleStartVerification handles "POST /api/v1/verifications".
func (s *Server) handleStartVerification(w http.ResponseWriter, r *http.Request) {
	var req startRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := techFrom(r)
	st, err := s.engine.Start(r.Context(), core.StartRequest{
		TenantID: tech.TenantID, TechnicianID: tech.ID, ContactID: req.ContactID, DestinationID: req.DestinationID,
		Method: core.Method(req.Method), TicketRef: req.TicketRef, Note: req.Note, Purpose: core.Purpose(req.Purpose),
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := verificationJSON(st.Verification, s.engine.Now())
	out.TechCode = st.TechCode
	writeJSON(w, http.StatusCreated, out)
}

// recentOut is one of the tenant's latest verifications, with the name of
// its contact.
type recentOut struct {
	verificationOut
	ContactName string `json:"contact_name"`
}

// handleRecentVerifications handles "GET /api/v1/verifications/recent":
// the tenant's latest verifications whatever the contact, newest first
// (core.RecentVerifications), each with its contact's name and its ticket
// note's state, for the console's card before a contact is chosen.
func (s *Server) handleRecentVerifications(w http.ResponseWriter, r *http.Request) {
	tenantID := techFrom(r).TenantID
	vs, contacts, err := s.engine.RecentVerifications(r.Context(), tenantID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list, _, err := s.historyJSON(r.Context(), tenantID, vs)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]recentOut, len(list))
	for i, vo := range list {
		c := contacts[vo.ContactID]
		out[i] = recentOut{verificationOut: vo, ContactName: strings.TrimSpace(c.FirstName + " " + c.LastName)}
	}
	writeJSON(w, http.StatusOK, map[string]any{"verifications": out})
}

// handleGetVerification handles "GET /api/v1/verifications/{id}".
func (s *Server) handleGetVerification(w http.ResponseWriter, r *http.Request) {
	v, err := s.engine.Verification(r.Context(), techFrom(r).TenantID, pathVar(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.verificationView(r.Context(), v)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

type checkRequest struct {
	Code string `json:"code"`
}

// handleCheckCode handles "POST /api/v1/verifications/{id}/check". A wrong
// code answers 400 (attempts left) or 410 (burned) with the verification.
func (s *Server) handleCheckCode(w http.ResponseWriter, r *http.Request) {
	var req checkRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := techFrom(r)
	v, err := s.engine.CheckCode(r.Context(), tech.TenantID, tech.ID, pathVar(r, "id"), req.Code)
	if err != nil && v.ID == "" {
		s.writeError(w, r, err)
		return
	}
	out := verificationJSON(v, s.engine.Now())
	if err != nil {
		status, msg, kind := s.classify(r, err)
		writeJSON(w, status, map[string]any{"error": msg, "kind": kind, "verification": out})
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// handleResend handles "POST /api/v1/verifications/{id}/resend".
func (s *Server) handleResend(w http.ResponseWriter, r *http.Request) {
	tech := techFrom(r)
	st, err := s.engine.Resend(r.Context(), tech.TenantID, tech.ID, pathVar(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := verificationJSON(st.Verification, s.engine.Now())
	out.TechCode = st.TechCode
	writeJSON(w, http.StatusOK, out)
}

// handleCancel handles "POST /api/v1/verifications/{id}/cancel".
func (s *Server) handleCancel(w http.ResponseWriter, r *http.Request) {
	tech := techFrom(r)
	v, err := s.engine.Cancel(r.Context(), tech.TenantID, tech.ID, pathVar(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, verificationJSON(v, s.engine.Now()))
}
