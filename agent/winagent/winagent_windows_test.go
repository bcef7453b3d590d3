//go:build windows

package winagent

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign/agent"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
)

// underWine reports whether the test runs under wine, which exports
// wine_get_version from ntdll.
func underWine() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}

// skipPipeUnderWine skips named-pipe server tests under wine 8.0: a client
// connects and writes, but the overlapped ConnectNamedPipe that go-winio's
// Accept waits for on its I/O completion port never completes there, so
// Accept blocks forever. These tests must run on real Windows.
func skipPipeUnderWine(t *testing.T) {
	if underWine() {
		t.Skip("wine 8.0 never completes go-winio's overlapped ConnectNamedPipe (Accept blocks); run on Windows")
	}
}

func testPipe(t *testing.T) string {
	return fmt.Sprintf(`\\.\pipe\countersign-test-%d-%s`, time.Now().UnixNano(), t.Name())
}

func mySID(t *testing.T) string {
	t.Helper()
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	require.NoError(t, err)
	return u.User.Sid.String()
}

// TestPipeIdentifiesCaller checks that the service learns the caller's SID
// and process from the pipe handle, and that framed messages cross the pipe.
func TestPipeIdentifiesCaller(t *testing.T) {
	skipPipeUnderWine(t)
	path := testPipe(t)
	ln, err := Listen(path)
	require.NoError(t, err)
	defer ln.Close()
	type accepted struct {
		peer agent.Peer
		msg  agent.Message
		err  error
	}
	got := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- accepted{err: err}
			return
		}
		defer c.Close()
		p, err := Identify(c)
		if err != nil {
			got <- accepted{err: err}
			return
		}
		m, err := agent.ReadMessage(c)
		if err == nil {
			err = agent.WriteMessage(c, agent.Message{Type: agent.MsgResult, ID: m.ID, Text: "ok"})
		}
		got <- accepted{peer: p, msg: m, err: err}
	}()
	conn, err := Dial(path)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, agent.WriteMessage(conn, agent.Message{Type: agent.MsgStatus, ID: "1", SID: "S-1-5-18"}))
	reply, err := agent.ReadMessage(conn)
	require.NoError(t, err)
	assert.Equal(t, "ok", reply.Text)
	a := <-got
	require.NoError(t, a.err)
	assert.Equal(t, mySID(t), a.peer.SID, "the SID comes from the handle, not from the message")
	assert.Equal(t, int(windows.GetCurrentProcessId()), a.peer.PID)
	assert.Equal(t, "S-1-5-18", a.msg.SID, "the claimed SID arrives, for the service to refuse")
}

// TestIdentifyHandle identifies the client of a plain synchronous named
// pipe (which wine does run) from its handle: the same calls Identify makes
// on go-winio's connections.
func TestIdentifyHandle(t *testing.T) {
	name, err := windows.UTF16PtrFromString(testPipe(t))
	require.NoError(t, err)
	srv, err := windows.CreateNamedPipe(name, windows.PIPE_ACCESS_DUPLEX,
		windows.PIPE_TYPE_BYTE|windows.PIPE_READMODE_BYTE|windows.PIPE_WAIT|windows.PIPE_REJECT_REMOTE_CLIENTS, 1, 4096, 4096, 0, nil)
	require.NoError(t, err)
	defer windows.CloseHandle(srv)
	connected := make(chan error, 1)
	go func() {
		err := windows.ConnectNamedPipe(srv, nil)
		if err == windows.ERROR_PIPE_CONNECTED {
			err = nil
		}
		connected <- err
	}()
	var cli windows.Handle
	require.Eventually(t, func() bool {
		cli, err = windows.CreateFile(name, windows.GENERIC_READ|windows.GENERIC_WRITE, 0, nil, windows.OPEN_EXISTING, 0, 0)
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)
	defer windows.CloseHandle(cli)
	require.NoError(t, <-connected)
	p, err := identifyHandle(srv)
	require.NoError(t, err)
	assert.Equal(t, mySID(t), p.SID)
	assert.Equal(t, int(windows.GetCurrentProcessId()), p.PID)
}

// recUI records prompts.
type recUI struct {
	mu      sync.Mutex
	prompts []agent.Prompt
}

func (u *recUI) ShowPrompt(p agent.Prompt) {
	u.mu.Lock()
	u.prompts = append(u.prompts, p)
	u.mu.Unlock()
}
func (u *recUI) ClosePrompt(string)    {}
func (u *recUI) SetStatus(string)      {}
func (u *recUI) Notify(string, string) {}

// TestServiceOverNamedPipe runs package agent's service on the named pipe
// with Identify: a message claiming SYSTEM's SID is refused.
func TestServiceOverNamedPipe(t *testing.T) {
	skipPipeUnderWine(t)
	svcAgent, err := agent.NewService(agent.ServiceConfig{ServerURL: "http://127.0.0.1:1", Credentials: DPAPIStore{Path: filepath.Join(os.TempDir(), "unused.cred")},
		Machine: Machine{}, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	path := testPipe(t)
	ln, err := Listen(path)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svcAgent.ServePipe(ctx, ln, Identify) }()
	defer func() { cancel(); <-done }()
	conn, err := Dial(path)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, agent.WriteMessage(conn, agent.Message{Type: agent.MsgAnswer, ID: "1", SID: "S-1-5-18",
		Answer: &agent.Answer{VerificationID: "ver_x", NotMe: true}}))
	reply, err := agent.ReadMessage(conn)
	require.NoError(t, err)
	assert.Contains(t, reply.Error, "refused")
}

// TestDPAPIStore seals and unseals the credential in machine scope.
func TestDPAPIStore(t *testing.T) {
	// Not t.TempDir: under wine the protected DACL makes the file
	// undeletable ("Invalid function"), which would fail the cleanup.
	dir, err := os.MkdirTemp("", "dpapi")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	s := DPAPIStore{Path: filepath.Join(dir, "Agent", "device.cred")}
	_, err = s.Load()
	assert.ErrorIs(t, err, agent.ErrNoCredential)
	require.NoError(t, s.Save("csd1.dev_abc.secret"))
	got, err := s.Load()
	require.NoError(t, err)
	assert.Equal(t, "csd1.dev_abc.secret", got)
}

// TestDPAPIStoreServiceAccount: the harvester's service account password
// is sealed in machine scope like the device credential, with its own
// entropy: the file holds no trace of the password, reads back as it was
// saved, and is refused when read as the device credential (or the device
// credential's file as the password).
func TestDPAPIStoreServiceAccount(t *testing.T) {
	dir, err := os.MkdirTemp("", "dpapi")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	const password = "Svc-Countersign!2026"
	acct := DPAPIStore{Path: filepath.Join(dir, "Harvester", "service-account.cred"), Purpose: PurposeServiceAccount}
	_, err = acct.Load()
	assert.ErrorIs(t, err, agent.ErrNoCredential)
	require.NoError(t, acct.Save(password))
	raw, err := os.ReadFile(acct.Path)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), password, "sealed, not stored")
	assert.NotContains(t, string(raw), string(encodeUTF16(password)), "not as UTF-16 either")
	got, err := acct.Load()
	require.NoError(t, err)
	assert.Equal(t, password, got)

	_, err = DPAPIStore{Path: acct.Path}.Load()
	require.Error(t, err, "the password's file is not a device credential")
	assert.NotErrorIs(t, err, agent.ErrNoCredential)
	dev := DPAPIStore{Path: filepath.Join(dir, "Harvester", "harvester.cred")}
	require.NoError(t, dev.Save("csd1.dev_abc.secret"))
	_, err = DPAPIStore{Path: dev.Path, Purpose: PurposeServiceAccount}.Load()
	require.Error(t, err, "nor the device credential's a password")

	// A new password (rotated by the domain's admin) replaces the old.
	require.NoError(t, acct.Save(password+"x"))
	got, err = acct.Load()
	require.NoError(t, err)
	assert.Equal(t, password+"x", got)
}

// TestDPAPIStorePlainUpgrade: a device credential an older harvester kept
// in a plain file is read and sealed in place; other plain text is not a
// credential.
func TestDPAPIStorePlainUpgrade(t *testing.T) {
	dir, err := os.MkdirTemp("", "dpapi")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	s := DPAPIStore{Path: filepath.Join(dir, "harvester.cred"), PlainPrefix: "csd1."}
	require.NoError(t, os.WriteFile(s.Path, []byte("csd1.dev_abc.secret\n"), 0o600))
	got, err := s.Load()
	require.NoError(t, err)
	assert.Equal(t, "csd1.dev_abc.secret", got)
	raw, err := os.ReadFile(s.Path)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "secret", "sealed in place")
	got, err = DPAPIStore{Path: s.Path}.Load()
	require.NoError(t, err, "now a sealed device credential")
	assert.Equal(t, "csd1.dev_abc.secret", got)

	other := DPAPIStore{Path: filepath.Join(dir, "other.cred"), PlainPrefix: "csd1."}
	require.NoError(t, os.WriteFile(other.Path, []byte("hello"), 0o600))
	_, err = other.Load()
	require.Error(t, err)
}

func encodeUTF16(s string) []byte {
	var b []byte
	for _, r := range s {
		b = append(b, byte(r), byte(r>>8))
	}
	return b
}

// TestHandlerControls drives the SCM handler with the requests the SCM
// sends: interrogate, a session change, stop.
func TestHandlerControls(t *testing.T) {
	sessions := make(chan uint32, 1)
	running := make(chan struct{})
	h := &Handler{
		Run:           func(ctx context.Context) error { close(running); <-ctx.Done(); return ctx.Err() },
		SessionChange: func(ev, id uint32) { sessions <- ev },
	}
	req := make(chan svc.ChangeRequest)
	status := make(chan svc.Status, 10)
	exit := make(chan uint32, 1)
	go func() { _, code := h.Execute(nil, req, status); exit <- code }()
	assert.Equal(t, svc.StartPending, (<-status).State)
	st := <-status
	assert.Equal(t, svc.Running, st.State)
	assert.NotZero(t, st.Accepts&svc.AcceptSessionChange, "session changes must be accepted")
	<-running
	req <- svc.ChangeRequest{Cmd: svc.Interrogate, CurrentStatus: st}
	assert.Equal(t, svc.Running, (<-status).State)
	req <- svc.ChangeRequest{Cmd: svc.SessionChange, EventType: windows.WTS_SESSION_LOGON}
	assert.Equal(t, uint32(windows.WTS_SESSION_LOGON), <-sessions)
	req <- svc.ChangeRequest{Cmd: svc.Stop}
	assert.Equal(t, svc.StopPending, (<-status).State)
	assert.Equal(t, uint32(0), <-exit)
}

// TestMachineReport reads this machine. Under wine the WTS and NetUserEnum
// parts are partial, so only the name and OS are held to values.
func TestMachineReport(t *testing.T) {
	rep, err := Machine{}.Report(context.Background())
	require.NoError(t, err)
	assert.NotEmpty(t, rep.Name)
	assert.Contains(t, rep.OS, "Windows")
	for _, u := range rep.Users {
		assert.Regexp(t, `^S-1-`, u.SID)
	}
}
