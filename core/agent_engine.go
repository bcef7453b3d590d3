package core

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Agent credentials. Both carry 256 random bits, so SHA-256 is the right
// hash for them (as for link tokens): nothing to slow down a guesser of.
const (
	// activationKeyPrefix starts every activation key, so that a key pasted
	// into the wrong field is recognisable.
	activationKeyPrefix = "csk_"
	// deviceCredentialPrefix starts every device credential:
	// "csd1.<device id>.<secret>".
	deviceCredentialPrefix = "csd1."
	secretBytes            = 32
)

var secretEncoding = base64.RawURLEncoding

func newAgentSecret(r io.Reader) (string, error) {
	b := make([]byte, secretBytes)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("core: random secret: %w", err)
	}
	return secretEncoding.EncodeToString(b), nil
}

func secretHash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func activationKeyAAD(tenantID, clientID string) []byte {
	return []byte("activation-key/" + tenantID + "/" + clientID)
}

// ActivationKey returns the client's agent activation key, creating one the
// first time it is asked for.
func (e *Engine) ActivationKey(ctx context.Context, tenantID, actor, clientID string) (string, error) {
	var key string
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		k, err := tx.ActivationKey(ctx, tenantID, clientID)
		switch {
		case err == nil:
			plain, err := e.cfg.Sealer.Open(k.Sealed, activationKeyAAD(tenantID, clientID))
			if err != nil {
				return fmt.Errorf("core: open activation key: %w", err)
			}
			key = string(plain)
			return nil
		case !isNotFound(err):
			return err
		}
		key, err = e.putActivationKey(ctx, tx, tenantID, actor, clientID, AuditAgentKeyCreated)
		return err
	})
	return key, err
}

// RotateActivationKey replaces a client's activation key. Devices already
// activated keep working (they hold their own credentials); the old key
// activates nothing from now on.
func (e *Engine) RotateActivationKey(ctx context.Context, tenantID, actor, clientID string) (string, error) {
	var key string
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		var err error
		key, err = e.putActivationKey(ctx, tx, tenantID, actor, clientID, AuditAgentKeyRotated)
		return err
	})
	return key, err
}

func (e *Engine) putActivationKey(ctx context.Context, tx Tx, tenantID, actor, clientID, action string) (string, error) {
	if _, err := tx.Client(ctx, tenantID, clientID); err != nil {
		return "", err
	}
	s, err := newAgentSecret(e.cfg.Rand)
	if err != nil {
		return "", err
	}
	key := activationKeyPrefix + s
	sealed, err := e.cfg.Sealer.Seal([]byte(key), activationKeyAAD(tenantID, clientID))
	if err != nil {
		return "", fmt.Errorf("core: seal activation key: %w", err)
	}
	k := ActivationKey{TenantID: tenantID, ClientID: clientID, Hash: secretHash(key), Sealed: sealed, CreatedAt: e.Now()}
	if err := tx.PutActivationKey(ctx, &k); err != nil {
		return "", err
	}
	return key, e.audit(ctx, tx, tenantID, actor, action, clientID, nil)
}

// DeviceReport is what an agent says about its machine, at activation and
// in every heartbeat.
type DeviceReport struct {
	Name         string
	OS           string
	Domain       string
	AgentVersion string
	Users        []DeviceUser // TenantID, DeviceID and SeenAt are filled in by the engine
}

// Limits on what a device may report.
const (
	maxDeviceField = 128
	maxDeviceUsers = 500
)

// sidRE matches a Windows SID in string form (MS-DTYP 2.4.2.1).
var sidRE = regexp.MustCompile(`^S-1-\d{1,14}(-\d{1,10}){0,15}$`)

// ValidSID reports whether s is a SID in string form, e.g. S-1-5-21-…-1001.
func ValidSID(s string) bool { return sidRE.MatchString(s) }

// check validates and trims r in place.
func (r *DeviceReport) check() error {
	for _, f := range []struct {
		name string
		p    *string
	}{{"name", &r.Name}, {"os", &r.OS}, {"domain", &r.Domain}, {"agent_version", &r.AgentVersion}} {
		*f.p = strings.TrimSpace(*f.p)
		if utf8.RuneCountInString(*f.p) > maxDeviceField || !utf8.ValidString(*f.p) {
			return Errorf(KindInvalid, "device %s must be valid text of at most %d characters", f.name, maxDeviceField)
		}
	}
	if r.Name == "" {
		return Errorf(KindInvalid, "device name is required")
	}
	if len(r.Users) > maxDeviceUsers {
		return Errorf(KindInvalid, "a device may report at most %d users", maxDeviceUsers)
	}
	seen := map[string]bool{}
	for i := range r.Users {
		u := &r.Users[i]
		if !ValidSID(u.SID) {
			return Errorf(KindInvalid, "user %d: %q is not a Windows SID (S-1-5-21-…)", i+1, u.SID)
		}
		if seen[u.SID] {
			return Errorf(KindInvalid, "user %s is reported twice", u.SID)
		}
		seen[u.SID] = true
		for _, p := range []*string{&u.Account, &u.UPN, &u.DisplayName} {
			*p = strings.TrimSpace(*p)
			if utf8.RuneCountInString(*p) > maxDeviceField || !utf8.ValidString(*p) {
				return Errorf(KindInvalid, "user %s: names must be valid text of at most %d characters", u.SID, maxDeviceField)
			}
		}
	}
	return nil
}

// Activate exchanges a client's activation key for a new device and its
// credential, which is returned once and never stored in plaintext. An
// unknown key is ErrUnauthorized; callers rate-limit failures by source.
func (e *Engine) Activate(ctx context.Context, key string, rep DeviceReport) (Device, string, error) {
	key = strings.TrimSpace(key)
	if !strings.HasPrefix(key, activationKeyPrefix) || len(key) > 100 {
		return Device{}, "", Errorf(KindUnauthorized, "activation key not recognised; copy the client's key from the console (Agents page)")
	}
	if err := rep.check(); err != nil {
		return Device{}, "", err
	}
	secret, err := newAgentSecret(e.cfg.Rand)
	if err != nil {
		return Device{}, "", err
	}
	var d Device
	err = e.cfg.Store.Update(ctx, func(tx Tx) error {
		k, err := tx.ActivationKeyByHash(ctx, secretHash(key))
		if isNotFound(err) {
			return Errorf(KindUnauthorized, "activation key not recognised; copy the client's key from the console (Agents page)")
		}
		if err != nil {
			return err
		}
		now := e.Now()
		d = Device{ID: NewID("dev"), TenantID: k.TenantID, ClientID: k.ClientID, Name: rep.Name, OS: rep.OS,
			Domain: rep.Domain, AgentVersion: rep.AgentVersion, CredentialHash: secretHash(secret),
			CreatedAt: now, LastSeenAt: now}
		if err := tx.CreateDevice(ctx, &d); err != nil {
			return err
		}
		if err := e.putUsers(ctx, tx, d, rep.Users, now); err != nil {
			return err
		}
		return e.audit(ctx, tx, d.TenantID, deviceActor(d.ID), AuditAgentActivated, d.ID,
			map[string]string{"client": d.ClientID, "name": d.Name, "os": d.OS, "domain": d.Domain})
	})
	if err != nil {
		return Device{}, "", err
	}
	return d, deviceCredentialPrefix + d.ID + "." + secret, nil
}

func (e *Engine) putUsers(ctx context.Context, tx Tx, d Device, users []DeviceUser, now time.Time) error {
	us := make([]DeviceUser, len(users))
	for i, u := range users {
		u.SeenAt = now
		us[i] = u
	}
	return tx.PutDeviceUsers(ctx, d.TenantID, d.ID, us)
}

func deviceActor(id string) string { return "device:" + id }

// errDeviceAuth is the one answer to every failed device authentication, so
// that nothing tells an unknown device from a revoked one or a wrong secret.
var errDeviceAuth = Errorf(KindUnauthorized, "device not recognised; reinstall the agent with the client's activation key")

// AuthenticateDevice checks a device credential and returns its device. A
// malformed, unknown, wrong or revoked credential is ErrUnauthorized with one
// message; the use of a revoked device's real credential is audited, since
// it means a copy survived the revocation.
func (e *Engine) AuthenticateDevice(ctx context.Context, credential string) (Device, error) {
	rest, ok := strings.CutPrefix(credential, deviceCredentialPrefix)
	if !ok || len(credential) > 200 {
		return Device{}, errDeviceAuth
	}
	id, secret, ok := strings.Cut(rest, ".")
	if !ok || id == "" || secret == "" {
		return Device{}, errDeviceAuth
	}
	var d Device
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		d, err = tx.DeviceForAuth(ctx, id)
		return err
	})
	if isNotFound(err) {
		return Device{}, errDeviceAuth
	}
	if err != nil {
		return Device{}, err
	}
	if subtle.ConstantTimeCompare(secretHash(secret), d.CredentialHash) != 1 {
		return Device{}, errDeviceAuth
	}
	if d.Revoked() {
		if err := e.Audit(ctx, d.TenantID, deviceActor(d.ID), AuditAgentRevokedCredentialUsed, d.ID, nil); err != nil {
			e.log.WarnContext(ctx, "audit revoked device", "device", d.ID, "err", err)
		}
		return Device{}, errDeviceAuth
	}
	return d, nil
}

// Heartbeat records what a device reports: its names and the users seen on
// it (replacing the previous list).
func (e *Engine) Heartbeat(ctx context.Context, d Device, rep DeviceReport) (Device, error) {
	if err := rep.check(); err != nil {
		return Device{}, err
	}
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		cur, err := tx.Device(ctx, d.TenantID, d.ID)
		if err != nil {
			return err
		}
		if cur.Revoked() {
			return errDeviceAuth
		}
		now := e.Now()
		cur.Name, cur.OS, cur.Domain, cur.AgentVersion, cur.LastSeenAt = rep.Name, rep.OS, rep.Domain, rep.AgentVersion, now
		if err := tx.UpdateDevice(ctx, &cur); err != nil {
			return err
		}
		d = cur
		return e.putUsers(ctx, tx, cur, rep.Users, now)
	})
	return d, err
}

// RevokeDevice revokes a device's credential: from now on every request
// with it is refused, and its use is audited.
func (e *Engine) RevokeDevice(ctx context.Context, tenantID, actor, deviceID string) error {
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		d, err := tx.Device(ctx, tenantID, deviceID)
		if err != nil {
			return err
		}
		if d.Revoked() {
			return Errorf(KindConflict, "device %s is already revoked", d.Name)
		}
		d.RevokedAt = e.Now()
		if err := tx.UpdateDevice(ctx, &d); err != nil {
			return err
		}
		return e.audit(ctx, tx, tenantID, actor, AuditAgentRevoked, d.ID, map[string]string{"name": d.Name})
	})
	if err == nil {
		e.agents.wake(deviceID) // end its long-poll now
	}
	return err
}

// Devices returns a client's devices ("" for all of the tenant's).
func (e *Engine) Devices(ctx context.Context, tenantID, clientID string) ([]Device, error) {
	var ds []Device
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		ds, err = tx.ListDevices(ctx, tenantID, clientID)
		return err
	})
	return ds, err
}

// DeviceUserView is a user seen on a device with its binding, if any.
type DeviceUserView struct {
	User    DeviceUser
	Binding Binding // zero when unbound
	Contact Contact // the bound (or pending) contact; zero when unbound
}

// Bound reports whether the user is bound (confirmed) to a contact.
func (v DeviceUserView) Bound() bool { return v.Binding.State == BindingConfirmed }

// DeviceDetail returns a device and its users with their bindings.
func (e *Engine) DeviceDetail(ctx context.Context, tenantID, deviceID string) (Device, []DeviceUserView, error) {
	var (
		d     Device
		views []DeviceUserView
	)
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		if d, err = tx.Device(ctx, tenantID, deviceID); err != nil {
			return err
		}
		users, err := tx.DeviceUsers(ctx, tenantID, deviceID)
		if err != nil {
			return err
		}
		views = make([]DeviceUserView, 0, len(users))
		for _, u := range users {
			v := DeviceUserView{User: u}
			b, err := tx.Binding(ctx, tenantID, d.ClientID, u.SID)
			switch {
			case err == nil:
				v.Binding = b
				if v.Contact, err = tx.Contact(ctx, tenantID, b.ContactID); err != nil {
					return err
				}
			case !isNotFound(err):
				return err
			}
			views = append(views, v)
		}
		return nil
	})
	return d, views, err
}

// AssignUser binds a user seen on a device to a contact of the device's
// client by hand (the console's "assign user"); it replaces any earlier
// binding of that user and is audited.
func (e *Engine) AssignUser(ctx context.Context, tenantID, actor, deviceID, sid, contactID string) (Binding, error) {
	var b Binding
	err := e.cfg.Store.Update(ctx, func(tx Tx) error {
		d, err := tx.Device(ctx, tenantID, deviceID)
		if err != nil {
			return err
		}
		if !e.seenOn(ctx, tx, d, sid) {
			return Errorf(KindNotFound, "user %s has not been seen on %s", sid, d.Name)
		}
		c, err := tx.Contact(ctx, tenantID, contactID)
		if err != nil {
			return err
		}
		if c.ClientID != d.ClientID {
			return Errorf(KindInvalid, "%s is a contact of another client than %s's", c.Name(), d.Name)
		}
		b, err = e.bind(ctx, tx, d, sid, c, BindManual, actor)
		return err
	})
	return b, err
}

// seenOn reports whether sid was reported on device d.
func (e *Engine) seenOn(ctx context.Context, tx Tx, d Device, sid string) bool {
	users, err := tx.DeviceUsers(ctx, d.TenantID, d.ID)
	if err != nil {
		return false
	}
	for _, u := range users {
		if u.SID == sid {
			return true
		}
	}
	return false
}

// bind writes a confirmed binding and audits it.
func (e *Engine) bind(ctx context.Context, tx Tx, d Device, sid string, c Contact, how BindingHow, actor string) (Binding, error) {
	now := e.Now()
	b := Binding{TenantID: d.TenantID, ClientID: d.ClientID, SID: sid, ContactID: c.ID, How: how,
		State: BindingConfirmed, By: actor, CreatedAt: now, ConfirmedAt: now}
	prev, err := tx.Binding(ctx, d.TenantID, d.ClientID, sid)
	if err != nil && !isNotFound(err) {
		return Binding{}, err
	}
	if err := tx.PutBinding(ctx, &b); err != nil {
		return Binding{}, err
	}
	detail := map[string]string{"sid": sid, "contact": c.ID, "how": string(how), "device": d.ID, "client": d.ClientID}
	if prev.ContactID != "" && prev.ContactID != c.ID {
		detail["replaced_contact"] = prev.ContactID
	}
	return b, e.audit(ctx, tx, d.TenantID, actor, AuditBindingConfirmed, sid, detail)
}

// UserBinding returns the binding of a user of device d and its contact;
// ErrNotFound when the user is not bound.
func (e *Engine) UserBinding(ctx context.Context, d Device, sid string) (Binding, Contact, error) {
	var (
		b Binding
		c Contact
	)
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		if b, err = tx.Binding(ctx, d.TenantID, d.ClientID, sid); err != nil {
			return err
		}
		if b.State != BindingConfirmed {
			return Errorf(KindNotFound, "user is not bound yet")
		}
		c, err = tx.Contact(ctx, d.TenantID, b.ContactID)
		return err
	})
	return b, c, err
}
