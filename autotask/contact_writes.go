package autotask

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// Contact writes of SMS opt-in forms (issue 18 item 4) and the company's
// default contact. Autotask updates a contact only under its company
// (PATCH V1.0/Companies/{companyId}/Contacts, a sparse update whose body
// carries the id; there is no PATCH V1.0/Contacts), and has no notes of
// its own on contacts: the notes on a contact's page are company notes
// (CompanyNotes, created under the company) that name the contact.

// contactPhones is the body of PATCH V1.0/Companies/{id}/Contacts that
// changes one phone slot: only the slot sent changes.
type contactPhones struct {
	ID             int64   `json:"id"`
	Phone          *string `json:"phone,omitempty"`
	MobilePhone    *string `json:"mobilePhone,omitempty"`
	AlternatePhone *string `json:"alternatePhone,omitempty"`
}

// maxContactPhone is the length of a Contacts phone field.
const maxContactPhone = 25

const contactsWriteArea = "editing contacts (Contacts: edit)"

// SetContactPhone implements [psa.ContactPhoneSetter]. The contact is read
// afresh; the one of its three phone slots (phone, mobilePhone,
// alternatePhone) that reads as ch.Old in E.164, in the integration's
// phone region, gets ch.New; a contact without it gets ch.New in its
// first empty slot, mobilePhone first for a mobile number (ch.Label "" or
// "Mobile"), phone first for another. A contact whose three slots are full
// is core.ErrInvalid: there is nowhere to add. Two calls, one when the
// contact has the number already.
func (c *Client) SetContactPhone(ctx context.Context, contactRef string, ch psa.PhoneChange) error {
	id, err := parseID("contact", contactRef)
	if err != nil {
		return err
	}
	if !e164.MatchString(ch.New) {
		return core.Errorf(core.KindInvalid, "autotask: %q is not an E.164 phone number", ch.New)
	}
	what := "change the phones of contact " + idRef(id)
	w, err := getItem[wireContact](ctx, c, "get contact "+idRef(id), "Contacts", "contact "+idRef(id), contactsArea, id)
	if err != nil {
		return wrapWhat(what, err)
	}
	if w.CompanyID <= 0 {
		return newError(what, core.KindUnavailable, nil, "Autotask sent contact %d without its company", id)
	}
	oldE164 := ""
	if ch.Old != "" {
		if v, err := core.NormalizePhone(ch.Old, c.region); err == nil {
			oldE164 = v
		}
	}
	type slot struct {
		name string
		v    *string
	}
	slots := map[string]slot{"phone": {"phone", &w.Phone}, "mobilePhone": {"mobilePhone", &w.MobilePhone},
		"alternatePhone": {"alternatePhone", &w.AlternatePhone}}
	var target string
	for _, name := range []string{"mobilePhone", "phone", "alternatePhone"} {
		v, err := core.NormalizePhone(strings.TrimSpace(*slots[name].v), c.region)
		switch {
		case err != nil:
		case v == ch.New:
			return nil // already there
		case target == "" && oldE164 != "" && v == oldE164:
			target = name
		}
	}
	if target == "" {
		order := []string{"phone", "alternatePhone", "mobilePhone"}
		if ch.Label == "" || strings.EqualFold(ch.Label, "mobile") {
			order = []string{"mobilePhone", "alternatePhone", "phone"}
		}
		for _, name := range order {
			if strings.TrimSpace(*slots[name].v) == "" {
				target = name
				break
			}
		}
	}
	if target == "" {
		return newError(what, core.KindInvalid, nil, "contact %d has three phone numbers in Autotask already, none of them %s: change it in Autotask", id, ch.Old)
	}
	if len(ch.New) > maxContactPhone {
		return newError(what, core.KindInvalid, nil, "%s is longer than the %d characters Autotask holds", ch.New, maxContactPhone)
	}
	body := contactPhones{ID: id}
	number := ch.New
	switch target {
	case "phone":
		body.Phone = &number
	case "mobilePhone":
		body.MobilePhone = &number
	default:
		body.AlternatePhone = &number
	}
	return c.do(ctx, call{what: what, op: "PATCH /V1.0/Companies/{parentId}/Contacts", method: http.MethodPatch,
		path: "V1.0/Companies/" + idRef(w.CompanyID) + "/Contacts", body: jsonBody(body),
		subject: "contact " + idRef(id), area: contactsWriteArea, impersonate: true}, nil)
}

// DefaultContact implements [psa.DefaultContactGetter]: the company's
// primary contact (Contacts primaryContact, one query). Autotask keeps one
// per company; an inactive one, or none, is "", and so are two (the
// technician picks the caller).
func (c *Client) DefaultContact(ctx context.Context, companyRef string) (string, error) {
	companyID, err := parseID("company", companyRef)
	if err != nil {
		return "", err
	}
	type wirePrimary struct {
		ID             int64 `json:"id"`
		CompanyID      int64 `json:"companyID"`
		IsActive       *int  `json:"isActive"`
		PrimaryContact bool  `json:"primaryContact"`
	}
	ws, _, err := queryPage[wirePrimary](ctx, c, "find the primary contact of company "+companyRef, "Contacts", contactsArea,
		queryModel{MaxRecords: 10, IncludeFields: []string{"id", "companyID", "isActive", "primaryContact"},
			Filter: []filter{eq("companyID", companyID), eq("primaryContact", true)}})
	if err != nil {
		return "", err
	}
	found := ""
	for _, w := range ws {
		// The filter is checked again here, whatever Autotask's rules.
		if w.ID <= 0 || w.CompanyID != companyID || !w.PrimaryContact || w.IsActive != nil && *w.IsActive == 0 {
			continue
		}
		if found != "" {
			return "", nil
		}
		found = idRef(w.ID)
	}
	return found, nil
}

// newCompanyNote is the body of POST V1.0/Companies/{id}/Notes naming a
// contact. CompanyNotes require an action type, an assigned resource and
// start and end times; a completed time makes it a note rather than a
// to-do.
type newCompanyNote struct {
	CompanyID          int64  `json:"companyID"`
	ContactID          int64  `json:"contactID"`
	ActionType         int    `json:"actionType"`
	AssignedResourceID int64  `json:"assignedResourceID,omitempty"`
	Name               string `json:"name"`
	Note               string `json:"note"`
	StartDateTime      string `json:"startDateTime"`
	EndDateTime        string `json:"endDateTime"`
	CompletedDateTime  string `json:"completedDateTime"`
}

// Lengths of the CompanyNotes fields we write.
const (
	maxNoteName = 128
	maxNoteText = 32000
)

// AddContactNote implements [psa.ContactNoter] with POST
// V1.0/Companies/{companyId}/Notes: a company note naming the contact,
// which Autotask shows on the contact's page, of the action type picked at
// setup (else the picklist's default), assigned to the resource writing it
// (the API user, or the resource of [Client.AsResource]), started,
// ended and completed now. The fields the tenant makes mandatory are read
// from the CompanyNotes entity information first, as for contacts. Two
// calls, four on cold caches. A POST that failed without a clear answer
// makes the next call for the same note look for it first, as
// AddTicketNote does.
func (c *Client) AddContactNote(ctx context.Context, contactRef, text string) error {
	id, err := parseID("contact", contactRef)
	if err != nil {
		return err
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return core.Errorf(core.KindInvalid, "autotask: a contact note needs text")
	}
	what := "add note to contact " + idRef(id)
	w, err := getItem[wireContact](ctx, c, "get contact "+idRef(id), "Contacts", "contact "+idRef(id), contactsArea, id)
	if err != nil {
		return wrapWhat(what, err)
	}
	if !w.active() {
		return newError(what, core.KindInvalid, nil, "contact %d is inactive in Autotask, which takes notes only on active contacts", id)
	}
	action, err := c.pickValue(ctx, "CompanyNotes", "actionType", c.cfg.ContactNoteType, "General", "contact note type")
	if err != nil {
		return wrapWhat(what, err)
	}
	fields, err := c.entityFields(ctx, "CompanyNotes", false)
	if err != nil {
		return wrapWhat(what, err)
	}
	title, _, _ := strings.Cut(text, "\n")
	now := c.now().UTC().Format("2006-01-02T15:04:05.000Z")
	body := newCompanyNote{CompanyID: w.CompanyID, ContactID: id, ActionType: action, Name: core.FitRunes(strings.TrimSpace(title), maxNoteName, core.Ellipsis),
		Note: core.FitRunes(text, maxNoteText, core.Ellipsis), StartDateTime: now, EndDateTime: now, CompletedDateTime: now}
	if body.AssignedResourceID, err = c.writer(ctx); err != nil {
		return wrapWhat(what, err)
	}
	set := map[string]bool{"companyid": true, "contactid": true, "actiontype": true, "assignedresourceid": true, "name": true,
		"note": true, "startdatetime": true, "enddatetime": true, "completeddatetime": true}
	if err := requireSet(fields, set, "company notes", "write the note in Autotask"); err != nil {
		return err
	}
	key := "contact note\x00" + idRef(id) + "\x00" + body.Note
	if c.wasAmbiguous(key) {
		exists, err := c.contactNoteExists(ctx, id, body.Note)
		if err != nil {
			return wrapWhat(what, err)
		}
		if exists {
			c.log.InfoContext(ctx, "autotask contact note was written by an attempt that got no answer; not writing it twice", "contact", id)
			c.setAmbiguous(key, false)
			return nil
		}
	}
	err = c.do(ctx, call{what: what, op: "POST /V1.0/Companies/{parentId}/Notes", method: http.MethodPost,
		path: "V1.0/Companies/" + idRef(w.CompanyID) + "/Notes", body: jsonBody(body),
		subject: "company " + idRef(w.CompanyID), area: "adding notes (CRM: add notes)", impersonate: true}, nil)
	c.setAmbiguous(key, err != nil && core.ErrorKind(err) == core.KindUnavailable)
	return err
}

// contactNoteExists reports whether the contact with id has a company note
// whose text is text (one query).
func (c *Client) contactNoteExists(ctx context.Context, id int64, text string) (bool, error) {
	type wireNoteText struct {
		ID   int64  `json:"id"`
		Note string `json:"note"`
	}
	ws, _, err := queryPage[wireNoteText](ctx, c, "look for the note", "CompanyNotes", "reading notes (CRM: view notes)",
		queryModel{MaxRecords: 100, IncludeFields: []string{"id", "note"}, Filter: []filter{eq("contactID", id)}})
	if err != nil {
		return false, err
	}
	for _, w := range ws {
		if strings.TrimSpace(w.Note) == text {
			return true, nil
		}
	}
	return false, nil
}

// writer returns the resource a record is assigned to when the client
// writes it: the impersonated resource, else the API user's (one query,
// then cached for a day).
func (c *Client) writer(ctx context.Context) (int64, error) {
	if c.resource != 0 {
		return c.resource, nil
	}
	c.st.mu.Lock()
	id, at := c.st.apiUser, c.st.apiUserAt
	c.st.mu.Unlock()
	if id != 0 && c.now().Sub(at) < 24*time.Hour {
		return id, nil
	}
	m, err := c.APIUser(ctx)
	if err != nil {
		return 0, err
	}
	id, err = parseID("resource", m.Ref)
	if err != nil {
		return 0, err
	}
	c.st.mu.Lock()
	c.st.apiUser, c.st.apiUserAt = id, c.now()
	c.st.mu.Unlock()
	return id, nil
}
