// The pod's actions within a signed scope: the company's contacts, a new
// contact created in the PSA, and starting a verification.

package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

type podScopeRequest struct {
	Scope string `json:"scope"`
}

// decodeScope checks a signed pod scope against the technician and the
// integration of the request.
func (s *Server) decodeScope(r *http.Request, raw string) (podScope, error) {
	var scope podScope
	if len(raw) > 4096 || s.pod.context.Decode("pod-scope", raw, &scope) != nil ||
		scope.TenantID != techFrom(r).TenantID || scope.IntegrationID != pathVar(r, "integration") {
		return scope, core.Errorf(core.KindInvalid, "the pod's context is missing or out of date; reload the pod")
	}
	return scope, nil
}

// handlePodCompanyContacts handles "POST /api/v1/pod/{integration}/company-contacts":
// when the caller is not the ticket's contact, the technician loads the
// ticket company's other contacts from the PSA (mirrored locally) to pick
// the caller. It costs PSA calls, so it runs only when asked.
func (s *Server) handlePodCompanyContacts(w http.ResponseWriter, r *http.Request) {
	var req podScopeRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	scope, err := s.decodeScope(r, req.Scope)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if scope.CompanyRef == "" {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "this ticket has no company whose contacts could be listed"))
		return
	}
	ctx := r.Context()
	emb, in, err := s.podEmbedder(ctx, scope.TenantID, scope.IntegrationID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	reader, err := s.podReader(r, emb, in, techFrom(r))
	if err != nil {
		s.writePodError(w, r, err)
		return
	}
	finder, ok := reader.(psa.ContactFinder)
	if !ok {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "%s integrations cannot list a company's contacts", in.Kind))
		return
	}
	found, err := finder.FindContacts(ctx, scope.CompanyRef, psa.ContactSearch{})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(found) > maxCompanyContacts {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "this company has more than %d contacts; search for the caller in the console instead", maxCompanyContacts))
		return
	}
	out := make([]contactBrief, 0, len(found))
	for i := range found {
		c, err := s.mirrorContact(ctx, reader, in, found[i].Ref, &found[i])
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out = append(out, contactBrief{ID: c.ID, Name: c.Name()})
	}
	writeJSON(w, http.StatusOK, map[string]any{"contacts": callerOrder(out, s.ticketContactBrief(ctx, scope, out))})
}

type podNewContactRequest struct {
	Scope     string `json:"scope"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Phone     string `json:"phone"`
	Email     string `json:"email"`
}

type podNewContactOut struct {
	Contact contactBrief `json:"contact"`
	// TicketContact is set when the new contact became the ticket's
	// contact in the PSA (Policy.PodContactToTicket); Scope is then the
	// pod's new signed context, whose default contact it is.
	TicketContact bool   `json:"ticket_contact"`
	Scope         string `json:"scope,omitempty"`
}

// handlePodCreateContact handles "POST /api/v1/pod/{integration}/contacts":
// the caller is nobody the company has on file, so the technician creates
// them in the PSA, under the company of the pod's ticket, with the
// technician's own PSA rights where the plugin reads and writes as the
// member. The contact is mirrored locally at once. On a ticket that has
// no contact, the new contact becomes the ticket's contact in the PSA
// when the policy of the ticket's client says so (PodContactToTicket):
// then it is the ticket's default caller, and sending to it needs no
// alternate-contact note.
func (s *Server) handlePodCreateContact(w http.ResponseWriter, r *http.Request) {
	var req podNewContactRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	scope, err := s.decodeScope(r, req.Scope)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if scope.CompanyRef == "" {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "this pod shows no company to add the contact to: open a ticket of the caller's company"))
		return
	}
	first, last := strings.TrimSpace(req.FirstName), strings.TrimSpace(req.LastName)
	phone, email := strings.TrimSpace(req.Phone), strings.TrimSpace(req.Email)
	switch {
	case first == "" || len(first) > 100 || len(last) > 100:
		s.writeError(w, r, core.Errorf(core.KindInvalid, "a new contact needs a first name (at most 100 characters)"))
		return
	case phone == "" && email == "":
		s.writeError(w, r, core.Errorf(core.KindInvalid, "a new contact needs a phone number or an email address to verify them with"))
		return
	case len(phone) > 40 || len(email) > 254 || strings.ContainsAny(first+last+phone+email, "<>"):
		s.writeError(w, r, core.Errorf(core.KindInvalid, "the phone number or email address is not valid"))
		return
	}
	ctx := r.Context()
	tech := techFrom(r)
	emb, in, err := s.podEmbedder(ctx, scope.TenantID, scope.IntegrationID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	reader, err := s.podReader(r, emb, in, tech)
	if err != nil {
		s.writePodError(w, r, err)
		return
	}
	creator, ok := reader.(psa.ContactCreator)
	if !ok {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "%s integrations cannot create contacts", in.Kind))
		return
	}
	nc := psa.Contact{CompanyRef: scope.CompanyRef, FirstName: first, LastName: last}
	if phone != "" {
		nc.Phones = []psa.Phone{{Number: phone, Default: true}}
	}
	if email != "" {
		nc.Emails = []psa.Email{{Address: email, Default: true}}
	}
	created, err := creator.CreateContact(ctx, nc)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.engine.MirrorCreatedContact(ctx, tech.TenantID, "tech:"+tech.ID, psaContact(in, created),
		map[string]string{"integration": in.ID, "psa_ref": created.Ref, "ticket": scope.TicketRef})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := podNewContactOut{Contact: contactBrief{ID: c.ID, Name: c.Name()}}
	if scope.TicketRef != "" && scope.ContactID == "" {
		policy, err := s.engine.Policy(ctx, scope.TenantID, c.ClientID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if policy.PodContactToTicket {
			setter, ok := reader.(psa.TicketContactSetter)
			if !ok {
				s.writeError(w, r, core.Errorf(core.KindInvalid, "%s integrations cannot set a ticket's contact; the contact was created", in.Kind))
				return
			}
			if err := setter.SetTicketContact(ctx, scope.TicketRef, created.Ref); err != nil {
				s.writeError(w, r, err)
				return
			}
			scope.ContactID, scope.ClientID = c.ID, c.ClientID
			if out.Scope, err = s.pod.context.Encode("pod-scope", scope); err != nil {
				s.writeError(w, r, err)
				return
			}
			out.TicketContact = true
			if err := s.engine.Audit(ctx, tech.TenantID, "tech:"+tech.ID, core.AuditPodTicketContactSet, "ticket:"+in.ID+":"+scope.TicketRef,
				map[string]string{"contact": c.ID, "psa_ref": created.Ref}); err != nil {
				s.writeError(w, r, fmt.Errorf("the ticket's contact was set in the PSA, but recording it failed: %w", err))
				return
			}
		}
	}
	writeJSON(w, http.StatusCreated, out)
}

// integrationForNote names the integration whose ticket gets the result as
// a note: only a pod on a ticket has a ticket to write to.
func integrationForNote(sc podScope) string {
	if sc.TicketRef == "" {
		return ""
	}
	return sc.IntegrationID
}

type podStartRequest struct {
	Scope         string `json:"scope"`
	ContactID     string `json:"contact_id"`
	DestinationID string `json:"destination_id"`
	Method        string `json:"method"`
	Note          string `json:"note"`
	TicketRef     string `json:"ticket_ref"` // ignored: the scope names the ticket
	Purpose       string `json:"purpose"`    // "" identity check, "reset" password or MFA reset
}

// handlePodStart handles "POST /api/v1/pod/{integration}/verifications": a
// send from the pod, tied to the PSA ticket of its signed scope. A contact
// other than the ticket's is an alternate contact, so the policy's note
// rule applies.
func (s *Server) handlePodStart(w http.ResponseWriter, r *http.Request) {
	var req podStartRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := techFrom(r)
	scope, err := s.decodeScope(r, req.Scope)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	st, err := s.engine.Start(r.Context(), core.StartRequest{
		TenantID: tech.TenantID, TechnicianID: tech.ID, ContactID: req.ContactID, DestinationID: req.DestinationID,
		Method: core.Method(req.Method), TicketRef: scope.TicketRef, Note: req.Note,
		AlternateContact: scope.Screen == psa.ScreenTicket && req.ContactID != scope.ContactID,
		IntegrationID:    integrationForNote(scope),
		Purpose:          core.Purpose(req.Purpose),
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := verificationJSON(st.Verification, s.engine.Now())
	out.TechCode = st.TechCode
	writeJSON(w, http.StatusCreated, out)
}
