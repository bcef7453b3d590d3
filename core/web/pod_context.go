// The pod's context: the ticket or contact the PSA frames it on, read
// through the plugin, mirrored into our contacts and signed as a podScope.

package web

import (
	"context"
	"encoding/base64"
	"net/http"
	"sort"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// podScope is a pod's resolved context, signed and handed to the page so
// that starting a verification needs no second PSA round trip: the server
// still decides itself whether the chosen contact is the ticket's.
type podScope struct {
	TenantID      string
	IntegrationID string
	Screen        psa.Screen
	TicketRef     string
	ContactID     string // the local contact the screen shows; "" when the ticket has none
	ClientID      string // the local client, for switching to another contact
	CompanyRef    string // the ticket's company in the PSA, for loading its other contacts
}

type podTicketOut struct {
	Ref     string `json:"ref"`
	Number  string `json:"number"`
	Summary string `json:"summary,omitempty"`
	URL     string `json:"url,omitempty"` // the ticket in the PSA's web app, where the plugin knows it (psa.TicketLinker)
}

type podContextOut struct {
	Screen     psa.Screen     `json:"screen"`
	Technician technicianOut  `json:"technician"`
	Ticket     *podTicketOut  `json:"ticket,omitempty"`
	Contact    *contactOut    `json:"contact,omitempty"`
	Alternates []contactBrief `json:"alternates"`
	Scope      string         `json:"scope"` // the signed podScope, sent back on start
	Notice     string         `json:"notice,omitempty"`
}

func briefs(cs []core.Contact) []contactBrief {
	out := make([]contactBrief, 0, len(cs))
	for _, c := range cs {
		out = append(out, contactBrief{ID: c.ID, Name: c.Name()})
	}
	return out
}

type contactBrief struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// TicketContact marks the ticket's own contact in a list of callers.
	TicketContact bool `json:"ticket_contact,omitempty"`
}

// callerOrder orders the callers a ticket pod offers as a technician looks
// for them (issue 12): the ticket's contact first, marked (added when the
// list lacks it), then the company's others by name, whatever order the
// store or the PSA gave. ticket.ID "" means the ticket names no contact.
func callerOrder(list []contactBrief, ticket contactBrief) []contactBrief {
	others := make([]contactBrief, 0, len(list))
	for _, c := range list {
		if ticket.ID == "" || c.ID != ticket.ID {
			c.TicketContact = false
			others = append(others, c)
		}
	}
	sort.SliceStable(others, func(i, j int) bool {
		a, b := strings.ToLower(others[i].Name), strings.ToLower(others[j].Name)
		if a != b {
			return a < b
		}
		return others[i].ID < others[j].ID
	})
	if ticket.ID == "" {
		return others
	}
	ticket.TicketContact = true
	return append([]contactBrief{ticket}, others...)
}

// handlePodContext handles "GET /api/v1/pod/{integration}/context?…" with
// the pod URL's own query: what the PSA screen shows, resolved to local
// contacts (mirroring them from the PSA on first sight).
func (s *Server) handlePodContext(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tech := techFrom(r)
	emb, in, err := s.podEmbedder(ctx, tech.TenantID, pathVar(r, "integration"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	pc, err := emb.PodContext(r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	reader, err := s.podReader(r, emb, in, tech)
	if err != nil {
		s.writePodError(w, r, err)
		return
	}
	scope := podScope{TenantID: tech.TenantID, IntegrationID: in.ID, Screen: pc.Screen}
	out := podContextOut{Screen: pc.Screen, Technician: technicianJSON(tech), Alternates: []contactBrief{}}
	contactRef := pc.ContactRef
	var psaContact *psa.Contact
	if pc.TicketRef != "" {
		t, err := s.podTicket(ctx, reader, in, pc.TicketRef)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		scope.TicketRef, scope.CompanyRef = t.Ref, t.CompanyRef
		out.Ticket = &podTicketOut{Ref: t.Ref, Number: t.Number, Summary: t.Summary}
		contactRef, psaContact = t.ContactRef, t.Contact
		if contactRef == "" && t.CompanyRef != "" {
			// A ticket without a contact is about the company's default
			// contact, when it names one (read with the member's rights).
			if dg, ok := reader.(psa.DefaultContactGetter); ok {
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
			out.Notice = "This ticket has no contact. Pick the caller from the company's contacts."
		}
	}
	if _, asMember := emb.(psa.MemberReader); asMember && contactRef != "" && psaContact == nil && pc.TicketRef == "" {
		// The contact screen: the member must be allowed to see this
		// contact, mirrored or not.
		cg, ok := reader.(psa.ContactGetter)
		if !ok {
			s.writeError(w, r, core.Errorf(core.KindInvalid, "%s integrations cannot read contacts", in.Kind))
			return
		}
		c, err := cg.GetContact(ctx, contactRef)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		psaContact = &c
	}
	if contactRef != "" {
		c, err := s.mirrorContact(ctx, reader, in, contactRef, psaContact)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		card, err := s.contactCard(ctx, tech.TenantID, c)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		scope.ContactID, scope.ClientID = c.ID, c.ClientID
		out.Contact = &card
		if pc.Screen == psa.ScreenTicket {
			others, err := s.engine.SearchContacts(ctx, tech.TenantID, core.ContactQuery{ClientID: c.ClientID, Limit: 200})
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			out.Alternates = callerOrder(briefs(others), contactBrief{ID: c.ID, Name: c.Name()})
		}
	}
	if out.Scope, err = s.pod.context.Encode("pod-scope", scope); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// podTicket reads a ticket, without its contact when the plugin can.
func (s *Server) podTicket(ctx context.Context, emb psa.Client, in core.Integration, ref string) (psa.Ticket, error) {
	if tg, ok := emb.(psa.TicketOnlyGetter); ok {
		return tg.GetTicketOnly(ctx, ref)
	}
	if tg, ok := emb.(psa.TicketGetter); ok {
		return tg.GetTicket(ctx, ref)
	}
	return psa.Ticket{}, core.Errorf(core.KindInvalid, "%s integrations cannot read tickets", in.Kind)
}

// mirrorContact returns the local mirror of a PSA contact, creating it (and
// its client) from the PSA on first sight and reading it again when it is
// older than core.MirrorMaxAge. known is the contact when the ticket already
// carried it, saving a PSA call. When the PSA cannot be read, a stale
// mirror is used as it is (and the failure logged) rather than failing the
// technician.
func (s *Server) mirrorContact(ctx context.Context, emb psa.Client, in core.Integration, ref string, known *psa.Contact) (core.Contact, error) {
	mirror, err := s.engine.MirroredContact(ctx, in.TenantID, in.Kind, ref)
	found := err == nil
	switch {
	case err != nil && core.ErrorKind(err) != core.KindNotFound:
		return core.Contact{}, err
	case found && !mirror.Stale(s.engine.Now()):
		return mirror, nil
	}
	pc := known
	if pc == nil {
		cg, ok := emb.(psa.ContactGetter)
		if !ok {
			if found {
				return mirror, nil // nothing to refresh it from
			}
			return core.Contact{}, core.Errorf(core.KindInvalid, "%s integrations cannot read contacts", in.Kind)
		}
		c, err := cg.GetContact(ctx, ref)
		if err != nil {
			if found {
				s.log.WarnContext(ctx, "stale contact mirror kept: the PSA could not be read", "integration", in.ID, "contact", mirror.ID, "err", err)
				return mirror, nil
			}
			return core.Contact{}, err
		}
		pc = &c
	}
	return s.engine.MirrorContact(ctx, in.TenantID, psaContact(in, *pc))
}

// psaContact is what core.Engine.MirrorContact takes for PSA contact pc.
func psaContact(in core.Integration, pc psa.Contact) core.PSAContact {
	nc := core.NewContact{FirstName: pc.FirstName, LastName: pc.LastName, Title: pc.Title, PSARef: pc.Ref}
	for _, p := range pc.Phones {
		nc.Phones = append(nc.Phones, core.NewDestination{Value: p.Number, Label: p.Label, Default: p.Default})
	}
	for _, e := range pc.Emails {
		nc.Emails = append(nc.Emails, core.NewDestination{Value: e.Address, Label: e.Label, Default: e.Default})
	}
	return core.PSAContact{Kind: in.Kind, IntegrationName: in.Name, CompanyRef: pc.CompanyRef, Contact: nc}
}

// podReader returns the client a pod reads the PSA with for tech. A plugin
// that can read as the member looking at the pod (psa.MemberReader) must:
// the request's member proof is confirmed with the PSA, the member must be
// tech's (a member no technician is linked to yet becomes tech's, as after
// the pop-out sign-in), and the reads run with the member's own PSA rights.
// Other plugins read with the integration's client.
func (s *Server) podReader(r *http.Request, emb psa.Embedder, in core.Integration, tech core.Technician) (psa.Client, error) {
	mr, ok := emb.(psa.MemberReader)
	if !ok {
		return emb, nil
	}
	raw := r.Header.Get(memberProofHeader)
	if raw == "" {
		return nil, errMemberRequired
	}
	proof, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(proof) == 0 || len(proof) > maxProofLen {
		return nil, core.Errorf(core.KindInvalid, "the pod's PSA sign-in is not readable: reload the pod")
	}
	ctx := r.Context()
	reader, member, err := mr.AsMember(ctx, proof)
	if err != nil {
		return nil, err
	}
	if member.Ref == "" {
		return nil, core.Errorf(core.KindUnauthorized, "the PSA did not say which member is signed in")
	}
	linked, err := s.engine.ClaimMember(ctx, tech.TenantID, in.ID, member.Ref, tech.ID)
	switch {
	case err != nil:
		return nil, err
	case linked.ID != tech.ID:
		s.log.WarnContext(ctx, "pod read with another technician's PSA sign-in", "request_id", requestID(r),
			"technician", tech.ID, "member", member.Ref, "linked_technician", linked.ID)
		return nil, core.Errorf(core.KindForbidden, "this PSA sign-in is another technician's: sign out of the pod and sign in as yourself")
	}
	return reader, nil
}

// ticketContactBrief is the pod's ticket contact as a caller: found in
// list, else read from the store; none when the ticket names no contact
// (or it can no longer be read: the list is still worth showing).
func (s *Server) ticketContactBrief(ctx context.Context, scope podScope, list []contactBrief) contactBrief {
	if scope.ContactID == "" {
		return contactBrief{}
	}
	for _, c := range list {
		if c.ID == scope.ContactID {
			return c
		}
	}
	c, err := s.engine.Contact(ctx, scope.TenantID, scope.ContactID)
	if err != nil {
		s.log.WarnContext(ctx, "pod: ticket contact not read for the caller list", "contact", scope.ContactID, "err", err)
		return contactBrief{}
	}
	return contactBrief{ID: c.ID, Name: c.Name()}
}
