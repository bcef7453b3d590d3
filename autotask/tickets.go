package autotask

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// wireTicket is a Tickets record on the wire, the fields we read.
type wireTicket struct {
	ID           int64  `json:"id"`
	TicketNumber string `json:"ticketNumber"`
	Title        string `json:"title"`
	CompanyID    int64  `json:"companyID"`
	ContactID    *int64 `json:"contactID"`
	Status       *int   `json:"status"`
}

// wireNote is the body of POST V1.0/Tickets/{parentId}/Notes. Title is
// always sent (a ticket category can make it mandatory); description is
// plain text, which is all the API can write.
type wireNote struct {
	TicketID    int64  `json:"ticketID"`
	Title       string `json:"title"`
	Description string `json:"description"`
	NoteType    int    `json:"noteType"`
	Publish     int    `json:"publish"`
}

const ticketsArea = "reading tickets (Service Desk: view tickets)"

// GetTicketOnly implements [psa.TicketOnlyGetter]: one call.
func (c *Client) GetTicketOnly(ctx context.Context, ref string) (psa.Ticket, error) {
	id, err := parseID("ticket", ref)
	if err != nil {
		return psa.Ticket{}, err
	}
	w, err := getItem[wireTicket](ctx, c, "get ticket "+ref, "Tickets", "ticket "+ref, ticketsArea, id)
	if err != nil {
		return psa.Ticket{}, err
	}
	t := psa.Ticket{Ref: idRef(w.ID), Number: w.TicketNumber, Summary: w.Title}
	if t.Number == "" {
		t.Number = t.Ref
	}
	if w.CompanyID > 0 {
		t.CompanyRef = idRef(w.CompanyID)
	}
	if w.ContactID != nil && *w.ContactID > 0 {
		t.ContactRef = idRef(*w.ContactID)
	}
	if w.Status != nil {
		t.Status = strconv.Itoa(*w.Status)
	}
	return t, nil
}

// GetTicket implements [psa.TicketGetter]: the ticket, then its contact
// record (two calls). A ticket whose contact was deleted comes back without
// a contact.
func (c *Client) GetTicket(ctx context.Context, ref string) (psa.Ticket, error) {
	t, err := c.GetTicketOnly(ctx, ref)
	if err != nil || t.ContactRef == "" {
		return t, err
	}
	ct, err := c.GetContact(ctx, t.ContactRef)
	switch {
	case errors.Is(err, core.ErrNotFound):
		c.log.WarnContext(ctx, "autotask ticket names a contact that does not exist", "ticket", ref, "contact", t.ContactRef)
		t.ContactRef = ""
	case err != nil:
		return psa.Ticket{}, wrapWhat("get ticket "+ref, err)
	default:
		t.Contact = &ct
	}
	return t, nil
}

// maxTitle is the length of a ticket note's title in Autotask.
const maxTitle = 250

// AddTicketNote implements [psa.TicketNoter] with POST
// V1.0/Tickets/{id}/Notes: a title (the note's first line), the text as a
// plain-text description, the note type picked at setup, and the publish
// value picked at setup for internal notes (or the one labelled "All" for
// a public note). A client made by [Client.AsResource] writes as that
// resource, and as the API user when Autotask refuses the impersonation.
// Besides 429s, the note is sent again only after a refused impersonation
// or a 401 from a zone the database left, neither of which Autotask
// processed. When a POST fails without a clear answer (no response, a 5xx),
// the next call for the same ticket and text first looks for the note
// (one query), so that the outbox's retry never writes it twice. When a POST fails without a clear answer (no response, a 5xx),
// the next call for the same ticket and text first looks for the note
// (one query), so that the outbox's retry never writes it twice.
func (c *Client) AddTicketNote(ctx context.Context, ticketRef string, n psa.Note) error {
	id, err := parseID("ticket", ticketRef)
	if err != nil {
		return err
	}
	text := strings.TrimSpace(n.Text)
	if text == "" {
		return core.Errorf(core.KindInvalid, "a ticket note needs text")
	}
	what := "add note to ticket " + ticketRef
	noteType, publish, err := c.noteChoices(ctx, n.Public)
	if err != nil {
		return wrapWhat(what, err)
	}
	key := ticketRef + "\x00" + text
	if c.wasAmbiguous(key) {
		// The last attempt failed in a way that may have written the note
		// (no answer, a 5xx): look before writing it again.
		exists, err := c.noteExists(ctx, id, text)
		if err != nil {
			return wrapWhat(what, err)
		}
		if exists {
			c.log.InfoContext(ctx, "autotask note was written by an attempt that got no answer; not writing it twice", "ticket", ticketRef)
			c.setAmbiguous(key, false)
			return nil
		}
	}
	title, _, _ := strings.Cut(text, "\n")
	title = core.FitRunes(strings.TrimSpace(title), maxTitle, core.Ellipsis)
	err = c.do(ctx, call{what: what, op: "POST /V1.0/Tickets/{parentId}/Notes", method: http.MethodPost,
		path:    "V1.0/Tickets/" + idRef(id) + "/Notes",
		body:    jsonBody(wireNote{TicketID: id, Title: title, Description: text, NoteType: noteType, Publish: publish}),
		subject: "ticket " + ticketRef, area: "adding ticket notes (Service Desk: add notes)", impersonate: true}, nil)
	c.setAmbiguous(key, err != nil && core.ErrorKind(err) == core.KindUnavailable)
	return err
}

// maxAmbiguous bounds the notes remembered as maybe written.
const maxAmbiguous = 1000

func (c *Client) wasAmbiguous(key string) bool {
	c.st.mu.Lock()
	defer c.st.mu.Unlock()
	return c.st.ambiguous[key]
}

func (c *Client) setAmbiguous(key string, on bool) {
	c.st.mu.Lock()
	defer c.st.mu.Unlock()
	if !on {
		delete(c.st.ambiguous, key)
		return
	}
	if c.st.ambiguous == nil || len(c.st.ambiguous) >= maxAmbiguous {
		c.st.ambiguous = map[string]bool{}
	}
	c.st.ambiguous[key] = true
}

// noteExists reports whether ticket id has a note whose description is
// text (one query).
func (c *Client) noteExists(ctx context.Context, id int64, text string) (bool, error) {
	type wireNoteText struct {
		ID          int64  `json:"id"`
		Description string `json:"description"`
	}
	ws, _, err := queryPage[wireNoteText](ctx, c, "look for the note", "TicketNotes", "reading ticket notes (Service Desk: view notes)",
		queryModel{MaxRecords: 50, IncludeFields: []string{"id", "description"}, Filter: []filter{eq("ticketID", id), eq("description", text)}})
	if err != nil {
		return false, err
	}
	for _, w := range ws {
		if strings.TrimSpace(w.Description) == text {
			return true, nil
		}
	}
	return false, nil
}
