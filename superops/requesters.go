package superops

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// userFields are the ClientUser fields we read; client, site and
// customFields are JSON scalars, selected as leaves.
const userFields = `userId firstName lastName name email contactNumber client site customFields`

// clientUser is SuperOps' ClientUser.
type clientUser struct {
	UserID        FlexID `json:"userId"`
	FirstName     string `json:"firstName"`
	LastName      string `json:"lastName"`
	Email         string `json:"email"`
	ContactNumber string `json:"contactNumber"`
	Client        *struct {
		AccountID FlexID `json:"accountId"`
	} `json:"client"`
	CustomFields map[string]json.RawMessage `json:"customFields"`
}

// contact turns u into a psa.Contact. contactNumber is the standard phone;
// the mobile custom field, when the integration names one and the
// requester has a value, comes as a phone labelled with its column so that
// its provenance shows, and is the default (the SMS destination).
func (c *Client) contact(u clientUser) psa.Contact {
	ct := psa.Contact{Ref: string(u.UserID), FirstName: strings.TrimSpace(u.FirstName), LastName: strings.TrimSpace(u.LastName)}
	if u.Client != nil {
		ct.CompanyRef = string(u.Client.AccountID)
	}
	if e := strings.TrimSpace(u.Email); e != "" {
		ct.Emails = []psa.Email{{Address: e, Default: true}}
	}
	mobile := c.mobile(u)
	if mobile != "" {
		ct.Phones = append(ct.Phones, psa.Phone{Number: mobile, Label: "Mobile (custom field " + c.cfg.MobileField + ")", Default: true})
	}
	if n := strings.TrimSpace(u.ContactNumber); n != "" {
		ct.Phones = append(ct.Phones, psa.Phone{Number: n, Label: "Contact number", Default: mobile == ""})
	}
	return ct
}

// mobile returns the value of the integration's mobile custom field, or "".
// A non-text value (a list, a number) is not a phone number.
func (c *Client) mobile(u clientUser) string {
	if c.cfg.MobileField == "" {
		return ""
	}
	raw, ok := u.CustomFields[c.cfg.MobileField]
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return strings.TrimSpace(s)
}

// condition is a RuleConditionInput.
type condition struct {
	Attribute string `json:"attribute"`
	Operator  string `json:"operator"`
	Value     any    `json:"value"`
}

// maxScanned bounds how many requesters a phone search reads: SuperOps
// cannot filter by phone (reference: unconfirmed), so the search reads the
// requesters and compares numbers here.
const maxScanned = 2000

// FindContacts finds requesters with getClientUserList. An e-mail is
// searched with "is" on the lowercased address and a name with "contains";
// both are checked again here. A phone is matched here against
// contactNumber and the mobile field after normalising both to E.164,
// reading the company's requesters (or everyone's) up to maxScanned.
func (c *Client) FindContacts(ctx context.Context, companyRef string, s psa.ContactSearch) ([]psa.Contact, error) {
	if companyRef == "" && s.IsZero() {
		return nil, core.Errorf(core.KindInvalid, "superops: a requester search needs a client or a criterion")
	}
	var cond any
	limit := 500
	switch {
	case s.Email != "":
		cond = condition{Attribute: "email", Operator: "is", Value: strings.ToLower(strings.TrimSpace(s.Email))}
	case s.Name != "":
		cond = condition{Attribute: "name", Operator: "contains", Value: strings.Join(strings.Fields(s.Name), " ")}
	case s.Phone != "":
		limit = maxScanned
	}
	users, err := c.listUsers(ctx, companyRef, cond, limit)
	if err != nil {
		return nil, err
	}
	out := []psa.Contact{}
	for _, u := range users {
		ct := c.contact(u)
		if companyRef != "" && ct.CompanyRef != companyRef {
			continue
		}
		if s.Matches(ct, c.region) {
			out = append(out, ct)
		}
	}
	return out, nil
}

// listUsers reads every page of getClientUserList, at most limit users.
func (c *Client) listUsers(ctx context.Context, clientRef string, cond any, limit int) ([]clientUser, error) {
	var all []clientUser
	for page := 1; page <= maxPages; page++ {
		li := map[string]any{"page": page, "pageSize": maxPageSize}
		if cond != nil {
			li["condition"] = cond
		}
		input := map[string]any{"listInfo": li}
		if clientRef != "" {
			input["clientId"] = clientRef
		}
		var res struct {
			UserList []clientUser `json:"userList"`
			ListInfo listInfo     `json:"listInfo"`
		}
		if err := c.do(ctx, gql{
			what: "find requesters", name: "getClientUserList", input: input,
			query: `query getClientUserList($input: GetClientUserListInput!) { getClientUserList(input: $input) { userList { ` + userFields + ` } ` + listInfoFields + ` } }`,
		}, &res); err != nil {
			return nil, err
		}
		if len(res.UserList) > maxPageSize {
			return nil, newError("find requesters", core.KindUnavailable, nil, "SuperOps sent more requesters than a page holds: refusing an oversized answer")
		}
		all = append(all, res.UserList...)
		if len(all) > limit {
			return nil, newError("find requesters", core.KindInvalid, nil, "more than "+strconv.Itoa(limit)+" SuperOps requesters to search: narrow the search (by e-mail, or within a client)")
		}
		if res.ListInfo.HasMore == nil || !*res.ListInfo.HasMore || len(res.UserList) == 0 {
			return all, nil
		}
	}
	return nil, newError("find requesters", core.KindUnavailable, nil, "SuperOps kept sending pages")
}

// GetContact reads one requester with getClientUser; one read a moment
// ago is answered from memory.
func (c *Client) GetContact(ctx context.Context, ref string) (psa.Contact, error) {
	if !validID(ref) {
		return psa.Contact{}, core.Errorf(core.KindInvalid, "superops: %q is not a SuperOps requester id", ref)
	}
	if ct, ok := c.contacts.Get(ref, c.now()); ok {
		return ct, nil
	}
	var u clientUser
	if err := c.do(ctx, gql{
		what: "get requester " + ref, name: "getClientUser", subject: "requester " + ref,
		input: map[string]any{"userId": ref},
		query: `query getClientUser($input: ClientUserIdentifierInput!) { getClientUser(input: $input) { ` + userFields + ` } }`,
	}, &u); err != nil {
		return psa.Contact{}, err
	}
	ct := c.contact(u)
	c.contacts.Put(ref, ct, c.now())
	return ct, nil
}

// CreateContact creates a requester under ct.CompanyRef at the client's
// headquarters site with createClientUser (after getClient for the site).
// SuperOps requesters have one e-mail address, which they need; the first
// phone labelled mobile goes into the mobile field when the integration
// names one, the first other phone into contactNumber.
func (c *Client) CreateContact(ctx context.Context, ct psa.Contact) (psa.Contact, error) {
	if c.cfg.RequesterRoleID == "" {
		return psa.Contact{}, core.Errorf(core.KindInvalid, "superops: creating requesters needs the Requester role id in the integration settings")
	}
	if !validID(ct.CompanyRef) {
		return psa.Contact{}, core.Errorf(core.KindInvalid, "superops: %q is not a SuperOps client id", ct.CompanyRef)
	}
	if len(ct.Emails) == 0 || strings.TrimSpace(ct.FirstName) == "" {
		return psa.Contact{}, core.Errorf(core.KindInvalid, "superops: a new requester needs a first name and an e-mail address")
	}
	var client struct {
		HQSite *struct {
			ID FlexID `json:"id"`
		} `json:"hqSite"`
	}
	if err := c.do(ctx, gql{
		what: "get client " + ct.CompanyRef, name: "getClient", subject: "client " + ct.CompanyRef,
		input: map[string]any{"accountId": ct.CompanyRef},
		query: `query getClient($input: ClientIdentifierInput!) { getClient(input: $input) { accountId hqSite } }`,
	}, &client); err != nil {
		return psa.Contact{}, err
	}
	if client.HQSite == nil || client.HQSite.ID == "" {
		return psa.Contact{}, newError("create requester", core.KindInvalid, nil, "client "+ct.CompanyRef+" has no headquarters site in SuperOps, and a requester needs one")
	}
	in := map[string]any{
		"firstName": ct.FirstName, "lastName": ct.LastName, "email": ct.Emails[0].Address,
		"role":            map[string]any{"roleId": c.cfg.RequesterRoleID},
		"addAssociations": []any{map[string]any{"client": map[string]any{"accountId": ct.CompanyRef}, "site": map[string]any{"id": string(client.HQSite.ID)}}},
	}
	custom := map[string]any{}
	for _, p := range ct.Phones {
		mobileLabel := strings.Contains(strings.ToLower(p.Label), "mobile") || strings.Contains(strings.ToLower(p.Label), "cell")
		switch {
		case mobileLabel && c.cfg.MobileField != "" && custom[c.cfg.MobileField] == nil:
			custom[c.cfg.MobileField] = p.Number
		case in["contactNumber"] == nil:
			in["contactNumber"] = p.Number
		}
	}
	if len(custom) > 0 {
		in["customFields"] = custom
	}
	var u clientUser
	if err := c.do(ctx, gql{
		what: "create requester", name: "createClientUser", mutation: true, input: in,
		query: `mutation createClientUser($input: CreateClientUserInput!) { createClientUser(input: $input) { ` + userFields + ` } }`,
	}, &u); err != nil {
		return psa.Contact{}, err
	}
	return c.contact(u), nil
}

// validID reports whether ref can be a SuperOps id (digits).
func validID(ref string) bool {
	if ref == "" || len(ref) > 30 {
		return false
	}
	for _, r := range ref {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
