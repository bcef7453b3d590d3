package kaseya

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// ticketOutput is the part of BMS's TicketOutputDto we use. ContactPhone
// and ContactEmail are the ticket's free-text copies and are never used as
// destinations: the contact is read from its own record.
type ticketOutput struct {
	ID           int    `json:"id"`
	TicketNumber string `json:"ticketNumber"`
	Title        string `json:"title"`
	AccountID    int    `json:"accountId"`
	ContactID    *int   `json:"contactId"`
	StatusName   string `json:"statusName"`
}

func (t ticketOutput) ticket() psa.Ticket {
	out := psa.Ticket{
		Ref:     strconv.Itoa(t.ID),
		Number:  strings.TrimSpace(t.TicketNumber),
		Summary: strings.TrimSpace(t.Title),
		Status:  t.StatusName,
	}
	if out.Number == "" {
		out.Number = out.Ref
	}
	if t.AccountID > 0 {
		out.CompanyRef = strconv.Itoa(t.AccountID)
	}
	if t.ContactID != nil && *t.ContactID > 0 {
		out.ContactRef = strconv.Itoa(*t.ContactID)
	}
	return out
}

// GetTicketOnly reads the ticket with GET /v2/servicedesk/tickets/{id},
// without its contact: one call.
func (c *Client) GetTicketOnly(ctx context.Context, ref string) (psa.Ticket, error) {
	id, err := parseID("ticket", ref)
	if err != nil {
		return psa.Ticket{}, err
	}
	var t ticketOutput
	if err := c.do(ctx, call{
		what: "get ticket " + ref, op: "GET /v2/servicedesk/tickets/{ticketId}", method: "GET",
		path: "/v2/servicedesk/tickets/" + strconv.Itoa(id), subject: "ticket " + ref,
	}, &t, nil); err != nil {
		return psa.Ticket{}, err
	}
	if t.ID == 0 {
		return psa.Ticket{}, newError("get ticket "+ref, core.KindNotFound, nil, "Kaseya BMS has no ticket %s", ref)
	}
	return t.ticket(), nil
}

// GetTicket reads the ticket and its contact: two calls.
func (c *Client) GetTicket(ctx context.Context, ref string) (psa.Ticket, error) {
	t, err := c.GetTicketOnly(ctx, ref)
	if err != nil {
		return psa.Ticket{}, err
	}
	if t.ContactRef != "" {
		ct, err := c.GetContact(ctx, t.ContactRef)
		if err != nil {
			return psa.Ticket{}, err
		}
		t.Contact = &ct
	}
	return t, nil
}

// FindTicketByNumber returns the ticket a technician knows by its number
// ("T20250101.0001") with its contact, or core.ErrNotFound: GET
// /v2/servicedesk/tickets?Filter.TicketNumber=, whose rows carry the
// contact's id, then the contact (from the client's short cache when it
// was read a moment ago).
func (c *Client) FindTicketByNumber(ctx context.Context, number string) (psa.Ticket, error) {
	number = strings.TrimSpace(number)
	if number == "" || len(number) > 64 {
		return psa.Ticket{}, core.Errorf(core.KindInvalid, "kaseya: %q is not a ticket number", number)
	}
	var rows []ticketOutput
	if err := c.do(ctx, call{
		what: "find ticket " + number, op: "GET /v2/servicedesk/tickets", method: "GET",
		path: "/v2/servicedesk/tickets", query: url.Values{"Filter.TicketNumber": {number}, "PageSize": {"10"}, "PageNumber": {"1"}},
	}, &rows, nil); err != nil {
		return psa.Ticket{}, err
	}
	for _, r := range rows {
		// The filter may match on a part of the number: only an exact
		// match is the ticket.
		if r.ID < 1 || !strings.EqualFold(strings.TrimSpace(r.TicketNumber), number) {
			continue
		}
		t := r.ticket()
		if t.ContactRef != "" {
			ct, err := c.GetContact(ctx, t.ContactRef)
			if err != nil {
				return psa.Ticket{}, err
			}
			t.Contact = &ct
		}
		return t, nil
	}
	return psa.Ticket{}, newError("find ticket "+number, core.KindNotFound, nil, "Kaseya BMS has no ticket %s", number)
}

// noteInput is BMS's TicketNotePostInputDto. StatusId and
// EmailNotification are never sent: a verification note changes no status
// and mails nobody.
type noteInput struct {
	Details    string `json:"Details"`
	IsInternal bool   `json:"IsInternal"`
	NoteDate   string `json:"NoteDate"`
	TypeID     int    `json:"TypeId"`
}

// AddTicketNote adds n with POST /v2/servicedesk/tickets/{id}/notes. BMS
// authors it as the integration's user. A public note (n.Public) is sent
// with IsInternal false; the zero Note is internal.
func (c *Client) AddTicketNote(ctx context.Context, ticketRef string, n psa.Note) error {
	id, err := parseID("ticket", ticketRef)
	if err != nil {
		return err
	}
	if strings.TrimSpace(n.Text) == "" {
		return core.Errorf(core.KindInvalid, "kaseya: a note needs text")
	}
	return c.do(ctx, call{
		what: "add a note to ticket " + ticketRef, op: "POST /v2/servicedesk/tickets/{ticketId}/notes", method: "POST",
		path: "/v2/servicedesk/tickets/" + strconv.Itoa(id) + "/notes", subject: "ticket " + ticketRef,
		body: noteInput{Details: n.Text, IsInternal: !n.Public, NoteDate: c.now().UTC().Format(time.RFC3339), TypeID: c.cfg.noteType()},
	}, nil, nil)
}

// TicketURL returns the ticket's address in BMS from the integration's
// ticket URL setting, or "".
func (c *Client) TicketURL(t psa.Ticket) string { return psa.TicketURL(c.cfg.TicketURL, t) }

// ContactTickets lists the contact's tickets that are not completed, with
// GET /v2/servicedesk/tickets?Filter.ContactId=&Filter.ExcludeCompleted=1.
func (c *Client) ContactTickets(ctx context.Context, ct psa.Contact, limit int) ([]psa.Ticket, error) {
	id, err := parseID("contact", ct.Ref)
	if err != nil {
		return nil, err
	}
	limit = min(max(limit, 1), maxPageSize)
	var rows []ticketOutput
	if err := c.do(ctx, call{
		what: "list tickets of contact " + ct.Ref, op: "GET /v2/servicedesk/tickets", method: "GET", path: "/v2/servicedesk/tickets",
		query: url.Values{"Filter.ContactId": {strconv.Itoa(id)}, "Filter.ExcludeCompleted": {"1"},
			"PageSize": {strconv.Itoa(limit)}, "PageNumber": {"1"}},
	}, &rows, nil); err != nil {
		return nil, err
	}
	out := []psa.Ticket{}
	for _, r := range rows {
		if r.ID > 0 && len(out) < limit {
			out = append(out, r.ticket())
		}
	}
	return out, nil
}

// Choices offers the note types the tenant's note templates use
// ([psa.FieldChooser]): BMS has no list of note types of its own in v2
// (reference, open item 3), but each note template names one.
func (c *Client) Choices(ctx context.Context, field string) (psa.Choices, error) {
	if field != "note_type_id" {
		return psa.Choices{}, core.Errorf(core.KindInvalid, "kaseya: no choices for the setting %q", field)
	}
	var rows []struct {
		Name   string `json:"name"`
		TypeID *int   `json:"typeId"`
	}
	if err := c.do(ctx, call{
		what: "list note templates", op: "GET /v2/servicedesk/templates/notes/lookup", method: "GET",
		path: "/v2/servicedesk/templates/notes/lookup",
	}, &rows, nil); err != nil {
		return psa.Choices{}, err
	}
	names := map[int][]string{}
	var ids []int
	for _, r := range rows {
		if r.TypeID == nil || *r.TypeID < 1 {
			continue
		}
		if _, seen := names[*r.TypeID]; !seen {
			ids = append(ids, *r.TypeID)
		}
		names[*r.TypeID] = append(names[*r.TypeID], strings.TrimSpace(r.Name))
	}
	slices.Sort(ids)
	out := psa.Choices{Options: []psa.Choice{}}
	for _, id := range ids {
		out.Options = append(out.Options, psa.Choice{Value: strconv.Itoa(id), Label: fmt.Sprintf("Note type %d (templates: %s)", id, strings.Join(names[id], ", "))})
	}
	switch len(ids) {
	case 0:
		out.Hint = "No note template names a note type: type the id of the note type verification notes should have, or leave it empty for 1."
	case 1:
		out.Suggested = strconv.Itoa(ids[0])
		out.Hint = "The one note type your note templates use."
	default:
		out.Hint = "The note types your note templates use: pick the one verification notes should have."
	}
	return out, nil
}

// ticketInput is BMS's TicketInputDto with the fields we send: all nine
// it requires, and the contact.
type ticketInput struct {
	Title      string `json:"Title"`
	Details    string `json:"Details"`
	AccountID  int    `json:"AccountId"`
	LocationID int    `json:"LocationId"`
	ContactID  *int   `json:"ContactId,omitempty"`
	StatusID   int    `json:"StatusId"`
	PriorityID int    `json:"PriorityId"`
	TypeID     int    `json:"TypeId"`
	SourceID   int    `json:"SourceId"`
	OpenDate   string `json:"OpenDate"`
}

// CreateTicket implements [psa.TicketCreator]: POST
// /v2/servicedesk/tickets. TicketInputDto requires a location, a status
// and a priority besides the account, so they are read first: the
// account's main location, the priority BMS marks as default (else the
// first), and the first active status in BMS's order (the one a new
// ticket starts in); the type and source are the integration's settings.
// Five calls; the user's words, or the summary when there are none, are
// the ticket's details (required, not empty).
func (c *Client) CreateTicket(ctx context.Context, in psa.NewTicket) (psa.Ticket, error) {
	const what = "create ticket"
	summary := strings.TrimSpace(in.Summary)
	if summary == "" {
		return psa.Ticket{}, core.Errorf(core.KindInvalid, "kaseya: a ticket needs a summary")
	}
	acct, err := parseID("account", in.CompanyRef)
	if err != nil {
		return psa.Ticket{}, err
	}
	body := ticketInput{Title: summary, Details: strings.TrimSpace(in.Description), AccountID: acct,
		TypeID: c.cfg.ticketType(), SourceID: c.cfg.ticketSource(), OpenDate: c.now().UTC().Format(time.RFC3339)}
	if body.Details == "" {
		body.Details = summary
	}
	if in.ContactRef != "" {
		id, err := parseID("contact", in.ContactRef)
		if err != nil {
			return psa.Ticket{}, err
		}
		body.ContactID = &id
	}
	if body.LocationID, err = c.mainLocation(ctx, acct); err != nil {
		return psa.Ticket{}, err
	}
	if body.PriorityID, err = c.defaultPriority(ctx); err != nil {
		return psa.Ticket{}, err
	}
	if body.StatusID, err = c.firstStatus(ctx); err != nil {
		return psa.Ticket{}, err
	}
	var t ticketOutput
	if err := c.do(ctx, call{
		what: what, op: "POST /v2/servicedesk/tickets", method: "POST", path: "/v2/servicedesk/tickets", body: body,
	}, &t, nil); err != nil {
		return psa.Ticket{}, err
	}
	if t.ID < 1 {
		return psa.Ticket{}, newError(what, core.KindUnavailable, nil, "Kaseya BMS created the ticket but sent no id")
	}
	return t.ticket(), nil
}

// defaultPriority returns the id of the priority BMS marks as default,
// else the first one (GET /v2/system/priorities/lookup).
func (c *Client) defaultPriority(ctx context.Context) (int, error) {
	var rows []struct {
		ID        int  `json:"id"`
		IsDefault bool `json:"isDefault"`
	}
	if err := c.do(ctx, call{what: "list ticket priorities", op: "GET /v2/system/priorities/lookup", method: "GET",
		path: "/v2/system/priorities/lookup"}, &rows, nil); err != nil {
		return 0, err
	}
	first := 0
	for _, r := range rows {
		if r.ID < 1 {
			continue
		}
		if r.IsDefault {
			return r.ID, nil
		}
		if first == 0 {
			first = r.ID
		}
	}
	if first == 0 {
		return 0, newError("create ticket", core.KindInvalid, nil, "Kaseya BMS has no ticket priorities: add one under Admin › Service Desk")
	}
	return first, nil
}

// firstStatus returns the id of the active ticket status that comes first
// in BMS's order (GET /v2/system/statuses/lookup): where a new ticket
// starts.
func (c *Client) firstStatus(ctx context.Context) (int, error) {
	var rows []struct {
		ID          int  `json:"id"`
		StatusOrder int  `json:"statusOrder"`
		IsActive    bool `json:"isActive"`
	}
	if err := c.do(ctx, call{what: "list ticket statuses", op: "GET /v2/system/statuses/lookup", method: "GET",
		path: "/v2/system/statuses/lookup"}, &rows, nil); err != nil {
		return 0, err
	}
	best, order := 0, 0
	for _, r := range rows {
		if r.ID > 0 && r.IsActive && (best == 0 || r.StatusOrder < order) {
			best, order = r.ID, r.StatusOrder
		}
	}
	if best == 0 {
		return 0, newError("create ticket", core.KindInvalid, nil, "Kaseya BMS has no active ticket status: add one under Admin › Service Desk")
	}
	return best, nil
}

// patchOp is one JSON-Patch operation (the document's Operation).
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// SetTicketContact implements [psa.TicketContactSetter]: PATCH
// /v2/servicedesk/tickets/{ticketId} with one JSON-Patch replace of
// /ContactId, which changes nothing else (PUT would need the whole
// TicketInputDto).
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
	var t ticketOutput
	return c.do(ctx, call{
		what: "set the contact of ticket " + sid, op: "PATCH /v2/servicedesk/tickets/{ticketId}", method: "PATCH",
		path: "/v2/servicedesk/tickets/" + sid, body: []patchOp{{Op: "replace", Path: "/ContactId", Value: cid}},
		subject: "ticket " + sid,
	}, &t, nil)
}
