package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
)

// Interface guard: the engine takes the keyring as its core.Sealer.
var _ core.Sealer = (*Keyring)(nil)

// testKey returns a recognisable 32-byte key filled with b.
func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func mustParse(t *testing.T, s string) *Keyring {
	t.Helper()
	k, err := ParseKeyring(s)
	require.NoError(t, err)
	return k
}

func TestSealOpen(t *testing.T) {
	k := mustParse(t, "a:"+b64(testKey(1)))
	tests := []struct {
		name      string
		plaintext []byte
		aad       []byte
	}{
		{name: "empty", plaintext: nil, aad: nil},
		{name: "totp seed", plaintext: []byte("JBSWY3DPEHPK3PXP"), aad: []byte("totp:tech-1")},
		{name: "large", plaintext: bytes.Repeat([]byte("x"), 10_000), aad: []byte("connector:42")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			blob, err := k.Seal(tc.plaintext, tc.aad)
			require.NoError(t, err)
			assert.Equal(t, byte(version1), blob[0])
			id, ok := KeyIDOf(blob)
			require.True(t, ok)
			assert.Equal(t, "a", id)
			if len(tc.plaintext) > 0 {
				assert.NotContains(t, string(blob), string(tc.plaintext))
			}
			got, err := k.Open(blob, tc.aad)
			require.NoError(t, err)
			assert.Equal(t, string(tc.plaintext), string(got))
		})
	}
}

func TestSealUsesFreshNonce(t *testing.T) {
	k := mustParse(t, b64(testKey(1)))
	a, err := k.Seal([]byte("same"), nil)
	require.NoError(t, err)
	b, err := k.Seal([]byte("same"), nil)
	require.NoError(t, err)
	assert.NotEqual(t, a, b)
}

func TestOpenRejects(t *testing.T) {
	k := mustParse(t, "a:"+b64(testKey(1)))
	aad := []byte("totp:tech-1")
	blob, err := k.Seal([]byte("secret seed"), aad)
	require.NoError(t, err)

	flip := func(i int) []byte {
		b := bytes.Clone(blob)
		b[i] ^= 0x01
		return b
	}
	other := mustParse(t, "a:"+b64(testKey(2))) // same id, different key

	tests := []struct {
		name    string
		k       *Keyring
		blob    []byte
		aad     []byte
		wantErr error  // nil means any error
		wantMsg string // substring of the error
	}{
		{name: "flipped ciphertext", k: k, blob: flip(len(blob) - 20), aad: aad, wantErr: ErrTampered},
		{name: "flipped tag", k: k, blob: flip(len(blob) - 1), aad: aad, wantErr: ErrTampered},
		{name: "flipped nonce", k: k, blob: flip(3 + 1), aad: aad, wantErr: ErrTampered},
		{name: "wrong aad", k: k, blob: blob, aad: []byte("totp:tech-2"), wantErr: ErrTampered},
		{name: "missing aad", k: k, blob: blob, aad: nil, wantErr: ErrTampered},
		{name: "wrong key same id", k: other, blob: blob, aad: aad, wantErr: ErrTampered},
		{name: "changed key id", k: mustParse(t, "b:"+b64(testKey(1))), blob: func() []byte { b := bytes.Clone(blob); b[2] = 'b'; return b }(), aad: aad, wantErr: ErrTampered},
		{name: "unknown version", k: k, blob: func() []byte { b := bytes.Clone(blob); b[0] = 9; return b }(), aad: aad, wantMsg: "unknown blob version 9"},
		{name: "truncated", k: k, blob: blob[:10], aad: aad, wantMsg: "too short"},
		{name: "empty", k: k, blob: nil, aad: aad, wantMsg: "too short"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.k.Open(tc.blob, tc.aad)
			require.Error(t, err)
			assert.Nil(t, got)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
			}
			assert.Contains(t, err.Error(), tc.wantMsg)
		})
	}
}

func TestRotation(t *testing.T) {
	oldKey, newKey := testKey(1), testKey(2)
	before := mustParse(t, "2025:"+b64(oldKey))
	blob, err := before.Seal([]byte("seed"), []byte("aad"))
	require.NoError(t, err)

	after := mustParse(t, "2026:"+b64(newKey)+",2025:"+b64(oldKey))
	assert.Equal(t, "2026", after.KeyID())
	assert.Equal(t, []string{"2026", "2025"}, after.KeyIDs())

	got, err := after.Open(blob, []byte("aad"))
	require.NoError(t, err, "a blob sealed with the old primary opens after rotation")
	assert.Equal(t, "seed", string(got))

	resealed, err := after.Seal(got, []byte("aad"))
	require.NoError(t, err)
	id, _ := KeyIDOf(resealed)
	assert.Equal(t, "2026", id, "new blobs use the new primary")

	dropped := mustParse(t, "2026:"+b64(newKey))
	_, err = dropped.Open(blob, []byte("aad"))
	require.ErrorIs(t, err, ErrUnknownKey)
	assert.Contains(t, err.Error(), `"2025"`, "the error names the missing key id")
	assert.NotContains(t, err.Error(), b64(oldKey))
}

func TestNewKeyring(t *testing.T) {
	k, err := NewKeyring("b", map[string][]byte{"a": testKey(1), "b": testKey(2), "c": testKey(3)})
	require.NoError(t, err)
	assert.Equal(t, "b", k.KeyID())
	assert.Equal(t, []string{"b", "a", "c"}, k.KeyIDs())

	_, err = NewKeyring("x", map[string][]byte{"a": testKey(1)})
	require.Error(t, err)
	_, err = NewKeyring("a", map[string][]byte{"a": testKey(1)[:16]})
	require.ErrorContains(t, err, "16 bytes")

	// The keyring copies keys, so a caller zeroing its buffer changes nothing.
	buf := testKey(7)
	k, err = NewKeyring("a", map[string][]byte{"a": buf})
	require.NoError(t, err)
	blob, err := k.Seal([]byte("x"), nil)
	require.NoError(t, err)
	clear(buf)
	_, err = k.Open(blob, nil)
	require.NoError(t, err)
}

func TestParseKeyring(t *testing.T) {
	key := testKey(0xAB)
	tests := []struct {
		name    string
		in      string
		wantIDs []string
		wantErr string // substring; "" means success
	}{
		{name: "bare base64", in: b64(key), wantIDs: []string{DefaultKeyID}},
		{name: "bare base64 raw", in: base64.RawStdEncoding.EncodeToString(key), wantIDs: []string{DefaultKeyID}},
		{name: "bare base64 url", in: base64.URLEncoding.EncodeToString(key), wantIDs: []string{DefaultKeyID}},
		{name: "bare hex", in: hex.EncodeToString(key), wantIDs: []string{DefaultKeyID}},
		{name: "whitespace", in: "  " + b64(key) + "\n", wantIDs: []string{DefaultKeyID}},
		{name: "one with id", in: "k1:" + b64(key), wantIDs: []string{"k1"}},
		{name: "list", in: "new:" + b64(testKey(2)) + ", old:" + hex.EncodeToString(key), wantIDs: []string{"new", "old"}},
		{name: "newline list", in: "new:" + b64(testKey(2)) + "\nold:" + b64(key) + "\n", wantIDs: []string{"new", "old"}},
		{name: "empty", in: "  ", wantErr: "no master key"},
		{name: "short key", in: b64(key[:16]), wantErr: "16 bytes, want 32"},
		{name: "garbage", in: "not a key!", wantErr: "not base64 or hex"},
		{name: "list entry without id", in: "a:" + b64(key) + "," + b64(key), wantErr: "entry 2: want id:key"},
		{name: "duplicate id", in: "a:" + b64(key) + ",a:" + b64(testKey(2)), wantErr: `"a" listed twice`},
		{name: "bad id", in: "bad id:" + b64(key), wantErr: "only letters"},
		{name: "empty id", in: ":" + b64(key), wantErr: "1-255 characters"},
		{name: "bad key in list", in: "a:" + b64(key) + ",b:xyz", wantErr: `key "b"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseKeyring(tc.in)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				assert.NotContains(t, err.Error(), b64(key), "errors never quote key text")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantIDs, k.KeyIDs())
		})
	}
}

func TestLoadKeyring(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, perm os.FileMode) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), perm))
		require.NoError(t, os.Chmod(p, perm)) // umask may have narrowed it
		return p
	}
	good := write("good.key", "f:"+b64(testKey(1))+"\n", 0o600)
	loose := write("loose.key", b64(testKey(1)), 0o644)
	groupOnly := write("group.key", b64(testKey(1)), 0o640)
	bad := write("bad.key", "nope", 0o600)

	tests := []struct {
		name     string
		env      string
		file     string
		wantID   string
		wantErr  string
		unixOnly bool
	}{
		{name: "env wins over file", env: "e:" + b64(testKey(2)), file: good, wantID: "e"},
		{name: "file", file: good, wantID: "f"},
		{name: "nothing", wantErr: "set COUNTERSIGN_MASTER_KEY"},
		{name: "world readable", file: loose, wantErr: "chmod 600", unixOnly: true},
		{name: "group readable", file: groupOnly, wantErr: "chmod 600", unixOnly: true},
		{name: "missing file", file: filepath.Join(dir, "missing.key"), wantErr: "no such file"},
		{name: "bad file content", file: bad, wantErr: "from key file"},
		{name: "bad env", env: "nope", wantErr: "from COUNTERSIGN_MASTER_KEY"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.unixOnly && runtime.GOOS == "windows" {
				t.Skip("no Unix permission bits on Windows")
			}
			k, err := LoadKeyring(tc.env, tc.file)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantID, k.KeyID())
		})
	}
}

func TestGenerateKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	k, err := GenerateKeyFile(path)
	require.NoError(t, err)

	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	}

	loaded, err := LoadKeyring("", path)
	require.NoError(t, err, "a generated file passes the permission check")
	assert.Equal(t, k.KeyID(), loaded.KeyID())
	blob, err := k.Seal([]byte("x"), nil)
	require.NoError(t, err)
	_, err = loaded.Open(blob, nil)
	require.NoError(t, err, "the file holds the returned key")

	_, err = GenerateKeyFile(path)
	require.ErrorIs(t, err, fs.ErrExist, "an existing key is never overwritten")
}

func TestDerive(t *testing.T) {
	k := mustParse(t, "new:"+b64(testKey(2))+",old:"+b64(testKey(1)))
	code := k.Derive("code-hmac")
	session := k.Derive("session")
	assert.Len(t, code, KeySize)
	assert.NotEqual(t, code, session, "purposes are independent")
	assert.Equal(t, code, k.Derive("code-hmac"), "derivation is deterministic")
	assert.NotEqual(t, testKey(2), code, "the master key is never handed out")

	other := mustParse(t, "new:"+b64(testKey(3)))
	assert.NotEqual(t, code, other.Derive("code-hmac"), "a different master gives a different key")

	all := k.DeriveAll("session")
	require.Len(t, all, 2)
	assert.Equal(t, session, all[0], "primary first")
	assert.Equal(t, mustParse(t, "old:"+b64(testKey(1))).Derive("session"), all[1])

	assert.Panics(t, func() { (&Keyring{}).Derive("session") })
}

func TestKeyringRedacts(t *testing.T) {
	key := testKey(0x5A)
	k := mustParse(t, "k1:"+b64(key))
	leaks := []string{b64(key), hex.EncodeToString(key), fmt.Sprint(key), string(key), "0x5a", "90, 90"}

	var logBuf bytes.Buffer
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("loaded", "keyring", k)
	var jsonBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&jsonBuf, nil)).Info("loaded", "keyring", *k)

	outputs := map[string]string{
		"%v":        fmt.Sprintf("%v", k),
		"%+v":       fmt.Sprintf("%+v", k),
		"%#v":       fmt.Sprintf("%#v", k),
		"%#v value": fmt.Sprintf("%#v", *k),
		"%v value":  fmt.Sprintf("%v", *k),
		"%x":        fmt.Sprintf("%x", *k),
		"%d":        fmt.Sprintf("%d", *k),
		"%s":        fmt.Sprintf("%s", k),
		"slog text": logBuf.String(),
		"slog json": jsonBuf.String(),
	}
	for name, out := range outputs {
		t.Run(name, func(t *testing.T) {
			assert.Contains(t, out, "k1", "the key id is shown")
			for _, leak := range leaks {
				assert.NotContains(t, strings.ToLower(out), strings.ToLower(leak))
			}
		})
	}
}

func TestErrorsDoNotLeak(t *testing.T) {
	key := testKey(0x42)
	k := mustParse(t, "k:"+b64(key))
	blob, err := k.Seal([]byte("TOPSECRETSEED"), []byte("aad"))
	require.NoError(t, err)
	_, err = k.Open(blob, []byte("other"))
	require.Error(t, err)
	for _, leak := range []string{"TOPSECRETSEED", b64(key), hex.EncodeToString(key)} {
		assert.NotContains(t, err.Error(), leak)
	}
	assert.False(t, errors.Is(err, ErrUnknownKey))
}
