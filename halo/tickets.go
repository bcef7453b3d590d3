package halo

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// wireTicket is a Halo ticket (schema Faults), holding only the fields we
// read. Its site_id is an integer, unlike a user's.
type wireTicket struct {
	ID         int     `json:"id"`
	Summary    string  `json:"summary"`
	ClientID   flexInt `json:"client_id"`
	ClientName string  `json:"client_name"`
	SiteID     flexInt `json:"site_id"`
	UserID     flexInt `json:"user_id"`
	UserName   string  `json:"user_name"`
	StatusID   flexInt `json:"status_id"`
	StatusName string  `json:"status_name"`
	TypeID     flexInt `json:"tickettype_id"`
	AgentID    flexInt `json:"agent_id"`
}

// wireAction is the element of POST /api/Actions's array: a note on a
// ticket. hiddenfromuser and sendemail are always sent (a note that left
// them out would take the outcome's defaults, which may show it to the
// end user and e-mail them); new_status never is, so that a note does not
// move the ticket.
type wireAction struct {
	TicketID       int    `json:"ticket_id"`
	OutcomeID      int    `json:"outcome_id,omitempty"`
	Outcome        string `json:"outcome,omitempty"`
	Note           string `json:"note"`
	HiddenFromUser bool   `json:"hiddenfromuser"`
	SendEmail      bool   `json:"sendemail"`
}

const (
	areaTickets     = "reading tickets (permission read:tickets)"
	areaTicketWrite = "adding actions to tickets (permission edit:tickets, and access to the note's outcome)"
)

func (w wireTicket) ticket() psa.Ticket {
	t := psa.Ticket{Ref: strconv.Itoa(w.ID), Number: strconv.Itoa(w.ID), Summary: w.Summary, Status: w.StatusName}
	if w.ClientID > 0 {
		t.CompanyRef = strconv.Itoa(int(w.ClientID))
	}
	if w.UserID > 0 {
		t.ContactRef = strconv.Itoa(int(w.UserID))
	}
	return t
}

// getTicket reads GET /api/Tickets/{id}.
func (c *Client) getTicket(ctx context.Context, ref string) (wireTicket, error) {
	id, err := parseID("ticket", ref)
	if err != nil {
		return wireTicket{}, err
	}
	sid := strconv.Itoa(id)
	var w wireTicket
	if err := c.getJSON(ctx, call{
		what: "get ticket " + sid, op: "GET /api/Tickets/{id}", method: http.MethodGet, path: "/Tickets/" + sid,
		subject: "ticket " + sid, area: areaTickets,
	}, &w); err != nil {
		return wireTicket{}, err
	}
	if w.ID != id {
		return wireTicket{}, newError("get ticket "+sid, core.KindNotFound, nil, "Halo has no ticket %s", sid)
	}
	return w, nil
}

// GetTicketOnly implements [psa.TicketOnlyGetter]: one call, the user left
// to the caller's mirror.
func (c *Client) GetTicketOnly(ctx context.Context, ref string) (psa.Ticket, error) {
	w, err := c.getTicket(ctx, ref)
	if err != nil {
		return psa.Ticket{}, err
	}
	return w.ticket(), nil
}

// GetTicket implements [psa.TicketGetter]: the ticket, then its end user
// (GET /api/Users/{user_id}) for their email addresses and mobiles — never
// the ticket's own copies (user_email, phonenumber), which anyone editing
// the ticket can change. A ticket whose user was deleted, or that has
// Halo's placeholder user, comes back without a contact.
func (c *Client) GetTicket(ctx context.Context, ref string) (psa.Ticket, error) {
	t, err := c.GetTicketOnly(ctx, ref)
	if err != nil {
		return psa.Ticket{}, err
	}
	if t.ContactRef != "" {
		ct, err := c.GetContact(ctx, t.ContactRef)
		switch {
		case errors.Is(err, core.ErrNotFound):
			c.log.WarnContext(ctx, "halo ticket names a user that does not exist", "ticket", t.Ref, "user", t.ContactRef)
			t.ContactRef = ""
		case err != nil:
			return psa.Ticket{}, c.wrapWhat("get ticket "+t.Ref, err)
		default:
			t.Contact = &ct
		}
	}
	return t, nil
}

// AddTicketNote implements [psa.TicketNoter]: POST /api/Actions with the
// outcome chosen at setup, hiddenfromuser true unless n.Public, sendemail
// false, and the ticket's status left alone. Halo answers a note on a
// ticket that does not exist with an error, which is core.ErrNotFound
// when Halo says so by status.
func (c *Client) AddTicketNote(ctx context.Context, ticketRef string, n psa.Note) error {
	id, err := parseID("ticket", ticketRef)
	if err != nil {
		return err
	}
	if strings.TrimSpace(n.Text) == "" {
		return core.Errorf(core.KindInvalid, "a ticket note needs text")
	}
	a := wireAction{TicketID: id, Note: n.Text, HiddenFromUser: !n.Public, SendEmail: false}
	if oid, err := strconv.Atoi(c.cfg.NoteOutcome); err == nil {
		a.OutcomeID = oid
	} else {
		a.Outcome = c.cfg.NoteOutcome
	}
	sid := strconv.Itoa(id)
	return c.post(ctx, call{
		what: "add action to ticket " + sid, op: "POST /api/Actions", method: http.MethodPost, path: "/Actions",
		body: []wireAction{a}, subject: "ticket " + sid, area: areaTicketWrite,
	}, nil)
}

// wireOutcome is an action type (schema TOutcome).
type wireOutcome struct {
	ID      int    `json:"id"`
	Outcome string `json:"outcome"`
}

// Outcome is one of the instance's action types, for the setup page's
// choice of the note's outcome.
type Outcome struct {
	ID   int
	Name string
}

// Outcomes lists the instance's action types (GET /api/Outcome, a bare
// array or wrapped under "outcomes"; which one is unconfirmed).
func (c *Client) Outcomes(ctx context.Context) ([]Outcome, error) {
	cl := call{what: "list outcomes", op: "GET /api/Outcome", method: http.MethodGet, path: "/Outcome",
		area: "reading action types (permission read:tickets)"}
	resp, err := c.send(ctx, cl)
	if err != nil {
		return nil, err
	}
	var ws []wireOutcome
	if err := decodeList(resp, "outcomes", &ws); err != nil {
		return nil, c.decodeFail(cl.what, err)
	}
	out := make([]Outcome, 0, len(ws))
	for _, w := range ws {
		out = append(out, Outcome{ID: w.ID, Name: w.Outcome})
	}
	return out, nil
}

// Choices offers the instance's outcomes for the note-outcome setting
// ([psa.FieldChooser]), suggesting the one named like a private or
// internal note when exactly one is.
func (c *Client) Choices(ctx context.Context, field string) (psa.Choices, error) {
	if field != "note_outcome" {
		return psa.Choices{}, core.Errorf(core.KindInvalid, "halo: no choices for the setting %q", field)
	}
	outs, err := c.Outcomes(ctx)
	if err != nil {
		return psa.Choices{}, err
	}
	ch := psa.Choices{Options: []psa.Choice{}, Hint: "The action types of your Halo: pick the one verification notes are written as (a private, internal one)."}
	var private []string
	for _, o := range outs {
		id := strconv.Itoa(o.ID)
		ch.Options = append(ch.Options, psa.Choice{Value: id, Label: o.Name + " (" + id + ")"})
		if n := strings.ToLower(o.Name); strings.Contains(n, "private note") || strings.Contains(n, "internal note") {
			private = append(private, id)
		}
	}
	if len(private) == 1 {
		ch.Suggested = private[0]
	}
	return ch, nil
}

// newTicket is the element of POST /api/Tickets's array for a new ticket
// (schema Faults): only the fields we set. Halo files a ticket under a
// site as well as a client, and wants the user's own site whenever a
// user is named (a third-party client, CIPP's New-HaloPSATicket, learnt
// it from Halo's refusals); tickettype_id left out is the instance's
// default ticket type.
type newTicket struct {
	Summary  string `json:"summary"`
	Details  string `json:"details,omitempty"`
	ClientID int    `json:"client_id"`
	SiteID   int    `json:"site_id"`
	UserID   int    `json:"user_id,omitempty"`
	TypeID   int    `json:"tickettype_id,omitempty"`
}

// ticketUser is the element of POST /api/Tickets's array that changes a
// ticket's end user: the ticket's id (an update), the user and the user's
// site, which Halo wants with the user.
type ticketUser struct {
	ID     int `json:"id"`
	UserID int `json:"user_id"`
	SiteID int `json:"site_id"`
}

const areaTicketCreate = "logging and editing tickets (permission edit:tickets)"

// CreateTicket implements [psa.TicketCreator]: POST /api/Tickets with
// the summary, the user's words as details, the client, and the site —
// the user's own when a user is named (read first with GET
// /api/Users/{id}, which also refuses a user of another client), else
// the client's main site (GET /api/Client/{id}). The ticket type is the
// integration's setting, else Halo's default. Two calls; Halo numbers a
// ticket by its id.
func (c *Client) CreateTicket(ctx context.Context, in psa.NewTicket) (psa.Ticket, error) {
	const what = "create ticket"
	summary := strings.TrimSpace(in.Summary)
	if summary == "" {
		return psa.Ticket{}, core.Errorf(core.KindInvalid, "halo: a ticket needs a summary")
	}
	clientID, err := parseID("client", in.CompanyRef)
	if err != nil {
		return psa.Ticket{}, err
	}
	body := newTicket{Summary: summary, Details: strings.TrimSpace(in.Description), ClientID: clientID, TypeID: c.cfg.ticketType()}
	if in.ContactRef != "" {
		u, err := c.getUser(ctx, in.ContactRef)
		if err != nil {
			return psa.Ticket{}, c.wrapWhat(what, err)
		}
		if int(u.ClientID) != clientID {
			return psa.Ticket{}, newError(what, core.KindInvalid, nil, "Halo user %d is not a user of client %d", u.ID, clientID)
		}
		body.UserID, body.SiteID = u.ID, u.siteID()
	} else {
		cl, err := c.getClient(ctx, clientID)
		if err != nil {
			return psa.Ticket{}, c.wrapWhat(what, err)
		}
		body.SiteID = int(cl.MainSiteID)
	}
	if body.SiteID < 1 {
		return psa.Ticket{}, newError(what, core.KindInvalid, nil, "Halo client %d has no main site to file the ticket under: set one on the client", clientID)
	}
	var w wireTicket
	if err := c.post(ctx, call{
		what: what, op: "POST /api/Tickets", method: http.MethodPost, path: "/Tickets", body: []newTicket{body},
		area: areaTicketCreate,
	}, &w); err != nil {
		return psa.Ticket{}, err
	}
	if w.ID < 1 {
		return psa.Ticket{}, newError(what, core.KindUnavailable, nil, "Halo created the ticket but did not say its id")
	}
	t := w.ticket()
	if t.Summary == "" {
		t.Summary = summary
	}
	return t, nil
}

// SetTicketContact implements [psa.TicketContactSetter]: POST
// /api/Tickets with the ticket's id, the user and the user's site, after
// reading both records — an id Halo does not have is not sent as an
// update, and a user of another client is refused here rather than
// letting Halo move the ticket to that client. The site is the only
// other field that changes: in Halo a ticket's site is its user's.
func (c *Client) SetTicketContact(ctx context.Context, ticketRef, contactRef string) error {
	t, err := c.getTicket(ctx, ticketRef)
	if err != nil {
		return err
	}
	what := "set the user of ticket " + strconv.Itoa(t.ID)
	u, err := c.getUser(ctx, contactRef)
	if err != nil {
		return c.wrapWhat(what, err)
	}
	if u.ClientID != t.ClientID {
		return newError(what, core.KindInvalid, nil, "Halo user %d is not a user of the ticket's client", u.ID)
	}
	if int(t.UserID) == u.ID {
		return nil
	}
	return c.post(ctx, call{
		what: what, op: "POST /api/Tickets", method: http.MethodPost, path: "/Tickets",
		body: []ticketUser{{ID: t.ID, UserID: u.ID, SiteID: u.siteID()}}, subject: "ticket " + strconv.Itoa(t.ID), area: areaTicketCreate,
	}, nil)
}
