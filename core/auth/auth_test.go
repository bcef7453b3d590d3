package auth

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/secret"
)

// cheap keeps tests fast: CheckPassword reads the parameters from the hash,
// so hashes made with them exercise the same code as DefaultParams.
var cheap = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

const goodPassword = "correct horse battery"

func TestHashPasswordDefault(t *testing.T) {
	h, err := HashPassword(goodPassword)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=4$"), h)
	assert.False(t, NeedsRehash(h))

	ok, err := CheckPassword(h, goodPassword)
	require.NoError(t, err)
	assert.True(t, ok)

	h2, err := HashPassword(goodPassword)
	require.NoError(t, err)
	assert.NotEqual(t, h, h2, "each hash has its own salt")
}

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		name    string
		pw      string
		wantErr string
	}{
		{name: "ok", pw: goodPassword},
		{name: "exactly min", pw: strings.Repeat("a", MinPasswordLen)},
		{name: "exactly max", pw: strings.Repeat("a", MaxPasswordLen)},
		{name: "multibyte counts characters", pw: strings.Repeat("é", MinPasswordLen)},
		{name: "short", pw: "short", wantErr: "at least 12 characters"},
		{name: "empty", pw: "", wantErr: "at least 12 characters"},
		{name: "long", pw: strings.Repeat("a", MaxPasswordLen+1), wantErr: "at most 256 characters"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidatePassword(tc.pw)
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
			assert.Equal(t, core.KindInvalid, core.ErrorKind(err))
			assert.Equal(t, err.Error(), core.ErrorMessage(err), "the message is safe to show")
		})
	}
	_, err := HashPassword("short")
	require.ErrorIs(t, err, core.ErrInvalid)
}

func TestCheckPassword(t *testing.T) {
	h := hashWith(goodPassword, cheap)
	// A hash with other parameters, as if DefaultParams had changed since.
	other := hashWith(goodPassword, Params{Memory: 128, Time: 2, Threads: 2, SaltLen: 8, KeyLen: 16})

	tests := []struct {
		name    string
		hash    string
		pw      string
		want    bool
		wantErr bool
	}{
		{name: "match", hash: h, pw: goodPassword, want: true},
		{name: "wrong", hash: h, pw: goodPassword + "!"},
		{name: "empty password", hash: h, pw: ""},
		{name: "params read from the hash", hash: other, pw: goodPassword, want: true},
		{name: "params read from the hash, wrong", hash: other, pw: "nope"},
		{name: "empty hash", hash: "", wantErr: true},
		{name: "bcrypt", hash: "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", wantErr: true},
		{name: "argon2i", hash: strings.Replace(h, "argon2id", "argon2i", 1), wantErr: true},
		{name: "old version", hash: strings.Replace(h, "v=19", "v=16", 1), wantErr: true},
		{name: "missing param", hash: strings.Replace(h, ",p=1", "", 1), wantErr: true},
		{name: "unknown param", hash: strings.Replace(h, "p=1", "p=1,x=2", 1), wantErr: true},
		{name: "duplicate param", hash: strings.Replace(h, "p=1", "p=1,p=1", 1), wantErr: true},
		{name: "zero time", hash: strings.Replace(h, "t=1", "t=0", 1), wantErr: true},
		{name: "huge memory", hash: strings.Replace(h, "m=64", "m=4294967295", 1), wantErr: true},
		{name: "bad salt", hash: replacePart(h, 4, "!!!"), wantErr: true},
		{name: "short key", hash: replacePart(h, 5, "AAAA"), wantErr: true},
		{name: "extra field", hash: h + "$x", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := CheckPassword(tc.hash, tc.pw)
			if tc.wantErr {
				require.ErrorIs(t, err, ErrMalformedHash)
				assert.False(t, ok)
				if tc.hash != "" {
					assert.NotContains(t, err.Error(), tc.hash, "errors never quote the hash")
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, ok)
		})
	}
	assert.True(t, NeedsRehash(other))
	assert.True(t, NeedsRehash("garbage"))
}

// replacePart swaps the i-th $-separated field of a PHC string.
func replacePart(h string, i int, v string) string {
	parts := strings.Split(h, "$")
	parts[i] = v
	return strings.Join(parts, "$")
}

func TestCheckDummyDoesNotPanic(t *testing.T) {
	CheckDummy(goodPassword)
	CheckDummy("")
}

// fixed is a time in the middle of a TOTP step.
var fixed = time.Date(2026, 11, 21, 12, 0, 15, 0, time.UTC)

func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	require.NoError(t, err)
	return c
}

func TestNewTOTP(t *testing.T) {
	secret, u, err := NewTOTP("Countersign", "ana@msp.example")
	require.NoError(t, err)
	assert.Len(t, secret, 32, "160 bits in unpadded base32")

	parsed, err := url.Parse(u)
	require.NoError(t, err)
	assert.Equal(t, "otpauth", parsed.Scheme)
	assert.Equal(t, "totp", parsed.Host)
	q := parsed.Query()
	assert.Equal(t, secret, q.Get("secret"))
	assert.Equal(t, "Countersign", q.Get("issuer"))
	assert.Contains(t, parsed.Path, "ana@msp.example")

	assert.True(t, CheckTOTP(secret, codeAt(t, secret, fixed), fixed), "a fresh secret verifies its own codes")

	_, _, err = NewTOTP("", "ana@msp.example")
	require.Error(t, err)
}

func TestCheckTOTP(t *testing.T) {
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	tests := []struct {
		name string
		code string
		want bool
	}{
		{name: "current step", code: codeAt(t, secret, fixed), want: true},
		{name: "previous step (skew)", code: codeAt(t, secret, fixed.Add(-30*time.Second)), want: true},
		{name: "next step (skew)", code: codeAt(t, secret, fixed.Add(30*time.Second)), want: true},
		{name: "two steps old", code: codeAt(t, secret, fixed.Add(-60*time.Second))},
		{name: "two steps ahead", code: codeAt(t, secret, fixed.Add(60*time.Second))},
		{name: "wrong code", code: wrongCode(codeAt(t, secret, fixed))},
		{name: "empty", code: ""},
		{name: "too short", code: "12345"},
		{name: "not digits", code: "12a456"},
		{name: "padded", code: " " + codeAt(t, secret, fixed)[:5]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, CheckTOTP(secret, tc.code, fixed))
		})
	}
	assert.False(t, CheckTOTP("not base32!", "123456", fixed))
}

// wrongCode returns a six-digit code different from c.
func wrongCode(c string) string {
	b := []byte(c)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

func TestMatchTOTPReplay(t *testing.T) {
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	now := fixed
	cur := TOTPStep(now)
	assert.Equal(t, now.Unix()/30, cur)

	code := codeAt(t, secret, now)
	step, ok := MatchTOTP(secret, code, now, 0)
	require.True(t, ok)
	assert.Equal(t, cur, step)

	_, ok = MatchTOTP(secret, code, now, step)
	assert.False(t, ok, "the same code is refused once used")
	_, ok = MatchTOTP(secret, code, now.Add(30*time.Second), step)
	assert.False(t, ok, "still refused within the skew window")

	// A code from the next step, typed early, matches that step; storing
	// it keeps the code from being replayed when the clock gets there.
	ahead := codeAt(t, secret, now.Add(30*time.Second))
	step, ok = MatchTOTP(secret, ahead, now, cur)
	require.True(t, ok)
	assert.Equal(t, cur+1, step)
	_, ok = MatchTOTP(secret, ahead, now.Add(30*time.Second), step)
	assert.False(t, ok)

	next := codeAt(t, secret, now.Add(60*time.Second))
	_, ok = MatchTOTP(secret, next, now.Add(60*time.Second), step)
	assert.True(t, ok, "a newer code still works")
}

func TestLockout(t *testing.T) {
	l := Lockout{MaxFailures: 3, Duration: 10 * time.Minute}
	var tech core.Technician
	now := fixed

	for i := 1; i <= 2; i++ {
		l.RecordFailure(&tech, now)
		assert.Equal(t, i, tech.FailedLogins)
		assert.False(t, l.Locked(tech, now), "not locked after %d failures", i)
	}
	l.RecordFailure(&tech, now)
	assert.True(t, l.Locked(tech, now), "locked at MaxFailures")
	assert.Equal(t, now.Add(10*time.Minute), tech.LockedUntil)
	assert.True(t, l.Locked(tech, now.Add(10*time.Minute-time.Second)))
	assert.False(t, l.Locked(tech, now.Add(10*time.Minute)), "the lock runs out")

	later := now.Add(11 * time.Minute)
	l.RecordFailure(&tech, later)
	assert.Equal(t, 1, tech.FailedLogins, "an expired lock starts a fresh count")
	assert.False(t, l.Locked(tech, later))

	l.RecordSuccess(&tech)
	assert.Zero(t, tech.FailedLogins)
	assert.True(t, tech.LockedUntil.IsZero())

	never := Lockout{}
	for range 100 {
		never.RecordFailure(&tech, now)
	}
	assert.False(t, never.Locked(tech, now), "MaxFailures 0 never locks")

	assert.Equal(t, Lockout{MaxFailures: 5, Duration: time.Minute}, DefaultLockout)
}

// fakeOpener stands in for *secret.Keyring when a test needs Open to fail.
type fakeOpener func(blob, aad []byte) ([]byte, error)

func (f fakeOpener) Open(blob, aad []byte) ([]byte, error) { return f(blob, aad) }

func TestLogin(t *testing.T) {
	keys, err := secret.ParseKeyring(strings.Repeat("ab", 32))
	require.NoError(t, err)
	const totpSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	hash := hashWith(goodPassword, cheap)
	now := fixed
	code := codeAt(t, totpSecret, now)

	newTech := func(t *testing.T) *core.Technician {
		t.Helper()
		tech := &core.Technician{ID: "tech-1", Role: core.RoleTechnician, PasswordHash: hash}
		sealed, err := keys.Seal([]byte(totpSecret), TOTPAAD(tech.ID))
		require.NoError(t, err)
		tech.TOTPSecret = sealed
		return tech
	}
	lock := Lockout{MaxFailures: 3, Duration: time.Minute}

	tests := []struct {
		name         string
		tech         func(t *testing.T) *core.Technician // nil result: unknown email
		in           LoginInput
		wantKind     core.Kind // "" means success
		wantMsg      string
		wantFailures int
		wantCause    string // substring of err.Error() for internal faults
		check        func(t *testing.T, res LoginResult)
	}{
		{
			name: "success", tech: newTech,
			in: LoginInput{Password: goodPassword, Code: code},
			check: func(t *testing.T, res LoginResult) {
				assert.Equal(t, TOTPStep(now), res.TOTPStep)
				assert.False(t, res.NeedsTOTPEnrollment)
				assert.True(t, res.NeedsRehash, "cheap test params differ from DefaultParams")
			},
		},
		{
			name:     "unknown email",
			tech:     func(*testing.T) *core.Technician { return nil },
			in:       LoginInput{Password: goodPassword, Code: code},
			wantKind: core.KindUnauthorized, wantMsg: msgFailed,
		},
		{
			name: "wrong password", tech: newTech,
			in:       LoginInput{Password: "wrong password!!", Code: code},
			wantKind: core.KindUnauthorized, wantMsg: msgFailed, wantFailures: 1,
		},
		{
			name: "wrong code", tech: newTech,
			in:       LoginInput{Password: goodPassword, Code: wrongCode(code)},
			wantKind: core.KindUnauthorized, wantMsg: msgFailed, wantFailures: 1,
		},
		{
			name: "missing code", tech: newTech,
			in:       LoginInput{Password: goodPassword},
			wantKind: core.KindUnauthorized, wantMsg: msgFailed, wantFailures: 1,
		},
		{
			name: "replayed code", tech: newTech,
			in:       LoginInput{Password: goodPassword, Code: code, LastTOTPStep: TOTPStep(now)},
			wantKind: core.KindUnauthorized, wantMsg: msgFailed, wantFailures: 1,
		},
		{
			name: "no password set",
			tech: func(t *testing.T) *core.Technician {
				tech := newTech(t)
				tech.PasswordHash = ""
				return tech
			},
			in:       LoginInput{Password: goodPassword, Code: code},
			wantKind: core.KindUnauthorized, wantMsg: msgFailed,
		},
		{
			name: "locked, even with the right password",
			tech: func(t *testing.T) *core.Technician {
				tech := newTech(t)
				tech.FailedLogins = 3
				tech.LockedUntil = now.Add(time.Minute)
				return tech
			},
			in:       LoginInput{Password: goodPassword, Code: code},
			wantKind: core.KindForbidden, wantMsg: msgLocked, wantFailures: 3,
		},
		{
			name: "third failure locks",
			tech: func(t *testing.T) *core.Technician {
				tech := newTech(t)
				tech.FailedLogins = 2
				return tech
			},
			in:       LoginInput{Password: "wrong password!!", Code: code},
			wantKind: core.KindUnauthorized, wantMsg: msgFailed, wantFailures: 3,
		},
		{
			name: "success clears failures",
			tech: func(t *testing.T) *core.Technician {
				tech := newTech(t)
				tech.FailedLogins = 2
				return tech
			},
			in: LoginInput{Password: goodPassword, Code: code},
		},
		{
			name: "not enrolled in TOTP",
			tech: func(t *testing.T) *core.Technician {
				tech := newTech(t)
				tech.TOTPSecret = nil
				return tech
			},
			in: LoginInput{Password: goodPassword},
			check: func(t *testing.T, res LoginResult) {
				assert.True(t, res.NeedsTOTPEnrollment)
				assert.Zero(t, res.TOTPStep)
			},
		},
		{
			name: "pod-only",
			tech: func(t *testing.T) *core.Technician {
				tech := newTech(t)
				tech.Role = core.RolePodOnly
				return tech
			},
			in:       LoginInput{Password: goodPassword, Code: code},
			wantKind: core.KindForbidden, wantMsg: "pod-only accounts cannot sign in to the console",
		},
		{
			name: "pod-only in a pod",
			tech: func(t *testing.T) *core.Technician {
				tech := newTech(t)
				tech.Role = core.RolePodOnly
				return tech
			},
			in: LoginInput{Password: goodPassword, Code: code, ForPod: true},
		},
		{
			name: "corrupt hash",
			tech: func(t *testing.T) *core.Technician {
				tech := newTech(t)
				tech.PasswordHash = "$argon2id$garbage"
				return tech
			},
			in:       LoginInput{Password: goodPassword, Code: code},
			wantKind: core.KindUnauthorized, wantMsg: msgFailed, wantCause: "malformed password hash",
		},
		{
			name: "TOTP secret does not open", tech: newTech,
			in: LoginInput{Password: goodPassword, Code: code, Secrets: fakeOpener(func([]byte, []byte) ([]byte, error) {
				return nil, errors.New("key id \"old\" not in keyring")
			})},
			wantKind: core.KindUnauthorized, wantMsg: msgFailed, wantCause: "open totp secret",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tech := tc.tech(t)
			in := tc.in
			in.Now = now
			in.Lockout = lock
			if in.Secrets == nil {
				in.Secrets = keys
			}
			res, err := Login(tech, in)
			if tc.wantKind == "" {
				require.NoError(t, err)
				require.NotNil(t, tech)
				assert.Zero(t, tech.FailedLogins)
				assert.True(t, tech.LockedUntil.IsZero())
				if tc.check != nil {
					tc.check(t, res)
				}
				return
			}
			require.Error(t, err)
			assert.Equal(t, tc.wantKind, core.ErrorKind(err))
			assert.Equal(t, tc.wantMsg, core.ErrorMessage(err), "one generic message per kind")
			assert.Zero(t, res)
			if tech != nil {
				assert.Equal(t, tc.wantFailures, tech.FailedLogins)
				assert.Equal(t, tc.wantFailures >= lock.MaxFailures, lock.Locked(*tech, now))
			}
			if tc.wantCause != "" {
				assert.Contains(t, err.Error(), tc.wantCause, "the cause is kept for logs")
			}
			assert.NotContains(t, fmt.Sprint(err), totpSecret)
		})
	}
}

func TestLoginZeroLockoutMeansDefault(t *testing.T) {
	tech := &core.Technician{ID: "t", Role: core.RoleTechnician, PasswordHash: hashWith(goodPassword, cheap)}
	for range DefaultLockout.MaxFailures {
		_, err := Login(tech, LoginInput{Password: "wrong password!!", Now: fixed})
		require.Error(t, err)
	}
	assert.Equal(t, fixed.Add(DefaultLockout.Duration), tech.LockedUntil)
}

// Interface guard: the keyring is what callers pass as LoginInput.Secrets.
var _ Opener = (*secret.Keyring)(nil)
