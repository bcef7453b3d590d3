package autotasktest

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

// The writes behind tray tickets, a pod's ticket contact, opt-in
// corrections and opt-in notes: POST and PATCH V1.0/Tickets, PATCH
// V1.0/Companies/{parentId}/Contacts and POST
// V1.0/Companies/{parentId}/Notes (a company note naming the contact is
// what Autotask shows on the contact's Notes tab). Autotask's own rules are
// kept: the fields entity information marks required, picklist values the
// tenant has, references to records of the right company ("Value does not
// reference an existing entity for …"), a queue or a resource and role on
// a ticket, the lengths of strings, and refusals as HTTP 500 with
// errors[], as Autotask sends them.

// Ticket picklists of the fake tenant (Tickets entity information). No
// queue is the default: a client must choose one.
const (
	TicketStatusNew        = 1
	TicketStatusComplete   = 5
	TicketStatusInProgress = 8
	TicketPriorityHigh     = 1
	TicketPriorityMedium   = 2 // the default
	TicketPriorityLow      = 3
	QueueLevelI            = 8
	QueueLevelII           = 9
)

// Company note action types of the fake tenant (CompanyNotes entity
// information).
const (
	ActionTypeGeneral   = 1 // the default
	ActionTypePhoneCall = 2
)

// Lengths Autotask allows (entity field definitions).
const (
	maxTicketTitle       = 255
	maxTicketDescription = 8000
	maxNoteName          = 128
	maxNoteText          = 32000
	maxPhone             = 25
)

// TicketRecord is a ticket as the fake stores it.
type TicketRecord struct {
	Ref, Number, Summary, Description string
	CompanyRef, ContactRef            string
	Status, Priority, QueueID, Source int
	CreatorResourceID                 int64
}

// Tickets returns every ticket, oldest first.
func (s *Server) Tickets() []TicketRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []TicketRecord
	for _, rec := range s.tickets {
		t := TicketRecord{Ref: fmt.Sprint(rec.num("id")), Number: rec.str("ticketNumber"), Summary: rec.str("title"),
			Description: rec.str("description"), Status: int(rec.num("status")), Priority: int(rec.num("priority")),
			QueueID: int(rec.num("queueID")), Source: int(rec.num("source")), CreatorResourceID: rec.num("creatorResourceID")}
		if n := rec.num("companyID"); n > 0 {
			t.CompanyRef = fmt.Sprint(n)
		}
		if n := rec.num("contactID"); n > 0 {
			t.ContactRef = fmt.Sprint(n)
		}
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b TicketRecord) int { return int(mustInt(a.Ref) - mustInt(b.Ref)) })
	return out
}

// TicketContact returns the contact of the ticket with ref, "" for none.
func (s *Server) TicketContact(ticketRef string) string {
	for _, t := range s.Tickets() {
		if t.Ref == ticketRef {
			return t.ContactRef
		}
	}
	return ""
}

// ContactPhones returns the numbers of the contact with ref as stored:
// mobilePhone labelled "Mobile", phone "Phone", alternatePhone
// "Alternate", empty slots left out; nil for no such contact
// (psatest.ContactPhoneFake).
func (s *Server) ContactPhones(ref string) []psa.Phone {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.contacts[mustInt(ref)]
	if rec == nil {
		return nil
	}
	out := []psa.Phone{}
	for _, sl := range []struct{ field, label string }{{"mobilePhone", "Mobile"}, {"phone", "Phone"}, {"alternatePhone", "Alternate"}} {
		if v := rec.str(sl.field); v != "" {
			out = append(out, psa.Phone{Number: v, Label: sl.label})
		}
	}
	return out
}

// SetDefaultContact makes the contact with contactRef the primary contact
// of the company with companyRef, and no other contact of it; "" leaves
// the company none (psatest.DefaultContactFake).
func (s *Server) SetDefaultContact(companyRef, contactRef string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	company := mustInt(companyRef)
	for id, rec := range s.contacts {
		if rec.num("companyID") == company {
			(*rec)["primaryContact"] = fmt.Sprint(id) == contactRef
		}
	}
}

// FailNextWrite is [Server.FailNext] for requests that write (any method
// but GET) only: the client reads the contact before it writes a note or
// a number, and a failure meant for the write must not hit that read
// (psatest.WriteFaulter).
func (s *Server) FailNextWrite(n, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failWriteN, s.failCode, s.failAfter = n, status, retryAfter
}

// SetPrimaryContact marks the contacts with refs as their companies'
// primary contacts, and every other contact as not primary. Autotask keeps
// one per company; a test may set two to see what a client makes of it.
func (s *Server) SetPrimaryContact(refs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, rec := range s.contacts {
		(*rec)["primaryContact"] = slices.Contains(refs, fmt.Sprint(id))
	}
}

// SetContactActive makes the contact with ref active or inactive
// (isActive 1 or 0).
func (s *Server) SetContactActive(ref string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec := s.contacts[mustInt(ref)]; rec != nil {
		(*rec)["isActive"] = map[bool]int64{true: 1, false: 0}[on]
	}
}

// CompanyNoteRecord is a company note as the fake stores it.
type CompanyNoteRecord struct {
	ID                            int64
	CompanyID, ContactID          int64
	ActionType                    int
	AssignedResourceID            int64
	Name, Note                    string
	Start, End, Completed         string
	ImpersonatorCreatorResourceID int64
}

// CompanyNotes returns every company note, oldest first.
func (s *Server) CompanyNotes() []CompanyNoteRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.companyNotes)
}

// ContactNotes returns the text of the notes naming the contact with ref,
// oldest first.
func (s *Server) ContactNotes(ref string) []string {
	var out []string
	for _, n := range s.CompanyNotes() {
		if fmt.Sprint(n.ContactID) == ref {
			out = append(out, n.Note)
		}
	}
	return out
}

// SeedMembers replaces the MSP's resources, the API user's excepted: the
// technicians with their e-mail and mobile phone, those in inactive
// deactivated (psatest.MemberSeeder).
func (s *Server) SeedMembers(members []psa.Member, inactive ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.resources {
		if id != s.apiUser {
			delete(s.resources, id)
		}
	}
	for _, m := range members {
		id := s.mustID(m.Ref)
		first, last, _ := strings.Cut(m.Name, " ")
		rec := record{"id": id, "userName": m.Identifier, "firstName": first, "lastName": last, "email": m.Email,
			"isActive": !slices.Contains(inactive, m.Ref), "licenseType": 1, "resourceType": "Employee"}
		if m.Phone != "" {
			rec["mobilePhone"] = m.Phone
		}
		s.resources[id] = &resourceRec{rec: rec}
		s.lastID = max(s.lastID, id)
	}
}

func (r record) str(k string) string {
	v, _ := r.get(k)
	s, _ := v.(string)
	return s
}

func (r record) num(k string) int64 {
	v, _ := r.get(k)
	return int64(toFloat(v))
}

func mustInt(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// serveWrites serves the routes of this file; it reports whether it did.
func (s *Server) serveWrites(w http.ResponseWriter, r *http.Request, ep *Endpoint, params []string, body []byte) bool {
	parent := func() int64 { n, _ := strconv.ParseInt(params[0], 10, 64); return n }
	switch {
	case ep.Path == "/V1.0/Tickets" && r.Method == http.MethodPost:
		s.createTicket(w, r, body)
	case ep.Path == "/V1.0/Tickets" && r.Method == http.MethodPatch:
		s.patchTicket(w, r, body)
	case ep.Path == "/V1.0/Companies/{parentId}/Contacts" && r.Method == http.MethodPatch:
		s.patchContact(w, parent(), body)
	case ep.Path == "/V1.0/Companies/{parentId}/Notes" && r.Method == http.MethodPost:
		s.createCompanyNote(w, r, parent(), body)
	default:
		return false
	}
	return true
}

// decodeWire reads a validated body into camelCase keys.
func decodeWire(body []byte) record {
	var in map[string]any
	_ = json.Unmarshal(body, &in)
	rec := record{}
	for k, v := range in {
		if f, ok := v.(float64); ok {
			v = int64(f)
		}
		rec[lowerFirst(k)] = v
	}
	return rec
}

// refuse answers as Autotask answers a write it will not do.
func refuse(w http.ResponseWriter, msg string, args ...any) {
	writeErrors(w, http.StatusInternalServerError, fmt.Sprintf(msg, args...))
}

// missing returns the first of names rec lacks (absent, null, "" or 0).
func missing(rec record, names ...string) string {
	for _, n := range names {
		v, ok := rec.get(n)
		if !ok || v == nil || fmt.Sprint(v) == "" || fmt.Sprint(v) == "0" {
			return n
		}
	}
	return ""
}

// requiredOf returns the fields entity information marks required and not
// read-only: what a create must carry.
func (s *Server) requiredOf(entity string) []string {
	var out []string
	for _, f := range s.fieldInfo(entity) {
		if f["isRequired"] == true && f["isReadOnly"] != true {
			out = append(out, f["name"].(string))
		}
	}
	return out
}

// inPicklist reports whether v is an active value of entity's field.
func (s *Server) inPicklist(entity, field string, v any) bool {
	for _, f := range s.fieldInfo(entity) {
		if f["name"] != field {
			continue
		}
		picks, _ := f["picklistValues"].([]map[string]any)
		for _, p := range picks {
			if p["value"] == fmt.Sprint(v) && p["isActive"] == true {
				return true
			}
		}
	}
	return false
}

// creatorLocked checks ImpersonationResourceId and returns who creates the
// record and who impersonates; ok false means Autotask refuses.
func (s *Server) creatorLocked(r *http.Request) (creator, impersonator int64, ok bool) {
	h := r.Header.Get("ImpersonationResourceId")
	if h == "" {
		return s.apiUser, 0, true
	}
	rid, err := strconv.ParseInt(h, 10, 64)
	res := s.resources[rid]
	if err != nil || res == nil || !res.impersonation || !s.impersonate {
		return 0, 0, false
	}
	return rid, s.apiUser, true
}

// activeContactOf reports whether id is an active contact of company.
func (s *Server) activeContactOf(id, company int64) bool {
	c := s.contacts[id]
	return c != nil && c.num("companyID") == company && c.num("isActive") != 0
}

func (s *Server) checkTicketFields(rec record) string {
	for _, f := range []string{"status", "priority", "queueID", "source"} {
		if v, ok := rec.get(f); ok && v != nil && !s.inPicklist("tickets", f, v) {
			return fmt.Sprintf("Value %v is not a valid value for %s.", v, f)
		}
	}
	if utf8Len(rec.str("title")) > maxTicketTitle {
		return fmt.Sprintf("title is longer than %d characters.", maxTicketTitle)
	}
	if utf8Len(rec.str("description")) > maxTicketDescription {
		return fmt.Sprintf("description is longer than %d characters.", maxTicketDescription)
	}
	return ""
}

func utf8Len(s string) int { return len([]rune(s)) }

func (s *Server) createTicket(w http.ResponseWriter, r *http.Request, body []byte) {
	rec := decodeWire(body)
	if id := rec.num("id"); id != 0 {
		refuse(w, "id must not be set on a new ticket.")
		return
	}
	if f := missing(rec, s.requiredOf("tickets")...); f != "" {
		refuse(w, "Missing Required Field: %s", f)
		return
	}
	company := rec.num("companyID")
	if s.companies[company] == nil {
		refuse(w, "Value does not reference an existing entity for companyID. ")
		return
	}
	if c := rec.num("contactID"); c != 0 && !s.activeContactOf(c, company) {
		refuse(w, "Value does not reference an existing entity for contactID. ")
		return
	}
	if msg := s.checkTicketFields(rec); msg != "" {
		refuse(w, "%s", msg)
		return
	}
	if rec.num("queueID") == 0 && (rec.num("assignedResourceID") == 0 || rec.num("assignedResourceRoleID") == 0) {
		refuse(w, "AssignedResourceID, AssignedResourceRoleID, and QueueID cannot all be empty. Supply a QueueID or both a AssignedResourceID and AssignedResourceRoleID.")
		return
	}
	creator, impersonator, ok := s.creatorLocked(r)
	if !ok {
		refuse(w, "The logged in user does not have permission to impersonate resource %s.", r.Header.Get("ImpersonationResourceId"))
		return
	}
	s.lastID++
	rec["id"] = s.lastID
	rec["ticketNumber"] = fmt.Sprintf("T%s.%04d", time.Now().UTC().Format("20060102"), len(s.tickets)+1)
	rec["createDate"] = time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	rec["creatorResourceID"] = creator
	if impersonator != 0 {
		rec["impersonatorCreatorResourceID"] = impersonator
	}
	s.tickets[s.lastID] = &rec
	writeJSON(w, http.StatusOK, map[string]any{"itemId": s.lastID})
}

// patchTicket changes the fields the body carries on the ticket its id
// names (Autotask's PATCH is a sparse update; PUT would replace the
// ticket).
func (s *Server) patchTicket(w http.ResponseWriter, r *http.Request, body []byte) {
	in := decodeWire(body)
	id := in.num("id")
	t := s.tickets[id]
	if id == 0 || t == nil {
		refuse(w, "Unable to find the Tickets entity with id %d.", id)
		return
	}
	merged := record{}
	for k, v := range *t {
		merged[k] = v
	}
	for k, v := range in {
		merged[k] = v
	}
	for _, ro := range []string{"ticketNumber", "createDate", "creatorResourceID"} {
		if _, ok := in.get(ro); ok {
			refuse(w, "%s is read-only.", ro)
			return
		}
	}
	if c := merged.num("contactID"); c != 0 && !s.activeContactOf(c, merged.num("companyID")) {
		refuse(w, "Value does not reference an existing entity for contactID. ")
		return
	}
	if msg := s.checkTicketFields(merged); msg != "" {
		refuse(w, "%s", msg)
		return
	}
	if _, _, ok := s.creatorLocked(r); !ok {
		refuse(w, "The logged in user does not have permission to impersonate resource %s.", r.Header.Get("ImpersonationResourceId"))
		return
	}
	*t = merged
	writeJSON(w, http.StatusOK, map[string]any{"itemId": id})
}

// patchContact changes the fields the body carries on the contact its id
// names, under the company of the path.
func (s *Server) patchContact(w http.ResponseWriter, company int64, body []byte) {
	if s.companies[company] == nil {
		writeErrors(w, http.StatusNotFound, fmt.Sprintf("Company %d was not found.", company))
		return
	}
	in := decodeWire(body)
	id := in.num("id")
	c := s.contacts[id]
	if id == 0 || c == nil || c.num("companyID") != company {
		refuse(w, "Unable to find the Contacts entity with id %d under company %d.", id, company)
		return
	}
	if v, ok := in.get("companyID"); ok && int64(toFloat(v)) != company {
		refuse(w, "companyID does not match the parent company.")
		return
	}
	for _, f := range []string{"phone", "mobilePhone", "alternatePhone", "faxNumber"} {
		if utf8Len(in.str(f)) > maxPhone {
			refuse(w, "%s is longer than %d characters.", f, maxPhone)
			return
		}
	}
	for _, f := range []string{"firstName", "lastName"} {
		if v, ok := in.get(f); ok && fmt.Sprint(v) == "" {
			refuse(w, "Missing Required Field: %s", f)
			return
		}
	}
	for k, v := range in {
		(*c)[k] = v
	}
	writeJSON(w, http.StatusOK, map[string]any{"itemId": id})
}

func (s *Server) createCompanyNote(w http.ResponseWriter, r *http.Request, company int64, body []byte) {
	if s.companies[company] == nil {
		writeErrors(w, http.StatusNotFound, fmt.Sprintf("Company %d was not found.", company))
		return
	}
	rec := decodeWire(body)
	if id := rec.num("id"); id != 0 {
		refuse(w, "id must not be set on a new note.")
		return
	}
	if _, ok := rec.get("companyID"); !ok {
		rec["companyID"] = company
	}
	if f := missing(rec, s.requiredOf("companynotes")...); f != "" {
		refuse(w, "Missing Required Field: %s", f)
		return
	}
	if rec.num("companyID") != company {
		refuse(w, "companyID does not match the parent company.")
		return
	}
	if c := rec.num("contactID"); c != 0 && !s.activeContactOf(c, company) {
		refuse(w, "contactID must reference an isActive Autotask Contact that is associated with the Company referenced by the companyID field.")
		return
	}
	if a := rec.num("assignedResourceID"); a != 0 {
		res := s.resources[a]
		if res == nil || res.rec["isActive"] != true {
			refuse(w, "Value does not reference an existing entity for assignedResourceID. ")
			return
		}
	}
	if !s.inPicklist("companynotes", "actionType", rec.num("actionType")) {
		refuse(w, "Value %d is not a valid value for actionType.", rec.num("actionType"))
		return
	}
	times := map[string]time.Time{}
	for _, f := range []string{"startDateTime", "endDateTime", "completedDateTime"} {
		v := rec.str(f)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			refuse(w, "%s is not a date and time: %s", f, v)
			return
		}
		times[f] = t
	}
	if times["endDateTime"].Before(times["startDateTime"]) {
		refuse(w, "endDateTime must not be before startDateTime.")
		return
	}
	if utf8Len(rec.str("name")) > maxNoteName || utf8Len(rec.str("note")) > maxNoteText {
		refuse(w, "name is at most %d and note at most %d characters long.", maxNoteName, maxNoteText)
		return
	}
	_, impersonator, ok := s.creatorLocked(r)
	if !ok {
		refuse(w, "The logged in user does not have permission to impersonate resource %s.", r.Header.Get("ImpersonationResourceId"))
		return
	}
	s.lastID++
	s.companyNotes = append(s.companyNotes, CompanyNoteRecord{ID: s.lastID, CompanyID: company, ContactID: rec.num("contactID"),
		ActionType: int(rec.num("actionType")), AssignedResourceID: rec.num("assignedResourceID"), Name: rec.str("name"),
		Note: rec.str("note"), Start: rec.str("startDateTime"), End: rec.str("endDateTime"), Completed: rec.str("completedDateTime"),
		ImpersonatorCreatorResourceID: impersonator})
	writeJSON(w, http.StatusOK, map[string]any{"itemId": s.lastID})
}

func (n CompanyNoteRecord) record() record {
	rec := record{"id": n.ID, "companyID": n.CompanyID, "actionType": n.ActionType, "assignedResourceID": n.AssignedResourceID,
		"name": n.Name, "note": n.Note, "startDateTime": n.Start, "endDateTime": n.End, "createDateTime": n.Start}
	if n.ContactID != 0 {
		rec["contactID"] = n.ContactID
	}
	if n.Completed != "" {
		rec["completedDateTime"] = n.Completed
	}
	if n.ImpersonatorCreatorResourceID != 0 {
		rec["impersonatorCreatorResourceID"] = n.ImpersonatorCreatorResourceID
	}
	return rec
}

// RequireField marks a field of entity ("Tickets", "CompanyNotes")
// required in the entity information, as a tenant (or a ticket category)
// can: a create without it is refused.
func (s *Server) RequireField(entity, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := strings.ToLower(entity)
	s.requiredBy[e] = append(s.requiredBy[e], name)
}

// withRequired adds names to fields as required string fields, or marks
// the field of that name required.
func withRequired(field func(name, typ string, required bool, picks ...map[string]any) map[string]any, fields []map[string]any, names ...string) []map[string]any {
	for _, n := range names {
		found := false
		for _, f := range fields {
			if strings.EqualFold(f["name"].(string), n) {
				f["isRequired"], found = true, true
			}
		}
		if !found {
			fields = append(fields, field(n, "string", true))
		}
	}
	return fields
}
