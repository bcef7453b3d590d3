package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/auth"
	"github.com/countersign/countersign/core/secret"
	"github.com/countersign/countersign/core/store"
)

// cmdMigrate applies migrations.
func cmdMigrate(ctx context.Context, args []string, stdout io.Writer) error {
	var c Config
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	dbFlag(fs, &c)
	if err := parse(fs, args, stdout, "migrate [-db DSN]"); err != nil {
		return err
	}
	dialect, dsn := dialectOf(c.Database)
	st, err := store.Open(ctx, dialect, dsn, store.SkipMigrate())
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s database is up to date\n", dialect)
	return nil
}

var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)

// cmdTenant handles "tenant create".
func cmdTenant(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		if len(args) > 0 && (args[0] == "-help" || args[0] == "--help" || args[0] == "-h") {
			fmt.Fprintln(stdout, "Usage: countersign tenant create -slug SLUG -name NAME [-country US] [-db DSN]")
			return nil
		}
		fmt.Fprintln(stdout, "Usage: countersign tenant create -slug SLUG -name NAME [-country US] [-db DSN]")
		return errUsage
	}
	var c Config
	var slug, name, country string
	fs := flag.NewFlagSet("tenant create", flag.ContinueOnError)
	dbFlag(fs, &c)
	fs.StringVar(&slug, "slug", "", "short name used in end-user URLs: lower-case letters, digits and dashes")
	fs.StringVar(&name, "name", "", "the MSP's name as end users see it")
	fs.StringVar(&country, "country", "US", "ISO country code used to read national phone numbers")
	if err := parse(fs, args[1:], stdout, "tenant create -slug SLUG -name NAME [flags]"); err != nil {
		return err
	}
	t, err := createTenant(ctx, c, slug, name, country)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created tenant %s (%s) id %s\n", t.Slug, t.Name, t.ID)
	return nil
}

func createTenant(ctx context.Context, c Config, slug, name, country string) (core.Tenant, error) {
	slug, name, country = strings.TrimSpace(slug), strings.TrimSpace(name), strings.ToUpper(strings.TrimSpace(country))
	switch {
	case !slugRE.MatchString(slug):
		return core.Tenant{}, errors.New("-slug must be 2–63 lower-case letters, digits or dashes, e.g. acme-it")
	case name == "" || len(name) > 100:
		return core.Tenant{}, errors.New("-name is required (at most 100 characters)")
	case len(country) != 2:
		return core.Tenant{}, errors.New("-country must be a two-letter ISO code such as US or GB")
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return core.Tenant{}, err
	}
	defer st.Close()
	t := core.Tenant{ID: core.NewID("ten"), Slug: slug, Name: name, Country: country, CreatedAt: time.Now().UTC()}
	err = st.Update(ctx, func(tx core.Tx) error {
		if err := tx.CreateTenant(ctx, &t); err != nil {
			if core.ErrorKind(err) == core.KindConflict {
				return fmt.Errorf("a tenant with slug %q already exists", slug)
			}
			return err
		}
		return tx.AppendAudit(ctx, &core.AuditEvent{TenantID: t.ID, At: t.CreatedAt, Actor: "cli", Action: core.AuditTenantCreated, Subject: t.ID})
	})
	return t, err
}

// cmdUser handles "user create".
func cmdUser(ctx context.Context, args []string, stdout io.Writer) error {
	const synopsis = "user create -tenant SLUG -email EMAIL -name NAME -role ROLE [-password-env VAR] [-db DSN]"
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stdout, "Usage: countersign "+synopsis)
		if len(args) > 0 && (args[0] == "-help" || args[0] == "--help" || args[0] == "-h") {
			return nil
		}
		return errUsage
	}
	var c Config
	var tenantSlug, email, name, role, pwEnv string
	fs := flag.NewFlagSet("user create", flag.ContinueOnError)
	dbFlag(fs, &c)
	fs.StringVar(&tenantSlug, "tenant", "", "tenant slug")
	fs.StringVar(&email, "email", "", "technician's email, used to sign in")
	fs.StringVar(&name, "name", "", "technician's name as end users see it")
	fs.StringVar(&role, "role", "technician", "owner, admin, technician or pod-only")
	fs.StringVar(&pwEnv, "password-env", "", "read the password from this environment variable; empty generates one and prints it once")
	if err := parse(fs, args[1:], stdout, synopsis); err != nil {
		return err
	}
	r, err := core.ParseRole(role)
	if err != nil {
		return err
	}
	addr, err := core.NormalizeEmail(email)
	if err != nil {
		return fmt.Errorf("-email: %w", err)
	}
	if strings.TrimSpace(name) == "" {
		return errors.New("-name is required")
	}
	password, generated := "", false
	if pwEnv != "" {
		password = envRaw(pwEnv)
		if password == "" {
			return fmt.Errorf("environment variable %s is empty", pwEnv)
		}
	} else if password, err = randomPassword(); err != nil {
		return err
	}
	generated = pwEnv == ""
	tech, err := createTechnician(ctx, c, tenantSlug, addr, strings.TrimSpace(name), r, password)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created %s %s (%s) in tenant %s\n", tech.Role, tech.Name, tech.Email, tenantSlug)
	if generated {
		fmt.Fprintf(stdout, "password (shown once): %s\n", password)
	}
	fmt.Fprintln(stdout, "At first sign-in they enrol an authenticator app (TOTP).")
	return nil
}

func createTechnician(ctx context.Context, c Config, tenantSlug, email, name string, role core.Role, password string) (core.Technician, error) {
	if err := auth.ValidatePassword(password); err != nil {
		return core.Technician{}, err
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return core.Technician{}, err
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return core.Technician{}, err
	}
	defer st.Close()
	var tech core.Technician
	err = st.Update(ctx, func(tx core.Tx) error {
		tenant, err := tx.TenantBySlug(ctx, tenantSlug)
		if err != nil {
			return fmt.Errorf("tenant %q not found (create it with `countersign tenant create`)", tenantSlug)
		}
		tech = core.Technician{ID: core.NewID("tec"), TenantID: tenant.ID, Email: email, Name: name, Role: role,
			PasswordHash: hash, CreatedAt: time.Now().UTC()}
		if err := tx.CreateTechnician(ctx, &tech); err != nil {
			if core.ErrorKind(err) == core.KindConflict {
				return fmt.Errorf("a technician with email %s already exists in %s", email, tenantSlug)
			}
			return err
		}
		return tx.AppendAudit(ctx, &core.AuditEvent{TenantID: tenant.ID, At: tech.CreatedAt, Actor: "cli",
			Action: core.AuditTechnicianCreated, Subject: tech.ID, Detail: map[string]string{"role": string(role)}})
	})
	return tech, err
}

// cmdAudit handles "audit verify".
func cmdAudit(ctx context.Context, args []string, stdout io.Writer) error {
	const synopsis = "audit verify -tenant SLUG [-db DSN]"
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(stdout, "Usage: countersign "+synopsis)
		if len(args) > 0 && (args[0] == "-help" || args[0] == "--help" || args[0] == "-h") {
			return nil
		}
		return errUsage
	}
	var c Config
	var tenantSlug string
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	dbFlag(fs, &c)
	fs.StringVar(&tenantSlug, "tenant", "", "tenant slug")
	if err := parse(fs, args[1:], stdout, synopsis); err != nil {
		return err
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := verifyAudit(ctx, st, tenantSlug)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "audit log of %s is intact: %d events, hash chain verified\n", tenantSlug, n)
	return nil
}

// verifyAudit checks a tenant's whole chain and returns its length.
func verifyAudit(ctx context.Context, st core.Store, tenantSlug string) (int, error) {
	var n int
	err := st.View(ctx, func(tx core.Tx) error {
		tenant, err := tx.TenantBySlug(ctx, tenantSlug)
		if err != nil {
			return fmt.Errorf("tenant %q not found", tenantSlug)
		}
		evs, err := tx.AuditEvents(ctx, tenant.ID, core.AuditQuery{})
		if err != nil {
			return err
		}
		seq, hash, err := tx.AuditHead(ctx, tenant.ID)
		if err != nil {
			return err
		}
		n = len(evs)
		if err := core.VerifyAuditChain(evs, seq, hash); err != nil {
			return fmt.Errorf("TAMPERING DETECTED in %s: %w", tenantSlug, err)
		}
		return nil
	})
	return n, err
}

// cmdKeygen writes a new master key file.
func cmdKeygen(ctx context.Context, args []string, stdout io.Writer) error {
	var out string
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.StringVar(&out, "out", "countersign.key", "file to create (mode 0600); it must not exist")
	if err := parse(fs, args, stdout, "keygen [-out FILE]"); err != nil {
		return err
	}
	k, err := secret.GenerateKeyFile(out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote master key %s to %s; keep it safe and back it up — without it encrypted settings cannot be read\n", k.KeyID(), out)
	return nil
}
