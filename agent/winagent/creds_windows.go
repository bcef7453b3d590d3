//go:build windows

package winagent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"github.com/countersign/countersign/agent"
	"golang.org/x/sys/windows"
)

// credentialSDDL lets only SYSTEM and Administrators read the credential
// file (not inherited from ProgramData, which users can read).
const credentialSDDL = "D:P(A;;FA;;;SY)(A;;FA;;;BA)"

// DPAPIStore keeps a secret in a file, sealed with DPAPI in machine scope
// (CRYPTPROTECT_LOCAL_MACHINE) and readable only by SYSTEM and
// Administrators: the device credential, or the harvester's service
// account password (Purpose).
type DPAPIStore struct {
	Path string // e.g. C:\ProgramData\Countersign\Agent\device.cred
	// Purpose names the secret, and is sealed in with it (DPAPI's
	// optional entropy), so that one secret's file cannot be passed off
	// as another's; "" is the device credential.
	Purpose string
	// PlainPrefix, when set, is how a secret an older version kept in
	// the file unsealed begins (the harvester's device credential,
	// "csd1."): such a file is read and sealed in place. "" reads only
	// sealed files.
	PlainPrefix string
}

// PurposeServiceAccount is the Purpose of the harvester's service
// account password.
const PurposeServiceAccount = "harvester-service-account"

// entropy is the secret's DPAPI entropy.
func (s DPAPIStore) entropy() []byte {
	if s.Purpose == "" {
		return credentialEntropy
	}
	return []byte("countersign-agent-" + s.Purpose)
}

// DefaultCredentialPath is where the service keeps its credential.
func DefaultCredentialPath() string {
	base := os.Getenv("ProgramData")
	if base == "" {
		base = `C:\ProgramData`
	}
	return filepath.Join(base, "Countersign", "Agent", "device.cred")
}

var credentialEntropy = []byte("countersign-agent-device-credential")

// Load implements agent.CredentialStore.
func (s DPAPIStore) Load() (string, error) {
	sealed, err := os.ReadFile(s.Path)
	if errors.Is(err, os.ErrNotExist) {
		return "", agent.ErrNoCredential
	}
	if err != nil {
		return "", fmt.Errorf("winagent: read credential: %w", err)
	}
	plain, err := unprotect(sealed, s.entropy())
	if err != nil && s.PlainPrefix != "" && strings.HasPrefix(string(sealed), s.PlainPrefix) {
		cred := strings.TrimSpace(string(sealed))
		if err := s.Save(cred); err != nil {
			return "", err
		}
		return cred, nil
	}
	if err != nil {
		return "", fmt.Errorf("winagent: unseal credential (was the file copied from another machine?): %w", err)
	}
	return string(plain), nil
}

// Save implements agent.CredentialStore.
func (s DPAPIStore) Save(cred string) error {
	sealed, err := protect([]byte(cred), s.entropy())
	if err != nil {
		return fmt.Errorf("winagent: seal credential: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(s.Path), 0o700); err != nil {
		return fmt.Errorf("winagent: credential directory: %w", err)
	}
	tmp := s.Path + ".new"
	if err := os.WriteFile(tmp, sealed, 0o600); err != nil {
		return fmt.Errorf("winagent: write credential: %w", err)
	}
	if err := restrict(tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, s.Path)
}

// restrict replaces the file's DACL with credentialSDDL's.
func restrict(path string) error {
	sd, err := windows.SecurityDescriptorFromString(credentialSDDL)
	if err != nil {
		return fmt.Errorf("winagent: credential ACL: %w", err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return fmt.Errorf("winagent: credential ACL: %w", err)
	}
	err = windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil)
	if err != nil {
		return fmt.Errorf("winagent: set credential ACL: %w", err)
	}
	return nil
}

func blob(b []byte) *windows.DataBlob {
	if len(b) == 0 {
		return &windows.DataBlob{}
	}
	return &windows.DataBlob{Size: uint32(len(b)), Data: &b[0]}
}

func protect(plain, entropy []byte) ([]byte, error) {
	var out windows.DataBlob
	err := windows.CryptProtectData(blob(plain), nil, blob(entropy), 0, nil,
		windows.CRYPTPROTECT_LOCAL_MACHINE|windows.CRYPTPROTECT_UI_FORBIDDEN, &out)
	if err != nil {
		return nil, err
	}
	defer windows.LocalFree(windows.Handle(unsafe.Pointer(out.Data)))
	return append([]byte(nil), unsafe.Slice(out.Data, out.Size)...), nil
}

func unprotect(sealed, entropy []byte) ([]byte, error) {
	var out windows.DataBlob
	err := windows.CryptUnprotectData(blob(sealed), nil, blob(entropy), 0, nil, windows.CRYPTPROTECT_UI_FORBIDDEN, &out)
	if err != nil {
		return nil, err
	}
	defer windows.LocalFree(windows.Handle(unsafe.Pointer(out.Data)))
	return append([]byte(nil), unsafe.Slice(out.Data, out.Size)...), nil
}

// Interface guard.
var _ agent.CredentialStore = DPAPIStore{}
