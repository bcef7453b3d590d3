package autotask

import (
	"context"
	"net/http"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// newTicket is the body of POST V1.0/Tickets: the fields Autotask requires
// (companyID, title, status, priority; a queueID, or an assigned resource
// with a role), the caller and their words.
type newTicket struct {
	CompanyID   int64  `json:"companyID"`
	ContactID   int64  `json:"contactID,omitempty"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	Status      int    `json:"status"`
	Priority    int    `json:"priority"`
	QueueID     int    `json:"queueID"`
}

// ticketContact is the body of PATCH V1.0/Tickets that sets a ticket's
// contact: PATCH is a sparse update of the fields sent (PUT would replace
// the whole ticket).
type ticketContact struct {
	ID        int64 `json:"id"`
	ContactID int64 `json:"contactID"`
}

// Lengths of the Tickets fields we write (entity field definitions).
const (
	maxTicketTitle       = 255
	maxTicketDescription = 8000
)

const ticketsWriteArea = "adding and editing tickets (Service Desk: add tickets, edit tickets)"

// CreateTicket implements [psa.TicketCreator] with POST V1.0/Tickets. The
// status, priority and queue are picklist values of the tenant's, read
// from the Tickets entity information (cached for a day): the status and
// priority Autotask marks as default (else "New" and "Medium", else the
// first), the queue picked at setup (else the default queue, else the
// first). A field the tenant makes mandatory that Countersign does not
// fill is an error of kind core.ErrInvalid naming it, before anything is
// written; so is a refusal Autotask explains (it answers them as HTTP
// 500). The new ticket is then read back for its number: two calls,
// three on a cold cache. A client made by [Client.AsResource] creates as
// that resource. When a POST fails without a clear answer (none, a 5xx),
// the next call for the same ticket first looks for it (one query), as
// AddTicketNote does, so that the outbox's retry never creates it twice.
func (c *Client) CreateTicket(ctx context.Context, in psa.NewTicket) (psa.Ticket, error) {
	const what = "create ticket"
	summary := strings.Join(strings.Fields(in.Summary), " ")
	if summary == "" {
		return psa.Ticket{}, core.Errorf(core.KindInvalid, "autotask: a ticket needs a summary")
	}
	companyID, err := parseID("company", in.CompanyRef)
	if err != nil {
		return psa.Ticket{}, err
	}
	body := newTicket{CompanyID: companyID, Title: core.FitRunes(summary, maxTicketTitle, core.Ellipsis),
		Description: core.FitRunes(strings.TrimSpace(in.Description), maxTicketDescription, core.Ellipsis)}
	if in.ContactRef != "" {
		if body.ContactID, err = parseID("contact", in.ContactRef); err != nil {
			return psa.Ticket{}, err
		}
	}
	if body.Status, err = c.pickValue(ctx, "Tickets", "status", "", "New", "ticket status"); err != nil {
		return psa.Ticket{}, wrapWhat(what, err)
	}
	if body.Priority, err = c.pickValue(ctx, "Tickets", "priority", "", "Medium", "ticket priority"); err != nil {
		return psa.Ticket{}, wrapWhat(what, err)
	}
	if body.QueueID, err = c.pickValue(ctx, "Tickets", "queueID", c.cfg.TicketQueue, "", "ticket queue"); err != nil {
		return psa.Ticket{}, wrapWhat(what, err)
	}
	fields, err := c.entityFields(ctx, "Tickets", false)
	if err != nil {
		return psa.Ticket{}, wrapWhat(what, err)
	}
	set := map[string]bool{"companyid": true, "title": true, "status": true, "priority": true, "queueid": true,
		"description": body.Description != "", "contactid": body.ContactID != 0}
	if err := requireSet(fields, set, "tickets", "create the ticket in Autotask"); err != nil {
		return psa.Ticket{}, err
	}
	key := "ticket\x00" + idRef(companyID) + "\x00" + idRef(body.ContactID) + "\x00" + body.Title + "\x00" + body.Description
	if c.wasAmbiguous(key) {
		// The last attempt failed in a way that may have created the
		// ticket (no answer, a 5xx): look before creating it again.
		found, err := c.findCreatedTicket(ctx, body)
		if err != nil {
			return psa.Ticket{}, wrapWhat(what, err)
		}
		if found != 0 {
			c.log.InfoContext(ctx, "autotask ticket was created by an attempt that got no answer; not creating it twice", "ticket", found)
			c.setAmbiguous(key, false)
			return c.GetTicketOnly(ctx, idRef(found))
		}
	}
	var cr created
	err = c.do(ctx, call{what: what, op: "POST /V1.0/Tickets", method: http.MethodPost, path: "V1.0/Tickets",
		body: jsonBody(body), area: ticketsWriteArea, impersonate: true}, &cr)
	c.setAmbiguous(key, err != nil && core.ErrorKind(err) == core.KindUnavailable)
	if err != nil {
		return psa.Ticket{}, err
	}
	if cr.ItemID <= 0 {
		return psa.Ticket{}, newError(what, core.KindUnavailable, nil, "Autotask created the ticket but did not say its id")
	}
	t, err := c.GetTicketOnly(ctx, idRef(cr.ItemID))
	if err != nil {
		// The ticket exists: say so rather than have it created again.
		c.log.WarnContext(ctx, "autotask created a ticket it then could not read", "ticket", cr.ItemID, "err", err)
		return psa.Ticket{Ref: idRef(cr.ItemID), Number: idRef(cr.ItemID), Summary: body.Title, CompanyRef: in.CompanyRef,
			ContactRef: in.ContactRef}, nil
	}
	return t, nil
}

// findCreatedTicket returns the id of the newest ticket of the company
// with body's title, contact and description, 0 for none (one query).
func (c *Client) findCreatedTicket(ctx context.Context, body newTicket) (int64, error) {
	type wireTicketText struct {
		ID          int64  `json:"id"`
		ContactID   *int64 `json:"contactID"`
		Description string `json:"description"`
	}
	ws, _, err := queryPage[wireTicketText](ctx, c, "look for the ticket", "Tickets", ticketsArea,
		queryModel{MaxRecords: 50, IncludeFields: []string{"id", "contactID", "description"},
			Filter: []filter{eq("companyID", body.CompanyID), eq("title", body.Title)}})
	if err != nil {
		return 0, err
	}
	var found int64
	for _, w := range ws {
		contact := int64(0)
		if w.ContactID != nil {
			contact = *w.ContactID
		}
		if contact == body.ContactID && strings.TrimSpace(w.Description) == body.Description {
			found = max(found, w.ID)
		}
	}
	return found, nil
}

// requireSet fails, naming the field, when entity information marks a
// writable field required that set does not say is filled.
func requireSet(fields []FieldInfo, set map[string]bool, records, instead string) error {
	for _, f := range fields {
		n := strings.ToLower(f.Name)
		if f.IsRequired && !f.IsReadOnly && n != "id" && !set[n] {
			return core.Errorf(core.KindInvalid,
				"this Autotask database requires %s to have %q, which Countersign does not fill in: %s", records, f.Name, instead)
		}
	}
	return nil
}

// SetTicketContact implements [psa.TicketContactSetter] with PATCH
// V1.0/Tickets carrying only the id and contactID. Autotask accepts only
// an active contact of the ticket's company, and says so in words that do
// not tell a missing contact from another company's, so the ticket and
// the contact are read first: a missing one is core.ErrNotFound, a
// contact of another company or an inactive one core.ErrInvalid. Three
// calls.
func (c *Client) SetTicketContact(ctx context.Context, ticketRef, contactRef string) error {
	id, err := parseID("ticket", ticketRef)
	if err != nil {
		return err
	}
	cid, err := parseID("contact", contactRef)
	if err != nil {
		return err
	}
	what := "set the contact of ticket " + idRef(id)
	t, err := c.GetTicketOnly(ctx, idRef(id))
	if err != nil {
		return wrapWhat(what, err)
	}
	w, err := getItem[wireContact](ctx, c, "get contact "+idRef(cid), "Contacts", "contact "+idRef(cid), contactsArea, cid)
	if err != nil {
		return wrapWhat(what, err)
	}
	switch {
	case idRef(w.CompanyID) != t.CompanyRef:
		return newError(what, core.KindInvalid, nil, "contact %d is not a contact of the ticket's company in Autotask", cid)
	case !w.active():
		return newError(what, core.KindInvalid, nil, "contact %d is inactive in Autotask", cid)
	}
	if t.ContactRef == idRef(cid) {
		return nil
	}
	return c.do(ctx, call{what: what, op: "PATCH /V1.0/Tickets", method: http.MethodPatch, path: "V1.0/Tickets",
		body: jsonBody(ticketContact{ID: id, ContactID: cid}), subject: "ticket " + idRef(id), area: ticketsWriteArea, impersonate: true}, nil)
}
