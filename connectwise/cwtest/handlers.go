package cwtest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/countersign/countersign/core/psa/psafake"
	"github.com/countersign/countersign/core/psa/psatest"
)

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// statusWriter records the status of an answer for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// req is one API request being served.
type req struct {
	r     *http.Request
	w     http.ResponseWriter
	ep    *Endpoint
	route string   // "GET /company/contacts/{id}"
	segs  []string // path segments after apis/3.0
	who   *member  // the authenticated member
	body  []byte
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	entry := Request{Method: r.Method, Host: hostOnly(r.Host), Route: r.URL.Path, Query: r.URL.Query()}
	defer func() {
		entry.Status = sw.status
		s.mu.Lock()
		s.log = append(s.log, entry)
		s.mu.Unlock()
	}()
	s.serve(sw, r, &entry)
}

func hostOnly(h string) string {
	if i := strings.LastIndexByte(h, ':'); i > 0 && !strings.Contains(h[i:], "]") {
		return strings.ToLower(h[:i])
	}
	return strings.ToLower(h)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, entry *Request) {
	if s.serveOutsideAPI(w, r, entry) {
		return
	}
	if f, ok := s.Begin(); ok {
		f.Write(w, func(w http.ResponseWriter, status int) { writeStatusError(w, status, f.RetryAfter) })
		return
	}
	q, ok := s.route(w, r)
	if !ok {
		return
	}
	entry.Route = q.route
	if !s.checkRequestHeaders(q) || !s.authorize(q, entry) || !s.readBody(q) {
		return
	}
	h, ok := s.handlers()[q.route]
	if !ok {
		h, ok = s.setupHandlers()[q.route] // callbacks.go
	}
	if !ok {
		s.violation("%s is in the contract but cwtest does not implement it", q.route)
		writeError(w, http.StatusNotImplemented, "ConnectWiseApi", "cwtest does not implement "+q.route, nil)
		return
	}
	h(q)
}

// serveOutsideAPI answers, and reports whether it did, what the server
// answers before the API's faults and checks: an outage page, and the
// sign-in's company info and callback key.
func (s *Server) serveOutsideAPI(w http.ResponseWriter, r *http.Request, entry *Request) bool {
	if s.Down() {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "<html><head><title>503 Service Temporarily Unavailable</title></head><body><h1>Service Temporarily Unavailable</h1></body></html>")
		return true
	}
	if rest, ok := strings.CutPrefix(r.URL.Path, "/login/companyinfo/"); ok && r.Method == http.MethodGet {
		entry.Route = "GET /login/companyinfo/{companyId}"
		s.handleCompanyInfo(w, r, rest)
		return true
	}
	if r.Method == http.MethodGet && isCallbackKeyPath(r.URL.Path) {
		entry.Route = "GET /system/callbackkey/index.rails"
		s.handleCallbackKey(w, r)
		return true
	}
	return false
}

// route matches r to an endpoint of the contract on the API host, or
// answers as ConnectWise does (and records a violation) when there is
// none.
func (s *Server) route(w http.ResponseWriter, r *http.Request) (*req, bool) {
	s.mu.Lock()
	codebase := s.codebase
	s.mu.Unlock()
	// The API answers on the api- host only; API keys on a cloud sign-in
	// host are refused (reference §1).
	if s.cloud && hostOnly(r.Host) != s.apiHost {
		writeError(w, http.StatusForbidden, "Security", "SSL is required for API access through "+hostOnly(r.Host)+": use "+s.apiHost, nil)
		return nil, false
	}
	prefix := "/" + codebase + "apis/3.0"
	rest, ok := strings.CutPrefix(r.URL.Path, prefix)
	if !ok || rest == "" {
		writeCannotRoute(w)
		return nil, false
	}
	ep, other := s.contract.Match(r.Method, rest)
	if ep == nil {
		if other {
			s.violation("%s %s: the contract has this path, but not with method %s", r.Method, rest, r.Method)
			writeError(w, http.StatusMethodNotAllowed, "ConnectWiseApi", fmt.Sprintf("The requested resource does not support http method '%s'.", r.Method), nil)
			return nil, false
		}
		s.violation("%s %s is not in the contract (or not in cwtest's extract of it: see the cwtest package doc)", r.Method, rest)
		writeError(w, http.StatusNotFound, "ConnectWiseApi", "The endpoint does not exist.", nil)
		return nil, false
	}
	return &req{r: r, w: w, ep: ep, route: ep.Method + " " + ep.Path, segs: strings.Split(strings.Trim(rest, "/"), "/")}, true
}

// checkRequestHeaders holds q to the contract's query parameters, the
// pinned Accept version and a clientId.
func (s *Server) checkRequestHeaders(q *req) bool {
	for name := range q.r.URL.Query() {
		if !q.ep.AllowsQuery(name) {
			s.violation("%s: query parameter %q is not in the contract (allowed: %v)", q.route, name, q.ep.Query)
			writeError(q.w, http.StatusBadRequest, "InvalidObject", fmt.Sprintf("The query parameter %s is not supported.", name), nil)
			return false
		}
	}
	if got := q.r.Header.Get("Accept"); got != "application/vnd.connectwise.com+json; version=2025.1" {
		s.violation("%s: Accept is %q, not the pinned application/vnd.connectwise.com+json; version=2025.1", q.route, got)
		writeError(q.w, http.StatusBadRequest, "InvalidObject", "Unsupported Accept header.", nil)
		return false
	}
	if q.r.Header.Get("clientId") == "" {
		s.violation("%s: no clientId header", q.route)
		writeError(q.w, http.StatusUnauthorized, "Unauthorized", "clientId is required.", nil)
		return false
	}
	return true
}

// authorize authenticates q's member and refuses a route forbidden to
// them.
func (s *Server) authorize(q *req, entry *Request) bool {
	who, form, ok := s.authenticate(q.r)
	entry.Auth = form
	if !ok {
		s.mu.Lock()
		unroutable := s.unroutable
		s.mu.Unlock()
		if unroutable {
			writeCannotRoute(q.w)
			return false
		}
		writeError(q.w, http.StatusUnauthorized, "ConnectWiseApi", "UserNotAuthenticated", nil)
		return false
	}
	q.who = who
	s.mu.Lock()
	forbidden := s.forbidden[who.forbidKey()+" "+q.route]
	s.mu.Unlock()
	if forbidden {
		writeError(q.w, http.StatusForbidden, "Forbidden", "You do not have permission to access this resource.", nil)
		return false
	}
	return true
}

// readBody reads q's body and holds it to the endpoint's model; missing
// required fields get ConnectWise's own answer.
func (s *Server) readBody(q *req) bool {
	body, err := io.ReadAll(io.LimitReader(q.r.Body, 1<<20))
	if err != nil {
		writeError(q.w, http.StatusBadRequest, "InvalidObject", "The request body could not be read.", nil)
		return false
	}
	if len(strings.TrimSpace(string(body))) > 0 && q.ep.Body != nil && !strings.HasPrefix(q.r.Header.Get("Content-Type"), "application/json") {
		s.violation("%s: body sent without Content-Type application/json", q.route)
	}
	if err := s.contract.ValidateBody(q.ep, body); err != nil {
		var mf *psafake.MissingFieldsError
		if errors.As(err, &mf) {
			var fe []fieldError
			for _, f := range mf.Fields {
				fe = append(fe, fieldError{Code: "MissingRequiredField", Message: "The " + f + " field is required.", Resource: lowerFirst(mf.Model), Field: f})
			}
			writeError(q.w, http.StatusBadRequest, "InvalidObject", lowerFirst(mf.Model)+" object is invalid", fe)
			return false
		}
		s.violation("%s: %v", q.route, err)
		writeError(q.w, http.StatusBadRequest, "InvalidObject", "The request body is invalid: "+err.Error(), nil)
		return false
	}
	q.body = body
	return true
}

func (m *member) forbidKey() string {
	if m.hash == "" {
		return ""
	}
	return m.rec.Identifier
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// authenticate checks r's credentials: API keys (Basic
// companyId+publicKey:privateKey) or a pod member's auth, in one of the
// forms the tenant accepts. A request must not carry both.
func (s *Server) authenticate(r *http.Request) (*member, string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	authz := r.Header.Get("Authorization")
	cookies := r.Cookies()
	if authz != "" && len(cookies) > 0 {
		s.v.Add("a request carries both an Authorization header and member cookies")
		return nil, "", false
	}
	accepts := func(form string) bool {
		for _, f := range s.memberForms {
			if f == form {
				return true
			}
		}
		return false
	}
	if authz != "" {
		raw, ok := strings.CutPrefix(authz, "Basic ")
		if !ok {
			return nil, "", false
		}
		dec, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			return nil, "", false
		}
		user, pass, _ := strings.Cut(string(dec), ":")
		company, id, ok := strings.Cut(user, "+")
		if !ok || !strings.EqualFold(company, s.company) {
			return nil, "", false
		}
		if id == PublicKey && pass == PrivateKey && !s.rejectKeys {
			m := s.apiMember
			return &m, "api-key", true
		}
		for i := range s.podMembers {
			m := s.podMembers[i]
			if strings.EqualFold(id, m.rec.Identifier) && pass == m.hash {
				return &m, "member-basic", accepts("member-basic")
			}
		}
		return nil, "", false
	}
	vals := map[string]string{}
	for _, c := range cookies {
		vals[c.Name] = c.Value
	}
	if len(vals) == 0 {
		return nil, "", false
	}
	unesc := func(v string) string {
		u, err := url.QueryUnescape(v)
		if err != nil {
			return v
		}
		return u
	}
	for i := range s.podMembers {
		m := s.podMembers[i]
		for _, form := range []string{"member-cookie", "member-cookie-escaped", "member-cookie-no-context"} {
			get := func(k string) string {
				if form == "member-cookie-escaped" {
					return unesc(vals[k])
				}
				return vals[k]
			}
			ctxOK := get("memberContext") == m.context
			if form == "member-cookie-no-context" {
				_, has := vals["memberContext"]
				ctxOK = !has
			}
			if strings.EqualFold(get("companyName"), s.company) && strings.EqualFold(get("memberId"), m.rec.Identifier) &&
				get("memberHash") == m.hash && ctxOK {
				if form == "member-cookie-escaped" && vals["memberHash"] == m.hash && vals["memberContext"] == m.context {
					continue // nothing needed escaping: that is the plain cookie form
				}
				return &m, form, accepts(form)
			}
		}
	}
	return nil, "", false
}

// writeCannotRoute writes what ConnectWise sends for a wrong codebase or
// company: plain text, not JSON (observed, reference §1).
func writeCannotRoute(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusNotFound)
	io.WriteString(w, "Cannot route. Codebase/company is invalid")
}

// fieldError is one entry of an error body's errors array.
type fieldError struct {
	Code     string `json:"code"`
	Message  string `json:"message"`
	Resource string `json:"resource,omitempty"`
	Field    string `json:"field,omitempty"`
}

// writeError writes ConnectWise's error shape (reference §3).
func writeError(w http.ResponseWriter, status int, code, msg string, errs []fieldError) {
	body := map[string]any{"code": code, "message": msg}
	if len(errs) > 0 {
		body["errors"] = errs
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

// writeStatusError writes what ConnectWise (or what stands in front of it)
// answers with status.
func writeStatusError(w http.ResponseWriter, status int, retryAfter string) {
	switch {
	case status == http.StatusTooManyRequests:
		// The 429 body says "error" where others say "code" (official).
		wait := retryAfter
		if wait == "" {
			wait = "60"
		}
		b, _ := json.Marshal(map[string]string{"error": "TooManyRequests", "message": "Rate limit exceeded. Try again in " + wait + " seconds."})
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		w.Write(b)
	case status == http.StatusUnauthorized:
		writeError(w, status, "ConnectWiseApi", "UserNotAuthenticated", nil)
	case status == http.StatusForbidden:
		writeError(w, status, "Forbidden", "You do not have permission to access this resource.", nil)
	case status == http.StatusNotFound:
		writeError(w, status, "NotFound", "The record was not found.", nil)
	case status == http.StatusBadRequest:
		writeError(w, status, "InvalidObject", "The request is invalid.", nil)
	case status == http.StatusServiceUnavailable || status == http.StatusBadGateway || status == http.StatusGatewayTimeout:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>", status, http.StatusText(status))
	default:
		writeError(w, status, "ConnectWiseApi", "An error has occurred.", nil)
	}
}

// handleCompanyInfo serves GET /login/companyinfo/{companyId}, the
// unauthenticated codebase discovery outside /apis/3.0. An unknown company
// gets 200 and null.
func (s *Server) handleCompanyInfo(w http.ResponseWriter, r *http.Request, company string) {
	if r.Header.Get("Authorization") != "" || r.Header.Get("clientId") != "" || len(r.Cookies()) > 0 {
		s.violation("GET /login/companyinfo: credentials sent to an unauthenticated endpoint")
	}
	company, _ = url.PathUnescape(company)
	s.mu.Lock()
	codebase := s.codebase
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if !strings.EqualFold(company, s.company) {
		io.WriteString(w, "null")
		return
	}
	cloud := "False"
	if s.cloud {
		cloud = "True"
	}
	version := "v" + strings.ReplaceAll(strings.TrimSuffix(codebase, "/"), "_", ".")
	b, _ := json.Marshal(map[string]string{
		"CompanyName": "Countersign Test MSP", "Codebase": codebase, "VersionCode": strings.TrimPrefix(version, "v"),
		"VersionNumber": "v4.6.12345", "CompanyID": s.company, "IsCloud": cloud, "SiteUrl": s.site,
	})
	w.Write(b)
}

// handlers returns the implemented routes, by contract method and path.
func (s *Server) handlers() map[string]func(*req) {
	return map[string]func(*req){
		"GET /system/info":                       s.handleSystemInfo,
		"GET /system/myMembers/info":             s.handleMyMemberInfo,
		"GET /system/members":                    s.handleMembers,
		"GET /company/communicationTypes":        s.handleCommTypes,
		"GET /company/companies":                 s.handleCompanies,
		"GET /company/companies/{id}":            s.handleCompany,
		"GET /company/contacts":                  s.handleContacts,
		"GET /company/contacts/{id}":             s.handleContact,
		"POST /company/contacts":                 s.handleCreateContact,
		"GET /service/tickets":                   s.handleTickets,
		"POST /service/tickets":                  s.handleCreateTicket,
		"GET /service/tickets/{id}":              s.handleTicket,
		"PATCH /service/tickets/{id}":            s.handlePatchTicket,
		"POST /service/tickets/{parentId}/notes": s.handleAddNote,
		"GET /service/tickets/{parentId}/notes":  s.handleNotes,

		"POST /company/contacts/{parentId}/notes":              s.handleAddContactNote,
		"POST /company/contacts/{parentId}/communications":     s.handleAddCommunication,
		"PUT /company/contacts/{parentId}/communications/{id}": s.handlePutCommunication,
	}
}

func (s *Server) handleSystemInfo(q *req) {
	s.writeJSON(q, http.StatusOK, "Info", false, systemInfoRec{Version: "v2025.1.12345", IsCloud: s.cloud, ServerTimeZone: "Eastern Standard Time", CloudRegion: "NA"})
}

func (s *Server) handleMyMemberInfo(q *req) {
	s.writeJSON(q, http.StatusOK, "MyMemberInfo", false, q.who.info())
}

func (s *Server) handleMembers(q *req) {
	s.mu.Lock()
	recs := []any{s.apiMember.rec}
	for _, m := range s.podMembers {
		recs = append(recs, m.rec)
	}
	for _, m := range s.staff {
		recs = append(recs, m.rec)
	}
	s.mu.Unlock()
	s.writeList(q, "Member", recs)
}

func (s *Server) handleCommTypes(q *req) {
	s.mu.Lock()
	var recs []any
	for _, t := range s.commTypes {
		t.Info = info{}
		recs = append(recs, t)
	}
	s.mu.Unlock()
	s.writeList(q, "CommunicationType", recs)
}

func (s *Server) handleCompanies(q *req) {
	s.mu.Lock()
	var recs []any
	for _, c := range s.companies {
		if q.who.sees(c.ID) {
			recs = append(recs, c)
		}
	}
	s.mu.Unlock()
	s.writeList(q, "Company", recs)
}

func (s *Server) handleCompany(q *req) {
	id, ok := s.pathID(q, 2, "Company")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.companies {
		if c.ID == id {
			if !q.who.sees(c.ID) {
				writeHidden(q)
				return
			}
			s.writeJSONLocked(q, http.StatusOK, "Company", false, c)
			return
		}
	}
	writeError(q.w, http.StatusNotFound, "NotFound", fmt.Sprintf("Company %d not found", id), nil)
}

// writeHidden answers a read of a record the member's security role hides.
func writeHidden(q *req) {
	writeError(q.w, http.StatusForbidden, "Forbidden", "You do not have permission to access this record.", nil)
}

func (s *Server) handleContacts(q *req) {
	s.mu.Lock()
	var recs []any
	for _, c := range s.contacts {
		if q.who.sees(c.companyID()) {
			recs = append(recs, c)
		}
	}
	s.mu.Unlock()
	s.writeList(q, "Contact", recs)
}

func (s *Server) handleContact(q *req) {
	id, ok := s.pathID(q, 2, "Contact")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.contacts {
		if c.ID == id {
			if !q.who.sees(c.companyID()) {
				writeHidden(q)
				return
			}
			s.writeJSONLocked(q, http.StatusOK, "Contact", false, c)
			return
		}
	}
	writeError(q.w, http.StatusNotFound, "NotFound", fmt.Sprintf("Contact %d not found", id), nil)
}

// handleCreateContact serves POST /company/contacts. ConnectWise refuses a
// contact without firstName though the contract does not mark it required
// (observed), and files each communication item under an existing type.
func (s *Server) handleCreateContact(q *req) {
	var in struct {
		FirstName          string     `json:"firstName"`
		LastName           string     `json:"lastName"`
		Title              string     `json:"title"`
		Company            *reference `json:"company"`
		CommunicationItems []struct {
			Type        *reference `json:"type"`
			Value       string     `json:"value"`
			Extension   string     `json:"extension"`
			DefaultFlag bool       `json:"defaultFlag"`
		} `json:"communicationItems"`
	}
	if err := json.Unmarshal(q.body, &in); err != nil {
		writeError(q.w, http.StatusBadRequest, "InvalidObject", "contact object is invalid", nil)
		return
	}
	invalid := func(field, msg string) {
		writeError(q.w, http.StatusBadRequest, "InvalidObject", "contact object is invalid",
			[]fieldError{{Code: "MissingRequiredField", Message: msg, Resource: "contact", Field: field}})
	}
	if strings.TrimSpace(in.FirstName) == "" {
		invalid("firstName", "The firstName field is required.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := contactRec{FirstName: in.FirstName, LastName: in.LastName, Title: in.Title, CommunicationItems: []commItemRec{},
		Types: []reference{}, CustomFields: []any{}, Info: info{"lastUpdated": time.Now().UTC().Format(time.RFC3339), "updatedBy": "api"}}
	if in.Company != nil {
		found := false
		for _, c := range s.companies {
			if c.ID == in.Company.ID {
				found = true
			}
		}
		if !found {
			writeError(q.w, http.StatusBadRequest, "InvalidObject", "contact object is invalid",
				[]fieldError{{Code: "InvalidField", Message: "The company is not valid.", Resource: "contact", Field: "company"}})
			return
		}
		ref := s.companyRefLocked(in.Company.ID)
		rec.Company = &ref
	}
	for i, it := range in.CommunicationItems {
		if it.Type == nil || strings.TrimSpace(it.Value) == "" {
			invalid(fmt.Sprintf("communicationItems[%d]", i), "A communication item needs a type and a value.")
			return
		}
		var t *commTypeRec
		for j := range s.commTypes {
			if s.commTypes[j].ID == it.Type.ID {
				t = &s.commTypes[j]
			}
		}
		if t == nil {
			invalid(fmt.Sprintf("communicationItems[%d].type", i), "The communication type is not valid.")
			return
		}
		s.lastID++
		rec.CommunicationItems = append(rec.CommunicationItems, commItemRec{ID: s.lastID, Type: reference{ID: t.ID, Name: t.Description, Info: info{}},
			Value: it.Value, Extension: it.Extension, DefaultFlag: it.DefaultFlag, CommunicationType: t.kind()})
	}
	s.lastID++
	rec.ID = s.lastID
	s.contacts = append(s.contacts, rec)
	s.writeJSONLocked(q, http.StatusCreated, "Contact", false, rec)
}

// handleCreateTicket serves POST /service/tickets for what the client
// sends: a summary (the contract's 100 characters at most), the company,
// optionally a contact of that company, and the initial description. The
// ticket is a New service ticket on the company's default board.
func (s *Server) handleCreateTicket(q *req) {
	var in struct {
		Summary            string     `json:"summary"`
		Company            *reference `json:"company"`
		Contact            *reference `json:"contact"`
		InitialDescription string     `json:"initialDescription"`
	}
	if err := json.Unmarshal(q.body, &in); err != nil {
		writeError(q.w, http.StatusBadRequest, "InvalidObject", "ticket object is invalid", nil)
		return
	}
	invalid := func(code, field, msg string) {
		writeError(q.w, http.StatusBadRequest, "InvalidObject", "ticket object is invalid",
			[]fieldError{{Code: code, Message: msg, Resource: "ticket", Field: field}})
	}
	switch {
	case strings.TrimSpace(in.Summary) == "":
		invalid("MissingRequiredField", "summary", "The summary field is required.")
		return
	case len([]rune(in.Summary)) > 100:
		invalid("InvalidField", "summary", "The summary field may be at most 100 characters.")
		return
	case in.Company == nil:
		invalid("MissingRequiredField", "company", "The company field is required.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.ContainsFunc(s.companies, func(c companyRec) bool { return c.ID == in.Company.ID }) {
		invalid("InvalidField", "company", "The company is not valid.")
		return
	}
	if !q.who.sees(in.Company.ID) {
		writeHidden(q)
		return
	}
	rec := ticketRec{Summary: in.Summary, RecordType: "ServiceTicket", Status: &reference{ID: 1, Name: "New", Info: info{}},
		Company: s.companyRefLocked(in.Company.ID), InitialDescription: in.InitialDescription,
		Info: info{"lastUpdated": time.Now().UTC().Format(time.RFC3339), "updatedBy": "api"}}
	if in.Contact != nil {
		var ct *contactRec
		for i := range s.contacts {
			if s.contacts[i].ID == in.Contact.ID {
				ct = &s.contacts[i]
			}
		}
		if ct == nil || ct.Company == nil || ct.Company.ID != in.Company.ID {
			invalid("InvalidField", "contact", "The contact is not valid for this company.")
			return
		}
		name := strings.TrimSpace(ct.FirstName + " " + ct.LastName)
		rec.Contact, rec.ContactName = &reference{ID: ct.ID, Name: name, Info: info{}}, name
	}
	s.lastID++
	rec.ID = s.lastID
	s.tickets = append(s.tickets, rec)
	s.writeJSONLocked(q, http.StatusCreated, "Ticket", false, rec)
}

func (s *Server) handleTickets(q *req) {
	s.mu.Lock()
	var recs []any
	for _, t := range s.tickets {
		if q.who.sees(t.Company.ID) {
			recs = append(recs, t)
		}
	}
	s.mu.Unlock()
	s.writeList(q, "Ticket", recs)
}

func (s *Server) handleTicket(q *req) {
	id, ok := s.pathID(q, 2, "Ticket")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tickets {
		if t.ID == id {
			if !q.who.sees(t.Company.ID) {
				writeHidden(q)
				return
			}
			s.writeJSONLocked(q, http.StatusOK, "Ticket", false, t)
			return
		}
	}
	writeError(q.w, http.StatusNotFound, "NotFound", fmt.Sprintf("Ticket %d not found", id), nil)
}

// handlePatchTicket serves PATCH /service/tickets/{id} for what the client
// patches: the contact, replaced as a whole reference to a contact of the
// ticket's company (or of none). Any other operation is a violation.
func (s *Server) handlePatchTicket(q *req) {
	id, ok := s.pathID(q, 2, "Ticket")
	if !ok {
		return
	}
	var ops []struct {
		Op    string          `json:"op"`
		Path  string          `json:"path"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(q.body, &ops); err != nil || len(ops) == 0 {
		writeError(q.w, http.StatusBadRequest, "InvalidObject", "The patch operations are invalid.", nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var t *ticketRec
	for i := range s.tickets {
		if s.tickets[i].ID == id {
			t = &s.tickets[i]
		}
	}
	if t == nil {
		writeError(q.w, http.StatusNotFound, "NotFound", fmt.Sprintf("Ticket %d not found", id), nil)
		return
	}
	if !q.who.sees(t.Company.ID) {
		writeHidden(q)
		return
	}
	for _, op := range ops {
		var ref struct {
			ID *int `json:"id"`
		}
		if op.Op != "replace" || op.Path != "contact" || json.Unmarshal(op.Value, &ref) != nil || ref.ID == nil {
			s.violation("%s: cwtest patches only the contact, as a whole reference: %s %s %s", q.route, op.Op, op.Path, op.Value)
			writeError(q.w, http.StatusBadRequest, "InvalidObject", "ticket object is invalid", nil)
			return
		}
		var c *contactRec
		for i := range s.contacts {
			if s.contacts[i].ID == *ref.ID {
				c = &s.contacts[i]
			}
		}
		if c == nil || c.companyID() != t.Company.ID {
			writeError(q.w, http.StatusBadRequest, "InvalidObject", "ticket object is invalid",
				[]fieldError{{Code: "InvalidField", Message: "The contact is not a contact of the ticket's company.", Resource: "ticket", Field: "contact"}})
			return
		}
		t.Contact = &reference{ID: c.ID, Name: strings.TrimSpace(c.FirstName + " " + c.LastName), Info: info{}}
	}
	s.writeJSONLocked(q, http.StatusOK, "Ticket", false, *t)
}

// TicketContact returns the contact ref of the ticket with ref; "" for
// none.
func (s *Server) TicketContact(ticketRef string) string {
	id, err := refID(ticketRef)
	if err != nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tickets {
		if t.ID == id && t.Contact != nil {
			return strconv.Itoa(t.Contact.ID)
		}
	}
	return ""
}

// handleAddNote serves POST /service/tickets/{parentId}/notes. A note must
// say where it is displayed: one of detailDescriptionFlag,
// internalAnalysisFlag and resolutionFlag true, else 400 (observed;
// reference §7.6).
func (s *Server) handleAddNote(q *req) {
	id, ok := s.pathID(q, 2, "Ticket")
	if !ok {
		return
	}
	var in struct {
		Text                  string `json:"text"`
		DetailDescriptionFlag *bool  `json:"detailDescriptionFlag"`
		InternalAnalysisFlag  *bool  `json:"internalAnalysisFlag"`
		ResolutionFlag        *bool  `json:"resolutionFlag"`
		ProcessNotifications  *bool  `json:"processNotifications"`
	}
	if err := json.Unmarshal(q.body, &in); err != nil {
		writeError(q.w, http.StatusBadRequest, "InvalidObject", "serviceNote object is invalid", nil)
		return
	}
	t := func(b *bool) bool { return b != nil && *b }
	if strings.TrimSpace(in.Text) == "" {
		writeError(q.w, http.StatusBadRequest, "InvalidObject", "serviceNote object is invalid",
			[]fieldError{{Code: "MissingRequiredField", Message: "The text field is required.", Resource: "serviceNote", Field: "text"}})
		return
	}
	if !t(in.DetailDescriptionFlag) && !t(in.InternalAnalysisFlag) && !t(in.ResolutionFlag) {
		writeError(q.w, http.StatusBadRequest, "InvalidObject", "serviceNote object is invalid",
			[]fieldError{{Code: "InvalidField", Message: "Please choose where to display this note (Discussion, Internal or Resolution).", Resource: "serviceNote", Field: "detailDescriptionFlag"}})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	found := false
	for _, tk := range s.tickets {
		if tk.ID == id {
			found = true
		}
	}
	if !found {
		writeError(q.w, http.StatusNotFound, "NotFound", fmt.Sprintf("Ticket %d not found", id), nil)
		return
	}
	s.lastID++
	n := noteRec{ID: s.lastID, TicketID: id, Text: in.Text, DetailDescriptionFlag: t(in.DetailDescriptionFlag),
		InternalAnalysisFlag: t(in.InternalAnalysisFlag), ResolutionFlag: t(in.ResolutionFlag), ProcessNotifications: in.ProcessNotifications,
		DateCreated: time.Now().UTC().Format(time.RFC3339), CreatedBy: q.who.rec.Identifier, Info: info{}}
	s.notes[id] = append(s.notes[id], n)
	s.writeJSONLocked(q, http.StatusCreated, "ServiceNote", false, n)
}

func (s *Server) handleNotes(q *req) {
	id, ok := s.pathID(q, 2, "Ticket")
	if !ok {
		return
	}
	s.mu.Lock()
	var recs []any
	for _, n := range s.notes[id] {
		recs = append(recs, n)
	}
	s.mu.Unlock()
	s.writeList(q, "ServiceNote", recs)
}

// pathID parses the id in path segment i.
func (s *Server) pathID(q *req, i int, what string) (int, bool) {
	n, err := strconv.ParseInt(q.segs[i], 10, 32)
	if err != nil || n < 1 {
		writeError(q.w, http.StatusBadRequest, "InvalidObject", fmt.Sprintf("%s id %q is not valid.", what, q.segs[i]), nil)
		return 0, false
	}
	return int(n), true
}

// writeList filters recs by conditions and childConditions, sorts by
// orderBy (id when absent), pages them, projects fields, and writes the
// page with its Link header. Each step answers a request the contract
// refuses with ConnectWise's 400 and reports whether it did.
func (s *Server) writeList(q *req, model string, recs []any) {
	if !s.checkListFields(q, model) {
		return
	}
	maps, ok := s.filterList(q, model, recordMaps(recs))
	if !ok {
		return
	}
	forwardOnly := strings.EqualFold(q.r.Header.Get("pagination-type"), "forward-only")
	if !s.sortList(q, model, maps, forwardOnly) {
		return
	}
	size, huge, ok := s.listPageSize(q, len(maps))
	if !ok {
		return
	}
	var page []map[string]any
	var links []psafake.Link
	if forwardOnly {
		page, links, ok = s.forwardOnlyPage(q, maps, size)
	} else {
		page, links, ok = s.numberedPage(q, maps, size, huge)
	}
	if !ok {
		return
	}
	if h := psafake.LinkHeader(links...); h != "" {
		q.w.Header().Set("Link", h)
	}
	out := []any{}
	for _, m := range page {
		p, err := s.project(q, model, m)
		if err != nil {
			s.violation("%s: fields: %v", q.route, err)
			writeError(q.w, http.StatusBadRequest, "InvalidObject", "fields is invalid: "+err.Error(), nil)
			return
		}
		out = append(out, p)
	}
	s.writeJSON(q, http.StatusOK, model, true, out)
}

// checkListFields checks that every name in the fields parameter is a
// field of model.
func (s *Server) checkListFields(q *req, model string) bool {
	fields := q.r.URL.Query().Get("fields")
	if fields == "" {
		return true
	}
	for _, f := range strings.Split(fields, ",") {
		if _, _, err := s.contract.Resolve(model, strings.TrimSpace(f)); err != nil {
			s.violation("%s: fields: %v", q.route, err)
			writeError(q.w, http.StatusBadRequest, "InvalidObject", "fields is invalid: "+err.Error(), nil)
			return false
		}
	}
	return true
}

// recordMaps returns recs as the JSON objects ConnectWise would send.
func recordMaps(recs []any) []map[string]any {
	maps := make([]map[string]any, 0, len(recs))
	for _, rec := range recs {
		b, _ := json.Marshal(rec)
		var m map[string]any
		json.Unmarshal(b, &m)
		maps = append(maps, m)
	}
	return maps
}

// filterList keeps the records that match the conditions and
// childConditions parameters; customFieldConditions cwtest refuses.
func (s *Server) filterList(q *req, model string, maps []map[string]any) ([]map[string]any, bool) {
	qs := q.r.URL.Query()
	for _, p := range []struct {
		name  string
		child bool
	}{{"conditions", false}, {"childConditions", true}} {
		expr := qs.Get(p.name)
		if expr == "" {
			continue
		}
		match, err := compileConditions(s.contract, model, expr, p.child)
		if err != nil {
			s.violation("%s: %s %q: %v", q.route, p.name, expr, err)
			writeError(q.w, http.StatusBadRequest, "InvalidObject", fmt.Sprintf("The %s are invalid: %v", p.name, err), nil)
			return nil, false
		}
		var kept []map[string]any
		for _, m := range maps {
			if match(m) {
				kept = append(kept, m)
			}
		}
		maps = kept
	}
	if v := qs.Get("customFieldConditions"); v != "" {
		s.violation("%s: cwtest does not implement customFieldConditions", q.route)
		writeError(q.w, http.StatusBadRequest, "InvalidObject", "customFieldConditions are not supported by cwtest", nil)
		return nil, false
	}
	return maps, true
}

// sortList sorts maps in place by the orderBy parameter ("field [asc|desc]",
// id when absent), which forward-only pagination does not allow.
func (s *Server) sortList(q *req, model string, maps []map[string]any, forwardOnly bool) bool {
	sortKey, desc := "id", false
	if ob := q.r.URL.Query().Get("orderBy"); ob != "" {
		if forwardOnly {
			writeError(q.w, http.StatusBadRequest, "InvalidObject", "orderBy is not allowed with forward-only pagination.", nil)
			return false
		}
		f := strings.Fields(ob)
		sortKey = f[0]
		if len(f) > 1 {
			desc = strings.EqualFold(f[1], "desc")
		}
		if _, ok := s.contract.ModelField(model, sortKey); !ok || len(f) > 2 {
			s.violation("%s: orderBy %q names no field of %s", q.route, ob, model)
			writeError(q.w, http.StatusBadRequest, "InvalidObject", "orderBy is invalid.", nil)
			return false
		}
	}
	sort.SliceStable(maps, func(i, j int) bool {
		a, b := fmt.Sprint(maps[i][sortKey]), fmt.Sprint(maps[j][sortKey])
		if x, ok := maps[i][sortKey].(float64); ok {
			y, _ := maps[j][sortKey].(float64)
			if desc {
				return x > y
			}
			return x < y
		}
		if desc {
			return a > b
		}
		return a < b
	})
	return true
}

// listPageSize returns the page size for a list of n records: pageSize
// (default 25, at most 1000), capped by [Server.SetPageSize]; with huge
// pages on, one page holds everything.
func (s *Server) listPageSize(q *req, n int) (size int, huge, ok bool) {
	size = defaultPageSize
	if v := q.r.URL.Query().Get("pageSize"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 {
			writeError(q.w, http.StatusBadRequest, "InvalidObject", "pageSize must be a positive number.", nil)
			return 0, false, false
		}
		size = min(p, maxPageSize)
	}
	s.mu.Lock()
	if s.pageSize > 0 {
		size = min(size, s.pageSize)
	}
	huge = s.hugePages
	s.mu.Unlock()
	if huge {
		size = n + 1
	}
	return size, huge, true
}

// forwardOnlyPage returns the page after the record id in pageId, with
// the link to the next page that forward-only answers always carry
// (reference §4); after an empty page there is nothing to point at.
func (s *Server) forwardOnlyPage(q *req, maps []map[string]any, size int) ([]map[string]any, []psafake.Link, bool) {
	after := 0.0
	if v := q.r.URL.Query().Get("pageId"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(q.w, http.StatusBadRequest, "InvalidObject", "pageId must be a record id.", nil)
			return nil, nil, false
		}
		after = float64(n)
	}
	var page []map[string]any
	for _, m := range maps {
		if id, _ := m["id"].(float64); id > after && len(page) < size {
			page = append(page, m)
		}
	}
	if len(page) == 0 {
		return page, nil, true
	}
	next := strconv.Itoa(int(page[len(page)-1]["id"].(float64)))
	return page, []psafake.Link{{Rel: "next", URL: s.pageLink(q, "pageId", next)}}, true
}

// numberedPage returns the page numbered by the page parameter (from 1)
// with its first, prev, next and last links; huge pages carry none.
func (s *Server) numberedPage(q *req, maps []map[string]any, size int, huge bool) ([]map[string]any, []psafake.Link, bool) {
	pg := 1
	if v := q.r.URL.Query().Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(q.w, http.StatusBadRequest, "InvalidObject", "page must be a positive number.", nil)
			return nil, nil, false
		}
		pg = n
	}
	start, end, last := psafake.PageBounds(len(maps), pg, size)
	page := maps[start:end]
	if huge {
		return page, nil, true
	}
	at := func(p int) string { return s.pageLink(q, "page", strconv.Itoa(p)) }
	links := []psafake.Link{{Rel: "first", URL: at(1)}}
	if pg > 1 {
		links = append(links, psafake.Link{Rel: "prev", URL: at(pg - 1)})
	}
	if pg < last {
		links = append(links, psafake.Link{Rel: "next", URL: at(pg + 1)})
	}
	return page, append(links, psafake.Link{Rel: "last", URL: at(last)}), true
}

// pageLink returns the URL of q with param set to v, as ConnectWise
// writes it in Link headers: in the shape [Server.SetLinkShape] set.
func (s *Server) pageLink(q *req, param, v string) string {
	qs := q.r.URL.Query()
	qs.Set(param, v)
	if param == "pageId" {
		qs.Del("page")
	}
	s.mu.Lock()
	shape := s.linkShape
	s.mu.Unlock()
	return psatest.ShapeLink("https://"+hostOnly(q.r.Host)+q.r.URL.Path+"?"+qs.Encode(), shape)
}

// project applies fields= (comma-separated paths such as "id",
// "company/name") to m. A field the model does not have is an error.
func (s *Server) project(q *req, model string, m map[string]any) (map[string]any, error) {
	fields := q.r.URL.Query().Get("fields")
	if fields == "" {
		return m, nil
	}
	out := map[string]any{}
	for _, f := range strings.Split(fields, ",") {
		f = strings.TrimSpace(f)
		if _, _, err := s.contract.Resolve(model, f); err != nil {
			return nil, err
		}
		segs := strings.Split(f, "/")
		src, dst := m, out
		for i, seg := range segs {
			v, ok := src[seg]
			if !ok {
				break
			}
			if i == len(segs)-1 {
				dst[seg] = v
				break
			}
			sub, ok := v.(map[string]any)
			if !ok {
				dst[seg] = v
				break
			}
			next, _ := dst[seg].(map[string]any)
			if next == nil {
				next = map[string]any{}
				dst[seg] = next
			}
			src, dst = sub, next
		}
	}
	return out, nil
}

func (s *Server) writeJSON(q *req, status int, model string, list bool, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writeJSONLocked(q, status, model, list, v)
}

// writeJSONLocked writes v after checking it against model (the fake's own
// answers must hold only fields ConnectWise would send), applying fields=
// to single records and MalformedNext.
func (s *Server) writeJSONLocked(q *req, status int, model string, list bool, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.v.Add("cwtest: marshal: %v", err)
		writeError(q.w, http.StatusInternalServerError, "ConnectWiseApi", "An error has occurred.", nil)
		return
	}
	if !list && q.r.Method == http.MethodGet && q.r.URL.Query().Get("fields") != "" {
		var m map[string]any
		json.Unmarshal(b, &m)
		p, err := s.project(q, model, m)
		if err != nil {
			s.v.Add("%s: fields: %v", q.route, err)
			writeError(q.w, http.StatusBadRequest, "InvalidObject", "fields is invalid: "+err.Error(), nil)
			return
		}
		b, _ = json.Marshal(p)
	}
	if err := s.contract.ValidateModel(model, b, list); err != nil {
		s.v.Add("cwtest's own %s answer breaks the contract: %v", model, err)
	}
	b = s.Body(b)
	q.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	q.w.WriteHeader(status)
	q.w.Write(b)
}
