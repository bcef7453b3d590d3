package kaseya

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// maxContacts bounds one search: a technician picks from a list, and a
// search that matches more is too broad to be useful.
const maxContacts = 500

// contactSummary is BMS's ContactsSummaryOutputDto: one contact with every
// e-mail address and phone number.
type contactSummary struct {
	ID        int    `json:"id"`
	AccountID int    `json:"accountId"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
	JobTitle  string `json:"jobTitle"`
	IsActive  bool   `json:"isActive"`
	Emails    []struct {
		EmailAddress string `json:"emailAddress"`
		EmailType    string `json:"emailType"`
		IsDefault    bool   `json:"isDefault"`
	} `json:"emails"`
	Phones []contactPhone `json:"phones"`
}

// contactPhone is BMS's ContactPhoneOutputDto.
type contactPhone struct {
	Phone       string `json:"phone"`
	PhoneTypeID int    `json:"phoneTypeId"`
	PhoneType   string `json:"phoneType"`
	IsDefault   bool   `json:"isDefault"`
}

func (cs contactSummary) contact() psa.Contact {
	ct := psa.Contact{
		Ref:       strconv.Itoa(cs.ID),
		FirstName: strings.TrimSpace(cs.FirstName),
		LastName:  strings.TrimSpace(cs.LastName),
		Title:     strings.TrimSpace(cs.JobTitle),
	}
	if cs.AccountID > 0 {
		ct.CompanyRef = strconv.Itoa(cs.AccountID)
	}
	for _, e := range cs.Emails {
		if a := strings.TrimSpace(e.EmailAddress); a != "" {
			ct.Emails = append(ct.Emails, psa.Email{Address: a, Label: e.EmailType, Default: e.IsDefault})
		}
	}
	for _, p := range cs.Phones {
		if n := strings.TrimSpace(p.Phone); n != "" {
			ct.Phones = append(ct.Phones, psa.Phone{Number: n, Label: p.PhoneType, Default: p.IsDefault})
		}
	}
	return ct
}

// FindContacts finds contacts with GET /v2/crm/contacts/summary, whose rows
// carry every address and number. BMS filters are not documented as exact
// (reference, Contacts), so every match is checked again here: the e-mail
// case-insensitively and exactly, the phone after normalising both sides to
// E.164, the name against first, last or "First Last". A phone is searched
// by its national number's digits, which matches however BMS formats it
// when its filter matches on a part of the number.
func (c *Client) FindContacts(ctx context.Context, companyRef string, s psa.ContactSearch) ([]psa.Contact, error) {
	if companyRef == "" && s.IsZero() {
		return nil, core.Errorf(core.KindInvalid, "kaseya: a contact search needs a company or a criterion")
	}
	base := url.Values{}
	if companyRef != "" {
		id, err := parseID("account", companyRef)
		if err != nil {
			return nil, err
		}
		base.Set("Filter.AccountId", strconv.Itoa(id))
	}
	var queries []url.Values
	switch {
	case s.Email != "":
		q := clone(base)
		q.Set("Filter.Email", strings.TrimSpace(s.Email))
		queries = append(queries, q)
	case s.Phone != "":
		digits, err := nationalDigits(s.Phone)
		if err != nil {
			return nil, err
		}
		q := clone(base)
		q.Set("Filter.Phone", digits)
		queries = append(queries, q)
	case s.Name != "":
		// One query string may be a first name, a last name or both: ask
		// for each reading (BMS has no "any name" filter).
		name := strings.Join(strings.Fields(s.Name), " ")
		for _, f := range []string{"Filter.FirstName", "Filter.LastName"} {
			q := clone(base)
			q.Set(f, name)
			queries = append(queries, q)
		}
		if first, last, ok := strings.Cut(name, " "); ok {
			q := clone(base)
			q.Set("Filter.FirstName", first)
			q.Set("Filter.LastName", last)
			queries = append(queries, q)
		}
	default:
		queries = append(queries, base)
	}
	seen := map[int]bool{}
	out := []psa.Contact{}
	for _, q := range queries {
		rows, err := listAll[contactSummary](ctx, c, call{
			what: "find contacts", op: "GET /v2/crm/contacts/summary", method: "GET",
			path: "/v2/crm/contacts/summary", query: q,
		}, maxContacts)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			if seen[r.ID] {
				continue
			}
			seen[r.ID] = true
			ct := r.contact()
			if companyRef != "" && ct.CompanyRef != companyRef {
				continue
			}
			if s.Matches(ct, c.region) {
				out = append(out, ct)
			}
		}
	}
	return out, nil
}

// nationalDigits returns the national significant number of an E.164
// phone: "+15550100142" → "5550100142".
func nationalDigits(e164 string) (string, error) {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil || !strings.HasPrefix(e164, "+") {
		return "", core.Errorf(core.KindInvalid, "kaseya: %q is not an E.164 phone number", e164)
	}
	return phonenumbers.GetNationalSignificantNumber(num), nil
}

func clone(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// GetContact reads one contact with GET /v2/crm/contacts/summary/{id}. The
// vendor document declares that answer unwrapped; whether the service
// wraps it is unconfirmed (reference, Response envelope), so both shapes
// decode.
//
// A contact read in the last [contactTTL] is answered from memory: BMS
// allows 1,500 calls an hour per endpoint, and a technician who opens a
// ticket, sends a code and checks it reads the same contact several times.
func (c *Client) GetContact(ctx context.Context, ref string) (psa.Contact, error) {
	id, err := parseID("contact", ref)
	if err != nil {
		return psa.Contact{}, err
	}
	if ct, ok := c.contacts.Get(ref, c.now()); ok {
		return ct, nil
	}
	var cs contactSummary
	if err := c.do(ctx, call{
		what: "get contact " + ref, op: "GET /v2/crm/contacts/summary/{id}", method: "GET",
		path: "/v2/crm/contacts/summary/" + strconv.Itoa(id), subject: "contact " + ref, bare: true,
	}, &cs, nil); err != nil {
		return psa.Contact{}, err
	}
	if cs.ID == 0 {
		return psa.Contact{}, newError("get contact "+ref, core.KindNotFound, nil, "Kaseya BMS has no contact %s", ref)
	}
	ct := cs.contact()
	c.contacts.Put(ref, ct, c.now())
	return ct, nil
}

// contactTTL is how long a contact read is reused, and
// maxCachedContacts how many are kept.
const (
	contactTTL        = time.Minute
	maxCachedContacts = 1000
)

// contactInput is BMS's ContactInputDto.
type contactInput struct {
	FirstName  string       `json:"FirstName"`
	LastName   string       `json:"LastName"`
	AccountID  int          `json:"AccountId"`
	LocationID int          `json:"LocationId"`
	Emails     []emailInput `json:"Emails"`
	Phones     []phoneInput `json:"Phones"`
}

type emailInput struct {
	EmailAddress string `json:"EmailAddress"`
	EmailTypeID  int    `json:"EmailTypeId"`
	IsDefault    bool   `json:"IsDefault"`
}

type phoneInput struct {
	PhoneNumber string `json:"PhoneNumber"`
	PhoneTypeID int    `json:"PhoneTypeId"`
	IsDefault   bool   `json:"IsDefault"`
}

// Type ids of new contacts' e-mail addresses and phones. BMS does not
// document their values (reference, open item 3); 1 is the first type of a
// new tenant.
const (
	defaultEmailType = 1
	defaultPhoneType = 1
)

// CreateContact creates c under its account with POST
// /v2/crm/contacts/summary. BMS needs a location: the account's main one
// (or its first) is read first, so a create costs two calls.
func (c *Client) CreateContact(ctx context.Context, ct psa.Contact) (psa.Contact, error) {
	acct, err := parseID("account", ct.CompanyRef)
	if err != nil {
		return psa.Contact{}, err
	}
	if strings.TrimSpace(ct.FirstName) == "" && strings.TrimSpace(ct.LastName) == "" {
		return psa.Contact{}, core.Errorf(core.KindInvalid, "kaseya: a new contact needs a name")
	}
	loc, err := c.mainLocation(ctx, acct)
	if err != nil {
		return psa.Contact{}, err
	}
	in := contactInput{FirstName: ct.FirstName, LastName: ct.LastName, AccountID: acct, LocationID: loc,
		Emails: []emailInput{}, Phones: []phoneInput{}}
	for i, e := range ct.Emails {
		in.Emails = append(in.Emails, emailInput{EmailAddress: e.Address, EmailTypeID: defaultEmailType, IsDefault: e.Default || i == 0 && !anyDefaultEmail(ct.Emails)})
	}
	for i, p := range ct.Phones {
		in.Phones = append(in.Phones, phoneInput{PhoneNumber: p.Number, PhoneTypeID: defaultPhoneType, IsDefault: p.Default || i == 0 && !anyDefaultPhone(ct.Phones)})
	}
	var out struct {
		ID int `json:"id"`
	}
	if err := c.do(ctx, call{
		what: "create contact", op: "POST /v2/crm/contacts/summary", method: "POST",
		path: "/v2/crm/contacts/summary", body: in,
	}, &out, nil); err != nil {
		return psa.Contact{}, err
	}
	if out.ID < 1 {
		return psa.Contact{}, newError("create contact", core.KindUnavailable, nil, "Kaseya BMS created the contact but sent no id")
	}
	// Read it back so the caller sees what BMS stored (its formatting of
	// the phone, the default flags).
	return c.GetContact(ctx, strconv.Itoa(out.ID))
}

func anyDefaultEmail(es []psa.Email) bool {
	return slices.ContainsFunc(es, func(e psa.Email) bool { return e.Default })
}

func anyDefaultPhone(ps []psa.Phone) bool {
	return slices.ContainsFunc(ps, func(p psa.Phone) bool { return p.Default })
}

// mainLocation returns the id of the account's main location, or its
// first.
func (c *Client) mainLocation(ctx context.Context, acct int) (int, error) {
	var locs []struct {
		ID     int  `json:"id"`
		IsMain bool `json:"isMain"`
	}
	ref := strconv.Itoa(acct)
	if err := c.do(ctx, call{
		what: "get locations of account " + ref, op: "GET /v2/crm/accounts/{accountId}/locations/lookup", method: "GET",
		path: "/v2/crm/accounts/" + ref + "/locations/lookup",
	}, &locs, nil); err != nil {
		return 0, err
	}
	if len(locs) == 0 {
		return 0, newError("create contact", core.KindInvalid, nil, "account %s has no location in Kaseya BMS, and a contact needs one: add a location to the account", ref)
	}
	for _, l := range locs {
		if l.IsMain {
			return l.ID, nil
		}
	}
	return locs[0].ID, nil
}
