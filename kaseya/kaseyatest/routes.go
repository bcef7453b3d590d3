package kaseyatest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/countersign/countersign/core/psa"
)

var totpOpts = totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

type handler func(s *Server, w http.ResponseWriter, r *http.Request, body []byte)

// routes are the operations the fake serves, by contract route.
var routes = map[string]handler{
	"GET /v2/security/userinfo":                         (*Server).userInfo,
	"GET /v2/crm/contacts/summary":                      (*Server).listContacts,
	"GET /v2/crm/contacts/summary/{id}":                 (*Server).getContact,
	"POST /v2/crm/contacts/summary":                     (*Server).createContact,
	"GET /v2/crm/accounts/summary":                      (*Server).listAccounts,
	"GET /v2/crm/accounts/{accountId}/locations/lookup": (*Server).listLocations,
	"GET /v2/servicedesk/tickets":                       (*Server).listTickets,
	"GET /v2/servicedesk/tickets/{ticketId}":            (*Server).getTicket,
	"GET /v2/servicedesk/templates/notes/lookup":        (*Server).noteTemplates,
	"POST /v2/servicedesk/tickets/{ticketId}/notes":     (*Server).addNote,
}

func (s *Server) userInfo(w http.ResponseWriter, r *http.Request, _ []byte) {
	s.mu.Lock()
	m := s.member
	s.mu.Unlock()
	id, _ := strconv.Atoi(m.Ref)
	s.writeResult(w, "UserInfoOutputDto", false, map[string]any{
		"userId": id, "fullName": m.Name, "emailAddress": m.Email, "tenantId": 42, "timeZoneName": "UTC",
		"isUserSystemAdmin": false,
	}, nil)
}

// pathID returns the integer path segment at i (from the end when < 0).
func pathID(r *http.Request, i int) (int, bool) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if i < 0 {
		i += len(segs)
	}
	if i < 0 || i >= len(segs) {
		return 0, false
	}
	n, err := strconv.Atoi(segs[i])
	return n, err == nil && n > 0
}

// page reads PageSize and PageNumber. BMS's base is unconfirmed (samples
// use 0 and 1): both mean the first page.
func (s *Server) page(q url.Values) (size, number int) {
	size, _ = strconv.Atoi(q.Get("PageSize"))
	if size <= 0 || size > 100 {
		size = 100
	}
	s.mu.Lock()
	if s.pageSize > 0 && s.pageSize < size {
		size = s.pageSize
	}
	s.mu.Unlock()
	number, _ = strconv.Atoi(q.Get("PageNumber"))
	if number < 1 {
		number = 1
	}
	return size, number
}

func window[T any](all []T, size, number int) []T {
	start := (number - 1) * size
	if start >= len(all) {
		return []T{}
	}
	end := min(start+size, len(all))
	return all[start:end]
}

func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsDigit(r) {
			return r
		}
		return -1
	}, s)
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// listContacts is GetContactsListSummary. Filters match on a part, case
// insensitively (how BMS matches is unconfirmed; a client that needs an
// exact match checks again); Filter.Phone matches on the digits.
func (s *Server) listContacts(w http.ResponseWriter, r *http.Request, _ []byte) {
	q := r.URL.Query()
	size, number := s.page(q)
	s.mu.Lock()
	var rows []map[string]any
	for _, c := range s.contacts {
		if v := q.Get("Filter.AccountId"); v != "" && v != strconv.Itoa(c.account) {
			continue
		}
		if v := q.Get("Filter.FirstName"); v != "" && !containsFold(c.first, v) {
			continue
		}
		if v := q.Get("Filter.LastName"); v != "" && !containsFold(c.last, v) {
			continue
		}
		if v := q.Get("Filter.Email"); v != "" && !anyEmail(c.emails, v) {
			continue
		}
		if v := digits(q.Get("Filter.Phone")); q.Has("Filter.Phone") && (v == "" || !anyPhone(c.phones, v)) {
			continue
		}
		rows = append(rows, s.contactJSON(c))
	}
	s.mu.Unlock()
	total := len(rows)
	if rows == nil {
		rows = []map[string]any{}
	}
	s.writeResult(w, "ContactsSummaryOutputDto", true, window(rows, size, number), &total)
}

func anyEmail(es []psa.Email, v string) bool {
	for _, e := range es {
		if containsFold(e.Address, v) {
			return true
		}
	}
	return false
}

func anyPhone(ps []psa.Phone, d string) bool {
	for _, p := range ps {
		if strings.Contains(digits(p.Number), d) {
			return true
		}
	}
	return false
}

func (s *Server) accountName(id int) string {
	for _, c := range s.companies {
		if c.Ref == strconv.Itoa(id) {
			return c.Name
		}
	}
	return ""
}

// contactJSON is a ContactsSummaryOutputDto, in the wire's camelCase.
func (s *Server) contactJSON(c contactRec) map[string]any {
	emails := []map[string]any{}
	for i, e := range c.emails {
		emails = append(emails, map[string]any{"id": c.id*10 + i, "emailAddress": e.Address, "emailTypeId": 1,
			"emailType": label(e.Label, "Work"), "isDefault": e.Default})
	}
	phones := []map[string]any{}
	for i, p := range c.phones {
		phones = append(phones, map[string]any{"id": c.id*10 + i, "phone": p.Number, "phoneTypeId": phoneTypeID(p.Label),
			"phoneType": label(p.Label, "Work"), "isDefault": p.Default})
	}
	var loc any
	if ls := s.locations[c.account]; len(ls) > 0 {
		loc = ls[0]
	}
	return map[string]any{
		"id": c.id, "accountId": c.account, "accountName": s.accountName(c.account), "locationId": loc,
		"firstName": c.first, "lastName": c.last, "jobTitle": c.title, "isPoc": s.pocs[c.id], "isActive": true,
		"isBillable": false, "emails": emails, "phones": phones, "canRecieveInvoices": false,
	}
}

func label(l, def string) string {
	if l == "" {
		return def
	}
	return l
}

// getContact is GetContactSummary, unwrapped as the document declares.
func (s *Server) getContact(w http.ResponseWriter, r *http.Request, _ []byte) {
	id, ok := pathID(r, -1)
	s.mu.Lock()
	var found map[string]any
	for _, c := range s.contacts {
		if ok && c.id == id {
			found = s.contactJSON(c)
		}
	}
	s.mu.Unlock()
	if found == nil {
		writeEnvelopeError(w, http.StatusOK, 404, "Contact not found")
		return
	}
	s.writeBare(w, "ContactsSummaryOutputDto", found)
}

func (s *Server) createContact(w http.ResponseWriter, r *http.Request, body []byte) {
	var in struct {
		FirstName, LastName string
		Emails              []struct {
			EmailAddress string
			IsDefault    bool
		}
		Phones []struct {
			PhoneNumber string
			IsDefault   bool
		}
	}
	var ids struct {
		AccountID  int `json:"accountId"`
		LocationID int `json:"locationId"`
	}
	if json.Unmarshal(body, &in) != nil || json.Unmarshal(body, &ids) != nil {
		writeEnvelopeError(w, http.StatusOK, 400, "The request is invalid")
		return
	}
	s.mu.Lock()
	locs, known := s.locations[ids.AccountID]
	if !known || !containsInt(locs, ids.LocationID) {
		s.mu.Unlock()
		writeEnvelopeError(w, http.StatusOK, 400, "Account or location not found")
		return
	}
	s.nextID++
	c := contactRec{id: s.nextID, account: ids.AccountID, first: in.FirstName, last: in.LastName}
	for _, e := range in.Emails {
		c.emails = append(c.emails, psa.Email{Address: e.EmailAddress, Default: e.IsDefault})
	}
	for _, p := range in.Phones {
		c.phones = append(c.phones, psa.Phone{Number: p.PhoneNumber, Default: p.IsDefault})
	}
	s.contacts = append(s.contacts, c)
	out := map[string]any{"id": c.id, "firstName": c.first, "lastName": c.last, "accountId": c.account,
		"accountName": s.accountName(c.account), "locationId": ids.LocationID}
	s.mu.Unlock()
	s.writeResult(w, "ContactSummaryOutputDto", false, out, nil)
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func (s *Server) listAccounts(w http.ResponseWriter, r *http.Request, _ []byte) {
	size, number := s.page(r.URL.Query())
	s.mu.Lock()
	rows := []map[string]any{}
	for _, c := range s.companies {
		rows = append(rows, map[string]any{"id": mustID(c.Ref), "accountName": c.Name, "accountCode": "A" + c.Ref, "isActive": true})
	}
	s.mu.Unlock()
	total := len(rows)
	s.writeResult(w, "AccountSummaryOutputDto", true, window(rows, size, number), &total)
}

func (s *Server) listLocations(w http.ResponseWriter, r *http.Request, _ []byte) {
	id, _ := pathID(r, 3)
	s.mu.Lock()
	rows := []map[string]any{}
	for i, l := range s.locations[id] {
		rows = append(rows, map[string]any{"id": l, "name": "Main", "accountId": id, "isMain": i == 0})
	}
	s.mu.Unlock()
	s.writeResult(w, "AccountLocationLookupOutputDto", true, rows, nil)
}

func (s *Server) ticketJSON(t ticketRec) map[string]any {
	var contact any
	if t.contact > 0 {
		contact = t.contact
	}
	return map[string]any{
		"id": t.id, "ticketNumber": t.number, "title": t.title, "accountId": t.account,
		"accountName": s.accountName(t.account), "contactId": contact, "statusName": t.status,
	}
}

// listTickets is GetTickets, with the one filter we use.
func (s *Server) listTickets(w http.ResponseWriter, r *http.Request, _ []byte) {
	q := r.URL.Query()
	size, number := s.page(q)
	s.mu.Lock()
	rows := []map[string]any{}
	for _, t := range s.tickets {
		if v := q.Get("Filter.TicketNumber"); v != "" && !containsFold(t.number, v) {
			continue
		}
		if v := q.Get("Filter.ContactId"); v != "" && v != strconv.Itoa(t.contact) {
			continue
		}
		if q.Get("Filter.ExcludeCompleted") == "1" && (t.status == "Completed" || t.status == "Closed") {
			continue
		}
		row := map[string]any{"id": t.id, "ticketNumber": t.number, "title": t.title, "statusName": t.status,
			"accountId": t.account, "accountName": s.accountName(t.account), "contactId": nil}
		if t.contact > 0 {
			row["contactId"] = t.contact
		}
		rows = append(rows, row)
	}
	s.mu.Unlock()
	total := len(rows)
	s.writeResult(w, "TicketListDto", true, window(rows, size, number), &total)
}

func (s *Server) getTicket(w http.ResponseWriter, r *http.Request, _ []byte) {
	id, _ := pathID(r, -1)
	s.mu.Lock()
	t, ok := s.tickets[id]
	var out map[string]any
	if ok {
		out = s.ticketJSON(t)
	}
	s.mu.Unlock()
	if !ok {
		writeEnvelopeError(w, http.StatusOK, 404, "Ticket not found")
		return
	}
	s.writeResult(w, "TicketOutputDto", false, out, nil)
}

func (s *Server) addNote(w http.ResponseWriter, r *http.Request, body []byte) {
	id, _ := pathID(r, -2)
	var in map[string]json.RawMessage
	json.Unmarshal(body, &in)
	var n NoteRecord
	for k, v := range in {
		switch strings.ToLower(k) {
		case "details":
			json.Unmarshal(v, &n.Details)
		case "isinternal":
			json.Unmarshal(v, &n.IsInternal)
		case "typeid":
			json.Unmarshal(v, &n.TypeID)
		case "notedate":
			json.Unmarshal(v, &n.NoteDate)
		default:
			n.Extra = append(n.Extra, k)
		}
	}
	s.mu.Lock()
	_, ok := s.tickets[id]
	if ok {
		s.notes[id] = append(s.notes[id], n)
	}
	count := len(s.notes[id])
	s.mu.Unlock()
	if !ok {
		writeEnvelopeError(w, http.StatusOK, 404, "Ticket not found")
		return
	}
	s.writeResult(w, "TicketNoteOutputDto", false, map[string]any{
		"id": id*100 + count, "details": n.Details, "isInternal": n.IsInternal, "typeId": n.TypeID,
		"createdByName": "Countersign", "createdByEmail": Username,
	}, nil)
}

// noteTemplates is GetTicketNoteTemplateLookups: two templates of note
// type 3 and one of type 5, as a tenant might have them.
func (s *Server) noteTemplates(w http.ResponseWriter, r *http.Request, _ []byte) {
	s.writeResult(w, "TicketNoteTemplateLookupOutputDto", true, []map[string]any{
		{"id": 1, "name": "Caller verified", "typeId": 3, "isInternal": true},
		{"id": 2, "name": "Internal remark", "typeId": 3, "isInternal": true},
		{"id": 3, "name": "Customer update", "typeId": 5, "isInternal": false},
	}, nil)
}
