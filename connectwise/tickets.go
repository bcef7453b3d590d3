package connectwise

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

type (
	wireTicket struct {
		ID      int      `json:"id"`
		Summary string   `json:"summary"`
		Company *wireRef `json:"company"`
		Contact *wireRef `json:"contact"`
		Status  *wireRef `json:"status"`
	}

	// wireNote is the body of POST /service/tickets/{parentId}/notes.
	// Every display flag is always sent: ConnectWise refuses a note with
	// none of them true ("choose where to display", reference §7.6), and
	// one left out must never default to customer-visible.
	wireNote struct {
		Text                  string `json:"text"`
		DetailDescriptionFlag bool   `json:"detailDescriptionFlag"`
		InternalAnalysisFlag  bool   `json:"internalAnalysisFlag"`
		ResolutionFlag        bool   `json:"resolutionFlag"`
		ProcessNotifications  bool   `json:"processNotifications"`
	}
)

// ticketFields is the partial response we ask for: a ticket has over a
// hundred fields.
const ticketFields = "id,summary,company,contact,status"

// GetTicketOnly implements [psa.TicketOnlyGetter]: GET
// /service/tickets/{id}, one call, the contact left to the caller's mirror
// (ContactRef set, Contact nil). It is [Client.GetTicket] without the
// contact read.
func (c *Client) GetTicketOnly(ctx context.Context, ref string) (psa.Ticket, error) {
	id, err := parseID("ticket", ref)
	if err != nil {
		return psa.Ticket{}, err
	}
	sid := strconv.Itoa(id)
	var w wireTicket
	if _, err := c.getJSON(ctx, call{
		what: "get ticket " + sid, op: "GET /service/tickets/{id}", method: http.MethodGet,
		path: "/service/tickets/" + sid, query: url.Values{"fields": {ticketFields}},
		subject: "ticket " + sid, area: "reading service tickets (Service Desk › Service Tickets, inquire)",
	}, &w); err != nil {
		return psa.Ticket{}, err
	}
	t := psa.Ticket{Ref: strconv.Itoa(w.ID), Number: strconv.Itoa(w.ID), Summary: w.Summary}
	if w.Company != nil && w.Company.ID != nil {
		t.CompanyRef = strconv.Itoa(*w.Company.ID)
	}
	if w.Status != nil {
		t.Status = w.Status.Name
	}
	if w.Contact != nil && w.Contact.ID != nil && *w.Contact.ID > 0 {
		t.ContactRef = strconv.Itoa(*w.Contact.ID)
	}
	return t, nil
}

// GetTicket implements [psa.TicketGetter]: the ticket, then its contact
// record (two calls). The contact comes from the contact record's
// communication items, never from the ticket's editable copies
// (contactEmailAddress, contactPhoneNumber). A ticket whose contact was
// deleted comes back without a contact.
func (c *Client) GetTicket(ctx context.Context, ref string) (psa.Ticket, error) {
	t, err := c.GetTicketOnly(ctx, ref)
	if err != nil || t.ContactRef == "" {
		return t, err
	}
	ct, err := c.GetContact(ctx, t.ContactRef)
	switch {
	case errors.Is(err, core.ErrNotFound):
		// The ticket points at a deleted contact: for verification
		// that is a ticket without one, not a missing ticket.
		c.log.WarnContext(ctx, "connectwise ticket names a contact that does not exist", "ticket", t.Ref, "contact", t.ContactRef)
		t.ContactRef = ""
	case err != nil:
		return psa.Ticket{}, c.wrapWhat("get ticket "+t.Ref, err)
	default:
		t.Contact = &ct
	}
	return t, nil
}

// AddTicketNote implements [psa.TicketNoter]. The note goes where the
// integration's NoteVisibility says: Internal Analysis by default,
// Discussion (detail description, which the customer sees) or Resolution;
// a note the caller asks to be public (n.Public) goes to Discussion
// whatever the setting. ConnectWise's own e-mail notifications
// (processNotifications) are sent only when NoteEmail is "on". Besides
// 429s, a note is sent again only after the 404 of a codebase ConnectWise
// could not route, which it did not process.
func (c *Client) AddTicketNote(ctx context.Context, ticketRef string, n psa.Note) error {
	id, err := parseID("ticket", ticketRef)
	if err != nil {
		return err
	}
	if strings.TrimSpace(n.Text) == "" {
		return core.Errorf(core.KindInvalid, "a ticket note needs text")
	}
	sid := strconv.Itoa(id)
	resp, err := c.send(ctx, call{
		what: "add note to ticket " + sid, op: "POST /service/tickets/{parentId}/notes", method: http.MethodPost,
		path:    "/service/tickets/" + sid + "/notes",
		body:    c.noteBody(n),
		subject: "ticket " + sid, area: "adding ticket notes (Service Desk › Service Tickets, add and edit)",
	})
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return nil
}

// SetTicketContact implements [psa.TicketContactSetter]: PATCH
// /service/tickets/{id} replacing the whole contact reference (reference
// §7.8: a reference is replaced as an object, never by its id path, and
// PUT would reset the fields it leaves out). It is idempotent, so retried
// like a read.
func (c *Client) SetTicketContact(ctx context.Context, ticketRef, contactRef string) error {
	id, err := parseID("ticket", ticketRef)
	if err != nil {
		return err
	}
	cid, err := parseID("contact", contactRef)
	if err != nil {
		return err
	}
	sid := strconv.Itoa(id)
	resp, err := c.send(ctx, call{
		what: "set the contact of ticket " + sid, op: "PATCH /service/tickets/{id}", method: http.MethodPatch,
		path: "/service/tickets/" + sid, body: []patchOp{{Op: "replace", Path: "contact", Value: idRef{ID: cid}}},
		subject: "ticket " + sid, area: "editing service tickets (Service Desk › Service Tickets, edit)",
	})
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return nil
}

// noteBody is the ServiceNote for n under the integration's note settings.
// Exactly one display flag is true: ConnectWise refuses a note with none.
func (c *Client) noteBody(n psa.Note) wireNote {
	w := wireNote{Text: n.Text, ProcessNotifications: c.cfg.NoteEmail == "on"}
	switch {
	case n.Public || c.cfg.NoteVisibility == NoteDiscussion:
		w.DetailDescriptionFlag = true
	case c.cfg.NoteVisibility == NoteResolution:
		w.ResolutionFlag = true
	default:
		w.InternalAnalysisFlag = true
	}
	return w
}

// newTicket is the body of POST /service/tickets: the Ticket model's
// required summary and company, the contact, and the user's words as the
// ticket's first description entry (initialDescription). No board is
// named: ConnectWise files the ticket on the company's default board.
type newTicket struct {
	Summary            string `json:"summary"`
	Company            idRef  `json:"company"`
	Contact            *idRef `json:"contact,omitempty"`
	InitialDescription string `json:"initialDescription,omitempty"`
}

// maxSummary is ConnectWise's limit on a ticket summary (Ticket.summary,
// 100 characters).
const maxSummary = 100

// CreateTicket implements [psa.TicketCreator]: POST /service/tickets. Like
// notes, it is sent again only after a 429 or the 404 of a codebase
// ConnectWise could not route, which it did not process.
func (c *Client) CreateTicket(ctx context.Context, in psa.NewTicket) (psa.Ticket, error) {
	const what = "create ticket"
	summary := strings.TrimSpace(in.Summary)
	if summary == "" {
		return psa.Ticket{}, core.Errorf(core.KindInvalid, "a ConnectWise ticket needs a summary")
	}
	if r := []rune(summary); len(r) > maxSummary {
		summary = string(r[:maxSummary])
	}
	company, err := parseID("company", in.CompanyRef)
	if err != nil {
		return psa.Ticket{}, err
	}
	body := newTicket{Summary: summary, Company: idRef{ID: company}, InitialDescription: strings.TrimSpace(in.Description)}
	if in.ContactRef != "" {
		id, err := parseID("contact", in.ContactRef)
		if err != nil {
			return psa.Ticket{}, err
		}
		body.Contact = &idRef{ID: id}
	}
	var w wireTicket
	if _, err := c.getJSON(ctx, call{
		what: what, op: "POST /service/tickets", method: http.MethodPost, path: "/service/tickets", body: body,
		area: "adding service tickets (Service Desk › Service Tickets, add)",
	}, &w); err != nil {
		return psa.Ticket{}, err
	}
	if w.ID == 0 {
		return psa.Ticket{}, newError(what, core.KindUnavailable, nil, "ConnectWise created the ticket but did not say its id")
	}
	t := psa.Ticket{Ref: strconv.Itoa(w.ID), Number: strconv.Itoa(w.ID), Summary: w.Summary}
	if w.Company != nil && w.Company.ID != nil {
		t.CompanyRef = strconv.Itoa(*w.Company.ID)
	}
	if w.Status != nil {
		t.Status = w.Status.Name
	}
	if w.Contact != nil && w.Contact.ID != nil && *w.Contact.ID > 0 {
		t.ContactRef = strconv.Itoa(*w.Contact.ID)
	}
	return t, nil
}
