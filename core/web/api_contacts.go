package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/gorilla/mux"
)

func (s *Server) registerContactRoutes(r *mux.Router) {
	r.HandleFunc("/me", s.handleMe).Methods(http.MethodGet)
	r.HandleFunc("/clients", s.handleListClients).Methods(http.MethodGet)
	r.HandleFunc("/clients", s.handleCreateClient).Methods(http.MethodPost)
	r.HandleFunc("/clients/{id}", s.handleUpdateClient).Methods(http.MethodPut)
	r.HandleFunc("/clients/{id}", s.handleDeleteClient).Methods(http.MethodDelete)
	r.HandleFunc("/contacts", s.handleListContacts).Methods(http.MethodGet)
	r.HandleFunc("/contacts", s.handleCreateContact).Methods(http.MethodPost)
	r.HandleFunc("/contacts/{id}", s.handleGetContact).Methods(http.MethodGet)
	r.HandleFunc("/contacts/{id}", s.handleUpdateContact).Methods(http.MethodPut)
	r.HandleFunc("/contacts/{id}", s.handleDeleteContact).Methods(http.MethodDelete)
	r.HandleFunc("/contacts/{id}/verifications", s.handleContactHistory).Methods(http.MethodGet)
}

// handleMe handles "GET /api/v1/me".
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	tech := techFrom(r)
	tenant, err := s.engine.Tenant(r.Context(), tech.TenantID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"technician": technicianJSON(tech), "tenant": map[string]string{"id": tenant.ID, "slug": tenant.Slug, "name": tenant.Name},
		"methods": s.engine.Methods(), "dev_delivery": s.engine.DevDelivery(),
	})
}

// handleListClients handles "GET /api/v1/clients".
func (s *Server) handleListClients(w http.ResponseWriter, r *http.Request) {
	cs, err := s.engine.Clients(r.Context(), techFrom(r).TenantID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]map[string]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, map[string]string{"id": c.ID, "name": c.Name})
	}
	writeJSON(w, http.StatusOK, map[string]any{"clients": out})
}

type createClientRequest struct {
	Name string `json:"name"`
}

// handleCreateClient handles "POST /api/v1/clients" (admins): a local
// client, for tenants without a PSA.
func (s *Server) handleCreateClient(w http.ResponseWriter, r *http.Request) {
	if err := requireAdmin(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	var req createClientRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := techFrom(r)
	c, err := s.engine.CreateClient(r.Context(), tech.TenantID, "tech:"+tech.ID, req.Name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": c.ID, "name": c.Name})
}

// handleListContacts handles "GET /api/v1/contacts?q=&client=&limit=".
func (s *Server) handleListContacts(w http.ResponseWriter, r *http.Request) {
	q := core.ContactQuery{ClientID: r.URL.Query().Get("client"), Text: strings.TrimSpace(r.URL.Query().Get("q"))}
	if len(q.Text) > 100 {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "search text must be at most 100 characters"))
		return
	}
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 200 {
			s.writeError(w, r, core.Errorf(core.KindInvalid, "limit must be a number from 1 to 200"))
			return
		}
		q.Limit = n
	}
	cs, err := s.engine.SearchContacts(r.Context(), techFrom(r).TenantID, q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.contactList(r.Context(), techFrom(r).TenantID, cs)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"contacts": out})
}

// contactList is the contact list's rows: each contact with its company
// and shield, so that a technician tells callers apart without opening
// each one. A list has at most 200 contacts.
func (s *Server) contactList(ctx context.Context, tenantID string, cs []core.Contact) ([]contactOut, error) {
	clients, err := s.engine.Clients(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(clients))
	for _, c := range clients {
		names[c.ID] = c.Name
	}
	shields, optIns, err := s.engine.ListStates(ctx, tenantID, cs) // one read for the page, not one per contact
	if err != nil {
		return nil, err
	}
	verifiers := make([]string, 0, len(shields))
	for _, sh := range shields {
		verifiers = append(verifiers, sh.Last.TechnicianID)
	}
	techs, err := s.technicianNames(ctx, tenantID, verifiers)
	if err != nil {
		return nil, err
	}
	out := make([]contactOut, 0, len(cs))
	for _, c := range cs {
		co := contactJSON(c)
		co.Company = names[c.ClientID]
		co.Shield = shieldJSON(shields[c.ID])
		co.Shield.TechnicianName = techs[co.Shield.TechnicianID]
		co.SMSOptIn = optInJSON(optIns[c.ID])
		out = append(out, co)
	}
	return out, nil
}

// handleCreateContact handles "POST /api/v1/contacts" (the local mirror).
func (s *Server) handleCreateContact(w http.ResponseWriter, r *http.Request) {
	var in core.NewContact
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := techFrom(r)
	c, err := s.engine.CreateContact(r.Context(), tech.TenantID, "tech:"+tech.ID, "manual", in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, contactJSON(c))
}

// handleUpdateClient handles "PUT /api/v1/clients/{id}" (admins): a new name.
func (s *Server) handleUpdateClient(w http.ResponseWriter, r *http.Request) {
	if err := requireAdmin(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	var req createClientRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := techFrom(r)
	c, err := s.engine.UpdateClient(r.Context(), tech.TenantID, "tech:"+tech.ID, pathVar(r, "id"), req.Name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": c.ID, "name": c.Name})
}

// handleDeleteClient handles "DELETE /api/v1/clients/{id}" (admins): the
// client and its contacts are deleted softly (their history stays).
func (s *Server) handleDeleteClient(w http.ResponseWriter, r *http.Request) {
	if err := requireAdmin(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := techFrom(r)
	if err := s.engine.DeleteClient(r.Context(), tech.TenantID, "tech:"+tech.ID, pathVar(r, "id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "deleted"})
}

// handleUpdateContact handles "PUT /api/v1/contacts/{id}" (admins): the
// whole contact as POST /contacts takes it. Destinations that stay keep
// their ids and provenance; changing where codes go is an admin's job.
func (s *Server) handleUpdateContact(w http.ResponseWriter, r *http.Request) {
	if err := requireAdmin(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	var in core.NewContact
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := techFrom(r)
	c, err := s.engine.UpdateContact(r.Context(), tech.TenantID, "tech:"+tech.ID, "manual", pathVar(r, "id"), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, contactJSON(c))
}

// handleDeleteContact handles "DELETE /api/v1/contacts/{id}" (admins): a
// soft delete; the contact's verifications and audit entries stay.
func (s *Server) handleDeleteContact(w http.ResponseWriter, r *http.Request) {
	if err := requireAdmin(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := techFrom(r)
	if err := s.engine.DeleteContact(r.Context(), tech.TenantID, "tech:"+tech.ID, pathVar(r, "id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "deleted"})
}

// handleGetContact handles "GET /api/v1/contacts/{id}": the contact card with
// its shield.
func (s *Server) handleGetContact(w http.ResponseWriter, r *http.Request) {
	tenantID := techFrom(r).TenantID
	card, err := s.engine.ContactCard(r.Context(), tenantID, pathVar(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.cardJSON(r.Context(), tenantID, card.Contact, card)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// handleContactHistory handles "GET /api/v1/contacts/{id}/verifications":
// the policy's history length, newest first.
func (s *Server) handleContactHistory(w http.ResponseWriter, r *http.Request) {
	history, err := s.engine.History(r.Context(), techFrom(r).TenantID, pathVar(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, shield, err := s.historyJSON(r.Context(), techFrom(r).TenantID, history)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"verifications": out, "shield": shield})
}
