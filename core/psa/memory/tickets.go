package memory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// GetTicket implements [psa.TicketGetter]: the ticket, then its contact.
func (c *Client) GetTicket(ctx context.Context, ref string) (psa.Ticket, error) {
	t, err := c.GetTicketOnly(ctx, ref)
	if err != nil || t.ContactRef == "" {
		return t, err
	}
	ct, err := c.GetContact(ctx, t.ContactRef)
	if err != nil {
		return psa.Ticket{}, fmt.Errorf("memory: get ticket %s: %w", ref, err)
	}
	t.Contact = &ct
	return t, nil
}

// GetTicketOnly implements [psa.TicketOnlyGetter]: one call, no contact.
func (c *Client) GetTicketOnly(ctx context.Context, ref string) (psa.Ticket, error) {
	var w wireTicket
	if _, err := c.get(ctx, "GET /tickets/{id}", "tickets/"+url.PathEscape(ref), nil, &w); err != nil {
		return psa.Ticket{}, fmt.Errorf("memory: get ticket %s: %w", ref, err)
	}
	t := psa.Ticket{
		Ref: w.ID, Number: w.Number, Summary: w.Summary,
		CompanyRef: w.CompanyID, ContactRef: w.ContactID, Status: w.Status,
	}
	if t.Number == "" {
		t.Number = t.Ref
	}
	return t, nil
}

// AddTicketNote implements [psa.TicketNoter].
func (c *Client) AddTicketNote(ctx context.Context, ticketRef string, n psa.Note) error {
	w := wireNote{Text: n.Text, Visibility: "internal"}
	if n.Public {
		w.Visibility = "public"
	}
	if err := c.post(ctx, "POST /tickets/{id}/notes", "tickets/"+url.PathEscape(ticketRef)+"/notes", w, nil); err != nil {
		if refused := refusal("add note to ticket "+ticketRef, err); refused != nil {
			return refused
		}
		return fmt.Errorf("memory: add note to ticket %s: %w", ticketRef, err)
	}
	return nil
}

// refusal is a 404 or 4xx refusal of the PSA as a *psa.Error with the
// PSA's own words ({"error": "no such ticket"}), which the technician
// reads beside a note that could not be written; nil for other errors.
func refusal(what string, err error) error {
	var he *psa.HTTPError
	if !errors.As(err, &he) || (he.Status != http.StatusNotFound && he.Status != http.StatusUnprocessableEntity && he.Status != http.StatusBadRequest) {
		return nil
	}
	var w wireError
	if json.Unmarshal([]byte(he.Body), &w) != nil || strings.TrimSpace(w.Error) == "" {
		return nil
	}
	return psa.NewError("memory", what, core.ErrorKind(err), err, "%s", strings.TrimSpace(w.Error))
}

// CreateTicket implements [psa.TicketCreator].
func (c *Client) CreateTicket(ctx context.Context, t psa.NewTicket) (psa.Ticket, error) {
	var w wireTicket
	in := wireNewTicket{Summary: t.Summary, Description: t.Description, CompanyID: t.CompanyRef, ContactID: t.ContactRef}
	if err := c.post(ctx, "POST /tickets", "tickets", in, &w); err != nil {
		return psa.Ticket{}, fmt.Errorf("memory: create ticket: %w", err)
	}
	if w.ID == "" {
		return psa.Ticket{}, fmt.Errorf("memory: create ticket: answer has no id: %w", core.ErrUnavailable)
	}
	out := psa.Ticket{Ref: w.ID, Number: w.Number, Summary: w.Summary, CompanyRef: w.CompanyID, ContactRef: w.ContactID, Status: w.Status}
	if out.Number == "" {
		out.Number = out.Ref
	}
	return out, nil
}

// SetTicketContact implements [psa.TicketContactSetter].
func (c *Client) SetTicketContact(ctx context.Context, ticketRef, contactRef string) error {
	if err := c.patch(ctx, "PATCH /tickets/{id}", "tickets/"+url.PathEscape(ticketRef), wireTicketPatch{ContactID: contactRef}); err != nil {
		return fmt.Errorf("memory: set the contact of ticket %s: %w", ticketRef, err)
	}
	return nil
}
