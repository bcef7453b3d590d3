package autotasktest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// models maps an entity path segment (lower case) to its definition.
var models = map[string]string{
	"contacts": "ContactModel", "companies": "CompanyModel", "tickets": "TicketModel",
	"ticketnotes": "TicketNoteModel", "resources": "ResourceModel",
	"integrationvendorinsights": "IntegrationVendorInsightModel", "ticketwebhooks": "TicketWebhookModel",
	"companynotes": "CompanyNoteModel",
}

// canonical spells entity names as the contract does.
var canonical = map[string]string{
	"contacts": "Contacts", "companies": "Companies", "tickets": "Tickets", "ticketnotes": "TicketNotes",
	"resources": "Resources", "integrationvendorinsights": "IntegrationVendorInsights", "ticketwebhooks": "TicketWebhooks",
	"companynotes": "CompanyNotes",
}

const basePath = "/atservicesrest"

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErrors(w http.ResponseWriter, status int, msgs ...string) {
	writeJSON(w, status, map[string]any{"errors": msgs})
}

// violation records a request the contract does not allow.
func (s *Server) violation(format string, args ...any) {
	s.violations = append(s.violations, fmt.Sprintf(format, args...))
}

// statusWriter remembers the status and can truncate the body.
type statusWriter struct {
	http.ResponseWriter
	status    int
	buf       bytes.Buffer
	malformed bool
}

func (w *statusWriter) WriteHeader(code int) { w.status = code }
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.buf.Write(b)
}

func (s *Server) serveHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	w := &statusWriter{ResponseWriter: rw}
	route := s.handle(w, r, body)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	out := w.buf.Bytes()
	s.mu.Lock()
	if w.status >= 200 && w.status <= 299 && s.malformed && !strings.HasPrefix(strings.ToLower(r.Host), DiscoveryHost) {
		s.malformed = false
		out = out[:len(out)/2]
	}
	s.log = append(s.log, Request{Method: r.Method, Host: r.Host, Route: route, Query: r.URL.Query(), Body: string(body), Header: r.Header.Clone(), Status: w.status})
	s.mu.Unlock()
	rw.WriteHeader(w.status)
	_, _ = rw.Write(out)
}

// handle serves one request and returns its route for the log.
func (s *Server) handle(w http.ResponseWriter, r *http.Request, body []byte) string {
	host := strings.ToLower(r.Host)
	if h, _, ok := strings.Cut(host, ":"); ok {
		host = h
	}
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if down {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "<html><body><h1>503 Service Unavailable</h1></body></html>")
		return r.Method + " " + r.URL.Path
	}
	lp := strings.ToLower(r.URL.Path)
	if !strings.HasPrefix(lp, basePath+"/") {
		s.mu.Lock()
		s.violation("%s %s%s is outside the API's base path /ATServicesRest", r.Method, host, r.URL.Path)
		s.mu.Unlock()
		writeErrors(w, http.StatusNotFound, "The resource cannot be found.")
		return r.Method + " " + r.URL.Path
	}
	path := r.URL.Path[len(basePath):]
	ep, params, other := s.contract.Match(r.Method, path)
	if ep == nil {
		s.mu.Lock()
		s.violation("%s %s is not in the Autotask contract", r.Method, path)
		s.mu.Unlock()
		if other {
			writeErrors(w, http.StatusMethodNotAllowed, "The requested resource does not support http method '"+r.Method+"'.")
		} else {
			writeErrors(w, http.StatusNotFound, "No HTTP resource was found that matches the request URI.")
		}
		return r.Method + " " + path
	}
	route := ep.Method + " " + ep.Path
	if host == DiscoveryHost {
		return s.discovery(w, r, ep, route)
	}
	return s.api(w, r, ep, params, body, host, route)
}

// discovery serves zone and version discovery, which take no
// credentials: a client that sends them is in violation.
func (s *Server) discovery(w http.ResponseWriter, r *http.Request, ep *Endpoint, route string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range []string{"ApiIntegrationCode", "UserName", "Secret", "ImpersonationResourceId"} {
		if r.Header.Get(h) != "" {
			s.violation("%s carries the %s header: credentials must not go to zone discovery", route, h)
		}
	}
	switch ep.Path {
	case "/V1.0/ZoneInformation":
		if !strings.EqualFold(r.URL.Query().Get("user"), UserName) {
			writeErrors(w, http.StatusInternalServerError, "Zone information could not be determined for user "+r.URL.Query().Get("user")+".")
			return route
		}
		writeJSON(w, http.StatusOK, map[string]any{"zoneName": fmt.Sprintf("America West %d", s.zone),
			"url": "https://" + s.zoneHostLocked() + "/ATServicesRest/", "webUrl": fmt.Sprintf("https://ww%d.autotask.net/", s.zone), "ci": DatabaseCI})
	case "/VersionInformation":
		writeJSON(w, http.StatusOK, map[string]any{"apiVersions": []string{"1.0"}})
	default:
		s.violation("%s is not served on the discovery host", route)
		writeErrors(w, http.StatusNotFound, "No HTTP resource was found that matches the request URI.")
	}
	return route
}

func (s *Server) api(w http.ResponseWriter, r *http.Request, ep *Endpoint, params []string, body []byte, host, route string) string {
	entity := ""
	if len(ep.segs) > 1 {
		entity = ep.segs[1]
	}
	s.mu.Lock()
	s.requests++
	now := time.Now()
	s.calls = append(s.calls, now)
	refuse := s.faultLocked(r.Method)
	if refuse == nil {
		refuse = s.authRefusalLocked(r, host, route, entity)
	}
	if refuse == nil {
		refuse = s.contractRefusalLocked(r, ep, body, route, entity)
	}
	if refuse != nil {
		s.mu.Unlock()
		refuse(w)
		return route
	}
	s.inFlight[entity]++
	s.highWater[entity] = max(s.highWater[entity], s.inFlight[entity])
	latency := s.latency
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight[entity]--
		s.mu.Unlock()
	}()
	if latency > 0 {
		time.Sleep(latency)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loseN > 0 && r.Method != http.MethodGet {
		// Process the write, then lose the answer, as a gateway timing
		// out after Autotask did the work.
		s.loseN--
		s.dispatch(&statusWriter{ResponseWriter: w}, r, ep, params, body, entity, route)
		writeErrors(w, http.StatusGatewayTimeout, "The gateway timed out.")
		return route
	}
	s.dispatch(w, r, ep, params, body, entity, route)
	return route
}

// faultLocked spends one of the failures a test asked for, if any, and
// returns how to answer it (written once s is unlocked); nil means none.
func (s *Server) faultLocked(method string) func(http.ResponseWriter) {
	switch {
	case s.failN > 0:
		s.failN--
	case s.failWriteN > 0 && method != http.MethodGet:
		s.failWriteN--
	default:
		return nil
	}
	code, after := s.failCode, s.failAfter
	return func(w http.ResponseWriter) {
		if after != "" {
			w.Header().Set("Retry-After", after)
		}
		switch {
		case code == http.StatusUnauthorized:
			w.WriteHeader(code)
		case code == http.StatusTooManyRequests:
			writeErrors(w, code, "Too many requests.")
		case code == http.StatusForbidden:
			writeErrors(w, code, "The logged in Resource does not have the adequate permissions to perform this operation.")
		default:
			writeErrors(w, code, "An unexpected error has occurred.")
		}
	}
}

// authRefusalLocked returns how Autotask refuses a call to another zone,
// without or with wrong credentials, or to an entity the user may not
// see; nil means none.
func (s *Server) authRefusalLocked(r *http.Request, host, route, entity string) func(http.ResponseWriter) {
	if host != s.zoneHostLocked() {
		return func(w http.ResponseWriter) {
			writeErrors(w, http.StatusUnauthorized, "This database is not in the zone you called.")
		}
	}
	for _, h := range []string{"ApiIntegrationCode", "UserName", "Secret"} {
		if r.Header.Get(h) == "" {
			s.violation("%s lacks the %s header", route, h)
			return func(w http.ResponseWriter) { w.WriteHeader(http.StatusUnauthorized) }
		}
	}
	if !strings.EqualFold(r.Header.Get("UserName"), UserName) || r.Header.Get("Secret") != Secret || s.badSecret {
		return func(w http.ResponseWriter) { w.WriteHeader(http.StatusUnauthorized) }
	}
	if r.Header.Get("ApiIntegrationCode") != IntegrationCode || s.badCode {
		return func(w http.ResponseWriter) {
			writeErrors(w, http.StatusInternalServerError, "IntegrationCode is invalid.")
		}
	}
	if s.forbidden[entity] {
		return func(w http.ResponseWriter) {
			writeErrors(w, http.StatusForbidden, "The logged in Resource does not have the adequate permissions to perform this operation.")
		}
	}
	return nil
}

// contractRefusalLocked holds the body, the search and the query
// parameters to the contract, recording violations; it returns how
// Autotask refuses a body or search it cannot read, nil for none.
func (s *Server) contractRefusalLocked(r *http.Request, ep *Endpoint, body []byte, route, entity string) func(http.ResponseWriter) {
	if ep.Body != "" {
		if err := s.contract.ValidateBody(ep.Body, body, models[entity]); err != nil {
			s.violation("%s: %v", route, err)
			return func(w http.ResponseWriter) { writeErrors(w, http.StatusInternalServerError, err.Error()) }
		}
	} else if len(bytes.TrimSpace(body)) > 0 {
		s.violation("%s takes no body", route)
	}
	if search := r.URL.Query().Get("search"); containsFold(ep.Query, "search") || search != "" {
		if err := s.contract.ValidateBody("QueryModel", []byte(search), models[entity]); err != nil {
			s.violation("%s: search: %v", route, err)
			return func(w http.ResponseWriter) { writeErrors(w, http.StatusInternalServerError, err.Error()) }
		}
	}
	for k := range r.URL.Query() {
		if !strings.HasSuffix(ep.Path, "/query/next") && !containsFold(ep.Query, k) {
			s.violation("%s has query parameter %q, which the contract does not declare", route, k)
		}
	}
	return nil
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// dispatch runs an allowed request, s.mu held.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, ep *Endpoint, params []string, body []byte, entity, route string) {
	id := func(i int) int64 { n, _ := strconv.ParseInt(params[i], 10, 64); return n }
	switch {
	case ep.Path == "/V1.0/ThresholdInformation":
		cut := time.Now().Add(-time.Hour)
		n := 0
		for _, t := range s.calls {
			if t.After(cut) {
				n++
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"externalRequestThreshold": 10000, "requestThresholdTimeframe": 60,
			"currentTimeframeRequestCount": n + s.otherUsage})
	case strings.HasSuffix(ep.Path, "/query/count"):
		q, err := parseQuery(queryOf(r, body))
		if err != nil {
			writeErrors(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"queryCount": len(s.match(entity, q.Filter))})
	case strings.HasSuffix(ep.Path, "/query/next"):
		s.nextPage(w, r, body, entity, route)
	case strings.HasSuffix(ep.Path, "/query"):
		raw := queryOf(r, body)
		q, err := parseQuery(raw)
		if err != nil {
			s.violation("%s: %v", route, err)
			writeErrors(w, http.StatusInternalServerError, err.Error())
			return
		}
		s.answerPage(w, r, entity, q, string(bytes.TrimSpace(raw)), 0)
	case strings.HasSuffix(ep.Path, "/entityInformation/fields"):
		writeJSON(w, http.StatusOK, map[string]any{"fields": s.fieldInfo(entity)})
	case ep.Path == "/V1.0/Companies/{parentId}/Contacts" && r.Method == http.MethodPost:
		s.createContact(w, id(0), body)
	case ep.Path == "/V1.0/Tickets/{parentId}/Notes" && r.Method == http.MethodPost:
		s.createNote(w, r, id(0), body)
	case len(ep.segs) == 3 && ep.segs[2] == "" && r.Method == http.MethodGet:
		rec := s.table(entity)[id(0)]
		if rec == nil {
			// A missing record is an {"item": null} (the reference has seen
			// both this and a 404; the client handles both).
			writeJSON(w, http.StatusOK, map[string]any{"item": nil})
			return
		}
		s.checkAnswer(route, entity, *rec)
		writeJSON(w, http.StatusOK, map[string]any{"item": *rec})
	default:
		if s.serveExtra(w, r, ep, params, body, entity, route) {
			return
		}
		s.violation("%s is in the contract but the fake does not implement it", route)
		writeErrors(w, http.StatusNotImplemented, "autotasktest does not implement "+route)
	}
}

// table returns the records of entity.
func (s *Server) table(entity string) map[int64]*record {
	switch entity {
	case "contacts":
		return s.contacts
	case "companies":
		return s.companies
	case "tickets":
		return s.tickets
	case "resources":
		out := map[int64]*record{}
		for id, r := range s.resources {
			out[id] = &r.rec
		}
		return out
	case "integrationvendorinsights":
		out := map[int64]*record{}
		for _, in := range s.insights {
			rec := record(in)
			out[int64(toFloat(rec["id"]))] = &rec
		}
		return out
	case "ticketwebhooks":
		out := map[int64]*record{}
		for i := range s.webhooks {
			rec := record{}
			for k, v := range s.webhooks[i].rec {
				if k != "secretKey" { // Autotask does not give the secret back
					rec[k] = v
				}
			}
			out[int64(toFloat(rec["id"]))] = &rec
		}
		return out
	case "companynotes":
		out := map[int64]*record{}
		for _, n := range s.companyNotes {
			rec := n.record()
			out[n.ID] = &rec
		}
		return out
	case "ticketnotes":
		out := map[int64]*record{}
		for _, ns := range s.notes {
			for _, n := range ns {
				rec := n.record()
				out[n.ID] = &rec
			}
		}
		return out
	}
	return map[int64]*record{}
}

func (n NoteRecord) record() record {
	rec := record{"id": n.ID, "ticketID": n.TicketID, "title": n.Title, "description": n.Description,
		"noteType": n.NoteType, "publish": n.Publish, "creatorResourceID": n.CreatorResourceID,
		"createDateTime": "2026-01-01T00:00:00Z"}
	if n.ImpersonatorCreatorResourceID != 0 {
		rec["impersonatorCreatorResourceID"] = n.ImpersonatorCreatorResourceID
	}
	return rec
}

func (s *Server) checkAnswer(route, entity string, rec record) {
	if err := s.contract.ValidateAnswer(models[entity], rec); err != nil {
		s.violation("the fake's answer to %s: %v", route, err)
	}
}

// query is a parsed QueryModel.
type query struct {
	MaxRecords    int
	IncludeFields []string
	Filter        []map[string]any
}

func parseQuery(body []byte) (query, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return query{}, fmt.Errorf("the query is not JSON")
	}
	var q query
	for k, v := range raw {
		switch strings.ToLower(k) {
		case "maxrecords":
			_ = json.Unmarshal(v, &q.MaxRecords)
		case "includefields":
			_ = json.Unmarshal(v, &q.IncludeFields)
		case "filter":
			_ = json.Unmarshal(v, &q.Filter)
		}
	}
	if len(q.Filter) == 0 {
		return query{}, fmt.Errorf("a query needs at least one filter item")
	}
	if _, ok := raw["MaxRecords"]; ok && (q.MaxRecords < 1 || q.MaxRecords > maxRecords) {
		return query{}, fmt.Errorf("MaxRecords must be between 1 and 500")
	}
	return q, nil
}

// match returns the records of entity that every top-level filter item
// matches, by id.
func (s *Server) match(entity string, filters []map[string]any) []record {
	var out []record
	for _, rec := range s.table(entity) {
		ok := true
		for _, f := range filters {
			if !matchFilter(*rec, f) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, *rec)
		}
	}
	sort.Slice(out, func(i, j int) bool { return toFloat(out[i]["id"]) < toFloat(out[j]["id"]) })
	return out
}

// queryOf returns a query's JSON: the body of a POST, search= of a GET.
func queryOf(r *http.Request, body []byte) []byte {
	if r.Method == http.MethodGet {
		return []byte(r.URL.Query().Get("search"))
	}
	return body
}

func (s *Server) answerPage(w http.ResponseWriter, r *http.Request, entity string, q query, body string, offset int) {
	all := s.match(entity, q.Filter)
	size := maxRecords
	if q.MaxRecords > 0 {
		size = q.MaxRecords
	}
	if s.pageSize > 0 {
		size = min(size, s.pageSize)
	}
	end := min(offset+size, len(all))
	items := []record{}
	for _, rec := range all[min(offset, len(all)):end] {
		out := rec
		if len(q.IncludeFields) > 0 {
			out = record{}
			for _, f := range q.IncludeFields {
				for k, v := range rec {
					if strings.EqualFold(k, f) {
						out[k] = v
					}
				}
			}
			out["id"] = rec["id"]
		}
		s.checkAnswer("query", entity, out)
		items = append(items, out)
	}
	var next any
	if end < len(all) {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		tok := base64.RawURLEncoding.EncodeToString(b)
		s.paging[tok] = pagingState{entity: entity, body: body, offset: end, method: r.Method}
		host := s.zoneHostLocked()
		if s.nextHost != "" {
			host = s.nextHost
		}
		u := "https://" + host + "/ATServicesRest/V1.0/" + canonical[entity] + "/query/next?paging=" + tok
		if r.Method == http.MethodGet {
			u += "&search=" + url.QueryEscape(body)
		}
		next = u
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "pageDetails": map[string]any{
		"count": len(items), "requestCount": size, "prevPageUrl": nil, "nextPageUrl": next}})
}

// nextPage serves a nextPageUrl: POST with the first request's body, or
// GET.
func (s *Server) nextPage(w http.ResponseWriter, r *http.Request, body []byte, entity, route string) {
	st, ok := s.paging[r.URL.Query().Get("paging")]
	if !ok || st.entity != entity {
		s.violation("%s: unknown paging token", route)
		writeErrors(w, http.StatusInternalServerError, "The paging token is not valid.")
		return
	}
	if r.Method != st.method {
		// Which verb Autotask wants for a next page is unconfirmed
		// (reference, "Paging"): the fake insists on the first one's.
		s.violation("%s: the next page was asked for with %s after a %s query", route, r.Method, st.method)
	}
	if r.Method == http.MethodPost && string(bytes.TrimSpace(body)) != st.body {
		s.violation("%s: the next page was asked for with another query than the first", route)
		writeErrors(w, http.StatusInternalServerError, "The query does not match the paging token.")
		return
	}
	q, _ := parseQuery([]byte(st.body))
	s.answerPage(w, r, entity, q, st.body, st.offset)
}

func matchFilter(rec record, f map[string]any) bool {
	op := strings.ToLower(fmt.Sprint(f["op"]))
	items, _ := f["items"].([]any)
	switch op {
	case "and", "or":
		for _, it := range items {
			m, _ := it.(map[string]any)
			got := matchFilter(rec, m)
			if op == "or" && got {
				return true
			}
			if op == "and" && !got {
				return false
			}
		}
		return op == "and"
	}
	field, _ := f["field"].(string)
	v, present := rec.get(field)
	want := f["value"]
	switch op {
	case "exist":
		return present && v != nil && fmt.Sprint(v) != ""
	case "notexist":
		return !present || v == nil || fmt.Sprint(v) == ""
	}
	if !present || v == nil {
		return op == "noteq" || op == "notin"
	}
	switch op {
	case "eq":
		return equal(v, want)
	case "noteq":
		return !equal(v, want)
	case "gt", "gte", "lt", "lte":
		c := compare(v, want)
		return op == "gt" && c > 0 || op == "gte" && c >= 0 || op == "lt" && c < 0 || op == "lte" && c <= 0
	case "beginswith":
		return strings.HasPrefix(strings.ToLower(fmt.Sprint(v)), strings.ToLower(fmt.Sprint(want)))
	case "endswith":
		return strings.HasSuffix(strings.ToLower(fmt.Sprint(v)), strings.ToLower(fmt.Sprint(want)))
	case "contains":
		return strings.Contains(strings.ToLower(fmt.Sprint(v)), strings.ToLower(fmt.Sprint(want)))
	case "in", "notin":
		list, _ := want.([]any)
		in := false
		for _, x := range list {
			if equal(v, x) {
				in = true
			}
		}
		return in == (op == "in")
	}
	return false
}

// equal compares a stored value with a filter value as SQL Server would:
// strings case-insensitively, numbers by value.
func equal(v, want any) bool {
	if s, ok := v.(string); ok {
		w, ok := want.(string)
		return ok && strings.EqualFold(s, w)
	}
	if b, ok := v.(bool); ok {
		w, ok := want.(bool)
		return ok && b == w
	}
	return isNumber(want) && toFloat(v) == toFloat(want)
}

func compare(v, want any) int {
	if s, ok := v.(string); ok {
		return strings.Compare(strings.ToLower(s), strings.ToLower(fmt.Sprint(want)))
	}
	a, b := toFloat(v), toFloat(want)
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func isNumber(v any) bool {
	switch v.(type) {
	case float64, int, int64:
		return true
	}
	return false
}

func toFloat(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case int:
		return float64(n)
	case int64:
		return float64(n)
	case string:
		f, _ := strconv.ParseFloat(n, 64)
		return f
	}
	return 0
}

// fieldInfo answers entity information: the fields Countersign reads, with
// the tenant's picklists and required fields.
func (s *Server) fieldInfo(entity string) []map[string]any {
	field := func(name, typ string, required bool, picks ...map[string]any) map[string]any {
		f := map[string]any{"name": name, "dataType": typ, "isRequired": required, "isReadOnly": name == "id",
			"isQueryable": true, "isReference": strings.HasSuffix(name, "ID"), "isPickList": len(picks) > 0,
			"picklistValues": picks, "length": 0}
		if picks == nil {
			f["picklistValues"] = nil
		}
		return f
	}
	pick := func(v int, label string, def bool, order int) map[string]any {
		return map[string]any{"value": strconv.Itoa(v), "label": label, "isDefaultValue": def, "sortOrder": order,
			"isActive": true, "isSystem": true}
	}
	switch entity {
	case "ticketnotes":
		return []map[string]any{
			field("id", "long", true), field("ticketID", "integer", true),
			field("title", "string", true), field("description", "string", true),
			field("noteType", "integer", true, pick(NoteTypeTaskSummary, "Task Summary", false, 1),
				pick(NoteTypeDetail, "Task Detail", true, 2), pick(NoteTypeInternal, "Internal Notes", false, 3)),
			field("publish", "integer", true, pick(publishAll, "All Autotask Users", false, 1), pick(publishInternal, "Internal Only", true, 2)),
		}
	case "tickets":
		return withRequired(field, []map[string]any{
			field("id", "long", true), field("companyID", "integer", true), field("title", "string", true),
			field("description", "string", false), field("contactID", "integer", false),
			field("status", "integer", true, pick(TicketStatusNew, "New", true, 1), pick(TicketStatusInProgress, "In Progress", false, 2),
				pick(TicketStatusComplete, "Complete", false, 3)),
			field("priority", "integer", true, pick(TicketPriorityHigh, "High", false, 1), pick(TicketPriorityMedium, "Medium", true, 2),
				pick(TicketPriorityLow, "Low", false, 3)),
			field("queueID", "integer", false, pick(QueueLevelI, "Level I Support", false, 1), pick(QueueLevelII, "Level II Support", false, 2)),
			field("source", "integer", false, pick(-1, "Insourced", false, 1), pick(4, "Phone", false, 2), pick(2, "Web Portal", false, 3)),
			field("assignedResourceID", "integer", false), field("assignedResourceRoleID", "integer", false),
			field("ticketNumber", "string", false), field("dueDateTime", "datetime", false),
		}, s.requiredBy["tickets"]...)
	case "companynotes":
		return withRequired(field, []map[string]any{
			field("id", "long", true), field("companyID", "integer", true), field("contactID", "integer", false),
			field("actionType", "integer", true, pick(ActionTypeGeneral, "General", true, 1), pick(ActionTypePhoneCall, "Phone Call", false, 2)),
			field("assignedResourceID", "integer", true), field("name", "string", false), field("note", "string", false),
			field("startDateTime", "datetime", true), field("endDateTime", "datetime", true), field("completedDateTime", "datetime", false),
		}, s.requiredBy["companynotes"]...)
	case "contacts":
		out := []map[string]any{field("id", "long", true), field("companyID", "integer", true),
			field("firstName", "string", true), field("lastName", "string", true), field("isActive", "integer", true)}
		names := []string{"title", "emailAddress", "emailAddress2", "emailAddress3", "phone", "mobilePhone", "alternatePhone", "extension", "faxNumber"}
		for _, n := range s.required {
			if !containsFold(names, n) {
				names = append(names, n)
			}
		}
		for _, n := range names {
			out = append(out, field(n, "string", containsFold(s.required, n)))
		}
		return out
	}
	return []map[string]any{field("id", "long", true)}
}

func (s *Server) createContact(w http.ResponseWriter, companyID int64, body []byte) {
	if s.companies[companyID] == nil {
		writeErrors(w, http.StatusNotFound, fmt.Sprintf("Company %d was not found.", companyID))
		return
	}
	var in map[string]any
	_ = json.Unmarshal(body, &in)
	rec := record{}
	for k, v := range in {
		rec[lowerFirst(k)] = v
	}
	for _, req := range append([]string{"firstName", "lastName"}, s.required...) {
		if v, ok := rec.get(req); !ok || fmt.Sprint(v) == "" {
			writeErrors(w, http.StatusInternalServerError, "Missing Required Field: "+req)
			return
		}
	}
	if v, ok := rec.get("companyID"); ok && int64(toFloat(v)) != companyID {
		writeErrors(w, http.StatusInternalServerError, "companyID does not match the parent company.")
		return
	}
	if v, ok := rec["isActive"]; ok {
		if _, isNum := v.(float64); !isNum {
			writeErrors(w, http.StatusInternalServerError, "isActive must be an integer on Contacts.")
			return
		}
	}
	s.lastID++
	rec["id"], rec["companyID"] = s.lastID, companyID
	if _, ok := rec["isActive"]; !ok {
		rec["isActive"] = 1
	}
	for k, v := range rec {
		if f, ok := v.(float64); ok {
			rec[k] = int64(f)
		}
	}
	s.contacts[s.lastID] = &rec
	writeJSON(w, http.StatusOK, map[string]any{"itemId": s.lastID})
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	if strings.EqualFold(s, "id") {
		return "id"
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func (s *Server) createNote(w http.ResponseWriter, r *http.Request, ticketID int64, body []byte) {
	if s.tickets[ticketID] == nil {
		writeErrors(w, http.StatusNotFound, fmt.Sprintf("Ticket %d was not found.", ticketID))
		return
	}
	var in map[string]any
	_ = json.Unmarshal(body, &in)
	rec := record{}
	for k, v := range in {
		rec[lowerFirst(k)] = v
	}
	title, _ := rec["title"].(string)
	desc, _ := rec["description"].(string)
	if strings.TrimSpace(title) == "" || strings.TrimSpace(desc) == "" {
		writeErrors(w, http.StatusInternalServerError, "Missing Required Field: title, description")
		return
	}
	if v, ok := rec["ticketID"]; ok && int64(toFloat(v)) != ticketID {
		writeErrors(w, http.StatusInternalServerError, "ticketID does not match the parent ticket.")
		return
	}
	nt, pub := int(toFloat(rec["noteType"])), int(toFloat(rec["publish"]))
	if nt < NoteTypeTaskSummary || nt > NoteTypeInternal {
		writeErrors(w, http.StatusInternalServerError, fmt.Sprintf("Value %d is not a valid noteType.", nt))
		return
	}
	if pub != publishAll && pub != publishInternal {
		writeErrors(w, http.StatusInternalServerError, fmt.Sprintf("Value %d is not a valid publish value.", pub))
		return
	}
	n := NoteRecord{TicketID: ticketID, Title: title, Description: desc, NoteType: nt, Publish: pub, CreatorResourceID: s.apiUser}
	if h := r.Header.Get("ImpersonationResourceId"); h != "" {
		rid, err := strconv.ParseInt(h, 10, 64)
		res := s.resources[rid]
		if err != nil || res == nil || !res.impersonation || !s.impersonate {
			writeErrors(w, http.StatusInternalServerError, "The logged in user does not have permission to impersonate resource "+h+".")
			return
		}
		n.CreatorResourceID, n.ImpersonatorCreatorResourceID = rid, s.apiUser
	}
	s.lastID++
	n.ID = s.lastID
	s.notes[ticketID] = append(s.notes[ticketID], n)
	writeJSON(w, http.StatusOK, map[string]any{"itemId": n.ID})
}

// serveExtra serves the routes of webhooks.go and insights.go; it reports
// whether it did.
func (s *Server) serveExtra(w http.ResponseWriter, r *http.Request, ep *Endpoint, params []string, body []byte, entity, route string) bool {
	if s.serveWrites(w, r, ep, params, body) {
		return true
	}
	if ep.Path == "/V1.0/IntegrationVendorInsights" && r.Method == http.MethodPost {
		if s.refuseInsights {
			writeErrors(w, http.StatusInternalServerError, "Only vendor integrations may create insights.")
			return true
		}
		var in map[string]any
		_ = json.Unmarshal(body, &in)
		rec := record{}
		for k, v := range in {
			rec[lowerFirst(k)] = v
		}
		if u, _ := rec["referenceUrl"].(string); u == "" {
			writeErrors(w, http.StatusInternalServerError, "Missing Required Field: referenceUrl")
			return true
		}
		s.lastID++
		rec["id"] = s.lastID
		s.insights = append(s.insights, map[string]any(rec))
		writeJSON(w, http.StatusOK, map[string]any{"itemId": s.lastID})
		return true
	}
	if ep.Path != "/V1.0/TicketWebhooks" {
		return false
	}
	var in map[string]any
	_ = json.Unmarshal(body, &in)
	rec := record{}
	for k, v := range in {
		rec[lowerFirst(k)] = v
	}
	switch r.Method {
	case http.MethodPost:
		u, _ := rec["webhookUrl"].(string)
		if pu, err := url.Parse(u); err != nil || !pu.IsAbs() {
			writeErrors(w, http.StatusInternalServerError, "webhookUrl must be an absolute URL.")
			return true
		}
		if sk, _ := rec["secretKey"].(string); sk == "" || len(sk) > 64 {
			writeErrors(w, http.StatusInternalServerError, "secretKey is required and at most 64 characters long.")
			return true
		}
		s.lastID++
		rec["id"] = s.lastID
		rec["isReady"] = true
		s.webhooks = append(s.webhooks, webhookRec{rec: rec})
		writeJSON(w, http.StatusOK, map[string]any{"itemId": s.lastID})
	case http.MethodPatch:
		id := int64(toFloat(rec["id"]))
		for i := range s.webhooks {
			if int64(toFloat(s.webhooks[i].rec["id"])) == id {
				for k, v := range rec {
					s.webhooks[i].rec[k] = v
				}
				writeJSON(w, http.StatusOK, map[string]any{"itemId": id})
				return true
			}
		}
		writeErrors(w, http.StatusNotFound, fmt.Sprintf("Webhook %d was not found.", id))
	default:
		return false
	}
	return true
}
