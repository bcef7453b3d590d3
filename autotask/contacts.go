package autotask

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// wireContact is a Contacts record on the wire (camelCase; the contract
// spells the same names in PascalCase). isActive is an integer 0/1 on
// Contacts, unlike Companies and Resources (reference).
type wireContact struct {
	ID             int64  `json:"id"`
	CompanyID      int64  `json:"companyID"`
	FirstName      string `json:"firstName"`
	LastName       string `json:"lastName"`
	Title          string `json:"title"`
	EmailAddress   string `json:"emailAddress"`
	EmailAddress2  string `json:"emailAddress2"`
	EmailAddress3  string `json:"emailAddress3"`
	Phone          string `json:"phone"`
	Extension      string `json:"extension"`
	MobilePhone    string `json:"mobilePhone"`
	AlternatePhone string `json:"alternatePhone"`
	IsActive       *int   `json:"isActive"`
}

// newContact is the body of POST V1.0/Companies/{id}/Contacts: only the
// fields we set.
type newContact struct {
	CompanyID      int64  `json:"companyID"`
	FirstName      string `json:"firstName"`
	LastName       string `json:"lastName"`
	Title          string `json:"title,omitempty"`
	EmailAddress   string `json:"emailAddress,omitempty"`
	EmailAddress2  string `json:"emailAddress2,omitempty"`
	EmailAddress3  string `json:"emailAddress3,omitempty"`
	Phone          string `json:"phone,omitempty"`
	MobilePhone    string `json:"mobilePhone,omitempty"`
	AlternatePhone string `json:"alternatePhone,omitempty"`
	IsActive       int    `json:"isActive"`
}

// contactFields is what contact queries ask for: a contact has fifty
// fields we never read.
var contactFields = []string{"id", "companyID", "firstName", "lastName", "title",
	"emailAddress", "emailAddress2", "emailAddress3", "phone", "extension", "mobilePhone", "alternatePhone", "isActive"}

// emailFields and phoneFields are the contact's e-mail and phone slots:
// every search covers all of them.
var (
	emailFields = []string{"emailAddress", "emailAddress2", "emailAddress3"}
	phoneFields = []string{"phone", "mobilePhone", "alternatePhone"}
)

// maxContacts bounds a search: more matches than this means the search was
// too vague to help a technician choose.
const maxContacts = 2000

const contactsArea = "reading contacts (Contacts: view)"

func (w wireContact) active() bool { return w.IsActive == nil || *w.IsActive != 0 }

func (w wireContact) toPSA() psa.Contact {
	ct := psa.Contact{Ref: idRef(w.ID), FirstName: w.FirstName, LastName: w.LastName, Title: w.Title}
	if w.CompanyID > 0 {
		ct.CompanyRef = idRef(w.CompanyID)
	}
	for i, e := range []string{w.EmailAddress, w.EmailAddress2, w.EmailAddress3} {
		if e = strings.TrimSpace(e); e != "" {
			label := "Email"
			if i > 0 {
				label = fmt.Sprintf("Email %d", i+1)
			}
			ct.Emails = append(ct.Emails, psa.Email{Address: e, Label: label, Default: i == 0})
		}
	}
	// The mobile number is the SMS candidate, so it is the default when
	// there is one.
	if m := strings.TrimSpace(w.MobilePhone); m != "" {
		ct.Phones = append(ct.Phones, psa.Phone{Number: m, Label: "Mobile", Default: true})
	}
	if p := strings.TrimSpace(w.Phone); p != "" {
		if x := strings.TrimSpace(w.Extension); x != "" {
			p += " x" + x
		}
		ct.Phones = append(ct.Phones, psa.Phone{Number: p, Label: "Phone", Default: strings.TrimSpace(w.MobilePhone) == ""})
	}
	if a := strings.TrimSpace(w.AlternatePhone); a != "" {
		ct.Phones = append(ct.Phones, psa.Phone{Number: a, Label: "Alternate"})
	}
	return ct
}

// FindContacts implements [psa.ContactFinder] with one query (paged) and
// checks every match again here, whatever Autotask's matching rules are.
// An e-mail address is looked up in all three e-mail fields at once (one
// OR); a phone number by its last four digits in every phone field, then
// compared in E.164 in the config's phone region — and when that finds
// nothing within a company, the company's contacts are compared here, to
// catch numbers punctuated inside those digits. Inactive contacts are left
// out here, not in the query (isActive is an integer on Contacts and its
// filter value is unconfirmed).
func (c *Client) FindContacts(ctx context.Context, companyRef string, s psa.ContactSearch) ([]psa.Contact, error) {
	const what = "find contacts"
	if companyRef == "" && s.IsZero() {
		return nil, core.Errorf(core.KindInvalid, "a contact search needs a company or something to search for")
	}
	s.Name = strings.Join(strings.Fields(s.Name), " ")
	s.Email = strings.ToLower(strings.TrimSpace(s.Email))
	s.Phone = strings.TrimSpace(s.Phone)
	var base []filter
	if companyRef != "" {
		id, err := parseID("company", companyRef)
		if err != nil {
			return nil, err
		}
		base = append(base, eq("companyID", id))
	}
	conds := slices.Clone(base)
	switch {
	case s.Email != "":
		if !strings.Contains(s.Email, "@") || len(s.Email) > 254 {
			return nil, core.Errorf(core.KindInvalid, "%q is not an email address", s.Email)
		}
		var items []filter
		for _, f := range emailFields {
			items = append(items, eq(f, s.Email))
		}
		conds = append(conds, or(items...))
	case s.Phone != "":
		if !e164.MatchString(s.Phone) {
			return nil, core.Errorf(core.KindInvalid, "phone number %q to search for must be in E.164, e.g. +15550100100", s.Phone)
		}
		var items []filter
		for _, f := range phoneFields {
			items = append(items, contains(f, s.Phone[len(s.Phone)-4:]))
		}
		conds = append(conds, or(items...))
	case s.Name != "":
		conds = append(conds, nameFilter(s.Name))
	}
	if len(conds) == 0 {
		conds = []filter{allIDs}
	}
	found, err := c.matchContacts(ctx, what, conds, s)
	if err != nil {
		return nil, err
	}
	if len(found) == 0 && s.Phone != "" && s.Email == "" && companyRef != "" {
		found, err = c.matchContacts(ctx, what, base, s)
		if errors.Is(err, errTooMany) {
			c.log.WarnContext(ctx, "autotask phone search fallback: company too large to scan", "company", companyRef)
			return []psa.Contact{}, nil
		}
		if err != nil {
			return nil, err
		}
	}
	return found, nil
}

// nameFilter matches a name against first name, last name, or a first and
// last name split at any space.
func nameFilter(name string) filter {
	items := []filter{eq("firstName", name), eq("lastName", name)}
	words := strings.Fields(name)
	for i := 1; i < len(words) && len(items) < maxOr; i++ {
		items = append(items, and(eq("firstName", strings.Join(words[:i], " ")), eq("lastName", strings.Join(words[i:], " "))))
	}
	return or(items...)
}

func (c *Client) matchContacts(ctx context.Context, what string, conds []filter, s psa.ContactSearch) ([]psa.Contact, error) {
	ws, err := queryAll[wireContact](ctx, c, what, "Contacts", contactsArea,
		queryModel{MaxRecords: maxRecords, IncludeFields: contactFields, Filter: conds}, maxContacts)
	if err != nil {
		return nil, err
	}
	out := []psa.Contact{}
	for _, w := range ws {
		if !w.active() {
			continue
		}
		if ct := w.toPSA(); s.Matches(ct, c.region) {
			out = append(out, ct)
		}
	}
	return out, nil
}

// GetContact implements [psa.ContactGetter]. An inactive contact is
// returned like an active one: a ticket may name it.
func (c *Client) GetContact(ctx context.Context, ref string) (psa.Contact, error) {
	id, err := parseID("contact", ref)
	if err != nil {
		return psa.Contact{}, err
	}
	w, err := getItem[wireContact](ctx, c, "get contact "+ref, "Contacts", "contact "+ref, contactsArea, id)
	if err != nil {
		return psa.Contact{}, err
	}
	return w.toPSA(), nil
}

// CreateContact implements [psa.ContactCreator] with POST
// V1.0/Companies/{id}/Contacts (there is no POST V1.0/Contacts). Autotask
// files every contact under a company, has three e-mail slots and three
// phone slots (a phone labelled Mobile goes to mobilePhone, the others to
// phone and alternatePhone), and can make more fields mandatory per tenant:
// those are read from the entity information first (cached for a day), and
// a required field we cannot fill is an error of kind core.ErrInvalid
// naming it, before anything is written. Then the created contact is read
// back: two calls, three on a cold cache.
func (c *Client) CreateContact(ctx context.Context, in psa.Contact) (psa.Contact, error) {
	const what = "create contact"
	if strings.TrimSpace(in.CompanyRef) == "" {
		return psa.Contact{}, core.Errorf(core.KindInvalid, "Autotask files every contact under a company: choose the company first")
	}
	companyID, err := parseID("company", in.CompanyRef)
	if err != nil {
		return psa.Contact{}, err
	}
	body := newContact{CompanyID: companyID, FirstName: strings.TrimSpace(in.FirstName), LastName: strings.TrimSpace(in.LastName),
		Title: strings.TrimSpace(in.Title), IsActive: 1}
	if body.FirstName == "" || body.LastName == "" {
		return psa.Contact{}, core.Errorf(core.KindInvalid, "Autotask needs a first and a last name for a new contact")
	}
	emails := []*string{&body.EmailAddress, &body.EmailAddress2, &body.EmailAddress3}
	for i, e := range in.Emails {
		if i >= len(emails) {
			return psa.Contact{}, core.Errorf(core.KindInvalid, "Autotask holds at most 3 email addresses per contact")
		}
		*emails[i] = strings.TrimSpace(e.Address)
	}
	var others []string
	for _, p := range in.Phones {
		n := strings.TrimSpace(p.Number)
		if strings.EqualFold(p.Label, "mobile") && body.MobilePhone == "" {
			body.MobilePhone = n
			continue
		}
		others = append(others, n)
	}
	for _, n := range others {
		switch {
		case body.MobilePhone == "" && len(in.Phones) == 1:
			body.MobilePhone = n
		case body.Phone == "":
			body.Phone = n
		case body.AlternatePhone == "":
			body.AlternatePhone = n
		default:
			return psa.Contact{}, core.Errorf(core.KindInvalid, "Autotask holds at most 3 phone numbers per contact")
		}
	}
	fields, err := c.entityFields(ctx, "Contacts", false)
	if err != nil {
		return psa.Contact{}, wrapWhat(what, err)
	}
	set := map[string]bool{"companyid": true, "firstname": true, "lastname": true, "isactive": true,
		"title": body.Title != "", "emailaddress": body.EmailAddress != "", "emailaddress2": body.EmailAddress2 != "",
		"emailaddress3": body.EmailAddress3 != "", "phone": body.Phone != "", "mobilephone": body.MobilePhone != "",
		"alternatephone": body.AlternatePhone != ""}
	for _, f := range fields {
		if f.IsRequired && !f.IsReadOnly && !set[strings.ToLower(f.Name)] && strings.ToLower(f.Name) != "id" {
			return psa.Contact{}, core.Errorf(core.KindInvalid,
				"this Autotask database requires contacts to have %q, which Countersign does not fill in: create the contact in Autotask", f.Name)
		}
	}
	var cr created
	if err := c.do(ctx, call{what: what, op: "POST /V1.0/Companies/{parentId}/Contacts", method: http.MethodPost,
		path: "V1.0/Companies/" + idRef(companyID) + "/Contacts", body: jsonBody(body),
		subject: "company " + idRef(companyID), area: "adding contacts (Contacts: add)", impersonate: true}, &cr); err != nil {
		return psa.Contact{}, err
	}
	if cr.ItemID <= 0 {
		return psa.Contact{}, newError(what, core.KindUnavailable, nil, "Autotask created the contact but did not say its id")
	}
	return c.GetContact(ctx, idRef(cr.ItemID))
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
