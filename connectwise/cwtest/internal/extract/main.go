// Command extract writes the part of the ConnectWise 2025.1 contract that
// cwtest serves into cwtest's testdata, so that tests never read
// shared/contracts. cwtest runs it with go generate:
//
//	go run ./internal/extract -in ../../../shared/contracts/connectwise/manage-2025.1.json -out testdata/manage-2025.1.json
//
// When shared/ is not beside the module (a git worktree elsewhere), set
// COUNTERSIGN_SHARED to its directory; -in is then read from there.
//
// To serve another endpoint, add the path it lies under to prefixes (and
// the model the fake answers with to roots), then run go generate.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/countersign/countersign/core/psa/psafake"
)

// prefixes are the paths whose endpoints the fake needs: every endpoint at
// or below one is kept, so that literal segments (/company/contacts/count)
// still beat placeholders (/company/contacts/{id}) as in the whole contract.
var prefixes = []string{
	"/company/communicationTypes",
	"/company/companies",
	"/company/contacts",
	"/service/tickets",
	"/system/callbacks",
	"/system/connectWiseHostedScreens",
	"/system/connectwisehostedsetups",
	"/system/info",
	"/system/members",
	"/system/myMembers",
}

// roots are the models the fake answers with, beyond the request bodies.
var roots = []string{
	"CallbackEntry", "CommunicationType", "Company", "ConnectWiseHostedScreen", "ConnectWiseHostedSetup",
	"Contact", "Info", "Member", "MyMemberInfo", "ServiceNote", "Ticket",
}

func main() {
	in := flag.String("in", "", "the whole contract (shared/contracts/connectwise/manage-2025.1.json)")
	out := flag.String("out", "", "where to write the extract")
	flag.Parse()
	if dir := os.Getenv("COUNTERSIGN_SHARED"); dir != "" && *in != "" {
		*in = filepath.Join(dir, "contracts", "connectwise", filepath.Base(*in))
	}
	if *in == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: extract -in manage-2025.1.json -out testdata/manage-2025.1.json")
		os.Exit(2)
	}
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "extract:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	c, err := psafake.ReadContractFile(in)
	if err != nil {
		return fmt.Errorf("%w (run go generate in a checkout with shared/ beside the module)", err)
	}
	sub, err := c.Subset(prefixes, roots)
	if err != nil {
		return err
	}
	sub.Source += " — the part cwtest serves, extracted by connectwise/cwtest/internal/extract"
	return sub.WriteFile(out)
}
