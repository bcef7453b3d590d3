package autotasktest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/countersign/countersign/core/psa"
)

// record is one entity record in wire form: camelCase keys, as Autotask
// answers.
type record map[string]any

type (
	companyRec  = record
	contactRec  = record
	ticketRec   = record
	resourceRec struct {
		rec           record
		impersonation bool // its security level allows being impersonated
	}
	webhookRec struct {
		rec    record
		fields []record
	}
)

type pagingState struct {
	entity string
	body   string // the query, for POST next pages
	offset int
	method string // of the first page
}

// get returns r's value for field, case aside.
func (r record) get(field string) (any, bool) {
	if v, ok := r[field]; ok {
		return v, true
	}
	for k, v := range r {
		if strings.EqualFold(k, field) {
			return v, true
		}
	}
	return nil, false
}

func (s *Server) resetLocked() {
	s.companies, s.contacts, s.tickets = map[int64]*companyRec{}, map[int64]*contactRec{}, map[int64]*ticketRec{}
	s.notes, s.resources = map[int64][]NoteRecord{}, map[int64]*resourceRec{}
	s.apiUser = APIUserID
	s.resources[APIUserID] = &resourceRec{rec: record{"id": int64(APIUserID), "userName": UserName, "firstName": "Countersign",
		"lastName": "API", "email": "", "isActive": true, "licenseType": 7}}
}

// Seed replaces the database's companies, contacts and tickets (and drops
// its notes; resources stay). Refs must be decimal ids. A contact's first
// three emails fill emailAddress, emailAddress2 and emailAddress3; a phone
// labelled Mobile goes to mobilePhone, the others to phone and then
// alternatePhone, stored exactly as given.
func (s *Server) Seed(companies []psa.Company, contacts []psa.Contact, tickets []psa.Ticket) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.companies, s.contacts, s.tickets, s.notes = map[int64]*companyRec{}, map[int64]*contactRec{}, map[int64]*ticketRec{}, map[int64][]NoteRecord{}
	s.companyNotes = nil
	for _, c := range companies {
		id := s.mustID(c.Ref)
		s.companies[id] = &companyRec{"id": id, "companyName": c.Name, "companyType": 1, "isActive": true,
			"createDate": "2026-01-01T00:00:00Z"}
		s.lastID = max(s.lastID, id)
	}
	for _, c := range contacts {
		id := s.mustID(c.Ref)
		rec := contactRecord(c)
		rec["id"] = id
		if c.CompanyRef != "" {
			rec["companyID"] = s.mustID(c.CompanyRef)
		}
		s.contacts[id] = &rec
		s.lastID = max(s.lastID, id)
	}
	for i, t := range tickets {
		id := s.mustID(t.Ref)
		rec := ticketRec{"id": id, "ticketNumber": fmt.Sprintf("T20260101.%04d", i+1), "title": t.Summary, "status": 1,
			"priority": 2, "queueID": 8, "createDate": "2026-01-01T00:00:00Z"}
		if t.CompanyRef != "" {
			rec["companyID"] = s.mustID(t.CompanyRef)
		}
		if t.ContactRef != "" {
			rec["contactID"] = s.mustID(t.ContactRef)
		}
		s.tickets[id] = &rec
		s.lastID = max(s.lastID, id)
	}
}

func contactRecord(c psa.Contact) record {
	rec := record{"firstName": c.FirstName, "lastName": c.LastName, "isActive": 1, "primaryContact": false}
	if c.Title != "" {
		rec["title"] = c.Title
	}
	for i, e := range c.Emails {
		if i < 3 {
			rec[[]string{"emailAddress", "emailAddress2", "emailAddress3"}[i]] = e.Address
		}
	}
	var others []string
	for _, p := range c.Phones {
		if strings.EqualFold(p.Label, "mobile") && rec["mobilePhone"] == nil {
			rec["mobilePhone"] = p.Number
			continue
		}
		others = append(others, p.Number)
	}
	for _, n := range others {
		switch {
		case rec["phone"] == nil:
			rec["phone"] = n
		case rec["alternatePhone"] == nil:
			rec["alternatePhone"] = n
		}
	}
	return rec
}

func (s *Server) mustID(ref string) int64 {
	id, err := strconv.ParseInt(ref, 10, 64)
	if err != nil || id < 1 {
		s.t.Fatalf("autotasktest: %q is not an Autotask id", ref)
	}
	return id
}

// SetMember makes m the API user's resource (its names, e-mail and id);
// its username stays [UserName].
func (s *Server) SetMember(m psa.Member) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.resources, s.apiUser)
	id := s.mustID(m.Ref)
	first, last, _ := strings.Cut(m.Name, " ")
	s.apiUser = id
	s.resources[id] = &resourceRec{rec: record{"id": id, "userName": UserName, "firstName": first, "lastName": last,
		"email": m.Email, "isActive": true, "licenseType": 7}}
}

// AddResource adds a technician. impersonation says whether its security
// level lets an API user act as it.
func (s *Server) AddResource(m psa.Member, impersonation bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.mustID(m.Ref)
	first, last, _ := strings.Cut(m.Name, " ")
	s.resources[id] = &resourceRec{impersonation: impersonation, rec: record{"id": id, "userName": m.Identifier,
		"firstName": first, "lastName": last, "email": m.Email, "isActive": true, "licenseType": 1}}
}

// AllowImpersonation sets whether the API user's security level may
// impersonate resources at all (true by default).
func (s *Server) AllowImpersonation(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.impersonate = on
}

// SetPageSize sets the largest page the fake returns, whatever the client
// asks for; 0 means Autotask's own limit (500).
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageSize = n
}

// FailNext answers the next n API requests with status and an errors[]
// body (and a Retry-After of retryAfter when it is not "") without
// processing them. Zone discovery is not an API request: it is not
// failed, and not counted by [Server.Requests].
func (s *Server) FailNext(n, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failCode, s.failAfter = n, status, retryAfter
}

// MalformedNext truncates the body of the next successful API answer.
func (s *Server) MalformedNext() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.malformed = true
}

// SetDown makes every request, discovery included, get a 503 with an HTML
// page, as during an outage behind Autotask's load balancer.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// RejectSecret makes the database refuse [Secret] with a 401, as after the
// secret was changed.
func (s *Server) RejectSecret(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.badSecret = on
}

// RejectIntegrationCode makes the database refuse [IntegrationCode] with a
// 500 and errors[], as Autotask does for a wrong tracking identifier.
func (s *Server) RejectIntegrationCode(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.badCode = on
}

// Forbid makes requests to entity ("Contacts", "TicketNotes") fail with
// 403, as when the API user's security level lacks the permission.
func (s *Server) Forbid(entity string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forbidden[strings.ToLower(entity)] = on
}

// RequireContactField marks a Contacts field required in the entity
// information, as a tenant can.
func (s *Server) RequireContactField(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.required = append(s.required, name)
}

// SetOtherUsage sets how many requests the MSP's other integrations made
// this hour: ThresholdInformation adds them to the fake's own count.
func (s *Server) SetOtherUsage(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.otherUsage = n
}

// SetLatency delays every API answer by d, so that concurrency shows.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// HighWater returns the most requests the fake had in flight at once for
// entity ("Contacts").
func (s *Server) HighWater(entity string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.highWater[strings.ToLower(entity)]
}

// Requests returns how many API requests the fake has received (zone and
// version discovery not included).
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Log returns every request the fake received, discovery included.
func (s *Server) Log() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// TakeViolations returns the contract violations recorded so far and
// forgets them, for tests that provoke one on purpose.
func (s *Server) TakeViolations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.violations
	s.violations = nil
	return v
}

// Notes returns the notes of the ticket with ref, oldest first. A note is
// public when its publish value is 1 (All Autotask Users).
func (s *Server) Notes(ticketRef string) []psa.Note {
	var out []psa.Note
	for _, n := range s.NoteRecords(ticketRef) {
		out = append(out, psa.Note{Text: n.Description, Public: n.Publish == publishAll})
	}
	return out
}

// NoteRecords returns the notes of the ticket with ref as stored.
func (s *Server) NoteRecords(ticketRef string) []NoteRecord {
	id, err := strconv.ParseInt(ticketRef, 10, 64)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.notes[id])
}

// AddNote adds a note to a ticket as someone else would (another
// integration, a technician in Autotask).
func (s *Server) AddNote(ticketRef, description string) {
	id := s.mustID(ticketRef)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastID++
	s.notes[id] = append(s.notes[id], NoteRecord{ID: s.lastID, TicketID: id, Title: "Note", Description: description,
		NoteType: 1, Publish: publishInternal, CreatorResourceID: s.apiUser})
}

// Note picklists of the fake tenant (TicketNotes entity information).
const (
	NoteTypeTaskSummary = 1
	NoteTypeDetail      = 2 // the default
	NoteTypeInternal    = 3
	publishAll          = 1
	publishInternal     = 2
)

// PublishAll and PublishInternal are the fake tenant's publish values.
const (
	PublishAll      = publishAll
	PublishInternal = publishInternal
)

// NextPageHost makes nextPageUrl name host instead of the zone's, as a
// tampered or misrouted answer might; "" restores the zone.
func (s *Server) NextPageHost(host string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextHost = host
}

// LoseAnswers makes the next n writes (POST, PATCH, PUT) succeed and then
// answer 504, as when a gateway times out after Autotask did the work.
func (s *Server) LoseAnswers(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loseN = n
}

// RefuseInsights makes the database refuse to create Insight records, as
// it may for integration codes outside the vendor programme.
func (s *Server) RefuseInsights(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseInsights = on
}

// Insights returns the Insight records' referenceUrls, oldest first.
func (s *Server) Insights() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, in := range s.insights {
		out = append(out, fmt.Sprint(in["referenceUrl"]))
	}
	return out
}
