// Package cwtest is a fake ConnectWise PSA for tests, held to the vendor's
// contract: it answers only requests the contract describes, with bodies
// whose every field the named model declares, so that the connectwise
// client cannot drift from the real API unnoticed. It is built on the
// fakes' kit, core/psa/psafake.
//
// The contract is testdata/manage-2025.1.json, embedded: the part of
// shared/contracts/connectwise/manage-2025.1.json the fake needs (every
// endpoint under the paths the client uses, and the models they reach),
// extracted by internal/extract. Regenerate it from a checkout with
// shared/ beside the module with
//
//	go generate ./connectwise/cwtest
//
// and add a path to internal/extract's list to serve a new endpoint. No
// test reads shared/.
//
// It serves HTTPS on loopback under ConnectWise's real host names: the
// [Server.HTTPClient] dials every known host (the site, its api- sibling)
// to the fake and trusts its certificate, and says "no such host" for any
// other. The client under test therefore runs its production code
// unchanged: https, the api- host rule, codebase discovery.
//
// What it checks, beyond the contract: Basic auth companyId+publicKey or
// member auth (cookie or Basic, §2.5 of the reference), the clientId
// header, Accept pinned to version 2025.1, the codebase in the path,
// condition syntax (paths and value types against the model; in and
// several arrays refused in childConditions), query names per endpoint,
// and ConnectWise's own rules (a note needs a display flag; a contact a
// first name). What it does like the real one: page/pageSize (default 25,
// at most 1000) with a Link header (first, prev, next, last; a slash before
// the query, as ConnectWise writes them), forward-only
// paging with pageId, fields= partial answers, the error bodies of
// reference §3, and the plain-text "Cannot route" 404 of a wrong codebase.
//
// A request the contract does not allow is a violation: it is answered
// as ConnectWise would (404, 405 or 400) and fails the test at cleanup
// unless the test takes it with [Server.TakeViolations].
//
// The knobs: [Server.Seed], [Server.SetMember], [Server.SetPageSize],
// [Server.FailNext], [Server.MalformedNext], [Server.Requests] and
// [Server.Notes] for the psatest conformance suite, and
// [Server.ChangeCodebase], [Server.SetDown], [Server.RejectKeys],
// [Server.AddPodMember], [Server.SetMemberRole], [Server.SetMemberAuthForms], [Server.Forbid],
// [Server.HugePages], [Server.SetLinkShape], [Server.UnroutableAuthFailures],
// [Server.NoteRecords] and [Server.Log]. FailNext, MalformedNext, SetDown
// and Requests come from the embedded [psafake.Faults]; FailNext and
// Requests concern REST API requests only: codebase discovery
// (/login/companyinfo) and callback keys are never failed or counted, and
// SetDown takes the whole site down, discovery included.
package cwtest

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/countersign/countersign/connectwise"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/psafake"
	"github.com/countersign/countersign/core/psa/psatest"
)

// Defaults of a new server.
const (
	DefaultSite      = "na.myconnectwise.net"
	DefaultCompanyID = "countersigntest"
	DefaultCodebase  = "v2025_1/"
	PublicKey        = "cwtestPublicKey1"
	PrivateKey       = "cwtestPrivateKey-s3cr3t"
	ClientID         = "11111111-2222-4333-8444-555555555555"
)

// Paging limits of the real API (reference §4).
const (
	defaultPageSize = 25
	maxPageSize     = 1000
)

// Server is a fake ConnectWise tenant. Its methods are safe for concurrent
// use.
type Server struct {
	psafake.Faults // FailNext, MalformedNext, SetDown, Requests

	t        testing.TB
	contract *Contract
	tls      *psafake.TLSServer
	v        psafake.Violations
	site     string // the sign-in host
	apiHost  string // the REST host; == site on premises
	cloud    bool
	company  string

	mu          sync.Mutex
	codebase    string
	companies   []companyRec
	contacts    []contactRec
	tickets     []ticketRec
	notes       map[int][]noteRec
	commTypes   []commTypeRec
	apiMember   member
	podMembers  []member
	staff       []member // SeedMembers
	memberForms []string
	forbidden   map[string]bool // "who method route"
	lastID      int
	pageSize    int
	rejectKeys  bool
	hugePages   bool
	linkShape   psatest.LinkShape
	unroutable  bool
	log         []Request
	setup       setupState // callbacks and Hosted API entries (callbacks.go)
	// contactNotes are the notes on contacts, by contact id
	// (contact_writes.go).
	contactNotes map[int][]contactNoteRec
}

// Request is one request the fake received.
type Request struct {
	Method string
	Host   string
	Route  string     // "GET /company/contacts/{id}", "GET /login/companyinfo/{companyId}"; the raw path when it matched nothing
	Query  url.Values //
	Auth   string     // "api-key", "member-cookie", "member-basic", "member-cookie-escaped", "member-cookie-no-context", or ""
	Status int
}

// Option configures [NewServer].
type Option func(*Server)

// WithSite makes the fake answer as site: a cloud site
// ("eu.myconnectwise.net", API on its api- sibling) or an on-premises host
// ("cw.msp.example", API on the same host).
func WithSite(site string) Option {
	return func(s *Server) { s.site = strings.ToLower(site) }
}

// WithCompanyID sets the tenant's company id.
func WithCompanyID(id string) Option {
	return func(s *Server) { s.company = id }
}

// NewServer starts a fake ConnectWise tenant and registers its cleanup on
// t. It fails t when the contract file cannot be loaded.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{
		t: t, contract: contract, site: DefaultSite, company: DefaultCompanyID, codebase: DefaultCodebase,
		notes: map[int][]noteRec{}, contactNotes: map[int][]contactNoteRec{}, commTypes: defaultCommTypes(), forbidden: map[string]bool{},
		memberForms: []string{"member-cookie", "member-basic", "member-cookie-escaped", "member-cookie-no-context"},
		lastID:      100000,
		// ConnectWise's own Link headers have a slash before the query.
		linkShape: psatest.LinkTrailingSlash,
	}
	for _, o := range opts {
		o(s)
	}
	s.apiHost = connectwise.APIHostFor(s.site)
	s.cloud = s.apiHost != s.site
	s.apiMember = member{rec: memberRec{ID: 1, Identifier: "countersign-api", FirstName: "Countersign", LastName: "API",
		LicenseClass: "A", DefaultEmail: "Office", DefaultPhone: "Office", Info: info{}}}

	s.tls = psafake.NewTLS(t, http.HandlerFunc(s.serveHTTP), s.knownHost,
		s.site, s.apiHost, "*.myconnectwise.net", "myconnectwise.net", "*.connectwisedev.com")
	s.v.FailAtCleanup(t, "cwtest")
	return s
}

func (s *Server) knownHost(h string) bool {
	h = strings.ToLower(h)
	return h == s.site || h == s.apiHost
}

// Site returns the tenant's sign-in host.
func (s *Server) Site() string { return s.site }

// APIHost returns the host the REST API answers on.
func (s *Server) APIHost() string { return s.apiHost }

// CompanyID returns the tenant's company id.
func (s *Server) CompanyID() string { return s.company }

// Config returns a client config with the tenant's valid credentials.
func (s *Server) Config() connectwise.Config {
	return connectwise.Config{Site: s.site, CompanyID: s.company, PublicKey: PublicKey, PrivateKey: PrivateKey, ClientID: ClientID}
}

// HTTPClient returns an HTTP client that reaches the fake under
// ConnectWise's host names over TLS, and finds no other host.
func (s *Server) HTTPClient() *http.Client { return s.tls.Client }

// Deps returns d with its HTTPClient set to [Server.HTTPClient].
func (s *Server) Deps(d psa.Deps) psa.Deps {
	d.HTTPClient = s.tls.Client
	return d
}

// NewClient returns a connectwise client of the fake built with deps (its
// HTTPClient replaced) and [Server.Config].
func (s *Server) NewClient(t testing.TB, deps psa.Deps) *connectwise.Client {
	t.Helper()
	c, err := connectwise.New(s.Config(), s.Deps(deps))
	if err != nil {
		t.Fatalf("cwtest: connectwise.New: %v", err)
	}
	return c
}

// Seed replaces the tenant's companies, contacts and tickets (and drops
// its notes). Refs must be decimal ids. Emails are filed under the
// communication type "Email"; phones under the phone type whose name is
// their Label, else "Direct"; both stored exactly as given.
func (s *Server) Seed(companies []psa.Company, contacts []psa.Contact, tickets []psa.Ticket) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.companies, s.contacts, s.tickets, s.notes = nil, nil, nil, map[int][]noteRec{}
	s.contactNotes = map[int][]contactNoteRec{}
	for _, c := range companies {
		id := s.mustID(c.Ref)
		s.companies = append(s.companies, companyRec{ID: id, Identifier: identifierOf(c.Name), Name: c.Name,
			Status: &reference{ID: 1, Name: "Active", Info: info{}}, Types: []any{}, Info: info{"lastUpdated": "2026-01-01T00:00:00Z"}})
		s.lastID = max(s.lastID, id)
	}
	for _, c := range contacts {
		rec, err := s.contactFromPSA(c)
		if err != nil {
			s.t.Errorf("cwtest: seed: %v", err)
			continue
		}
		rec.ID = s.mustID(c.Ref)
		s.lastID = max(s.lastID, rec.ID)
		s.contacts = append(s.contacts, rec)
	}
	for _, t := range tickets {
		id := s.mustID(t.Ref)
		rec := ticketRec{ID: id, Summary: t.Summary, RecordType: "ServiceTicket",
			Board: &reference{ID: 1, Name: "Help Desk", Info: info{}}, Info: info{"dateEntered": "2026-01-01T00:00:00Z"}}
		status := t.Status
		if status == "" {
			status = "New"
		}
		rec.Status = &reference{ID: 1, Name: status, Info: info{}}
		if t.CompanyRef != "" {
			rec.Company = s.companyRefLocked(s.mustID(t.CompanyRef))
		}
		if t.ContactRef != "" {
			cid := s.mustID(t.ContactRef)
			ref := &reference{ID: cid, Info: info{}}
			for _, ct := range s.contacts {
				if ct.ID == cid {
					ref.Name = strings.TrimSpace(ct.FirstName + " " + ct.LastName)
					rec.ContactName = ref.Name
				}
			}
			rec.Contact = ref
		}
		s.lastID = max(s.lastID, id)
		s.tickets = append(s.tickets, rec)
	}
}

func (s *Server) mustID(ref string) int {
	id, err := refID(ref)
	if err != nil {
		s.t.Fatalf("%v", err)
	}
	return id
}

func (s *Server) companyRefLocked(id int) reference {
	r := reference{ID: id, Info: info{}}
	for _, c := range s.companies {
		if c.ID == id {
			r.Identifier, r.Name = c.Identifier, c.Name
		}
	}
	return r
}

func (s *Server) contactFromPSA(c psa.Contact) (contactRec, error) {
	rec := contactRec{FirstName: c.FirstName, LastName: c.LastName, Title: c.Title,
		CommunicationItems: []commItemRec{}, Types: []reference{}, CustomFields: []any{},
		Info: info{"lastUpdated": "2026-01-01T00:00:00Z", "updatedBy": "cwtest"}}
	if c.CompanyRef != "" {
		id, err := refID(c.CompanyRef)
		if err != nil {
			return rec, err
		}
		ref := s.companyRefLocked(id)
		rec.Company = &ref
	}
	for _, e := range c.Emails {
		t := s.commTypeFor("Email", e.Label)
		s.lastID++
		rec.CommunicationItems = append(rec.CommunicationItems, commItemRec{ID: s.lastID, Type: reference{ID: t.ID, Name: t.Description, Info: info{}},
			Value: e.Address, DefaultFlag: e.Default, CommunicationType: "Email"})
	}
	for _, p := range c.Phones {
		t := s.commTypeFor("Phone", p.Label)
		s.lastID++
		rec.CommunicationItems = append(rec.CommunicationItems, commItemRec{ID: s.lastID, Type: reference{ID: t.ID, Name: t.Description, Info: info{}},
			Value: p.Number, DefaultFlag: p.Default, CommunicationType: "Phone"})
		if p.Default {
			rec.DefaultPhoneType, rec.DefaultPhoneNbr = t.Description, p.Number
		}
	}
	return rec, nil
}

// commTypeFor returns the communication type of kind named label, else the
// default one of kind.
func (s *Server) commTypeFor(kind, label string) commTypeRec {
	var def commTypeRec
	for _, t := range s.commTypes {
		if t.kind() != kind {
			continue
		}
		if label != "" && strings.EqualFold(t.Description, label) {
			return t
		}
		if def.ID == 0 || t.DefaultFlag && !def.DefaultFlag {
			def = t
		}
	}
	return def
}

// SetMember sets the member the API keys belong to (what
// /system/myMembers/info answers for them). Its license class stays "A".
func (s *Server) SetMember(m psa.Member) {
	mem, err := memberFromPSA(m, "A")
	if err != nil {
		s.t.Errorf("%v", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiMember = mem
}

// AddPodMember adds a technician (license class "F") whose ConnectWise
// session a pod hands over as a: requests with a's member auth act as m.
// inactive marks the member inactive.
func (s *Server) AddPodMember(m psa.Member, a connectwise.MemberAuth, inactive bool) {
	mem, err := memberFromPSA(m, "F")
	if err != nil {
		s.t.Errorf("%v", err)
		return
	}
	mem.rec.Identifier = a.MemberID
	if m.Identifier != "" {
		mem.rec.Identifier = m.Identifier
	}
	mem.rec.InactiveFlag = inactive
	mem.hash, mem.context = a.Hash, a.Context
	s.mu.Lock()
	defer s.mu.Unlock()
	s.podMembers = append(s.podMembers, mem)
}

// SeedMembers replaces the MSP's other members (technicians, license
// class "F", each with Phone as its mobile number) that GET
// /system/members lists besides the API and pod members; those whose Ref is
// in inactive are inactive.
func (s *Server) SeedMembers(members []psa.Member, inactive ...string) {
	var staff []member
	for _, m := range members {
		mem, err := memberFromPSA(m, "F")
		if err != nil {
			s.t.Errorf("%v", err)
			return
		}
		if mem.rec.Identifier == "" {
			mem.rec.Identifier = identifierOf(m.Name)
		}
		mem.rec.InactiveFlag = slices.Contains(inactive, m.Ref)
		staff = append(staff, mem)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.staff = staff
}

// SetDefaultContact makes the contact with contactRef the default contact
// of the company with companyRef ("" for none).
func (s *Server) SetDefaultContact(companyRef, contactRef string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.mustID(companyRef)
	for i := range s.companies {
		if s.companies[i].ID != id {
			continue
		}
		s.companies[i].DefaultContact = nil
		if contactRef != "" {
			cid := s.mustID(contactRef)
			for _, c := range s.contacts {
				if c.ID == cid {
					s.companies[i].DefaultContact = &reference{ID: cid, Name: strings.TrimSpace(c.FirstName + " " + c.LastName), Info: info{}}
				}
			}
		}
		return
	}
	s.t.Errorf("cwtest: SetDefaultContact: no company %s", companyRef)
}

// SetMemberRole gives the pod member identifier (see [Server.AddPodMember])
// a security role named role that hides companyRefs from it, as a
// ConnectWise security role limited to some companies (locations,
// territories, "My" levels) does. Calls made with that member's own
// authentication leave the companies, their contacts and their tickets out
// of lists and answer 403 for them by id; the API member still sees
// everything.
func (s *Server) SetMemberRole(identifier, role string, companyRefs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	hides := map[int]bool{}
	for _, ref := range companyRefs {
		hides[s.mustID(ref)] = true
	}
	for i := range s.podMembers {
		if strings.EqualFold(s.podMembers[i].rec.Identifier, identifier) {
			s.podMembers[i].role, s.podMembers[i].hides = role, hides
			return
		}
	}
	s.t.Errorf("cwtest: SetMemberRole: no pod member %q", identifier)
}

// SetMemberAuthForms sets which member-auth forms the tenant accepts, of
// "member-cookie", "member-basic", "member-cookie-escaped" and
// "member-cookie-no-context" (all of them by default).
func (s *Server) SetMemberAuthForms(forms ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.memberForms = slices.Clone(forms)
}

// SetLinkShape implements [psatest.LinkShaper]: the shape of the Link
// header's page URLs from now on. A new server writes them as ConnectWise
// does, with a slash before the query
// ("https://api-na.myconnectwise.net/v2025_1/apis/3.0/company/contacts/?page=2");
// [psatest.LinkOtherHost] and [psatest.LinkOtherPath] write links a client
// must refuse.
func (s *Server) SetLinkShape(shape psatest.LinkShape) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.linkShape = shape
}

// SetPageSize sets the largest page the fake returns, whatever the client
// asks for; 0 means ConnectWise's own limit (1000).
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageSize = n
}

// HugePages makes lists ignore pageSize and answer everything in one
// page, as a misbehaving server or proxy might.
func (s *Server) HugePages(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hugePages = on
}

// RejectKeys makes the tenant refuse the API keys of [Server.Config], as
// after the API member's keys were revoked.
func (s *Server) RejectKeys(reject bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectKeys = reject
}

// UnroutableAuthFailures makes the tenant answer bad credentials with the
// plain-text 404 "Cannot route. Codebase/company is invalid" instead of a
// 401, as ConnectWise's cloud has been seen to (reference §1: "if a cloud
// call returns 404 … the real cause may be bad credentials").
func (s *Server) UnroutableAuthFailures(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unroutable = on
}

// ChangeCodebase moves the tenant to codebase (e.g. "v2025_2/"), as a
// cloud upgrade does: requests under the old one get the plain-text 404
// "Cannot route. Codebase/company is invalid".
func (s *Server) ChangeCodebase(codebase string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codebase = codebase
}

// Codebase returns the tenant's current codebase.
func (s *Server) Codebase() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.codebase
}

// Forbid makes the security role of who refuse route ("GET
// /company/contacts", a contract path template) with a 403. who is a
// member identifier, or "" for the API member.
func (s *Server) Forbid(who, route string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forbidden[who+" "+route] = true
}

// Log returns every request received, discovery included, oldest first.
func (s *Server) Log() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// Notes returns the notes added to the ticket with ref, oldest first;
// Public means the note shows in the Discussion (detailDescriptionFlag).
func (s *Server) Notes(ticketRef string) []psa.Note {
	var out []psa.Note
	for _, n := range s.NoteRecords(ticketRef) {
		out = append(out, psa.Note{Text: n.Text, Public: n.DetailDescription})
	}
	return out
}

// NoteRecord is a note as ConnectWise stored it.
type NoteRecord struct {
	Text                 string
	DetailDescription    bool  // Discussion: the customer sees it
	InternalAnalysis     bool  // Internal
	Resolution           bool  // Resolution
	ProcessNotifications *bool // nil when the client did not say
}

// NoteRecords returns the notes of the ticket with ref with their display
// flags, oldest first.
func (s *Server) NoteRecords(ticketRef string) []NoteRecord {
	id, err := refID(ticketRef)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []NoteRecord
	for _, n := range s.notes[id] {
		out = append(out, NoteRecord{Text: n.Text, DetailDescription: n.DetailDescriptionFlag, InternalAnalysis: n.InternalAnalysisFlag,
			Resolution: n.ResolutionFlag, ProcessNotifications: n.ProcessNotifications})
	}
	return out
}

// TakeViolations returns the contract violations seen so far and forgets
// them, for tests that provoke them on purpose; violations left at cleanup
// fail the test.
func (s *Server) TakeViolations() []string { return s.v.Take() }

func (s *Server) violation(format string, args ...any) { s.v.Add(format, args...) }

// Tickets returns the tenant's tickets, seeded and created, oldest first;
// Description is what a created ticket's initialDescription said.
func (s *Server) Tickets() []CreatedTicket {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]CreatedTicket, 0, len(s.tickets))
	for _, t := range s.tickets {
		ct := CreatedTicket{Ticket: psa.Ticket{Ref: strconv.Itoa(t.ID), Number: strconv.Itoa(t.ID), Summary: t.Summary,
			CompanyRef: strconv.Itoa(t.Company.ID)}, Description: t.InitialDescription}
		if t.Contact != nil {
			ct.ContactRef = strconv.Itoa(t.Contact.ID)
		}
		out = append(out, ct)
	}
	return out
}

// CreatedTicket is a ticket the fake holds, with its first description.
type CreatedTicket struct {
	psa.Ticket
	Description string
}
