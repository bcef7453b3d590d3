package web

import "net/http"

// handlePodTechVerifyClaim handles
// "POST /api/v1/pod/{integration}/techverify/{id}/claim" {"scope"}: the
// pod's tech-verify inbox claims a #verify request for the technician on
// this ticket and, unless it is assigned already, assigns it to the ticket
// of the pod's signed scope in the same step, so that its outcome is noted
// there. Pod-only technicians may claim here (the console's claim refuses
// them): the scope ties the claim to a ticket they are working on.
//
// The answer is {"code", "ticket_ref"}: the code to read to the caller and
// the ticket the request is noted on ("" on a contact's screen).
func (s *Server) handlePodTechVerifyClaim(w http.ResponseWriter, r *http.Request) {
	var req podScopeRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	scope, err := s.decodeScope(r, req.Scope)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tech, id := techFrom(r), pathVar(r, "id")
	var code, ticket string
	if scope.TicketRef == "" {
		code, err = s.engine.ClaimTechVerify(r.Context(), tech, id)
	} else {
		code, ticket, err = s.engine.ClaimTechVerifyForTicket(r.Context(), tech, id, scope.IntegrationID, scope.TicketRef)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]string{"code": code, "ticket_ref": ticket})
}
