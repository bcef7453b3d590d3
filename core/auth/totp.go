package auth

import (
	"fmt"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// TOTP settings. Authenticator apps other than the big ones still ignore the
// algorithm, digits and period parameters of the otpauth URL, so we stay on
// the RFC 6238 defaults every app supports.
const (
	TOTPPeriod = 30 * time.Second
	TOTPDigits = 6
	// TOTPSkew is how many periods before and after now a code may come
	// from, for clock drift and for the seconds it takes to type a code.
	TOTPSkew = 1
)

var hotpOpts = hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// NewTOTP creates a TOTP enrolment: a random 160-bit secret (RFC 4226 §4
// recommends 160 bits), base32 without padding, and the otpauth:// URL to
// show as a QR code. Seal the secret with core/secret (aad [TOTPAAD]) before
// storing it in core.Technician.TOTPSecret, and only after the technician has
// entered a valid code for it.
func NewTOTP(issuer, account string) (secret, otpauthURL string, err error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      issuer,
		AccountName: account,
		Period:      uint(TOTPPeriod / time.Second),
		SecretSize:  20,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return "", "", fmt.Errorf("auth: new totp: %w", err)
	}
	return key.Secret(), key.URL(), nil
}

// TOTPAAD is the additional data to seal and open a technician's TOTP secret
// with, so a sealed secret copied onto another technician's row fails to open.
func TOTPAAD(technicianID string) []byte {
	return []byte("countersign/totp/" + technicianID)
}

// TOTPStep returns the RFC 6238 time step (counter) that now falls in.
//
// Replay protection: a code stays valid for up to three steps (skew 1), so a
// code seen over a shoulder or phished could be used again. Store the step of
// the last accepted code per technician and refuse codes from that step or
// earlier. [MatchTOTP] does the refusing and returns the step the code
// matched, which is the one to store: with skew the matched step can differ
// from TOTPStep(now), and storing TOTPStep(now) would let a code from the
// step after now be replayed once the clock reaches it.
func TOTPStep(now time.Time) int64 {
	return now.Unix() / int64(TOTPPeriod/time.Second)
}

// CheckTOTP reports whether code is valid for secret at now, allowing
// [TOTPSkew] steps either way. It has no replay protection; sign-in uses
// [MatchTOTP].
func CheckTOTP(secret, code string, now time.Time) bool {
	_, ok := MatchTOTP(secret, code, now, -1)
	return ok
}

// MatchTOTP reports whether code is valid for secret at now and newer than
// lastStep, the step of the last code this technician used (0 if none). On
// success it returns the matched step for the caller to store as the new
// lastStep. Codes are compared in constant time.
func MatchTOTP(secret, code string, now time.Time, lastStep int64) (step int64, ok bool) {
	if len(code) != TOTPDigits {
		return 0, false
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	cur := TOTPStep(now)
	// Check every step in the window even after a match, so timing does not
	// tell which step matched.
	matched := int64(-1)
	for s := cur - TOTPSkew; s <= cur+TOTPSkew; s++ {
		if s < 0 {
			continue
		}
		good, err := hotp.ValidateCustom(code, uint64(s), secret, hotpOpts)
		if err != nil {
			return 0, false // secret is not valid base32
		}
		if good && matched < 0 && s > lastStep {
			matched = s
		}
	}
	if matched < 0 {
		return 0, false
	}
	return matched, true
}
