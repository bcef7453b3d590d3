// Package secret seals small secrets at rest (TOTP seeds, connector
// passwords, API tokens) with AES-256-GCM under a master key that lives
// outside the database, and derives purpose-bound sub-keys from that key.
//
// # Blob format
//
// [Keyring.Seal] returns
//
//	version (1 byte) | key id length (1 byte) | key id | nonce (12 bytes) | ciphertext+tag
//
// The key id is stored in clear so that [Keyring.Open] can pick the right key
// after a rotation: add a new primary key in front of the old ones, and blobs
// sealed under an old key keep opening until they are re-sealed. The header is
// authenticated together with the caller's additional data, so neither the
// version nor the key id can be altered without Open failing.
//
// # Keys
//
// Keys come from COUNTERSIGN_MASTER_KEY or a key file ([LoadKeyring]); see
// [ParseKeyring] for the format. Key bytes never appear in errors, in
// fmt output or in slog records: [Keyring] redacts itself.
//
// # Sub-keys
//
// [Keyring.Derive] turns the primary key into independent 32-byte keys with
// HKDF-SHA256 (RFC 5869), one per purpose ("code-hmac", "session"), so one
// master key serves every subsystem without any two sharing key bytes.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"slices"
)

// KeySize is the length of every master key: AES-256.
const KeySize = 32

const (
	// version1 is the only blob layout so far; a new layout gets a new
	// version byte so old blobs stay readable.
	version1  = 1
	nonceSize = 12
	// maxKeyIDLen is what the one-byte length prefix can carry.
	maxKeyIDLen = 255
)

// ErrUnknownKey is wrapped by Open when a blob names a key id the keyring
// does not hold, typically an old key dropped from the list too early.
var ErrUnknownKey = errors.New("key id not in keyring")

// ErrTampered is wrapped by Open when authentication fails: the blob, the
// additional data or the key is not the one used to seal.
var ErrTampered = errors.New("authentication failed (tampered blob, wrong aad or wrong key)")

// Keyring holds one primary key, used to seal and derive, and older keys,
// kept only to open blobs sealed before a rotation. It is immutable and safe
// for concurrent use.
//
// The zero value holds no keys; build one with [NewKeyring], [ParseKeyring]
// or [LoadKeyring].
type Keyring struct {
	primary string
	ids     []string // primary first, in configuration order
	keys    map[string][]byte
	aeads   map[string]cipher.AEAD
}

// NewKeyring returns a keyring whose primary key is keys[primaryID]. Every
// key must be [KeySize] bytes and every id 1–255 characters of
// [A-Za-z0-9._-]. The key bytes are copied.
func NewKeyring(primaryID string, keys map[string][]byte) (*Keyring, error) {
	if _, ok := keys[primaryID]; !ok {
		return nil, fmt.Errorf("secret: primary key id %q not among the keys", primaryID)
	}
	ids := []string{primaryID}
	for id := range keys {
		if id != primaryID {
			ids = append(ids, id)
		}
	}
	// Map order is random; sort the older ids so String is stable.
	slices.Sort(ids[1:])
	return newKeyring(ids, keys)
}

// newKeyring builds a keyring from ids in order, the first being primary.
func newKeyring(ids []string, keys map[string][]byte) (*Keyring, error) {
	k := &Keyring{
		primary: ids[0],
		ids:     ids,
		keys:    make(map[string][]byte, len(ids)),
		aeads:   make(map[string]cipher.AEAD, len(ids)),
	}
	for _, id := range ids {
		if err := validateKeyID(id); err != nil {
			return nil, err
		}
		key := keys[id]
		if len(key) != KeySize {
			// The length is safe to report; the bytes are not.
			return nil, fmt.Errorf("secret: key %q is %d bytes, want %d", id, len(key), KeySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("secret: key %q: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("secret: key %q: %w", id, err)
		}
		k.keys[id] = slices.Clone(key)
		k.aeads[id] = aead
	}
	return k, nil
}

// validateKeyID keeps ids printable and short, because they are stored in
// every blob and quoted in error messages and logs.
func validateKeyID(id string) error {
	if id == "" || len(id) > maxKeyIDLen {
		return fmt.Errorf("secret: key id must be 1-%d characters, got %d", maxKeyIDLen, len(id))
	}
	for _, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("secret: key id %q: only letters, digits, '.', '_' and '-' are allowed", id)
		}
	}
	return nil
}

// KeyID returns the id of the primary key, the one Seal uses.
func (k *Keyring) KeyID() string { return k.primary }

// KeyIDs returns every key id, primary first.
func (k *Keyring) KeyIDs() []string { return slices.Clone(k.ids) }

// Seal encrypts plaintext under the primary key and returns a self-describing
// blob. aad is authenticated but not stored: pass something that ties the
// secret to its row (e.g. "totp:" + technician id) so a blob copied to another
// row does not open there. A fresh random nonce is drawn for every call; with
// 96-bit random nonces one key stays within NIST SP 800-38D's limit for
// 2^32 seals, far beyond the number of secrets we store.
func (k *Keyring) Seal(plaintext, aad []byte) ([]byte, error) {
	aead, ok := k.aeads[k.primary]
	if !ok {
		return nil, errors.New("secret: seal: empty keyring")
	}
	header := make([]byte, 0, 2+len(k.primary)+nonceSize+len(plaintext)+aead.Overhead())
	header = append(header, version1, byte(len(k.primary)))
	header = append(header, k.primary...)
	headerLen := len(header)
	nonce := make([]byte, nonceSize)
	// crypto/rand.Read never returns an error since Go 1.24; it crashes the
	// program instead of handing out a predictable nonce.
	_, _ = rand.Read(nonce)
	blob := append(header, nonce...)
	return aead.Seal(blob, nonce, plaintext, authData(blob[:headerLen], aad)), nil
}

// Open authenticates and decrypts a blob made by Seal with the same aad. It
// picks the key by the id stored in the blob; errors wrap [ErrUnknownKey] or
// [ErrTampered] and name the key id, never key bytes or plaintext.
func (k *Keyring) Open(blob, aad []byte) ([]byte, error) {
	if len(blob) < 2 {
		return nil, errors.New("secret: open: blob too short")
	}
	if blob[0] != version1 {
		return nil, fmt.Errorf("secret: open: unknown blob version %d", blob[0])
	}
	idLen := int(blob[1])
	headerLen := 2 + idLen
	if idLen == 0 || len(blob) < headerLen+nonceSize {
		return nil, errors.New("secret: open: blob too short")
	}
	id := string(blob[2:headerLen])
	if validateKeyID(id) != nil {
		return nil, errors.New("secret: open: malformed key id in blob")
	}
	aead, ok := k.aeads[id]
	if !ok {
		return nil, fmt.Errorf("secret: open: key id %q: %w (keep retired keys in the list until every blob is re-sealed)", id, ErrUnknownKey)
	}
	nonce := blob[headerLen : headerLen+nonceSize]
	plaintext, err := aead.Open(nil, nonce, blob[headerLen+nonceSize:], authData(blob[:headerLen], aad))
	if err != nil {
		return nil, fmt.Errorf("secret: open with key id %q: %w", id, ErrTampered)
	}
	return plaintext, nil
}

// KeyIDOf reports which key sealed blob, so a re-sealing job can find blobs
// still under a retired key. ok is false for a malformed blob.
func KeyIDOf(blob []byte) (id string, ok bool) {
	if len(blob) < 2 || blob[0] != version1 {
		return "", false
	}
	n := int(blob[1])
	if n == 0 || len(blob) < 2+n+nonceSize {
		return "", false
	}
	return string(blob[2 : 2+n]), true
}

// authData authenticates the header along with the caller's aad. The header
// is length-prefixed, so header||aad cannot be confused with another split.
func authData(header, aad []byte) []byte {
	return append(slices.Clip(header), aad...)
}

// Derive returns a 32-byte key for purpose, derived from the primary key with
// HKDF-SHA256 (RFC 5869; the purpose is the info parameter, prefixed to keep
// it apart from any other use of the master key). Distinct purposes give
// independent keys, so leaking a session key reveals nothing about the code
// HMAC key or the master key. A rotation of the primary changes every
// derived key: short-lived code HMACs and sessions issued before it stop
// verifying, which is why [Keyring.DeriveAll] exists.
func (k *Keyring) Derive(purpose string) []byte {
	return k.derive(k.primary, purpose)
}

// DeriveAll returns the purpose key of every key in the ring, primary first,
// for consumers that accept a list of keys during a rotation (e.g. gorilla
// securecookie's key pairs).
func (k *Keyring) DeriveAll(purpose string) [][]byte {
	out := make([][]byte, 0, len(k.ids))
	for _, id := range k.ids {
		out = append(out, k.derive(id, purpose))
	}
	return out
}

func (k *Keyring) derive(id, purpose string) []byte {
	if len(k.ids) == 0 {
		// Deriving from no key would hand out a publicly computable key.
		panic("secret: derive from an empty keyring")
	}
	key, err := hkdf.Key(sha256.New, k.keys[id], nil, "countersign/"+purpose, KeySize)
	if err != nil {
		// hkdf.Key fails only when asked for more than 255*32 bytes.
		panic("secret: derive: " + err.Error())
	}
	return key
}

// String describes the keyring by key ids only.
func (k Keyring) String() string {
	return fmt.Sprintf("secret.Keyring{primary: %q, keys: %d}", k.primary, len(k.ids))
}

// GoString redacts %#v, which would otherwise print the key bytes.
func (k Keyring) GoString() string { return k.String() }

// Format redacts every fmt verb, including %d and %x, which bypass String.
func (k Keyring) Format(f fmt.State, verb rune) { _, _ = fmt.Fprint(f, k.String()) }

// LogValue redacts the keyring in slog records.
func (k Keyring) LogValue() slog.Value {
	return slog.GroupValue(slog.String("primary", k.primary), slog.Int("keys", len(k.ids)))
}

// Interface guards: redaction holds for values and pointers alike.
var (
	_ fmt.Formatter  = Keyring{}
	_ fmt.GoStringer = (*Keyring)(nil)
	_ slog.LogValuer = Keyring{}
	_ fmt.Stringer   = (*Keyring)(nil)
)
