// Package superopstest is a fake of SuperOps' MSP GraphQL API for tests,
// built on the PSA fakes' kit (core/psa/psafake). It serves one route,
// POST /msp, like the real service: a bearer token (else HTTP 401) and the
// CustomerSubDomain header (else HTTP 400 with an empty body, as the live
// ingress does), then a GraphQL document parsed with gqlparser whose every
// root field must be an operation of the reference under the right kind
// (query or mutation), called with its one argument, input, whose value is
// checked against the input type recursively (unknown keys, missing
// required fields and unlisted enum values fail). Selections are checked
// against the output types: an unknown field, or a sub-selection on a
// JSON-typed field (live tenants answer SubSelectionNotAllowed), is a
// GraphQL error. Answers are HTTP 200 with {"data": …} or {"errors": […]}
// carrying extensions.clientError codes; lists page with ListInfo (hasMore
// null on the last page); ids inside JSON scalars are unquoted numbers, as
// live tenants send them. It implements psatest.Fake.
//
// The contract is testdata/msp-graphql.json, embedded: the part of
// shared/contracts/superops/msp-api-reference.md the fake checks,
// extracted by `go generate` (internal/extract); tests never read shared/.
package superopstest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/psafake"
	"github.com/countersign/countersign/superops"
)

// The fake's tenant.
const (
	Host      = "api.superops.ai"
	Token     = "superops-api-token-for-tests"
	Subdomain = "acmemsp"
	// MobileColumn is the column of the requesters' "Mobile Phone" custom
	// field in the fake's tenant.
	MobileColumn = "udf7text"
	// RequesterRoleID is the id of the Requester role.
	RequesterRoleID = "4"
)

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	psafake.Faults // FailNext, MalformedNext, SetDown, Requests

	tls *psafake.TLSServer
	v   psafake.Violations

	mu        sync.Mutex
	pageSize  int
	clients   []psa.Company
	sites     map[string]string // client → hq site id
	users     []userRec
	tickets   []ticketRec
	notes     map[string][]NoteRecord
	fields    []map[string]any // getAllFields("COMPANY_USER")
	nextID    int64
	errorNext string            // a clientError code for the next operation
	noFields  bool              // getAllFields unavailable
	primary   map[string]string // client → its primary contact
	techs     []psa.Member      // the MSP's technicians (deleted ones are not kept)
}

type userRec struct {
	id, client, site   string
	first, last, email string
	contactNumber      string
	custom             map[string]any
}

type ticketRec struct {
	id, display, subject, client, requester, status string
	description, source                             string // set by createTicket
}

// NoteRecord is a note as SuperOps stored it.
type NoteRecord struct {
	Content     string
	PrivacyType string
	AddedBy     string // the technician's userId, "" when the token's user wrote it
}

// NewServer starts the fake over HTTPS on loopback under api.superops.ai
// and euapi.superops.ai. It registers its shutdown, and a check that no
// contract violation is left, on t.
func NewServer(t testing.TB) *Server {
	s := &Server{sites: map[string]string{}, notes: map[string][]NoteRecord{}, primary: map[string]string{}, nextID: 7928838372746170000}
	s.fields = []map[string]any{
		{"id": "1", "module": "COMPANY_USER", "columnName": "email", "label": "Email", "fieldType": "TEXT", "fieldCategory": "DEFAULT", "showToRequester": true},
		{"id": "2", "module": "COMPANY_USER", "columnName": MobileColumn, "label": "Mobile Phone", "fieldType": "TEXT", "fieldCategory": "CUSTOM", "showToRequester": true},
		{"id": "3", "module": "COMPANY_USER", "columnName": "udf9text", "label": "Employee number", "fieldType": "TEXT", "fieldCategory": "CUSTOM", "showToRequester": false},
	}
	s.tls = psafake.NewTLS(t, http.HandlerFunc(s.serveHTTP), psafake.Hosts(Host, "euapi.superops.ai"), Host, "euapi.superops.ai")
	s.v.FailAtCleanup(t, "superopstest")
	return s
}

// Config returns a client config for the fake's tenant.
func (s *Server) Config() superops.Config {
	// Tests make many calls in a moment; the budget is tested on its own.
	return superops.Config{Subdomain: Subdomain, APIToken: Token, MobileField: MobileColumn, RequesterRoleID: RequesterRoleID, CallsPerMinute: "100000"}
}

// HTTPClient returns a client that reaches the fake under its host names.
func (s *Server) HTTPClient() *http.Client { return s.tls.Client }

// NewClient returns a client of the fake built with deps.
func (s *Server) NewClient(t testing.TB, deps psa.Deps) *superops.Client {
	t.Helper()
	deps.HTTPClient = s.tls.Client
	c, err := superops.New(s.Config(), deps)
	if err != nil {
		t.Fatalf("superopstest: client: %v", err)
	}
	return c
}

// TakeViolations returns the contract violations recorded so far and
// forgets them.
func (s *Server) TakeViolations() []string { return s.v.Take() }

// Seed replaces the fake's data. A contact's phone labelled "Mobile" goes
// into the requesters' mobile custom field, its first other phone into
// contactNumber; only the first e-mail address is kept (a SuperOps
// requester has one).
func (s *Server) Seed(companies []psa.Company, contacts []psa.Contact, tickets []psa.Ticket) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients = slices.Clone(companies)
	s.sites = map[string]string{}
	s.primary = map[string]string{}
	for i, c := range companies {
		s.sites[c.Ref] = strconv.Itoa(8100 + i)
	}
	s.users = nil
	for _, c := range contacts {
		u := userRec{id: c.Ref, client: c.CompanyRef, site: s.sites[c.CompanyRef], first: c.FirstName, last: c.LastName, custom: map[string]any{}}
		if len(c.Emails) > 0 {
			u.email = c.Emails[0].Address
		}
		for _, p := range c.Phones {
			if strings.EqualFold(p.Label, "Mobile") && u.custom[MobileColumn] == nil {
				u.custom[MobileColumn] = p.Number
			} else if u.contactNumber == "" {
				u.contactNumber = p.Number
			}
		}
		s.users = append(s.users, u)
	}
	s.tickets = nil
	s.notes = map[string][]NoteRecord{}
	for _, t := range tickets {
		d := t.Number
		if d == "" || d == t.Ref {
			d = "120226-" + t.Ref
		}
		s.tickets = append(s.tickets, ticketRec{id: t.Ref, display: d, subject: t.Summary, client: t.CompanyRef, requester: t.ContactRef, status: t.Status})
	}
}

// SetMember is part of psatest.Fake; SuperOps has no "who am I" query, so
// the fake keeps no member.
func (s *Server) SetMember(psa.Member) {}

// SetPageSize sets the largest page the fake returns; 0 means 100.
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageSize = n
}

// SetRequesterCustom sets a custom field value of the requester with ref.
func (s *Server) SetRequesterCustom(ref, column string, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.users {
		if s.users[i].id == ref {
			if v == nil {
				delete(s.users[i].custom, column)
			} else {
				s.users[i].custom[column] = v
			}
		}
	}
}

// SetRequesterFields replaces the requester fields getAllFields answers:
// label → column name, all custom TEXT fields.
func (s *Server) SetRequesterFields(fields map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fields = nil
	id := 10
	for label, col := range fields {
		id++
		s.fields = append(s.fields, map[string]any{"id": strconv.Itoa(id), "module": "COMPANY_USER", "columnName": col,
			"label": label, "fieldType": "TEXT", "fieldCategory": "CUSTOM", "showToRequester": true})
	}
}

// FieldsUnavailable makes getAllFields fail as an unknown operation, as it
// may on some MSP tenants.
func (s *Server) FieldsUnavailable(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noFields = on
}

// ClientErrorNext answers the next operation with HTTP 200 and a GraphQL
// error carrying the clientError code ("forbidden",
// "rate_limit_exceeded", "subscription_paused", …).
func (s *Server) ClientErrorNext(code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errorNext = code
}

// Notes returns the notes of the ticket with ref, oldest first.
func (s *Server) Notes(ticketRef string) []psa.Note {
	var out []psa.Note
	for _, n := range s.NoteRecords(ticketRef) {
		out = append(out, psa.Note{Text: n.Content, Public: n.PrivacyType == "PUBLIC"})
	}
	return out
}

// NoteRecords returns the notes of the ticket with ref as stored.
func (s *Server) NoteRecords(ticketRef string) []NoteRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.notes[ticketRef])
}

// gqlError is one entry of a GraphQL errors list.
type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

func clientError(code, msg string) gqlError {
	return gqlError{Message: msg, Extensions: map[string]any{"clientError": []map[string]any{{"code": code, "param": map[string]any{}}}}}
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if f, ok := s.Begin(); ok {
		if f.Status == http.StatusForbidden && !f.Down {
			// SuperOps says "forbidden" in a 200.
			s.writeJSON(w, map[string]any{"data": nil, "errors": []gqlError{clientError("forbidden", "You do not have permission")}})
			return
		}
		f.Write(w, func(w http.ResponseWriter, status int) { w.WriteHeader(status) })
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/msp" {
		s.v.Add("%s %s: the MSP API is POST /msp only", r.Method, r.URL.Path)
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+Token {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if r.Header.Get("CustomerSubDomain") != Subdomain {
		w.WriteHeader(http.StatusBadRequest) // an empty body, as the live ingress
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var req struct {
		Query         string         `json:"query"`
		Variables     map[string]any `json:"variables"`
		OperationName string         `json:"operationName"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		s.v.Add("the body is not a GraphQL request: %v", err)
		s.writeErrors(w, gqlError{Message: "Invalid request body"})
		return
	}
	doc, perr := parser.ParseQuery(&ast.Source{Input: req.Query})
	if perr != nil || len(doc.Operations) != 1 {
		s.v.Add("the query does not parse as one operation: %v", perr)
		s.writeErrors(w, gqlError{Message: "Invalid Syntax"})
		return
	}
	op := doc.Operations[0]
	data := map[string]any{}
	for _, sel := range op.SelectionSet {
		f, ok := sel.(*ast.Field)
		if !ok {
			s.v.Add("fragments are not used by our client; got %T", sel)
			s.writeErrors(w, gqlError{Message: "Unsupported selection"})
			return
		}
		val, gerr := s.resolve(string(op.Operation), f, req.Variables)
		if gerr != nil {
			s.writeErrors(w, *gerr)
			return
		}
		key := f.Name
		if f.Alias != "" {
			key = f.Alias
		}
		data[key] = val
	}
	s.writeJSON(w, map[string]any{"data": data})
}

func (s *Server) writeErrors(w http.ResponseWriter, errs ...gqlError) {
	s.writeJSON(w, map[string]any{"data": nil, "errors": errs})
}

func (s *Server) writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(s.Body(b))
}

// resolve checks and runs one root field.
func (s *Server) resolve(kind string, f *ast.Field, vars map[string]any) (any, *gqlError) {
	op, ok := schema.Operations[f.Name]
	s.mu.Lock()
	noFields := s.noFields
	s.mu.Unlock()
	if !ok || op.Kind != kind || (f.Name == "getAllFields" && noFields) {
		if f.Name != "getAllFields" {
			s.v.Add("%s %s is not an operation of the MSP reference", kind, f.Name)
		}
		e := gqlError{Message: fmt.Sprintf("Validation error (FieldUndefined@[%s]) : Field '%s' in type '%s' is undefined", f.Name, f.Name, strings.ToUpper(kind[:1])+kind[1:])}
		return nil, &e
	}
	var input any
	switch {
	case op.Input == "" && len(f.Arguments) > 0:
		// getStatusList and the like take no argument.
		s.v.Add("%s takes no argument", f.Name)
		e := gqlError{Message: "Validation error (UnknownArgument)"}
		return nil, &e
	case op.Input == "":
	case len(f.Arguments) != 1 || f.Arguments[0].Name != "input":
		s.v.Add("%s must be called with its one argument, input", f.Name)
		e := gqlError{Message: "Validation error (UnknownArgument)"}
		return nil, &e
	default:
		var err error
		if input, err = f.Arguments[0].Value.Value(vars); err != nil {
			s.v.Add("%s: input: %v", f.Name, err)
			e := gqlError{Message: "Validation error (VariableTypeMismatch)"}
			return nil, &e
		}
	}
	input = renumber(input)
	if op.Input == "" {
		// nothing to check
	} else if err := schema.checkInput(op.Input, input, "input"); err != nil {
		s.v.Add("%s: %v", f.Name, err)
		e := clientError("type_validation_failed", err.Error())
		return nil, &e
	}
	s.mu.Lock()
	code := s.errorNext
	s.errorNext = ""
	s.mu.Unlock()
	if code != "" {
		e := clientError(code, "The request failed: "+code)
		return nil, &e
	}
	val, gerr := s.run(f.Name, input)
	if gerr != nil {
		return nil, gerr
	}
	return project(val, op.Returns, f.SelectionSet, f.Name)
}

// renumber turns the float64s and json.Numbers gqlparser's Value gives
// back into json.Number, so that checks and handlers see one kind.
func renumber(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = renumber(e)
		}
	case []any:
		for i := range x {
			x[i] = renumber(x[i])
		}
	case float64:
		return json.Number(strconv.FormatFloat(x, 'f', -1, 64))
	case int64:
		return json.Number(strconv.FormatInt(x, 10))
	case int:
		return json.Number(strconv.Itoa(x))
	}
	return v
}

// project checks sel against the output type t and keeps only the fields
// it selects.
func project(v any, t string, sel ast.SelectionSet, path string) (any, *gqlError) {
	if v == nil {
		return nil, nil
	}
	name := named(t)
	if strings.HasPrefix(strings.TrimSuffix(t, "!"), "[") {
		items, _ := v.([]map[string]any)
		out := []any{}
		for _, it := range items {
			p, err := project(it, name, sel, path)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
		return out, nil
	}
	typ, isObject := schema.Types[name]
	if !isObject || typ.Kind != "object" {
		if len(sel) > 0 {
			e := gqlError{Message: fmt.Sprintf("Validation error (SubSelectionNotAllowed@[%s]) : Sub selection not allowed on leaf type %s", path, name)}
			return nil, &e
		}
		return v, nil
	}
	if len(sel) == 0 {
		e := gqlError{Message: fmt.Sprintf("Validation error (SubSelectionRequired@[%s]) : Sub selection required for type %s", path, name)}
		return nil, &e
	}
	m, _ := v.(map[string]any)
	out := map[string]any{}
	for _, s := range sel {
		f, ok := s.(*ast.Field)
		if !ok {
			e := gqlError{Message: "Unsupported selection"}
			return nil, &e
		}
		ft, ok := typ.Fields[f.Name]
		if !ok {
			e := gqlError{Message: fmt.Sprintf("Validation error (FieldUndefined@[%s/%s]) : Field '%s' in type '%s' is undefined", path, f.Name, f.Name, name)}
			return nil, &e
		}
		p, err := project(m[f.Name], ft, f.SelectionSet, path+"/"+f.Name)
		if err != nil {
			return nil, err
		}
		out[f.Name] = p
	}
	return out, nil
}
