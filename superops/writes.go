package superops

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// Tray tickets, a ticket's requester, the client's primary contact,
// opt-in phone corrections and on-call technicians. SuperOps has no notes
// on requesters: the MSP reference's only notes are a ticket's
// (createTicketNote, getTicketNoteList); ClientUser and
// UpdateClientUserInput have no notes field, and no mutation writes one.
// So the client is no psa.ContactNoter, and the host says that SuperOps
// integrations cannot write contact notes.

// maxSubject bounds a ticket's subject: the reference gives no limit, and
// a subject is one line.
const maxSubject = 255

// CreateTicket implements [psa.TicketCreator] with createTicket (source
// INTEGRATION, the requester, the user's words as the description). The
// reference calls status mandatory although it types it optional
// (reference, "Tickets: createTicket"), so a status from getStatusList is
// always sent: the one named "Open", else the first that is not a closed
// status of the integration's settings. Two calls.
func (c *Client) CreateTicket(ctx context.Context, in psa.NewTicket) (psa.Ticket, error) {
	const what = "create ticket"
	subject := strings.TrimSpace(in.Summary)
	if subject == "" {
		return psa.Ticket{}, core.Errorf(core.KindInvalid, "superops: a ticket needs a subject")
	}
	if r := []rune(subject); len(r) > maxSubject {
		subject = string(r[:maxSubject])
	}
	if !validID(in.CompanyRef) {
		return psa.Ticket{}, core.Errorf(core.KindInvalid, "superops: %q is not a SuperOps client id", in.CompanyRef)
	}
	if in.ContactRef != "" && !validID(in.ContactRef) {
		return psa.Ticket{}, core.Errorf(core.KindInvalid, "superops: %q is not a SuperOps requester id", in.ContactRef)
	}
	status, err := c.openStatus(ctx)
	if err != nil {
		return psa.Ticket{}, err
	}
	input := map[string]any{"subject": subject, "client": map[string]any{"accountId": in.CompanyRef}, "source": "INTEGRATION", "status": status}
	if d := strings.TrimSpace(in.Description); d != "" {
		input["description"] = d
	}
	if in.ContactRef != "" {
		input["requester"] = map[string]any{"userId": in.ContactRef}
	}
	var t ticket
	if err := c.do(ctx, gql{
		what: what, name: "createTicket", mutation: true, input: input, subject: "client " + in.CompanyRef,
		query: `mutation createTicket($input: CreateTicketInput!) { createTicket(input: $input) { ` + ticketFields + ` } }`,
	}, &t); err != nil {
		return psa.Ticket{}, err
	}
	if t.TicketID == "" {
		return psa.Ticket{}, newError(what, core.KindUnavailable, nil, "SuperOps created the ticket but sent no id")
	}
	return t.psa(), nil
}

// openStatus returns the status new tickets get (getStatusList).
func (c *Client) openStatus(ctx context.Context) (string, error) {
	var rows []struct {
		Name string `json:"name"`
	}
	if err := c.do(ctx, gql{what: "list ticket statuses", name: "getStatusList",
		query: `query getStatusList { getStatusList { id name } }`}, &rows); err != nil {
		return "", err
	}
	closed := map[string]bool{}
	for _, s := range c.cfg.closedStatuses() {
		closed[strings.ToLower(s.(string))] = true
	}
	first := ""
	for _, r := range rows {
		n := strings.TrimSpace(r.Name)
		switch {
		case strings.EqualFold(n, "Open"):
			return n, nil
		case first == "" && n != "" && !closed[strings.ToLower(n)]:
			first = n
		}
	}
	if first == "" {
		return "", newError("create ticket", core.KindInvalid, nil, "SuperOps lists no open ticket status: add one under Settings › Ticket statuses")
	}
	return first, nil
}

// SetTicketContact implements [psa.TicketContactSetter] with updateTicket
// naming only the ticket and its requester. SuperOps refuses a requester
// it does not have as referred_value_does_not_exist, which is the
// contract's not found here.
func (c *Client) SetTicketContact(ctx context.Context, ticketRef, contactRef string) error {
	if !validID(ticketRef) {
		return core.Errorf(core.KindInvalid, "superops: %q is not a SuperOps ticket id", ticketRef)
	}
	if !validID(contactRef) {
		return core.Errorf(core.KindInvalid, "superops: %q is not a SuperOps requester id", contactRef)
	}
	var t ticket
	err := c.do(ctx, gql{
		what: "set the requester of ticket " + ticketRef, name: "updateTicket", mutation: true, subject: "ticket " + ticketRef,
		input: map[string]any{"ticketId": ticketRef, "requester": map[string]any{"userId": contactRef}},
		query: `mutation updateTicket($input: UpdateTicketInput!) { updateTicket(input: $input) { ticketId requester } }`,
	}, &t)
	if pe := (*Error)(nil); errors.As(err, &pe) && pe.Code == "referred_value_does_not_exist" {
		return newError("set the requester of ticket "+ticketRef, core.KindNotFound, err, "SuperOps has no requester "+contactRef)
	}
	return err
}

// DefaultContact implements [psa.DefaultContactGetter]: the client's
// primaryContact (getClient), a JSON scalar holding {userId, name}.
func (c *Client) DefaultContact(ctx context.Context, companyRef string) (string, error) {
	if !validID(companyRef) {
		return "", core.Errorf(core.KindInvalid, "superops: %q is not a SuperOps client id", companyRef)
	}
	var cl struct {
		PrimaryContact *struct {
			UserID FlexID `json:"userId"`
		} `json:"primaryContact"`
	}
	if err := c.do(ctx, gql{
		what: "get the primary contact of client " + companyRef, name: "getClient", subject: "client " + companyRef,
		input: map[string]any{"accountId": companyRef},
		query: `query getClient($input: ClientIdentifierInput!) { getClient(input: $input) { accountId primaryContact } }`,
	}, &cl); err != nil {
		return "", err
	}
	if cl.PrimaryContact == nil || !validID(string(cl.PrimaryContact.UserID)) {
		return "", nil
	}
	return string(cl.PrimaryContact.UserID), nil
}

// SetContactPhone implements [psa.ContactPhoneSetter]. A requester has two
// numbers: the integration's mobile custom field and contactNumber. The
// one that reads as ch.Old (E.164, in the phone region) is replaced with
// updateClientUser; without one, ch.New goes into the empty one, the
// mobile field first. Both taken by other numbers: refused, rather than
// overwrite a number nobody asked to change.
func (c *Client) SetContactPhone(ctx context.Context, contactRef string, ch psa.PhoneChange) error {
	const what = "change requester phone"
	if !validID(contactRef) {
		return core.Errorf(core.KindInvalid, "superops: %q is not a SuperOps requester id", contactRef)
	}
	if !strings.HasPrefix(ch.New, "+") {
		return core.Errorf(core.KindInvalid, "superops: %q is not an E.164 phone number", ch.New)
	}
	c.contacts.Forget(contactRef)
	var u clientUser
	if err := c.do(ctx, gql{
		what: "get requester " + contactRef, name: "getClientUser", subject: "requester " + contactRef,
		input: map[string]any{"userId": contactRef},
		query: `query getClientUser($input: ClientUserIdentifierInput!) { getClientUser(input: $input) { ` + userFields + ` } }`,
	}, &u); err != nil {
		return err
	}
	e164 := func(s string) string {
		v, err := core.NormalizePhone(s, c.region)
		if err != nil {
			return ""
		}
		return v
	}
	mobile, number := c.mobile(u), strings.TrimSpace(u.ContactNumber)
	if e164(mobile) == ch.New || e164(number) == ch.New {
		return nil // already there
	}
	old := ""
	if ch.Old != "" {
		old = e164(ch.Old)
	}
	in := map[string]any{"userId": contactRef}
	mobileField := func() {
		// Only the one key is sent: customFields is key-value.
		in["customFields"] = map[string]any{c.cfg.MobileField: ch.New}
	}
	// The number that reads as ch.Old is replaced wherever it is; only
	// without one does ch.New go into an empty slot, the mobile field first.
	switch {
	case c.cfg.MobileField != "" && old != "" && e164(mobile) == old:
		mobileField()
	case old != "" && e164(number) == old:
		in["contactNumber"] = ch.New
	case c.cfg.MobileField != "" && mobile == "":
		mobileField()
	case number == "":
		in["contactNumber"] = ch.New
	default:
		return newError(what, core.KindInvalid, nil, "SuperOps keeps two numbers for requester "+contactRef+" and both hold other numbers: change it in SuperOps")
	}
	err := c.do(ctx, gql{
		what: what + " " + contactRef, name: "updateClientUser", mutation: true, input: in, subject: "requester " + contactRef,
		query: `mutation updateClientUser($input: UpdateClientUserInput!) { updateClientUser(input: $input) { userId } }`,
	}, nil)
	c.contacts.Forget(contactRef)
	return err
}

// technician is SuperOps' Technician.
type technician struct {
	UserID        FlexID `json:"userId"`
	FirstName     string `json:"firstName"`
	LastName      string `json:"lastName"`
	Name          string `json:"name"`
	Email         string `json:"email"`
	ContactNumber string `json:"contactNumber"`
}

// ListMembers implements [psa.MemberLister] with getTechnicianList, a page
// at a time (the cursor is the next page number). SuperOps has no inactive
// technicians: one who leaves is deleted (deleteTechnician) and is no
// longer listed. Technician has no login name apart from the e-mail
// address, which is the Identifier.
func (c *Client) ListMembers(ctx context.Context, o psa.ListOptions) (psa.Page[psa.Member], error) {
	const what = "list technicians"
	size := o.PageSize
	if size <= 0 || size > maxPageSize {
		size = maxPageSize
	}
	page := 1
	if o.Cursor != "" {
		n, err := strconv.Atoi(o.Cursor)
		if err != nil || n < 1 || n > 100000 {
			return psa.Page[psa.Member]{}, core.Errorf(core.KindInvalid, "superops: %q is not a cursor of this client", o.Cursor)
		}
		page = n
	}
	var res struct {
		UserList []technician `json:"userList"`
		ListInfo listInfo     `json:"listInfo"`
	}
	if err := c.do(ctx, gql{
		what: what, name: "getTechnicianList", input: map[string]any{"page": page, "pageSize": size},
		query: `query getTechnicianList($input: ListInfoInput!) { getTechnicianList(input: $input) { userList { userId firstName lastName name email contactNumber } ` + listInfoFields + ` } }`,
	}, &res); err != nil {
		return psa.Page[psa.Member]{}, err
	}
	if len(res.UserList) > size {
		return psa.Page[psa.Member]{}, newError(what, core.KindUnavailable, nil, "SuperOps sent more technicians than a page holds: refusing an oversized answer")
	}
	out := psa.Page[psa.Member]{Items: []psa.Member{}}
	for _, t := range res.UserList {
		if t.UserID == "" {
			continue
		}
		name := strings.TrimSpace(t.Name)
		if name == "" {
			name = strings.TrimSpace(strings.TrimSpace(t.FirstName) + " " + strings.TrimSpace(t.LastName))
		}
		email := strings.TrimSpace(t.Email)
		out.Items = append(out.Items, psa.Member{Ref: string(t.UserID), Identifier: email, Name: name, Email: email, Phone: strings.TrimSpace(t.ContactNumber)})
	}
	if res.ListInfo.HasMore != nil && *res.ListInfo.HasMore && len(res.UserList) > 0 {
		out.Next = strconv.Itoa(page + 1)
	}
	return out, nil
}
