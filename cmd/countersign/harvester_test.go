package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/agent"
	"github.com/countersign/countersign/agent/directory"
	"github.com/countersign/countersign/core"
)

// scriptedDirectory is a directory.Conn stand-in answering Sync from a
// script: it records the state each round started from.
type scriptedDirectory struct {
	rounds []func(prev directory.State) (*directory.Result, error)
	seen   []directory.State
}

func (d *scriptedDirectory) dial() (agent.Syncer, error) { return d, nil }
func (d *scriptedDirectory) Close() error                { return nil }
func (d *scriptedDirectory) Sync(prev directory.State, _ time.Time) (*directory.Result, error) {
	d.seen = append(d.seen, prev)
	next := d.rounds[0]
	d.rounds = d.rounds[1:]
	return next(prev)
}

// TestHarvesterRounds: the agent's harvester (activated with the client's
// key through the real agent client) uploads a full sync and then an
// incremental one to the running server, which keeps them for the client;
// a round whose read fails, or whose upload the server refuses, keeps the
// old state, so the next round starts again from it; a restart (a new
// harvester over the same state file) goes on incrementally.
func TestHarvesterRounds(t *testing.T) {
	s := startServer(t)
	status, body := s.API.do("GET", "/clients/"+s.ClientID+"/activation-key", nil)
	require.Equal(t, http.StatusOK, status, body)
	client := &agent.Client{ServerURL: "http://" + s.Addr}
	_, _, err := client.Activate(t.Context(), body["activation_key"].(string), agent.Report{Name: "CONTOSO-DC1", OS: "Windows Server 2022"})
	require.NoError(t, err)

	u := func(guid, sam, mail string) directory.User {
		return directory.User{GUID: guid, SID: "S-1-5-21-7-8-9-" + guid[len(guid)-4:], DN: "CN=" + sam + ",OU=Staff,DC=contoso,DC=example",
			SAMAccountName: sam, DisplayName: sam, Mail: mail, Enabled: true}
	}
	const (
		g1 = "2b3c4d5e-0000-4000-8000-000000001001"
		g2 = "2b3c4d5e-0000-4000-8000-000000001002"
		g3 = "2b3c4d5e-0000-4000-8000-000000001003"
	)
	st1 := directory.State{DC: "dc1.contoso.example", InvocationID: "inv-1", USN: 100, Scope: "s"}
	st2 := st1
	st2.USN = 120
	dir := &scriptedDirectory{rounds: []func(directory.State) (*directory.Result, error){
		func(directory.State) (*directory.Result, error) {
			return &directory.Result{Full: true, Reason: "first sync", State: st1,
				Users: []directory.User{u(g1, "sam", "sam@contoso.example"), u(g2, "pat", ""), u(g3, "lee", "")}}, nil
		},
		func(directory.State) (*directory.Result, error) {
			return nil, errors.New("directory: the DC dropped the connection")
		},
		func(directory.State) (*directory.Result, error) {
			bad := u(g2, "pat", "")
			bad.SID = "not-a-sid"
			return &directory.Result{State: st2, Users: []directory.User{bad}}, nil
		},
		func(directory.State) (*directory.Result, error) {
			return &directory.Result{State: st2, Users: []directory.User{u(g2, "pat", "pat@contoso.example")}, Removed: []string{g3}}, nil
		},
		func(directory.State) (*directory.Result, error) { return &directory.Result{State: st2}, nil },
	}}
	state := agent.FileState(filepath.Join(t.TempDir(), "harvester.json"))
	h := &agent.Harvester{Client: client, Dial: dir.dial, State: state}

	sum, err := h.Once(t.Context())
	require.NoError(t, err)
	assert.Equal(t, agent.DirectorySummary{Full: true, Added: 3, Total: 3}, sum)

	_, err = h.Once(t.Context())
	require.ErrorContains(t, err, "dropped the connection")
	_, err = h.Once(t.Context())
	var apiErr *agent.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusBadRequest, apiErr.Status)
	assert.Contains(t, apiErr.Message, "is not a SID")

	sum, err = h.Once(t.Context())
	require.NoError(t, err)
	assert.Equal(t, agent.DirectorySummary{Changed: 1, Removed: 1, Total: 2}, sum)
	assert.Equal(t, []directory.State{{}, st1, st1, st1}, dir.seen, "failed rounds kept the state they started from")

	// A restart: a new harvester over the same state file goes on from it.
	h = &agent.Harvester{Client: client, Dial: dir.dial, State: state}
	sum, err = h.Once(t.Context())
	require.NoError(t, err)
	assert.Equal(t, agent.DirectorySummary{Total: 2}, sum)
	assert.Equal(t, st2, dir.seen[4])

	_, body = s.API.do("GET", "/clients/"+s.ClientID+"/directory/matches", nil)
	rows := map[string]string{}
	for _, m := range body["matches"].([]any) {
		mm := m.(map[string]any)
		rows[mm["guid"].(string)] = mm["status"].(string)
	}
	assert.Equal(t, map[string]string{g1: "matched", g2: "unmatched"}, rows, "Sam matched by e-mail, Pat unmatched, Lee removed")

	// A revoked or unknown credential is refused as such.
	h.Client = &agent.Client{ServerURL: "http://" + s.Addr, Credential: "csd1.dev_nosuch.AAAA"}
	dir.rounds = append(dir.rounds, func(directory.State) (*directory.Result, error) { return &directory.Result{State: st2}, nil })
	_, err = h.Once(t.Context())
	assert.ErrorIs(t, err, agent.ErrUnauthorized)
}

// fakeWriter is a directory.Conn stand-in for the harvester's tasks: it
// records the changes asked of it and fails the next reset with failReset.
type fakeWriter struct {
	mu        sync.Mutex
	calls     []string
	failReset error
	closed    int
}

func (w *fakeWriter) dial() (agent.DirectoryWriter, error) { return w, nil }
func (w *fakeWriter) Close() error                         { w.mu.Lock(); defer w.mu.Unlock(); w.closed++; return nil }
func (w *fakeWriter) ResetPassword(guid, password string, mustChange bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.failReset; err != nil {
		w.failReset = nil
		return err
	}
	w.calls = append(w.calls, fmt.Sprintf("reset %s %s %t", guid, password, mustChange))
	return nil
}
func (w *fakeWriter) Unlock(guid string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, "unlock "+guid)
	return nil
}
func (w *fakeWriter) done() []string { w.mu.Lock(); defer w.mu.Unlock(); return slices.Clone(w.calls) }

var (
	formNonceRE     = regexp.MustCompile(`name="nonce" value="([^"]+)"`)
	formChallengeRE = regexp.MustCompile(`name="challenge" value="([^"]+)"`)
)

// selfServeRequest goes through the self-serve page over plain HTTP as the
// user: account, the SMS code, the action (and password); it returns the
// status page's path.
func (s *testServer) selfServeRequest(t *testing.T, account, mobile, action, password string) string {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) string {
		t.Helper()
		res, err := c.Get("http://" + s.Addr + path)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode, "%s", b)
		return string(b)
	}
	post := func(path string, f url.Values) (*http.Response, string) {
		t.Helper()
		res, err := c.PostForm("http://"+s.Addr+path, f)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res, string(b)
	}
	page := "/r/" + testTenantSlug
	body := get(page)
	seen := len(s.Twilio.Messages())
	res, body := post(page, url.Values{"nonce": {formNonceRE.FindStringSubmatch(body)[1]}, "account": {account}})
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	code := s.WaitForSMSCode(t, mobile, seen)
	res, body = post(page+"/code", url.Values{"nonce": {formNonceRE.FindStringSubmatch(body)[1]},
		"challenge": {formChallengeRE.FindStringSubmatch(body)[1]}, "account": {account}, "code": {code},
		"action": {action}, "password": {password}, "password2": {password}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, body)
	return res.Header.Get("Location")
}

// waitPage polls a page until it contains text.
func (s *testServer) waitPage(t *testing.T, path, text string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	var last string
	for time.Now().Before(deadline) {
		res, err := http.Get("http://" + s.Addr + path)
		require.NoError(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if last = string(b); strings.Contains(last, text) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never showed %q; last:\n%s", path, text, last)
}

// TestHarvesterSelfServeTasks: the harvester's task loop, through the real
// agent client against the running server. A user's self-serve reset
// reaches the harvester, which sets the password and unlocks the account
// (in that order, on one connection) and reports it; the page shows it
// done. A password the domain refuses (directory.ErrPasswordPolicy) comes
// back to the page as a sentence for the user; an unlock only unlocks.
// (Against a real DC the directory package's Samba tests cover
// ResetPassword and Unlock themselves.)
// The harvester's log never holds the password.
func TestHarvesterSelfServeTasks(t *testing.T) {
	s := startServer(t)
	status, body := s.API.do("GET", "/clients/"+s.ClientID+"/activation-key", nil)
	require.Equal(t, http.StatusOK, status, body)
	client := &agent.Client{ServerURL: "http://" + s.Addr}
	_, _, err := client.Activate(t.Context(), body["activation_key"].(string), agent.Report{Name: "CONTOSO-DC1", OS: "Windows Server 2022"})
	require.NoError(t, err)
	const (
		gPat = "2b3c4d5e-0000-4000-8000-000000002001"
		gKim = "2b3c4d5e-0000-4000-8000-000000002002"
		gLou = "2b3c4d5e-0000-4000-8000-000000002003"
	)
	_, err = client.UploadDirectory(t.Context(), &directory.Result{Full: true, Users: []directory.User{{GUID: gPat,
		SID: "S-1-5-21-7-8-9-2001", DN: "CN=Pat Lee,OU=Staff,DC=contoso,DC=example", SAMAccountName: "plee", DisplayName: "Pat Lee",
		Mail: "pat.lee@contoso.example", Mobile: "(555) 010-0155", Enabled: true, Locked: true}, {GUID: gKim,
		SID: "S-1-5-21-7-8-9-2002", DN: "CN=Kim Ode,OU=Staff,DC=contoso,DC=example", SAMAccountName: "kode", DisplayName: "Kim Ode",
		Mail: "kim.ode@contoso.example", Mobile: "(555) 010-0166", Enabled: true}, {GUID: gLou,
		SID: "S-1-5-21-7-8-9-2003", DN: "CN=Lou Ode,OU=Staff,DC=contoso,DC=example", SAMAccountName: "lode", DisplayName: "Lou Ode",
		Mail: "lou.ode@contoso.example", Mobile: "(555) 010-0177", Enabled: true, Locked: true}}})
	require.NoError(t, err)
	status, body = s.API.do("PUT", "/admin/directory/settings", map[string]any{"enabled": true})
	require.Equal(t, http.StatusOK, status, body)
	status, body = s.API.do("POST", "/clients/"+s.ClientID+"/directory/selfserve", map[string]any{"guids": []string{gPat, gKim, gLou}, "enabled": true})
	require.Equal(t, http.StatusOK, status, body)
	s.updateStore(t, func(ctx context.Context, tx core.Tx) error {
		tn, err := tx.TenantBySlug(ctx, testTenantSlug)
		if err != nil {
			return err
		}
		for _, g := range []string{gPat, gKim, gLou} {
			if err := tx.PutSelfServeUser(ctx, &core.SelfServeUser{TenantID: tn.ID, ClientID: s.ClientID, GUID: g, Enabled: true,
				Status: core.SelfServeRegistered, ChangedBy: "enduser", ChangedAt: time.Now()}); err != nil {
				return err
			}
		}
		return nil
	})

	var logs syncBuffer
	w := &fakeWriter{}
	h := &agent.Harvester{Client: client, DialWriter: w.dial, PollWait: time.Second, Logger: newTestLogger(&logs)}
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan error, 1)
	go func() { ran <- h.RunTasks(ctx) }()

	const newPw = "Spring-Tulip-42"
	path := s.selfServeRequest(t, "plee", "+15550100155", "reset", newPw)
	s.waitPage(t, path, "Your new password is set")
	assert.Equal(t, []string{"reset " + gPat + " " + newPw + " false", "unlock " + gPat}, w.done())

	w.mu.Lock()
	w.failReset = fmt.Errorf("directory: modify: %w", directory.ErrPasswordPolicy)
	w.mu.Unlock()
	path = s.selfServeRequest(t, "kode", "+15550100166", "reset", "Autumn-Maple-73")
	s.waitPage(t, path, "refused the new password")
	assert.Len(t, w.done(), 2, "nothing more after the refused reset")

	path = s.selfServeRequest(t, "lode", "+15550100177", "unlock", "")
	s.waitPage(t, path, "Your account is unlocked")
	assert.Equal(t, []string{"unlock " + gLou}, w.done()[2:])

	cancel()
	require.ErrorIs(t, <-ran, context.Canceled)
	assert.NotContains(t, logs.String(), newPw)
	assert.NotContains(t, logs.String(), "Autumn-Maple-73")
	assert.Contains(t, logs.String(), "directory task done")
}
