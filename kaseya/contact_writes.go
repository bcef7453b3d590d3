package kaseya

import (
	"context"
	"strconv"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// Contact writes of SMS opt-in forms (issue 18 item 4). BMS v2 can change
// a contact's numbers (PATCH /v2/crm/contacts/{contactId}/phones) but has
// no notes on contacts: its only note endpoints are on tickets,
// opportunities and IT Glue records (openapi.json has no
// /v2/crm/contacts/{id}/notes), so the client is no psa.ContactNoter and
// the host says that BMS integrations cannot write contact notes.

// phonePatch is BMS's ContactPhonePatchOperationDto. Operation is a
// RelatedItemOperationType (0, 1, 2), which the document does not name;
// we read it in the order of the answer's Added, Updated and Deleted
// counts (ContactPhonePatchResultDto): 0 adds, 1 updates, 2 deletes
// (unconfirmed on a live tenant). An update names the number as BMS
// stores it (PhoneNumber) and its replacement (NewPhoneNumber).
type phonePatch struct {
	Operation      int    `json:"Operation"`
	PhoneNumber    string `json:"PhoneNumber"`
	NewPhoneNumber string `json:"NewPhoneNumber,omitempty"`
	TypeID         *int   `json:"TypeId,omitempty"`
	IsDefault      *bool  `json:"IsDefault,omitempty"`
}

const (
	phoneAdd    = 0
	phoneUpdate = 1
)

// SetContactPhone implements [psa.ContactPhoneSetter]: the contact is read
// afresh (GET /v2/crm/contacts/summary/{id}), the number that reads as the
// same E.164 number as ch.Old in the integration's phone region is
// replaced in place (its type and default flag kept), and a contact
// without it gets ch.New added under the type of one of its numbers whose
// type name contains ch.Label ("Mobile"), else type 1 as for new
// contacts — one PATCH /v2/crm/contacts/{contactId}/phones either way.
func (c *Client) SetContactPhone(ctx context.Context, contactRef string, ch psa.PhoneChange) error {
	id, err := parseID("contact", contactRef)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(ch.New, "+") {
		return core.Errorf(core.KindInvalid, "kaseya: %q is not an E.164 phone number", ch.New)
	}
	ref := strconv.Itoa(id)
	c.contacts.Forget(ref)
	var cs contactSummary
	if err := c.do(ctx, call{
		what: "get contact " + ref, op: "GET /v2/crm/contacts/summary/{id}", method: "GET",
		path: "/v2/crm/contacts/summary/" + ref, subject: "contact " + ref, bare: true,
	}, &cs, nil); err != nil {
		return err
	}
	if cs.ID == 0 {
		return newError("change contact phone "+ref, core.KindNotFound, nil, "Kaseya BMS has no contact %s", ref)
	}
	oldE164 := ""
	if ch.Old != "" {
		oldE164, _ = core.NormalizePhone(ch.Old, c.region)
	}
	var target *contactPhone
	for i := range cs.Phones {
		p := &cs.Phones[i]
		v, err := core.NormalizePhone(p.Phone, c.region)
		switch {
		case err != nil:
		case v == ch.New:
			return nil // already there
		case target == nil && oldE164 != "" && v == oldE164:
			target = p
		}
	}
	op := phonePatch{Operation: phoneAdd, PhoneNumber: ch.New}
	if target != nil {
		op = phonePatch{Operation: phoneUpdate, PhoneNumber: target.Phone, NewPhoneNumber: ch.New}
	} else {
		label := ch.Label
		if label == "" {
			label = "Mobile"
		}
		typ, isDefault := defaultPhoneType, len(cs.Phones) == 0
		for _, p := range cs.Phones {
			if p.PhoneTypeID > 0 && strings.Contains(strings.ToLower(p.PhoneType), strings.ToLower(label)) {
				typ = p.PhoneTypeID
				break
			}
		}
		op.TypeID, op.IsDefault = &typ, &isDefault
	}
	var res struct {
		Added   int `json:"added"`
		Updated int `json:"updated"`
	}
	err = c.do(ctx, call{
		what: "change contact phone " + ref, op: "PATCH /v2/crm/contacts/{contactId}/phones", method: "PATCH",
		path: "/v2/crm/contacts/" + ref + "/phones", body: []phonePatch{op}, subject: "contact " + ref,
	}, &res, nil)
	c.contacts.Forget(ref)
	if err != nil {
		return err
	}
	if res.Added+res.Updated == 0 {
		return newError("change contact phone "+ref, core.KindUnavailable, nil, "Kaseya BMS changed none of contact %s's numbers", ref)
	}
	return nil
}

// DefaultContact implements [psa.DefaultContactGetter]. A BMS account
// names no default contact (AccountSummaryOutputDto has no such field);
// what it has is contacts marked as its point of contact (IsPoc), which
// GET /v2/crm/contacts/search filters by. The account's one active point
// of contact is its default; none, or several (BMS allows more than one),
// is "": the technician picks the caller.
func (c *Client) DefaultContact(ctx context.Context, companyRef string) (string, error) {
	acct, err := parseID("account", companyRef)
	if err != nil {
		return "", err
	}
	var rows []struct {
		ID        int  `json:"id"`
		AccountID int  `json:"accountId"`
		IsPoc     bool `json:"isPoc"`
		IsActive  bool `json:"isActive"`
	}
	ref := strconv.Itoa(acct)
	if err := c.do(ctx, call{
		what: "find the point of contact of account " + ref, op: "GET /v2/crm/contacts/search", method: "GET",
		path: "/v2/crm/contacts/search", query: map[string][]string{"Filter.AccountIds": {ref}, "Filter.IsPoc": {"true"},
			"Filter.IsActive": {"true"}, "PageSize": {"10"}, "PageNumber": {"1"}},
	}, &rows, nil); err != nil {
		return "", err
	}
	found := ""
	for _, r := range rows {
		// The filters are checked again: how BMS applies them is not
		// documented.
		if r.ID < 1 || r.AccountID != acct || !r.IsPoc || !r.IsActive {
			continue
		}
		if found != "" {
			return "", nil // several: no default
		}
		found = strconv.Itoa(r.ID)
	}
	return found, nil
}
