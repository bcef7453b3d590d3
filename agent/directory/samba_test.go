package directory

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// The tests in this package run against a real AD DC, normally the Samba
// one scripts/samba-ad.sh starts (scripts/test.sh does it and exports the
// variables below). Without it they skip, unless
// COUNTERSIGN_TEST_REQUIRE_SERVICES=1 makes a missing DC a failure.

// testConfig is the service-account config of the test DC, harvesting ous.
func testConfig(t testing.TB, ous ...string) Config {
	t.Helper()
	u := os.Getenv("COUNTERSIGN_TEST_AD_URL")
	if u == "" {
		if os.Getenv("COUNTERSIGN_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("COUNTERSIGN_TEST_AD_URL is not set and COUNTERSIGN_TEST_REQUIRE_SERVICES=1: start a DC with scripts/samba-ad.sh start DIR 127.0.0.117 and eval its output")
		}
		t.Skip("no AD DC: set COUNTERSIGN_TEST_AD_URL etc. (eval \"$(scripts/samba-ad.sh start DIR 127.0.0.117)\", as root)")
	}
	ca, err := os.ReadFile(os.Getenv("COUNTERSIGN_TEST_AD_CA"))
	if err != nil {
		t.Fatalf("COUNTERSIGN_TEST_AD_CA: %v", err)
	}
	return Config{
		URL:          u,
		CAPEM:        ca,
		ServerName:   os.Getenv("COUNTERSIGN_TEST_AD_SERVERNAME"),
		BindUser:     os.Getenv("COUNTERSIGN_TEST_AD_BIND"),
		BindPassword: os.Getenv("COUNTERSIGN_TEST_AD_PASSWORD"),
		OUs:          ous,
	}
}

// fixture is an administrator's raw connection for arranging the
// directory, with a private OU that is removed when the test ends.
type fixture struct {
	t      testing.TB
	l      *ldap.Conn
	cfg    Config
	base   string // the domain's DN
	ou     string // this test's OU
	prefix string // unique sAMAccountName prefix
	domain string // DNS domain, for UPNs
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	cfg := testConfig(t)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(cfg.CAPEM)
	l, err := ldap.DialURL(cfg.URL, ldap.DialWithTLSConfig(&tls.Config{RootCAs: pool, ServerName: cfg.ServerName}))
	if err != nil {
		t.Fatalf("dial %s: %v", cfg.URL, err)
	}
	t.Cleanup(func() { l.Close() })
	if err := l.Bind(cfg.BindUser, cfg.BindPassword); err != nil {
		t.Fatalf("bind: %v", err)
	}
	res, err := l.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"defaultNamingContext"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	base := res.Entries[0].GetAttributeValue("defaultNamingContext")
	var b [4]byte
	rand.Read(b[:])
	f := &fixture{t: t, l: l, cfg: cfg, base: base, prefix: "t" + hex.EncodeToString(b[:]),
		domain: strings.ToLower(strings.ReplaceAll(strings.ReplaceAll(base, "DC=", ""), ",", "."))}
	f.ou = f.addOU(f.prefix, base)
	t.Cleanup(func() { f.deleteTree(f.ou) })
	return f
}

func (f *fixture) addOU(name, parent string) string {
	f.t.Helper()
	dn := "OU=" + ldap.EscapeDN(name) + "," + parent
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"organizationalUnit"})
	if err := f.l.Add(req); err != nil {
		f.t.Fatalf("add %s: %v", dn, err)
	}
	return dn
}

func (f *fixture) deleteTree(dn string) {
	req := ldap.NewDelRequest(dn, []ldap.Control{ldap.NewControlSubtreeDelete()})
	if err := f.l.Del(req); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		f.t.Errorf("delete %s: %v", dn, err)
	}
}

// userSpec describes a user to create.
type userSpec struct {
	name     string // short name; the sAMAccountName is prefix+name
	password string
	mail     string
	proxies  []string
	mobile   string
	phone    string
	uac      int // 0 means 512 (normal, enabled)
}

// addUser creates a user in parent (the test's OU when "") and returns its
// DN and objectGUID.
func (f *fixture) addUser(parent string, s userSpec) (dn, guid string) {
	f.t.Helper()
	if parent == "" {
		parent = f.ou
	}
	sam := f.prefix + s.name
	dn = "CN=" + ldap.EscapeDN(sam) + "," + parent
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user"})
	req.Attribute("sAMAccountName", []string{sam})
	req.Attribute("userPrincipalName", []string{sam + "@" + f.domain})
	req.Attribute("givenName", []string{strings.ToUpper(s.name[:1]) + s.name[1:]})
	req.Attribute("sn", []string{"Tester"})
	req.Attribute("displayName", []string{s.name + " Tester"})
	if s.mail != "" {
		req.Attribute("mail", []string{s.mail})
	}
	if len(s.proxies) > 0 {
		req.Attribute("proxyAddresses", s.proxies)
	}
	if s.mobile != "" {
		req.Attribute("mobile", []string{s.mobile})
	}
	if s.phone != "" {
		req.Attribute("telephoneNumber", []string{s.phone})
	}
	pw := s.password
	if pw == "" {
		pw = "Initial!Pw1"
	}
	req.Attribute("unicodePwd", []string{string(EncodeUnicodePwd(pw))})
	uac := s.uac
	if uac == 0 {
		uac = 512
	}
	req.Attribute("userAccountControl", []string{fmt.Sprint(uac)})
	if err := f.l.Add(req); err != nil {
		f.t.Fatalf("add user %s: %v", dn, err)
	}
	return dn, f.guidOf(dn)
}

func (f *fixture) guidOf(dn string) string {
	f.t.Helper()
	res, err := f.l.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"objectGUID"}, nil))
	if err != nil {
		f.t.Fatalf("read %s: %v", dn, err)
	}
	g, err := GUIDString(res.Entries[0].GetRawAttributeValue("objectGUID"))
	if err != nil {
		f.t.Fatal(err)
	}
	return g
}

func (f *fixture) attr(dn, name string) string {
	f.t.Helper()
	res, err := f.l.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{name}, nil))
	if err != nil {
		f.t.Fatalf("read %s: %v", dn, err)
	}
	return res.Entries[0].GetAttributeValue(name)
}

func (f *fixture) modify(dn string, attr string, vals ...string) {
	f.t.Helper()
	req := ldap.NewModifyRequest(dn, nil)
	req.Replace(attr, vals)
	if err := f.l.Modify(req); err != nil {
		f.t.Fatalf("modify %s %s: %v", dn, attr, err)
	}
}

func (f *fixture) del(dn string) {
	f.t.Helper()
	if err := f.l.Del(ldap.NewDelRequest(dn, nil)); err != nil {
		f.t.Fatalf("delete %s: %v", dn, err)
	}
}

func (f *fixture) move(dn, newParent string) string {
	f.t.Helper()
	rdn := strings.SplitN(dn, ",", 2)[0]
	if err := f.l.ModifyDN(ldap.NewModifyDNRequest(dn, rdn, true, newParent)); err != nil {
		f.t.Fatalf("move %s: %v", dn, err)
	}
	return rdn + "," + newParent
}

// bindAs tries a simple bind as the user over LDAPS, returning the
// classified error.
func (f *fixture) bindAs(name, password string) error {
	cfg := f.cfg
	cfg.BindUser = f.prefix + name + "@" + f.domain
	cfg.BindPassword = password
	c, err := Dial(cfg)
	if err == nil {
		c.Close()
	}
	return err
}

// hostPort is the DC's host:port from its URL.
func hostPort(t testing.TB, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if u.Port() == "" {
		return u.Hostname() + ":636"
	}
	return u.Host
}

func newSubtree(base, filter string) *ldap.SearchRequest {
	return ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, []string{"objectGUID"}, nil)
}
