package connectwise

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// Contact writes of SMS opt-in forms (issue 18 item 4): a note on the
// contact (POST /company/contacts/{parentId}/notes, model ContactNote) and
// a corrected mobile number, written to the contact's communication item
// (PUT …/communications/{id} replaces the item as a whole, POST
// …/communications adds one; model ContactCommunication, whose type and
// value are required).

// newContactNote is the body of POST /company/contacts/{parentId}/notes.
type newContactNote struct {
	Text    string `json:"text"`
	Flagged bool   `json:"flagged"`
}

// contactComm is the body of the communications calls.
type contactComm struct {
	Type        idRef  `json:"type"`
	Value       string `json:"value"`
	Extension   string `json:"extension,omitempty"`
	DefaultFlag bool   `json:"defaultFlag"`
}

// AddContactNote implements [psa.ContactNoter].
func (c *Client) AddContactNote(ctx context.Context, contactRef, text string) error {
	id, err := parseID("contact", contactRef)
	if err != nil {
		return err
	}
	_, err = c.getJSON(ctx, call{
		what: "add note to contact " + strconv.Itoa(id), op: "POST /company/contacts/{parentId}/notes", method: http.MethodPost,
		path: "/company/contacts/" + strconv.Itoa(id) + "/notes", body: newContactNote{Text: text},
		subject: "contact " + strconv.Itoa(id), area: "adding contact notes (Companies › Contacts, edit)",
	}, &struct{}{})
	return err
}

// SetContactPhone implements [psa.ContactPhoneSetter]. ConnectWise stores
// numbers as typed, so the item to replace is the phone item that reads
// as the same E.164 number as ch.Old in the config's phone region; the new
// number is written in E.164 with no extension, under the item's own type.
// A contact without such an item gets a new one under the type whose name
// contains ch.Label ("Mobile"), else the default phone type.
func (c *Client) SetContactPhone(ctx context.Context, contactRef string, ch psa.PhoneChange) error {
	const what = "change contact phone"
	id, err := parseID("contact", contactRef)
	if err != nil {
		return err
	}
	var w wireContact
	if _, err := c.getJSON(ctx, call{
		what: "get contact " + strconv.Itoa(id), op: "GET /company/contacts/{id}", method: http.MethodGet,
		path: "/company/contacts/" + strconv.Itoa(id), query: map[string][]string{"fields": {contactFields}},
		subject: "contact " + strconv.Itoa(id), area: "reading contacts (Companies › Contacts, inquire)",
	}, &w); err != nil {
		return err
	}
	e164Of := func(it wireCommItem) string {
		n := it.Value
		if x := strings.TrimSpace(it.Extension); x != "" {
			n += " x" + x
		}
		v, err := core.NormalizePhone(n, c.region)
		if err != nil {
			return ""
		}
		return v
	}
	oldE164 := ""
	if ch.Old != "" {
		oldE164, _ = core.NormalizePhone(ch.Old, c.region)
	}
	var target *wireCommItem
	for i := range w.CommunicationItems {
		it := &w.CommunicationItems[i]
		if it.CommunicationType != nil && !strings.EqualFold(*it.CommunicationType, kindPhone) {
			continue
		}
		switch v := e164Of(*it); {
		case v == ch.New:
			return nil // already there
		case target == nil && v != "" && v == oldE164 && it.ID != nil && it.Type != nil && it.Type.ID != nil:
			target = it
		}
	}
	sub := "/company/contacts/" + strconv.Itoa(id) + "/communications"
	if target != nil {
		_, err := c.getJSON(ctx, call{
			what: what + " " + strconv.Itoa(id), op: "PUT /company/contacts/{parentId}/communications/{id}", method: http.MethodPut,
			path:    sub + "/" + strconv.Itoa(*target.ID),
			body:    contactComm{Type: idRef{ID: *target.Type.ID}, Value: ch.New, DefaultFlag: isTrue(target.DefaultFlag)},
			subject: "contact " + strconv.Itoa(id), area: "editing contacts (Companies › Contacts, edit)",
		}, &struct{}{})
		return err
	}
	types, err := c.commTypes(ctx)
	if err != nil {
		return c.wrapWhat(what, err)
	}
	label := ch.Label
	if label == "" {
		label = "Mobile"
	}
	t, ok := pickType(types, kindPhone, label)
	if !ok {
		return core.Errorf(core.KindInvalid, "ConnectWise has no communication type for phone numbers: add one under Setup Tables › Communication Types")
	}
	_, err = c.getJSON(ctx, call{
		what: what + " " + strconv.Itoa(id), op: "POST /company/contacts/{parentId}/communications", method: http.MethodPost,
		path: sub, body: contactComm{Type: idRef{ID: t.ID}, Value: ch.New},
		subject: "contact " + strconv.Itoa(id), area: "editing contacts (Companies › Contacts, edit)",
	}, &struct{}{})
	return err
}
