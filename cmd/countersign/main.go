// Command countersign is the Countersign server and its admin CLI: serve,
// demo, migrate, tenant and user administration, audit verification and key
// generation. Every subcommand answers -help.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// command is one subcommand.
type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run the server", cmdServe},
		{"demo", "run a self-contained demo: SQLite, seeded data, dev delivery, no accounts", cmdDemo},
		{"migrate", "apply database migrations and exit", cmdMigrate},
		{"tenant", "manage tenants (MSPs): tenant create", cmdTenant},
		{"user", "manage technicians: user create", cmdUser},
		{"audit", "check a tenant's audit log: audit verify", cmdAudit},
		{"keygen", "write a new master key file", cmdKeygen},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Countersign proves who is on the phone for MSP service desks.")
	fmt.Fprintln(w, "\nUsage: countersign <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun `countersign <command> -help` for a command's flags. Settings also come from COUNTERSIGN_* variables.")
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches args to a subcommand and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, args[1:], stdout)
			switch {
			case err == nil:
				return 0
			case errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errUsage):
				return 2
			}
			fmt.Fprintln(stderr, "countersign "+c.name+": "+err.Error())
			return 1
		}
	}
	fmt.Fprintf(stderr, "countersign: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// errUsage reports a flag error the flag package already printed.
var errUsage = errors.New("usage")

// parse parses args with fs, printing usage to stdout for -help. Every
// flag also has a variable, COUNTERSIGN_ and its name in upper case with
// dashes as underscores (-public-url: COUNTERSIGN_PUBLIC_URL); a flag given
// on the command line wins over its variable.
func parse(fs *flag.FlagSet, args []string, stdout io.Writer, synopsis string) error {
	fs.SetOutput(stdout)
	fs.VisitAll(func(f *flag.Flag) {
		if v := envName(f.Name); !strings.Contains(f.Usage, v) {
			f.Usage += " (" + v + ")"
		}
	})
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: countersign %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %v\n", fs.Args())
		fs.Usage()
		return errUsage
	}
	return setFromEnv(fs)
}

// envName is the variable that stands for flag name.
func envName(name string) string {
	return "COUNTERSIGN_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// setFromEnv gives every flag not on the command line its variable's value,
// when the variable is set.
func setFromEnv(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		v, ok := os.LookupEnv(envName(f.Name))
		if !ok || given[f.Name] || err != nil {
			return
		}
		if e := fs.Set(f.Name, v); e != nil {
			err = fmt.Errorf("%s=%q: %v (the variable stands for -%s)", envName(f.Name), v, e, f.Name)
		}
	})
	return err
}

// cmdServe runs the server.
func cmdServe(ctx context.Context, args []string, stdout io.Writer) error {
	var c Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	serverFlags(fs, &c)
	if err := parse(fs, args, stdout, "serve [flags]"); err != nil {
		return err
	}
	log, err := newLogger(c, os.Stderr)
	if err != nil {
		return err
	}
	return Run(ctx, c, log, nil)
}
