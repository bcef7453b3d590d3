package web

import (
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/countersign/countersign/core"
	"github.com/gorilla/mux"
)

func (s *Server) registerAdminPolicyRoutes(r *mux.Router) {
	r.HandleFunc("/policies", s.handleAdminPolicies).Methods(http.MethodGet)
	r.HandleFunc("/policies/{scope}", s.handleAdminGetPolicy).Methods(http.MethodGet)
	r.HandleFunc("/policies/{scope}", s.handleAdminPutPolicy).Methods(http.MethodPut)
	r.HandleFunc("/policies/{scope}", s.handleAdminDeletePolicy).Methods(http.MethodDelete)
}

type policyClientOut struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Override bool   `json:"override"` // the client has its own policy
}

// policyScopeOut is one scope's policy: the tenant default ("default") or a
// client's. Override is false when a client uses the tenant default.
type policyScopeOut struct {
	Scope    string      `json:"scope"`
	Override bool        `json:"override"`
	Policy   core.Policy `json:"policy"`
}

// handleAdminPolicies handles "GET /api/v1/admin/policies": the tenant
// default, the clients (and which have an override) and the methods the
// policy form offers.
func (s *Server) handleAdminPolicies(w http.ResponseWriter, r *http.Request) {
	def, overrides, err := s.engine.PolicyOverview(r.Context(), techFrom(r).TenantID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	clients := make([]policyClientOut, 0, len(overrides))
	for _, o := range overrides {
		clients = append(clients, policyClientOut{ID: o.Client.ID, Name: o.Client.Name, Override: o.Override})
	}
	writeJSON(w, http.StatusOK, map[string]any{"default": def, "clients": clients, "methods": s.engine.Methods(),
		"assurances": []core.Assurance{core.AssurancePhone, core.AssurancePush, core.AssuranceStrong}})
}

// policyScopeView reads the effective policy of scope; a client id that is
// not the tenant's is ErrNotFound.
func (s *Server) policyScopeView(r *http.Request, scope string) (policyScopeOut, error) {
	p, override, err := s.engine.PolicyScope(r.Context(), techFrom(r).TenantID, policyScopeID(scope))
	return policyScopeOut{Scope: scope, Override: override, Policy: p}, err
}

// policyScopeID turns a {scope} into a client id, "" for the tenant default.
func policyScopeID(scope string) string {
	if scope == "default" {
		return ""
	}
	return scope
}

// handleAdminGetPolicy handles "GET /api/v1/admin/policies/{default|client id}".
func (s *Server) handleAdminGetPolicy(w http.ResponseWriter, r *http.Request) {
	out, err := s.policyScopeView(r, pathVar(r, "scope"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// handleAdminPutPolicy handles "PUT /api/v1/admin/policies/{default|client id}":
// it sets the tenant default or creates or replaces a client's override.
func (s *Server) handleAdminPutPolicy(w http.ResponseWriter, r *http.Request) {
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
	scope := pathVar(r, "scope")
	if err := s.engine.PutPolicy(r.Context(), tech.TenantID, "tech:"+tech.ID, policyScopeID(scope), p); err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.policyScopeView(r, scope)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// handleAdminDeletePolicy handles "DELETE /api/v1/admin/policies/{client id}":
// the client falls back to the tenant default.
func (s *Server) handleAdminDeletePolicy(w http.ResponseWriter, r *http.Request) {
	scope := pathVar(r, "scope")
	tech := techFrom(r)
	if err := s.engine.DeletePolicy(r.Context(), tech.TenantID, "tech:"+tech.ID, policyScopeID(scope)); err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.policyScopeView(r, scope)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// maxLimit bounds the rate-limit fields; beyond it a "limit" limits nothing.
const maxLimit = 1_000_000

// checkPolicyInput adds the checks core.Policy.Validate leaves to the
// boundary: negative numbers that normalising would keep, and a banner that
// must be readable text.
func checkPolicyInput(p core.Policy) error {
	if !utf8.ValidString(p.Banner) || strings.IndexFunc(p.Banner, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) >= 0 {
		return core.Errorf(core.KindInvalid, "the banner must be plain text without control characters")
	}
	if utf8.RuneCountInString(p.Banner) > 500 {
		return core.Errorf(core.KindInvalid, "the banner must be at most 500 characters")
	}
	if p.ResendCooldown.D() < 0 || p.ResendCooldown.D() > time.Hour {
		return core.Errorf(core.KindInvalid, "resend cooldown must be between 0s and 1h, not %s", p.ResendCooldown.D())
	}
	for _, l := range []struct {
		name string
		v    int
	}{
		{"code digits", p.CodeDigits}, {"max attempts", p.MaxAttempts}, {"max sends", p.MaxSends},
		{"history length", p.HistoryLength}, {"failure cap", p.FailureCap},
		{"sends per contact per hour", p.Limits.PerContactHour}, {"sends per destination per hour", p.Limits.PerDestinationHour},
		{"sends per technician per hour", p.Limits.PerTechnicianHour}, {"sends per tenant per day", p.Limits.PerTenantDay},
	} {
		if l.v < 0 || l.v > maxLimit {
			return core.Errorf(core.KindInvalid, "%s must be between 0 (the default) and %d, not %d", l.name, maxLimit, l.v)
		}
	}
	if p.Lifetime.D() < 0 || p.ShieldDuration.D() < 0 {
		return core.Errorf(core.KindInvalid, "durations cannot be negative")
	}
	return p.Validate()
}
