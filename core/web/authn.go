package web

import (
	"context"
	"strings"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/auth"
)

// PasswordAuth signs technicians in against the store with core/auth's
// rules: argon2id passwords, TOTP with replay protection, lockout. Every
// attempt on a known account is audited.
type PasswordAuth struct {
	Store core.Store
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
}

func (a *PasswordAuth) now() time.Time {
	if a.Now == nil {
		return time.Now().UTC()
	}
	return a.Now().UTC()
}

// Login implements Authenticator.
func (a *PasswordAuth) Login(ctx context.Context, tenantSlug, email, password, code string, forPod bool) (LoginResult, error) {
	var (
		out      LoginResult
		loginErr error
	)
	err := a.Store.Update(ctx, func(tx core.Tx) error {
		tenant, err := tx.TenantBySlug(ctx, tenantSlug)
		if err != nil && core.ErrorKind(err) != core.KindNotFound {
			return err
		}
		var tech *core.Technician
		if err == nil {
			t, err := tx.TechnicianByEmail(ctx, tenant.ID, strings.ToLower(email))
			switch {
			case err == nil:
				tech = &t
			case core.ErrorKind(err) != core.KindNotFound:
				return err
			}
		}
		var before core.Technician
		if tech != nil {
			before = *tech
		}
		res, err := auth.Login(tech, auth.LoginInput{Password: password, Code: code, Now: a.now(),
			LastTOTPStep: lastStep(tech), Secrets: a.Keys, ForPod: forPod})
		loginErr = err
		if tech == nil {
			return nil // unknown tenant or email: nothing to record, same answer
		}
		if err == nil && res.TOTPStep != 0 {
			tech.LastTOTPStep = res.TOTPStep
		}
		if err == nil && !(res.NeedsTOTPEnrollment && a.RequireTOTP) {
			tech.LastLoginAt = a.now() // enrolment finishes the others' sign-in
		}
		if err == nil && res.NeedsRehash && !a.SkipRehash {
			if h, herr := auth.HashPassword(password); herr == nil {
				tech.PasswordHash = h
			}
		}
		if before.FailedLogins != tech.FailedLogins || !before.LockedUntil.Equal(tech.LockedUntil) ||
			before.LastTOTPStep != tech.LastTOTPStep || before.PasswordHash != tech.PasswordHash ||
			!before.LastLoginAt.Equal(tech.LastLoginAt) {
			if err := tx.UpdateTechnician(ctx, tech); err != nil {
				return err
			}
		}
		action := core.AuditTechnicianLogin
		if loginErr != nil {
			action = core.AuditTechnicianLoginFailed
		}
		if err := tx.AppendAudit(ctx, &core.AuditEvent{TenantID: tech.TenantID, At: a.now(),
			Actor: "tech:" + tech.ID, Action: action, Subject: tech.ID}); err != nil {
			return err
		}
		if loginErr == nil {
			out.Technician = *tech
			if res.NeedsTOTPEnrollment && a.RequireTOTP {
				out.EnrollSecret, out.EnrollURL, loginErr = auth.NewTOTP("Countersign ("+tenant.Name+")", tech.Email)
			}
		}
		return nil
	})
	if err != nil {
		return LoginResult{}, err
	}
	if loginErr != nil {
		return LoginResult{}, loginErr
	}
	return out, nil
}

func lastStep(t *core.Technician) int64 {
	if t == nil {
		return 0
	}
	return t.LastTOTPStep
}

// EnrollTOTP implements Authenticator: the first code proves the app
// holds the secret; only then is it sealed and stored.
func (a *PasswordAuth) EnrollTOTP(ctx context.Context, tenantID, techID, totpSecret, code string) (core.Technician, error) {
	now := a.now()
	step, ok := auth.MatchTOTP(totpSecret, strings.TrimSpace(code), now, 0)
	if !ok {
		return core.Technician{}, core.Errorf(core.KindInvalid, "that code does not match; check your device's clock and try the next code")
	}
	var tech core.Technician
	err := a.Store.Update(ctx, func(tx core.Tx) error {
		var err error
		if tech, err = tx.Technician(ctx, tenantID, techID); err != nil {
			return err
		}
		if tech.TOTPSecret != nil {
			return core.Errorf(core.KindConflict, "an authenticator is already enrolled; sign in with its code")
		}
		if tech.TOTPSecret, err = a.Keys.Seal([]byte(totpSecret), auth.TOTPAAD(tech.ID)); err != nil {
			return err
		}
		tech.LastTOTPStep, tech.LastLoginAt = step, now
		if err := tx.UpdateTechnician(ctx, &tech); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &core.AuditEvent{TenantID: tenantID, At: now, Actor: "tech:" + techID,
			Action: core.AuditTechnicianTOTPEnrolled, Subject: techID})
	})
	return tech, err
}

// Interface guards.
var _ Authenticator = (*PasswordAuth)(nil)
