package web

import (
	"context"
	"crypto/rand"
	"net/http"
	"strings"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/auth"
	"github.com/gorilla/mux"
)

func (s *Server) registerAdminTechnicianRoutes(r *mux.Router) {
	r.HandleFunc("/technicians", s.handleAdminListTechnicians).Methods(http.MethodGet)
	r.HandleFunc("/technicians", s.handleAdminCreateTechnician).Methods(http.MethodPost)
	r.HandleFunc("/technicians/{id}", s.handleAdminUpdateTechnician).Methods(http.MethodPut)
	r.HandleFunc("/technicians/{id}/password", s.handleAdminResetPassword).Methods(http.MethodPost)
	r.HandleFunc("/technicians/{id}/totp", s.handleAdminResetTOTP).Methods(http.MethodDelete)
	r.HandleFunc("/technicians/{id}/disable", s.handleAdminSetDisabled(true)).Methods(http.MethodPost)
	r.HandleFunc("/technicians/{id}/enable", s.handleAdminSetDisabled(false)).Methods(http.MethodPost)
	r.HandleFunc("/technicians/{id}/signout", s.handleAdminSignOut).Methods(http.MethodPost)
}

// roles lists the roles the console offers, most privileged first.
var roles = []core.Role{core.RoleOwner, core.RoleAdmin, core.RoleTechnician, core.RolePodOnly}

type technicianAdminOut struct {
	technicianOut
	TOTP      bool       `json:"totp"`     // an authenticator is enrolled
	Locked    bool       `json:"locked"`   // locked out after failed sign-ins
	Disabled  bool       `json:"disabled"` // disabled by an admin
	Self      bool       `json:"self"`     // the signed-in technician
	CreatedAt time.Time  `json:"created_at"`
	LastLogin *time.Time `json:"last_login_at"` // null: never signed in
}

func (s *Server) technicianAdminJSON(r *http.Request, t core.Technician) technicianAdminOut {
	out := technicianAdminOut{technicianOut: technicianJSON(t), TOTP: len(t.TOTPSecret) > 0,
		Locked: t.LockedUntil.After(s.engine.Now()), Disabled: t.Disabled(), Self: t.ID == techFrom(r).ID, CreatedAt: t.CreatedAt}
	if !t.LastLoginAt.IsZero() {
		at := t.LastLoginAt
		out.LastLogin = &at
	}
	return out
}

// handleAdminListTechnicians handles "GET /api/v1/admin/technicians".
func (s *Server) handleAdminListTechnicians(w http.ResponseWriter, r *http.Request) {
	techs, err := s.engine.Technicians(r.Context(), techFrom(r).TenantID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]technicianAdminOut, 0, len(techs))
	for _, t := range techs {
		out = append(out, s.technicianAdminJSON(r, t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"technicians": out, "roles": roles, "me": technicianJSON(techFrom(r))})
}

// newPassword returns a temporary password (26 base32 characters, 130
// bits) for an admin to hand over once.
func newPassword() string { return rand.Text() }

// passwordHash hashes pw, or a new temporary password when pw is "", which
// it then returns as generated. It shares the sign-in's hash gate, so that
// admin requests cannot add argon2 runs beyond its bound.
func passwordHash(ctx context.Context, pw string) (hash, generated string, err error) {
	if pw == "" {
		pw = newPassword()
		generated = pw
	}
	hash, err = DefaultHashGate().HashPassword(ctx, pw)
	return hash, generated, err
}

type createTechnicianIn struct {
	Email    string `json:"email"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	Password string `json:"password"` // "" generates a temporary one
}

// handleAdminCreateTechnician handles "POST /api/v1/admin/technicians". The
// answer holds the temporary password when one was generated: it is shown
// this once and stored only as a hash.
func (s *Server) handleAdminCreateTechnician(w http.ResponseWriter, r *http.Request) {
	var in createTechnicianIn
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	actor := techFrom(r)
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || strings.TrimSpace(in.Email) == "" || in.Role == "" {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "email, name and role are required"))
		return
	}
	if err := checkText("name", in.Name, 100); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(in.Email) > 320 {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "email must be at most 320 characters"))
		return
	}
	email, err := core.NormalizeEmail(in.Email)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	role, err := core.ParseRole(in.Role)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if in.Password != "" {
		if err := auth.ValidatePassword(in.Password); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	hash, generated, err := passwordHash(r.Context(), in.Password)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tech, err := s.engine.CreateTechnician(r.Context(), actor, core.Technician{Email: email, Name: in.Name, Role: role, PasswordHash: hash})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := map[string]any{"technician": s.technicianAdminJSON(r, tech)}
	if generated != "" {
		out["password"] = generated
	}
	writeJSON(w, http.StatusCreated, out)
}

type updateTechnicianIn struct {
	Name *string `json:"name"`
	Role *string `json:"role"`
}

// handleAdminUpdateTechnician handles "PUT /api/v1/admin/technicians/{id}":
// a new name and/or role. The change applies to the technician's next
// request on every node (the cache of signed-in technicians drops it).
func (s *Server) handleAdminUpdateTechnician(w http.ResponseWriter, r *http.Request) {
	var in updateTechnicianIn
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	var change core.TechnicianChange
	if in.Name != nil {
		name := strings.TrimSpace(*in.Name)
		if name == "" {
			s.writeError(w, r, core.Errorf(core.KindInvalid, "name is required"))
			return
		}
		if err := checkText("name", name, 100); err != nil {
			s.writeError(w, r, err)
			return
		}
		change.Name = &name
	}
	if in.Role != nil {
		role, err := core.ParseRole(*in.Role)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		change.Role = &role
	}
	after, err := s.engine.UpdateTechnician(r.Context(), techFrom(r), pathVar(r, "id"), change)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"technician": s.technicianAdminJSON(r, after)})
}

type resetPasswordIn struct {
	Password string `json:"password"` // "" generates a temporary one
}

// handleAdminResetPassword handles "POST /api/v1/admin/technicians/{id}/password":
// a new password (generated when none is given, and then returned once),
// which also lifts a sign-in lockout and ends the technician's sessions.
// Only an owner may reset an owner's.
func (s *Server) handleAdminResetPassword(w http.ResponseWriter, r *http.Request) {
	var in resetPasswordIn
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if in.Password != "" {
		if err := auth.ValidatePassword(in.Password); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	hash, generated, err := passwordHash(r.Context(), in.Password)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.engine.ResetTechnicianPassword(r.Context(), techFrom(r), pathVar(r, "id"), hash); err != nil {
		s.writeError(w, r, err)
		return
	}
	out := map[string]any{"status": "password changed"}
	if generated != "" {
		out["password"] = generated
	}
	writeJSON(w, http.StatusOK, out)
}

// handleAdminResetTOTP handles "DELETE /api/v1/admin/technicians/{id}/totp":
// the technician's authenticator is removed, every session ends, and the
// next sign-in enrols a new one.
func (s *Server) handleAdminResetTOTP(w http.ResponseWriter, r *http.Request) {
	if err := s.engine.ResetTechnicianTOTP(r.Context(), techFrom(r), pathVar(r, "id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "authenticator removed; the next sign-in enrols a new one"})
}

// handleAdminSetDisabled handles "POST /api/v1/admin/technicians/{id}/disable"
// (every session of the technician ends at once, live sockets included) and
// ".../enable".
func (s *Server) handleAdminSetDisabled(disabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tech, err := s.engine.SetTechnicianDisabled(r.Context(), techFrom(r), pathVar(r, "id"), disabled)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"technician": s.technicianAdminJSON(r, tech)})
	}
}

// handleAdminSignOut handles "POST /api/v1/admin/technicians/{id}/signout":
// every session of the technician ends, on every node.
func (s *Server) handleAdminSignOut(w http.ResponseWriter, r *http.Request) {
	if err := s.engine.SignOutTechnician(r.Context(), techFrom(r), pathVar(r, "id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "signed out everywhere"})
}
