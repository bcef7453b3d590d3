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

// DefaultLockout locks for 1 minute after 5 failures. The lock is short and
// clears itself so that a few requests from anyone who knows a technician's
// email cannot keep that technician out for long; sustained guessing is held
// back by the per-address and per-tenant throttles ([Throttle]) in front of
// it, and every guess also needs a valid TOTP code.
var DefaultLockout = Lockout{MaxFailures: 5, Duration: time.Minute}

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

// Claim counts an attempt before its password is checked and reports whether
// it may be checked at all (false: t is locked). Counting first is what
// keeps the count exact under parallel attempts: with the row locked while
// claiming, the MaxFailures-th claim locks the account and every later one is
// refused, however many arrive at once. A successful check then clears the
// count with [Lockout.RecordSuccess]; a check that could not run (an
// internal fault) gives the attempt back with [Lockout.Refund].
func (l Lockout) Claim(t *core.Technician, now time.Time) bool {
	if l.Locked(*t, now) {
		return false
	}
	l.RecordFailure(t, now)
	return true
}

// Refund takes back one claimed attempt, and the lock it may have set.
func (l Lockout) Refund(t *core.Technician) {
	if t.FailedLogins > 0 {
		t.FailedLogins--
	}
	if l.MaxFailures <= 0 || t.FailedLogins < l.MaxFailures {
		t.LockedUntil = time.Time{}
	}
}
