// Package halotest is a fake HaloPSA instance for tests, held to Halo's
// contract: it answers only the method + path pairs of the extract in
// halo/testdata (made from Halo's OpenAPI file by go generate), refuses
// query parameters an operation does not declare, and POST bodies that are
// not an array of the operation's schema or hold a field the schema does
// not declare — so that the halo client cannot drift from the real API
// unnoticed. Its own answers are checked against the schemas too.
//
// It is built from the psafake kit: its fault knobs, its violation list and
// HTTPS on loopback under a Halo host name ([DefaultHost]), whose
// [Server.HTTPClient] dials that host to the fake, trusts its certificate,
// and says "no such host" for any other. Its contract checker is its own
// (contract.go): Halo's file takes a JSON array for every POST body, types
// query parameters ("int", "bool"), and is matched case-insensitively,
// which the kit's ConnectWise-shaped contract format does not express. The client under test
// runs its production code unchanged.
//
// Like Halo it serves the authorisation server under /auth: POST
// /auth/token (client credentials, and authorisation code with PKCE S256
// for agent sign-in), GET and POST /auth/authorize (a sign-in page whose
// form picks the agent, then a redirect with the code), and GET
// /api/authinfo. Lists are wrapped as {"page_no", "page_size",
// "record_count", "users": […]} and paged with pageinate/page_size/page_no;
// /api/Agent is a bare array; users' site_id is a double ("34.0"); POST
// answers are the saved record, as an object or (PostArrays) an array.
//
// A request the contract does not allow is a violation: it is answered as
// Halo would (404 or 400) and fails the test at cleanup unless the test
// takes it with [Server.TakeViolations].
package halotest

import (
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/psafake"
	"github.com/countersign/countersign/halo"
)

// Defaults of a new server.
const (
	DefaultHost   = "acme.halopsa.com"
	DefaultTenant = "acmetenant"
	ClientID      = "halotest-service-app"
	ClientSecret  = "halotest-client-s3cr3t-0123456789"
	// AgentClientID is the agent-login application (authorisation code +
	// PKCE), whose redirect URLs a test registers with AllowRedirect.
	AgentClientID = "halotest-agent-app"
	// WebhookUser and WebhookPassword are the Basic credentials of the
	// webhook [Server.Config] sets up.
	WebhookUser     = "halotest-hook"
	WebhookPassword = "halotest-hook-pAssw0rd-4f2c9e"
)

// Server is a fake Halo instance. Its methods are safe for concurrent use.
// The embedded psafake.Faults are its FailNext, MalformedNext, SetDown and
// Requests knobs, for the API (the authorisation server has FailToken).
type Server struct {
	psafake.Faults
	t          testing.TB
	contract   *Contract
	ts         *psafake.TLSServer
	violations psafake.Violations
	host       string
	tenant     string // "" for a self-hosted instance

	mu             sync.Mutex
	clients        []clientRec
	sites          []siteRec
	users          []userRec
	tickets        []ticketRec
	actions        []actionRec
	crmNotes       []crmNoteRec
	ticketTypes    map[int]string
	agents         []agentRec
	outcomes       []outcomeRec
	tabs           []map[string]any
	webhooks       []map[string]any
	apiAgent       int // the agent the service application logs in as
	tokens         map[string]tokenRec
	codes          map[string]codeRec
	redirects      []string
	tokenLife      time.Duration
	now            func() time.Time
	lastID         int
	pageSize       int
	writeFailN     int
	writeFailCode  int
	writeFailAfter string
	tokFailN       int
	tokFailCode    int
	tokFailAfter   string
	malformed      bool
	down           bool
	rejectKeys     bool
	noAuthInfo     bool
	postArrays     bool
	forbidden      map[string]bool // "METHOD /Path" of the contract
	noAccess       map[int]bool    // outcomes the API agent may not use
	tokenReqs      int
	log            []Request
	autoApprove    int               // agent id GET /auth/authorize signs in as without a page; 0 shows the page
	pages          map[string]string // path → HTML, pages of Halo's web app (ServePage)
}

// Request is one request the fake received.
type Request struct {
	Method string
	Route  string // "GET /Users/{id}", "POST /auth/token"; the raw path when it matched nothing
	Query  string
	Status int
}

// Option configures [NewServer].
type Option func(*Server)

// WithHost makes the fake answer as host ("halo.msp.example").
func WithHost(host string) Option { return func(s *Server) { s.host = strings.ToLower(host) } }

// WithTenant sets the hosted tenant token requests must name; "" makes a
// self-hosted instance, whose authinfo names no tenant.
func WithTenant(tenant string) Option { return func(s *Server) { s.tenant = tenant } }

// NewServer starts a fake Halo instance and registers its cleanup on t.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	c, err := LoadContract()
	if err != nil {
		t.Fatalf("halotest: %v", err)
	}
	s := &Server{
		t: t, contract: c, host: DefaultHost, tenant: DefaultTenant,
		tokens: map[string]tokenRec{}, codes: map[string]codeRec{}, tokenLife: time.Hour, now: time.Now,
		forbidden: map[string]bool{}, noAccess: map[int]bool{}, lastID: 100000,
		agents:      []agentRec{{ID: 1, Name: "Countersign API", FirstName: "Countersign", Surname: "API", Email: "api@msp.example", API: true}},
		ticketTypes: map[int]string{1: "Incident", 2: "Service Request"},
		apiAgent:    1,
		outcomes:    []outcomeRec{{ID: 7, Outcome: "Private Note"}, {ID: 1, Outcome: "Email User"}, {ID: 32, Outcome: "Countersign Verification"}},
	}
	for _, o := range opts {
		o(s)
	}
	s.ts = psafake.NewTLS(t, http.HandlerFunc(s.serveHTTP), psafake.Hosts(s.host), s.host)
	s.violations.FailAtCleanup(t, "halotest")
	return s
}

// Host returns the instance's host name.
func (s *Server) Host() string { return s.host }

// Port returns the port the fake listens on (127.0.0.1), for a browser
// that maps [Server.Host] to it.
func (s *Server) Port() int { return s.ts.Listener.Addr().(*net.TCPAddr).Port }

// URL returns the instance URL, https://{host}.
func (s *Server) URL() string { return "https://" + s.host }

// Origin returns the instance's origin as a browser on [Server.Port]
// sees it: https://{host}:{port}.
func (s *Server) Origin() string { return "https://" + s.host + ":" + strconv.Itoa(s.Port()) }

// Tenant returns the hosted tenant ("" when self-hosted).
func (s *Server) Tenant() string { return s.tenant }

// Config returns a client config with the instance's valid credentials,
// leaving the tenant and authorisation server to be found.
func (s *Server) Config() halo.Config {
	return halo.Config{InstanceURL: s.URL(), ClientID: ClientID, ClientSecret: ClientSecret,
		WebhookUser: WebhookUser, WebhookPassword: WebhookPassword, AgentClientID: AgentClientID}
}

// HTTPClient returns an HTTP client that reaches the fake under its host
// name over TLS, and finds no other host.
func (s *Server) HTTPClient() *http.Client { return s.ts.Client }

// Deps returns d with its HTTPClient set to [Server.HTTPClient].
func (s *Server) Deps(d psa.Deps) psa.Deps {
	d.HTTPClient = s.ts.Client
	return d
}

// NewClient returns a halo client of the fake built with deps (its
// HTTPClient replaced) and [Server.Config].
func (s *Server) NewClient(t testing.TB, deps psa.Deps) *halo.Client {
	t.Helper()
	c, err := halo.New(s.Config(), s.Deps(deps))
	if err != nil {
		t.Fatalf("halotest: halo.New: %v", err)
	}
	return c
}

// SetClock makes token lifetimes and code expiry follow now.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetTokenLifetime sets expires_in of new tokens.
func (s *Server) SetTokenLifetime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenLife = d
}

// RevokeTokens makes every token issued so far invalid, as when Halo
// restarts or an admin regenerates the secret's sessions: API calls with
// them get 401.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = map[string]tokenRec{}
}

// RejectKeys makes the token endpoint refuse the service application's
// credentials (invalid_client), as after its secret was regenerated.
func (s *Server) RejectKeys(reject bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectKeys = reject
}

// NoAuthInfo makes /api/authinfo answer 404, as older instances might.
func (s *Server) NoAuthInfo(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noAuthInfo = on
}

// PostArrays makes POST answers arrays holding the saved record instead of
// the record itself (which Halo sends is unconfirmed).
func (s *Server) PostArrays(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.postArrays = on
}

// Forbid makes the API agent's rights refuse route ("GET /Users", a
// contract path) with a 403.
func (s *Server) Forbid(route string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forbidden[strings.ToLower(route)] = true
}

// DenyOutcome makes actions of outcome id fail with Halo's "no access to
// this Action" 400.
func (s *Server) DenyOutcome(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noAccess[id] = true
}

// SetOutcomes replaces the instance's action types.
func (s *Server) SetOutcomes(outcomes map[int]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outcomes = nil
	for id, name := range outcomes {
		s.outcomes = append(s.outcomes, outcomeRec{ID: id, Outcome: name})
	}
	slices.SortFunc(s.outcomes, func(a, b outcomeRec) int { return a.ID - b.ID })
}

// SetPageSize sets the largest page the fake returns, whatever the client
// asks for; 0 means the fake's default (1000).
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageSize = n
}

// FailToken answers the next n token requests with status (400 and 401 as
// invalid_client) and a Retry-After of retryAfter when it is not "".
func (s *Server) FailToken(n, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokFailN, s.tokFailCode, s.tokFailAfter = n, status, retryAfter
}

// TokenRequests returns how many token requests the fake has received.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenReqs
}

// Log returns every request received, oldest first.
func (s *Server) Log() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// ServePage serves html at path (outside /api and /auth), as a page of
// Halo's web app at the instance's origin: a browser test's ticket screen
// that frames the custom tab.
func (s *Server) ServePage(path, html string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pages == nil {
		s.pages = map[string]string{}
	}
	s.pages[path] = html
}

// TakeViolations returns the contract violations seen so far and forgets
// them, for tests that provoke them on purpose; violations left at cleanup
// fail the test.
func (s *Server) TakeViolations() []string { return s.violations.Take() }
