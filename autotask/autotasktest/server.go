// Package autotasktest is a fake Autotask PSA for tests, held to the
// vendor's contract: it answers only requests whose method and path the
// contract extract (testdata/contract.json, made from the vendor's
// Swagger file by go generate, embedded) declares, with bodies whose every
// property the named definition declares — case-insensitively, as Autotask
// matches them — and refuses the rest, so that the autotask client cannot
// drift from the real API unnoticed.
//
// It serves HTTPS on loopback under Autotask's real host names: the
// [Server.HTTPClient] dials webservices.autotask.net (zone discovery) and
// the zone's host (webservices5.autotask.net by default) to the fake and
// trusts its certificate, and says "no such host" for any other. The client
// under test therefore runs its production code unchanged.
//
// What it checks, beyond the contract: the ApiIntegrationCode, UserName
// and Secret headers on every call but zone and version discovery (where
// credentials must not be sent), the zone (a database answers on its own
// zone's host only), the query syntax (operators, fields of the entity,
// a filter required, MaxRecords 1–500, IncludeFields), and Autotask's own
// rules (a note needs a title; a contact needs the fields its entity
// information marks required; impersonation only of resources that allow
// it). What it does like the real one: camelCase answers, {"item": …}
// and {"items": …, "pageDetails": …} shapes, nextPageUrl paging (POST with
// the same body, or GET), {"itemId": n} for creates, {"errors": […]} on
// failures — 401 for a wrong secret, 500 for a wrong integration code —
// ThresholdInformation, and per-endpoint concurrency high-water marks.
//
// A request the contract does not allow is a violation: it is answered as
// Autotask would (404 or 405 with errors[]) and fails the test at cleanup
// unless the test takes it with [Server.TakeViolations].
package autotasktest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign/autotask"
	"github.com/countersign/countersign/core/psa"
)

// Defaults of a new server.
const (
	DiscoveryHost   = "webservices.autotask.net"
	DefaultZone     = 5
	UserName        = "countersign-api@msp.example"
	Secret          = "atTestSecret-s3cr3t!"
	IntegrationCode = "ATTESTINTEGRATIONCODE0000000001"
	APIUserID       = 29682885
	DatabaseCI      = 123456
)

// Paging limits of the real API.
const (
	maxRecords = 500
)

// Server is a fake Autotask database. Its methods are safe for concurrent
// use.
type Server struct {
	t        testing.TB
	contract *Contract
	ts       *httptest.Server
	client   *http.Client

	mu             sync.Mutex
	zone           int // the zone's number: webservices{zone}.autotask.net
	companies      map[int64]*companyRec
	contacts       map[int64]*contactRec
	tickets        map[int64]*ticketRec
	notes          map[int64][]NoteRecord
	companyNotes   []CompanyNoteRecord
	resources      map[int64]*resourceRec
	webhooks       []webhookRec
	insights       []map[string]any
	apiUser        int64
	lastID         int64
	pageSize       int
	failN          int
	failWriteN     int // as failN, for writes only
	failCode       int
	failAfter      string
	malformed      bool
	down           bool
	badSecret      bool
	badCode        bool
	forbidden      map[string]bool     // lower-case entity
	required       []string            // extra required contact fields
	requiredBy     map[string][]string // extra required fields of tickets and company notes, by lower-case entity
	impersonate    bool                // the API user may impersonate
	otherUsage     int                 // requests of the MSP's other integrations this hour
	requests       int
	calls          []time.Time
	paging         map[string]pagingState
	latency        time.Duration
	nextHost       string
	loseN          int
	refuseInsights bool
	inFlight       map[string]int
	highWater      map[string]int
	log            []Request
	violations     []string
}

// Request is one request the fake received.
type Request struct {
	Method string
	Host   string
	Route  string // "POST /V1.0/Contacts/query"; the raw path when it matched nothing
	Query  url.Values
	Body   string
	Header http.Header
	Status int
}

// NoteRecord is a ticket note as the fake stored it.
type NoteRecord struct {
	ID                            int64
	TicketID                      int64
	Title                         string
	Description                   string
	NoteType                      int
	Publish                       int
	CreatorResourceID             int64
	ImpersonatorCreatorResourceID int64
}

// Option configures [NewServer].
type Option func(*Server)

// WithZone makes the database live in zone n (webservices{n}.autotask.net).
func WithZone(n int) Option { return func(s *Server) { s.zone = n } }

// NewServer starts a fake Autotask database and registers its cleanup on
// t. It fails t when the contract extract cannot be loaded.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	c, err := LoadContract()
	if err != nil {
		t.Fatalf("%v", err)
	}
	s := &Server{t: t, contract: c, zone: DefaultZone, forbidden: map[string]bool{}, impersonate: true, requiredBy: map[string][]string{},
		paging: map[string]pagingState{}, inFlight: map[string]int{}, highWater: map[string]int{}, lastID: 100000}
	for _, o := range opts {
		o(s)
	}
	s.resetLocked()
	cert, pool := newCert(t)
	s.ts = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	s.ts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	s.ts.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes cut short when a test ends
	s.ts.StartTLS()
	addr := s.ts.Listener.Addr().String()
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(a)
			if err != nil {
				host = a
			}
			if !s.knownHost(host) {
				return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}
			}
			return dialer.DialContext(ctx, "tcp", addr)
		},
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 16,
	}
	s.client = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		s.ts.Close()
		s.mu.Lock()
		v := slices.Clone(s.violations)
		s.mu.Unlock()
		for _, msg := range v {
			t.Errorf("autotasktest: contract violation: %s", msg)
		}
	})
	return s
}

// knownHost reports whether h is discovery or any zone's API host: a
// client that keeps a moved database's old zone must reach it and be
// refused there, as with the real service.
func (s *Server) knownHost(h string) bool {
	h = strings.ToLower(h)
	if h == DiscoveryHost {
		return true
	}
	n, ok := strings.CutPrefix(h, "webservices")
	if !ok {
		return false
	}
	num, rest, _ := strings.Cut(n, ".")
	_, err := strconv.Atoi(num)
	return err == nil && rest == "autotask.net"
}

// ZoneHost returns the API host of the database's zone.
func (s *Server) ZoneHost() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.zoneHostLocked()
}

func (s *Server) zoneHostLocked() string { return fmt.Sprintf("webservices%d.autotask.net", s.zone) }

// ZoneURL returns the zone's API base, as zoneInformation gives it.
func (s *Server) ZoneURL() string { return "https://" + s.ZoneHost() + "/ATServicesRest/" }

// WebURL returns the tenant's UI URL, as zoneInformation gives it.
func (s *Server) WebURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("https://ww%d.autotask.net/", s.zone)
}

// WebOrigin returns the tenant's UI origin.
func (s *Server) WebOrigin() string { return strings.TrimSuffix(s.WebURL(), "/") }

// MoveZone moves the database to zone n: the old zone's host answers 401
// from now on, and zone discovery names the new one.
func (s *Server) MoveZone(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.zone = n
}

// Config returns a client config with the database's valid credentials,
// the note type and internal publish value an admin picks at setup, and no
// stored zone.
func (s *Server) Config() autotask.Config {
	return autotask.Config{UserName: UserName, Secret: Secret, IntegrationCode: IntegrationCode,
		NoteType: strconv.Itoa(NoteTypeDetail), NotePublish: strconv.Itoa(PublishInternal)}
}

// HTTPClient returns an HTTP client that reaches the fake under Autotask's
// host names over TLS, and finds no other host.
func (s *Server) HTTPClient() *http.Client { return s.client }

// Deps returns d with its HTTPClient set to [Server.HTTPClient].
func (s *Server) Deps(d psa.Deps) psa.Deps {
	d.HTTPClient = s.client
	return d
}

// NewClient returns an autotask client of the fake built with deps (its
// HTTPClient replaced) and [Server.Config].
func (s *Server) NewClient(t testing.TB, deps psa.Deps) *autotask.Client {
	t.Helper()
	c, err := autotask.New(s.Config(), s.Deps(deps))
	if err != nil {
		t.Fatalf("autotasktest: autotask.New: %v", err)
	}
	return c
}

// newCert returns a self-signed certificate for Autotask's host names and
// a pool that trusts it.
func newCert(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("autotasktest: key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "autotasktest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"*.autotask.net", "autotask.net"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("autotasktest: certificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("autotasktest: certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// DiscoveryURL returns the zone lookup's URL (autotask.DiscoveryURL).
func DiscoveryURL() string {
	return "https://" + DiscoveryHost + "/atservicesrest/v1.0/zoneInformation"
}
