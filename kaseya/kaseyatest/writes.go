package kaseyatest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/countersign/countersign/core/psa"
)

// The fake's tray-ticket, on-call and contact-write routes: ticket create
// and patch, contact phone patch, the point-of-contact search, the
// employee list and the status and priority lookups.

func init() {
	routes["POST /v2/servicedesk/tickets"] = (*Server).createTicket
	routes["PATCH /v2/servicedesk/tickets/{ticketId}"] = (*Server).patchTicket
	routes["PATCH /v2/crm/contacts/{contactId}/phones"] = (*Server).patchPhones
	routes["GET /v2/crm/contacts/search"] = (*Server).searchContacts
	routes["GET /v2/hr/employees/searchselect"] = (*Server).listEmployees
	routes["GET /v2/system/priorities/lookup"] = (*Server).priorities
	routes["GET /v2/system/statuses/lookup"] = (*Server).statuses
}

// The tenant's priorities and statuses, as lookups list them: "Medium" is
// the default priority, "New" the first active status.
var (
	fakePriorities = []map[string]any{
		{"id": 1, "name": "Low", "isDefault": false}, {"id": 2, "name": "Medium", "isDefault": true}, {"id": 3, "name": "High", "isDefault": false},
	}
	fakeStatuses = []map[string]any{
		{"id": 9, "name": "Retired", "statusOrder": 0, "typeId": 1, "isSystemStatus": 0, "isActive": false},
		{"id": 11, "name": "In Progress", "statusOrder": 2, "typeId": 1, "isSystemStatus": 1, "isActive": true},
		{"id": 10, "name": "New", "statusOrder": 1, "typeId": 1, "isSystemStatus": 1, "isActive": true},
		{"id": 12, "name": "Completed", "statusOrder": 3, "typeId": 2, "isSystemStatus": 1, "isActive": true},
	}
)

func lookupName(rows []map[string]any, id int) (string, bool) {
	for _, r := range rows {
		if r["id"] == id {
			return r["name"].(string), true
		}
	}
	return "", false
}

// Ticket is a ticket as the fake holds it, for tests.
type Ticket struct {
	psa.Ticket
	Details                        string
	LocationID, StatusID, Priority int
	TypeID, SourceID               int
}

// Tickets returns the tickets created through the API, oldest first.
func (s *Server) Tickets() []Ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Ticket
	for _, t := range s.tickets {
		if t.details == "" {
			continue // seeded
		}
		out = append(out, Ticket{Ticket: psa.Ticket{Ref: strconv.Itoa(t.id), Number: t.number, Summary: t.title, Status: t.status,
			CompanyRef: strconv.Itoa(t.account), ContactRef: refOf(t.contact)},
			Details: t.details, LocationID: t.location, StatusID: t.statusID, Priority: t.priority, TypeID: t.typ, SourceID: t.source})
	}
	slices.SortFunc(out, func(a, b Ticket) int { return strings.Compare(a.Number, b.Number) })
	return out
}

// TicketContact returns the contact of the ticket with ref ("" for none).
func (s *Server) TicketContact(ref string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return refOf(s.tickets[optID(ref)].contact)
}

func refOf(id int) string {
	if id < 1 {
		return ""
	}
	return strconv.Itoa(id)
}

// createTicket is PostTicket. The document's required fields are checked
// before (ValidateBody); here, what BMS checks against its data: the
// account, its location, the contact's account, the status, priority and
// ids' ranges (minimum 1).
func (s *Server) createTicket(w http.ResponseWriter, r *http.Request, body []byte) {
	var in struct {
		Title, Details, OpenDate                            string
		AccountID, LocationID, StatusID, PriorityID, TypeID int
		SourceID                                            int
		ContactID                                           *int
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeEnvelopeError(w, http.StatusOK, 400, "The request is invalid")
		return
	}
	var problems []string
	if strings.TrimSpace(in.Title) == "" {
		problems = append(problems, "Title is required")
	}
	if strings.TrimSpace(in.Details) == "" {
		problems = append(problems, "Details is required")
	}
	if _, err := time.Parse(time.RFC3339, in.OpenDate); err != nil {
		problems = append(problems, "OpenDate is not a date")
	}
	if _, ok := lookupName(fakeStatuses, in.StatusID); !ok {
		problems = append(problems, "StatusId is not a status")
	}
	if _, ok := lookupName(fakePriorities, in.PriorityID); !ok {
		problems = append(problems, "PriorityId is not a priority")
	}
	if in.TypeID < 1 {
		problems = append(problems, "TypeId must be at least 1")
	}
	s.mu.Lock()
	locs, known := s.locations[in.AccountID]
	if !known {
		s.mu.Unlock()
		writeEnvelopeError(w, http.StatusOK, 404, "Account not found")
		return
	}
	if !containsInt(locs, in.LocationID) {
		problems = append(problems, "LocationId is not a location of the account")
	}
	if in.ContactID != nil {
		if c, ok := s.contact(*in.ContactID); !ok || c.account != in.AccountID {
			problems = append(problems, "ContactId is not a contact of the account")
		}
	}
	if len(problems) > 0 {
		s.mu.Unlock()
		writeValidation(w, problems)
		return
	}
	s.nextID++
	status, _ := lookupName(fakeStatuses, in.StatusID)
	t := ticketRec{id: s.nextID, account: in.AccountID, number: fmt.Sprintf("T20261102.%04d", s.nextID-90000), title: in.Title, status: status,
		details: in.Details, location: in.LocationID, statusID: in.StatusID, priority: in.PriorityID, typ: in.TypeID, source: in.SourceID}
	if in.ContactID != nil {
		t.contact = *in.ContactID
	}
	s.tickets[t.id] = t
	out := s.ticketJSON(t)
	s.mu.Unlock()
	s.writeResult(w, "TicketOutputDto", false, out, nil)
}

// writeValidation answers a refusal with BMS's envelope: 200, success
// false, code 400, the problems in subErrors.
func writeValidation(w http.ResponseWriter, problems []string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(map[string]any{
		"success": false, "result": nil,
		"error": map[string]any{"code": 400, "message": "Validation failed", "details": nil, "stackStrace": nil, "subErrors": problems},
	})
}

func (s *Server) contact(id int) (*contactRec, bool) {
	for i := range s.contacts {
		if s.contacts[i].id == id {
			return &s.contacts[i], true
		}
	}
	return nil, false
}

// patchTicket is PatchTicket: JSON-Patch operations on TicketInputDto's
// fields. The fake applies replace of /ContactId (a contact of the
// ticket's account) and /Title; anything else is a violation, as a test
// would have to teach the fake first.
func (s *Server) patchTicket(w http.ResponseWriter, r *http.Request, body []byte) {
	id, _ := pathID(r, -1)
	var ops []struct {
		Op, Path string
		Value    json.RawMessage
	}
	if json.Unmarshal(body, &ops) != nil || len(ops) == 0 {
		writeValidation(w, []string{"The patch document is empty or invalid"})
		return
	}
	s.mu.Lock()
	t, ok := s.tickets[id]
	if !ok {
		s.mu.Unlock()
		writeEnvelopeError(w, http.StatusOK, 404, "Ticket not found")
		return
	}
	for _, op := range ops {
		if !strings.EqualFold(op.Op, "replace") {
			s.mu.Unlock()
			s.v.Add("PATCH ticket: op %q is not one kaseyatest applies", op.Op)
			writeValidation(w, []string{"unsupported op " + op.Op})
			return
		}
		switch strings.ToLower(strings.TrimPrefix(op.Path, "/")) {
		case "contactid":
			var cid int
			c, found := (*contactRec)(nil), false
			if json.Unmarshal(op.Value, &cid) == nil {
				c, found = s.contact(cid)
			}
			if !found || c.account != t.account {
				s.mu.Unlock()
				writeValidation(w, []string{"ContactId is not a contact of the ticket's account"})
				return
			}
			t.contact = cid
		case "title":
			if json.Unmarshal(op.Value, &t.title) != nil || strings.TrimSpace(t.title) == "" {
				s.mu.Unlock()
				writeValidation(w, []string{"Title is required"})
				return
			}
		default:
			s.mu.Unlock()
			s.v.Add("PATCH ticket: path %q is not one kaseyatest applies", op.Path)
			writeValidation(w, []string{"unsupported path " + op.Path})
			return
		}
	}
	s.tickets[id] = t
	out := s.ticketJSON(t)
	s.mu.Unlock()
	s.writeResult(w, "TicketOutputDto", false, out, nil)
}

// patchPhones is PatchContactPhones: add (Operation 0: PhoneNumber, TypeId),
// update (1: the stored PhoneNumber, NewPhoneNumber) and delete (2:
// PhoneNumber) of a contact's numbers; an update or delete of a number the
// contact does not have is refused.
func (s *Server) patchPhones(w http.ResponseWriter, r *http.Request, body []byte) {
	id, _ := pathID(r, -2)
	var ops []struct {
		Operation                   *int
		PhoneNumber, NewPhoneNumber string
		TypeID                      *int `json:"typeId"`
		IsDefault                   *bool
	}
	if json.Unmarshal(body, &ops) != nil || len(ops) == 0 {
		writeValidation(w, []string{"The patch document is empty or invalid"})
		return
	}
	s.mu.Lock()
	c, ok := s.contact(id)
	if !ok {
		s.mu.Unlock()
		writeEnvelopeError(w, http.StatusOK, 404, "Contact not found")
		return
	}
	phones := slices.Clone(c.phones)
	added, updated, deleted := 0, 0, 0
	find := func(n string) int {
		return slices.IndexFunc(phones, func(p psa.Phone) bool { return p.Number == n })
	}
	for _, op := range ops {
		if op.Operation == nil || *op.Operation < 0 || *op.Operation > 2 {
			s.mu.Unlock()
			writeValidation(w, []string{"Operation must be 0, 1 or 2"})
			return
		}
		switch *op.Operation {
		case 0:
			if strings.TrimSpace(op.PhoneNumber) == "" || op.TypeID == nil || *op.TypeID < 1 {
				s.mu.Unlock()
				writeValidation(w, []string{"PhoneNumber and TypeId are required to add a phone"})
				return
			}
			p := psa.Phone{Number: op.PhoneNumber, Label: phoneTypeName(*op.TypeID), Default: op.IsDefault != nil && *op.IsDefault}
			phones = append(phones, p)
			added++
		case 1:
			i := find(op.PhoneNumber)
			if i < 0 || strings.TrimSpace(op.NewPhoneNumber) == "" {
				s.mu.Unlock()
				writeValidation(w, []string{"PhoneNumber " + op.PhoneNumber + " is not a phone of the contact"})
				return
			}
			phones[i].Number = op.NewPhoneNumber
			if op.IsDefault != nil {
				phones[i].Default = *op.IsDefault
			}
			updated++
		case 2:
			i := find(op.PhoneNumber)
			if i < 0 {
				s.mu.Unlock()
				writeValidation(w, []string{"PhoneNumber " + op.PhoneNumber + " is not a phone of the contact"})
				return
			}
			phones = slices.Delete(phones, i, i+1)
			deleted++
		}
	}
	c.phones = phones
	rows := s.contactJSON(*c)["phones"]
	s.mu.Unlock()
	s.writeResult(w, "ContactPhonePatchResultDto", false, map[string]any{"added": added, "updated": updated, "deleted": deleted, "phones": rows}, nil)
}

// Phone types: the fake's tenant has Work (1) and Mobile (2).
func phoneTypeName(id int) string {
	if id == 2 {
		return "Mobile"
	}
	return "Work"
}

func phoneTypeID(label string) int {
	if strings.EqualFold(label, "Mobile") {
		return 2
	}
	return 1
}

// ContactPhones returns the contact's numbers as BMS stores them.
func (s *Server) ContactPhones(ref string) []psa.Phone {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.contact(optID(ref))
	if !ok {
		return nil
	}
	return slices.Clone(c.phones)
}

// SetPointOfContact marks the contacts with refs as their account's point
// of contact (IsPoc).
func (s *Server) SetPointOfContact(refs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range refs {
		s.pocs[mustID(r)] = true
	}
}

// searchContacts is GetContactsSearch with the filters we use:
// Filter.AccountIds (comma separated), Filter.IsPoc, Filter.IsActive and
// Filter.EmailAddress.
func (s *Server) searchContacts(w http.ResponseWriter, r *http.Request, _ []byte) {
	q := r.URL.Query()
	size, number := s.page(q)
	s.mu.Lock()
	rows := []map[string]any{}
	for _, c := range s.contacts {
		if v := q.Get("Filter.AccountIds"); v != "" && !slices.Contains(strings.Split(v, ","), strconv.Itoa(c.account)) {
			continue
		}
		if v := q.Get("Filter.IsPoc"); v != "" && strconv.FormatBool(s.pocs[c.id]) != strings.ToLower(v) {
			continue
		}
		if v := q.Get("Filter.IsActive"); v != "" && strings.ToLower(v) != "true" {
			continue // every seeded contact is active
		}
		if v := q.Get("Filter.EmailAddress"); v != "" && !anyEmail(c.emails, v) {
			continue
		}
		email := ""
		if len(c.emails) > 0 {
			email = c.emails[0].Address
		}
		rows = append(rows, map[string]any{"id": c.id, "accountId": c.account, "accountName": s.accountName(c.account),
			"firstName": c.first, "lastName": c.last, "jobTitle": c.title, "emailAddress": email,
			"isPoc": s.pocs[c.id], "isActive": true, "hasClientPortalAccess": false})
	}
	s.mu.Unlock()
	total := len(rows)
	s.writeResult(w, "ContactsSearchSelectOutputDto", true, window(rows, size, number), &total)
}

// SeedMembers sets the MSP's employees (psatest.MemberSeeder); those named
// in inactive are inactive. BMS keeps no phone for them: Phone is dropped.
func (s *Server) SeedMembers(members []psa.Member, inactive ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.employees = nil
	for _, m := range members {
		m.Phone = ""
		s.employees = append(s.employees, employeeRec{m: m, active: !slices.Contains(inactive, m.Ref)})
	}
}

// MembersHaveNoPhone implements psatest.MemberPhoneless.
func (s *Server) MembersHaveNoPhone() {}

// listEmployees is GetEmployeesListSearchSelect with Filter.IsActive.
func (s *Server) listEmployees(w http.ResponseWriter, r *http.Request, _ []byte) {
	q := r.URL.Query()
	size, number := s.page(q)
	s.mu.Lock()
	rows := []map[string]any{}
	for _, e := range s.employees {
		if v := q.Get("Filter.IsActive"); v != "" && strconv.FormatBool(e.active) != strings.ToLower(v) {
			continue
		}
		first, last, _ := strings.Cut(e.m.Name, " ")
		rows = append(rows, map[string]any{"id": mustID(e.m.Ref), "firstName": first, "lastName": last,
			"emailAddress": e.m.Email, "username": e.m.Identifier, "jobTitle": "Technician", "isActive": e.active})
	}
	s.mu.Unlock()
	total := len(rows)
	s.writeResult(w, "EmployeesListSearchSelectOutputDto", true, window(rows, size, number), &total)
}

func (s *Server) priorities(w http.ResponseWriter, r *http.Request, _ []byte) {
	s.writeResult(w, "PriorityLookupOutputDto", true, fakePriorities, nil)
}

func (s *Server) statuses(w http.ResponseWriter, r *http.Request, _ []byte) {
	s.writeResult(w, "StatusLookupOutputDto", true, fakeStatuses, nil)
}

// SetDefaultContact makes the contact with contactRef the one point of
// contact of the account with companyRef, and none of the account's other
// contacts one ("" leaves it none), as psatest.DefaultContactFake asks:
// BMS names no default contact, and the client reads the one IsPoc.
func (s *Server) SetDefaultContact(companyRef, contactRef string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	acct := mustID(companyRef)
	for _, c := range s.contacts {
		if c.account == acct {
			delete(s.pocs, c.id)
		}
	}
	if contactRef != "" {
		s.pocs[mustID(contactRef)] = true
	}
}
