package main

import (
	"crypto/x509"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/countersign/countersign/core/microsoft"
	"github.com/countersign/countersign/core/psa"
)

// Config is everything the server reads at start. Each field has a flag and
// a COUNTERSIGN_* environment variable; a flag given on the command line
// wins over the variable.
type Config struct {
	Listen        string // address to listen on
	PublicURL     string // base URL end users and Twilio reach us at
	Database      string // SQLite file path, or a postgres:// DSN
	MasterKey     string // COUNTERSIGN_MASTER_KEY: base64/hex key or "id:key,…" list
	MasterKeyFile string
	LogLevel      string
	LogFormat     string // "text" or "json"
	DevDelivery   bool   // keep messages in the outbox; send nothing
	// TenantChannelsOnly keeps tenants off the server's Twilio and mail
	// accounts: each tenant sends through its own (Settings → Channels).
	// false lets a tenant without its own account use the server's.
	TenantChannelsOnly bool
	RequireTOTP        bool // technicians must enrol TOTP before their first session
	OutboxPoll         time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (sign-in throttling, link-page records).
	// TrustedProxies lists them comma-separated (addresses or CIDRs).
	TrustedProxies string
	// MetricsListen is the address of the /metrics listener ("" for none);
	// MetricsToken (COUNTERSIGN_METRICS_TOKEN) also serves /metrics on the
	// main listener to "Authorization: Bearer <token>".
	MetricsListen string
	MetricsToken  string

	TwilioAccountSID   string
	TwilioAPIKeySID    string
	TwilioSecret       string // auth token, or API key secret with an API key SID
	TwilioAuthToken    string // for webhook signatures when REST uses an API key
	TwilioFrom         string
	TwilioMessagingSID string

	SMTPHost     string
	SMTPPort     int
	SMTPUsername string
	SMTPPassword string
	SMTPFrom     string
	SMTPFromName string
	SMTPTLS      string // starttls, tls or none
	SMTPAuth     string

	// demoPSA puts the built-in demo PSA (package memory) among the PSA
	// plugins: demo and tests only. Its base URL is free, so in a real
	// server any tenant admin could make the server send requests to any
	// address (server-side request forgery); serve never sets it.
	demoPSA bool

	// Test seams: nil in production.
	twilioHTTP *http.Client   // carries Twilio REST calls (tests: the loopback fake)
	psaHTTP    *http.Client   // carries PSA API calls (tests: connectwise/cwtest); nil means the default client
	smtpRoots  *x509.CertPool // trusted roots for SMTP TLS (tests: the fake's self-signed cert)
	// extraPSAs join the PSA plugins (tests: a plugin written for a test
	// plugs in through its descriptor alone, seam_test.go).
	extraPSAs []psa.Descriptor
	// duoHTTP carries Duo calls and duoAllowHost accepts its host (tests:
	// core/duo/duotest); nil keeps duo_api_golang's pinned clients and
	// Duo's own hosts only.
	duoHTTP      *http.Client
	duoAllowHost func(host string) bool
	// microsoft replaces the Microsoft 365 client's options (tests: the
	// hosts and HTTP client of core/microsoft/microsofttest); nil means
	// Microsoft's public cloud.
	microsoft *microsoft.Options
	// metricsReady receives the metrics listener's address (tests).
	metricsReady func(addr string)
}

// envOr returns the environment variable name with the COUNTERSIGN_ prefix, or def.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv("COUNTERSIGN_" + name); ok {
		return v
	}
	return def
}

func envBool(name string, def bool) bool {
	v, ok := os.LookupEnv("COUNTERSIGN_" + name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return def
	}
	return b
}

func envInt(name string, def int) int {
	v, ok := os.LookupEnv("COUNTERSIGN_" + name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return def
	}
	return n
}

// serverFlags registers the server's flags on fs with defaults from the
// environment.
func serverFlags(fs *flag.FlagSet, c *Config) {
	fs.StringVar(&c.Listen, "listen", envOr("LISTEN", "127.0.0.1:8080"), "address to listen on (COUNTERSIGN_LISTEN)")
	fs.StringVar(&c.PublicURL, "public-url", envOr("PUBLIC_URL", ""), "public base URL for links and webhooks, e.g. https://verify.example.com (COUNTERSIGN_PUBLIC_URL; default http://<listen>)")
	dbFlag(fs, c)
	fs.StringVar(&c.MasterKeyFile, "master-key-file", envOr("MASTER_KEY_FILE", ""), "file holding the master key (COUNTERSIGN_MASTER_KEY_FILE); or set COUNTERSIGN_MASTER_KEY")
	fs.StringVar(&c.LogLevel, "log-level", envOr("LOG_LEVEL", "info"), "debug, info, warn or error (COUNTERSIGN_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", envOr("LOG_FORMAT", "text"), "text or json (COUNTERSIGN_LOG_FORMAT)")
	fs.BoolVar(&c.DevDelivery, "dev-delivery", envBool("DEV_DELIVERY", false), "keep messages in the dev outbox instead of sending (COUNTERSIGN_DEV_DELIVERY); on by itself when no Twilio or SMTP is configured")
	fs.BoolVar(&c.TenantChannelsOnly, "tenant-channels-only", envBool("TENANT_CHANNELS_ONLY", false), "every tenant sends through its own Twilio and mail accounts (Settings → Channels), never the server's (COUNTERSIGN_TENANT_CHANNELS_ONLY); use it on a server shared by MSPs")
	fs.BoolVar(&c.RequireTOTP, "require-totp", envBool("REQUIRE_TOTP", true), "technicians must enrol TOTP at first sign-in (COUNTERSIGN_REQUIRE_TOTP)")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", envOr("TRUSTED_PROXIES", ""), "comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-For is believed (COUNTERSIGN_TRUSTED_PROXIES); default none")
	fs.StringVar(&c.MetricsListen, "metrics-listen", envOr("METRICS_LISTEN", "127.0.0.1:9464"), "address of the Prometheus /metrics listener, kept off the public one; \"\" for none (COUNTERSIGN_METRICS_LISTEN)")
	fs.DurationVar(&c.OutboxPoll, "outbox-poll", 2*time.Second, "how often the outbox looks for due work queued by other nodes")
	fs.StringVar(&c.TwilioAccountSID, "twilio-account-sid", envOr("TWILIO_ACCOUNT_SID", ""), "Twilio account SID, AC… (COUNTERSIGN_TWILIO_ACCOUNT_SID)")
	fs.StringVar(&c.TwilioAPIKeySID, "twilio-api-key-sid", envOr("TWILIO_API_KEY_SID", ""), "Twilio API key SID, SK… (COUNTERSIGN_TWILIO_API_KEY_SID)")
	fs.StringVar(&c.TwilioFrom, "twilio-from", envOr("TWILIO_FROM", ""), "E.164 number to send from (COUNTERSIGN_TWILIO_FROM)")
	fs.StringVar(&c.TwilioMessagingSID, "twilio-messaging-service-sid", envOr("TWILIO_MESSAGING_SERVICE_SID", ""), "Twilio Messaging Service SID, MG… (COUNTERSIGN_TWILIO_MESSAGING_SERVICE_SID)")
	fs.StringVar(&c.SMTPHost, "smtp-host", envOr("SMTP_HOST", ""), "SMTP server host (COUNTERSIGN_SMTP_HOST)")
	fs.IntVar(&c.SMTPPort, "smtp-port", envInt("SMTP_PORT", 587), "SMTP server port (COUNTERSIGN_SMTP_PORT)")
	fs.StringVar(&c.SMTPUsername, "smtp-username", envOr("SMTP_USERNAME", ""), "SMTP user (COUNTERSIGN_SMTP_USERNAME)")
	fs.StringVar(&c.SMTPFrom, "smtp-from", envOr("SMTP_FROM", ""), "sender address (COUNTERSIGN_SMTP_FROM)")
	fs.StringVar(&c.SMTPFromName, "smtp-from-name", envOr("SMTP_FROM_NAME", ""), "sender display name; default the tenant's name (COUNTERSIGN_SMTP_FROM_NAME)")
	fs.StringVar(&c.SMTPTLS, "smtp-tls", envOr("SMTP_TLS", "starttls"), "starttls, tls or none (COUNTERSIGN_SMTP_TLS)")
	fs.StringVar(&c.SMTPAuth, "smtp-auth", envOr("SMTP_AUTH", ""), "plain, login, cram-md5, none; empty picks what the server offers (COUNTERSIGN_SMTP_AUTH)")
	// Secrets come only from the environment (or files), never flags: flags
	// show in process listings and shell history.
	c.MasterKey = envOr("MASTER_KEY", "")
	c.TwilioSecret = envOr("TWILIO_SECRET", envOr("TWILIO_AUTH_TOKEN", ""))
	c.TwilioAuthToken = envOr("TWILIO_AUTH_TOKEN", "")
	c.SMTPPassword = envOr("SMTP_PASSWORD", "")
	c.MetricsToken = envOr("METRICS_TOKEN", "")
}

// dbFlag registers -db, shared by every command that opens the store.
func dbFlag(fs *flag.FlagSet, c *Config) {
	fs.StringVar(&c.Database, "db", envOr("DB", "countersign.db"), "SQLite file, or postgres://user@host/db DSN (COUNTERSIGN_DB)")
}

// dialectOf picks the store dialect from a -db value.
func dialectOf(db string) (dialect, dsn string) {
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		return "postgres", db
	}
	return "sqlite", strings.TrimPrefix(db, "sqlite:")
}

// newLogger builds the process logger.
func newLogger(c Config, w *os.File) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("-log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.LogFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-log-format %q: want text or json", c.LogFormat)
}

// parsePrefixes reads a comma-separated list of addresses and CIDRs.
func parsePrefixes(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.SplitSeq(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: want an address or a CIDR such as 10.0.0.0/8", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}
