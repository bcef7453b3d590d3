//go:build windows

package winagent

import (
	"context"
	"fmt"
	"os"
	"unsafe"

	"github.com/countersign/countersign/agent"
	"golang.org/x/sys/windows"
)

// Machine reports this computer: name, Windows version, AD domain, the
// users with a session (WTS, RDP included) and the local accounts.
type Machine struct{}

// Report implements agent.Machine.
func (Machine) Report(ctx context.Context) (agent.Report, error) {
	name, err := os.Hostname()
	if err != nil {
		return agent.Report{}, fmt.Errorf("winagent: computer name: %w", err)
	}
	v := windows.RtlGetVersion()
	rep := agent.Report{Name: name, OS: fmt.Sprintf("Windows %d.%d.%d", v.MajorVersion, v.MinorVersion, v.BuildNumber), Domain: joinedDomain()}
	users := map[string]agent.User{}
	for _, u := range sessionUsers() {
		users[u.SID] = u
	}
	for _, u := range localUsers() {
		if prev, ok := users[u.SID]; ok {
			prev.Local = true
			users[u.SID] = prev
			continue
		}
		users[u.SID] = u
	}
	for _, u := range users {
		rep.Users = append(rep.Users, u)
	}
	return rep, nil
}

// joinedDomain returns the NetBIOS name of the AD domain, "" when the
// machine is not joined (workgroups and Entra-only joins alike).
func joinedDomain() string {
	var (
		name   *uint16
		status uint32
	)
	if err := windows.NetGetJoinInformation(nil, &name, &status); err != nil {
		return ""
	}
	defer windows.NetApiBufferFree((*byte)(unsafe.Pointer(name)))
	if status != windows.NetSetupDomainName {
		return ""
	}
	return windows.UTF16PtrToString(name)
}

// sessionUsers lists the users with a session, from their session tokens
// (needs LocalSystem's SE_TCB_NAME; elsewhere it finds nobody).
func sessionUsers() []agent.User {
	var (
		sessions *windows.WTS_SESSION_INFO
		count    uint32
	)
	if err := windows.WTSEnumerateSessions(0, 0, 1, &sessions, &count); err != nil {
		return nil
	}
	defer windows.WTSFreeMemory(uintptr(unsafe.Pointer(sessions)))
	var out []agent.User
	for _, s := range unsafe.Slice(sessions, count) {
		var tok windows.Token
		if err := windows.WTSQueryUserToken(s.SessionID, &tok); err != nil {
			continue
		}
		u, err := tok.GetTokenUser()
		tok.Close()
		if err != nil {
			continue
		}
		out = append(out, describe(u.User.Sid, true))
	}
	return out
}

// localUsers lists the machine's local accounts (skipped on domain
// controllers, which have none of their own).
func localUsers() []agent.User {
	var out []agent.User
	var resume uint32
	for {
		var (
			buf         *byte
			read, total uint32
		)
		err := windows.NetUserEnum(nil, 10, 0x0002 /* FILTER_NORMAL_ACCOUNT */, &buf, 0xFFFFFFFF, &read, &total, &resume)
		if buf != nil {
			for _, ui := range unsafe.Slice((*windows.UserInfo10)(unsafe.Pointer(buf)), read) {
				name := windows.UTF16PtrToString(ui.Name)
				sid, _, _, err := windows.LookupSID("", name)
				if err != nil {
					continue
				}
				u := describe(sid, false)
				u.Local = true
				if full := windows.UTF16PtrToString(ui.FullName); full != "" {
					u.DisplayName = full
				}
				out = append(out, u)
			}
			windows.NetApiBufferFree(buf)
		}
		if err != windows.ERROR_MORE_DATA {
			return out
		}
	}
}

// describe names a SID as DOMAIN\user.
func describe(sid *windows.SID, loggedOn bool) agent.User {
	u := agent.User{SID: sid.String(), LoggedOn: loggedOn}
	if account, domain, _, err := sid.LookupAccount(""); err == nil {
		u.Account = domain + `\` + account
	}
	return u
}

// Interface guard.
var _ agent.Machine = Machine{}
