package web

import (
	"net/http"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/gorilla/mux"
)

// Technician reset and unlock from the verification card (issue 17.4): the
// card asks what the verification allows, and uses it. The console and the
// pod share these routes, as they share the card.

func (s *Server) registerTechDirectoryRoutes(r *mux.Router) {
	r.HandleFunc("/verifications/{id}/directory", s.handleGetTechDirectory).Methods(http.MethodGet)
	r.HandleFunc("/verifications/{id}/directory", s.handleTechDirectory).Methods(http.MethodPost)
}

type directoryRequestOut struct {
	ID         string     `json:"id"`
	Action     string     `json:"action"`
	Status     string     `json:"status"`
	Reason     string     `json:"reason,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

func directoryRequestJSON(r core.SelfServeRequest) directoryRequestOut {
	out := directoryRequestOut{ID: r.ID, Action: string(r.Action), Status: string(r.Status), Reason: r.Reason, CreatedAt: r.CreatedAt}
	if !r.FinishedAt.IsZero() {
		out.FinishedAt = &r.FinishedAt
	}
	return out
}

type techDirectoryOut struct {
	// Reason says why the technician cannot act; "" when they can.
	Reason string `json:"reason,omitempty"`
	// ResetReason says why this verification cannot be used for a
	// password reset (below the client's minimum assurance for resets);
	// an unlock still can.
	ResetReason string `json:"reset_reason,omitempty"`
	// Account is the bound directory account; "" for none.
	Account  string                `json:"account,omitempty"`
	Name     string                `json:"name,omitempty"`
	Locked   bool                  `json:"locked"`
	Until    *time.Time            `json:"until,omitempty"`
	Used     []string              `json:"used"`
	Requests []directoryRequestOut `json:"requests"`
}

// handleGetTechDirectory handles "GET /api/v1/verifications/{id}/directory":
// what the verification lets this technician do to the contact's
// directory account, and what was done with it so far.
func (s *Server) handleGetTechDirectory(w http.ResponseWriter, r *http.Request) {
	tech := techFrom(r)
	st, err := s.engine.TechDirectory(r.Context(), tech.TenantID, tech.ID, pathVar(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := techDirectoryOut{Reason: st.Reason, ResetReason: st.ResetReason, Account: st.User.SAMAccountName, Name: st.User.Name(), Locked: st.User.Locked,
		Used: []string{}, Requests: []directoryRequestOut{}}
	if st.User.GUID == "" {
		out.Name = ""
	}
	if !st.Until.IsZero() {
		out.Until = &st.Until
	}
	for _, a := range st.Used {
		out.Used = append(out.Used, string(a))
	}
	for _, q := range st.Requests {
		out.Requests = append(out.Requests, directoryRequestJSON(q))
	}
	writeJSON(w, http.StatusOK, out)
}

type techDirectoryIn struct {
	ContactID  string `json:"contact_id"`
	Action     string `json:"action"`
	Password   string `json:"password"`
	Generate   bool   `json:"generate"`
	MustChange bool   `json:"must_change"`
}

type techDirectoryDone struct {
	Request directoryRequestOut `json:"request"`
	Account string              `json:"account"`
	// Password is the generated password, shown once; never for a typed one.
	Password string `json:"password,omitempty"`
}

// handleTechDirectory handles "POST /api/v1/verifications/{id}/directory":
// reset (typed or generated password) or unlock, using the verification.
func (s *Server) handleTechDirectory(w http.ResponseWriter, r *http.Request) {
	var in techDirectoryIn
	tech := techFrom(r)
	if err := decodeJSON(w, r, &in); err != nil {
		// Audited like any other refused reset or unlock: a technician
		// probing the route leaves a trace.
		s.writeError(w, r, s.engine.RefuseTechDirectoryRequest(r.Context(), core.TechDirectoryRequest{
			TenantID: tech.TenantID, TechnicianID: tech.ID, VerificationID: pathVar(r, "id")}, bodyTooLarge(err)))
		return
	}
	res, err := s.engine.TechDirectoryAction(r.Context(), core.TechDirectoryRequest{
		TenantID: tech.TenantID, TechnicianID: tech.ID, VerificationID: pathVar(r, "id"), ContactID: in.ContactID,
		Action: core.SelfServeAction(in.Action), Password: in.Password, Generate: in.Generate, MustChange: in.MustChange,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// The generated password is in this answer only: not cached anywhere.
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, techDirectoryDone{Request: directoryRequestJSON(res.Request), Account: res.Account, Password: res.Password})
}
