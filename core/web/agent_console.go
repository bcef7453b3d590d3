package web

import (
	"net/http"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/gorilla/mux"
)

// The console's side of the agents: activation keys per client (admins),
// the agents list with each device's users and bindings, manual
// assignment of a user to a contact, revocation, and starting a
// workstation prompt.

func (s *Server) registerAgentConsoleRoutes(r *mux.Router) {
	r.HandleFunc("/agents", s.handleListAgents).Methods(http.MethodGet)
	r.HandleFunc("/agents/{id}", s.handleGetAgent).Methods(http.MethodGet)
	r.HandleFunc("/agents/{id}/users/{sid}/assign", s.handleAssignUser).Methods(http.MethodPost)
	r.HandleFunc("/prompts", s.handleStartPrompt).Methods(http.MethodPost)
	r.HandleFunc("/pod/{integration}/prompts", s.handlePodPrompt).Methods(http.MethodPost)
	s.registerDirectoryConsoleRoutes(r)
	admin := r.NewRoute().Subrouter()
	admin.Use(s.withAdmin)
	admin.HandleFunc("/clients/{id}/activation-key", s.handleActivationKey).Methods(http.MethodGet)
	admin.HandleFunc("/clients/{id}/activation-key/rotate", s.handleRotateActivationKey).Methods(http.MethodPost)
	admin.HandleFunc("/agents/{id}/revoke", s.handleRevokeAgent).Methods(http.MethodPost)
}

type activationKeyOut struct {
	ClientID string `json:"client_id"`
	Key      string `json:"activation_key"`
	// Install is the silent install line for RMM tools.
	Install string `json:"install"`
}

func (s *Server) activationKeyJSON(clientID, key string) activationKeyOut {
	return activationKeyOut{ClientID: clientID, Key: key,
		Install: `msiexec /i countersign-agent.msi /qn /norestart SERVERURL="` + s.cfg.PublicURL + `" ACTIVATIONKEY="` + key + `"`}
}

// handleActivationKey handles "GET /api/v1/clients/{id}/activation-key".
func (s *Server) handleActivationKey(w http.ResponseWriter, r *http.Request) {
	tech := techFrom(r)
	key, err := s.engine.ActivationKey(r.Context(), tech.TenantID, "tech:"+tech.ID, pathVar(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.activationKeyJSON(pathVar(r, "id"), key))
}

// handleRotateActivationKey handles "POST /api/v1/clients/{id}/activation-key/rotate".
func (s *Server) handleRotateActivationKey(w http.ResponseWriter, r *http.Request) {
	tech := techFrom(r)
	key, err := s.engine.RotateActivationKey(r.Context(), tech.TenantID, "tech:"+tech.ID, pathVar(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.activationKeyJSON(pathVar(r, "id"), key))
}

type agentOut struct {
	ID           string    `json:"id"`
	ClientID     string    `json:"client_id"`
	Name         string    `json:"name"`
	OS           string    `json:"os"`
	Domain       string    `json:"domain"`
	AgentVersion string    `json:"agent_version"`
	Online       bool      `json:"online"`
	Revoked      bool      `json:"revoked"`
	LastSeenAt   time.Time `json:"last_seen_at"`
	CreatedAt    time.Time `json:"created_at"`
}

func agentJSON(d core.Device, now time.Time) agentOut {
	return agentOut{ID: d.ID, ClientID: d.ClientID, Name: d.Name, OS: d.OS, Domain: d.Domain, AgentVersion: d.AgentVersion,
		Online: d.Online(now), Revoked: d.Revoked(), LastSeenAt: d.LastSeenAt, CreatedAt: d.CreatedAt}
}

// handleListAgents handles "GET /api/v1/agents?client=ID".
func (s *Server) handleListAgents(w http.ResponseWriter, r *http.Request) {
	ds, err := s.engine.Devices(r.Context(), techFrom(r).TenantID, r.URL.Query().Get("client"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.engine.Now()
	out := make([]agentOut, 0, len(ds))
	for _, d := range ds {
		out = append(out, agentJSON(d, now))
	}
	writeJSON(w, http.StatusOK, map[string]any{"agents": out})
}

type agentUserOut struct {
	deviceUserJSON
	Bound       bool   `json:"bound"`
	BindingHow  string `json:"binding_how,omitempty"`
	ContactID   string `json:"contact_id,omitempty"`
	ContactName string `json:"contact_name,omitempty"`
}

// handleGetAgent handles "GET /api/v1/agents/{id}": the device and its users.
func (s *Server) handleGetAgent(w http.ResponseWriter, r *http.Request) {
	d, views, err := s.engine.DeviceDetail(r.Context(), techFrom(r).TenantID, pathVar(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	users := make([]agentUserOut, 0, len(views))
	for _, v := range views {
		u := agentUserOut{deviceUserJSON: deviceUserJSON{SID: v.User.SID, Account: v.User.Account, UPN: v.User.UPN,
			DisplayName: v.User.DisplayName, Local: v.User.Local, LoggedOn: v.User.LoggedOn}, Bound: v.Bound()}
		if v.Binding.ContactID != "" {
			u.BindingHow, u.ContactID, u.ContactName = string(v.Binding.How), v.Contact.ID, v.Contact.Name()
		}
		users = append(users, u)
	}
	writeJSON(w, http.StatusOK, map[string]any{"agent": agentJSON(d, s.engine.Now()), "users": users})
}

type assignRequest struct {
	ContactID string `json:"contact_id"`
}

// handleAssignUser handles "POST /api/v1/agents/{id}/users/{sid}/assign".
func (s *Server) handleAssignUser(w http.ResponseWriter, r *http.Request) {
	var req assignRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := techFrom(r)
	b, err := s.engine.AssignUser(r.Context(), tech.TenantID, "tech:"+tech.ID, pathVar(r, "id"), pathVar(r, "sid"), req.ContactID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sid": b.SID, "contact_id": b.ContactID, "how": b.How, "state": b.State})
}

// handleRevokeAgent handles "POST /api/v1/agents/{id}/revoke".
func (s *Server) handleRevokeAgent(w http.ResponseWriter, r *http.Request) {
	tech := techFrom(r)
	if err := s.engine.RevokeDevice(r.Context(), tech.TenantID, "tech:"+tech.ID, pathVar(r, "id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type promptRequest struct {
	ContactID     string `json:"contact_id"`
	TicketRef     string `json:"ticket_ref"`
	IntegrationID string `json:"integration_id"`
	Note          string `json:"note"`
	Purpose       string `json:"purpose"`
}

// handleStartPrompt handles "POST /api/v1/prompts": "Prompt on workstation"
// from the console or a pod. The answer shows the number to read out.
func (s *Server) handleStartPrompt(w http.ResponseWriter, r *http.Request) {
	var req promptRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := techFrom(r)
	st, err := s.engine.StartPrompt(r.Context(), core.PromptRequest{TenantID: tech.TenantID, TechnicianID: tech.ID,
		ContactID: req.ContactID, TicketRef: req.TicketRef, IntegrationID: req.IntegrationID, Note: req.Note,
		Purpose: core.Purpose(req.Purpose)})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := verificationJSON(st.Verification, s.engine.Now())
	out.TechCode = st.TechCode
	writeJSON(w, http.StatusCreated, out)
}

type podPromptRequest struct {
	Scope     string `json:"scope"`
	ContactID string `json:"contact_id"`
	Note      string `json:"note"`
	Purpose   string `json:"purpose"`
}

// handlePodPrompt handles "POST /api/v1/pod/{integration}/prompts":
// "Prompt on workstation" from a pod. On a ticket the prompt is tied to the
// ticket of the pod's signed scope, whose note gets the result (a "This is
// not me" too); the answer shows the number to read out.
func (s *Server) handlePodPrompt(w http.ResponseWriter, r *http.Request) {
	var req podPromptRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	scope, err := s.decodeScope(r, req.Scope)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := techFrom(r)
	st, err := s.engine.StartPrompt(r.Context(), core.PromptRequest{TenantID: tech.TenantID, TechnicianID: tech.ID,
		ContactID: req.ContactID, TicketRef: scope.TicketRef, IntegrationID: integrationForNote(scope), Note: req.Note,
		Purpose: core.Purpose(req.Purpose)})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := verificationJSON(st.Verification, s.engine.Now())
	out.TechCode = st.TechCode
	writeJSON(w, http.StatusCreated, out)
}

type promptAnswerRequest struct {
	SID    string `json:"sid"`
	Choice string `json:"choice"`
	NotMe  bool   `json:"not_me"`
}

// handleAgentPromptAnswer handles "POST /agent/v1/prompts/{id}/answer". The
// SID is the one the service read from the tray's pipe handle.
func (s *Server) handleAgentPromptAnswer(w http.ResponseWriter, r *http.Request) {
	var req promptAnswerRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := s.engine.AnswerPrompt(r.Context(), deviceFrom(r), core.PromptAnswer{VerificationID: pathVar(r, "id"),
		SID: req.SID, Choice: req.Choice, NotMe: req.NotMe})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": v.Status})
}

// handleAgentTechnicians handles "GET /agent/v1/users/{sid}/technicians":
// "Who's calling me?" — the MSP's technicians working with this user now.
func (s *Server) handleAgentTechnicians(w http.ResponseWriter, r *http.Request) {
	sid := pathVar(r, "sid")
	if !core.ValidSID(sid) {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "%q is not a Windows SID", sid))
		return
	}
	techs, err := s.engine.CallingTechnicians(r.Context(), deviceFrom(r), sid)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]map[string]string, 0, len(techs))
	for _, t := range techs {
		out = append(out, map[string]string{"id": t.ID, "name": t.Name})
	}
	writeJSON(w, http.StatusOK, map[string]any{"technicians": out})
}

type techCheckRequest struct {
	TechnicianID string `json:"technician_id"`
	Answer       string `json:"answer"`
}

// handleAgentTechCheck handles "POST /agent/v1/users/{sid}/tech-checks":
// the user's answer about a technician "Who's calling me?" listed —
// "confirm" or "not_the_person". The SID is the one the service read
// from the tray's pipe handle.
func (s *Server) handleAgentTechCheck(w http.ResponseWriter, r *http.Request) {
	var req techCheckRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.engine.CheckTechnician(r.Context(), deviceFrom(r), core.TechCheck{SID: pathVar(r, "sid"),
		TechnicianID: req.TechnicianID, Answer: core.TechCheckAnswer(req.Answer)})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"answer": res.Answer, "technician": map[string]string{"id": res.Technician.ID, "name": res.Technician.Name},
		"ticket": res.TicketRef, "alerted": res.Alerted > 0})
}
