package superops

import (
	"context"
	"html"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

const ticketFields = `ticketId displayId subject status client requester`

// ticket is the part of SuperOps' Ticket we use. requester is a JSON
// scalar holding {userId, name} only.
type ticket struct {
	TicketID  FlexID `json:"ticketId"`
	DisplayID string `json:"displayId"`
	Subject   string `json:"subject"`
	Status    string `json:"status"`
	Client    *struct {
		AccountID FlexID `json:"accountId"`
	} `json:"client"`
	Requester *struct {
		UserID FlexID `json:"userId"`
	} `json:"requester"`
}

func (t ticket) psa() psa.Ticket {
	out := psa.Ticket{Ref: string(t.TicketID), Number: strings.TrimSpace(t.DisplayID), Summary: strings.TrimSpace(t.Subject), Status: t.Status}
	if out.Number == "" {
		out.Number = out.Ref
	}
	if t.Client != nil {
		out.CompanyRef = string(t.Client.AccountID)
	}
	if t.Requester != nil {
		out.ContactRef = string(t.Requester.UserID)
	}
	return out
}

// GetTicketOnly reads the ticket with getTicket by its internal id, without
// its requester: one call.
func (c *Client) GetTicketOnly(ctx context.Context, ref string) (psa.Ticket, error) {
	if !validID(ref) {
		return psa.Ticket{}, core.Errorf(core.KindInvalid, "superops: %q is not a SuperOps ticket id (the internal id, not the display id)", ref)
	}
	var t ticket
	if err := c.do(ctx, gql{
		what: "get ticket " + ref, name: "getTicket", subject: "ticket " + ref, input: map[string]any{"ticketId": ref},
		query: `query getTicket($input: TicketIdentifierInput!) { getTicket(input: $input) { ` + ticketFields + ` } }`,
	}, &t); err != nil {
		return psa.Ticket{}, err
	}
	return t.psa(), nil
}

// GetTicket reads the ticket and its requester: two calls.
func (c *Client) GetTicket(ctx context.Context, ref string) (psa.Ticket, error) {
	t, err := c.GetTicketOnly(ctx, ref)
	if err != nil {
		return psa.Ticket{}, err
	}
	return c.withContact(ctx, t)
}

func (c *Client) withContact(ctx context.Context, t psa.Ticket) (psa.Ticket, error) {
	if t.ContactRef == "" {
		return t, nil
	}
	ct, err := c.GetContact(ctx, t.ContactRef)
	if err != nil {
		return psa.Ticket{}, err
	}
	t.Contact = &ct
	return t, nil
}

// FindTicketByNumber returns the ticket with the display id technicians
// see ("062822-0005") and its requester, or core.ErrNotFound: getTicketList
// with displayId "is", then getClientUser.
func (c *Client) FindTicketByNumber(ctx context.Context, number string) (psa.Ticket, error) {
	number = strings.TrimSpace(number)
	if number == "" || len(number) > 64 {
		return psa.Ticket{}, core.Errorf(core.KindInvalid, "superops: %q is not a ticket number", number)
	}
	var res struct {
		Tickets []ticket `json:"tickets"`
	}
	if err := c.do(ctx, gql{
		what: "find ticket " + number, name: "getTicketList",
		input: map[string]any{"page": 1, "pageSize": 10, "condition": condition{Attribute: "displayId", Operator: "is", Value: number}},
		query: `query getTicketList($input: ListInfoInput!) { getTicketList(input: $input) { tickets { ` + ticketFields + ` } ` + listInfoFields + ` } }`,
	}, &res); err != nil {
		return psa.Ticket{}, err
	}
	for _, t := range res.Tickets {
		if strings.EqualFold(strings.TrimSpace(t.DisplayID), number) && t.TicketID != "" {
			return c.withContact(ctx, t.psa())
		}
	}
	return psa.Ticket{}, newError("find ticket "+number, core.KindNotFound, nil, "SuperOps has no ticket "+number)
}

// AddTicketNote adds n with createTicketNote, PRIVATE unless n.Public, the
// text escaped into a paragraph (the content is HTML). addedBy is never
// sent: the token's user is the author, and the note names the
// technician.
func (c *Client) AddTicketNote(ctx context.Context, ticketRef string, n psa.Note) error {
	if !validID(ticketRef) {
		return core.Errorf(core.KindInvalid, "superops: %q is not a SuperOps ticket id", ticketRef)
	}
	if strings.TrimSpace(n.Text) == "" {
		return core.Errorf(core.KindInvalid, "superops: a note needs text")
	}
	privacy := "PRIVATE"
	if n.Public {
		privacy = "PUBLIC"
	}
	content := "<p>" + strings.ReplaceAll(html.EscapeString(n.Text), "\n", "<br>") + "</p>"
	return c.do(ctx, gql{
		what: "add a note to ticket " + ticketRef, name: "createTicketNote", mutation: true, subject: "ticket " + ticketRef,
		input: map[string]any{"ticket": map[string]any{"ticketId": ticketRef}, "content": content, "privacyType": privacy},
		query: `mutation createTicketNote($input: CreateTicketNoteInput!) { createTicketNote(input: $input) { noteId privacyType } }`,
	}, nil)
}

// TicketURL returns the ticket's address in SuperOps from the
// integration's ticket URL setting, or "".
func (c *Client) TicketURL(t psa.Ticket) string { return psa.TicketURL(c.cfg.TicketURL, t) }

// ContactTickets lists the requester's open tickets, newest first, with
// getTicketList on requester.email and the closed statuses excluded (the
// requester field of a ticket holds no id to filter by).
func (c *Client) ContactTickets(ctx context.Context, ct psa.Contact, limit int) ([]psa.Ticket, error) {
	if len(ct.Emails) == 0 {
		return []psa.Ticket{}, nil
	}
	limit = min(max(limit, 1), maxPageSize)
	cond := map[string]any{"joinOperator": "AND", "operands": []any{
		condition{Attribute: "requester.email", Operator: "is", Value: strings.ToLower(ct.Emails[0].Address)},
		condition{Attribute: "status", Operator: "notIncludes", Value: c.cfg.closedStatuses()},
	}}
	var res struct {
		Tickets []ticket `json:"tickets"`
	}
	if err := c.do(ctx, gql{
		what: "list tickets of requester " + ct.Ref, name: "getTicketList",
		input: map[string]any{"page": 1, "pageSize": limit, "condition": cond,
			"sort": []any{map[string]any{"attribute": "createdTime", "order": "DESC"}}},
		query: `query getTicketList($input: ListInfoInput!) { getTicketList(input: $input) { tickets { ` + ticketFields + ` } ` + listInfoFields + ` } }`,
	}, &res); err != nil {
		return nil, err
	}
	out := []psa.Ticket{}
	for _, t := range res.Tickets {
		if t.TicketID != "" && len(out) < limit {
			out = append(out, t.psa())
		}
	}
	return out, nil
}
