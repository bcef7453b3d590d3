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
	"runtime"
	"strings"
	"time"

	"github.com/countersign/countersign/agent"
	"github.com/countersign/countersign/agent/directory"
)

// ouList is a repeatable -ou flag.
type ouList []string

func (o *ouList) String() string     { return strings.Join(*o, "; ") }
func (o *ouList) Set(v string) error { *o = append(*o, v); return nil }

// runHarvest runs the agent as the client's directory harvester: it
// activates with the client's key on first start, then syncs the chosen
// OUs to the server every -every. The service account's password comes
// from an environment variable, never from the command line, on the first
// start (or when it changes); it is kept, like the device credential,
// sealed with DPAPI in machine scope on Windows (harvesterSecrets), so
// the service starts without it in its environment.
func runHarvest(args []string) error {
	fs := flag.NewFlagSet("harvest", flag.ContinueOnError)
	server := fs.String("server", "", "server URL (https://verify.msp.example)")
	key := fs.String("key", "", "the client's activation key (first start only)")
	dir := fs.String("dir", ".", "directory for the credentials and the sync state (readable by the service account only)")
	ldapURL := fs.String("ldap-url", "", "ldaps://dc.corp.example (or ldap:// with -starttls)")
	startTLS := fs.Bool("starttls", false, "upgrade ldap:// with StartTLS before binding")
	allowPlain := fs.Bool("allow-plain", false, "allow ldap:// without TLS (a lab only; password resets are refused on it)")
	caFile := fs.String("ca", "", "PEM file of the CA the DC's certificate chains to (default: the system roots)")
	serverName := fs.String("server-name", "", "name the DC's certificate carries, when not the URL's host")
	bind := fs.String("bind", "", "service account (svc-countersign@corp.example or a DN)")
	passEnv := fs.String("password-env", "COUNTERSIGN_AD_PASSWORD", "environment variable holding the service account's password (first start, or a new password; it is kept sealed)")
	baseDN := fs.String("base-dn", "", "the domain's DN (default: read from the DC)")
	every := fs.Duration("every", 15*time.Minute, "time between syncs")
	var ous ouList
	fs.Var(&ous, "ou", "DN of an OU to harvest (repeat for several; none: the whole domain)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *server == "" || *ldapURL == "" || *bind == "" {
		return errors.New("harvest: -server, -ldap-url and -bind are required")
	}
	deviceCreds, accountCreds := harvesterSecrets(*dir)
	password, err := serviceAccountPassword(accountCreds, *passEnv)
	if err != nil {
		return err
	}
	var ca []byte
	if *caFile != "" {
		var err error
		if ca, err = os.ReadFile(*caFile); err != nil {
			return fmt.Errorf("harvest: -ca: %w", err)
		}
	}
	cfg := directory.Config{URL: *ldapURL, StartTLS: *startTLS, AllowPlain: *allowPlain, CAPEM: ca, ServerName: *serverName,
		BindUser: *bind, BindPassword: password, BaseDN: *baseDN, OUs: ous}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	client := &agent.Client{ServerURL: *server}
	cred, err := deviceCreds.Load()
	switch {
	case err == nil:
		client.Credential = strings.TrimSpace(cred)
	case errors.Is(err, agent.ErrNoCredential):
		if *key == "" {
			return errors.New("harvest: not activated yet: give the client's activation key with -key")
		}
		host, _ := os.Hostname()
		if _, _, err := client.Activate(ctx, *key, agent.Report{Name: host, OS: runtime.GOOS, AgentVersion: agent.Version}); err != nil {
			return fmt.Errorf("harvest: activate: %w", err)
		}
		if err := deviceCreds.Save(client.Credential); err != nil {
			return fmt.Errorf("harvest: keep the credential: %w", err)
		}
	default:
		return fmt.Errorf("harvest: %w", err)
	}
	h := &agent.Harvester{Client: client, State: agent.FileState(filepath.Join(*dir, "harvester.json")), Every: *every, Logger: log,
		Dial:       func() (agent.Syncer, error) { return directory.Dial(cfg) },
		DialWriter: func() (agent.DirectoryWriter, error) { return directory.Dial(cfg) }}
	// Syncs and the self-serve tasks (resets, unlocks) run side by side;
	// either ending ends both.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 2)
	go func() { errs <- h.Run(ctx) }()
	go func() { errs <- h.RunTasks(ctx) }()
	err = <-errs
	cancel()
	<-errs
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// serviceAccountPassword returns the service account's password: the one
// in the environment variable env when it is set — kept in store, sealed,
// for the starts without it (a new password replaces the kept one) — else
// the kept one. The variable is cleared once read, so that nothing the
// harvester starts inherits it.
func serviceAccountPassword(store agent.CredentialStore, env string) (string, error) {
	password := os.Getenv(env)
	_ = os.Unsetenv(env)
	kept, err := store.Load()
	if err != nil && !errors.Is(err, agent.ErrNoCredential) {
		if password == "" {
			return "", fmt.Errorf("harvest: read the kept service account password (set it again in %s): %w", env, err)
		}
		kept = "" // unreadable (copied from another machine?): the new one replaces it
	}
	switch {
	case password != "" && password != kept:
		if err := store.Save(password); err != nil {
			return "", fmt.Errorf("harvest: keep the service account password: %w", err)
		}
		return password, nil
	case password != "":
		return password, nil
	case kept != "":
		return kept, nil
	}
	return "", fmt.Errorf("harvest: set the service account's password in %s (on the first start; it is then kept sealed)", env)
}
