package connectwise

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// Raw API shapes, holding only the fields we read (models Contact,
// ContactCommunicationItem, CompanyReference, … of the contract).
type (
	wireRef struct {
		ID         *int   `json:"id"`
		Identifier string `json:"identifier,omitempty"`
		Name       string `json:"name,omitempty"`
	}
	wireContact struct {
		ID                 int            `json:"id"`
		FirstName          string         `json:"firstName"`
		LastName           string         `json:"lastName"`
		Company            *wireRef       `json:"company"`
		Title              string         `json:"title"`
		InactiveFlag       *bool          `json:"inactiveFlag"`
		CommunicationItems []wireCommItem `json:"communicationItems"`
	}
	wireCommItem struct {
		ID                *int     `json:"id"`
		Type              *wireRef `json:"type"`
		Value             string   `json:"value"`
		Extension         string   `json:"extension"`
		DefaultFlag       *bool    `json:"defaultFlag"`
		CommunicationType *string  `json:"communicationType"`
	}

	// newContact is the body of POST /company/contacts: only fields we set.
	newContact struct {
		FirstName          string        `json:"firstName"`
		LastName           string        `json:"lastName,omitempty"`
		Company            *idRef        `json:"company,omitempty"`
		Title              string        `json:"title,omitempty"`
		CommunicationItems []newCommItem `json:"communicationItems"`
	}
	newCommItem struct {
		Type        idRef  `json:"type"`
		Value       string `json:"value"`
		DefaultFlag bool   `json:"defaultFlag"`
	}
	idRef struct {
		ID int `json:"id"`
	}
)

// contactFields is the partial response we ask for: ConnectWise contacts
// carry dozens of fields we never read.
const contactFields = "id,firstName,lastName,company,title,inactiveFlag,communicationItems"

// Limits of contact searches. A search finds a caller; more matches than
// this means the search was too vague to help a technician choose.
const (
	contactsPageSize = 250
	maxContacts      = 2000
)

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// FindContacts implements [psa.ContactFinder]. Inactive contacts are left
// out. Email addresses are matched with a childConditions query on the
// contact's communication items and checked again here, case aside; phone
// numbers, which ConnectWise stores as typed, are searched by their last
// four digits and then compared in E.164 (in the config's phone region) —
// and when that finds nothing within a company, the company's contacts are
// listed and compared here, to catch numbers punctuated inside those digits
// (reference §5.4). Names match first name, last name or "first last".
func (c *Client) FindContacts(ctx context.Context, companyRef string, s psa.ContactSearch) ([]psa.Contact, error) {
	const what = "find contacts"
	if companyRef == "" && s.IsZero() {
		return nil, core.Errorf(core.KindInvalid, "a contact search needs a company or something to search for")
	}
	conds := []string{"inactiveFlag=false"}
	if companyRef != "" {
		id, err := parseID("company", companyRef)
		if err != nil {
			return nil, err
		}
		conds = append(conds, "company/id="+strconv.Itoa(id))
	}
	s.Name = strings.Join(strings.Fields(s.Name), " ")
	s.Email = strings.TrimSpace(s.Email)
	s.Phone = strings.TrimSpace(s.Phone)
	if s.Name != "" {
		nc, err := nameCondition(s.Name)
		if err != nil {
			return nil, err
		}
		conds = append(conds, nc)
	}
	// One childConditions expression is matched against one item at a
	// time, so it can ask for an email or a phone, not both: with both, the
	// email (the more selective) goes to ConnectWise and the phone is
	// checked here.
	var child string
	switch {
	case s.Email != "":
		q, err := quote("email address", s.Email)
		if err != nil {
			return nil, err
		}
		child = "communicationItems/value=" + q + ` AND communicationItems/communicationType="Email"`
	case s.Phone != "":
		if !e164.MatchString(s.Phone) {
			return nil, core.Errorf(core.KindInvalid, "phone number %q to search for must be in E.164, e.g. +15550100100", s.Phone)
		}
		child = `communicationItems/value contains "` + s.Phone[len(s.Phone)-4:] + `" AND communicationItems/communicationType="Phone"`
	}
	q := url.Values{"conditions": {strings.Join(conds, " AND ")}, "fields": {contactFields}}
	if child != "" {
		q.Set("childConditions", child)
	}
	found, err := c.matchContacts(ctx, what, q, s)
	if err != nil {
		return nil, err
	}
	if len(found) == 0 && s.Phone != "" && s.Email == "" && companyRef != "" {
		q.Del("childConditions")
		found, err = c.matchContacts(ctx, what, q, s)
		if errors.Is(err, errTooMany) {
			// The company is too big to scan: the number is not there in a
			// form we can find, which is "not found", not the caller's fault.
			c.log.WarnContext(ctx, "connectwise phone search fallback: company too large to scan", "company", companyRef)
			return []psa.Contact{}, nil
		}
		if err != nil {
			return nil, err
		}
	}
	return found, nil
}

// matchContacts lists the contacts q selects and keeps those matching s.
func (c *Client) matchContacts(ctx context.Context, what string, q url.Values, s psa.ContactSearch) ([]psa.Contact, error) {
	ws, err := listAll[wireContact](ctx, c, call{
		what: what, op: "GET /company/contacts", method: http.MethodGet, path: "/company/contacts", query: q,
		area: "reading contacts (Companies › Contacts, inquire)",
	}, contactsPageSize, maxContacts)
	if err != nil {
		return nil, err
	}
	out := []psa.Contact{}
	for _, w := range ws {
		ct, err := c.fromWireContact(ctx, w)
		if err != nil {
			return nil, err
		}
		if s.Matches(ct, c.region) {
			out = append(out, ct)
		}
	}
	return out, nil
}

// GetContact implements [psa.ContactGetter].
func (c *Client) GetContact(ctx context.Context, ref string) (psa.Contact, error) {
	id, err := parseID("contact", ref)
	if err != nil {
		return psa.Contact{}, err
	}
	var w wireContact
	if _, err := c.getJSON(ctx, call{
		what: "get contact " + strconv.Itoa(id), op: "GET /company/contacts/{id}", method: http.MethodGet,
		path: "/company/contacts/" + strconv.Itoa(id), query: url.Values{"fields": {contactFields}},
		subject: "contact " + strconv.Itoa(id), area: "reading contacts (Companies › Contacts, inquire)",
	}, &w); err != nil {
		return psa.Contact{}, err
	}
	return c.fromWireContact(ctx, w)
}

// CreateContact implements [psa.ContactCreator]. ConnectWise needs a first
// name, and files each email address and phone number under one of the
// tenant's communication types: the one whose name contains the item's
// Label, else the default type for email or phone.
func (c *Client) CreateContact(ctx context.Context, in psa.Contact) (psa.Contact, error) {
	const what = "create contact"
	if strings.TrimSpace(in.FirstName) == "" {
		return psa.Contact{}, core.Errorf(core.KindInvalid, "ConnectWise needs a first name for a new contact")
	}
	body := newContact{FirstName: strings.TrimSpace(in.FirstName), LastName: strings.TrimSpace(in.LastName), Title: strings.TrimSpace(in.Title),
		CommunicationItems: []newCommItem{}}
	if in.CompanyRef != "" {
		id, err := parseID("company", in.CompanyRef)
		if err != nil {
			return psa.Contact{}, err
		}
		body.Company = &idRef{ID: id}
	}
	if len(in.Emails)+len(in.Phones) > 0 {
		types, err := c.commTypes(ctx)
		if err != nil {
			return psa.Contact{}, c.wrapWhat(what, err)
		}
		add := func(kind, label, value string, def bool) error {
			t, ok := pickType(types, kind, label)
			if !ok {
				return core.Errorf(core.KindInvalid, "ConnectWise has no communication type for %s numbers or addresses: add one under Setup Tables › Communication Types", strings.ToLower(kind))
			}
			body.CommunicationItems = append(body.CommunicationItems, newCommItem{Type: idRef{ID: t.ID}, Value: strings.TrimSpace(value), DefaultFlag: def})
			return nil
		}
		for _, e := range in.Emails {
			if err := add(kindEmail, e.Label, e.Address, e.Default); err != nil {
				return psa.Contact{}, err
			}
		}
		for _, p := range in.Phones {
			if err := add(kindPhone, p.Label, p.Number, p.Default); err != nil {
				return psa.Contact{}, err
			}
		}
	}
	var w wireContact
	if _, err := c.getJSON(ctx, call{
		what: what, op: "POST /company/contacts", method: http.MethodPost, path: "/company/contacts", body: body,
		area: "adding contacts (Companies › Contacts, add)",
	}, &w); err != nil {
		return psa.Contact{}, err
	}
	if w.ID == 0 {
		return psa.Contact{}, newError(what, core.KindUnavailable, nil, "ConnectWise created the contact but did not say its id")
	}
	return c.fromWireContact(ctx, w)
}

// fromWireContact turns a contact record into a psa.Contact. An item is an
// email or a phone by its own communicationType, or, when ConnectWise left
// that out, by the flags of its communication type (fetched only then).
func (c *Client) fromWireContact(ctx context.Context, w wireContact) (psa.Contact, error) {
	ct := psa.Contact{Ref: strconv.Itoa(w.ID), FirstName: w.FirstName, LastName: w.LastName, Title: w.Title}
	if w.Company != nil && w.Company.ID != nil {
		ct.CompanyRef = strconv.Itoa(*w.Company.ID)
	}
	for _, it := range w.CommunicationItems {
		kind := ""
		if it.CommunicationType != nil {
			kind = *it.CommunicationType
		}
		label := ""
		if it.Type != nil {
			label = it.Type.Name
		}
		if kind == "" && it.Type != nil && it.Type.ID != nil {
			types, err := c.commTypes(ctx)
			if err != nil {
				return psa.Contact{}, err
			}
			for _, t := range types {
				if t.ID == *it.Type.ID {
					kind = t.kind()
					if label == "" {
						label = t.Description
					}
				}
			}
		}
		switch {
		case strings.EqualFold(kind, kindEmail):
			ct.Emails = append(ct.Emails, psa.Email{Address: it.Value, Label: label, Default: isTrue(it.DefaultFlag)})
		case strings.EqualFold(kind, kindPhone):
			n := it.Value
			if x := strings.TrimSpace(it.Extension); x != "" {
				n += " x" + x
			}
			ct.Phones = append(ct.Phones, psa.Phone{Number: n, Label: label, Default: isTrue(it.DefaultFlag)})
		}
	}
	return ct, nil
}
