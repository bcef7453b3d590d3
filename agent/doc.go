// Package agent is the platform-neutral core of the Countersign Windows
// agent: the client of the server's agent API (/agent/v1), the protocol
// spoken between the service and each user's tray over a local pipe, the
// service's work loop (activation, heartbeat, the task long-poll, routing
// prompts to the right user's tray) and the tray's prompt state machine.
//
// # Trust
//
// The service runs as LocalSystem and alone holds the device credential.
// A tray is trusted with nothing it says about itself: the service takes
// the caller's identity from the pipe connection (the client process token
// on Windows, SO_PEERCRED on Linux), and a message naming another SID is
// refused and logged. A prompt for user X goes only to trays whose
// connection identity is X.
//
// # Platforms
//
// Windows specifics (the SCM service, go-winio's named pipe with an SDDL,
// DPAPI, sessions, the systray icon) live in agent/windows behind build
// tags; this package builds and is tested on Linux, where the pipe is a
// Unix socket and the peer's uid stands for its SID (S-1-22-1-uid, the
// "Unix user" SID Samba uses).
package agent
