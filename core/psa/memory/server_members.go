package memory

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/countersign/countersign/core/psa"
)

// What a member's own PSA session may do, and the records it touches
// beyond the basics: a company's default contact and a ticket's contact.
//
// A request whose bearer token is a member session (see
// [Server.AddMemberSession]) instead of the API key acts as that member:
// it may use the data routes only (companies, contacts, tickets), and sees
// only the companies [Server.SetMemberCompanies] gave the member — others'
// records answer 403, and lists leave them out — as a PSA's security
// roles do.

type memberKey struct{}

// memberRights is what a member may see: nil companies means all.
type memberRights struct {
	member    psa.Member
	companies []string
}

// requestMember returns the member r acts as; ok is false for the API key.
func requestMember(r *http.Request) (memberRights, bool) {
	m, ok := r.Context().Value(memberKey{}).(memberRights)
	return m, ok
}

// memberRoute reports whether a member session may use r's route.
func memberRoute(r *http.Request) bool {
	p := strings.TrimPrefix(r.URL.Path, "/api/v1/")
	return strings.HasPrefix(p, "companies") || strings.HasPrefix(p, "contacts") || strings.HasPrefix(p, "tickets")
}

// asMember returns r acting as the member whose session token is tok, or
// false when tok is no session.
func (s *Server) asMember(r *http.Request, tok string) (*http.Request, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.setup.sessions[tok]
	if !ok || tok == "" {
		return r, false
	}
	s.memberCalls = append(s.memberCalls, m.Ref+" "+r.Method+" "+r.URL.Path)
	rights := memberRights{member: m, companies: s.rights[m.Ref]}
	return r.WithContext(context.WithValue(r.Context(), memberKey{}, rights)), true
}

// visible reports whether the request may see records of companyRef.
func visible(r *http.Request, companyRef string) bool {
	m, ok := requestMember(r)
	return !ok || m.companies == nil || slices.Contains(m.companies, companyRef)
}

// SetMemberCompanies limits what member ref's sessions see to the
// companies with refs, as a security role does; no refs lifts the limit.
func (s *Server) SetMemberCompanies(ref string, companyRefs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(companyRefs) == 0 {
		delete(s.rights, ref)
		return
	}
	s.rights[ref] = slices.Clone(companyRefs)
}

// MemberCalls returns the API requests made with member sessions, oldest
// first, as "member-ref METHOD path".
func (s *Server) MemberCalls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.memberCalls)
}

// SetDefaultContact makes the contact with contactRef the default contact
// of the company with companyRef; "" names none.
func (s *Server) SetDefaultContact(companyRef, contactRef string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.defaults[companyRef] = contactRef
}

// TicketContact returns the contact ref of the ticket with ref.
func (s *Server) TicketContact(ref string) string {
	t, _ := s.ticket(ref)
	return t.ContactRef
}

func (s *Server) handleGetCompany(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	i := slices.IndexFunc(s.companies, func(c psa.Company) bool { return c.Ref == id })
	var out wireCompany
	if i >= 0 {
		out = wireCompany{ID: id, Name: s.companies[i].Name, DefaultContactID: s.defaults[id]}
	}
	s.mu.Unlock()
	switch {
	case i < 0:
		s.writeError(w, http.StatusNotFound, "no such company")
	case !visible(r, id):
		s.writeError(w, http.StatusForbidden, "the member may not see this company")
	default:
		s.writeJSON(w, http.StatusOK, out)
	}
}

// wireTicketPatch is the body of PATCH /tickets/{id}.
type wireTicketPatch struct {
	ContactID string `json:"contact_id"`
}

func (s *Server) handlePatchTicket(w http.ResponseWriter, r *http.Request) {
	var in wireTicketPatch
	if !s.decode(w, r, &in) {
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.tickets, func(t psa.Ticket) bool { return t.Ref == id })
	if i < 0 {
		s.writeError(w, http.StatusNotFound, "no such ticket")
		return
	}
	t := &s.tickets[i]
	if !visible(r, t.CompanyRef) {
		s.writeError(w, http.StatusForbidden, "the member may not see this ticket")
		return
	}
	if !slices.ContainsFunc(s.contacts, func(c psa.Contact) bool { return c.Ref == in.ContactID && c.CompanyRef == t.CompanyRef }) {
		s.writeError(w, http.StatusUnprocessableEntity, "no such contact in the ticket's company")
		return
	}
	t.ContactRef = in.ContactID
	s.writeJSON(w, http.StatusOK, wireTicket{ID: t.Ref, Number: t.Number, Summary: t.Summary,
		CompanyID: t.CompanyRef, ContactID: t.ContactRef, Status: t.Status})
}

// ContactPhones returns the phone numbers of the contact with ref as
// stored (psatest.ContactPhoneFake); nil for no such contact.
func (s *Server) ContactPhones(ref string) []psa.Phone {
	c, ok := s.contact(ref)
	if !ok {
		return nil
	}
	return c.Phones
}
