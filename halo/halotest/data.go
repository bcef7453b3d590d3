package halotest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/countersign/countersign/core/psa"
)

type (
	clientRec struct {
		ID         int
		Name       string
		Inactive   bool
		MainSiteID int
	}
	siteRec struct {
		ID            int
		Name          string
		ClientID      int
		ClientName    string
		MainContactID int
	}
	userRec struct {
		ID                           int
		FirstName, Surname, Title    string
		Email, Email2, Email3        string
		Phone, Home, Mobile, Mobile2 string
		ClientID, SiteID             int
		ClientName, SiteName         string
		Inactive                     bool
	}
	ticketRec struct {
		ID         int
		Summary    string
		Details    string
		ClientID   int
		SiteID     int
		UserID     int
		StatusID   int
		StatusName string
		TypeID     int
	}
	actionRec struct {
		ID             int
		TicketID       int
		OutcomeID      int
		Outcome        string
		Note           string
		NoteHTML       string
		HiddenFromUser *bool
		SendEmail      *bool
		NewStatus      *int
		Keys           []string // the fields the client sent
		At             time.Time
	}
	agentRec struct {
		ID                       int
		Name, FirstName, Surname string
		Email                    string
		SMS                      string
		Disabled                 bool
		API                      bool // an API-only agent (isapiagent)
	}
	crmNoteRec struct {
		ID               int
		ClientID, SiteID int
		UserID           int
		Note             string
		At               time.Time
	}
	outcomeRec struct {
		ID      int
		Outcome string
	}
	tokenRec struct {
		agent   int
		expires time.Time
		service bool
	}
	codeRec struct {
		clientID, redirectURI, challenge string
		agent                            int
		expires                          time.Time
	}
)

func (u userRec) name() string { return strings.TrimSpace(u.FirstName + " " + u.Surname) }

func refID(ref string) (int, error) {
	n, err := strconv.Atoi(ref)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("halotest: ref %q is not a Halo id", ref)
	}
	return n, nil
}

func (s *Server) mustIDLocked(ref string) int { return s.mustID(ref) }

func (s *Server) mustID(ref string) int {
	id, err := refID(ref)
	if err != nil {
		s.t.Fatalf("%v", err)
	}
	return id
}

// Seed replaces the instance's clients (each with a main site, id
// 50000+client id), users and tickets, and drops its actions. Refs must be
// decimal ids. Emails fill emailaddress, email2, email3 in order; phones
// labelled "Mobile" (or containing it) fill mobilenumber then
// mobilenumber2, others phonenumber then homenumber, stored as given.
func (s *Server) Seed(companies []psa.Company, contacts []psa.Contact, tickets []psa.Ticket) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients, s.sites, s.users, s.tickets, s.actions, s.crmNotes = nil, nil, nil, nil, nil, nil
	for _, c := range companies {
		id := s.mustID(c.Ref)
		site := 50000 + id
		s.clients = append(s.clients, clientRec{ID: id, Name: c.Name, MainSiteID: site})
		s.sites = append(s.sites, siteRec{ID: site, Name: "Main", ClientID: id, ClientName: c.Name})
		s.lastID = max(s.lastID, id)
	}
	for _, c := range contacts {
		u, err := s.userFromPSALocked(c)
		if err != nil {
			s.t.Errorf("halotest: seed: %v", err)
			continue
		}
		u.ID = s.mustID(c.Ref)
		s.lastID = max(s.lastID, u.ID)
		s.users = append(s.users, u)
	}
	for _, t := range tickets {
		rec := ticketRec{ID: s.mustID(t.Ref), Summary: t.Summary, StatusID: 1, StatusName: t.Status, TypeID: 1}
		if rec.StatusName == "" {
			rec.StatusName = "New"
		}
		if t.CompanyRef != "" {
			rec.ClientID = s.mustID(t.CompanyRef)
			rec.SiteID = 50000 + rec.ClientID
		}
		if t.ContactRef != "" {
			rec.UserID = s.mustID(t.ContactRef)
		}
		s.lastID = max(s.lastID, rec.ID)
		s.tickets = append(s.tickets, rec)
	}
}

func (s *Server) userFromPSALocked(c psa.Contact) (userRec, error) {
	u := userRec{FirstName: c.FirstName, Surname: c.LastName, Title: c.Title}
	if c.CompanyRef != "" {
		id, err := refID(c.CompanyRef)
		if err != nil {
			return u, err
		}
		u.ClientID = id
		u.SiteID = 50000 + id
		for _, cl := range s.clients {
			if cl.ID == id {
				u.ClientName, u.SiteName = cl.Name, "Main"
			}
		}
	}
	emails := []*string{&u.Email, &u.Email2, &u.Email3}
	for i, e := range c.Emails {
		if i >= len(emails) {
			return u, fmt.Errorf("a Halo user has three email fields, not %d", len(c.Emails))
		}
		*emails[i] = e.Address
	}
	mobiles, others := []*string{&u.Mobile, &u.Mobile2}, []*string{&u.Phone, &u.Home}
	for _, p := range c.Phones {
		slot := &others
		if strings.Contains(strings.ToLower(p.Label), "mobile") {
			slot = &mobiles
		}
		if len(*slot) == 0 {
			return u, fmt.Errorf("no Halo phone field left for %q", p.Number)
		}
		*(*slot)[0] = p.Number
		*slot = (*slot)[1:]
	}
	return u, nil
}

// SetMember sets the agent the service application logs in as (what
// /api/Agent/me answers for its tokens), an API-only agent as the setup
// guide asks. m.Identifier is not kept: Halo agents have no login name in
// the API.
func (s *Server) SetMember(m psa.Member) {
	id := s.mustID(m.Ref)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.agents = slices.DeleteFunc(s.agents, func(a agentRec) bool { return a.ID == s.apiAgent })
	first, last, _ := strings.Cut(m.Name, " ")
	s.putAgentLocked(agentRec{ID: id, Name: m.Name, FirstName: first, Surname: last, Email: m.Email, API: true})
	s.apiAgent = id
}

// AddAgent adds (or replaces) a technician, who can sign in through
// /auth/authorize with the agent-login application.
func (s *Server) AddAgent(m psa.Member, disabled bool) {
	id := s.mustID(m.Ref)
	s.mu.Lock()
	defer s.mu.Unlock()
	first, last, _ := strings.Cut(m.Name, " ")
	s.putAgentLocked(agentRec{ID: id, Name: m.Name, FirstName: first, Surname: last, Email: m.Email, Disabled: disabled})
}

func (s *Server) putAgentLocked(a agentRec) {
	for i := range s.agents {
		if s.agents[i].ID == a.ID {
			s.agents[i] = a
			return
		}
	}
	s.agents = append(s.agents, a)
}

// AllowRedirect registers redirectURI as a Login Redirect URL of the
// agent-login application ([AgentClientID]).
func (s *Server) AllowRedirect(redirectURI string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.redirects = append(s.redirects, redirectURI)
}

// AutoApprove makes GET /auth/authorize sign in as agent ref at once,
// redirecting without showing its page (for tests without a browser); ""
// shows the page again.
func (s *Server) AutoApprove(agentRef string) {
	id := 0
	if agentRef != "" {
		id = s.mustID(agentRef)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.autoApprove = id
}

// Notes returns the actions on the ticket with ref, oldest first, as
// notes: Public is hiddenfromuser false.
func (s *Server) Notes(ticketRef string) []psa.Note {
	var out []psa.Note
	for _, a := range s.Actions(ticketRef) {
		out = append(out, psa.Note{Text: a.Note, Public: a.HiddenFromUser == nil || !*a.HiddenFromUser})
	}
	return out
}

// Action is an action as Halo stored it.
type Action struct {
	ID             int
	OutcomeID      int
	Outcome        string
	Note           string
	HiddenFromUser *bool // nil: the client did not say
	SendEmail      *bool // nil: the client did not say
	NewStatus      *int  // set when the client changed the ticket's status
	Keys           []string
}

// Actions returns the actions on the ticket with ref, oldest first.
func (s *Server) Actions(ticketRef string) []Action {
	id, err := refID(ticketRef)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Action
	for _, a := range s.actions {
		if a.TicketID == id {
			out = append(out, Action{ID: a.ID, OutcomeID: a.OutcomeID, Outcome: a.Outcome, Note: a.Note, HiddenFromUser: a.HiddenFromUser,
				SendEmail: a.SendEmail, NewStatus: a.NewStatus, Keys: a.Keys})
		}
	}
	return out
}

// TicketStatus returns the status id of the ticket with ref (0 when none).
func (s *Server) TicketStatus(ticketRef string) int {
	id, _ := refID(ticketRef)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tickets {
		if t.ID == id {
			return t.StatusID
		}
	}
	return 0
}

// AddTicket adds a ticket (as a new ticket logged in Halo would be).
func (s *Server) AddTicket(t psa.Ticket) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := ticketRec{ID: s.mustID(t.Ref), Summary: t.Summary, StatusID: 1, StatusName: "New", TypeID: 1}
	if t.CompanyRef != "" {
		rec.ClientID = s.mustID(t.CompanyRef)
		rec.SiteID = 50000 + rec.ClientID
	}
	if t.ContactRef != "" {
		rec.UserID = s.mustID(t.ContactRef)
	}
	s.tickets = append(s.tickets, rec)
}

// Tabs returns the custom tabs created through POST /api/Tabs.
func (s *Server) Tabs() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.tabs...)
}

// SetWebhookActive sets the active flag of the webhook at url, as an admin
// (or Halo, after failed deliveries) might.
func (s *Server) SetWebhookActive(url string, active bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.webhooks {
		if w["url"] == url {
			w["active"] = active
		}
	}
}

// Webhooks returns the webhooks created through POST /api/Webhook.
func (s *Server) Webhooks() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.webhooks...)
}
