// Package winagent holds the Windows specifics of the agent: the service
// under the Service Control Manager (golang.org/x/sys/windows/svc, which
// unlike kardianos/service accepts session-change events), the local named
// pipe to the trays (github.com/Microsoft/go-winio, with an SDDL and the
// caller's identity read from the pipe handle), the device credential
// sealed with DPAPI in machine scope, the machine report (sessions, local
// users, domain) and the tray icon (fyne.io/systray).
//
// Everything here builds only for Windows; the logic it drives is in
// package agent and tested on Linux. This package's own tests run under
// wine64 in CI (scripts/test.sh); what wine cannot run is said at each
// test.
package winagent
