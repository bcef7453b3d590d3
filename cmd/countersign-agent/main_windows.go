//go:build windows

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/countersign/countersign/agent"
	"github.com/countersign/countersign/agent/winagent"
	"golang.org/x/sys/windows/registry"
)

// configKey is where the MSI stores SERVERURL and ACTIVATIONKEY.
const configKey = `SOFTWARE\Countersign\Agent`

func run(args []string) error {
	isSvc, err := winagent.IsService()
	if err != nil {
		return err
	}
	cmd := "service"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	} else if !isSvc {
		return usage()
	}
	switch cmd {
	case "version":
		fmt.Println(agent.Version)
		return nil
	case "tray":
		return winagent.RunTray(winagent.PipePath)
	case "service", "debug":
	default:
		return usage()
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	server := fs.String("server", "", "server URL (default: the SERVERURL the MSI stored)")
	key := fs.String("key", "", "activation key (default: the ACTIVATIONKEY the MSI stored)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	storedURL, storedKey := readConfig()
	if *server == "" {
		*server = storedURL
	}
	if *key == "" {
		*key = storedKey
	}
	log, closeLog := openLog(cmd == "debug")
	defer closeLog()
	s, err := agent.NewService(agent.ServiceConfig{ServerURL: *server, ActivationKey: *key,
		Credentials: winagent.DPAPIStore{Path: winagent.DefaultCredentialPath()}, Machine: winagent.Machine{}, Logger: log})
	if err != nil {
		return err
	}
	work := func(ctx context.Context) error {
		ln, err := winagent.Listen(winagent.PipePath)
		if err != nil {
			return err
		}
		go func() { _ = s.ServePipe(ctx, ln, winagent.Identify) }()
		if err := s.Activate(ctx); err == nil && *key != "" {
			clearKey() // an enrolment token, not needed once activated
		}
		return s.Run(ctx)
	}
	if cmd == "debug" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		if err := work(ctx); err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		return nil
	}
	return winagent.RunService(&winagent.Handler{Run: work,
		SessionChange: func(ev, session uint32) { s.SessionChanged() }})
}

func readConfig() (serverURL, key string) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, configKey, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return "", ""
	}
	defer k.Close()
	serverURL, _, _ = k.GetStringValue("ServerURL")
	key, _, _ = k.GetStringValue("ActivationKey")
	return serverURL, key
}

func clearKey() {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, configKey, registry.SET_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return
	}
	defer k.Close()
	_ = k.SetStringValue("ActivationKey", "")
}

// openLog logs to the console in debug mode, else to a file beside the
// credential (the service has no console: it is linked -H=windowsgui).
func openLog(console bool) (*slog.Logger, func()) {
	if console {
		return slog.New(slog.NewTextHandler(os.Stderr, nil)), func() {}
	}
	path := filepath.Join(filepath.Dir(winagent.DefaultCredentialPath()), "agent.log")
	_ = os.MkdirAll(filepath.Dir(path), 0o700)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return slog.New(slog.DiscardHandler), func() {}
	}
	return slog.New(slog.NewTextHandler(f, nil)), func() { f.Close() }
}

// harvesterSecrets are where the harvester keeps its device credential
// and its service account's password: files in dir sealed with DPAPI in
// machine scope, each with its own purpose, readable only by SYSTEM and
// Administrators.
func harvesterSecrets(dir string) (device, account agent.CredentialStore) {
	// Harvesters before DPAPI kept the device credential in a plain file.
	return winagent.DPAPIStore{Path: filepath.Join(dir, "harvester.cred"), PlainPrefix: "csd1."},
		winagent.DPAPIStore{Path: filepath.Join(dir, "service-account.cred"), Purpose: winagent.PurposeServiceAccount}
}
