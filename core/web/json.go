package web

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// The API's JSON shapes. Destinations are always masked: technicians pick a
// destination by id and never need the full value (security.md §8).

type technicianOut struct {
	ID       string `json:"id"`
	TenantID string `json:"tenant_id"`
	Email    string `json:"email"`
	Name     string `json:"name"`
	Role     string `json:"role"`
}

func technicianJSON(t core.Technician) technicianOut {
	return technicianOut{ID: t.ID, TenantID: t.TenantID, Email: t.Email, Name: t.Name, Role: string(t.Role)}
}

type destinationOut struct {
	ID      string    `json:"id"`
	Kind    string    `json:"kind"`
	Masked  string    `json:"masked"`
	Label   string    `json:"label,omitempty"`
	Default bool      `json:"default"`
	Source  string    `json:"source"`
	SetAt   time.Time `json:"set_at"`
	SetBy   string    `json:"set_by"`
	// Provenance is Source in words ("from the PSA", "added by hand");
	// only on the contact card.
	Provenance string `json:"provenance,omitempty"`
	// LastVerifiedAt is when a caller was last verified through this
	// destination; nil when never (or outside the contact card).
	LastVerifiedAt *time.Time `json:"last_verified_at,omitempty"`
}

type contactOut struct {
	ID           string           `json:"id"`
	ClientID     string           `json:"client_id"`
	FirstName    string           `json:"first_name"`
	LastName     string           `json:"last_name"`
	Title        string           `json:"title,omitempty"`
	Company      string           `json:"company,omitempty"` // the client's name; in the contact list
	Destinations []destinationOut `json:"destinations"`
	Shield       *shieldOut       `json:"shield,omitempty"`
	// SMSOptIn is the opt-in state of the contact's mobile (issue 18
	// item 4); absent without a phone.
	SMSOptIn *optInOut   `json:"sms_opt_in,omitempty"`
	Policy   *policyView `json:"policy,omitempty"`
	// History is the policy's length of verifications, newest first; only
	// on the contact card.
	History []verificationOut `json:"history,omitempty"`
}

// policyView is what the verification UI needs of the effective policy.
type policyView struct {
	Methods          []core.Method `json:"methods"`
	Banner           string        `json:"banner,omitempty"`
	ShowOnLoad       bool          `json:"show_on_load"`
	NoteOnNonDefault bool          `json:"note_on_non_default"`
	NoteRequired     bool          `json:"note_required"`
	HistoryLength    int           `json:"history_length"`
	CodeDigits       int           `json:"code_digits"` // read-back codes' length, for the code box's own check
	// BelowMinimum names, per purpose ("identity", "reset"), the allowed
	// message methods (SMS, voice, e-mail: the destinations table's) that
	// are below the client's minimum assurance, with the reason the table
	// shows beside the disabled button; nil when none is.
	BelowMinimum map[string]map[core.Method]string `json:"below_minimum,omitempty"`
}

func policyJSON(p core.Policy, all []core.Method) *policyView {
	out := &policyView{Banner: p.Banner, ShowOnLoad: p.ShowOnLoad, NoteOnNonDefault: p.NoteOnNonDefault,
		NoteRequired: p.NoteOnNonDefault && p.NoteRequired, HistoryLength: p.HistoryLength, CodeDigits: p.CodeDigits}
	for _, m := range all {
		if p.Allows(m) {
			out.Methods = append(out.Methods, m)
		}
	}
	for _, pur := range []struct {
		key string
		p   core.Purpose
	}{{"identity", core.PurposeIdentity}, {"reset", core.PurposeReset}} {
		for _, m := range out.Methods {
			if !destinationMethods[m] {
				continue // pushes and prompts are rows of the routes list, which marks them
			}
			if why := p.BelowMinimumWords(m, pur.p); why != "" {
				if out.BelowMinimum == nil {
					out.BelowMinimum = map[string]map[core.Method]string{}
				}
				if out.BelowMinimum[pur.key] == nil {
					out.BelowMinimum[pur.key] = map[core.Method]string{}
				}
				out.BelowMinimum[pur.key][m] = why
			}
		}
	}
	return out
}

// destinationMethods are the methods the card's destinations table offers
// (verify.js methodsFor): those sent to a phone number or e-mail address.
var destinationMethods = map[core.Method]bool{core.MethodSMSCode: true, core.MethodSMSLink: true, core.MethodVoiceCode: true,
	core.MethodEmailLink: true, core.MethodEmailCode: true}

func contactJSON(c core.Contact) contactOut {
	out := contactOut{ID: c.ID, ClientID: c.ClientID, FirstName: c.FirstName, LastName: c.LastName, Title: c.Title,
		Destinations: make([]destinationOut, 0, len(c.Destinations))}
	for _, d := range c.Destinations {
		out.Destinations = append(out.Destinations, destinationOut{ID: d.ID, Kind: string(d.Kind), Masked: d.Masked(),
			Label: d.Label, Default: d.IsDefault, Source: d.Source, SetAt: d.SetAt, SetBy: d.SetBy})
	}
	return out
}

type verificationOut struct {
	ID             string `json:"id"`
	ContactID      string `json:"contact_id"`
	Method         string `json:"method"`
	Destination    string `json:"destination"` // masked
	DestinationID  string `json:"destination_id"`
	TicketRef      string `json:"ticket_ref,omitempty"`
	TechnicianID   string `json:"technician_id"`
	TechnicianName string `json:"technician_name,omitempty"`
	Status         string `json:"status"`
	Attempts       int    `json:"attempts"`
	MaxAttempts    int    `json:"max_attempts"`
	Sends          int    `json:"sends"`
	Note           string `json:"note,omitempty"`
	Purpose        string `json:"purpose,omitempty"`
	// Level is the assurance reached where it differs from the method's
	// ("strong": a Verified Duo Push); omitted otherwise.
	Level          string     `json:"level,omitempty"`
	Detail         string     `json:"detail,omitempty"`
	DeliveryStatus string     `json:"delivery_status,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	ExpiresAt      time.Time  `json:"expires_at"`
	CompletedAt    *time.Time `json:"completed_at,omitempty"`
	VerifiedUntil  *time.Time `json:"verified_until,omitempty"`
	// TechCode is the code the technician reads to the caller for a link
	// with a code; only in the response that issued it.
	TechCode string `json:"tech_code,omitempty"`
	// TicketNote is where the result's note on the PSA ticket stands;
	// only for closed verifications started from a PSA ticket.
	TicketNote *ticketNoteOut `json:"ticket_note,omitempty"`
}

// ticketNoteOut is a verification's note on its PSA ticket
// (core.TicketNote), with the ticket's address where the PSA has one.
type ticketNoteOut struct {
	State         string     `json:"state"` // core.NoteState
	Reason        string     `json:"reason,omitempty"`
	Attempts      int        `json:"attempts"`
	At            time.Time  `json:"at"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	TicketURL     string     `json:"ticket_url,omitempty"`
}

func verificationJSON(v core.Verification, now time.Time) verificationOut {
	out := verificationOut{ID: v.ID, ContactID: v.ContactID, Method: string(v.Method), Destination: v.MaskedDestination(),
		DestinationID: v.DestinationID, TicketRef: v.TicketRef, TechnicianID: v.TechnicianID,
		Status: string(v.EffectiveStatus(now)), Attempts: v.Attempts, MaxAttempts: v.MaxAttempts, Sends: v.Sends,
		Note: v.Note, Purpose: string(v.Purpose), Level: string(v.Level), Detail: v.Detail, DeliveryStatus: v.DeliveryStatus, CreatedAt: v.CreatedAt, ExpiresAt: v.ExpiresAt}
	if !v.CompletedAt.IsZero() {
		out.CompletedAt = &v.CompletedAt
	}
	if !v.VerifiedUntil.IsZero() {
		out.VerifiedUntil = &v.VerifiedUntil
	}
	return out
}

type shieldOut struct {
	State          string     `json:"state"`
	Method         string     `json:"method,omitempty"`
	Level          string     `json:"level,omitempty"` // as verificationOut's
	TechnicianID   string     `json:"technician_id,omitempty"`
	TechnicianName string     `json:"technician_name,omitempty"`
	At             *time.Time `json:"at,omitempty"`
	VerifiedUntil  *time.Time `json:"verified_until,omitempty"`
}

func shieldJSON(sh core.Shield) *shieldOut {
	out := &shieldOut{State: string(sh.State)}
	if sh.Last.ID != "" {
		out.Method, out.Level, out.TechnicianID = string(sh.Last.Method), string(sh.Last.Level), sh.Last.TechnicianID
		if !sh.Last.CompletedAt.IsZero() {
			out.At = &sh.Last.CompletedAt
		}
		if sh.State == core.ShieldGreen {
			out.VerifiedUntil = &sh.Last.VerifiedUntil
		}
	}
	return out
}

// technicianNames maps technician ids to names, for "verified by" lines.
// A few are looked up one by one in the cache of signed-in technicians
// (those who verify are usually signed in, so it is a hit; a miss reads
// that one row); many, or without the cache, are one read of the tenant's
// technicians. A technician no longer on record is left nameless.
func (s *Server) technicianNames(ctx context.Context, tenantID string, ids []string) (map[string]string, error) {
	ids = slices.DeleteFunc(slices.Compact(slices.Sorted(slices.Values(ids))), func(id string) bool { return id == "" })
	names := make(map[string]string, len(ids))
	if s.techs == nil || len(ids) > maxNamesByCache {
		techs, err := s.engine.Technicians(ctx, tenantID)
		for _, t := range techs {
			names[t.ID] = t.Name
		}
		return names, err
	}
	for _, id := range ids {
		t, err := s.technician(ctx, tenantID, id)
		if err != nil && core.ErrorKind(err) != core.KindNotFound {
			return nil, err
		}
		names[id] = t.Name
	}
	return names, nil
}

// maxNamesByCache is the most technicians technicianNames looks up one by
// one: past it, a cache miss each would cost more than the one list read.
const maxNamesByCache = 4

// historyJSON renders a contact's history with technician names, and the
// shield it gives.
func (s *Server) historyJSON(ctx context.Context, tenantID string, history []core.Verification) ([]verificationOut, *shieldOut, error) {
	ids := make([]string, len(history))
	for i, v := range history {
		ids[i] = v.TechnicianID
	}
	names, err := s.technicianNames(ctx, tenantID, ids)
	if err != nil {
		return nil, nil, err
	}
	now := s.engine.Now()
	out := make([]verificationOut, 0, len(history))
	for _, v := range history {
		vo := verificationJSON(v, now)
		vo.TechnicianName = names[v.TechnicianID]
		out = append(out, vo)
	}
	if err := s.addTicketNotes(ctx, tenantID, history, out); err != nil {
		return nil, nil, err
	}
	sh := shieldJSON(core.ShieldFor(history, now))
	sh.TechnicianName = names[sh.TechnicianID]
	return out, sh, nil
}

// contactCard is a contact with its shield, effective policy and history:
// everything the verification UI shows, in one answer.
func (s *Server) contactCard(ctx context.Context, tenantID string, c core.Contact) (contactOut, error) {
	card, err := s.engine.ContactCard(ctx, tenantID, c.ID)
	if err != nil {
		return contactJSON(c), err
	}
	return s.cardJSON(ctx, tenantID, c, card)
}

// cardJSON is contactCard from a card already read, for contact c (the
// card's own, or the PSA's copy of it that the caller shows).
func (s *Server) cardJSON(ctx context.Context, tenantID string, c core.Contact, card core.ContactCard) (contactOut, error) {
	out := contactJSON(c)
	history, last, optIn, p := card.History, card.LastVerified, card.OptIn, card.Policy
	var err error
	out.SMSOptIn = optInJSON(optIn)
	for i := range out.Destinations {
		d := &out.Destinations[i]
		d.Provenance = s.provenance(d.Source)
		if at, ok := last[d.ID]; ok {
			d.LastVerifiedAt = &at
		}
	}
	if out.History, out.Shield, err = s.historyJSON(ctx, tenantID, history); err != nil {
		return out, err
	}
	out.Policy = policyJSON(p, s.engine.Methods())
	return out, nil
}

// verificationView is one verification as the card shows it: with its
// ticket note's state.
func (s *Server) verificationView(ctx context.Context, v core.Verification) (verificationOut, error) {
	out := []verificationOut{verificationJSON(v, s.engine.Now())}
	err := s.addTicketNotes(ctx, v.TenantID, []core.Verification{v}, out)
	return out[0], err
}

// addTicketNotes fills out[i].TicketNote for the verifications vs[i] that
// write a note to a PSA ticket, with a link to the ticket where its PSA
// plugin gives one (psa.TicketLinker).
func (s *Server) addTicketNotes(ctx context.Context, tenantID string, vs []core.Verification, out []verificationOut) error {
	var ids []string
	for _, v := range vs {
		if v.IntegrationID != "" && v.TicketRef != "" && !v.Status.Open() {
			ids = append(ids, v.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	notes, err := s.engine.TicketNotes(ctx, tenantID, ids)
	if err != nil {
		return err
	}
	links := map[string]psa.TicketLinker{} // by integration id; nil when it has none
	for i, v := range vs {
		n, ok := notes[v.ID]
		if !ok {
			continue
		}
		no := &ticketNoteOut{State: string(n.State), Reason: n.Reason, Attempts: n.Attempts, At: n.At}
		if !n.NextAttemptAt.IsZero() {
			no.NextAttemptAt = &n.NextAttemptAt
		}
		l, seen := links[v.IntegrationID]
		if !seen {
			l = s.ticketLinker(ctx, tenantID, v.IntegrationID)
			links[v.IntegrationID] = l
		}
		if l != nil {
			no.TicketURL = refTicketURL(l, v.TicketRef)
		}
		out[i].TicketNote = no
	}
	return nil
}

// ticketLinker is the ticket linker of a tenant's integration, or nil when
// it has none (or is gone: the note state is still shown).
func (s *Server) ticketLinker(ctx context.Context, tenantID, integrationID string) psa.TicketLinker {
	in, err := s.engine.Integration(ctx, tenantID, integrationID)
	if err != nil {
		return nil
	}
	c, err := s.psaClient(in)
	if err != nil {
		return nil
	}
	l, _ := c.(psa.TicketLinker)
	return l
}

// refTicketURL is the address of the ticket with ref, when the linker
// can make it from the ref alone: a verification keeps the ticket's ref,
// not the number a {number} template would need.
func refTicketURL(l psa.TicketLinker, ref string) string {
	u := l.TicketURL(psa.Ticket{Ref: ref})
	if u == "" || u != l.TicketURL(psa.Ticket{Ref: ref, Number: "n"}) {
		return ""
	}
	return u
}

// provenance says where a destination came from (core.Destination.Source)
// as a fragment of a technician's sentence, which the card and the ways to
// verify put after what they say of the destination ("Never verified ·
// added by hand", "(from the PSA on 2 Nov 2026)", "number on file
// (from the PSA)"); never the source's identifier ("psa:" and the plugin's name).
func (s *Server) provenance(source string) string {
	kind, isPSA := strings.CutPrefix(source, "psa:")
	switch {
	case isPSA:
		if name := s.psaNames[kind]; name != "" {
			return "from " + name
		}
		// A PSA this server has no plug-in for (any more).
		return "from a PSA"
	case source == "manual":
		return "added by hand"
	case source == "directory" || source == "ad":
		return "from the directory (AD)"
	case source == "microsoft":
		return "from Microsoft 365"
	case source == "agent":
		return "from the workstation agent"
	case source == "demo":
		return "from the demo data"
	case source == "enduser:optin":
		// Typed by whoever held the contact's SMS opt-in link (issue 18.4):
		// the technician should know codes go to a number the PSA did not give.
		return "corrected by the contact on the SMS opt-in form"
	case source == "":
		return "source not recorded"
	}
	return "from another system"
}
