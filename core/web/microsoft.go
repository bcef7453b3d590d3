package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/countersign/countersign/assets"
	"github.com/countersign/countersign/core"
	"github.com/gorilla/mux"
)

// Microsoft 365 per client (issue 19.2/19.3): the admin's API behind
// Settings → Microsoft 365 — connections saved only after Microsoft's live
// check, secrets write-only, the connector certificate, the user import
// with each user's Authenticator status, the admin's match — and admin
// consent's pop-out with its return page. Every call is for the signed-in
// admin's tenant; the engine writes and audits.

func (s *Server) registerAdminMicrosoftRoutes(a *mux.Router) {
	a.HandleFunc("/microsoft", s.handleListMicrosoft).Methods(http.MethodGet)
	a.HandleFunc("/microsoft", s.handleSaveMicrosoft).Methods(http.MethodPost)
	a.HandleFunc("/microsoft/consent", s.handleStartMicrosoftConsent).Methods(http.MethodPost)
	a.HandleFunc("/microsoft/consented", s.handleMicrosoftConsented).Methods(http.MethodGet)
	a.HandleFunc("/microsoft/{id}", s.handleSaveMicrosoft).Methods(http.MethodPut)
	a.HandleFunc("/microsoft/{id}", s.handleDeleteMicrosoft).Methods(http.MethodDelete)
	a.HandleFunc("/microsoft/{id}/check", s.handleCheckMicrosoft).Methods(http.MethodPost)
	a.HandleFunc("/microsoft/{id}/certificate", s.handleMicrosoftCertificate).Methods(http.MethodPost)
	a.HandleFunc("/microsoft/{id}/import", s.handleImportMicrosoft).Methods(http.MethodPost)
	a.HandleFunc("/microsoft/{id}/users", s.handleMicrosoftUsers).Methods(http.MethodGet)
	a.HandleFunc("/microsoft/{id}/users/{object}", s.handleMatchMicrosoftUser).Methods(http.MethodPut)
}

type microsoftConnectionOut struct {
	ID                 string    `json:"id"`
	ClientID           string    `json:"client_id"`
	Name               string    `json:"name"`
	EntraTenant        string    `json:"entra_tenant"`
	AppClientID        string    `json:"app_client_id"`
	PushEnabled        bool      `json:"push_enabled"`
	HasConnectorSecret bool      `json:"has_connector_secret"`
	ConnectorCert      string    `json:"connector_cert,omitempty"` // public; the key never leaves the sealed config
	CheckedAt          time.Time `json:"checked_at"`
	CheckResult        string    `json:"check_result"`
	ImportedAt         time.Time `json:"imported_at,omitzero"`
}

func microsoftConnectionJSON(c core.MicrosoftConnectionView) microsoftConnectionOut {
	return microsoftConnectionOut{ID: c.ID, ClientID: c.ClientID, Name: c.Name, EntraTenant: c.EntraTenant, AppClientID: c.AppClientID,
		PushEnabled: c.PushEnabled, HasConnectorSecret: c.HasConnectorSecret, ConnectorCert: c.ConnectorCert,
		CheckedAt: c.CheckedAt, CheckResult: c.CheckResult, ImportedAt: c.ImportedAt}
}

// handleListMicrosoft handles "GET /api/v1/admin/microsoft": the tenant's
// connections, never a secret, and the redirect URI to register for
// admin consent.
func (s *Server) handleListMicrosoft(w http.ResponseWriter, r *http.Request) {
	cs, err := s.engine.MicrosoftConnections(r.Context(), techFrom(r).TenantID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]microsoftConnectionOut, 0, len(cs))
	for _, c := range cs {
		out = append(out, microsoftConnectionJSON(c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"connections": out, "redirect_uri": s.engine.MicrosoftConsentRedirect(),
		"connector_app_id": core.MFAClientAppID})
}

type microsoftSaveRequest struct {
	ClientID     string `json:"client_id"`
	Name         string `json:"name"`
	EntraTenant  string `json:"entra_tenant"`
	AppClientID  string `json:"app_client_id"`
	ClientSecret string `json:"client_secret"` // "" on an edit keeps the stored one
	// ConnectorSecret is a secret of the MFA Client service principal; ""
	// on an edit keeps the stored one.
	ConnectorSecret string `json:"connector_secret"`
	PushEnabled     bool   `json:"push_enabled"`
}

// handleSaveMicrosoft handles "POST /api/v1/admin/microsoft" and "PUT
// /api/v1/admin/microsoft/{id}": checked live against Microsoft first and
// saved only when Microsoft accepts the credentials.
func (s *Server) handleSaveMicrosoft(w http.ResponseWriter, r *http.Request) {
	var req microsoftSaveRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := checkText("name", req.Name, 100); err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := techFrom(r)
	id := pathVar(r, "id")
	if id != "" {
		// An edit keeps the connection's client: a tenant is connected for
		// one client, and moving it would hand its users to another.
		cs, err := s.engine.MicrosoftConnections(r.Context(), tech.TenantID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		req.ClientID = ""
		for _, c := range cs {
			if c.ID == id {
				req.ClientID = c.ClientID
			}
		}
		if req.ClientID == "" {
			s.writeError(w, r, core.Errorf(core.KindNotFound, "no such Microsoft 365 connection"))
			return
		}
	}
	c, err := s.engine.SaveMicrosoftConnection(r.Context(), tech.TenantID, "tech:"+tech.ID, core.MicrosoftConnectionInput{
		ID: id, ClientID: req.ClientID, Name: req.Name, PushEnabled: req.PushEnabled,
		Config: core.MicrosoftConfig{TenantID: req.EntraTenant, ClientID: req.AppClientID, ClientSecret: req.ClientSecret,
			ConnectorSecret: req.ConnectorSecret}})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if id == "" {
		status = http.StatusCreated
	}
	writeJSON(w, status, microsoftConnectionJSON(c))
}

// handleCheckMicrosoft handles "POST /api/v1/admin/microsoft/{id}/check":
// the live check again, recorded on the connection.
func (s *Server) handleCheckMicrosoft(w http.ResponseWriter, r *http.Request) {
	tech := techFrom(r)
	c, err := s.engine.CheckMicrosoftConnection(r.Context(), tech.TenantID, "tech:"+tech.ID, pathVar(r, "id"))
	if err != nil && c.ID == "" {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": err == nil, "check_result": c.CheckResult, "checked_at": c.CheckedAt})
}

// handleDeleteMicrosoft handles "DELETE /api/v1/admin/microsoft/{id}": the
// connection and its imported users.
func (s *Server) handleDeleteMicrosoft(w http.ResponseWriter, r *http.Request) {
	tech := techFrom(r)
	if err := s.engine.DeleteMicrosoftConnection(r.Context(), tech.TenantID, "tech:"+tech.ID, pathVar(r, "id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleMicrosoftCertificate handles "POST
// /api/v1/admin/microsoft/{id}/certificate": a new connector certificate
// (its private key stays sealed), to add to the MFA Client service
// principal.
func (s *Server) handleMicrosoftCertificate(w http.ResponseWriter, r *http.Request) {
	tech := techFrom(r)
	cert, err := s.engine.GenerateMicrosoftConnectorCertificate(r.Context(), tech.TenantID, "tech:"+tech.ID, pathVar(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"connector_cert": cert, "connector_app_id": core.MFAClientAppID})
}

// handleImportMicrosoft handles "POST /api/v1/admin/microsoft/{id}/import":
// reads the tenant's users and their methods through Graph and matches
// them to the client's contacts.
func (s *Server) handleImportMicrosoft(w http.ResponseWriter, r *http.Request) {
	tech := techFrom(r)
	n, err := s.engine.ImportMicrosoftUsers(r.Context(), tech.TenantID, "tech:"+tech.ID, pathVar(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": n.Users, "authenticator": n.Authenticator, "synced": n.Synced,
		"matched": n.Matched, "conflicts": n.Conflicts, "disabled": n.Disabled})
}

type microsoftUserOut struct {
	ObjectID      string    `json:"object_id"`
	UPN           string    `json:"upn"`
	Mail          string    `json:"mail,omitempty"`
	Mobile        string    `json:"mobile,omitempty"`
	DisplayName   string    `json:"display_name"`
	Source        string    `json:"source"`
	Enabled       bool      `json:"enabled"`
	Authenticator bool      `json:"authenticator"`
	Methods       string    `json:"methods"`
	ContactID     string    `json:"contact_id,omitempty"`
	ContactName   string    `json:"contact_name,omitempty"`
	MatchedBy     string    `json:"matched_by,omitempty"`
	ImportedAt    time.Time `json:"imported_at"`
}

// handleMicrosoftUsers handles "GET /api/v1/admin/microsoft/{id}/users[?limit=n&after=cursor]":
// one page of the imported users by UPN (100 by default, at most 500),
// whether each has Microsoft Authenticator, the contact each is, and
// "next", the cursor of the following page ("" after the last).
func (s *Server) handleMicrosoftUsers(w http.ResponseWriter, r *http.Request) {
	tenantID := techFrom(r).TenantID
	limit := 0
	if q := r.URL.Query().Get("limit"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil {
			s.writeError(w, r, core.Errorf(core.KindInvalid, "limit must be a number"))
			return
		}
		limit = n
	}
	us, next, err := s.engine.MicrosoftUsersPage(r.Context(), tenantID, pathVar(r, "id"), r.URL.Query().Get("after"), limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	names := map[string]string{}
	out := make([]microsoftUserOut, 0, len(us))
	for _, u := range us {
		o := microsoftUserOut{ObjectID: u.ObjectID, UPN: u.UPN, Mail: u.Mail, Mobile: u.Mobile, DisplayName: u.DisplayName,
			Source: u.Source, Enabled: u.Enabled, Authenticator: u.Authenticator, Methods: u.Methods,
			ContactID: u.ContactID, MatchedBy: u.MatchedBy, ImportedAt: u.ImportedAt}
		if u.ContactID != "" {
			name, ok := names[u.ContactID]
			if !ok {
				if c, err := s.engine.Contact(r.Context(), tenantID, u.ContactID); err == nil {
					name = c.Name()
				}
				names[u.ContactID] = name
			}
			o.ContactName = name
		}
		out = append(out, o)
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out, "next": next})
}

type microsoftMatchRequest struct {
	ContactID string `json:"contact_id"` // "" says the user is no contact
}

// handleMatchMicrosoftUser handles "PUT
// /api/v1/admin/microsoft/{id}/users/{object}": an admin's match, which
// imports keep.
func (s *Server) handleMatchMicrosoftUser(w http.ResponseWriter, r *http.Request) {
	var req microsoftMatchRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := techFrom(r)
	u, err := s.engine.MatchMicrosoftUser(r.Context(), tech.TenantID, "tech:"+tech.ID, pathVar(r, "id"), pathVar(r, "object"), req.ContactID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, microsoftUserOut{ObjectID: u.ObjectID, UPN: u.UPN, DisplayName: u.DisplayName, Source: u.Source,
		Enabled: u.Enabled, Authenticator: u.Authenticator, Methods: u.Methods, ContactID: u.ContactID, MatchedBy: u.MatchedBy, ImportedAt: u.ImportedAt})
}

type microsoftConsentRequest struct {
	ClientID    string `json:"client_id"`
	AppClientID string `json:"app_client_id"`
	EntraTenant string `json:"entra_tenant"` // "" lets the customer's admin sign in and Microsoft pick it
}

// handleStartMicrosoftConsent handles "POST
// /api/v1/admin/microsoft/consent": the admin-consent URL for the pop-out,
// with a one-use state kept for this admin.
func (s *Server) handleStartMicrosoftConsent(w http.ResponseWriter, r *http.Request) {
	var req microsoftConsentRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := techFrom(r)
	u, err := s.engine.StartMicrosoftConsent(r.Context(), tech.TenantID, "tech:"+tech.ID, core.MicrosoftConsentStart{
		ClientID: req.ClientID, AppClientID: req.AppClientID, Tenant: req.EntraTenant})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"url": u, "redirect_uri": s.engine.MicrosoftConsentRedirect()})
}

// handleMicrosoftConsented handles "GET
// /api/v1/admin/microsoft/consented?client_id=…": the client's newest
// granted consent, whose tenant id prefills the connection form.
func (s *Server) handleMicrosoftConsented(w http.ResponseWriter, r *http.Request) {
	c, err := s.engine.MicrosoftConsented(r.Context(), techFrom(r).TenantID, r.URL.Query().Get("client_id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"client_id": c.ClientID, "entra_tenant": c.EntraTenant,
		"app_client_id": c.AppClientID, "consented_at": c.UsedAt})
}

// microsoftConsentPage is what the consent return page shows.
type microsoftConsentPage struct {
	adminPageData
	Granted     bool
	EntraTenant string
	ClientID    string
	AppClientID string
}

// handleMicrosoftConsentReturn handles "GET /app/admin/microsoft/consent",
// where Microsoft sends the admin's browser back after admin consent: the
// state must be one this admin started, in time, once (the engine checks);
// the page says what happened and tells the opener (the setup page), which
// fills in the tenant id.
func (s *Server) handleMicrosoftConsentReturn(w http.ResponseWriter, r *http.Request) {
	tech, err := s.consoleTechnician(r)
	if err != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	const title = "Microsoft 365"
	d := microsoftConsentPage{adminPageData: adminPageData{Dev: s.engine.DevDelivery(), Admin: tech.Role.IsAdmin(), Active: "microsoft",
		Title: title, Me: technicianJSON(tech)}}
	w.Header().Set("Cache-Control", "no-store")
	if !tech.Role.IsAdmin() {
		d.Message = title + " can only be connected by an owner or admin of your organisation."
		s.renderHTML(w, r, http.StatusForbidden, assets.PageAdminForbidden, d.adminPageData)
		return
	}
	q := r.URL.Query()
	c, err := s.engine.FinishMicrosoftConsent(r.Context(), tech.TenantID, "tech:"+tech.ID, core.MicrosoftConsentReturn{
		State: q.Get("state"), AdminConsent: q.Get("admin_consent"), Tenant: q.Get("tenant"),
		Error: q.Get("error"), ErrorDescription: q.Get("error_description")})
	d.ClientID, d.AppClientID = c.ClientID, c.AppClientID
	status := http.StatusOK
	if err != nil {
		status, d.Message, _ = s.classify(r, err) // logs the refusal, never the state
	} else {
		d.Granted, d.EntraTenant = true, c.EntraTenant
	}
	s.renderHTML(w, r, status, assets.PageAdminMicrosoftConsent, d)
}
