package auth

import (
	"time"

	"github.com/countersign/countersign/core"
)

// Lockout locks a technician out after repeated failed sign-ins. Its methods
// are pure: they read the clock from their argument and change only
// FailedLogins and LockedUntil, which the caller persists.
type Lockout struct {
	// MaxFailures is how many failures in a row lock the account; 0 or
	// less means never lock.
	MaxFailures int
	// Duration is how long a lock lasts.
	Duration time.Duration
}

// DefaultLockout locks for 15 minutes after 5 failures: a slip of the
// fingers never locks anyone, and online guessing is held to about 480 tries
// a day per account, each of which also needs a valid TOTP code.
var DefaultLockout = Lockout{MaxFailures: 5, Duration: 15 * time.Minute}

// Locked reports whether t is locked at now.
func (l Lockout) Locked(t core.Technician, now time.Time) bool {
	return !t.LockedUntil.IsZero() && now.Before(t.LockedUntil)
}

// RecordFailure counts a failed sign-in and locks t when it reaches
// MaxFailures. A lock that has run out is cleared first, so each lock period
// is followed by a fresh set of MaxFailures tries.
func (l Lockout) RecordFailure(t *core.Technician, now time.Time) {
	if !t.LockedUntil.IsZero() && !now.Before(t.LockedUntil) {
		t.LockedUntil = time.Time{}
		t.FailedLogins = 0
	}
	t.FailedLogins++
	if l.MaxFailures > 0 && t.FailedLogins >= l.MaxFailures {
		t.LockedUntil = now.Add(l.Duration)
	}
}

// RecordSuccess clears the failure count and any lock after a successful
// sign-in.
func (l Lockout) RecordSuccess(t *core.Technician) {
	t.FailedLogins = 0
	t.LockedUntil = time.Time{}
}
