// Command countersign-agent is the Countersign endpoint agent. On Windows
// one binary is both the service (started by the SCM as LocalSystem, or
// `countersign-agent debug` in a console) and each user's tray
// (`countersign-agent tray`, started at logon from the Run key the MSI
// writes). On Linux it runs the same service loop over a Unix socket, for
// development and tests.
//
// `countersign-agent harvest` is the server role: on a client's domain
// server it syncs the directory to Countersign (flags: -help).
//
// The server URL and activation key come from the MSI properties SERVERURL
// and ACTIVATIONKEY (stored under HKLM\SOFTWARE\Countersign\Agent), or from
// -server and -key.
package main

import (
	"fmt"
	"os"

	"github.com/countersign/countersign/agent"
)

func main() {
	run := run
	if len(os.Args) > 1 && os.Args[1] == "harvest" {
		run = func(args []string) error { return runHarvest(args[1:]) }
	}
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "countersign-agent:", err)
		os.Exit(1)
	}
}

func usage() error {
	return fmt.Errorf("usage: countersign-agent [service|debug|tray|harvest|version] [-server URL] [-key KEY] (version %s)", agent.Version)
}
