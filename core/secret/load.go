package secret

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
)

// EnvVar is the environment variable that holds the master key(s).
const EnvVar = "COUNTERSIGN_MASTER_KEY"

// DefaultKeyID names the key when the configuration is a single bare key.
// To rotate away from a bare key, list it as "default:<old key>" after the
// new primary.
const DefaultKeyID = "default"

// ParseKeyring parses a key configuration: either one bare key (base64 or hex
// of [KeySize] bytes; its id is [DefaultKeyID]) or a list of id:key entries
// separated by commas or newlines, the first being primary, e.g.
//
//	2026-11:q7V...=,2025-06:Zx1...=
//
// Surrounding whitespace is ignored. Errors name the offending entry by id or
// position, never by its key text.
func ParseKeyring(s string) (*Keyring, error) {
	entries := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' })
	var trimmed []string
	for _, e := range entries {
		if e = strings.TrimSpace(e); e != "" {
			trimmed = append(trimmed, e)
		}
	}
	if len(trimmed) == 0 {
		return nil, errors.New("secret: no master key configured")
	}
	if len(trimmed) == 1 && !strings.Contains(trimmed[0], ":") {
		key, err := decodeKey(trimmed[0])
		if err != nil {
			return nil, fmt.Errorf("secret: master key: %w", err)
		}
		return newKeyring([]string{DefaultKeyID}, map[string][]byte{DefaultKeyID: key})
	}
	ids := make([]string, 0, len(trimmed))
	keys := make(map[string][]byte, len(trimmed))
	for i, e := range trimmed {
		id, enc, ok := strings.Cut(e, ":")
		if !ok {
			return nil, fmt.Errorf("secret: master key entry %d: want id:key when several keys are listed", i+1)
		}
		id = strings.TrimSpace(id)
		if err := validateKeyID(id); err != nil {
			return nil, fmt.Errorf("secret: master key entry %d: %w", i+1, err)
		}
		if _, dup := keys[id]; dup {
			return nil, fmt.Errorf("secret: master key id %q listed twice", id)
		}
		key, err := decodeKey(strings.TrimSpace(enc))
		if err != nil {
			return nil, fmt.Errorf("secret: master key %q: %w", id, err)
		}
		ids = append(ids, id)
		keys[id] = key
	}
	return newKeyring(ids, keys)
}

// decodeKey accepts hex (64 characters) or base64, standard or URL alphabet,
// padded or not, because operators paste keys from openssl, Python and
// password managers alike. Its errors never quote the input.
func decodeKey(s string) ([]byte, error) {
	if len(s) == hex.EncodedLen(KeySize) {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(b) != KeySize {
			return nil, fmt.Errorf("decodes to %d bytes, want %d (generate one with: openssl rand -base64 32)", len(b), KeySize)
		}
		return b, nil
	}
	return nil, fmt.Errorf("not base64 or hex of %d bytes (generate one with: openssl rand -base64 32)", KeySize)
}

// LoadKeyring loads the master keys from env, the value of [EnvVar], or when
// env is empty from keyFile. The environment wins so a container can override
// a baked-in path. A key file readable or writable by group or others is
// refused: the key protects every connector secret and TOTP seed.
func LoadKeyring(env, keyFile string) (*Keyring, error) {
	if strings.TrimSpace(env) != "" {
		k, err := ParseKeyring(env)
		if err != nil {
			return nil, fmt.Errorf("%w (from %s)", err, EnvVar)
		}
		return k, nil
	}
	if keyFile == "" {
		return nil, fmt.Errorf("secret: no master key: set %s or configure a key file", EnvVar)
	}
	if err := checkKeyFilePerm(keyFile); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("secret: read key file: %w", err)
	}
	k, err := ParseKeyring(string(b))
	if err != nil {
		return nil, fmt.Errorf("%w (from key file %s)", err, keyFile)
	}
	return k, nil
}

func checkKeyFilePerm(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("secret: key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("secret: key file %s is not a regular file", path)
	}
	// Windows has no Unix permission bits; ACLs are the operator's job there.
	if runtime.GOOS == "windows" {
		return nil
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("secret: key file %s has mode %04o, open to group or others; run: chmod 600 %s", path, perm, path)
	}
	return nil
}

// GenerateKeyFile writes a new random master key to path with mode 0600 and
// returns the keyring it holds. It refuses to overwrite an existing file
// (the error wraps [fs.ErrExist]), since replacing a key makes every sealed
// secret unreadable. The key gets a random id so a later rotation can list
// it after a new primary unchanged.
func GenerateKeyFile(path string) (*Keyring, error) {
	key := make([]byte, KeySize)
	_, _ = rand.Read(key) // never fails since Go 1.24
	idBytes := make([]byte, 4)
	_, _ = rand.Read(idBytes)
	id := "k" + hex.EncodeToString(idBytes)
	line := id + ":" + base64.StdEncoding.EncodeToString(key) + "\n"

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("secret: create key file: %w", err)
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return nil, fmt.Errorf("secret: write key file: %w", err)
	}
	// Sync before reporting success: losing the key after secrets were
	// sealed with it loses the secrets.
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("secret: sync key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("secret: close key file: %w", err)
	}
	return newKeyring([]string{id}, map[string][]byte{id: key})
}
