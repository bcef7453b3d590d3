package directory

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestResetPassword: a reset really changes the directory (the new
// password binds, the old does not); a password the domain refuses
// changes nothing; must-change makes the next bind fail with "must change".
func TestResetPassword(t *testing.T) {
	f := newFixture(t)
	_, guid := f.addUser("", userSpec{name: "rita", password: "Old!Passw0rd"})
	_, other := f.addUser("", userSpec{name: "otto", password: "Otto!Passw0rd"})
	c := dial(t, testConfig(t, f.ou))
	if err := f.bindAs("rita", "Old!Passw0rd"); err != nil {
		t.Fatalf("bind before reset: %v", err)
	}

	err := c.ResetPassword(guid, "short", false)
	if !errors.Is(err, ErrPasswordPolicy) {
		t.Fatalf("weak password: %v, want ErrPasswordPolicy", err)
	}
	if strings.Contains(err.Error(), "short") {
		t.Errorf("the error repeats the password: %v", err)
	}
	if err := f.bindAs("rita", "Old!Passw0rd"); err != nil {
		t.Errorf("old password after a refused reset: %v", err)
	}

	if err := c.ResetPassword(guid, "Nëw!Passw0rd", false); err != nil {
		t.Fatalf("reset: %v", err)
	}
	if err := f.bindAs("rita", "Nëw!Passw0rd"); err != nil {
		t.Errorf("bind with the new password: %v", err)
	}
	if err := f.bindAs("rita", "Old!Passw0rd"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("bind with the old password: %v, want ErrInvalidCredentials", err)
	}
	if err := f.bindAs("otto", "Otto!Passw0rd"); err != nil {
		t.Errorf("another user's password changed too: %v", err)
	}

	if err := c.ResetPassword(guid, "Third!Passw0rd", true); err != nil {
		t.Fatalf("reset with must-change: %v", err)
	}
	if err := f.bindAs("rita", "Third!Passw0rd"); !errors.Is(err, ErrPasswordExpired) {
		t.Errorf("bind after a must-change reset: %v, want ErrPasswordExpired (data 773)", err)
	}
	r, err := c.Sync(State{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if u := byGUID(r.Users)[guid]; !u.MustChangePassword {
		t.Errorf("after a must-change reset the sync says %+v", u)
	}
	_ = other
}

// TestResetRefusals: unknown users, users outside the included OUs and
// malformed GUIDs are refused before anything is written.
func TestResetRefusals(t *testing.T) {
	f := newFixture(t)
	inside := f.addOU("In", f.ou)
	outside := f.addOU("Out", f.ou)
	_, out := f.addUser(outside, userSpec{name: "olga", password: "Olga!Passw0rd"})
	c := dial(t, testConfig(t, inside))
	if err := c.ResetPassword(out, "Fresh!Passw0rd", false); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("user outside the OUs: %v, want ErrNoSuchUser", err)
	}
	if err := f.bindAs("olga", "Olga!Passw0rd"); err != nil {
		t.Errorf("the refused reset changed the password: %v", err)
	}
	if err := c.Unlock("01234567-89ab-cdef-0123-456789abcdef"); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("unknown GUID: %v, want ErrNoSuchUser", err)
	}
	if err := c.Unlock("not-a-guid"); err == nil || !strings.Contains(err.Error(), "malformed GUID") {
		t.Errorf("malformed GUID: %v", err)
	}
	if err := c.ResetPassword(out, "", false); err == nil {
		t.Error("empty password accepted")
	}
	plain := &Conn{cfg: c.cfg, l: c.l}
	if err := plain.ResetPassword(out, "Fresh!Passw0rd", false); !errors.Is(err, ErrNotEncrypted) {
		t.Errorf("reset on a plain connection: %v, want ErrNotEncrypted", err)
	}
	if err := plain.Unlock(out); !errors.Is(err, ErrNotEncrypted) {
		t.Errorf("unlock on a plain connection: %v, want ErrNotEncrypted", err)
	}
}

// TestUnlock: three bad binds lock the account (the domain's threshold),
// the right password is then refused as locked, the sync reports it
// locked, and Unlock lets the user in again.
func TestUnlock(t *testing.T) {
	f := newFixture(t)
	_, guid := f.addUser("", userSpec{name: "lou", password: "Lou!Passw0rd"})
	c := dial(t, testConfig(t, f.ou))
	for i := 0; i < 3; i++ {
		if err := f.bindAs("lou", "Wrong!Passw0rd"); !errors.Is(err, ErrInvalidCredentials) && !errors.Is(err, ErrAccountLocked) {
			t.Fatalf("bad bind %d: %v", i, err)
		}
	}
	if err := f.bindAs("lou", "Lou!Passw0rd"); !errors.Is(err, ErrAccountLocked) {
		t.Fatalf("right password on a locked account: %v, want ErrAccountLocked", err)
	}
	r, err := c.Sync(State{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if u := byGUID(r.Users)[guid]; !u.Locked {
		t.Errorf("sync of a locked user: %+v", u)
	}
	if err := c.Unlock(guid); err != nil {
		t.Fatalf("unlock: %v", err)
	}
	if err := f.bindAs("lou", "Lou!Passw0rd"); err != nil {
		t.Errorf("bind after unlock: %v", err)
	}
	r, err = c.Sync(r.State, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if u, ok := byGUID(r.Users)[guid]; !ok || u.Locked {
		t.Errorf("incremental sync after unlock: %+v (present %v), want unlocked", u, ok)
	}
}
