package core

import (
	"context"
	"time"
)

// Why a technician's sessions ended, as the technician's page shows it.
const (
	signedOutDisabled = "An admin disabled your account; ask them to re-enable it."
	signedOutPassword = "An admin reset your password; sign in again with the new one."
	signedOutTOTP     = "An admin reset your authenticator; sign in again to enrol a new one."
	signedOutAdmin    = "An admin signed you out everywhere; sign in again."
)

// CheckRoleGrant refuses role changes actor may not make: their own role
// (another owner or admin must do it, so nobody locks themselves out by
// mistake), and anything that grants or removes the owner role unless actor
// is an owner.
func CheckRoleGrant(actor, target Technician, to Role) error {
	if to == target.Role {
		return nil
	}
	if actor.ID == target.ID {
		return Errorf(KindForbidden, "you cannot change your own role; ask another owner or admin")
	}
	if (to == RoleOwner || target.Role == RoleOwner) && actor.Role != RoleOwner {
		return Errorf(KindForbidden, "only an owner can grant or remove the owner role")
	}
	return nil
}

// checkOwnerKept refuses a change that would leave the tenant without an
// enabled owner: techs is every technician, and target would become after.
func checkOwnerKept(techs []Technician, after Technician) error {
	for _, t := range techs {
		if t.ID == after.ID {
			t = after
		}
		if t.Role == RoleOwner && !t.Disabled() {
			return nil
		}
	}
	return Errorf(KindConflict, "this is the last enabled owner; make someone else owner first")
}

// CreateTechnician stores a new technician of actor's tenant, with its
// audit, and returns it as stored. t.PasswordHash is the hash of the first
// password (the caller hashes, so core holds no password rules). A second
// technician with the same email is ErrConflict.
func (e *Engine) CreateTechnician(ctx context.Context, actor Technician, t Technician) (Technician, error) {
	if t.Role == RoleOwner && actor.Role != RoleOwner {
		return Technician{}, Errorf(KindForbidden, "only an owner can grant or remove the owner role")
	}
	if t.ID == "" {
		t.ID = NewID("tec")
	}
	t.TenantID, t.CreatedAt = actor.TenantID, e.Now()
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		if err := tx.CreateTechnician(ctx, &t); err != nil {
			if ErrorKind(err) == KindConflict {
				return Errorf(KindConflict, "a technician with email %s already exists", t.Email)
			}
			return err
		}
		return e.audit(ctx, tx, actor.TenantID, techActor(actor.ID), AuditTechnicianCreated, t.ID,
			map[string]string{"email": t.Email, "role": string(t.Role)})
	})
	if err != nil {
		return Technician{}, err
	}
	return t, nil
}

// TechnicianChange is an admin's edit of a technician; nil fields stay.
type TechnicianChange struct {
	Name *string
	Role *Role
}

// UpdateTechnician applies an admin's change of name and/or role, checked
// against the role rules and the last owner in the same transaction. The
// change applies to the technician's next request, on every node: the
// published EventTechnicianChanged drops the technician from the caches of
// signed-in technicians, and the publisher's Barrier waits for the other
// nodes to have heard of it.
func (e *Engine) UpdateTechnician(ctx context.Context, actor Technician, id string, c TechnicianChange) (Technician, error) {
	if c.Name == nil && c.Role == nil {
		return Technician{}, Errorf(KindInvalid, "send a new name or role")
	}
	return e.changeTechnician(ctx, actor, id, func(tx Tx, cur *Technician) (techEdit, error) {
		before := *cur
		if c.Name != nil {
			cur.Name = *c.Name
		}
		if c.Role != nil {
			cur.Role = *c.Role
		}
		if err := CheckRoleGrant(actor, before, cur.Role); err != nil {
			return techEdit{}, err
		}
		if err := e.ownerKept(ctx, tx, before, *cur); err != nil {
			return techEdit{}, err
		}
		return techEdit{action: AuditTechnicianUpdated, detail: map[string]string{"name": cur.Name, "role": string(cur.Role), "previous_role": string(before.Role)}}, nil
	})
}

// ResetTechnicianPassword sets a new password hash, lifts a sign-in
// lockout and ends every session of the technician. Only an owner may reset
// an owner's password.
func (e *Engine) ResetTechnicianPassword(ctx context.Context, actor Technician, id, hash string) error {
	if hash == "" {
		return Errorf(KindInvalid, "a password reset needs a new password")
	}
	_, err := e.changeTechnician(ctx, actor, id, func(_ Tx, cur *Technician) (techEdit, error) {
		if cur.Role == RoleOwner && actor.Role != RoleOwner {
			return techEdit{}, Errorf(KindForbidden, "only an owner can reset an owner's password")
		}
		cur.PasswordHash, cur.FailedLogins, cur.LockedUntil = hash, 0, time.Time{}
		return techEdit{action: AuditTechnicianPasswordReset, signOut: signedOutPassword}, nil
	})
	return err
}

// ResetTechnicianTOTP removes the technician's authenticator, so that the
// next sign-in enrols a new one, and ends every session. Only an owner may
// reset an owner's.
func (e *Engine) ResetTechnicianTOTP(ctx context.Context, actor Technician, id string) error {
	_, err := e.changeTechnician(ctx, actor, id, func(_ Tx, cur *Technician) (techEdit, error) {
		if cur.Role == RoleOwner && actor.Role != RoleOwner {
			return techEdit{}, Errorf(KindForbidden, "only an owner can reset an owner's authenticator")
		}
		if cur.TOTPSecret == nil {
			return techEdit{}, Errorf(KindConflict, "%s has no authenticator enrolled", cur.Name)
		}
		cur.TOTPSecret, cur.LastTOTPStep = nil, 0
		return techEdit{action: AuditTechnicianTOTPReset, signOut: signedOutTOTP}, nil
	})
	return err
}

// SetTechnicianDisabled disables (and ends every session of) or re-enables
// a technician. Nobody disables themselves, only an owner disables an
// owner, and the last enabled owner stays enabled.
func (e *Engine) SetTechnicianDisabled(ctx context.Context, actor Technician, id string, disabled bool) (Technician, error) {
	return e.changeTechnician(ctx, actor, id, func(tx Tx, cur *Technician) (techEdit, error) {
		if disabled == cur.Disabled() {
			state := map[bool]string{true: "disabled", false: "enabled"}[disabled]
			return techEdit{}, Errorf(KindConflict, "%s is already %s", cur.Name, state)
		}
		if !disabled {
			cur.DisabledAt = time.Time{}
			return techEdit{action: AuditTechnicianEnabled}, nil
		}
		switch {
		case cur.ID == actor.ID:
			return techEdit{}, Errorf(KindForbidden, "you cannot disable yourself; ask another owner or admin")
		case cur.Role == RoleOwner && actor.Role != RoleOwner:
			return techEdit{}, Errorf(KindForbidden, "only an owner can disable an owner")
		}
		before := *cur
		cur.DisabledAt = e.Now()
		if err := e.ownerKept(ctx, tx, before, *cur); err != nil {
			return techEdit{}, err
		}
		return techEdit{action: AuditTechnicianDisabled, signOut: signedOutDisabled}, nil
	})
}

// SignOutTechnician ends every session of a technician (console, pods and
// live sockets, on every node) without changing anything else.
func (e *Engine) SignOutTechnician(ctx context.Context, actor Technician, id string) error {
	_, err := e.changeTechnician(ctx, actor, id, func(_ Tx, cur *Technician) (techEdit, error) {
		if cur.Role == RoleOwner && actor.Role != RoleOwner {
			return techEdit{}, Errorf(KindForbidden, "only an owner can sign out an owner")
		}
		return techEdit{action: AuditTechnicianSignedOut, signOut: signedOutAdmin}, nil
	})
	return err
}

// techEdit is what a change of a technician writes besides the row: its
// audit action and detail and, when signOut says why, the end of every
// session granted before.
type techEdit struct {
	action  string
	detail  map[string]string
	signOut string
}

// changeTechnician re-reads technician id of actor's tenant in a write
// transaction, lets fn change it and name the audit action, writes both, and
// after the commit announces the end of the technician's sessions when
// the edit signs them out.
func (e *Engine) changeTechnician(ctx context.Context, actor Technician, id string,
	fn func(tx Tx, cur *Technician) (techEdit, error)) (Technician, error) {
	var (
		cur  Technician
		edit techEdit
	)
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		var err error
		if cur, err = tx.Technician(ctx, actor.TenantID, id); err != nil {
			return err
		}
		if edit, err = fn(tx, &cur); err != nil {
			return err
		}
		if edit.signOut != "" {
			// Sessions carry the epoch they were granted in; a raised
			// epoch ends them all, on every node, at their next request.
			cur.SessionEpoch++
		}
		if err := tx.UpdateTechnician(ctx, &cur); err != nil {
			return err
		}
		return e.audit(ctx, tx, actor.TenantID, techActor(actor.ID), edit.action, cur.ID, edit.detail)
	})
	if err != nil {
		return Technician{}, err
	}
	if edit.signOut != "" {
		// Live sockets are long-lived requests: tell them now.
		e.publish(ctx, Event{Type: EventTechnicianSignedOut, TenantID: cur.TenantID, TechnicianID: cur.ID,
			Reason: edit.signOut, At: e.Now()})
	} else {
		// A role or name change applies to the next request too: caches
		// of signed-in technicians (core/web) drop the old row.
		e.publish(ctx, Event{Type: EventTechnicianChanged, TenantID: cur.TenantID, TechnicianID: cur.ID, At: e.Now()})
	}
	// This node's cache dropped the technician synchronously; wait until
	// the others have too, so that the technician's next request, on any
	// node, finds the change applied.
	if b, ok := e.cfg.Publisher.(Barrier); ok {
		if err := b.Barrier(ctx); err != nil {
			e.log.Warn("core: a technician's change may reach some nodes late (their caches drop it within the TTL at worst)",
				"technician", cur.ID, "err", err)
		}
	}
	return cur, nil
}

// ownerKept checks, in tx, that changing an enabled owner (before) into
// after leaves the tenant an enabled owner. A change of anyone else cannot
// take the last one away (and a tenant set up without owners keeps working).
func (e *Engine) ownerKept(ctx context.Context, tx Tx, before, after Technician) error {
	if before.Role != RoleOwner || before.Disabled() {
		return nil
	}
	techs, err := tx.ListTechnicians(ctx, after.TenantID)
	if err != nil {
		return err
	}
	return checkOwnerKept(techs, after)
}
