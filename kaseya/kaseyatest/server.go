// Package kaseyatest is a fake Kaseya BMS REST v2 service for tests, built
// from the PSA fakes' kit (core/psa/psafake) and held to the vendor's
// OpenAPI document: it refuses any method and path the document does not
// list, any query parameter the operation does not declare, and any JSON
// body field its schema does not declare, and records each as a violation
// that fails the test. It signs in like BMS (form POST to
// /v2/security/authenticate with an optional TOTP code, bearer tokens that
// expire, refresh tokens), answers every result in BMS's envelope —
// failures as HTTP 200 with success:false, as the document declares, and
// 401 for a missing or expired token — and pages with PageSize and
// PageNumber (both bases accepted) and totalRecords. It implements
// psatest.Fake.
//
// The contract is testdata/bms-v2.json, embedded: the part of
// shared/contracts/kaseya-bms/openapi.json the fake serves, extracted by
// `go generate` (internal/extract); tests never read shared/.
package kaseyatest

//go:generate go run ./internal/extract -in ../../../shared/contracts/kaseya-bms/openapi.json -out testdata/bms-v2.json

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/psafake"
	"github.com/countersign/countersign/kaseya"
)

//go:embed testdata/bms-v2.json
var contractJSON []byte

var contract = psafake.MustParseContract(contractJSON)

// Host is the API host the fake serves: BMS's US region. The client
// derives it from the gateway https://bms.kaseya.com/.
const Host = "api.bms.kaseya.com"

// Credentials of the fake's integration user.
const (
	Tenant   = "AcmeMSP"
	Username = "countersign@acme-msp.example"
	Password = "correct horse battery staple"
)

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	psafake.Faults // FailNext, MalformedNext, SetDown, Requests

	tls *psafake.TLSServer
	v   psafake.Violations

	mu         sync.Mutex
	now        func() time.Time
	totpSecret string // "" when the user has no MFA
	tokenTTL   time.Duration
	tokens     map[string]time.Time // access token → expiry
	refresh    map[string]string    // refresh token → its access token
	nextToken  int
	signIns    int // successful and failed sign-ins
	refreshes  int
	inSignIn   int // sign-ins under way
	maxInSign  int // the most sign-ins ever under way at once
	signInGate chan struct{}
	pageSize   int
	companies  []psa.Company
	locations  map[int][]int // account → location ids
	contacts   []contactRec
	tickets    map[int]ticketRec
	notes      map[int][]NoteRecord
	member     psa.Member
	employees  []employeeRec
	pocs       map[int]bool // contacts marked as their account's point of contact
	nextID     int
	headers    map[string]bool // request headers other than the standard ones
	pascalNext bool            // spell the next answer's keys in PascalCase
	wrapBare   bool            // wrap the answers the document declares bare
}

type contactRec struct {
	id, account int
	first, last string
	title       string
	emails      []psa.Email
	phones      []psa.Phone
}

type ticketRec struct {
	id, account, contact  int
	number, title, status string
	// Set by POST /v2/servicedesk/tickets.
	details                                   string
	location, statusID, priority, typ, source int
}

type employeeRec struct {
	m      psa.Member
	active bool
}

// NoteRecord is a note as BMS stored it.
type NoteRecord struct {
	Details    string
	IsInternal bool
	TypeID     int
	NoteDate   string
	Extra      []string // body fields beyond the four we send (StatusId, EmailNotification…)
}

// NewServer starts the fake over HTTPS on loopback. It registers its
// shutdown, and a check that no contract violation is left, on t.
func NewServer(t testing.TB) *Server {
	s := &Server{
		now:       time.Now,
		tokenTTL:  time.Hour,
		tokens:    map[string]time.Time{},
		refresh:   map[string]string{},
		locations: map[int][]int{},
		pocs:      map[int]bool{},
		tickets:   map[int]ticketRec{},
		notes:     map[int][]NoteRecord{},
		nextID:    90000,
		headers:   map[string]bool{},
	}
	s.tls = psafake.NewTLS(t, http.HandlerFunc(s.serveHTTP), psafake.Hosts(Host), Host)
	s.v.FailAtCleanup(t, "kaseyatest")
	return s
}

// Config returns a client config for the fake's user.
func (s *Server) Config() kaseya.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Tests make many calls in a moment; the budget is tested on its own.
	return kaseya.Config{GatewayURL: "https://bms.kaseya.com/", Tenant: Tenant, Username: Username, Password: Password, TOTPSecret: s.totpSecret,
		CallsPerHour: "100000"}
}

// HTTPClient returns a client that reaches the fake under its host name.
func (s *Server) HTTPClient() *http.Client { return s.tls.Client }

// NewClient returns a client of the fake built with deps.
func (s *Server) NewClient(t testing.TB, deps psa.Deps) *kaseya.Client {
	t.Helper()
	deps.HTTPClient = s.tls.Client
	c, err := kaseya.New(s.Config(), deps)
	if err != nil {
		t.Fatalf("kaseyatest: client: %v", err)
	}
	return c
}

// SetClock sets the fake's clock, for token expiry.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetTokenTTL sets how long new access tokens live.
func (s *Server) SetTokenTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenTTL = d
}

// RequireMFA makes sign-ins need a TOTP code of secret ("" turns MFA off).
func (s *Server) RequireMFA(secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.totpSecret = secret
}

// ExpireTokens makes every access token issued so far invalid, as if BMS
// had revoked them; refresh tokens stay valid.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range s.tokens {
		s.tokens[t] = time.Time{}
	}
}

// HoldSignIns makes sign-ins wait until the returned func is called, so a
// test can pile requests up behind one.
func (s *Server) HoldSignIns() (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gate := make(chan struct{})
	s.signInGate = gate
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.signInGate = nil
			s.mu.Unlock()
			close(gate)
		})
	}
}

// SignIns returns how many sign-ins (authenticate calls) the fake got, and
// the most that were ever under way at once.
func (s *Server) SignIns() (total, maxConcurrent int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signIns, s.maxInSign
}

// Refreshes returns how many token refreshes the fake got.
func (s *Server) Refreshes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshes
}

// ExtraHeaders returns the request headers the fake saw beyond
// Authorization, Accept, Content-Type and the transport's own: BMS takes
// no custom headers (its tenant is inside the token).
func (s *Server) ExtraHeaders() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for h := range s.headers {
		out = append(out, h)
	}
	slices.Sort(out)
	return out
}

// PascalCaseNext spells the keys of the next successful answer in
// PascalCase, as the vendor's document does, so that a test sees the
// client decode both spellings.
func (s *Server) PascalCaseNext() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pascalNext = true
}

// WrapBareAnswers wraps the answers the document declares without the
// envelope (GET /v2/crm/contacts/summary/{id}) in it, as the live service
// may (reference, open item 6).
func (s *Server) WrapBareAnswers(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wrapBare = on
}

// TakeViolations returns the contract violations recorded so far and
// forgets them, for tests that provoke them on purpose.
func (s *Server) TakeViolations() []string { return s.v.Take() }

// Seed replaces the fake's data. Every company gets one location.
func (s *Server) Seed(companies []psa.Company, contacts []psa.Contact, tickets []psa.Ticket) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.companies = slices.Clone(companies)
	s.locations = map[int][]int{}
	for i, c := range companies {
		s.locations[mustID(c.Ref)] = []int{7000 + i}
	}
	s.contacts = nil
	s.pocs = map[int]bool{}
	for _, c := range contacts {
		s.contacts = append(s.contacts, contactRec{
			id: mustID(c.Ref), account: optID(c.CompanyRef), first: c.FirstName, last: c.LastName, title: c.Title,
			emails: slices.Clone(c.Emails), phones: slices.Clone(c.Phones),
		})
	}
	s.tickets = map[int]ticketRec{}
	s.notes = map[int][]NoteRecord{}
	for _, t := range tickets {
		num := t.Number
		if num == "" {
			num = "T" + t.Ref
		}
		s.tickets[mustID(t.Ref)] = ticketRec{id: mustID(t.Ref), account: optID(t.CompanyRef), contact: optID(t.ContactRef),
			number: num, title: t.Summary, status: t.Status}
	}
}

func mustID(ref string) int {
	n, err := strconv.Atoi(ref)
	if err != nil || n < 1 {
		panic(fmt.Sprintf("kaseyatest: ref %q is not a BMS id", ref))
	}
	return n
}

func optID(ref string) int {
	if ref == "" {
		return 0
	}
	return mustID(ref)
}

// SetMember sets the user the integration signs in as.
func (s *Server) SetMember(m psa.Member) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.member = m
}

// SetPageSize sets the largest page the fake returns; 0 means 100.
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageSize = n
}

// Notes returns the notes of the ticket with ref, oldest first.
func (s *Server) Notes(ticketRef string) []psa.Note {
	var out []psa.Note
	for _, n := range s.NoteRecords(ticketRef) {
		out = append(out, psa.Note{Text: n.Details, Public: !n.IsInternal})
	}
	return out
}

// NoteRecords returns the notes of the ticket with ref as BMS stored them.
func (s *Server) NoteRecords(ticketRef string) []NoteRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := strconv.Atoi(ticketRef)
	if err != nil {
		return nil
	}
	return slices.Clone(s.notes[n])
}

// standardHeaders are the headers a client may send.
var standardHeaders = map[string]bool{
	"Authorization": true, "Accept": true, "Content-Type": true, "Content-Length": true,
	"User-Agent": true, "Accept-Encoding": true, "Connection": true,
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if f, ok := s.Begin(); ok {
		f.Write(w, writeFailure)
		return
	}
	s.mu.Lock()
	for h := range r.Header {
		if !standardHeaders[h] {
			s.headers[h] = true
		}
	}
	s.mu.Unlock()
	ep, other := contract.Match(r.Method, r.URL.Path)
	if ep == nil {
		status := http.StatusNotFound
		if other {
			status = http.StatusMethodNotAllowed
		}
		s.v.Add("%s %s is not in the BMS v2 contract", r.Method, r.URL.Path)
		http.Error(w, http.StatusText(status), status)
		return
	}
	for k := range r.URL.Query() {
		if !ep.AllowsQuery(k) {
			s.v.Add("%s does not take query parameter %q", ep.Route(), k)
			writeEnvelopeError(w, http.StatusOK, 400, "The request is invalid: unknown parameter "+k)
			return
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	switch ep.Route() {
	case "POST /v2/security/authenticate":
		s.authenticate(w, r, body)
		return
	case "POST /v2/security/refreshtoken":
		s.refreshToken(w, r, body)
		return
	}
	if !s.authorized(r) {
		writeEnvelopeError(w, http.StatusUnauthorized, 401, "Unauthorized")
		return
	}
	if ep.Body != nil || len(body) > 0 {
		if err := contract.ValidateBody(ep, body); err != nil {
			if mf, ok := err.(*psafake.MissingFieldsError); ok {
				writeEnvelopeError(w, http.StatusOK, 400, "Validation failed: "+strings.Join(mf.Fields, ", ")+" required")
				return
			}
			s.v.Add("%s: %v", ep.Route(), err)
			writeEnvelopeError(w, http.StatusOK, 400, "The request is invalid")
			return
		}
	}
	h, ok := routes[ep.Route()]
	if !ok {
		s.v.Add("%s is in the contract but kaseyatest does not serve it", ep.Route())
		http.Error(w, "not implemented by kaseyatest", http.StatusNotImplemented)
		return
	}
	h(s, w, r, body)
}

// writeFailure answers a failure psatest asked for with BMS's envelope.
func writeFailure(w http.ResponseWriter, status int) {
	writeEnvelopeError(w, status, status, http.StatusText(status))
}

func writeEnvelopeError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"success": false, "result": nil,
		"error": map[string]any{"code": code, "message": msg, "details": nil, "stackStrace": nil, "subErrors": []string{}},
	})
}

// writeResult answers result in the envelope, checked against model (a
// list of it when list): the fake only says what BMS would.
func (s *Server) writeResult(w http.ResponseWriter, model string, list bool, result any, total *int) {
	b, err := json.Marshal(result)
	if err != nil {
		panic(err)
	}
	if err := contract.ValidateModel(model, b, list); err != nil {
		panic(fmt.Sprintf("kaseyatest: own answer breaks the contract: %v", err))
	}
	env := map[string]any{"success": true, "error": nil, "result": json.RawMessage(b)}
	if total != nil {
		env["totalRecords"] = *total
	}
	out, _ := json.Marshal(env)
	s.write(w, out)
}

// write sends a successful JSON answer through the fault knobs.
func (s *Server) write(w http.ResponseWriter, b []byte) {
	s.mu.Lock()
	pascal := s.pascalNext
	s.pascalNext = false
	s.mu.Unlock()
	if pascal {
		b = pascalCase(b)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(s.Body(b))
}

// pascalCase re-spells every object key of the JSON b with a capital
// first letter.
func pascalCase(b []byte) []byte {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return b
	}
	var walk func(any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			out := map[string]any{}
			for k, e := range x {
				out[strings.ToUpper(k[:1])+k[1:]] = walk(e)
			}
			return out
		case []any:
			for i := range x {
				x[i] = walk(x[i])
			}
		}
		return v
	}
	out, _ := json.Marshal(walk(v))
	return out
}

// writeBare answers result without the envelope, as the document declares
// for single summary GETs.
func (s *Server) writeBare(w http.ResponseWriter, model string, result any) {
	b, err := json.Marshal(result)
	if err != nil {
		panic(err)
	}
	if err := contract.ValidateModel(model, b, false); err != nil {
		panic(fmt.Sprintf("kaseyatest: own answer breaks the contract: %v", err))
	}
	s.mu.Lock()
	wrap := s.wrapBare
	s.mu.Unlock()
	if wrap {
		b, _ = json.Marshal(map[string]any{"success": true, "error": nil, "result": json.RawMessage(b)})
	}
	s.write(w, b)
}

// form reads a sign-in form (urlencoded or multipart), checking its keys
// against the operation's form model case-insensitively.
func (s *Server) form(r *http.Request, body []byte, model string) (url.Values, bool) {
	ct := r.Header.Get("Content-Type")
	var vals url.Values
	switch {
	case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, false
		}
		vals = v
	case strings.HasPrefix(ct, "multipart/form-data"):
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			return nil, false
		}
		vals = r.MultipartForm.Value
	default:
		s.v.Add("%s sent %q, not a form", r.URL.Path, ct)
		return nil, false
	}
	out := url.Values{}
	for k, v := range vals {
		f, ok := contract.ModelField(model, k)
		if !ok {
			s.v.Add("%s: form field %q is not in %s", r.URL.Path, k, model)
			continue
		}
		out[strings.ToLower(f.JSON)] = v
	}
	return out, true
}

func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, body []byte) {
	f, ok := s.form(r, body, "form:Authenticate")
	s.mu.Lock()
	s.signIns++
	s.inSignIn++
	if s.inSignIn > s.maxInSign {
		s.maxInSign = s.inSignIn
	}
	gate, secret, now := s.signInGate, s.totpSecret, s.now()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inSignIn--
		s.mu.Unlock()
	}()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	if !ok {
		writeEnvelopeError(w, http.StatusOK, 400, "The request is invalid")
		return
	}
	if f.Get("granttype") != "password" || f.Get("username") != Username || f.Get("password") != Password ||
		!strings.EqualFold(f.Get("tenant"), Tenant) {
		writeEnvelopeError(w, http.StatusOK, 401, "Invalid username or password")
		return
	}
	if secret != "" {
		code := f.Get("mfacode")
		if code == "" {
			writeEnvelopeError(w, http.StatusOK, 401, "MFA code is required")
			return
		}
		if ok, _ := totp.ValidateCustom(code, secret, now, totpOpts); !ok {
			writeEnvelopeError(w, http.StatusOK, 401, "Invalid MFA code")
			return
		}
	}
	s.issue(w)
}

func (s *Server) refreshToken(w http.ResponseWriter, r *http.Request, body []byte) {
	f, ok := s.form(r, body, "form:RefreshToken")
	s.mu.Lock()
	s.refreshes++
	access, known := s.refresh[f.Get("refreshtoken")]
	if known {
		delete(s.refresh, f.Get("refreshtoken"))
	}
	s.mu.Unlock()
	if !ok || !known || access != f.Get("accesstoken") {
		writeEnvelopeError(w, http.StatusOK, 401, "Invalid refresh token")
		return
	}
	s.issue(w)
}

// issue answers a new token pair.
func (s *Server) issue(w http.ResponseWriter) {
	s.mu.Lock()
	s.nextToken++
	now := s.now()
	access := fmt.Sprintf("eyJ.fake-access-%d", s.nextToken)
	refresh := fmt.Sprintf("fake-refresh-%d", s.nextToken)
	exp := now.Add(s.tokenTTL)
	s.tokens[access] = exp
	s.refresh[refresh] = access
	s.mu.Unlock()
	s.writeResult(w, "TokenOutputDto", false, map[string]any{
		"accessToken": access, "refreshToken": refresh,
		"accessTokenExpireOn":  exp.UTC().Format(time.RFC3339),
		"refreshTokenExpireOn": now.Add(7 * 24 * time.Hour).UTC().Format(time.RFC3339),
	}, nil)
}

func (s *Server) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, known := s.tokens[tok]
	return known && s.now().Before(exp)
}
