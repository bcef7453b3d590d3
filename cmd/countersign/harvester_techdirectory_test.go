package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/agent"
	"github.com/countersign/countersign/agent/directory"
)

// samba is an administrator's connection to the test AD DC (the Samba one
// scripts/samba-ad.sh starts; scripts/test.sh exports its variables), with
// a private OU removed when the test ends.
type samba struct {
	t      *testing.T
	l      *ldap.Conn
	cfg    directory.Config // the service account, harvesting ou
	ou     string
	domain string
	prefix string
}

func newSamba(t *testing.T) *samba {
	t.Helper()
	u := os.Getenv("COUNTERSIGN_TEST_AD_URL")
	if u == "" {
		if os.Getenv("COUNTERSIGN_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("COUNTERSIGN_TEST_AD_URL is not set and COUNTERSIGN_TEST_REQUIRE_SERVICES=1: start a DC with scripts/samba-ad.sh start DIR 127.0.0.117 and eval its output")
		}
		t.Skip("no AD DC: set COUNTERSIGN_TEST_AD_URL etc. (eval \"$(scripts/samba-ad.sh start DIR 127.0.0.117)\", as root)")
	}
	ca, err := os.ReadFile(os.Getenv("COUNTERSIGN_TEST_AD_CA"))
	require.NoError(t, err, "COUNTERSIGN_TEST_AD_CA")
	cfg := directory.Config{URL: u, CAPEM: ca, ServerName: os.Getenv("COUNTERSIGN_TEST_AD_SERVERNAME"),
		BindUser: os.Getenv("COUNTERSIGN_TEST_AD_BIND"), BindPassword: os.Getenv("COUNTERSIGN_TEST_AD_PASSWORD")}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	l, err := ldap.DialURL(u, ldap.DialWithTLSConfig(&tls.Config{RootCAs: pool, ServerName: cfg.ServerName}))
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	require.NoError(t, l.Bind(cfg.BindUser, cfg.BindPassword))
	res, err := l.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"defaultNamingContext"}, nil))
	require.NoError(t, err)
	base := res.Entries[0].GetAttributeValue("defaultNamingContext")
	var b [4]byte
	_, _ = rand.Read(b[:])
	s := &samba{t: t, l: l, prefix: "t" + hex.EncodeToString(b[:]),
		domain: strings.ToLower(strings.ReplaceAll(strings.ReplaceAll(base, "DC=", ""), ",", "."))}
	s.ou = "OU=" + s.prefix + "," + base
	add := ldap.NewAddRequest(s.ou, nil)
	add.Attribute("objectClass", []string{"organizationalUnit"})
	require.NoError(t, l.Add(add))
	t.Cleanup(func() {
		if err := l.Del(ldap.NewDelRequest(s.ou, []ldap.Control{ldap.NewControlSubtreeDelete()})); err != nil {
			t.Errorf("delete %s: %v", s.ou, err)
		}
	})
	cfg.OUs = []string{s.ou}
	s.cfg = cfg
	return s
}

// addUser creates an enabled user name (prefixed) with password and mail,
// and returns its sAMAccountName.
func (s *samba) addUser(name, given, surname, password, mail string) string {
	s.t.Helper()
	sam := s.prefix + name
	req := ldap.NewAddRequest("CN="+sam+","+s.ou, nil)
	req.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user"})
	req.Attribute("sAMAccountName", []string{sam})
	req.Attribute("userPrincipalName", []string{sam + "@" + s.domain})
	req.Attribute("givenName", []string{given})
	req.Attribute("sn", []string{surname})
	req.Attribute("displayName", []string{given + " " + surname})
	req.Attribute("mail", []string{mail})
	req.Attribute("unicodePwd", []string{string(directory.EncodeUnicodePwd(password))})
	req.Attribute("userAccountControl", []string{"512"})
	require.NoError(s.t, s.l.Add(req))
	return sam
}

// bindAs tries a bind as the user over LDAPS and returns the classified error.
func (s *samba) bindAs(sam, password string) error {
	cfg := s.cfg
	cfg.BindUser, cfg.BindPassword = sam+"@"+s.domain, password
	c, err := directory.Dial(cfg)
	if err == nil {
		c.Close()
	}
	return err
}

// TestHarvesterTechResetSamba: a technician's reset and unlock carried out
// against a real AD DC, end to end. The harvester (the real agent code,
// over the agent API) syncs the user from Samba; an admin binds it to Sam;
// the technician verifies Sam by SMS code and resets the password to a
// typed one: the harvester's task loop sets it over LDAPS, the new
// password binds and the old does not. Three bad binds lock the account
// (the domain's threshold); Unlock with the same verification lets Sam in
// again. A second verification resets to a generated password with
// must-change: the generated one is the password now, and must be changed.
func TestHarvesterTechResetSamba(t *testing.T) {
	dc := newSamba(t)
	const oldPw = "Old!Passw0rd-17"
	sam := dc.addUser("sam", "Sam", "Caller", oldPw, "sam@contoso.example")
	s := startServer(t)
	status, body := s.API.do("GET", "/clients/"+s.ClientID+"/activation-key", nil)
	require.Equal(t, http.StatusOK, status, body)
	client := &agent.Client{ServerURL: "http://" + s.Addr}
	_, _, err := client.Activate(t.Context(), body["activation_key"].(string), agent.Report{Name: "CORP-DC1", OS: "Windows Server 2022"})
	require.NoError(t, err)
	h := &agent.Harvester{Client: client, State: agent.FileState(filepath.Join(t.TempDir(), "harvester.json")),
		Dial:       func() (agent.Syncer, error) { return directory.Dial(dc.cfg) },
		DialWriter: func() (agent.DirectoryWriter, error) { return directory.Dial(dc.cfg) },
		PollWait:   time.Second}
	sum, err := h.Once(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, sum.Total, "the test OU holds Sam alone")
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan error, 1)
	go func() { ran <- h.RunTasks(ctx) }()
	t.Cleanup(func() { cancel(); <-ran })

	status, body = s.API.do("GET", "/clients/"+s.ClientID+"/directory/matches", nil)
	require.Equal(t, http.StatusOK, status, body)
	rows, _ := body["matches"].([]any)
	require.Len(t, rows, 1, "%v", body)
	guid, _ := rows[0].(map[string]any)["guid"].(string)
	require.NotEmpty(t, guid, "%v", rows[0])
	status, body = s.API.do("POST", "/clients/"+s.ClientID+"/directory/matches", map[string]any{
		"choices": []map[string]any{{"guid": guid, "contact_id": s.ContactID, "accept": true}}})
	require.Equal(t, http.StatusNoContent, status, body)

	// verify verifies Sam by SMS code as the API's technician.
	verify := func() string {
		t.Helper()
		status, body := s.API.do("GET", "/contacts/"+s.ContactID, nil)
		require.Equal(t, http.StatusOK, status, body)
		var dest string
		for _, d := range body["destinations"].([]any) {
			if m := d.(map[string]any); m["kind"] == "phone" {
				dest = m["id"].(string)
			}
		}
		seen := len(s.Twilio.Messages())
		status, body = s.API.do("POST", "/verifications", map[string]any{"contact_id": s.ContactID, "destination_id": dest, "method": "sms_code"})
		require.Equal(t, http.StatusCreated, status, body)
		id := body["id"].(string)
		code := s.WaitForSMSCode(t, "+15550100142", seen)
		status, body = s.API.do("POST", "/verifications/"+id+"/check", map[string]any{"code": code})
		require.Equal(t, http.StatusOK, status, body)
		require.Equal(t, "verified", body["status"])
		return id
	}
	// act asks for a reset or unlock and waits for the harvester's result.
	act := func(vid string, req map[string]any) map[string]any {
		t.Helper()
		req["contact_id"] = s.ContactID
		status, done := s.API.do("POST", "/verifications/"+vid+"/directory", req)
		require.Equal(t, http.StatusCreated, status, done)
		reqID := done["request"].(map[string]any)["id"]
		deadline := time.Now().Add(waitTimeout)
		for time.Now().Before(deadline) {
			status, body := s.API.do("GET", "/verifications/"+vid+"/directory", nil)
			require.Equal(t, http.StatusOK, status, body)
			for _, r := range body["requests"].([]any) {
				m := r.(map[string]any)
				if m["id"] == reqID && m["status"] != "queued" {
					require.Equal(t, "done", m["status"], "%v", m)
					return done
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("the harvester never reported %v", req)
		return nil
	}

	vid := verify()
	const typed = "Fresh!Tulip-2026"
	act(vid, map[string]any{"action": "reset", "password": typed, "must_change": false})
	assert.NoError(t, dc.bindAs(sam, typed), "the typed password binds")
	assert.ErrorIs(t, dc.bindAs(sam, oldPw), directory.ErrInvalidCredentials, "the old one does not")

	for range 3 {
		err := dc.bindAs(sam, "Wrong!Passw0rd-1")
		require.True(t, errors.Is(err, directory.ErrInvalidCredentials) || errors.Is(err, directory.ErrAccountLocked), "%v", err)
	}
	require.ErrorIs(t, dc.bindAs(sam, typed), directory.ErrAccountLocked, "three bad binds lock the account")
	act(vid, map[string]any{"action": "unlock"})
	assert.NoError(t, dc.bindAs(sam, typed), "unlocked")

	status, body = s.API.do("POST", "/verifications/"+vid+"/directory", map[string]any{"contact_id": s.ContactID, "action": "unlock"})
	assert.Equal(t, http.StatusConflict, status, "one unlock per verification: %v", body)

	done := act(verify(), map[string]any{"action": "reset", "generate": true, "must_change": true})
	generated, _ := done["password"].(string)
	require.NotEmpty(t, generated)
	assert.ErrorIs(t, dc.bindAs(sam, generated), directory.ErrPasswordExpired, "the generated password is set, to be changed at next logon")
	assert.ErrorIs(t, dc.bindAs(sam, typed), directory.ErrInvalidCredentials)
}
