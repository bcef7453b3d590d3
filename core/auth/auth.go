// Package auth holds the primitives of technician sign-in: argon2id password
// hashes, TOTP second factors with replay protection, account lockout, and
// [Login], which combines them without revealing which check failed.
//
// Everything here is pure: functions take the time and the technician and
// mutate only the fields they document; the caller persists the technician.
// Secrets at rest (the TOTP seed in core.Technician.TOTPSecret) are sealed
// with core/secret; this package opens them through the one-method [Opener].
package auth
