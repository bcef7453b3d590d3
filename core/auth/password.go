package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/countersign/countersign/core"
)

// Password length limits, in characters. NIST SP 800-63B §3.1.1.2 asks for
// at least 15 for single-factor passwords and 8 with MFA; we sign in with
// TOTP and pick 12 as a margin. The upper bound only stops absurd input;
// argon2 hashes any length at the same cost.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 256
)

// Params are argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultParams is RFC 9106 §4's second recommended option (t=3, m=64 MiB,
// p=4): about 50–100 ms on a current server core. It costs 64 MiB per
// concurrent check, so sign-in must stay rate limited; we chose it over
// OWASP's lighter m=19 MiB, t=2, p=1 because sign-ins are rare and the
// hashes guard console access to every client. Hashes carry their own
// parameters, so this can change without invalidating stored hashes
// ([NeedsRehash] tells when to upgrade one).
var DefaultParams = Params{Memory: 64 * 1024, Time: 3, Threads: 4, SaltLen: 16, KeyLen: 32}

// maxParams bounds what CheckPassword accepts from a stored hash, so a
// corrupted or planted row cannot make the server allocate gigabytes.
var maxParams = Params{Memory: 1024 * 1024, Time: 16, Threads: 64, SaltLen: 64, KeyLen: 64}

// ErrMalformedHash is wrapped by CheckPassword for a hash it cannot parse.
var ErrMalformedHash = errors.New("auth: malformed password hash")

// ValidatePassword checks the length rules for a new password and returns a
// core.KindInvalid error, safe to show, when it breaks one.
func ValidatePassword(pw string) error {
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordLen {
		return core.Errorf(core.KindInvalid, "password must be at least %d characters", MinPasswordLen)
	}
	if n > MaxPasswordLen {
		return core.Errorf(core.KindInvalid, "password must be at most %d characters", MaxPasswordLen)
	}
	return nil
}

// HashPassword validates pw and returns its argon2id hash with
// [DefaultParams] in PHC string format:
//
//	$argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>
//
// with salt and hash in unpadded standard base64, as the reference
// implementation writes them.
func HashPassword(pw string) (string, error) {
	if err := ValidatePassword(pw); err != nil {
		return "", err
	}
	return hashWith(pw, DefaultParams), nil
}

func hashWith(pw string, p Params) string {
	salt := make([]byte, p.SaltLen)
	_, _ = rand.Read(salt) // never fails since Go 1.24
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// CheckPassword reports whether pw matches hash, using the parameters stored
// in hash. The comparison is constant time. A hash it cannot parse is an
// error (wrapping [ErrMalformedHash]), not a mismatch, so corrupt rows surface
// in logs instead of looking like typos.
func CheckPassword(hash, pw string) (bool, error) {
	p, salt, want, err := parseHash(hash)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// NeedsRehash reports whether hash was made with other parameters than
// [DefaultParams]; after a successful sign-in the caller can then store a
// fresh HashPassword of the password it just checked.
func NeedsRehash(hash string) bool {
	p, salt, key, err := parseHash(hash)
	if err != nil {
		return true
	}
	return p.Memory != DefaultParams.Memory || p.Time != DefaultParams.Time ||
		p.Threads != DefaultParams.Threads || len(salt) != int(DefaultParams.SaltLen) ||
		len(key) != int(DefaultParams.KeyLen)
}

// parseHash reads a PHC argon2id string. Its errors never quote the hash.
func parseHash(hash string) (p Params, salt, key []byte, err error) {
	bad := func(why string) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, fmt.Errorf("%w: %s", ErrMalformedHash, why)
	}
	// "" $ "argon2id" $ "v=19" $ "m=..,t=..,p=.." $ salt $ hash
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" {
		return bad("want $argon2id$v=19$m=..,t=..,p=..$salt$hash")
	}
	if parts[1] != "argon2id" {
		return bad("algorithm is not argon2id")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("unsupported argon2 version")
	}
	seen := map[string]bool{}
	for field := range strings.SplitSeq(parts[3], ",") {
		name, val, ok := strings.Cut(field, "=")
		if !ok || seen[name] {
			return bad("bad parameter list")
		}
		seen[name] = true
		n, err := strconv.ParseUint(val, 10, 32)
		if err != nil {
			return bad("bad parameter " + name)
		}
		switch name {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > 255 {
				return bad("parallelism out of range")
			}
			p.Threads = uint8(n)
		default:
			return bad("unknown parameter " + name)
		}
	}
	if !seen["m"] || !seen["t"] || !seen["p"] {
		return bad("missing m, t or p")
	}
	// argon2 requires m >= 8*p; IDKey would silently raise it, so a hash
	// that relies on that was not made by us.
	if p.Time < 1 || p.Threads < 1 || p.Memory < 8*uint32(p.Threads) {
		return bad("parameters too small")
	}
	if p.Time > maxParams.Time || p.Memory > maxParams.Memory || p.Threads > maxParams.Threads {
		return bad("parameters above the accepted maximum")
	}
	salt, err = base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 || len(salt) > int(maxParams.SaltLen) {
		return bad("bad salt")
	}
	key, err = base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > int(maxParams.KeyLen) {
		return bad("bad hash")
	}
	return p, salt, key, nil
}

// dummyHash is a hash of a random password with the current parameters,
// made on first use so importing the package costs nothing.
var dummyHash = sync.OnceValue(func() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hashWith(base64.RawStdEncoding.EncodeToString(b), DefaultParams)
})

// CheckDummy spends the same time as CheckPassword against a real hash and
// always fails. Call it when the email matches no technician (or one without
// a password), so response times do not reveal which emails exist.
func CheckDummy(pw string) {
	_, _ = CheckPassword(dummyHash(), pw)
}
