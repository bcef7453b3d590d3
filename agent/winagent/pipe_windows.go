//go:build windows

package winagent

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/Microsoft/go-winio"
	"github.com/countersign/countersign/agent"
	"golang.org/x/sys/windows"
)

// PipePath is the service's pipe.
const PipePath = `\\.\pipe\countersign-agent`

// PipeSDDL lets SYSTEM and Administrators do anything and interactive
// users read and write; go-winio also creates the pipe with
// FILE_PIPE_REJECT_REMOTE_CLIENTS, so no other machine can connect. The
// identity check on every connection (Identify) is what protects prompts.
const PipeSDDL = "D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GRGW;;;IU)"

// Listen creates the service's pipe at path.
func Listen(path string) (net.Listener, error) {
	ln, err := winio.ListenPipe(path, &winio.PipeConfig{SecurityDescriptor: PipeSDDL,
		InputBufferSize: agent.MaxMessage, OutputBufferSize: agent.MaxMessage})
	if err != nil {
		return nil, fmt.Errorf("winagent: create pipe %s: %w", path, err)
	}
	return ln, nil
}

// Dial connects a tray to the service's pipe.
func Dial(path string) (net.Conn, error) {
	d := agent.DialTimeout
	conn, err := winio.DialPipe(path, &d)
	if err != nil {
		return nil, fmt.Errorf("winagent: connect to the Countersign service (is it running?): %w", err)
	}
	return conn, nil
}

// Identify returns who is on the client end of a server pipe connection,
// from the pipe handle: the client's process id, its session and the user
// of its process token. Nothing the client sends is used.
func Identify(conn net.Conn) (agent.Peer, error) {
	f, ok := conn.(interface{ Fd() uintptr })
	if !ok {
		return agent.Peer{}, fmt.Errorf("winagent: identify: %T is not a named pipe", conn)
	}
	return identifyHandle(windows.Handle(f.Fd()))
}

// identifyHandle identifies the client of the server end h of a named pipe.
func identifyHandle(h windows.Handle) (agent.Peer, error) {
	var pid uint32
	if err := windows.GetNamedPipeClientProcessId(h, &pid); err != nil {
		return agent.Peer{}, fmt.Errorf("winagent: identify: client process id: %w", err)
	}
	var session uint32
	if err := windows.ProcessIdToSessionId(pid, &session); err != nil {
		return agent.Peer{}, fmt.Errorf("winagent: identify: session of process %d: %w", pid, err)
	}
	sid, err := processSID(pid)
	if err != nil {
		return agent.Peer{}, err
	}
	return agent.Peer{SID: sid, Session: session, PID: int(pid)}, nil
}

// processSID returns the user SID of process pid's token.
func processSID(pid uint32) (string, error) {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return "", fmt.Errorf("winagent: identify: open process %d: %w", pid, err)
	}
	defer windows.CloseHandle(h)
	var tok windows.Token
	if err := windows.OpenProcessToken(h, windows.TOKEN_QUERY, &tok); err != nil {
		return "", fmt.Errorf("winagent: identify: token of process %d: %w", pid, err)
	}
	defer tok.Close()
	u, err := tok.GetTokenUser()
	if err != nil {
		return "", fmt.Errorf("winagent: identify: user of process %d: %w", pid, err)
	}
	if u.User.Sid == nil {
		return "", errors.New("winagent: identify: token has no user")
	}
	return u.User.Sid.String(), nil
}

// waitPipe retries Dial until the pipe exists or d has passed.
func waitPipe(path string, d time.Duration) (net.Conn, error) {
	deadline := time.Now().Add(d)
	for {
		conn, err := Dial(path)
		if err == nil || time.Now().After(deadline) {
			return conn, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}
