package main

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/countersign/countersign/assets"
	"github.com/countersign/countersign/autotask"
	"github.com/countersign/countersign/connectwise"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/duo"
	"github.com/countersign/countersign/core/live"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/memory"
	"github.com/countersign/countersign/core/secret"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/twilio"
	"github.com/countersign/countersign/core/web"
	"github.com/countersign/countersign/halo"
	"github.com/countersign/countersign/kaseya"
	"github.com/countersign/countersign/superops"
)

// app is a wired server, ready to serve.
type app struct {
	store   *store.Store
	engine  *core.Engine
	web     *web.Server
	keys    *secret.Keyring
	log     *slog.Logger
	metrics *web.Metrics
	hub     *live.Hub
	bridge  *live.PGBridge // nil on SQLite: one process, events stay in it
}

// openStore opens and migrates the database named by c.Database.
func openStore(ctx context.Context, c Config) (*store.Store, error) {
	dialect, dsn := dialectOf(c.Database)
	st, err := store.Open(ctx, dialect, dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	return st, nil
}

// loadKeys loads the master key from the environment or the key file.
func loadKeys(c Config) (*secret.Keyring, error) {
	if c.MasterKey == "" && c.MasterKeyFile == "" {
		return nil, errors.New("no master key: set COUNTERSIGN_MASTER_KEY or -master-key-file (create one with `countersign keygen -out FILE`)")
	}
	return secret.LoadKeyring(c.MasterKey, c.MasterKeyFile)
}

// build wires store, engine and web server from c.
func build(ctx context.Context, c Config, log *slog.Logger) (*app, error) {
	keys, err := loadKeys(c)
	if err != nil {
		return nil, err
	}
	if c.PublicURL == "" {
		return nil, errors.New("no public URL: set -public-url or COUNTERSIGN_PUBLIC_URL")
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			st.Close()
		}
	}()
	senders, twilioClient, err := buildSenders(c)
	if err != nil {
		return nil, err
	}
	warnDelivery(c, senders, log)
	renderer, err := assets.NewMessages()
	if err != nil {
		return nil, fmt.Errorf("message templates: %w", err)
	}
	if c.MetricsToken != "" && len(c.MetricsToken) < 24 {
		return nil, fmt.Errorf("COUNTERSIGN_METRICS_TOKEN is too short: use at least 24 random characters (e.g. openssl rand -hex 16)")
	}
	proxies, err := parsePrefixes(c.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("-trusted-proxies: %w", err)
	}
	metrics := web.NewMetrics()
	hub, bridge, publisher := liveBus(c, log)
	// PSA plugins: one client per integration, shared by pods and by the
	// ticket notes the outbox writes (so their caches are shared too).
	plugins, err := psaRegistry(c.demoPSA, c.extraPSAs...)
	if err != nil {
		return nil, err
	}
	psaClients := psa.NewClients(plugins, func(in core.Integration) psa.Deps {
		return psa.Deps{Logger: log.With("integration", in.ID, "kind", in.Kind), Calls: metrics.PSACalls(in), HTTPClient: c.psaHTTP}
	})
	var (
		engine *core.Engine
		srv    *web.Server
	)
	// Inbound PSA events are acted on by the web layer, from the outbox;
	// the server exists only once the engine does.
	senders[core.OutboxInboundEvent] = core.SenderFunc(func(ctx context.Context, m core.Outbound) (string, error) {
		return srv.ActOnInboundEvent(ctx, m)
	})
	addPSASenders(senders, psaClients, func(ctx context.Context, tenantID, id string) (core.Integration, error) {
		return engine.Integration(ctx, tenantID, id)
	})
	engine, err = core.NewEngine(core.Config{
		Store: st, Renderer: renderer, Sealer: keys, CodeKey: keys.Derive("code-hmac"), PublicURL: c.PublicURL,
		Senders: senders, DevDelivery: c.DevDelivery, Channels: channelFactory{c: c}, NoSharedChannels: c.TenantChannelsOnly, StatusCallbacks: strings.HasPrefix(c.PublicURL, "https://"),
		Observer: metrics, Publisher: publisher, Logger: log,
		Duo:       duo.Connector(duo.Options{HTTPClient: c.duoHTTP, AllowHost: c.duoAllowHost}),
		Microsoft: microsoftConnector(c),
	})
	if err != nil {
		return nil, err
	}
	// #verify and #confirm texts: technician verification (issue 18).
	engine.SetTechVerifyHandler(engine.TechVerifyHandler())
	pages, err := assets.Pages(assets.TemplatesFS(), assets.StaticFS())
	if err != nil {
		return nil, fmt.Errorf("page templates: %w", err)
	}
	srv, err = web.New(webConfig(c, engine, psaClients, pages, keys, metrics, hub, proxies, twilioClient, log))
	if err != nil {
		return nil, err
	}
	ok = true
	return &app{store: st, engine: engine, web: srv, keys: keys, log: log, metrics: metrics, hub: hub, bridge: bridge}, nil
}

// warnDelivery says at start-up when messages will not leave the outbox.
// Without server-wide channels, a tenant's messages go out through its
// own accounts (Settings → Channels); until it has them they are kept in
// the outbox, as in dev delivery.
func warnDelivery(c Config, senders map[core.OutboxKind]core.Sender, log *slog.Logger) {
	switch {
	case c.DevDelivery:
		log.Warn("DEV DELIVERY MODE: messages are kept in the outbox and never sent")
	case len(senders) == 0:
		log.Warn("no server-wide Twilio or SMTP: messages of tenants without their own channels are kept in the outbox, never sent")
	}
}

// liveBus returns the hub of live updates and what the engine publishes
// to: in-process on SQLite; on PostgreSQL also to and from every other
// node on the database (LISTEN/NOTIFY), through the bridge.
func liveBus(c Config, log *slog.Logger) (*live.Hub, *live.PGBridge, core.Publisher) {
	hub := live.NewHub(0)
	if dialect, dsn := dialectOf(c.Database); dialect == "postgres" {
		bridge := live.NewPGBridge(hub, dsn, log)
		return hub, bridge, bridge
	}
	return hub, nil, hub
}

// addPSASenders adds the outbox senders that write to PSAs: ticket notes,
// tray tickets, contacts, and the SMS opt-in forms' contact note and
// corrected number (issue 18 item 4). load reads an item's integration.
func addPSASenders(senders map[core.OutboxKind]core.Sender, clients *psa.Clients, load func(ctx context.Context, tenantID, id string) (core.Integration, error)) {
	senders[core.OutboxTicketNote] = &psa.NoteSender{Clients: clients, Load: load}
	senders[core.OutboxPSATicket] = &psa.TicketSender{Clients: clients, Load: load}
	senders[core.OutboxPSAContact] = &psa.ContactSender{Clients: clients, Load: load}
	contactWrites := &psa.ContactWriteSender{Clients: clients, Load: load}
	senders[core.OutboxContactNote], senders[core.OutboxContactPhone] = contactWrites, contactWrites
}

// webConfig is the web server's configuration from c and the wired parts.
func webConfig(c Config, engine *core.Engine, psaClients *psa.Clients, pages *template.Template, keys *secret.Keyring, metrics *web.Metrics,
	hub *live.Hub, proxies []netip.Prefix, twilioClient *twilio.Client, log *slog.Logger) web.Config {
	wcfg := web.Config{
		PSA:    psaClients,
		Engine: engine, Pages: pages, Static: assets.StaticHandler(assets.StaticFS()),
		SessionKey: keys.Derive("session"), PublicURL: c.PublicURL, Metrics: metrics, MetricsToken: c.MetricsToken, Live: hub, Logger: log,
		// The gate is made now, not at the first sign-in, so that the
		// dummy hash for unknown emails is ready before anyone asks.
		Auth:           &web.PasswordAuth{Engine: engine, Keys: keys, Now: engine.Now, RequireTOTP: c.RequireTOTP, Gate: web.DefaultHashGate()},
		TrustedProxies: proxies,
		// Inbound texts to a tenant's own Twilio number are signed with
		// that account's auth token.
		TwilioWebhookValidator: func(tokens ...string) web.StatusWebhook {
			return twilio.NewWebhookValidator(c.PublicURL, tokens...)
		},
	}
	if twilioClient != nil {
		wcfg.TwilioStatus = twilioClient.WebhookValidator(c.PublicURL)
		wcfg.TwilioAccountSID = c.TwilioAccountSID
	}
	return wcfg
}

// psaRegistry lists the PSA plugins this binary carries; adding a PSA is a
// line here. The built-in demo PSA joins them only for the demo and tests
// (withDemo): it is not a production integration.
func psaRegistry(withDemo bool, extra ...psa.Descriptor) (*psa.Registry, error) {
	descs := []psa.Descriptor{
		connectwise.Descriptor(),
		autotask.Descriptor(),
		halo.Descriptor(),
		kaseya.Descriptor(),
		superops.Descriptor(),
	}
	if withDemo {
		descs = append(descs, memory.Descriptor())
	}
	return psa.NewRegistry(append(descs, extra...)...)
}

// buildSenders returns a sender per configured channel.
func buildSenders(c Config) (map[core.OutboxKind]core.Sender, *twilio.Client, error) {
	senders := map[core.OutboxKind]core.Sender{}
	var tc *twilio.Client
	if c.TwilioAccountSID != "" {
		var err error
		tc, err = twilio.New(twilio.Config{AccountSID: c.TwilioAccountSID, APIKeySID: c.TwilioAPIKeySID, Secret: c.TwilioSecret,
			AuthToken: c.TwilioAuthToken, From: c.TwilioFrom, MessagingServiceSID: c.TwilioMessagingSID, HTTPClient: c.twilioHTTP})
		if err != nil {
			return nil, nil, fmt.Errorf("twilio settings: %w", err)
		}
		senders[core.OutboxSMS] = tc.SMS()
		if c.TwilioFrom != "" {
			senders[core.OutboxVoice] = tc.Voice()
		}
	}
	if c.SMTPHost != "" {
		m, err := newMailer(c)
		if err != nil {
			return nil, nil, fmt.Errorf("smtp settings: %w", err)
		}
		senders[core.OutboxEmail] = m
	}
	return senders, tc, nil
}

// Run serves until ctx ends, then shuts down gracefully: it stops taking
// requests, lets running ones finish (up to 15 s), and stops the outbox.
// ready, when non-nil, receives the bound address once listening.
func Run(ctx context.Context, c Config, log *slog.Logger, ready func(addr string)) error {
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server running? use -listen)", c.Listen, err)
	}
	defer ln.Close()
	var metricsLn net.Listener
	if c.MetricsListen != "" {
		if metricsLn, err = net.Listen("tcp", c.MetricsListen); err != nil {
			return fmt.Errorf("metrics: listen on %s: %w (use -metrics-listen, or -metrics-listen \"\" with COUNTERSIGN_METRICS_TOKEN)", c.MetricsListen, err)
		}
		defer metricsLn.Close()
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + ln.Addr().String()
	}
	a, err := build(ctx, c, log)
	if err != nil {
		return err
	}
	defer a.store.Close()
	if metricsLn != nil {
		ms := &http.Server{Handler: metricsMux(a.metrics), ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}
		go func() { _ = ms.Serve(metricsLn) }()
		defer ms.Close()
		a.log.Info("metrics listening", "addr", metricsLn.Addr().String())
		if c.metricsReady != nil {
			c.metricsReady(metricsLn.Addr().String())
		}
	}
	return a.serve(ctx, c, ln, ready)
}

// metricsMux serves /metrics alone, for the metrics listener.
func metricsMux(m *web.Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	return mux
}

func (a *app) serve(ctx context.Context, c Config, ln net.Listener, ready func(addr string)) error {
	hs := &http.Server{Handler: a.web, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}
	workCtx, stopWork := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		poll := c.OutboxPoll
		if poll <= 0 {
			poll = 2 * time.Second
		}
		a.engine.RunOutbox(workCtx, poll)
	}()
	// Password-expiry and lock-out notices: each user's of a day is claimed
	// once in the store, so every node may run this.
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.engine.RunDirectoryNotices(workCtx, time.Hour)
	}()
	// Directory resets and unlocks whose task expired before the harvester
	// fetched it fail, with a note on the ticket: each is settled once in
	// the store, so every node may run this too.
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.engine.RunDirectoryExpiry(workCtx, time.Minute)
	}()
	// Shutdown does not wait for hijacked connections: closing the hub ends
	// every websocket (1001, going away) so their clients reconnect to
	// another node.
	hs.RegisterOnShutdown(a.hub.Close)
	if a.bridge != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.bridge.Run(workCtx)
			a.bridge.Close() // its barrier connection
		}()
		// Take requests once other nodes' events arrive, so a page opened
		// here right away misses none; a slow database only delays this.
		select {
		case <-a.bridge.Ready():
		case <-time.After(5 * time.Second):
			a.log.Warn("live: not yet listening for other nodes' events; serving anyway")
		case <-ctx.Done():
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	a.log.Info("countersign listening", "addr", ln.Addr().String(), "public_url", c.PublicURL)
	if ready != nil {
		ready(ln.Addr().String())
	}
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		a.log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		err = hs.Shutdown(sctx)
		cancel()
	}
	stopWork()
	wg.Wait()
	a.engine.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
