package core

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Self-serve password reset (issue 17.3): a tenant-wide switch that
// overrides everything when off, and a per-user switch (default off) that
// is set in bulk or at import. A user's self-serve is active only when both
// are on and the user's e-mail and mobile are known.

// SelfServeSettings are a tenant's self-serve switches.
type SelfServeSettings struct {
	TenantID string
	// Enabled is the tenant-wide switch: off, no user of the tenant can
	// reset or unlock by themselves, whatever their own switch says.
	Enabled bool
	// NewUsersOn is the import-time choice: users a harvester reports for
	// the first time get their switch on.
	NewUsersOn bool
	UpdatedBy  string
	UpdatedAt  time.Time
}

// SelfServeStatus is how far a user has come with self-serve.
type SelfServeStatus string

// Self-serve statuses (seed 004).
const (
	// SelfServeNotRegistered: the user has not confirmed their mobile.
	SelfServeNotRegistered SelfServeStatus = ""
	// SelfServeRegistered: "Registration Complete" — the user confirmed
	// their mobile number from the welcome e-mail.
	SelfServeRegistered SelfServeStatus = "registration_complete"
	// SelfServeAccessed: "Accessed Self-Serve" — the user has used the
	// reset or unlock page.
	SelfServeAccessed SelfServeStatus = "accessed_self_serve"
)

// SelfServeUser is a directory user's own switch and status.
type SelfServeUser struct {
	TenantID  string
	ClientID  string
	GUID      string
	Enabled   bool
	Status    SelfServeStatus
	ChangedBy string
	ChangedAt time.Time
}

// SelfServeTx is the part of a transaction that holds self-serve switches.
type SelfServeTx interface {
	// SelfServeSettings returns the tenant's switches; both are off for a
	// tenant that never saved them.
	SelfServeSettings(ctx context.Context, tenantID string) (SelfServeSettings, error)
	PutSelfServeSettings(ctx context.Context, s *SelfServeSettings) error
	// SelfServeUsers returns the switches of a client's users that have one.
	SelfServeUsers(ctx context.Context, tenantID, clientID string) ([]SelfServeUser, error)
	// PutSelfServeUser creates or replaces the switch of (tenant, client, GUID).
	PutSelfServeUser(ctx context.Context, u *SelfServeUser) error
}

// maxSelfServeBatch bounds one bulk switch.
const maxSelfServeBatch = 10_000

// SelfServeState is a user's self-serve as the console shows it.
type SelfServeState struct {
	Enabled bool // the user's own switch
	Status  SelfServeStatus
	// Active: the tenant's switch and the user's are on, and the user's
	// e-mail and mobile are known (from the directory or the bound contact).
	Active bool
	// Missing says what keeps an enabled user from being active: "tenant"
	// (the tenant-wide switch is off), "email", "mobile", "locked" (too
	// many wrong codes in a row: an admin clears it, or a technician
	// unlocks the account after verifying the caller).
	Missing []string
	// LockedOut: the user's consecutive failures reached the cap.
	LockedOut bool
}

// selfServeState works out a user's state from the switches and what is
// known of the user: the directory's mail and mobile, or the e-mail and
// phones of the contact the user is bound to (nil when none).
func selfServeState(set SelfServeSettings, own SelfServeUser, u DirectoryUser, bound *Contact, locked bool) SelfServeState {
	st := SelfServeState{Enabled: own.Enabled, Status: own.Status, LockedOut: locked}
	hasEmail, hasMobile := u.Mail != "" || len(u.ProxyAddresses) > 0, u.MobileE164 != ""
	if bound != nil {
		for _, d := range bound.Destinations {
			switch d.Kind {
			case DestEmail:
				hasEmail = true
			case DestPhone:
				hasMobile = true
			}
		}
	}
	if !set.Enabled {
		st.Missing = append(st.Missing, "tenant")
	}
	if !hasEmail {
		st.Missing = append(st.Missing, "email")
	}
	if !hasMobile {
		st.Missing = append(st.Missing, "mobile")
	}
	if locked {
		st.Missing = append(st.Missing, "locked")
	}
	st.Active = own.Enabled && len(st.Missing) == 0
	return st
}

// SelfServeSettings returns the tenant's self-serve switches.
func (e *Engine) SelfServeSettings(ctx context.Context, tenantID string) (SelfServeSettings, error) {
	var s SelfServeSettings
	err := e.cfg.Store.View(ctx, func(tx Tx) (err error) {
		s, err = tx.SelfServeSettings(ctx, tenantID)
		return err
	})
	return s, err
}

// PutSelfServeSettings saves the tenant's switches, audited in the same
// transaction.
func (e *Engine) PutSelfServeSettings(ctx context.Context, tenantID, actor string, s SelfServeSettings) (SelfServeSettings, error) {
	s.TenantID, s.UpdatedBy, s.UpdatedAt = tenantID, actor, e.Now()
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		prev, err := tx.SelfServeSettings(ctx, tenantID)
		if err != nil {
			return err
		}
		if err := tx.PutSelfServeSettings(ctx, &s); err != nil {
			return err
		}
		return e.audit(ctx, tx, tenantID, actor, AuditSelfServeSettings, tenantID, map[string]string{
			"enabled": boolText(s.Enabled), "new_users_on": boolText(s.NewUsersOn),
			"was_enabled": boolText(prev.Enabled), "was_new_users_on": boolText(prev.NewUsersOn),
		})
	})
	return s, err
}

// SetSelfServe turns the self-serve switch of directory users of a client
// on or off: every GUID must be a user on record for the client, and all
// change or none. Each user whose switch changes is audited.
func (e *Engine) SetSelfServe(ctx context.Context, tenantID, actor, clientID string, guids []string, on bool) (changed int, err error) {
	if len(guids) == 0 {
		return 0, Errorf(KindInvalid, "choose at least one user")
	}
	if len(guids) > maxSelfServeBatch {
		return 0, Errorf(KindInvalid, "at most %d users at once", maxSelfServeBatch)
	}
	err = e.cfg.Store.Update(ctx, func(tx Tx) error {
		changed = 0
		users, err := tx.DirectoryUsers(ctx, tenantID, clientID)
		if err != nil {
			return err
		}
		byGUID := make(map[string]DirectoryUser, len(users))
		for _, u := range users {
			byGUID[u.GUID] = u
		}
		owns, err := tx.SelfServeUsers(ctx, tenantID, clientID)
		if err != nil {
			return err
		}
		own := make(map[string]SelfServeUser, len(owns))
		for _, o := range owns {
			own[o.GUID] = o
		}
		now := e.Now()
		action := AuditSelfServeDisabled
		if on {
			action = AuditSelfServeEnabled
		}
		for _, g := range guids {
			u, ok := byGUID[g]
			if !ok {
				return Errorf(KindNotFound, "directory user %s is not on record for this client", g)
			}
			o, had := own[g]
			if had && o.Enabled == on {
				continue
			}
			if !had {
				o = SelfServeUser{TenantID: tenantID, ClientID: clientID, GUID: g}
			}
			o.Enabled, o.ChangedBy, o.ChangedAt = on, actor, now
			if err := tx.PutSelfServeUser(ctx, &o); err != nil {
				return err
			}
			own[g] = o
			changed++
			if err := e.audit(ctx, tx, tenantID, actor, action, u.SID, map[string]string{
				"guid": g, "client": clientID, "account": u.SAMAccountName,
			}); err != nil {
				return err
			}
		}
		return nil
	})
	return changed, err
}

// importSelfServe applies the import-time choice to users a harvester
// reports for the first time.
func (e *Engine) importSelfServe(ctx context.Context, tx Tx, d Device, set SelfServeSettings, added []DirectoryUser) error {
	if !set.NewUsersOn {
		return nil
	}
	now := e.Now()
	for _, u := range added {
		if err := tx.PutSelfServeUser(ctx, &SelfServeUser{TenantID: d.TenantID, ClientID: d.ClientID, GUID: u.GUID,
			Enabled: true, ChangedBy: deviceActor(d.ID), ChangedAt: now}); err != nil {
			return err
		}
	}
	if len(added) == 0 {
		return nil
	}
	return e.audit(ctx, tx, d.TenantID, deviceActor(d.ID), AuditSelfServeEnabled, d.ClientID, map[string]string{
		"imported": strconv.Itoa(len(added)), "client": d.ClientID, "device": d.ID,
	})
}

// ClearSelfServeLockout lets a user of client whom too many wrong codes
// locked out of the self-serve page use it again, audited with actor. It
// is an admin's decision, typically after speaking to the user; the user
// must be one the directory has.
func (e *Engine) ClearSelfServeLockout(ctx context.Context, tenantID, actor, clientID, guid string) error {
	return e.cfg.Store.Update(ctx, func(tx Tx) error {
		users, err := tx.DirectoryUsers(ctx, tenantID, clientID)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(users, func(u DirectoryUser) bool { return u.GUID == guid }) {
			return Errorf(KindNotFound, "the directory has no such user for this client")
		}
		n, err := tx.SelfServeFailures(ctx, tenantID, clientID, guid)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if err := tx.SetSelfServeFailures(ctx, tenantID, clientID, guid, 0, e.Now()); err != nil {
			return err
		}
		return e.audit(ctx, tx, tenantID, actor, AuditSelfServeLockoutCleared, guid,
			map[string]string{"client": clientID, "failures": fmt.Sprint(n)})
	})
}
