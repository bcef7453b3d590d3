package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/auth"
	"github.com/countersign/countersign/core/duo"
	"github.com/countersign/countersign/core/duo/duotest"
	"github.com/countersign/countersign/core/microsoft"
	"github.com/countersign/countersign/core/microsoft/microsofttest"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/memory"
	"github.com/countersign/countersign/core/secret"
	"github.com/countersign/countersign/core/store"
)

// The demo tenant and technician. The password is new on every start and
// printed, so nothing fixed ever signs in.
const (
	demoTenantSlug = "demo-msp"
	demoTenantName = "Demo MSP"
	demoEmail      = "tech@demo-msp.example"
)

// cmdDemo runs a self-contained demo: a SQLite file and key in a data
// directory, the built-in memory PSA on loopback with its contacts mirrored,
// dev delivery (nothing is sent), and a technician whose sign-in is printed.
func cmdDemo(ctx context.Context, args []string, stdout io.Writer) error {
	var dataDir, listen, psaListen string
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.StringVar(&dataDir, "data", "countersign-demo", "directory for the demo's database and key (created if missing)")
	fs.StringVar(&listen, "listen", "127.0.0.1:8080", "address to listen on (loopback only)")
	fs.StringVar(&psaListen, "psa-listen", "127.0.0.1:0", "address of the built-in demo PSA (loopback only; port 0 picks a free one)")
	if err := parse(fs, args, stdout, "demo [-data DIR] [-listen ADDR] [-psa-listen ADDR]"); err != nil {
		return err
	}
	if err := loopbackOnly("-listen", listen); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	demoPSA, err := startDemoPSA(psaListen)
	if err != nil {
		return err
	}
	defer demoPSA.stop()
	fakeDuo := startDemoDuo()
	defer fakeDuo.Close()
	fakeMS := startDemoMicrosoft()
	defer fakeMS.Close()
	c, password, podURL, err := prepareDemo(ctx, dataDir, listen, demoPSA, demoFakes{duo: fakeDuo, microsoft: fakeMS}, log)
	if err != nil {
		return err
	}
	return Run(ctx, c, log, func(addr string) {
		fmt.Fprintf(stdout, `
Countersign demo is running (dev delivery: nothing is sent; messages wait in the dev outbox).

  Open:      %s/?tenant=%s
  Sign in:   organisation %s, email %s, password %s

  1. Pick a contact, press "SMS code", read the code in the dev outbox beside the card, type it in: the shield turns green.
  2. Press "Email link", open the link from the dev outbox, type the code shown to you, press Validate.
  3. The pod inside a PSA: open %s
     (the built-in demo PSA's ticket screen; press Sign in in the pod and use the same account).
  4. Duo push, with a built-in fake Duo (no phone needed): press Push for Alice Smith (ticket 5001,
     the pod above): Duo approves after %s and the shield turns green. Dan Okafor's push is
     denied (ticket 5002: the message, the alert in the dev outbox, no more pushes to Dan for
     24 hours), and Erin Walsh's is a Verified Duo Push (ticket 5003: the code to read appears
     on the card; approved after %s). In the console, open the ticket first (Verify from a ticket).
  5. Microsoft Authenticator push, with a built-in fake Microsoft 365 tenant for Globex Logistics:
     Carol Smithers has the app (Push: approved after %s); Dan Okafor has none, and the list says so.

  Data: %s (delete it to start over). Stop with Ctrl+C.
`, c.PublicURL, demoTenantSlug, demoTenantSlug, demoEmail, password, demoPSA.url+"/ui/ticket/5001?pod="+url.QueryEscape(podURL),
			demoDuoDelay, demoDuoVerifiedDelay, demoDuoDelay, dataDir)
	})
}

// demoFakes are the loopback fakes the demo's pushes go to.
type demoFakes struct {
	duo       *duotest.Server
	microsoft *microsofttest.Server
}

// prepareDemo creates or reuses the data directory, key and database, seeds
// the tenant, mirrors the demo PSA's contacts, and resets the technician's
// password. It returns the server config, the new password and the pod's
// URL.
func prepareDemo(ctx context.Context, dataDir, listen string, demoPSA *demoPSA, fakes demoFakes, log *slog.Logger) (Config, string, string, error) {
	c, err := demoConfig(dataDir, listen, fakes)
	if err != nil {
		return Config{}, "", "", err
	}
	password, err := randomPassword()
	if err != nil {
		return Config{}, "", "", err
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return Config{}, "", "", err
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return Config{}, "", "", err
	}
	defer st.Close()
	keys, err := loadKeys(c)
	if err != nil {
		return Config{}, "", "", err
	}
	engine, err := core.NewEngine(core.Config{Store: st, Renderer: nopRenderer{}, Sealer: keys,
		CodeKey: keys.Derive("code-hmac"), PublicURL: c.PublicURL, Logger: log,
		Duo: duo.Connector(duo.Options{HTTPClient: c.duoHTTP, AllowHost: c.duoAllowHost}), Microsoft: microsoftConnector(c)})
	if err != nil {
		return Config{}, "", "", err
	}
	tenant, fresh, err := seedDemoTenant(ctx, st, hash, time.Now().UTC())
	if err != nil {
		return Config{}, "", "", fmt.Errorf("seed demo tenant: %w", err)
	}
	client, err := memory.New(memory.Config{BaseURL: demoPSA.url, APIKey: demoPSA.key}, psa.Deps{})
	if err != nil {
		return Config{}, "", "", err
	}
	if fresh {
		n, err := mirrorPSA(ctx, engine, tenant.ID, memory.ID, client)
		if err != nil {
			return Config{}, "", "", fmt.Errorf("mirror demo PSA: %w", err)
		}
		log.Info("demo PSA mirrored", "contacts", n)
	}
	in, err := pointDemoIntegration(ctx, engine, tenant.ID, demoPSA)
	if err != nil {
		return Config{}, "", "", fmt.Errorf("demo PSA integration: %w", err)
	}
	if err := seedDemoDuo(ctx, engine, tenant.ID, fakes.duo); err != nil {
		return Config{}, "", "", fmt.Errorf("demo Duo account: %w", err)
	}
	if err := seedDemoMicrosoft(ctx, engine, tenant.ID, fakes.microsoft); err != nil {
		return Config{}, "", "", fmt.Errorf("demo Microsoft 365 tenant: %w", err)
	}
	return c, password, c.PublicURL + "/pod/" + demoTenantSlug + "/" + in.ID, nil
}

// demoConfig creates or reuses the data directory and its master key, and
// returns the demo server's config: dev delivery, the demo PSA, and Duo
// and Microsoft 365 pointed at the loopback fakes.
func demoConfig(dataDir, listen string, fakes demoFakes) (Config, error) {
	fakeDuo, fakeMS := fakes.duo, fakes.microsoft
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return Config{}, fmt.Errorf("create data directory: %w", err)
	}
	keyFile := filepath.Join(dataDir, "master.key")
	if _, err := os.Stat(keyFile); errors.Is(err, fs.ErrNotExist) {
		if _, err := secret.GenerateKeyFile(keyFile); err != nil {
			return Config{}, err
		}
	}
	return Config{
		Listen: listen, PublicURL: "http://" + listen, Database: filepath.Join(dataDir, "countersign.db"),
		MasterKeyFile: keyFile, DevDelivery: true, RequireTOTP: false, OutboxPoll: time.Second,
		LogLevel: "info", LogFormat: "text", demoPSA: true,
		duoHTTP: fakeDuo.HTTPClient(), duoAllowHost: func(h string) bool { return h == fakeDuo.Host() },
		microsoft: &microsoft.Options{HTTPClient: fakeMS.HTTPClient(), LoginURL: fakeMS.URL(), GraphURL: fakeMS.URL(),
			ConnectorURL: fakeMS.URL(), GraphResource: microsoft.DefaultGraphURL},
	}, nil
}

// seedDemoTenant creates the demo tenant and its admin technician on the
// first run (fresh), and on every run sets the technician's password hash
// and clears a lock-out, in one transaction.
func seedDemoTenant(ctx context.Context, st *store.Store, hash string, now time.Time) (tenant core.Tenant, fresh bool, err error) {
	err = st.Update(ctx, func(tx core.Tx) error {
		var err error
		tenant, err = tx.TenantBySlug(ctx, demoTenantSlug)
		if core.ErrorKind(err) == core.KindNotFound {
			fresh = true
			tenant = core.Tenant{ID: core.NewID("ten"), Slug: demoTenantSlug, Name: demoTenantName, Country: "US",
				Branding: core.Branding{PrimaryColor: "#1f4e8c", AccentColor: "#2e7d32"}, CreatedAt: now}
			if err := tx.CreateTenant(ctx, &tenant); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		tech, err := tx.TechnicianByEmail(ctx, tenant.ID, demoEmail)
		if core.ErrorKind(err) == core.KindNotFound {
			tech = core.Technician{ID: core.NewID("tec"), TenantID: tenant.ID, Email: demoEmail, Name: "Demo Technician",
				Role: core.RoleAdmin, PasswordHash: hash, CreatedAt: now}
			return tx.CreateTechnician(ctx, &tech)
		} else if err != nil {
			return err
		}
		tech.PasswordHash, tech.FailedLogins, tech.LockedUntil = hash, 0, time.Time{}
		return tx.UpdateTechnician(ctx, &tech)
	})
	return tenant, fresh, err
}

// pointDemoIntegration creates the tenant's demo PSA integration, or
// updates it, with this run's address: the demo PSA listens on a new port
// each run, and the pod uses the integration.
func pointDemoIntegration(ctx context.Context, engine *core.Engine, tenantID string, demoPSA *demoPSA) (core.Integration, error) {
	in := core.Integration{Kind: memory.ID, Name: "Demo PSA"}
	existing, err := engine.Integrations(ctx, tenantID)
	if err != nil {
		return core.Integration{}, err
	}
	for _, e := range existing {
		if e.Kind == memory.ID {
			in = e
		}
	}
	in.Config, _ = json.Marshal(memory.Config{BaseURL: demoPSA.url, APIKey: demoPSA.key})
	return engine.PutIntegration(ctx, tenantID, "demo", in)
}

// How long the demo's fake Duo takes to answer: long enough to see the
// push wait (and, for a Verified Duo Push, the code to read).
const (
	demoDuoDelay         = 4 * time.Second
	demoDuoVerifiedDelay = 10 * time.Second
)

// startDemoDuo starts the fake Duo (core/duo/duotest) on loopback with a
// Duo user for three demo contacts, matched by e-mail as a real account's
// would be: Alice approves, Dan denies, Erin gets a Verified Duo Push and
// approves.
func startDemoDuo() *duotest.Server {
	approve, deny, verified := duotest.Approve, duotest.Deny, duotest.Approve
	approve.Delay, deny.Delay, verified.Delay = demoDuoDelay, demoDuoDelay, demoDuoVerifiedDelay
	s := &duotest.Server{}
	s.AddUser(duotest.User{Username: "alice.smith@acme-dental.example", Auto: &approve})
	s.AddUser(duotest.User{Username: "dan.okafor@globex.example", Auto: &deny})
	s.AddUser(duotest.User{Username: "erin.walsh@initech.example", Auto: &verified, VerifiedPush: true})
	s.StartLoopback()
	return s
}

// The demo's Microsoft 365 tenant is Globex Logistics'.
const (
	demoMicrosoftClient = "Globex Logistics"
	demoMicrosoftDomain = "globex.example"
)

// startDemoMicrosoft starts the fake Microsoft 365 tenant (token endpoint,
// Graph, MFA connector: core/microsoft/microsofttest) on loopback: Carol
// has Microsoft Authenticator and approves; Dan has only a phone method.
// Object ids are fixed so that a restart's import finds the same users.
func startDemoMicrosoft() *microsofttest.Server {
	approve := microsofttest.Approve
	approve.Delay = demoDuoDelay
	s := &microsofttest.Server{Domain: demoMicrosoftDomain}
	s.AddUser(microsofttest.User{ObjectID: "0c9f3a52-6d1e-4b8a-9f27-1a2b3c4d5e01", UPN: "carol@globex.example", Mail: "carol@globex.example",
		DisplayName: "Carol Smithers", Auto: &approve})
	s.AddUser(microsofttest.User{ObjectID: "0c9f3a52-6d1e-4b8a-9f27-1a2b3c4d5e02", UPN: "dan.okafor@globex.example", Mail: "dan.okafor@globex.example",
		DisplayName: "Dan Okafor", Synced: true, Methods: []string{microsofttest.MethodPassword, microsofttest.MethodPhone}})
	s.StartLoopback()
	return s
}

// seedDemoMicrosoft connects Globex Logistics to the fake tenant with push
// on (live-checked like any connection) and imports its users.
func seedDemoMicrosoft(ctx context.Context, engine *core.Engine, tenantID string, fake *microsofttest.Server) error {
	var clientID string
	err := engine.Store().View(ctx, func(tx core.Tx) error {
		clients, err := tx.ListClients(ctx, tenantID)
		for _, c := range clients {
			if c.Name == demoMicrosoftClient {
				clientID = c.ID
			}
		}
		return err
	})
	if err != nil || clientID == "" {
		return errors.Join(err, errors.New("no client "+demoMicrosoftClient))
	}
	in := core.MicrosoftConnectionInput{ClientID: clientID, Name: "Globex 365 (built-in fake)", Config: fake.Config(), PushEnabled: true}
	conns, err := engine.MicrosoftConnections(ctx, tenantID)
	if err != nil {
		return err
	}
	for _, c := range conns {
		if c.ClientID == clientID {
			in.ID = c.ID
		}
	}
	conn, err := engine.SaveMicrosoftConnection(ctx, tenantID, "demo", in)
	if err != nil {
		return err
	}
	_, err = engine.ImportMicrosoftUsers(ctx, tenantID, "demo", conn.ID)
	return err
}

// seedDemoDuo points the tenant's Duo account at this run's fake Duo (a
// new port each run), checked live like any account, with Verified Duo
// Push on.
func seedDemoDuo(ctx context.Context, engine *core.Engine, tenantID string, fake *duotest.Server) error {
	in := core.DuoAccountInput{Name: "Demo Duo (built-in fake)", Config: fake.Config(), VerifiedPush: true}
	accounts, err := engine.DuoAccounts(ctx, tenantID)
	if err != nil {
		return err
	}
	for _, a := range accounts {
		if a.ClientID == "" {
			in.ID = a.ID
		}
	}
	_, err = engine.SaveDuoAccount(ctx, tenantID, "demo", in)
	return err
}

// demoPSA is the built-in memory PSA, seeded with demo companies, contacts
// and tickets, on loopback for as long as the demo runs: the demo mirrors
// its directory, and its ticket screens host the pod.
type demoPSA struct {
	url, key string
	stop     func()
}

func startDemoPSA(listen string) (*demoPSA, error) {
	key, err := randomPassword()
	if err != nil {
		return nil, err
	}
	srv := memory.NewServer(key)
	srv.SeedDemo()
	if err := loopbackOnly("-psa-listen", listen); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("demo PSA: %w (choose another address with -psa-listen or COUNTERSIGN_PSA_LISTEN)", err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	return &demoPSA{url: "http://" + ln.Addr().String(), key: key, stop: func() { _ = hs.Close() }}, nil
}

// loopbackOnly refuses an address off loopback: the demo signs in without
// an authenticator and its demo PSA takes a printed key, so neither may be
// reachable from the network.
func loopbackOnly(flagName, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %q: want host:port, e.g. 127.0.0.1:8080", flagName, addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%s %q: the demo listens on loopback only (127.0.0.1, ::1 or localhost); run `countersign serve` for a real server", flagName, addr)
	}
	return nil
}

// psaDirectory is what a mirror needs from a PSA client.
type psaDirectory interface {
	psa.CompanyLister
	psa.ContactFinder
}

// mirrorPSA copies every company and contact of a PSA into the tenant.
func mirrorPSA(ctx context.Context, engine *core.Engine, tenantID, kind string, c psaDirectory) (int, error) {
	companies, err := psa.AllCompanies(ctx, c, 100)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, co := range companies {
		client := core.Client{ID: core.NewID("cli"), TenantID: tenantID, Name: co.Name, PSAKind: kind, PSARef: co.Ref, CreatedAt: engine.Now()}
		if err := engine.Store().Update(ctx, func(tx core.Tx) error { return tx.CreateClient(ctx, &client) }); err != nil {
			return n, err
		}
		contacts, err := c.FindContacts(ctx, co.Ref, psa.ContactSearch{})
		if err != nil {
			return n, err
		}
		for _, pc := range contacts {
			in := core.NewContact{ClientID: client.ID, FirstName: pc.FirstName, LastName: pc.LastName, Title: pc.Title, PSARef: pc.Ref}
			for _, p := range pc.Phones {
				in.Phones = append(in.Phones, core.NewDestination{Value: p.Number, Label: p.Label, Default: p.Default})
			}
			for _, e := range pc.Emails {
				in.Emails = append(in.Emails, core.NewDestination{Value: e.Address, Label: e.Label, Default: e.Default})
			}
			if _, err := engine.CreateContact(ctx, tenantID, "psa:"+kind, "psa:"+kind, in); err != nil {
				return n, fmt.Errorf("contact %s %s: %w", pc.FirstName, pc.LastName, err)
			}
			n++
		}
	}
	return n, nil
}

// nopRenderer satisfies the engine for seeding, which sends nothing.
type nopRenderer struct{}

func (nopRenderer) Render(string, core.MessageData) (core.Rendered, error) {
	return core.Rendered{}, core.Errorf(core.KindInternal, "demo seeding renders no messages")
}

// randomPassword returns 20 characters from an unambiguous alphabet.
func randomPassword() (string, error) {
	const alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", err
		}
		b[i] = alphabet[n.Int64()]
	}
	return string(b), nil
}

// envRaw reads an environment variable by its full name.
func envRaw(name string) string { return os.Getenv(name) }
