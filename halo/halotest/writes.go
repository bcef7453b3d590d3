package halotest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/psafake"
)

// The writes beyond notes and new users: tickets (POST /Tickets, create
// and update), users' fields (POST /Users with an id), CRM notes (POST
// /CRMNote), and a site's main contact (GET /Site/{id}). Halo validates
// them against its records and answers a refusal with a 400 and a
// sentence; the fake does the same with the sentences Halo's screens use.

// rawNum reads an integer field of a posted object (ids may come as 34 or
// 34.0), and whether it was there and not null.
func rawNum(m map[string]json.RawMessage, k string) (int, bool) {
	raw, ok := m[k]
	if !ok || string(raw) == "null" {
		return 0, false
	}
	var f float64
	if json.Unmarshal(raw, &f) != nil {
		return 0, false
	}
	return int(f), true
}

// rawStr reads a string field of a posted object.
func rawStr(m map[string]json.RawMessage, k string) (string, bool) {
	raw, ok := m[k]
	if !ok || string(raw) == "null" {
		return "", false
	}
	var v string
	_ = json.Unmarshal(raw, &v)
	return v, true
}

func (s *Server) userLocked(id int) *userRec {
	for i := range s.users {
		if s.users[i].ID == id {
			return &s.users[i]
		}
	}
	return nil
}

func (s *Server) siteLocked(id int) *siteRec {
	for i := range s.sites {
		if s.sites[i].ID == id {
			return &s.sites[i]
		}
	}
	return nil
}

func (s *Server) clientLocked(id int) *clientRec {
	for i := range s.clients {
		if s.clients[i].ID == id {
			return &s.clients[i]
		}
	}
	return nil
}

// updateUser applies an update of POST /Users (an element with an id):
// the fields sent change, the others stay. It returns the user as saved,
// or the status and message of a refusal.
func (s *Server) updateUser(m map[string]json.RawMessage) (userRec, int, string) {
	id, _ := rawNum(m, "id")
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userLocked(id)
	if u == nil {
		return userRec{}, http.StatusNotFound, "User not found"
	}
	for k, dst := range map[string]*string{"firstname": &u.FirstName, "surname": &u.Surname, "title": &u.Title,
		"emailaddress": &u.Email, "email2": &u.Email2, "email3": &u.Email3, "phonenumber": &u.Phone, "homenumber": &u.Home,
		"mobilenumber": &u.Mobile, "mobilenumber2": &u.Mobile2} {
		if v, ok := rawStr(m, k); ok {
			*dst = v
		}
	}
	return *u, 0, ""
}

// postTickets serves POST /Tickets: an element without an id logs a
// ticket, one with an id updates that ticket's fields sent.
func (s *Server) postTickets(w http.ResponseWriter, ar *apiRequest) {
	var in []map[string]json.RawMessage
	_ = json.Unmarshal(ar.body, &in)
	var out []map[string]any
	for _, m := range in {
		var (
			t      ticketRec
			status int
			msg    string
		)
		if _, update := m["id"]; update {
			t, status, msg = s.updateTicket(m)
		} else {
			t, status, msg = s.createTicket(m)
		}
		if status != 0 {
			http.Error(w, msg, status)
			return
		}
		out = append(out, s.ticketJSON(t))
	}
	s.answerPosted(w, out)
}

// checkTicketUserLocked is Halo's check of a ticket's user: one of the
// client's users, with the user's own site.
func (s *Server) checkTicketUserLocked(client, site, user int) (int, string) {
	u := s.userLocked(user)
	switch {
	case u == nil || u.Inactive:
		return http.StatusBadRequest, "Please select a valid User"
	case u.ClientID != client:
		return http.StatusBadRequest, "The selected User does not belong to the selected Client"
	case u.SiteID != site:
		return http.StatusBadRequest, "Please select a valid Site"
	}
	return 0, ""
}

func (s *Server) createTicket(m map[string]json.RawMessage) (ticketRec, int, string) {
	summary, _ := rawStr(m, "summary")
	details, _ := rawStr(m, "details")
	client, _ := rawNum(m, "client_id")
	site, _ := rawNum(m, "site_id")
	user, _ := rawNum(m, "user_id")
	typ, hasType := rawNum(m, "tickettype_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.TrimSpace(summary) == "" {
		return ticketRec{}, http.StatusBadRequest, "Please enter a Summary"
	}
	if c := s.clientLocked(client); c == nil || c.Inactive {
		return ticketRec{}, http.StatusBadRequest, "Please select a valid Client"
	}
	if st := s.siteLocked(site); st == nil || st.ClientID != client {
		return ticketRec{}, http.StatusBadRequest, "Please select a valid Site"
	}
	if user != 0 {
		if status, msg := s.checkTicketUserLocked(client, site, user); status != 0 {
			return ticketRec{}, status, msg
		}
	}
	if !hasType || typ == 0 {
		typ = 1 // the instance's default ticket type
	}
	if _, ok := s.ticketTypes[typ]; !ok {
		return ticketRec{}, http.StatusBadRequest, "Please select a valid Ticket Type"
	}
	s.lastID++
	t := ticketRec{ID: s.lastID, Summary: summary, Details: details, ClientID: client, SiteID: site, UserID: user,
		StatusID: 1, StatusName: "New", TypeID: typ}
	s.tickets = append(s.tickets, t)
	return t, 0, ""
}

func (s *Server) updateTicket(m map[string]json.RawMessage) (ticketRec, int, string) {
	id, _ := rawNum(m, "id")
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.tickets, func(t ticketRec) bool { return t.ID == id })
	if i < 0 {
		return ticketRec{}, http.StatusNotFound, "Ticket not found"
	}
	t := s.tickets[i]
	if v, ok := rawStr(m, "summary"); ok {
		if strings.TrimSpace(v) == "" {
			return ticketRec{}, http.StatusBadRequest, "Please enter a Summary"
		}
		t.Summary = v
	}
	if v, ok := rawStr(m, "details"); ok {
		t.Details = v
	}
	if c, ok := rawNum(m, "client_id"); ok {
		t.ClientID = c
	}
	if site, ok := rawNum(m, "site_id"); ok {
		t.SiteID = site
	}
	if user, ok := rawNum(m, "user_id"); ok {
		if status, msg := s.checkTicketUserLocked(t.ClientID, t.SiteID, user); status != 0 {
			return ticketRec{}, status, msg
		}
		t.UserID = user
	} else if st := s.siteLocked(t.SiteID); st == nil || st.ClientID != t.ClientID {
		return ticketRec{}, http.StatusBadRequest, "Please select a valid Site"
	}
	s.tickets[i] = t
	return t, 0, ""
}

// postCRMNotes serves POST /CRMNote: a note on a client, naming one of its
// users.
func (s *Server) postCRMNotes(w http.ResponseWriter, ar *apiRequest) {
	var in []map[string]json.RawMessage
	_ = json.Unmarshal(ar.body, &in)
	var out []map[string]any
	for _, m := range in {
		if _, update := m["id"]; update {
			http.Error(w, "the fake does not update CRM notes", http.StatusNotImplemented)
			return
		}
		note, _ := rawStr(m, "note")
		client, _ := rawNum(m, "client_id")
		site, _ := rawNum(m, "site_id")
		user, _ := rawNum(m, "user_id")
		s.mu.Lock()
		var refusal string
		switch u := s.userLocked(user); {
		case strings.TrimSpace(note) == "":
			refusal = "Please enter a Note"
		case s.clientLocked(client) == nil:
			refusal = "Please select a valid Client"
		case user != 0 && (u == nil || u.ClientID != client):
			refusal = "Please select a valid User"
		case site != 0 && (s.siteLocked(site) == nil || s.siteLocked(site).ClientID != client):
			refusal = "Please select a valid Site"
		}
		if refusal != "" {
			s.mu.Unlock()
			http.Error(w, refusal, http.StatusBadRequest)
			return
		}
		s.lastID++
		n := crmNoteRec{ID: s.lastID, ClientID: client, SiteID: site, UserID: user, Note: note, At: s.now()}
		s.crmNotes = append(s.crmNotes, n)
		s.mu.Unlock()
		out = append(out, s.record("AreaNote", map[string]any{"id": n.ID, "client_id": n.ClientID, "site_id": n.SiteID, "user_id": n.UserID,
			"note": n.Note, "datetime": n.At.UTC().Format("2006-01-02T15:04:05.000Z")}))
	}
	s.answerPosted(w, out)
}

func (s *Server) getSite(w http.ResponseWriter, ar *apiRequest) {
	id, _ := strconv.Atoi(ar.params[0])
	s.mu.Lock()
	st := s.siteLocked(id)
	var m map[string]any
	if st != nil {
		m = map[string]any{"id": st.ID, "name": st.Name, "client_id": st.ClientID, "client_name": st.ClientName}
		if u := s.userLocked(st.MainContactID); u != nil {
			m["maincontact_id"], m["maincontact_name"] = u.ID, u.name()
		}
	}
	s.mu.Unlock()
	if m == nil {
		http.Error(w, "Site not found", http.StatusNotFound)
		return
	}
	s.answer(w, http.StatusOK, s.record("Site", m))
}

// Ticket is a ticket as Halo stored it.
type Ticket struct {
	Ref, Summary, Details string
	CompanyRef            string
	SiteRef               string
	ContactRef            string // "" for none
	TypeID                int
	Status                string
}

// Tickets returns the instance's tickets, oldest first.
func (s *Server) Tickets() []Ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Ticket{}
	for _, t := range s.tickets {
		tk := Ticket{Ref: strconv.Itoa(t.ID), Summary: t.Summary, Details: t.Details, CompanyRef: strconv.Itoa(t.ClientID),
			SiteRef: strconv.Itoa(t.SiteID), TypeID: t.TypeID, Status: t.StatusName}
		if t.UserID > 0 {
			tk.ContactRef = strconv.Itoa(t.UserID)
		}
		out = append(out, tk)
	}
	return out
}

// CRMNote is a CRM note as Halo stored it.
type CRMNote struct {
	CompanyRef, SiteRef, ContactRef string
	Note                            string
}

// CRMNotes returns the CRM notes written through the API, oldest first.
func (s *Server) CRMNotes() []CRMNote {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []CRMNote{}
	for _, n := range s.crmNotes {
		c := CRMNote{CompanyRef: strconv.Itoa(n.ClientID), Note: n.Note}
		if n.SiteID > 0 {
			c.SiteRef = strconv.Itoa(n.SiteID)
		}
		if n.UserID > 0 {
			c.ContactRef = strconv.Itoa(n.UserID)
		}
		out = append(out, c)
	}
	return out
}

// ContactNotes returns the text of the CRM notes naming the user with ref,
// oldest first.
func (s *Server) ContactNotes(contactRef string) []string {
	var out []string
	for _, n := range s.CRMNotes() {
		if n.ContactRef == contactRef {
			out = append(out, n.Note)
		}
	}
	return out
}

// ContactPhones returns the numbers of the user with ref as Halo holds
// them, in the order of its fields: mobilenumber ("Mobile"),
// mobilenumber2 ("Mobile 2"), phonenumber ("Phone"), homenumber ("Home");
// empty fields left out.
func (s *Server) ContactPhones(contactRef string) []psa.Phone {
	id, _ := refID(contactRef)
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userLocked(id)
	if u == nil {
		return nil
	}
	var out []psa.Phone
	for _, p := range []struct{ n, l string }{{u.Mobile, "Mobile"}, {u.Mobile2, "Mobile 2"}, {u.Phone, "Phone"}, {u.Home, "Home"}} {
		if p.n != "" {
			out = append(out, psa.Phone{Number: p.n, Label: p.l})
		}
	}
	return out
}

// SetDefaultContact makes the user with contactRef the main contact of the
// main site of the client with companyRef (Halo's maincontact_id); ""
// clears it. Halo names a client's main contact on its main site only.
func (s *Server) SetDefaultContact(companyRef, contactRef string) {
	client := s.mustID(companyRef)
	user := 0
	if contactRef != "" {
		user = s.mustID(contactRef)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clientLocked(client)
	if c == nil {
		s.t.Fatalf("halotest: no client %s", companyRef)
		return
	}
	if st := s.siteLocked(c.MainSiteID); st != nil {
		st.MainContactID = user
	}
}

// SeedMembers implements psatest.MemberSeeder: members replace the
// instance's agents (the API application's own stays), each member's
// Phone as the agent's SMS number; those in inactive are disabled.
func (s *Server) SeedMembers(members []psa.Member, inactive ...string) {
	recs := make([]agentRec, 0, len(members))
	for _, m := range members {
		first, last, _ := strings.Cut(m.Name, " ")
		recs = append(recs, agentRec{ID: s.mustID(m.Ref), Name: m.Name, FirstName: first, Surname: last, Email: m.Email, SMS: m.Phone,
			Disabled: slices.Contains(inactive, m.Ref)})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.agents = slices.DeleteFunc(s.agents, func(a agentRec) bool { return a.ID != s.apiAgent })
	for _, a := range recs {
		s.putAgentLocked(a)
	}
}

// TicketContact implements psatest.TicketContactFake: the user of the
// ticket with ref; "" for none.
func (s *Server) TicketContact(ticketRef string) string {
	for _, t := range s.Tickets() {
		if t.Ref == ticketRef {
			return t.ContactRef
		}
	}
	return ""
}

// FailNextWrite implements psatest.WriteFaulter: the next n API requests
// that write (any method but GET) are answered with status, as FailNext
// does, and reads pass.
func (s *Server) FailNextWrite(n, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writeFailN, s.writeFailCode, s.writeFailAfter = n, status, retryAfter
}

// writeFailure says whether FailNextWrite fails this write, and how.
func (s *Server) writeFailure() (psafake.Failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writeFailN <= 0 {
		return psafake.Failure{}, false
	}
	s.writeFailN--
	return psafake.Failure{Status: s.writeFailCode, RetryAfter: s.writeFailAfter}, true
}
