//go:build !windows

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/countersign/countersign/agent"
)

// run serves the agent loop over a Unix socket (development and tests; the
// product runs on Windows).
func run(args []string) error {
	if len(args) == 0 {
		return usage()
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "version":
		fmt.Println(agent.Version)
		return nil
	case "debug":
	default:
		return usage()
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	server := fs.String("server", "", "server URL")
	key := fs.String("key", "", "activation key")
	dir := fs.String("dir", ".", "directory for the credential file and the socket")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	s, err := agent.NewService(agent.ServiceConfig{ServerURL: *server, ActivationKey: *key,
		Credentials: fileStore(filepath.Join(*dir, "device.cred")), Machine: hostMachine{}, Logger: log})
	if err != nil {
		return err
	}
	sock := filepath.Join(*dir, "countersign-agent.sock")
	_ = os.Remove(sock)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() { _ = s.ServePipe(ctx, ln, agent.IdentifyUnix) }()
	if err := s.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// harvesterSecrets are where the harvester keeps its device credential
// and its service account's password: 0600 files in dir (development and
// tests; the product runs on Windows, where DPAPI seals them).
func harvesterSecrets(dir string) (device, account agent.CredentialStore) {
	return fileStore(filepath.Join(dir, "harvester.cred")), fileStore(filepath.Join(dir, "service-account.cred"))
}

// fileStore keeps the credential in a 0600 file.
type fileStore string

func (f fileStore) Load() (string, error) {
	b, err := os.ReadFile(string(f))
	if errors.Is(err, os.ErrNotExist) {
		return "", agent.ErrNoCredential
	}
	return string(b), err
}

func (f fileStore) Save(c string) error { return os.WriteFile(string(f), []byte(c), 0o600) }

// hostMachine reports the host with the current user logged on.
type hostMachine struct{}

func (hostMachine) Report(context.Context) (agent.Report, error) {
	name, err := os.Hostname()
	if err != nil {
		return agent.Report{}, err
	}
	return agent.Report{Name: name, OS: "Linux", Users: []agent.User{{SID: fmt.Sprintf("S-1-22-1-%d", os.Getuid()),
		Account: os.Getenv("USER"), LoggedOn: true}}}, nil
}
