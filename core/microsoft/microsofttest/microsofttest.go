// Package microsofttest is a loopback fake of the three Microsoft services
// Countersign calls for Microsoft Authenticator push (channels.md §3): a
// tenant's OAuth2 token endpoint (v2.0 for Graph, v1 for the MFA
// connector), Microsoft Graph's users and authentication methods, and the
// MFA connector's BeginTwoWayAuthentication.
//
// It holds clients to the real contract as far as it is known:
//
//   - tokens only for the tenant's app with its secret (Graph, scope
//     https://graph.microsoft.com/.default) or for the MFA Client app
//     981f26a1-… with the connector secret (v1, resource …/Connector) or
//     a client assertion signed by a certificate registered with
//     [Server.AddConnectorCert] (v2.0, scope …/Connector/.default); AADSTS
//     errors as the endpoint gives them; expires_in a number on v2.0 and a
//     string on v1; a token stops working when it expires on the fake's
//     clock ([Server.Advance]) and works only for its own audience;
//   - Graph pages users (at most PageSize a page, @odata.nextLink with a
//     $skiptoken), answers 429 with Retry-After while [Server.Throttle]
//     says so, 401 InvalidAuthenticationToken for a bad or expired token;
//   - the connector parses the XML request (root, Version 1.0, a GUID
//     ContextId), finds the user by UPN in the token's tenant
//     (UserNotFound; AccessDenied for a UPN of a domain of another
//     tenant), refuses PhoneAppNotification to a user without the app
//     (AuthenticationMethodNotConfigured), challenges the user's default
//     method when no method id is sent, and with SyncCall waits for the
//     user's answer: the user's Auto outcome, an explicit [Server.Answer],
//     or PhoneAppNoResponse after PushTimeout. Its answer is the XML of
//     channels.md §3.4 in a default namespace, so only a client that reads
//     local names understands it. The response namespace is the fake's
//     guess; the connector is undocumented.
//
// Everything runs over TLS on 127.0.0.1: use [Server.HTTPClient] and
// [Server.Options]-style URLs from [Server.URL].
package microsofttest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
)

// Default identities of the fake tenant.
const (
	DefaultTenantID        = "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
	DefaultDomain          = "contoso.example"
	DefaultClientID        = "11111111-2222-4333-8444-555555555555"
	DefaultClientSecret    = "app~secret.Q8v2Zr7Ks1Lm4Nw9Xy0Pq3"
	DefaultConnectorSecret = "mfa~secret.H5j6Kk7Ll8Mm9Nn0Oo1Pp2"
)

// Authentication method types Graph reports (@odata.type).
const (
	MethodPassword      = "#microsoft.graph.passwordAuthenticationMethod"
	MethodAuthenticator = core.MicrosoftAuthenticatorType
	MethodPhone         = "#microsoft.graph.phoneAuthenticationMethod"
	MethodSoftwareOath  = "#microsoft.graph.softwareOathAuthenticationMethod"
	MethodFido2         = "#microsoft.graph.fido2AuthenticationMethod"
)

// Connector method ids (channels.md §3.3).
const (
	PhoneAppNotification = "PhoneAppNotification"
	OneWaySMS            = "OneWaySMS"
	PhoneAppOTP          = "PhoneAppOTP"
)

// Outcome is the connector's answer to a push: AuthenticationResult and
// Result/Value and Result/Message (Message "" is sent as nil), after Delay.
type Outcome struct {
	AuthenticationResult bool
	Value                string
	Message              string
	Delay                time.Duration
}

// Outcomes the connector gives (channels.md §3.6).
var (
	Approve    = Outcome{AuthenticationResult: true, Value: "Success"}
	Deny       = Outcome{Value: "PhoneAppDenied", Message: "The user denied the request."}
	Fraud      = Outcome{Value: "PhoneAppFraud"}
	NoResponse = Outcome{Value: "PhoneAppNoResponse"}
)

// User is a user of the fake tenant.
type User struct {
	ObjectID    string // "" means a fresh GUID
	UPN         string
	Mail        string
	Mobile      string
	DisplayName string
	Synced      bool // onPremisesSyncEnabled
	Disabled    bool
	// Methods are the registered methods' @odata.type; nil means a
	// password and Microsoft Authenticator.
	Methods []string
	// Default is the default MFA method the connector challenges when the
	// request names none; "" means PhoneAppNotification when the app is
	// registered, else none.
	Default string
	// Auto answers every push to the user; nil leaves pushes waiting for
	// Answer or PushTimeout.
	Auto *Outcome
}

func (u User) hasApp() bool {
	for _, m := range u.Methods {
		if m == MethodAuthenticator {
			return true
		}
	}
	return false
}

// Push is a prompt the connector sent to a user's phone.
type Push struct {
	UPN       string
	ContextID string
	Method    string // the method challenged
	At        time.Time
	Outcome   Outcome // zero while waiting
	done      chan Outcome
}

// Request is a BeginTwoWayAuthentication request as received.
type Request struct {
	UPN, Method, ContextID, Lcid, CallerName string
	SyncCall, RequireUserMatch               bool
	Props                                    map[string]string
	Raw                                      string
}

// Server is the fake. Its exported fields are knobs to set before Serve;
// its methods are safe for concurrent use.
type Server struct {
	TenantID        string // "" means DefaultTenantID
	Domain          string // "" means DefaultDomain
	ClientID        string
	ClientSecret    string
	ConnectorSecret string
	// ForeignDomains belong to other tenants: a UPN there is AccessDenied.
	ForeignDomains []string
	// TokenLifetime is a token's expires_in; 0 means an hour.
	TokenLifetime time.Duration
	// PageSize caps a Graph page; 0 means 100 ($top up to 999 still asks
	// for more, Graph's own cap).
	PageSize int
	// PushTimeout is when an unanswered push gives PhoneAppNoResponse; 0
	// means 60 s.
	PushTimeout time.Duration
	// MFAClientDisabled and ConnectorDisabled switch off the MFA Client
	// and Connector apps (AADSTS7000112, AADSTS500014).
	MFAClientDisabled, ConnectorDisabled bool
	// DenyMethods answers the methods call 403 (no
	// UserAuthenticationMethod.Read.All consent).
	DenyMethods bool
	// BeforeGraph, when set, runs before each Graph request with its
	// number (1, 2, …), without the fake's lock: a test can Advance the
	// clock mid-listing.
	BeforeGraph func(n int)

	srv *httptest.Server

	mu        sync.Mutex
	users     []*User
	tokens    map[string]token
	offset    time.Duration
	throttle  int
	retryWait int
	pushes    []*Push
	requests  []Request
	counts    map[string]int
	graphN    int
	certs     map[string]*x509.Certificate // connector certificates by x5t
}

type token struct {
	aud    string
	expiry time.Time
}

// Audiences of the fake's tokens.
const (
	audGraph     = "graph"
	audConnector = "connector"
)

// Start starts a fake with the default identities and users, stopped when
// t ends.
func Start(t testing.TB, users ...User) *Server {
	t.Helper()
	s := &Server{}
	for _, u := range users {
		s.AddUser(u)
	}
	s.Serve(t)
	return s
}

// Serve starts s with its knobs as set and stops it when t ends.
func (s *Server) Serve(t testing.TB) {
	t.Helper()
	s.StartLoopback()
	t.Cleanup(s.srv.Close)
}

// StartLoopback starts s, with its knobs as set, on a loopback TLS port
// until Close: for a program rather than a test (countersign demo).
func (s *Server) StartLoopback() {
	s.mu.Lock()
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&s.TenantID, DefaultTenantID)
	def(&s.Domain, DefaultDomain)
	def(&s.ClientID, DefaultClientID)
	def(&s.ClientSecret, DefaultClientSecret)
	def(&s.ConnectorSecret, DefaultConnectorSecret)
	s.tokens = map[string]token{}
	s.counts = map[string]int{}
	s.mu.Unlock()
	s.srv = httptest.NewTLSServer(http.HandlerFunc(s.route))
}

// Close stops a server started by StartLoopback.
func (s *Server) Close() { s.srv.Close() }

// URL is the base URL of all three services (login, Graph, connector).
func (s *Server) URL() string { return s.srv.URL }

// HTTPClient trusts the fake's certificate; its timeout allows a push.
func (s *Server) HTTPClient() *http.Client {
	c := *s.srv.Client()
	c.Timeout = 90 * time.Second
	return &c
}

// Config is the tenant configuration that reaches this fake.
func (s *Server) Config() core.MicrosoftConfig {
	return core.MicrosoftConfig{TenantID: s.TenantID, ClientID: s.ClientID, ClientSecret: s.ClientSecret, ConnectorSecret: s.ConnectorSecret}
}

// AddUser adds or replaces (by UPN) a user.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ObjectID == "" {
		u.ObjectID = newGUID()
	}
	if u.Methods == nil {
		u.Methods = []string{MethodPassword, MethodAuthenticator}
	}
	uu := u
	for i, x := range s.users {
		if strings.EqualFold(x.UPN, u.UPN) {
			s.users[i] = &uu
			return
		}
	}
	s.users = append(s.users, &uu)
}

// Advance moves the fake's clock (token expiry) by d.
func (s *Server) Advance(d time.Duration) { s.mu.Lock(); s.offset += d; s.mu.Unlock() }

// Throttle answers the next n Graph requests 429 with Retry-After seconds.
func (s *Server) Throttle(n, retryAfterSeconds int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle, s.retryWait = n, retryAfterSeconds
}

// Count returns how many requests reached a service: "token", "token-v1",
// "graph", "throttled", "connector", "refused" (a bad or expired token).
func (s *Server) Count(what string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[what]
}

// Pushes returns copies of the prompts sent so far, oldest first.
func (s *Server) Pushes() []Push {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Push, len(s.pushes))
	for i, p := range s.pushes {
		out[i] = *p
		out[i].done = nil
	}
	return out
}

// Requests returns the connector requests received, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// WaitPushes waits until n prompts were sent or d passes.
func (s *Server) WaitPushes(n int, d time.Duration) []Push {
	deadline := time.Now().Add(d)
	for {
		p := s.Pushes()
		if len(p) >= n || time.Now().After(deadline) {
			return p
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Answer answers the newest waiting prompt to upn and reports whether
// there was one.
func (s *Server) Answer(upn string, o Outcome) bool {
	if o.Value == "" {
		return false // an answer without a value would read as waiting
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.pushes) - 1; i >= 0; i-- {
		p := s.pushes[i]
		if strings.EqualFold(p.UPN, upn) && p.Outcome.Value == "" {
			p.Outcome = o
			p.done <- o
			return true
		}
	}
	return false
}

func (s *Server) now() time.Time { return time.Now().Add(s.offset) }

func (s *Server) count(what string) { s.counts[what]++ }

// route dispatches by path by hand: http.ServeMux would redirect the
// connector's double slash.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(p, "/oauth2/v2.0/token"):
		s.handleToken(w, r, strings.Trim(strings.TrimSuffix(p, "/oauth2/v2.0/token"), "/"), false)
	case r.Method == http.MethodPost && strings.HasSuffix(p, "/oauth2/token"):
		s.handleToken(w, r, strings.Trim(strings.TrimSuffix(p, "/oauth2/token"), "/"), true)
	case r.Method == http.MethodGet && strings.HasPrefix(p, "/v1.0/"):
		s.handleGraph(w, r)
	case r.Method == http.MethodPost && p == "/StrongAuthenticationService.svc/Connector//BeginTwoWayAuthentication":
		s.handleConnector(w, r)
	default:
		http.Error(w, "not found", http.StatusNotFound)
	}
}

func aadFail(w http.ResponseWriter, status int, errCode string, code int, text string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"error": errCode, "error_description": fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nTimestamp: now", code, text, newGUID()),
		"error_codes": []int{code}, "trace_id": newGUID(),
	})
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request, tenant string, v1 bool) {
	s.mu.Lock()
	if v1 {
		s.count("token-v1")
	} else {
		s.count("token")
	}
	s.mu.Unlock()
	f, id, secret, no := readTokenForm(r)
	if no == nil {
		no = s.checkTokenRequest(f, tenant)
	}
	var aud string
	if no == nil {
		aud, no = s.tokenAudience(r, f, tenant, id, secret, v1)
	}
	if no != nil {
		aadFail(w, no.status, no.err, no.code, no.msg)
		return
	}
	s.issueToken(w, f, aud, v1)
}

// aadRefusal is how Entra ID refuses a token request: the HTTP status,
// its error, its AADSTS code and description.
type aadRefusal struct {
	status int
	err    string
	code   int
	msg    string
}

// readTokenForm reads a token request's form and the client's ID and
// secret, from the form or HTTP Basic authentication.
func readTokenForm(r *http.Request) (f url.Values, id, secret string, no *aadRefusal) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return nil, "", "", &aadRefusal{http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'."}
	}
	if err := r.ParseForm(); err != nil {
		return nil, "", "", &aadRefusal{http.StatusBadRequest, "invalid_request", 900144, "unreadable body"}
	}
	f = r.PostForm
	id, secret = f.Get("client_id"), f.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, _ = url.QueryUnescape(u)
		secret, _ = url.QueryUnescape(p)
	}
	return f, id, secret, nil
}

// checkTokenRequest refuses another tenant and any grant but client
// credentials.
func (s *Server) checkTokenRequest(f url.Values, tenant string) *aadRefusal {
	if !strings.EqualFold(tenant, s.TenantID) && !strings.EqualFold(tenant, s.Domain) {
		return &aadRefusal{http.StatusBadRequest, "invalid_request", 90002, fmt.Sprintf("Tenant '%s' not found.", tenant)}
	}
	if f.Get("grant_type") != "client_credentials" {
		return &aadRefusal{http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."}
	}
	return nil
}

// tokenAudience authenticates the client and returns the audience of the
// token it asks for: Graph for the app (v2 only), the MFA connector for
// the MFA Client (a certificate on v2, its secret on v1).
func (s *Server) tokenAudience(r *http.Request, f url.Values, tenant, id, secret string, v1 bool) (string, *aadRefusal) {
	switch {
	case id == s.ClientID && !v1:
		return audGraph, s.checkGraphClient(f, secret)
	case id == core.MFAClientAppID && !v1:
		return audConnector, s.checkConnectorClient(r, f, secret)
	case id == core.MFAClientAppID && v1:
		return audConnector, s.checkConnectorClientV1(f, secret)
	}
	return "", &aadRefusal{http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", id, tenant)}
}

// checkGraphClient checks the app's Graph scope and secret.
func (s *Server) checkGraphClient(f url.Values, secret string) *aadRefusal {
	if f.Get("scope") != "https://graph.microsoft.com/.default" {
		return &aadRefusal{http.StatusBadRequest, "invalid_scope", 70011, "The provided request must include a 'scope' input parameter with a .default suffix for Graph."}
	}
	if secret != s.ClientSecret {
		return &aadRefusal{http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID."}
	}
	return nil
}

var (
	errMFAClientDisabled = aadRefusal{http.StatusUnauthorized, "unauthorized_client", 7000112, "Application '981f26a1-7f43-403b-a875-f8b09b8cd720'(Azure Multi-Factor Auth Client) is disabled."}
	errConnectorDisabled = aadRefusal{http.StatusBadRequest, "invalid_resource", 500014, "The service principal for resource 'https://adnotifications.windowsazure.com/StrongAuthenticationService.svc/Connector' is disabled."}
)

// checkConnectorClient checks the MFA Client's v2 request: its scope and
// a client assertion signed with a registered certificate, no secret.
func (s *Server) checkConnectorClient(r *http.Request, f url.Values, secret string) *aadRefusal {
	if s.MFAClientDisabled {
		return &errMFAClientDisabled
	}
	if f.Get("scope") != "https://adnotifications.windowsazure.com/StrongAuthenticationService.svc/Connector/.default" {
		return &aadRefusal{http.StatusBadRequest, "invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid."}
	}
	if s.ConnectorDisabled {
		return &errConnectorDisabled
	}
	if secret != "" {
		return &aadRefusal{http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided."}
	}
	if code, msg := s.checkAssertion(f, "https://"+r.Host+r.URL.Path); code != 0 {
		return &aadRefusal{http.StatusUnauthorized, "invalid_client", code, msg}
	}
	return nil
}

// checkConnectorClientV1 checks the MFA Client's v1 request: its
// resource and the connector's secret.
func (s *Server) checkConnectorClientV1(f url.Values, secret string) *aadRefusal {
	if s.MFAClientDisabled {
		return &errMFAClientDisabled
	}
	if f.Get("resource") != "https://adnotifications.windowsazure.com/StrongAuthenticationService.svc/Connector" {
		return &aadRefusal{http.StatusBadRequest, "invalid_resource", 500011, "The resource principal was not found in the tenant."}
	}
	if s.ConnectorDisabled {
		return &errConnectorDisabled
	}
	if secret != s.ConnectorSecret {
		return &aadRefusal{http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided."}
	}
	return nil
}

// issueToken answers with a fresh token for aud, as v1 or v2 words it.
func (s *Server) issueToken(w http.ResponseWriter, f url.Values, aud string, v1 bool) {
	life := s.TokenLifetime
	if life == 0 {
		life = time.Hour
	}
	tok := "fake." + aud + "." + randHex(24)
	s.mu.Lock()
	exp := s.now().Add(life)
	s.tokens[tok] = token{aud: aud, expiry: exp}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	secs := int(life / time.Second)
	if v1 {
		// The v1 endpoint sends its numbers as strings.
		_ = json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": strconv.Itoa(secs),
			"ext_expires_in": strconv.Itoa(secs), "expires_on": strconv.FormatInt(exp.Unix(), 10),
			"resource": f.Get("resource"), "access_token": tok})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": tok})
}

// AddConnectorCert registers a certificate (PEM) on the MFA Client
// service principal, as an admin does with the one Countersign generates.
func (s *Server) AddConnectorCert(certPEM string) error {
	b, _ := pem.Decode([]byte(certPEM))
	if b == nil {
		return fmt.Errorf("microsofttest: not a PEM certificate")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return err
	}
	sum := sha1.Sum(c.Raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.certs == nil {
		s.certs = map[string]*x509.Certificate{}
	}
	s.certs[base64.RawURLEncoding.EncodeToString(sum[:])] = c
	return nil
}

// checkAssertion checks an RFC 7523 client assertion as Microsoft's
// endpoint does: a registered certificate by x5t, an RS256 signature, the
// token URL as audience, the app as issuer and subject, a valid time
// range on the fake's clock (5 minutes of skew). 0 means good.
func (s *Server) checkAssertion(f url.Values, tokenURL string) (int, string) {
	if f.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || f.Get("client_assertion") == "" {
		return 7000216, "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type."
	}
	parts := strings.Split(f.Get("client_assertion"), ".")
	if len(parts) != 3 {
		return 50027, "JWT token is invalid or malformed."
	}
	var header struct{ Alg, Typ, X5t string }
	var claims struct {
		Aud, Iss, Sub string
		Exp, Nbf      int64
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || json.Unmarshal(hb, &header) != nil || json.Unmarshal(cb, &claims) != nil {
		return 50027, "JWT token is invalid or malformed."
	}
	s.mu.Lock()
	cert := s.certs[header.X5t]
	now := s.now()
	s.mu.Unlock()
	if header.Alg != "RS256" || cert == nil {
		return 700027, "The certificate with identifier used to sign the client assertion is not registered on application."
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ok || rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) != nil {
		return 700027, "Client assertion failed signature validation."
	}
	switch {
	case claims.Aud != tokenURL:
		return 700016, "The audience claim of the client assertion is not the token endpoint."
	case claims.Iss != core.MFAClientAppID || claims.Sub != core.MFAClientAppID:
		return 700021, "Client assertion application identifier doesn't match 'client_id' parameter."
	case now.Unix() >= claims.Exp || now.Add(5*time.Minute).Unix() < claims.Nbf:
		return 700024, "Client assertion is not within its valid time range."
	}
	return 0, ""
}

// bearer checks the request's token for aud; false means it answered.
func (s *Server) bearer(w http.ResponseWriter, r *http.Request, aud string, graph bool) bool {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	s.mu.Lock()
	t, known := s.tokens[tok]
	valid := ok && known && t.aud == aud && s.now().Before(t.expiry)
	expired := ok && known && t.aud == aud && !valid
	if !valid {
		s.count("refused")
	}
	s.mu.Unlock()
	if valid {
		return true
	}
	msg := "Access token validation failure. Invalid audience."
	if expired {
		msg = "Lifetime validation failed, the token is expired."
	} else if !known {
		msg = "IDX14100: JWT is not well formed."
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="", error="invalid_token", error_description="`+msg+`"`)
	if graph {
		graphFail(w, http.StatusUnauthorized, "InvalidAuthenticationToken", msg)
		return false
	}
	http.Error(w, "401 - Unauthorized: Access is denied due to invalid credentials.", http.StatusUnauthorized)
	return false
}

func graphFail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg,
		"innerError": map[string]string{"request-id": newGUID(), "date": time.Now().UTC().Format(time.RFC3339)}}})
}

var methodsPathRE = regexp.MustCompile(`^/v1\.0/users/([^/]+)/authentication/methods$`)

func (s *Server) handleGraph(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.graphN++
	n, hook := s.graphN, s.BeforeGraph
	s.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	s.mu.Lock()
	s.count("graph")
	if s.throttle > 0 {
		s.throttle--
		s.count("throttled")
		wait := s.retryWait
		s.mu.Unlock()
		w.Header().Set("Retry-After", strconv.Itoa(wait))
		graphFail(w, http.StatusTooManyRequests, "TooManyRequests", "Too many requests.")
		return
	}
	s.mu.Unlock()
	if !s.bearer(w, r, audGraph, true) {
		return
	}
	if r.URL.Path == "/v1.0/users" {
		s.handleUsers(w, r)
		return
	}
	m := methodsPathRE.FindStringSubmatch(r.URL.EscapedPath())
	if m == nil {
		graphFail(w, http.StatusBadRequest, "BadRequest", "Resource not found for the segment.")
		return
	}
	if s.DenyMethods {
		graphFail(w, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
		return
	}
	key, _ := url.PathUnescape(m[1])
	s.mu.Lock()
	var u *User
	for _, x := range s.users {
		if x.ObjectID == key || strings.EqualFold(x.UPN, key) {
			u = x
		}
	}
	var value []map[string]string
	if u != nil {
		for i, t := range u.Methods {
			value = append(value, map[string]string{"@odata.type": t, "id": fmt.Sprintf("%s-%d", u.ObjectID[:8], i)})
		}
	}
	s.mu.Unlock()
	if u == nil {
		graphFail(w, http.StatusNotFound, "Request_ResourceNotFound", fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", key))
		return
	}
	writeJSON(w, map[string]any{"@odata.context": s.srv.URL + "/v1.0/$metadata#users('" + key + "')/authentication/methods", "value": value})
}

func (s *Server) handleUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	top := 100
	if t := q.Get("$top"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 || n > 999 {
			graphFail(w, http.StatusBadRequest, "Request_UnsupportedQuery", "Invalid page size specified: '"+t+"'. Must be between 1 and 999 inclusive.")
			return
		}
		top = n
	}
	if s.PageSize > 0 {
		top = min(top, s.PageSize)
	}
	skip := 0
	if st := q.Get("$skiptoken"); st != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(st, "X'"))
		if err != nil || !strings.HasPrefix(st, "X'") {
			graphFail(w, http.StatusBadRequest, "Directory_ExpiredPageToken", "The specified page token value has expired and can no longer be included in your request.")
			return
		}
		skip = n
	}
	sel := map[string]bool{}
	for _, f := range strings.Split(q.Get("$select"), ",") {
		sel[f] = true
	}
	s.mu.Lock()
	var value []map[string]any
	end := min(skip+top, len(s.users))
	for _, u := range s.users[min(skip, end):end] {
		all := map[string]any{"id": u.ObjectID, "displayName": u.DisplayName, "userPrincipalName": u.UPN,
			"mail": nullable(u.Mail), "mobilePhone": nullable(u.Mobile), "accountEnabled": !u.Disabled,
			"onPremisesSyncEnabled": nil}
		if u.Synced {
			all["onPremisesSyncEnabled"] = true
		}
		row := map[string]any{}
		for k, v := range all {
			if len(sel) == 1 && sel[""] || sel[k] {
				row[k] = v
			}
		}
		value = append(value, row)
	}
	more := end < len(s.users)
	s.mu.Unlock()
	out := map[string]any{"@odata.context": s.srv.URL + "/v1.0/$metadata#users", "value": value}
	if more {
		nq := url.Values{}
		if v := q.Get("$select"); v != "" {
			nq.Set("$select", v)
		}
		nq.Set("$top", strconv.Itoa(top))
		nq.Set("$skiptoken", "X'"+strconv.Itoa(end))
		out["@odata.nextLink"] = s.srv.URL + "/v1.0/users?" + nq.Encode()
	}
	writeJSON(w, out)
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal")
	_ = json.NewEncoder(w).Encode(v)
}

// xmlRequest is what the fake reads of a request, by local names.
type xmlRequest struct {
	XMLName xml.Name `xml:"BeginTwoWayAuthenticationRequest"`
	Version string   `xml:"Version"`
	UPN     string   `xml:"UserPrincipalName"`
	Lcid    string   `xml:"Lcid"`
	Method  *string  `xml:"AuthenticationMethodId"`
	Props   []struct {
		Key   string `xml:"Key"`
		Value string `xml:"Value"`
	} `xml:"AuthenticationMethodProperties>KeyValueOfstringstring"`
	ContextID        string `xml:"ContextId"`
	SyncCall         string `xml:"SyncCall"`
	RequireUserMatch string `xml:"RequireUserMatch"`
	CallerName       string `xml:"CallerName"`
	CallerIP         string `xml:"CallerIP"`
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (s *Server) handleConnector(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.count("connector")
	s.mu.Unlock()
	if !s.bearer(w, r, audConnector, false) {
		return
	}
	ct := r.Header.Get("Content-Type")
	if !strings.HasPrefix(ct, "application/xml") && !strings.HasPrefix(ct, "text/xml") {
		http.Error(w, "unsupported media type", http.StatusUnsupportedMediaType)
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	var req xmlRequest
	if err := xml.Unmarshal(raw, &req); err != nil || req.Version != "1.0" || req.UPN == "" || !guidRE.MatchString(req.ContextID) {
		http.Error(w, "The request body is not a valid BeginTwoWayAuthenticationRequest.", http.StatusBadRequest)
		return
	}
	rec := Request{UPN: req.UPN, ContextID: req.ContextID, Lcid: req.Lcid, CallerName: req.CallerName,
		SyncCall: req.SyncCall == "true", RequireUserMatch: req.RequireUserMatch == "true", Props: map[string]string{}, Raw: string(raw)}
	if req.Method != nil {
		rec.Method = *req.Method
	}
	for _, p := range req.Props {
		rec.Props[p.Key] = p.Value
	}
	s.mu.Lock()
	s.requests = append(s.requests, rec)
	var u *User
	for _, x := range s.users {
		if strings.EqualFold(x.UPN, req.UPN) {
			u = x
		}
	}
	var user User
	if u != nil {
		user = *u
	}
	pending := false
	for _, p := range s.pushes {
		if strings.EqualFold(p.UPN, req.UPN) && p.Outcome.Value == "" {
			pending = true
		}
	}
	s.mu.Unlock()
	answer := func(o Outcome) { s.writeResult(w, o) }
	domain := ""
	if at := strings.LastIndexByte(req.UPN, '@'); at >= 0 {
		domain = strings.ToLower(req.UPN[at+1:])
	}
	for _, d := range s.ForeignDomains {
		if domain == strings.ToLower(d) {
			answer(Outcome{Value: "AccessDenied"})
			return
		}
	}
	if u == nil || user.Disabled {
		answer(Outcome{Value: "UserNotFound"})
		return
	}
	method := rec.Method
	if method == "" {
		method = user.Default
		if method == "" && user.hasApp() {
			method = PhoneAppNotification
		}
		if method == "" {
			answer(Outcome{Value: "NoDefaultAuthenticationMethodIsConfigured"})
			return
		}
	}
	switch {
	case method != PhoneAppNotification && rec.Method != "":
		answer(Outcome{Value: "AuthenticationMethodNotSupported"})
		return
	case method != PhoneAppNotification:
		// The default method is a code or SMS: no Authenticator prompt;
		// the call comes back at once (channels.md §3.7).
		answer(Outcome{Value: "AuthenticationMethodNotSupported"})
		return
	case !user.hasApp():
		answer(Outcome{Value: "AuthenticationMethodNotConfigured"})
		return
	case !rec.SyncCall:
		answer(Outcome{Value: "AuthenticationPending"})
		return
	case pending:
		answer(Outcome{Value: "UserAuthFailedDuplicateRequest"})
		return
	}
	push := &Push{UPN: user.UPN, ContextID: req.ContextID, Method: method, At: time.Now(), done: make(chan Outcome, 1)}
	s.mu.Lock()
	s.pushes = append(s.pushes, push)
	s.mu.Unlock()
	if user.Auto != nil {
		o := *user.Auto
		time.AfterFunc(o.Delay, func() { s.answerPush(push, o) })
	}
	timeout := s.PushTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	t := time.AfterFunc(timeout, func() { s.answerPush(push, NoResponse) })
	defer t.Stop()
	select {
	case o := <-push.done:
		answer(o)
	case <-r.Context().Done():
	}
}

// answerPush answers p unless it was answered already.
func (s *Server) answerPush(p *Push, o Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.Outcome.Value == "" && o.Value != "" {
		p.Outcome = o
		p.done <- o
	}
}

func (s *Server) writeResult(w http.ResponseWriter, o Outcome) {
	msg := `<Message i:nil="true"/>`
	if o.Message != "" {
		var b strings.Builder
		_ = xml.EscapeText(&b, []byte(o.Message))
		msg = "<Message>" + b.String() + "</Message>"
	}
	var v strings.Builder
	_ = xml.EscapeText(&v, []byte(o.Value))
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	fmt.Fprintf(w, `<BeginTwoWayAuthenticationResponse xmlns="http://schemas.datacontract.org/2004/07/Microsoft.Online.Security.StrongAuthentication.Connector" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">`+
		`<AffinityUrl i:nil="true"/><AuthenticationResult>%t</AuthenticationResult><Result>%s<Value>%s</Value></Result><SessionId>%s</SessionId>`+
		`</BeginTwoWayAuthenticationResponse>`, o.AuthenticationResult, msg, v.String(), newGUID())
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newGUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
