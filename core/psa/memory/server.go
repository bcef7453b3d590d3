package memory

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/psafake"
)

// The wire format of the memory PSA's API: lower-case snake keys, bare
// arrays for lists, paging by a Link header, errors as {"error": "…"}.
// These DTOs stay unexported; the client turns them into psa types.
type (
	wireCompany struct {
		ID               string `json:"id"`
		Name             string `json:"name"`
		DefaultContactID string `json:"default_contact_id,omitempty"`
	}
	wireEmail struct {
		Address string `json:"address"`
		Label   string `json:"label,omitempty"`
		Primary bool   `json:"primary,omitempty"`
	}
	wirePhone struct {
		Number  string `json:"number"`
		Label   string `json:"label,omitempty"`
		Primary bool   `json:"primary,omitempty"`
	}
	wireContact struct {
		ID        string      `json:"id"`
		CompanyID string      `json:"company_id,omitempty"`
		FirstName string      `json:"first_name"`
		LastName  string      `json:"last_name"`
		Title     string      `json:"title,omitempty"`
		Emails    []wireEmail `json:"emails"`
		Phones    []wirePhone `json:"phones"`
	}
	wireTicket struct {
		ID        string `json:"id"`
		Number    string `json:"number"`
		Summary   string `json:"summary"`
		CompanyID string `json:"company_id,omitempty"`
		ContactID string `json:"contact_id,omitempty"`
		Status    string `json:"status"`
	}
	wireNote struct {
		Text       string `json:"text"`
		Visibility string `json:"visibility"` // "internal" or "public"
	}
	wireMember struct {
		ID       string `json:"id"`
		Username string `json:"username"`
		Name     string `json:"name"`
		Email    string `json:"email,omitempty"`
		Phone    string `json:"phone,omitempty"`  // GET /members only
		Active   *bool  `json:"active,omitempty"` // GET /members only
	}
	wireError struct {
		Error string `json:"error"`
	}
)

// Paging limits of the API.
const (
	defaultPageSize = 50
	maxPageSize     = 200
)

// Server is the memory PSA: a small JSON API over data held in memory, with
// knobs to make it misbehave for tests. It implements psatest.Fake. Serve it
// with httptest.NewServer or any http.Server; every method is safe for
// concurrent use.
//
// Every request needs "Authorization: Bearer <api key>", or a member's
// session token instead for the data routes, read and written with that
// member's rights (server_members.go). The routes, under /api/v1:
//
//	GET  /companies               ?page_size=&cursor=
//	GET  /companies/{id}          with default_contact_id
//	GET  /contacts                ?company_id=&email=&phone=&name=&page_size=&cursor=
//	GET  /contacts/{id}
//	POST /contacts
//	PATCH /contacts/{id}          {"phones"}: the contact's phones, as a whole list
//	POST /contacts/{id}/notes     {"text","visibility":"internal"}
//	GET  /tickets/{id}
//	POST /tickets                 {"summary","description","company_id","contact_id"}
//	PATCH /tickets/{id}           {"contact_id"}: the ticket's contact
//	POST /tickets/{id}/notes
//	GET  /me                      the member the API key belongs to
//	GET  /members                 ?active=true&page_size=&cursor=: the MSP's members (SeedMembers)
//	POST /member-sessions/verify  {"token"}: the member a pod's session token belongs to
//	GET  /webhooks                POST /webhooks {"url"}: where events are posted
//	PATCH /webhooks/{id}          {"disabled"}: stop or resume posting to one
//	GET  /pod-screens             GET /pods   POST /pods {"screen_id","url","description"}
//
// Events it posts (see [Server.SignedEvent]) carry X-Memory-Signature:
// t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body" keyed with the webhook
// secret>.
//
// and, without an API key, the PSA's own screens hosting a pod:
//
//	GET  /ui/contact/{id}?pod=URL    GET /ui/ticket/{id}?pod=URL
//
// Lists are bare JSON arrays; the next page is in a Link header with
// rel="next", as in ConnectWise.
type Server struct {
	psafake.Faults // FailNext, MalformedNext, SetDown, Requests

	mux *http.ServeMux

	mu        sync.Mutex
	apiKey    string
	companies []psa.Company
	contacts  []psa.Contact
	tickets   []psa.Ticket
	notes     map[string][]psa.Note
	details   map[string]string // ticket descriptions, by ref
	member    psa.Member
	staff     []staffMember // GET /members
	lastID    int
	pageSize  int                 // 0 means maxPageSize
	linkURL   func(string) string // rewrites next-page URLs; nil keeps them
	setup     setupState          // webhooks, pods, member sessions (server_setup.go)
	defaults  map[string]string   // company ref → its default contact's ref
	rights    map[string][]string // member ref → the companies it may see; none: all
	// contactNotes are the notes on contacts, by contact ref.
	contactNotes map[string][]string
	// memberCalls are the requests made with member sessions.
	memberCalls []string
}

// NewServer returns an empty memory PSA that accepts apiKey.
func NewServer(apiKey string) *Server {
	s := &Server{apiKey: apiKey, notes: map[string][]psa.Note{}, contactNotes: map[string][]string{}, details: map[string]string{}, lastID: 100000, setup: newSetupState(),
		defaults: map[string]string{}, rights: map[string][]string{}}
	m := http.NewServeMux()
	m.HandleFunc("GET /api/v1/companies", s.handleListCompanies)
	m.HandleFunc("GET /api/v1/companies/{id}", s.handleGetCompany)
	m.HandleFunc("GET /api/v1/contacts", s.handleListContacts)
	m.HandleFunc("GET /api/v1/contacts/{id}", s.handleGetContact)
	m.HandleFunc("POST /api/v1/contacts", s.handleCreateContact)
	m.HandleFunc("PATCH /api/v1/contacts/{id}", s.handlePatchContact)
	m.HandleFunc("POST /api/v1/contacts/{id}/notes", s.handleAddContactNote)
	m.HandleFunc("GET /api/v1/tickets/{id}", s.handleGetTicket)
	m.HandleFunc("POST /api/v1/tickets", s.handleCreateTicket)
	m.HandleFunc("PATCH /api/v1/tickets/{id}", s.handlePatchTicket)
	m.HandleFunc("POST /api/v1/tickets/{id}/notes", s.handleAddNote)
	m.HandleFunc("GET /api/v1/me", s.handleMe)
	m.HandleFunc("GET /api/v1/members", s.handleListMembers)
	m.HandleFunc("GET /ui/{screen}/{id}", s.handleScreen)
	s.setupRoutes(m)
	s.mux = m
	return s
}

// ServeHTTP counts the request, applies the failure knobs, checks the API
// key and routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/ui/") {
		s.mux.ServeHTTP(w, r) // the PSA's screens: no API key, not counted as API calls
		return
	}
	if f, ok := s.Begin(); ok {
		f.Write(w, func(w http.ResponseWriter, status int) { s.writeError(w, status, http.StatusText(status)) })
		return
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	key := s.apiKey
	s.mu.Unlock()
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(key)) != 1 {
		mr, isMember := s.asMember(r, got)
		switch {
		case !ok || !isMember:
			s.writeError(w, http.StatusUnauthorized, "missing or wrong API key")
		case !memberRoute(r):
			s.writeError(w, http.StatusForbidden, "a member session may read and write companies, contacts and tickets only")
		default:
			s.mux.ServeHTTP(w, mr)
		}
		return
	}
	s.mux.ServeHTTP(w, r)
}

// SetAPIKey changes the key the server accepts, as rotating it in the PSA
// does: the old key gets the 401 a wrong key gets.
func (s *Server) SetAPIKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiKey = key
}

// Seed replaces the server's data, keeping the Refs given. Ticket.Contact
// is ignored; Number defaults to Ref.
func (s *Server) Seed(companies []psa.Company, contacts []psa.Contact, tickets []psa.Ticket) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.companies = slices.Clone(companies)
	s.contacts = nil
	for _, c := range contacts {
		s.contacts = append(s.contacts, cloneContact(c))
	}
	s.tickets = nil
	for _, t := range tickets {
		t.Contact = nil
		if t.Number == "" {
			t.Number = t.Ref
		}
		s.tickets = append(s.tickets, t)
	}
	s.notes = map[string][]psa.Note{}
	s.defaults = map[string]string{}
}

// SetMember sets the member the API key belongs to.
func (s *Server) SetMember(m psa.Member) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.member = m
}

// SetPageSize sets the largest page the server returns; 0 means 200.
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageSize = n
}

// SetLinkRewrite makes the server pass every next-page URL it writes
// through rewrite (nil stops), so that tests can hand the client the
// shapes real PSAs write, or links it must refuse.
func (s *Server) SetLinkRewrite(rewrite func(string) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.linkURL = rewrite
}

// Notes returns the notes added to the ticket with ref, oldest first.
func (s *Server) Notes(ticketRef string) []psa.Note {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.notes[ticketRef])
}

func (s *Server) handleListCompanies(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	all := slices.Clone(s.companies)
	s.mu.Unlock()
	page, next, err := s.page(r, len(all))
	if err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	out := []wireCompany{}
	for _, c := range all[page[0]:page[1]] {
		if visible(r, c.Ref) {
			out = append(out, wireCompany{ID: c.Ref, Name: c.Name})
		}
	}
	s.writeList(w, r, out, next)
}

func (s *Server) handleListContacts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	companyID := q.Get("company_id")
	search := psa.ContactSearch{Email: q.Get("email"), Phone: q.Get("phone"), Name: q.Get("name")}
	if companyID == "" && search.IsZero() {
		s.writeError(w, http.StatusBadRequest, "give company_id or a search")
		return
	}
	if search.Phone != "" && !strings.HasPrefix(search.Phone, "+") {
		s.writeError(w, http.StatusBadRequest, "phone must be E.164")
		return
	}
	s.mu.Lock()
	var matches []psa.Contact
	for _, c := range s.contacts {
		if (companyID == "" || c.CompanyRef == companyID) && matchContact(c, search) && visible(r, c.CompanyRef) {
			matches = append(matches, cloneContact(c))
		}
	}
	s.mu.Unlock()
	page, next, err := s.page(r, len(matches))
	if err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	out := []wireContact{}
	for _, c := range matches[page[0]:page[1]] {
		out = append(out, toWireContact(c))
	}
	s.writeList(w, r, out, next)
}

func (s *Server) handleGetContact(w http.ResponseWriter, r *http.Request) {
	c, ok := s.contact(r.PathValue("id"))
	if !ok {
		s.writeError(w, http.StatusNotFound, "no such contact")
		return
	}
	if !visible(r, c.CompanyRef) {
		s.writeError(w, http.StatusForbidden, "the member may not see this contact")
		return
	}
	s.writeJSON(w, http.StatusOK, toWireContact(c))
}

func (s *Server) handleCreateContact(w http.ResponseWriter, r *http.Request) {
	var in wireContact
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		s.writeError(w, http.StatusBadRequest, "invalid contact: "+err.Error())
		return
	}
	if strings.TrimSpace(in.FirstName+in.LastName) == "" {
		s.writeError(w, http.StatusUnprocessableEntity, "first_name or last_name is required")
		return
	}
	c := fromWireContact(in)
	if !visible(r, c.CompanyRef) {
		s.writeError(w, http.StatusForbidden, "the member may not add contacts to this company")
		return
	}
	s.mu.Lock()
	if c.CompanyRef != "" && !slices.ContainsFunc(s.companies, func(co psa.Company) bool { return co.Ref == c.CompanyRef }) {
		s.mu.Unlock()
		s.writeError(w, http.StatusUnprocessableEntity, "no such company")
		return
	}
	s.lastID++
	c.Ref = strconv.Itoa(s.lastID)
	s.contacts = append(s.contacts, cloneContact(c))
	s.mu.Unlock()
	s.writeJSON(w, http.StatusCreated, toWireContact(c))
}

func (s *Server) handleGetTicket(w http.ResponseWriter, r *http.Request) {
	t, ok := s.ticket(r.PathValue("id"))
	if !ok {
		s.writeError(w, http.StatusNotFound, "no such ticket")
		return
	}
	if !visible(r, t.CompanyRef) {
		s.writeError(w, http.StatusForbidden, "the member may not see this ticket")
		return
	}
	s.writeJSON(w, http.StatusOK, wireTicket{
		ID: t.Ref, Number: t.Number, Summary: t.Summary,
		CompanyID: t.CompanyRef, ContactID: t.ContactRef, Status: t.Status,
	})
}

// wireNewTicket is the body of POST /tickets.
type wireNewTicket struct {
	Summary     string `json:"summary"`
	Description string `json:"description"`
	CompanyID   string `json:"company_id"`
	ContactID   string `json:"contact_id,omitempty"`
}

func (s *Server) handleCreateTicket(w http.ResponseWriter, r *http.Request) {
	var in wireNewTicket
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		s.writeError(w, http.StatusBadRequest, "invalid ticket: "+err.Error())
		return
	}
	if strings.TrimSpace(in.Summary) == "" || len(in.Summary) > 100 || in.CompanyID == "" {
		s.writeError(w, http.StatusUnprocessableEntity, "summary (at most 100 characters) and company_id are required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.ContainsFunc(s.companies, func(co psa.Company) bool { return co.Ref == in.CompanyID }) {
		s.writeError(w, http.StatusUnprocessableEntity, "no such company")
		return
	}
	if in.ContactID != "" && !slices.ContainsFunc(s.contacts, func(c psa.Contact) bool {
		return c.Ref == in.ContactID && c.CompanyRef == in.CompanyID
	}) {
		s.writeError(w, http.StatusUnprocessableEntity, "no such contact in that company")
		return
	}
	s.lastID++
	t := psa.Ticket{Ref: strconv.Itoa(s.lastID), Summary: in.Summary, CompanyRef: in.CompanyID, ContactRef: in.ContactID, Status: "New"}
	t.Number = "T" + t.Ref
	s.tickets = append(s.tickets, t)
	s.details[t.Ref] = in.Description
	s.writeJSON(w, http.StatusCreated, wireTicket{ID: t.Ref, Number: t.Number, Summary: t.Summary,
		CompanyID: t.CompanyRef, ContactID: t.ContactRef, Status: t.Status})
}

// Tickets returns the tickets the PSA holds, seeded and created, oldest
// first.
func (s *Server) Tickets() []psa.Ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.tickets)
}

// TicketDescription returns the description a ticket was created with.
func (s *Server) TicketDescription(ref string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.details[ref]
}

// Contacts returns the contacts the PSA holds, seeded and created.
func (s *Server) Contacts() []psa.Contact {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]psa.Contact, len(s.contacts))
	for i, c := range s.contacts {
		out[i] = cloneContact(c)
	}
	return out
}

func (s *Server) handleAddNote(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var in wireNote
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		s.writeError(w, http.StatusBadRequest, "invalid note: "+err.Error())
		return
	}
	if strings.TrimSpace(in.Text) == "" || (in.Visibility != "internal" && in.Visibility != "public") {
		s.writeError(w, http.StatusUnprocessableEntity, `text is required and visibility is "internal" or "public"`)
		return
	}
	if _, ok := s.ticket(id); !ok {
		s.writeError(w, http.StatusNotFound, "no such ticket")
		return
	}
	s.mu.Lock()
	s.notes[id] = append(s.notes[id], psa.Note{Text: in.Text, Public: in.Visibility == "public"})
	s.mu.Unlock()
	s.writeJSON(w, http.StatusCreated, in)
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	m := s.member
	s.mu.Unlock()
	if m.Ref == "" {
		s.writeError(w, http.StatusNotFound, "the API key has no member")
		return
	}
	s.writeJSON(w, http.StatusOK, wireMember{ID: m.Ref, Username: m.Identifier, Name: m.Name, Email: m.Email})
}

// staffMember is one of the MSP's members in GET /members.
type staffMember struct {
	psa.Member
	inactive bool
}

// SeedMembers replaces the MSP's members that GET /members lists; those
// named in inactive are listed as inactive (left the MSP).
func (s *Server) SeedMembers(members []psa.Member, inactive ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.staff = nil
	for _, m := range members {
		s.staff = append(s.staff, staffMember{Member: m, inactive: slices.Contains(inactive, m.Ref)})
	}
}

func (s *Server) handleListMembers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var want *bool
	switch v := q.Get("active"); v {
	case "":
	case "true", "false":
		b := v == "true"
		want = &b
	default:
		s.writeError(w, http.StatusBadRequest, fmt.Sprintf("active %q is not true or false", v))
		return
	}
	s.mu.Lock()
	var all []staffMember
	for _, m := range s.staff {
		if want == nil || *want == !m.inactive {
			all = append(all, m)
		}
	}
	s.mu.Unlock()
	page, next, err := s.page(r, len(all))
	if err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	out := []wireMember{}
	for _, m := range all[page[0]:page[1]] {
		active := !m.inactive
		out = append(out, wireMember{ID: m.Ref, Username: m.Identifier, Name: m.Name, Email: m.Email, Phone: m.Phone, Active: &active})
	}
	s.writeList(w, r, out, next)
}

func (s *Server) contact(id string) (psa.Contact, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.contacts {
		if c.Ref == id {
			return cloneContact(c), true
		}
	}
	return psa.Contact{}, false
}

func (s *Server) ticket(id string) (psa.Ticket, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tickets {
		if t.Ref == id {
			return t, true
		}
	}
	return psa.Ticket{}, false
}

// page returns the [start, end) of the page r asks for among n items, and
// the cursor of the next page ("" on the last). Cursors are offsets.
func (s *Server) page(r *http.Request, n int) ([2]int, string, error) {
	size := maxPageSize
	s.mu.Lock()
	if s.pageSize > 0 {
		size = s.pageSize
	}
	s.mu.Unlock()
	if v := r.URL.Query().Get("page_size"); v != "" {
		ps, err := strconv.Atoi(v)
		if err != nil || ps < 1 {
			return [2]int{}, "", fmt.Errorf("page_size %q is not a positive number", v)
		}
		size = min(size, ps)
	} else {
		size = min(size, defaultPageSize)
	}
	start, end, next, err := psafake.CursorBounds(n, r.URL.Query().Get("cursor"), size)
	return [2]int{start, end}, next, err
}

// writeList writes a page and, when there is one, a Link to the next.
func (s *Server) writeList(w http.ResponseWriter, r *http.Request, v any, next string) {
	if next != "" {
		link := psafake.WithQuery(psafake.RequestURL(r.TLS != nil, r.Host, r.URL), "cursor", next)
		s.mu.Lock()
		rewrite := s.linkURL
		s.mu.Unlock()
		if rewrite != nil {
			link = rewrite(link)
		}
		w.Header().Set("Link", psafake.LinkHeader(psafake.Link{Rel: "next", URL: link}))
	}
	s.writeJSON(w, http.StatusOK, v)
}

// writeJSON writes v, or the first half of it after MalformedNext.
func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	b = s.Body(b)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func (s *Server) writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(wireError{Error: msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// matchContact reports whether c matches every criterion set in q.
func matchContact(c psa.Contact, q psa.ContactSearch) bool {
	if q.Email != "" && !slices.ContainsFunc(c.Emails, func(e psa.Email) bool { return strings.EqualFold(e.Address, q.Email) }) {
		return false
	}
	if q.Phone != "" && !slices.ContainsFunc(c.Phones, func(p psa.Phone) bool {
		// The memory PSA stores numbers as typed, like most PSAs, and
		// compares them in E.164. Its numbers are North American.
		n, err := core.NormalizePhone(p.Number, "US")
		return err == nil && n == q.Phone
	}) {
		return false
	}
	if name := strings.ToLower(strings.Join(strings.Fields(q.Name), " ")); name != "" {
		if name != strings.ToLower(c.FirstName) && name != strings.ToLower(c.LastName) && name != strings.ToLower(c.Name()) {
			return false
		}
	}
	return true
}

func cloneContact(c psa.Contact) psa.Contact {
	c.Emails = slices.Clone(c.Emails)
	c.Phones = slices.Clone(c.Phones)
	return c
}

func toWireContact(c psa.Contact) wireContact {
	w := wireContact{ID: c.Ref, CompanyID: c.CompanyRef, FirstName: c.FirstName, LastName: c.LastName, Title: c.Title,
		Emails: []wireEmail{}, Phones: []wirePhone{}}
	for _, e := range c.Emails {
		w.Emails = append(w.Emails, wireEmail{Address: e.Address, Label: e.Label, Primary: e.Default})
	}
	for _, p := range c.Phones {
		w.Phones = append(w.Phones, wirePhone{Number: p.Number, Label: p.Label, Primary: p.Default})
	}
	return w
}

func fromWireContact(w wireContact) psa.Contact {
	c := psa.Contact{Ref: w.ID, CompanyRef: w.CompanyID, FirstName: w.FirstName, LastName: w.LastName, Title: w.Title}
	for _, e := range w.Emails {
		c.Emails = append(c.Emails, psa.Email{Address: e.Address, Label: e.Label, Default: e.Primary})
	}
	for _, p := range w.Phones {
		c.Phones = append(c.Phones, psa.Phone{Number: p.Number, Label: p.Label, Default: p.Primary})
	}
	return c
}
