package directory

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func byGUID(us []User) map[string]User {
	m := map[string]User{}
	for _, u := range us {
		m[u.GUID] = u
	}
	return m
}

func dial(t *testing.T, cfg Config) *Conn {
	t.Helper()
	c, err := Dial(cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestSyncFullThenIncremental: a full sync of two chosen OUs (not a third),
// then an incremental one after adds, changes, a delete and moves in and
// out of scope, then one with nothing new.
func TestSyncFullThenIncremental(t *testing.T) {
	f := newFixture(t)
	sales := f.addOU("Sales", f.ou)
	support := f.addOU("Support", f.ou)
	other := f.addOU("Other", f.ou)
	aliceDN, alice := f.addUser(sales, userSpec{name: "alice", mail: "Alice@Corp.Example.Test",
		proxies: []string{"SMTP:alice@corp.example.test", "smtp:a.smith@corp.example.test", "X500:/o=x/cn=alice", "sip:alice@corp"},
		mobile:  "+44 7700 900123", phone: "020 7946 0000"})
	bobDN, bob := f.addUser(support, userSpec{name: "bob", mail: "bob@corp.example.test"})
	_, carol := f.addUser(support, userSpec{name: "carol", uac: 512 | 2}) // disabled
	daveDN, dave := f.addUser(other, userSpec{name: "dave"})
	_, never := f.addUser(sales, userSpec{name: "never", uac: 512 | 0x10000})

	c := dial(t, testConfig(t, sales, support))
	now := time.Now()
	r1, err := c.Sync(State{}, now)
	if err != nil {
		t.Fatalf("full sync: %v", err)
	}
	if !r1.Full || r1.Reason != "first sync" {
		t.Fatalf("first sync: full=%v reason=%q", r1.Full, r1.Reason)
	}
	got := byGUID(r1.Users)
	if len(got) != 4 || got[dave].GUID != "" {
		t.Fatalf("full sync users = %d (dave in: %v), want alice, bob, carol, never", len(got), got[dave].GUID != "")
	}
	a := got[alice]
	if a.SAMAccountName != f.prefix+"alice" || a.UPN != f.prefix+"alice@"+f.domain || a.GivenName != "Alice" ||
		a.Surname != "Tester" || a.DisplayName != "alice Tester" || a.Mail != "alice@corp.example.test" ||
		a.Mobile != "+44 7700 900123" || a.Phone != "020 7946 0000" || !a.Enabled || a.Locked || a.DN != aliceDN {
		t.Errorf("alice = %+v", a)
	}
	if !slices.Equal(a.ProxyAddresses, []string{"alice@corp.example.test", "a.smith@corp.example.test"}) {
		t.Errorf("alice proxy addresses = %q", a.ProxyAddresses)
	}
	if !strings.HasPrefix(a.SID, "S-1-5-21-") || a.SID == got[bob].SID {
		t.Errorf("alice SID = %q (bob %q)", a.SID, got[bob].SID)
	}
	if got[carol].Enabled {
		t.Error("carol is disabled but came back enabled")
	}
	// Expiry: the DC's computed value is pwdLastSet + the domain's 42 days.
	if r1.Policy.MaxPasswordAge != 42*24*time.Hour || r1.Policy.MinPasswordLength != 7 || !r1.Policy.Complexity || r1.Policy.LockoutThreshold != 3 {
		t.Errorf("policy = %+v", r1.Policy)
	}
	if a.PasswordLastSet.IsZero() || !a.PasswordExpiresAt.Equal(a.PasswordLastSet.Add(42*24*time.Hour)) || a.PasswordNeverExpires || a.MustChangePassword {
		t.Errorf("alice password set %v expires %v (never %v, must change %v), want set + 42 days", a.PasswordLastSet, a.PasswordExpiresAt, a.PasswordNeverExpires, a.MustChangePassword)
	}
	if n := got[never]; !n.PasswordNeverExpires || !n.PasswordExpiresAt.IsZero() {
		t.Errorf("DONT_EXPIRE_PASSWORD user: never=%v expires=%v", n.PasswordNeverExpires, n.PasswordExpiresAt)
	}
	if r1.State.DC == "" || r1.State.InvocationID == "" || r1.State.USN == 0 || !r1.State.FullAt.Equal(now) {
		t.Errorf("state = %+v", r1.State)
	}

	// Changes: a new user, a changed mobile, a deletion, one user moved out
	// of scope and one moved in, and one forced to change the password.
	_, erin := f.addUser(sales, userSpec{name: "erin", mail: "erin@corp.example.test"})
	f.modify(aliceDN, "mobile", "+44 7700 900999")
	f.del(bobDN)
	f.move(daveDN, support)
	f.modify(f.move(f.dnOf(never, sales), other), "description", "moved out")
	f.modify(f.dnOf(carol, support), "pwdLastSet", "0")

	r2, err := c.Sync(r1.State, now.Add(time.Minute))
	if err != nil {
		t.Fatalf("incremental sync: %v", err)
	}
	if r2.Full {
		t.Fatalf("second sync was full: %s", r2.Reason)
	}
	got = byGUID(r2.Users)
	want := []string{alice, erin, dave, carol}
	if len(got) != len(want) {
		t.Errorf("incremental users = %d, want %d (alice, erin, dave, carol)", len(got), len(want))
	}
	for _, g := range want {
		if got[g].GUID == "" {
			t.Errorf("incremental sync lacks %s", g)
		}
	}
	if got[alice].Mobile != "+44 7700 900999" {
		t.Errorf("alice's new mobile = %q", got[alice].Mobile)
	}
	if cu := got[carol]; !cu.MustChangePassword || !cu.PasswordExpiresAt.IsZero() {
		t.Errorf("carol after pwdLastSet=0: must change %v, expires %v", cu.MustChangePassword, cu.PasswordExpiresAt)
	}
	for _, g := range []string{bob, never} {
		if !slices.Contains(r2.Removed, g) {
			t.Errorf("removed = %v lacks %s", r2.Removed, g)
		}
	}
	for _, g := range want {
		if slices.Contains(r2.Removed, g) {
			t.Errorf("%s is in scope but reported removed", g)
		}
	}
	if r2.State.USN <= r1.State.USN || !r2.State.FullAt.Equal(now) {
		t.Errorf("state after incremental = %+v (before %+v)", r2.State, r1.State)
	}

	// Nothing changed in scope: no users.
	r3, err := c.Sync(r2.State, now.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if r3.Full || len(r3.Users) != 0 {
		t.Errorf("third sync: full=%v users=%d, want an empty incremental", r3.Full, len(r3.Users))
	}

	// A full sync now has exactly the current set: the set difference
	// finds the deletions even without tombstones.
	r4, err := c.Sync(State{}, now)
	if err != nil {
		t.Fatal(err)
	}
	got = byGUID(r4.Users)
	if len(got) != 4 || got[bob].GUID != "" || got[never].GUID != "" || got[dave].GUID == "" || got[erin].GUID == "" {
		t.Errorf("full sync after changes: %d users", len(got))
	}
}

func (f *fixture) dnOf(guid, parent string) string {
	f.t.Helper()
	filter, _ := guidFilter(guid)
	res, err := f.l.Search(newSubtree(parent, filter))
	if err != nil || len(res.Entries) != 1 {
		f.t.Fatalf("find %s under %s: %v", guid, parent, err)
	}
	return res.Entries[0].DN
}

// TestSyncForcesFull: each reason a previous state cannot be continued.
func TestSyncForcesFull(t *testing.T) {
	f := newFixture(t)
	f.addUser("", userSpec{name: "u1"})
	c := dial(t, testConfig(t, f.ou))
	now := time.Now()
	r, err := c.Sync(State{}, now)
	if err != nil {
		t.Fatal(err)
	}
	good := r.State
	cases := []struct {
		name   string
		mutate func(*State)
		cfgOUs []string
		reason string
	}{
		{"other DC", func(s *State) { s.DC = "dc2." + f.domain }, nil, "DC changed"},
		{"restored DC", func(s *State) { s.InvocationID = "00000000-0000-0000-0000-000000000001" }, nil, "invocationId"},
		{"rollback", func(s *State) { s.USN += 1_000_000 }, nil, "rolled back"},
		{"scope", func(s *State) {}, []string{f.ou, f.base}, "OUs changed"},
		{"old full", func(s *State) { s.FullAt = now.Add(-25 * time.Hour) }, nil, "older than"},
		{"continue", func(s *State) {}, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			tc.mutate(&s)
			cfg := testConfig(t, f.ou)
			if tc.cfgOUs != nil {
				cfg.OUs = tc.cfgOUs
			}
			r, err := dial(t, cfg).Sync(s, now)
			if err != nil {
				t.Fatal(err)
			}
			if tc.reason == "" {
				if r.Full {
					t.Fatalf("full sync (%s), want incremental", r.Reason)
				}
				return
			}
			if !r.Full || !strings.Contains(r.Reason, tc.reason) || len(r.Users) == 0 {
				t.Fatalf("full=%v reason=%q users=%d, want a full sync because %q", r.Full, r.Reason, len(r.Users), tc.reason)
			}
		})
	}
}

// TestConnectErrors: bad passwords, plain LDAP, untrusted certificates,
// OUs that do not exist — each a clear error.
func TestConnectErrors(t *testing.T) {
	base := testConfig(t)
	host := hostPort(t, base.URL)
	h := host[:strings.LastIndex(host, ":")]

	cfg := base
	cfg.BindPassword = "wrong-Password1"
	if _, err := Dial(cfg); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("wrong password: %v, want ErrInvalidCredentials", err)
	}
	cfg = base
	cfg.BindPassword = ""
	if _, err := Dial(cfg); err == nil || !strings.Contains(err.Error(), "password") {
		t.Errorf("empty password: %v", err)
	}
	cfg = base
	cfg.URL = "ldap://" + h + ":389"
	if _, err := Dial(cfg); !errors.Is(err, ErrPlainRefused) {
		t.Errorf("plain ldap: %v, want ErrPlainRefused", err)
	}
	cfg.AllowPlain = true
	if _, err := Dial(cfg); !errors.Is(err, ErrNotEncrypted) {
		t.Errorf("plain ldap allowed: %v, want the DC's strong-auth refusal as ErrNotEncrypted", err)
	}
	cfg.AllowPlain, cfg.StartTLS = false, true
	c, err := Dial(cfg)
	if err != nil {
		t.Errorf("StartTLS: %v", err)
	} else {
		if !c.Encrypted() {
			t.Error("StartTLS connection not marked encrypted")
		}
		c.Close()
	}
	cfg = base
	cfg.CAPEM = nil // the system roots do not know Samba's CA
	if _, err := Dial(cfg); !errors.Is(err, ErrCertificate) {
		t.Errorf("unknown CA: %v, want ErrCertificate", err)
	}
	cfg = base
	cfg.ServerName = "other." + cfg.ServerName
	if _, err := Dial(cfg); !errors.Is(err, ErrCertificate) {
		t.Errorf("wrong name: %v, want ErrCertificate", err)
	}
	cfg = base
	cfg.URL = "ldaps://127.0.0.1:1"
	cfg.Timeout = 2 * time.Second
	if _, err := Dial(cfg); !errors.Is(err, ErrUnreachable) {
		t.Errorf("nothing listening: %v, want ErrUnreachable", err)
	}
	cfg = testConfig(t, "OU=nowhere,"+newFixture(t).base)
	if _, err := dial(t, cfg).Sync(State{}, time.Now()); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing OU: %v", err)
	}
}
