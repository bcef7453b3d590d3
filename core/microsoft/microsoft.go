// Package microsoft reads a customer's Microsoft 365 tenant and pushes to
// Microsoft Authenticator for Countersign (channels.md §3).
//
// [Client] implements core.MicrosoftClient with three parts:
//
//   - tokens from the tenant's OAuth2 client-credentials endpoint
//     (golang.org/x/oauth2/clientcredentials): a v2.0 token for Graph with
//     the app's client id and secret, and a v1 token for the MFA
//     connector issued to the "Azure Multi-Factor Auth Client" service
//     principal ([core.MFAClientAppID]): preferably with a certificate
//     (a v2.0 token, an RS256 client assertion per request, RFC 7523),
//     else with its secret (a v1 token for the resource). Each is cached
//     until it expires; a 401 from the API drops it and the call is tried
//     once more with a fresh one, so a token revoked or expired early does
//     not fail an import half-way.
//   - Microsoft Graph v1.0: the tenant's users (following @odata.nextLink,
//     which must stay on the Graph host) and each user's authentication
//     methods. A 429 or 503 waits for its Retry-After (or a doubling
//     backoff) and tries again, at most MaxRetries times and never longer
//     than MaxRetryWait per wait; beyond that the call is KindRateLimited.
//   - the connector's BeginTwoWayAuthentication: an XML request built with
//     encoding/xml, always for PhoneAppNotification (Authenticator push,
//     approve/deny only), SyncCall so the call returns with the user's
//     answer; the XML answer is read by local element name.
//
// Microsoft's refusals (an AADSTS code from the token endpoint, Graph's
// error object) are *core.MicrosoftError; the network or a 5xx is
// core.KindUnavailable. Secrets and tokens never appear in errors.
package microsoft

import (
	"net/http"
	"strings"
	"time"

	"github.com/countersign/countersign/core"
)

// Microsoft's public cloud hosts (channels.md §3.2, §3.3).
const (
	DefaultLoginURL     = "https://login.microsoftonline.com"
	DefaultGraphURL     = "https://graph.microsoft.com"
	DefaultConnectorURL = "https://adnotifications.windowsazure.com"
	// ConnectorResource is the v1 token's resource for the connector.
	ConnectorResource = "https://adnotifications.windowsazure.com/StrongAuthenticationService.svc/Connector"
	// connectorPath is the push endpoint under ConnectorURL; the double
	// slash is what both public implementations send.
	connectorPath = "/StrongAuthenticationService.svc/Connector//BeginTwoWayAuthentication"
)

// DefaultTimeout bounds each HTTP request; the connector's push waits for
// the user up to three minutes (InvalidSession after that), so it is a
// little longer.
const DefaultTimeout = 200 * time.Second

// Options tune the client. The zero value talks to Microsoft's public
// cloud with the defaults.
type Options struct {
	// HTTPClient makes every request; nil means one with DefaultTimeout.
	// Tests pass microsofttest.Server.HTTPClient.
	HTTPClient *http.Client
	// LoginURL, GraphURL and ConnectorURL replace Microsoft's hosts (a
	// loopback fake, a national cloud); "" means the Default… ones.
	LoginURL, GraphURL, ConnectorURL string
	// GraphResource is Graph's application id URI that the token's scope
	// names (…/.default); "" means DefaultGraphURL. It differs from
	// GraphURL only for a fake.
	GraphResource string
	// MaxRetries is how often a throttled Graph call is retried; 0 means 4.
	MaxRetries int
	// MaxRetryWait caps one wait for Retry-After: a longer one fails the
	// call as throttled at once; 0 means 30 s.
	MaxRetryWait time.Duration
	// Lcid is the prompt locale; "" means en-us.
	Lcid string
}

// Connector returns the core.MicrosoftConnector that opens clients with opts.
func Connector(opts Options) core.MicrosoftConnector {
	return func(cfg core.MicrosoftConfig) (core.MicrosoftClient, error) { return New(cfg, opts) }
}

// Client is one customer tenant. It is safe for concurrent use.
type Client struct {
	cfg          core.MicrosoftConfig
	hc           *http.Client
	graphURL     string
	connectorURL string
	maxRetries   int
	maxRetryWait time.Duration
	lcid         string
	graph        *tokens
	connector    *tokens // nil without a connector secret
}

// Interface guard.
var _ core.MicrosoftClient = (*Client)(nil)

// New checks cfg and returns a client; it makes no network call.
func New(cfg core.MicrosoftConfig, opts Options) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, hc: opts.HTTPClient, graphURL: trimURL(opts.GraphURL, DefaultGraphURL),
		connectorURL: trimURL(opts.ConnectorURL, DefaultConnectorURL),
		maxRetries:   opts.MaxRetries, maxRetryWait: opts.MaxRetryWait, lcid: opts.Lcid}
	if c.hc == nil {
		c.hc = &http.Client{Timeout: DefaultTimeout}
	}
	if c.maxRetries <= 0 {
		c.maxRetries = 4
	}
	if c.maxRetryWait <= 0 {
		c.maxRetryWait = 30 * time.Second
	}
	if c.lcid == "" {
		c.lcid = "en-us"
	}
	login := trimURL(opts.LoginURL, DefaultLoginURL) + "/" + cfg.TenantID
	c.graph = newGraphTokens(c.hc, login, cfg, trimURL(opts.GraphResource, DefaultGraphURL))
	if cfg.HasConnectorCredential() {
		var err error
		if c.connector, err = newConnectorTokens(c.hc, login, cfg); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func trimURL(u, def string) string {
	if u == "" {
		return def
	}
	return strings.TrimRight(u, "/")
}
