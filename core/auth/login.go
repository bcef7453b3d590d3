package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/countersign/countersign/core"
)

// The messages of a refused sign-in. Every wrong email, password or code
// gets the same one, so the response never tells an attacker which part was
// right (security.md §8).
const (
	msgFailed = "email, password or code is wrong"
	msgLocked = "account locked, try again later"
)

// Opener opens a blob sealed by core/secret. *secret.Keyring implements it;
// declaring it here keeps this package free of key handling.
type Opener interface {
	Open(blob, aad []byte) ([]byte, error)
}

// LoginInput is one sign-in attempt.
type LoginInput struct {
	Password string
	// Code is the TOTP code as typed; "" fails for an enrolled technician.
	Code string
	// Now is the time of the attempt, for TOTP and lockout.
	Now time.Time
	// LastTOTPStep is the step of the technician's last accepted code; 0
	// means none. See [TOTPStep].
	LastTOTPStep int64
	// Secrets opens core.Technician.TOTPSecret, sealed with aad
	// [TOTPAAD](t.ID). Nil is fine only for technicians without TOTP.
	Secrets Opener
	// Lockout is the lockout policy; the zero value means [DefaultLockout].
	Lockout Lockout
	// ForPod says the sign-in is for a PSA pod, where pod-only accounts
	// may sign in; everywhere else they are refused.
	ForPod bool
	// Check checks a password against a hash; nil means [CheckPassword].
	// Servers pass [HashGate.CheckPassword] so that every argon2 run of a
	// sign-in, the dummy one included, is bounded. A core.KindUnavailable
	// error from it (the gate is full) is returned as it is.
	Check func(hash, pw string) (bool, error)
}

// LoginResult says what the caller must do after a successful sign-in.
type LoginResult struct {
	// TOTPStep is the step of the accepted code; store it as the
	// technician's last step so the code cannot be replayed. 0 when the
	// technician has no TOTP.
	TOTPStep int64
	// NeedsTOTPEnrollment is true when the technician has no TOTP secret
	// yet and was checked by password alone: the caller must complete
	// enrolment before granting a session.
	NeedsTOTPEnrollment bool
	// NeedsRehash is true when the stored hash uses old parameters; the
	// caller should store HashPassword of the password just checked.
	NeedsRehash bool
}

// Login checks a sign-in attempt for t, which is nil when no technician has
// the email given. It updates t.FailedLogins and t.LockedUntil; the caller
// persists t whether or not Login succeeds.
//
// Every wrong email, password or code returns a core.KindUnauthorized error
// with the same message, and an unknown email costs the same argon2 time as a
// known one (a hash of the same parameters, [CheckDummy]). A locked account returns core.KindForbidden.
// Internal faults (a corrupt hash, a TOTP secret that does not open) also
// look like a wrong password to the user; the returned error joins the cause
// for logs, while core.ErrorMessage still yields only the generic message.
func Login(t *core.Technician, in LoginInput) (LoginResult, error) {
	l := in.Lockout
	if l == (Lockout{}) {
		l = DefaultLockout
	}
	check := in.Check
	if check == nil {
		check = CheckPassword
	}
	if t == nil || t.PasswordHash == "" {
		if _, err := check(dummyHash(), in.Password); core.ErrorKind(err) == core.KindUnavailable {
			return LoginResult{}, err
		}
		return LoginResult{}, failed(nil)
	}
	if l.Locked(*t, in.Now) {
		// Still hash, so a locked account is not told apart by timing
		// before the message is read; the attempt does not extend the lock.
		if _, err := check(dummyHash(), in.Password); core.ErrorKind(err) == core.KindUnavailable {
			return LoginResult{}, err
		}
		return LoginResult{}, core.Errorf(core.KindForbidden, msgLocked)
	}

	ok, err := check(t.PasswordHash, in.Password)
	if core.ErrorKind(err) == core.KindUnavailable {
		return LoginResult{}, err
	}
	if err != nil {
		// Not the user's fault: refuse without counting a failure.
		return LoginResult{}, failed(fmt.Errorf("auth: login technician %s: %w", t.ID, err))
	}
	if !ok {
		l.RecordFailure(t, in.Now)
		return LoginResult{}, failed(nil)
	}

	var res LoginResult
	if t.TOTPSecret == nil {
		res.NeedsTOTPEnrollment = true
	} else {
		if in.Secrets == nil {
			return LoginResult{}, failed(fmt.Errorf("auth: login technician %s: no Opener for the TOTP secret", t.ID))
		}
		secret, err := in.Secrets.Open(t.TOTPSecret, TOTPAAD(t.ID))
		if err != nil {
			return LoginResult{}, failed(fmt.Errorf("auth: login technician %s: open totp secret: %w", t.ID, err))
		}
		step, ok := MatchTOTP(string(secret), in.Code, in.Now, in.LastTOTPStep)
		clear(secret)
		if !ok {
			l.RecordFailure(t, in.Now)
			return LoginResult{}, failed(nil)
		}
		res.TOTPStep = step
	}

	l.RecordSuccess(t)
	if t.Disabled() {
		// The credentials were right, so saying why reveals nothing.
		return LoginResult{}, core.Errorf(core.KindForbidden, "this account is disabled; ask your admin to re-enable it")
	}
	if t.Role == core.RolePodOnly && !in.ForPod {
		// The credentials were right, so saying why reveals nothing.
		return LoginResult{}, core.Errorf(core.KindForbidden, "pod-only accounts cannot sign in to the console")
	}
	res.NeedsRehash = NeedsRehash(t.PasswordHash)
	return res, nil
}

// failed returns the generic sign-in error, joined with cause when there is
// an internal fault worth logging.
func failed(cause error) error {
	err := core.Errorf(core.KindUnauthorized, msgFailed)
	if cause == nil {
		return err
	}
	return errors.Join(err, cause)
}
