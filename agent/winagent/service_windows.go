//go:build windows

package winagent

import (
	"context"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
)

// ServiceName is the SCM name the MSI installs the service under.
const ServiceName = "CountersignAgent"

// Handler runs the agent under the Service Control Manager. Run is the
// service's work (package agent's Service.Run and ServePipe); it must
// return when its context ends. SessionChange is called on every logon,
// logoff, lock, unlock and remote (dis)connect.
type Handler struct {
	Run           func(ctx context.Context) error
	SessionChange func(event uint32, sessionID uint32)
}

// accepted are the controls the service takes; AcceptSessionChange is why
// we use x/sys/windows/svc (agent-and-ad.md §3).
const accepted = svc.AcceptStop | svc.AcceptShutdown | svc.AcceptSessionChange

// Execute implements svc.Handler.
func (h *Handler) Execute(args []string, requests <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	status <- svc.Status{State: svc.Running, Accepts: accepted}
	for {
		select {
		case <-done:
			// The work ended on its own: report stopped with an error code so
			// the SCM's recovery actions restart us.
			status <- svc.Status{State: svc.StopPending}
			return false, 1
		case c := <-requests:
			switch c.Cmd {
			case svc.Interrogate:
				status <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending}
				cancel()
				<-done
				return false, 0
			case svc.SessionChange:
				if h.SessionChange != nil {
					h.SessionChange(c.EventType, sessionOf(c.EventData))
				}
			}
		}
	}
}

// sessionOf reads the session id of a session-change event. EventData is
// a *WTSSESSION_NOTIFICATION owned by the SCM; go vet reports "possible
// misuse of unsafe.Pointer" here, which is expected (agent-and-ad.md §3).
func sessionOf(data uintptr) uint32 {
	if data == 0 {
		return 0
	}
	return (*windows.WTSSESSION_NOTIFICATION)(unsafe.Pointer(data)).SessionID
}

// RunService hands the process to the SCM until the service stops.
func RunService(h *Handler) error { return svc.Run(ServiceName, h) }

// IsService reports whether the SCM started this process.
func IsService() (bool, error) { return svc.IsWindowsService() }
