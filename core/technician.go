package core

import "time"

// Role is what a technician may do.
type Role string

// Roles, from most to least privileged. A pod-only technician exists only to
// act from inside a PSA pod and cannot sign in to the console.
const (
	RoleOwner      Role = "owner"
	RoleAdmin      Role = "admin"
	RoleTechnician Role = "technician"
	RolePodOnly    Role = "pod-only"
)

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleOwner, RoleAdmin, RoleTechnician, RolePodOnly:
		return r, nil
	}
	return "", Errorf(KindInvalid, "unknown role %q (want owner, admin, technician or pod-only)", s)
}

// IsAdmin reports whether r may change tenant settings.
func (r Role) IsAdmin() bool { return r == RoleOwner || r == RoleAdmin }

// Technician is an MSP user.
type Technician struct {
	ID           string
	TenantID     string
	Email        string
	Name         string
	Role         Role
	PasswordHash string // argon2id, PHC string format; "" means no password sign-in
	TOTPSecret   []byte // encrypted at rest; nil means TOTP not enrolled
	LastTOTPStep int64  // time step of the last accepted TOTP code, refused if replayed; 0 means none
	FailedLogins int
	LockedUntil  time.Time // zero means not locked
	CreatedAt    time.Time
	// DisabledAt is when an admin disabled the technician; zero means
	// enabled. A disabled technician cannot sign in and has no session.
	DisabledAt time.Time
	// SessionEpoch is stamped into every session granted; raising it ends
	// every session (console, pods, live sockets) granted before.
	SessionEpoch int64
	// LastLoginAt is the last successful sign-in; zero means never.
	LastLoginAt time.Time
}

// Disabled reports whether an admin disabled t.
func (t Technician) Disabled() bool { return !t.DisabledAt.IsZero() }
