package web

import (
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/countersign/countersign/assets"
	"github.com/countersign/countersign/core"
	"github.com/gorilla/mux"
)

// The console's admin pages (policies, branding, technicians, audit log):
// server-rendered shells for owners and admins whose plain JavaScript calls
// the JSON API under /api/v1/admin. Every change is written to the audit log
// in the transaction that makes it.

// adminPageData is what the admin page templates and the shared nav read.
type adminPageData struct {
	Dev    bool
	Admin  bool
	Active string // the nav entry of this page
	Title  string
	Me     technicianOut
	// Message explains a refusal on the forbidden page.
	Message string
	// Issues are the misconfigured channels the nav's banner shows.
	Issues []issueOut
	// TimeZone is the tenant's (core.Branding.TimeZone), for the
	// scripts' times (CSTime in api.js); "" is UTC.
	TimeZone string
}

// adminPages maps each page path to its template and nav entry.
var adminPages = []struct{ path, page, active, title string }{
	{"/app/admin/policies", assets.PageAdminPolicies, "policies", "Policies"},
	{"/app/admin/branding", assets.PageAdminBranding, "branding", "Branding"},
	{"/app/admin/technicians", assets.PageAdminTechnicians, "technicians", "Technicians"},
	{"/app/admin/audit", assets.PageAdminAudit, "audit", "Audit log"},
	{"/app/admin/integrations", assets.PageAdminIntegrations, "integrations", "Integrations"},
	{"/app/admin/channels", assets.PageAdminChannels, "channels", "Channels"},
	{"/app/admin/directory", assets.PageAdminDirectory, "directory", "Directory"},
	{"/app/admin/duo", assets.PageAdminDuo, "duo", "Duo push"},
	{"/app/admin/microsoft", assets.PageAdminMicrosoft, "microsoft", "Microsoft 365"},
	{"/app/admin/agents", assets.PageAdminAgents, "agents", "Agents"},
	{"/app/admin/notify", assets.PageAdminNotify, "notify", "On call"},
}

func (s *Server) registerAdminPageRoutes(r *mux.Router) {
	r.Handle("/app/admin", http.RedirectHandler("/app/admin/policies", http.StatusSeeOther)).Methods(http.MethodGet)
	for _, p := range adminPages {
		r.HandleFunc(p.path, s.handleAdminPage(p.page, p.active, p.title)).Methods(http.MethodGet)
	}
	r.HandleFunc(core.MicrosoftConsentPath, s.handleMicrosoftConsentReturn).Methods(http.MethodGet)
}

// handleAdminPage handles "GET /app/admin/{page}": the page for owners and
// admins, a 403 page that says why for other technicians, and the sign-in
// page for everyone else.
func (s *Server) handleAdminPage(page, active, title string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tech, err := s.consoleTechnician(r)
		if err != nil {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		d := adminPageData{Dev: s.engine.DevDelivery(), Admin: tech.Role.IsAdmin(), Active: active, Title: title, Me: technicianJSON(tech),
			Issues: s.channelIssues(r.Context(), tech), TimeZone: s.tenantZone(r.Context(), tech.TenantID)}
		w.Header().Set("Cache-Control", "no-store")
		if !tech.Role.IsAdmin() {
			d.Message = title + " can only be changed by an owner or admin of your organisation. Ask one of them if something here needs to change."
			s.renderHTML(w, r, http.StatusForbidden, assets.PageAdminForbidden, d)
			return
		}
		s.renderHTML(w, r, http.StatusOK, page, d)
	}
}

// registerAdminAPIRoutes registers /api/v1/admin/...; r is already behind
// withSameOrigin and withTechnician, and the subrouter adds withAdmin.
func (s *Server) registerAdminAPIRoutes(r *mux.Router) {
	a := r.PathPrefix("/admin").Subrouter()
	a.Use(s.withAdmin)
	s.registerAdminPolicyRoutes(a)
	s.registerAdminBrandingRoutes(a)
	s.registerAdminTechnicianRoutes(a)
	s.registerAdminAuditRoutes(a)
	s.registerAdminIntegrationRoutes(a)
	s.registerChannelIssueRoutes(a)
	s.registerAdminChannelRoutes(a)
	s.registerAdminDuoRoutes(a)
	s.registerAdminMicrosoftRoutes(a)
	s.registerAdminNotifyRoutes(a)
}

// withAdmin refuses technicians who are not owner or admin.
func (s *Server) withAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := requireAdmin(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkText validates a one-line text field: valid UTF-8, at most max
// characters, no control characters. Markup is allowed: pages show it as
// text (html/template, textContent), never as HTML.
func checkText(field, v string, max int) error {
	switch {
	case !utf8.ValidString(v):
		return core.Errorf(core.KindInvalid, "%s is not valid UTF-8 text", field)
	case utf8.RuneCountInString(v) > max:
		return core.Errorf(core.KindInvalid, "%s must be at most %d characters", field, max)
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return core.Errorf(core.KindInvalid, "%s must be one line without control characters", field)
	}
	return nil
}
