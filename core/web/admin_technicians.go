package web

import (
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
}

// roles lists the roles the console offers, most privileged first.
var roles = []core.Role{core.RoleOwner, core.RoleAdmin, core.RoleTechnician, core.RolePodOnly}

type technicianAdminOut struct {
	technicianOut
	TOTP      bool      `json:"totp"`   // an authenticator is enrolled
	Locked    bool      `json:"locked"` // locked out after failed sign-ins
	Self      bool      `json:"self"`   // the signed-in technician
	CreatedAt time.Time `json:"created_at"`
}

func (s *Server) technicianAdminJSON(r *http.Request, t core.Technician) technicianAdminOut {
	return technicianAdminOut{technicianOut: technicianJSON(t), TOTP: len(t.TOTPSecret) > 0,
		Locked: t.LockedUntil.After(s.engine.Now()), Self: t.ID == techFrom(r).ID, CreatedAt: t.CreatedAt}
}

// handleAdminListTechnicians handles "GET /api/v1/admin/technicians".
func (s *Server) handleAdminListTechnicians(w http.ResponseWriter, r *http.Request) {
	var techs []core.Technician
	err := s.store.View(r.Context(), func(tx core.Tx) error {
		var err error
		techs, err = tx.ListTechnicians(r.Context(), techFrom(r).TenantID)
		return err
	})
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
// it then returns as generated.
func passwordHash(pw string) (hash, generated string, err error) {
	if pw == "" {
		pw = newPassword()
		generated = pw
	}
	hash, err = auth.HashPassword(pw)
	return hash, generated, err
}

// checkRoleGrant refuses role changes the actor may not make: their own
// role (another owner or admin must do it, so nobody locks themselves out
// by mistake), and anything that grants or removes the owner role unless
// the actor is an owner.
func checkRoleGrant(actor core.Technician, target core.Technician, to core.Role) error {
	if to == target.Role {
		return nil
	}
	if actor.ID == target.ID {
		return core.Errorf(core.KindForbidden, "you cannot change your own role; ask another owner or admin")
	}
	if (to == core.RoleOwner || target.Role == core.RoleOwner) && actor.Role != core.RoleOwner {
		return core.Errorf(core.KindForbidden, "only an owner can grant or remove the owner role")
	}
	return nil
}

// checkOwnerKept refuses a change that would leave the tenant without an
// owner: techs is every technician, and targetID would get role to.
func checkOwnerKept(techs []core.Technician, targetID string, to core.Role) error {
	for _, t := range techs {
		role := t.Role
		if t.ID == targetID {
			role = to
		}
		if role == core.RoleOwner {
			return nil
		}
	}
	return core.Errorf(core.KindConflict, "this is the last owner; make someone else owner first")
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
	if role == core.RoleOwner && actor.Role != core.RoleOwner {
		s.writeError(w, r, core.Errorf(core.KindForbidden, "only an owner can grant or remove the owner role"))
		return
	}
	if in.Password != "" {
		if err := auth.ValidatePassword(in.Password); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	hash, generated, err := passwordHash(in.Password)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := core.Technician{ID: core.NewID("tec"), TenantID: actor.TenantID, Email: email, Name: in.Name, Role: role,
		PasswordHash: hash, CreatedAt: s.engine.Now()}
	err = s.adminUpdate(r, "technician.created", tech.ID, map[string]string{"email": email, "role": string(role)}, func(tx core.Tx) error {
		t := tech
		if err := tx.CreateTechnician(r.Context(), &t); err != nil {
			if core.ErrorKind(err) == core.KindConflict {
				return core.Errorf(core.KindConflict, "a technician with email %s already exists", email)
			}
			return err
		}
		return nil
	})
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
// request, since sessions re-read the technician each time.
func (s *Server) handleAdminUpdateTechnician(w http.ResponseWriter, r *http.Request) {
	var in updateTechnicianIn
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if in.Name == nil && in.Role == nil {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "send a new name or role"))
		return
	}
	ctx, actor, id := r.Context(), techFrom(r), pathVar(r, "id")
	var before core.Technician
	err := s.store.View(ctx, func(tx core.Tx) error {
		var err error
		before, err = tx.Technician(ctx, actor.TenantID, id)
		return err
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	after := before
	if in.Name != nil {
		after.Name = strings.TrimSpace(*in.Name)
		if after.Name == "" {
			s.writeError(w, r, core.Errorf(core.KindInvalid, "name is required"))
			return
		}
		if err := checkText("name", after.Name, 100); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if in.Role != nil {
		if after.Role, err = core.ParseRole(*in.Role); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if err := checkRoleGrant(actor, before, after.Role); err != nil {
		s.writeError(w, r, err)
		return
	}
	detail := map[string]string{"name": after.Name, "role": string(after.Role), "previous_role": string(before.Role)}
	err = s.adminUpdate(r, "technician.updated", id, detail, func(tx core.Tx) error {
		// Re-read under the audit lock: the checks above used what was
		// committed before it.
		cur, err := tx.Technician(ctx, actor.TenantID, id)
		if err != nil {
			return err
		}
		if cur.Role != before.Role || cur.Name != before.Name {
			return core.Errorf(core.KindConflict, "someone else changed this technician meanwhile; reload and try again")
		}
		techs, err := tx.ListTechnicians(ctx, actor.TenantID)
		if err != nil {
			return err
		}
		if err := checkOwnerKept(techs, id, after.Role); err != nil {
			return err
		}
		cur.Name, cur.Role = after.Name, after.Role
		return tx.UpdateTechnician(ctx, &cur)
	})
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
// which also lifts a sign-in lockout. Only an owner may reset an owner's.
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
	ctx, actor, id := r.Context(), techFrom(r), pathVar(r, "id")
	var target core.Technician
	err := s.store.View(ctx, func(tx core.Tx) error {
		var err error
		target, err = tx.Technician(ctx, actor.TenantID, id)
		return err
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if target.Role == core.RoleOwner && actor.Role != core.RoleOwner {
		s.writeError(w, r, core.Errorf(core.KindForbidden, "only an owner can reset an owner's password"))
		return
	}
	hash, generated, err := passwordHash(in.Password)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	err = s.adminUpdate(r, "technician.password_reset", id, nil, func(tx core.Tx) error {
		cur, err := tx.Technician(ctx, actor.TenantID, id)
		if err != nil {
			return err
		}
		if cur.Role == core.RoleOwner && actor.Role != core.RoleOwner {
			return core.Errorf(core.KindForbidden, "only an owner can reset an owner's password")
		}
		cur.PasswordHash, cur.FailedLogins, cur.LockedUntil = hash, 0, time.Time{}
		return tx.UpdateTechnician(ctx, &cur)
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := map[string]any{"status": "password changed"}
	if generated != "" {
		out["password"] = generated
	}
	writeJSON(w, http.StatusOK, out)
}
