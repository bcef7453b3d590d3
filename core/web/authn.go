package web

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/auth"
)

// PasswordAuth signs technicians in through the engine with core/auth's
// rules: argon2id passwords, TOTP with replay protection, lockout. Every
// attempt on a known account is audited.
//
// A sign-in never hashes inside a transaction (on SQLite that held the one
// writer connection for the whole argon2 run, stalling every other write):
// it reads the technician, claims an attempt in one short write (the row
// locked, so parallel attempts are counted exactly), checks the password and
// code through the [auth.HashGate] outside any transaction, and records the
// result in a second short write (the row locked again, so a TOTP step is
// accepted once). An unknown tenant or email runs the same gate with a hash
// of the same cost and records nothing.
type PasswordAuth struct {
	// Engine reads the accounts and runs each step's write and audit
	// (core.Engine.SignInStep).
	Engine *core.Engine
	// Keys seals and opens TOTP secrets (core/secret's Keyring).
	Keys core.Sealer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// RequireTOTP makes a technician without TOTP enrol before getting a
	// session; false lets password-only technicians in (the demo).
	RequireTOTP bool
	// SkipRehash leaves hashes with old argon2 parameters as they are,
	// instead of re-hashing at sign-in. Tests set it to keep cheap hashes.
	SkipRehash bool
	// Gate bounds concurrent argon2 runs; nil means [DefaultHashGate].
	Gate *auth.HashGate
	// Lockout is the per-account lockout; the zero value means
	// auth.DefaultLockout.
	Lockout auth.Lockout
}

// DefaultHashGate is the gate of every PasswordAuth without its own, sized
// from this process's memory (auth.DefaultHashSlots), so that all sign-ins
// and password changes of a process share one bound.
var DefaultHashGate = sync.OnceValue(func() *auth.HashGate { return auth.NewHashGate(auth.DefaultHashSlots()) })

func (a *PasswordAuth) now() time.Time {
	if a.Now == nil {
		return time.Now().UTC()
	}
	return a.Now().UTC()
}

func (a *PasswordAuth) gate() *auth.HashGate {
	if a.Gate != nil {
		return a.Gate
	}
	return DefaultHashGate()
}

func (a *PasswordAuth) lockout() auth.Lockout {
	if a.Lockout == (auth.Lockout{}) {
		return auth.DefaultLockout
	}
	return a.Lockout
}

// msgLocked is the answer for a locked account (as core/auth words it).
const msgLocked = "account locked, try again later"

// Login implements Authenticator.
func (a *PasswordAuth) Login(ctx context.Context, tenantSlug, email, password, code string, forPod bool) (LoginResult, error) {
	now := a.now()
	lockout := a.lockout()
	gate := a.gate()

	// 1. Read.
	tenant, tech, err := a.Engine.SignInAccount(ctx, tenantSlug, email)
	if err != nil {
		return LoginResult{}, err
	}
	if tech == nil || tech.PasswordHash == "" {
		// Unknown tenant or email: the same gate and the same argon2 cost
		// as a known account, and the same answer.
		_, err := auth.Login(nil, auth.LoginInput{Password: password, Now: now, Check: a.check(ctx, gate)})
		return LoginResult{}, err
	}

	// 2. Claim the attempt before checking it.
	claimed, err := a.claim(ctx, tech.TenantID, tech.ID, now, lockout)
	if err != nil {
		return LoginResult{}, err
	}
	if claimed == nil {
		return LoginResult{}, core.Errorf(core.KindForbidden, msgLocked)
	}

	// 3. Check, outside any transaction.
	c := a.checkClaimed(ctx, *claimed, password, code, forPod, now, gate)

	// 4. Record the result.
	var outcome error
	cur, err := a.Engine.SignInStep(ctx, tech.TenantID, tech.ID, func(cur *core.Technician) (core.SignInChange, error) {
		outcome = c.record(cur, lockout, now, a.RequireTOTP)
		action := core.AuditTechnicianLogin
		if outcome != nil {
			action = core.AuditTechnicianLoginFailed
		}
		return core.SignInChange{Write: true, Action: action}, nil
	})
	if err != nil {
		return LoginResult{}, err
	}
	if outcome != nil {
		return LoginResult{}, outcome
	}
	out := LoginResult{Technician: cur}
	if c.res.NeedsTOTPEnrollment && a.RequireTOTP {
		out.EnrollSecret, out.EnrollURL, err = auth.NewTOTP("Countersign ("+tenant.Name+")", tech.Email)
		if err != nil {
			return LoginResult{}, err
		}
	}
	return out, nil
}

// loginCheck is what Login's check of a claimed attempt found, outside
// any transaction.
type loginCheck struct {
	res auth.LoginResult
	err error // auth.Login's answer
	// credentialsRight says password and code were right; userFault that
	// the attempt failed by the user's doing (and counts).
	credentialsRight, userFault bool
	rehash                      string // the password's new hash, when it needs one
}

// checkClaimed checks the attempt claimed (the row as the claim left it)
// outside any transaction. The snapshot is unlocked (the claim decided
// that) and its lockout never locks: the counting was done by the claim.
func (a *PasswordAuth) checkClaimed(ctx context.Context, claimed core.Technician, password, code string, forPod bool, now time.Time, gate *auth.HashGate) loginCheck {
	snap := claimed
	snap.LockedUntil = time.Time{}
	var c loginCheck
	c.res, c.err = auth.Login(&snap, auth.LoginInput{Password: password, Code: code, Now: now,
		LastTOTPStep: claimed.LastTOTPStep, Secrets: a.Keys, ForPod: forPod,
		Lockout: auth.Lockout{MaxFailures: -1}, Check: a.check(ctx, gate)})
	c.credentialsRight = snap.FailedLogins == 0 // auth.Login cleared it: password and code were right
	c.userFault = snap.FailedLogins > claimed.FailedLogins
	if c.credentialsRight && c.res.NeedsRehash && !a.SkipRehash {
		if h, err := gate.HashPassword(ctx, password); err == nil {
			c.rehash = h
		}
	}
	return c
}

// record applies the check to cur, the technician's row as it is now, and
// returns the sign-in's answer (nil for success).
func (c loginCheck) record(cur *core.Technician, lockout auth.Lockout, now time.Time, requireTOTP bool) error {
	outcome := c.err
	switch {
	case c.credentialsRight && c.res.TOTPStep != 0 && c.res.TOTPStep <= cur.LastTOTPStep:
		// Another sign-in accepted this code (or a later one) since we
		// read the row: a replay. Count it, unless our claim still
		// stands uncleared.
		outcome = core.Errorf(core.KindUnauthorized, "email, password or code is wrong")
		if cur.FailedLogins == 0 {
			lockout.RecordFailure(cur, now)
		}
	case c.credentialsRight:
		lockout.RecordSuccess(cur)
		if c.res.TOTPStep != 0 {
			cur.LastTOTPStep = c.res.TOTPStep
		}
		if c.rehash != "" {
			cur.PasswordHash = c.rehash
		}
		if c.err == nil && !(c.res.NeedsTOTPEnrollment && requireTOTP) {
			cur.LastLoginAt = now // enrolment finishes the others' sign-in
		}
	case !c.userFault && core.ErrorKind(c.err) != core.KindForbidden:
		// An internal fault (or the gate was full): not the user's
		// doing, so the claimed attempt is given back.
		lockout.Refund(cur)
	}
	return outcome
}

// check returns the password check Login runs, through gate.
func (a *PasswordAuth) check(ctx context.Context, gate *auth.HashGate) func(hash, pw string) (bool, error) {
	return func(hash, pw string) (bool, error) { return gate.CheckPassword(ctx, hash, pw) }
}

// claim counts one sign-in attempt on the technician's locked row and
// returns the row as claimed, or nil when the account is locked (that
// attempt is audited and changes nothing).
func (a *PasswordAuth) claim(ctx context.Context, tenantID, techID string, now time.Time, lockout auth.Lockout) (*core.Technician, error) {
	locked := false
	cur, err := a.Engine.SignInStep(ctx, tenantID, techID, func(cur *core.Technician) (core.SignInChange, error) {
		if locked = !lockout.Claim(cur, now); locked {
			return core.SignInChange{Action: core.AuditTechnicianLoginFailed, Detail: map[string]string{"reason": "locked"}}, nil
		}
		return core.SignInChange{Write: true}, nil
	})
	if err != nil || locked {
		return nil, err
	}
	return &cur, nil
}

// EnrollTOTP implements Authenticator: the first code proves the app
// holds the secret; only then is it sealed and stored.
func (a *PasswordAuth) EnrollTOTP(ctx context.Context, tenantID, techID, totpSecret, code string) (core.Technician, error) {
	now := a.now()
	step, ok := auth.MatchTOTP(totpSecret, strings.TrimSpace(code), now, 0)
	if !ok {
		return core.Technician{}, core.Errorf(core.KindInvalid, "that code does not match; check your device's clock and try the next code")
	}
	return a.Engine.SignInStep(ctx, tenantID, techID, func(tech *core.Technician) (core.SignInChange, error) {
		if tech.TOTPSecret != nil {
			return core.SignInChange{}, core.Errorf(core.KindConflict, "an authenticator is already enrolled; sign in with its code")
		}
		sealed, err := a.Keys.Seal([]byte(totpSecret), auth.TOTPAAD(tech.ID))
		if err != nil {
			return core.SignInChange{}, err
		}
		tech.TOTPSecret, tech.LastTOTPStep, tech.LastLoginAt = sealed, step, now
		return core.SignInChange{Write: true, Action: core.AuditTechnicianTOTPEnrolled}, nil
	})
}

// Interface guards.
var _ Authenticator = (*PasswordAuth)(nil)
