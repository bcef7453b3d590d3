package web

import (
	"context"
	"net/http"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/gorilla/mux"
)

// Duo push and factor-aware routing: the technician's endpoints (routes of
// a contact, Push from the console or a pod) and the admin's Duo setup.

func (s *Server) registerPushRoutes(r *mux.Router) {
	r.HandleFunc("/contacts/{id}/routes", s.handleContactRoutes).Methods(http.MethodGet)
	r.HandleFunc("/contacts/{id}/lock-reset", s.handleResetLock).Methods(http.MethodPost)
	r.HandleFunc("/pushes", s.handleStartPush).Methods(http.MethodPost)
	r.HandleFunc("/pod/{integration}/pushes", s.handlePodPush).Methods(http.MethodPost)
}

func (s *Server) registerAdminDuoRoutes(a *mux.Router) {
	a.HandleFunc("/duo", s.handleListDuo).Methods(http.MethodGet)
	a.HandleFunc("/duo", s.handleSaveDuo).Methods(http.MethodPost)
	a.HandleFunc("/duo/{id}", s.handleSaveDuo).Methods(http.MethodPut)
	a.HandleFunc("/duo/{id}", s.handleDeleteDuo).Methods(http.MethodDelete)
	a.HandleFunc("/duo/{id}/check", s.handleCheckDuo).Methods(http.MethodPost)
	a.HandleFunc("/duo/{id}/users", s.handleDuoUsers).Methods(http.MethodGet)
	a.HandleFunc("/duo/{id}/users/{contact}", s.handleSetDuoUser).Methods(http.MethodPut)
}

type routeOut struct {
	Method        string `json:"method"`
	Destination   string `json:"destination,omitempty"`
	DestinationID string `json:"destination_id,omitempty"`
	// Provenance says in words where the destination came from ("added by
	// hand on 2 Nov 2026", "from the PSA on 2 Nov 2026") or how a push
	// user was matched; never a raw source identifier.
	Provenance string `json:"provenance,omitempty"`
	Available  bool   `json:"available"`
	Reason     string `json:"reason"`
	Assurance  string `json:"assurance,omitempty"`
	// BelowMinimum: the client's policy requires more for the purpose
	// asked; Reason says what.
	BelowMinimum bool `json:"below_minimum,omitempty"`
	// Locked: the channel is locked by consecutive failures, or pushes are
	// stopped after a Deny or fraud report; an admin may reset it (POST
	// /api/v1/contacts/{id}/lock-reset).
	Locked bool `json:"locked,omitempty"`
}

// handleContactRoutes handles "GET /api/v1/contacts/{id}/routes[?purpose=reset]":
// the ways to verify the contact, in the policy's order, each with why it
// is or is not available; those below the policy's minimum assurance for
// the purpose come last, marked.
func (s *Server) handleContactRoutes(w http.ResponseWriter, r *http.Request) {
	routes, err := s.engine.RoutesFor(r.Context(), techFrom(r).TenantID, pathVar(r, "id"), core.Purpose(r.URL.Query().Get("purpose")))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]routeOut, 0, len(routes))
	for _, rt := range routes {
		prov := rt.Provenance
		if rt.Source != "" {
			prov = s.provenance(rt.Source)
			if rt.SourceDate != "" {
				prov += " on " + rt.SourceDate
			}
		}
		out = append(out, routeOut{Method: string(rt.Method), Destination: rt.Destination, DestinationID: rt.DestinationID,
			Provenance: prov, Available: rt.Available, Reason: rt.Reason, Assurance: rt.Assurance, BelowMinimum: rt.BelowMinimum, Locked: rt.Locked})
	}
	writeJSON(w, http.StatusOK, map[string]any{"routes": out})
}

// handleResetLock handles "POST /api/v1/contacts/{id}/lock-reset": an
// admin resets the contact's channels locked by consecutive failures
// (core.Engine.ResetLock); it answers the channels reset.
func (s *Server) handleResetLock(w http.ResponseWriter, r *http.Request) {
	if err := requireAdmin(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := techFrom(r)
	reset, err := s.engine.ResetLock(r.Context(), tech.TenantID, tech.ID, pathVar(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]string, len(reset))
	for i, k := range reset {
		out[i] = string(k)
	}
	writeJSON(w, http.StatusOK, map[string]any{"reset": out})
}

type pushRequest struct {
	// Method is the route's method: "duo_push" (also "" and "duo") or
	// "microsoft_push" ("microsoft").
	Method    string `json:"method"`
	Scope     string `json:"scope"` // pods only
	ContactID string `json:"contact_id"`
	TicketRef string `json:"ticket_ref"` // console only: a pod's scope names the ticket
	Note      string `json:"note"`
	Purpose   string `json:"purpose"`
}

// handleStartPush handles "POST /api/v1/pushes": Push from the console,
// for a typed ticket reference.
func (s *Server) handleStartPush(w http.ResponseWriter, r *http.Request) {
	var req pushRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := techFrom(r)
	start, err := s.pushStarter(req.Method)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := start(r.Context(), core.PushRequest{TenantID: tech.TenantID, TechnicianID: tech.ID,
		ContactID: req.ContactID, TicketRef: req.TicketRef, Note: req.Note, Purpose: core.Purpose(req.Purpose)})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, verificationJSON(v, s.engine.Now()))
}

// handlePodPush handles "POST /api/v1/pod/{integration}/pushes": Push from
// a pod, tied to the PSA ticket of its signed scope, whose note gets the
// result.
func (s *Server) handlePodPush(w http.ResponseWriter, r *http.Request) {
	var req pushRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := techFrom(r)
	start, err := s.pushStarter(req.Method)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	scope, err := s.decodeScope(r, req.Scope)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if scope.Screen != psa.ScreenTicket || scope.TicketRef == "" {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "a push needs a ticket: open the pod on the caller's ticket"))
		return
	}
	v, err := start(r.Context(), core.PushRequest{TenantID: tech.TenantID, TechnicianID: tech.ID,
		ContactID: req.ContactID, TicketRef: scope.TicketRef, IntegrationID: integrationForNote(scope), Note: req.Note,
		Purpose: core.Purpose(req.Purpose)})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, verificationJSON(v, s.engine.Now()))
}

// pushStarter is the engine's start of the push a request names: Duo
// (the default, for clients that predate the field) or Microsoft
// Authenticator.
func (s *Server) pushStarter(method string) (func(context.Context, core.PushRequest) (core.Verification, error), error) {
	switch core.Method(method) {
	case "", "duo", core.MethodDuoPush:
		return s.engine.StartDuoPush, nil
	case "microsoft", core.MethodMicrosoftPush:
		return s.engine.StartMicrosoftPush, nil
	}
	return nil, core.Errorf(core.KindInvalid, "method must be %s or %s", core.MethodDuoPush, core.MethodMicrosoftPush)
}

type duoAccountOut struct {
	ID             string    `json:"id"`
	ClientID       string    `json:"client_id"`
	Name           string    `json:"name"`
	IntegrationKey string    `json:"integration_key"`
	APIHost        string    `json:"api_host"`
	VerifiedPush   bool      `json:"verified_push"`
	CheckedAt      time.Time `json:"checked_at"`
	CheckResult    string    `json:"check_result"`
}

func duoAccountJSON(a core.DuoAccountView) duoAccountOut {
	return duoAccountOut{ID: a.ID, ClientID: a.ClientID, Name: a.Name, IntegrationKey: a.IntegrationKey, APIHost: a.APIHost,
		VerifiedPush: a.VerifiedPush, CheckedAt: a.CheckedAt, CheckResult: a.CheckResult}
}

// handleListDuo handles "GET /api/v1/admin/duo": the tenant's Duo accounts,
// never their secret keys.
func (s *Server) handleListDuo(w http.ResponseWriter, r *http.Request) {
	as, err := s.engine.DuoAccounts(r.Context(), techFrom(r).TenantID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]duoAccountOut, 0, len(as))
	for _, a := range as {
		out = append(out, duoAccountJSON(a))
	}
	writeJSON(w, http.StatusOK, map[string]any{"accounts": out})
}

type duoSaveRequest struct {
	ClientID       string `json:"client_id"`
	Name           string `json:"name"`
	IntegrationKey string `json:"integration_key"`
	SecretKey      string `json:"secret_key"` // "" on an edit keeps the stored one
	APIHost        string `json:"api_host"`
	VerifiedPush   bool   `json:"verified_push"`
}

// handleSaveDuo handles "POST /api/v1/admin/duo" and "PUT
// /api/v1/admin/duo/{id}": the keys are checked live against Duo first,
// and saved only when Duo accepts them.
func (s *Server) handleSaveDuo(w http.ResponseWriter, r *http.Request) {
	var req duoSaveRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := techFrom(r)
	a, err := s.engine.SaveDuoAccount(r.Context(), tech.TenantID, "tech:"+tech.ID, core.DuoAccountInput{
		ID: pathVar(r, "id"), ClientID: req.ClientID, Name: req.Name, VerifiedPush: req.VerifiedPush,
		Config: core.DuoConfig{IntegrationKey: req.IntegrationKey, SecretKey: req.SecretKey, APIHost: req.APIHost}})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if pathVar(r, "id") == "" {
		status = http.StatusCreated
	}
	writeJSON(w, status, duoAccountJSON(a))
}

// handleCheckDuo handles "POST /api/v1/admin/duo/{id}/check": the live
// check again (keys, signature, clock), recorded on the account.
func (s *Server) handleCheckDuo(w http.ResponseWriter, r *http.Request) {
	tech := techFrom(r)
	a, err := s.engine.CheckDuoAccount(r.Context(), tech.TenantID, "tech:"+tech.ID, pathVar(r, "id"))
	if err != nil && a.ID == "" {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": err == nil, "check_result": a.CheckResult, "checked_at": a.CheckedAt})
}

// handleDeleteDuo handles "DELETE /api/v1/admin/duo/{id}".
func (s *Server) handleDeleteDuo(w http.ResponseWriter, r *http.Request) {
	tech := techFrom(r)
	if err := s.engine.DeleteDuoAccount(r.Context(), tech.TenantID, "tech:"+tech.ID, pathVar(r, "id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type duoUserOut struct {
	ContactID   string    `json:"contact_id"`
	ContactName string    `json:"contact_name"`
	Username    string    `json:"username"`
	MatchedBy   string    `json:"matched_by"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// handleDuoUsers handles "GET /api/v1/admin/duo/{id}/users": which Duo user
// each contact is, and how that was found.
func (s *Server) handleDuoUsers(w http.ResponseWriter, r *http.Request) {
	tenantID := techFrom(r).TenantID
	us, err := s.engine.DuoUsers(r.Context(), tenantID, pathVar(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]duoUserOut, 0, len(us))
	for _, u := range us {
		name := ""
		if c, err := s.engine.Contact(r.Context(), tenantID, u.ContactID); err == nil {
			name = c.Name()
		}
		out = append(out, duoUserOut{ContactID: u.ContactID, ContactName: name, Username: u.Username, MatchedBy: u.MatchedBy, UpdatedAt: u.UpdatedAt})
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
}

type duoUserRequest struct {
	Username string `json:"username"`
}

// handleSetDuoUser handles "PUT /api/v1/admin/duo/{id}/users/{contact}": an
// admin's mapping, which the matcher never overwrites.
func (s *Server) handleSetDuoUser(w http.ResponseWriter, r *http.Request) {
	var req duoUserRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := techFrom(r)
	u, err := s.engine.SetDuoUser(r.Context(), tech.TenantID, "tech:"+tech.ID, pathVar(r, "id"), pathVar(r, "contact"), req.Username)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, duoUserOut{ContactID: u.ContactID, Username: u.Username, MatchedBy: u.MatchedBy, UpdatedAt: u.UpdatedAt})
}
