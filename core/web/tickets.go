package web

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/gorilla/mux"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// Verifying from a ticket number, in the console: the technician types or
// pastes the number a PSA shows on a ticket, the integration resolves it
// (psa.TicketFinder, or psa.TicketGetter where the number is the id), the
// ticket's contact is mirrored locally and shown with the verification
// card, and the result is written to the ticket as a note through the
// outbox. It serves every PSA, and is how technicians verify for PSAs
// without an embed point. The answer is the pod's context, with the same
// signed scope, so that a send goes through the pod's start route and
// follows the same ticket and note rules.

func (s *Server) registerTicketRoutes(r *mux.Router) {
	r.HandleFunc("/tickets/sources", s.handleTicketSources).Methods(http.MethodGet)
	r.HandleFunc("/tickets/lookup", s.handleTicketLookup).Methods(http.MethodGet)
	r.HandleFunc("/tickets/for-contact", s.handleContactTickets).Methods(http.MethodGet)
}

// ticketURL returns t's address in the PSA, where c knows it.
func ticketURL(c psa.Client, t psa.Ticket) string {
	if l, ok := c.(psa.TicketLinker); ok {
		return l.TicketURL(t)
	}
	return ""
}

type ticketSource struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Kind string `json:"kind"`
}

// handleTicketSources handles "GET /api/v1/tickets/sources": the tenant's
// integrations that can find a ticket, for the console's ticket box.
func (s *Server) handleTicketSources(w http.ResponseWriter, r *http.Request) {
	tech := techFrom(r)
	ins, err := s.engine.Integrations(r.Context(), tech.TenantID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := []ticketSource{}
	for _, in := range ins {
		c, err := s.psaClient(in)
		if err != nil {
			continue // a kind this server does not carry
		}
		if find, _ := ticketReader(c); find != nil {
			out = append(out, ticketSource{ID: in.ID, Name: in.Name, Kind: in.Kind})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"sources": out})
}

// ticketNumberPattern is what a ticket number can look like in any of the
// PSAs ("12345", "T20250101.0001", "062822-0005").
var ticketNumberPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9#._/-]{0,39}$`)

// ticketReader returns how c finds a ticket by its number: its
// TicketFinder, or its TicketGetter for PSAs whose ticket number is the id
// (byID; a number that cannot be an id is then simply not a ticket).
func ticketReader(c psa.Client) (find func(ctx context.Context, number string) (psa.Ticket, error), byID bool) {
	if f, ok := c.(psa.TicketFinder); ok {
		return f.FindTicketByNumber, false
	}
	if g, ok := c.(psa.TicketGetter); ok {
		return g.GetTicket, true
	}
	return nil, false
}

// handleTicketLookup handles "GET /api/v1/tickets/lookup?integration=&number=".
func (s *Server) handleTicketLookup(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tech := techFrom(r)
	q := r.URL.Query()
	number := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(q.Get("number")), "#"))
	if !ticketNumberPattern.MatchString(number) {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "enter a ticket number as the PSA shows it, e.g. 12345 or T20250101.0001"))
		return
	}
	id := q.Get("integration")
	if len(id) > 64 || id == "" {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "choose the PSA the ticket is in"))
		return
	}
	in, err := s.engine.Integration(ctx, tech.TenantID, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.psaClient(in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	find, byID := ticketReader(c)
	if find == nil {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "%s integrations cannot look tickets up", in.Name))
		return
	}
	t, err := find(ctx, number)
	if err != nil {
		if errors.Is(err, core.ErrNotFound) || byID && errors.Is(err, core.ErrInvalid) {
			s.writeError(w, r, core.Errorf(core.KindNotFound, "%s has no ticket %s: check the number", in.Name, number))
			return
		}
		s.writeError(w, r, err)
		return
	}
	scope := podScope{TenantID: tech.TenantID, IntegrationID: in.ID, Screen: psa.ScreenTicket, TicketRef: t.Ref, CompanyRef: t.CompanyRef}
	out := podContextOut{Screen: psa.ScreenTicket, Technician: technicianJSON(tech), Alternates: []contactBrief{},
		Ticket: &podTicketOut{Ref: t.Ref, Number: t.Number, Summary: t.Summary, URL: ticketURL(c, t)}}
	contactRef := t.ContactRef
	if contactRef == "" && t.CompanyRef != "" {
		// As on a pod, a ticket without a contact is about the company's
		// default contact, when it names one.
		if dg, ok := c.(psa.DefaultContactGetter); ok {
			if contactRef, err = dg.DefaultContact(ctx, t.CompanyRef); err != nil {
				s.writeError(w, r, err)
				return
			}
			if contactRef != "" {
				out.Notice = "This ticket has no contact: its company's default contact is shown. Pick another caller if it is not them."
			}
		}
	}
	if contactRef == "" {
		out.Notice = "This ticket has no contact. Search for the caller among the contacts."
	} else {
		known := t.Contact
		if contactRef != t.ContactRef {
			known = nil
		}
		mc, err := s.mirrorContact(ctx, c, in, contactRef, known)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		card, err := s.contactCard(ctx, tech.TenantID, mc)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		scope.ContactID, scope.ClientID = mc.ID, mc.ClientID
		out.Contact = &card
		others, err := s.engine.SearchContacts(ctx, tech.TenantID, core.ContactQuery{ClientID: mc.ClientID, Limit: 200})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out.Alternates = briefs(others)
	}
	if out.Scope, err = s.pod.context.Encode("pod-scope", scope); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// contactTicketsLimit is how many open tickets of a caller the console
// lists.
const contactTicketsLimit = 5

type contactTicketOut struct {
	Integration     string `json:"integration"`
	IntegrationName string `json:"integration_name"`
	Ref             string `json:"ref"`
	Number          string `json:"number"`
	Summary         string `json:"summary,omitempty"`
	Status          string `json:"status,omitempty"`
	URL             string `json:"url,omitempty"`
}

// handleContactTickets handles "GET /api/v1/tickets/for-contact?contact=":
// the open tickets of a contact mirrored from a PSA, from each of the
// tenant's integrations of that PSA that can list them
// (psa.ContactTicketLister), for the console to open one.
func (s *Server) handleContactTickets(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tech := techFrom(r)
	id := r.URL.Query().Get("contact")
	if id == "" || len(id) > 64 {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "name the contact"))
		return
	}
	c, cl, err := s.engine.ContactAndClient(ctx, tech.TenantID, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := []contactTicketOut{}
	if cl.PSAKind == "" || c.PSARef == "" {
		writeJSON(w, http.StatusOK, map[string]any{"tickets": out}) // a local contact has no PSA tickets
		return
	}
	pc := psa.Contact{Ref: c.PSARef, CompanyRef: cl.PSARef, FirstName: c.FirstName, LastName: c.LastName}
	for _, d := range c.Destinations {
		if d.Kind == core.DestEmail {
			pc.Emails = append(pc.Emails, psa.Email{Address: d.Value, Default: d.IsDefault})
		}
	}
	ins, err := s.engine.Integrations(ctx, tech.TenantID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	for _, in := range ins {
		if in.Kind != cl.PSAKind {
			continue
		}
		pcl, err := s.psaClient(in)
		if err != nil {
			continue
		}
		lister, ok := pcl.(psa.ContactTicketLister)
		if !ok {
			continue
		}
		ts, err := lister.ContactTickets(ctx, pc, contactTicketsLimit)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		for _, t := range ts {
			out = append(out, contactTicketOut{Integration: in.ID, IntegrationName: in.Name, Ref: t.Ref, Number: t.Number,
				Summary: t.Summary, Status: t.Status, URL: ticketURL(pcl, t)})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tickets": out})
}
