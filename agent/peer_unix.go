//go:build linux

package agent

import (
	"fmt"
	"net"
	"syscall"
)

// IdentifyUnix identifies the peer of a Unix socket connection from the
// kernel's SO_PEERCRED. The uid stands for the SID S-1-22-1-<uid>, which is
// how Samba maps Unix users to SIDs.
func IdentifyUnix(conn net.Conn) (Peer, error) {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return Peer{}, fmt.Errorf("agent: identify peer: %T is not a Unix socket", conn)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return Peer{}, fmt.Errorf("agent: identify peer: %w", err)
	}
	var (
		cred *syscall.Ucred
		serr error
	)
	if err := raw.Control(func(fd uintptr) {
		cred, serr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return Peer{}, fmt.Errorf("agent: identify peer: %w", err)
	}
	if serr != nil {
		return Peer{}, fmt.Errorf("agent: identify peer: SO_PEERCRED: %w", serr)
	}
	return Peer{SID: fmt.Sprintf("S-1-22-1-%d", cred.Uid), PID: int(cred.Pid)}, nil
}
