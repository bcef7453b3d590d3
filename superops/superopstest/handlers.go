package superopstest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// opFunc answers one checked operation of the GraphQL API, with s
// locked: in is its input object, input the raw input (a scalar for
// some operations).
type opFunc func(s *Server, in map[string]any, input any) (any, *gqlError)

// operations are the operations superopstest serves, by name.
var operations = map[string]opFunc{
	"getClientUserList": (*Server).opGetClientUserList,
	"getClientUser":     (*Server).opGetClientUser,
	"createClientUser":  (*Server).opCreateClientUser,
	"getClientList":     (*Server).opGetClientList,
	"getClient":         (*Server).opGetClient,
	"getTicket":         (*Server).opGetTicket,
	"getTicketList":     (*Server).opGetTicketList,
	"createTicketNote":  (*Server).opCreateTicketNote,
	"getAllFields":      (*Server).opGetAllFields,
}

// run answers one checked operation with the whole object; project then
// keeps what the query selected.
func (s *Server) run(name string, input any) (any, *gqlError) {
	in, _ := input.(map[string]any)
	s.mu.Lock()
	defer s.mu.Unlock()
	if op, ok := operations[name]; ok {
		return op(s, in, input)
	}
	e := gqlError{Message: "superopstest does not serve " + name}
	return nil, &e
}

// opGetClientUserList lists the client users a listInfo condition selects, of one client or all, a page at a time.
func (s *Server) opGetClientUserList(in map[string]any, _ any) (any, *gqlError) {
	li, _ := in["listInfo"].(map[string]any)
	clientID := idString(in["clientId"])
	var rows []map[string]any
	for _, u := range s.users {
		if clientID != "" && u.client != clientID {
			continue
		}
		row := s.userJSON(u)
		if matches(li["condition"], func(attr string) any { return userAttr(u, row, attr) }) {
			rows = append(rows, row)
		}
	}
	items, info := s.page(li, rows)
	return map[string]any{"userList": items, "listInfo": info}, nil
}

// opGetClientUser returns one client user.
func (s *Server) opGetClientUser(in map[string]any, _ any) (any, *gqlError) {
	id := idString(in["userId"])
	for _, u := range s.users {
		if u.id == id {
			return s.userJSON(u), nil
		}
	}
	return nil, notFound("client user", id)
}

// opCreateClientUser creates a requester at a client's site, as SuperOps refuses one without both or with another role.
func (s *Server) opCreateClientUser(in map[string]any, _ any) (any, *gqlError) {
	assocs, _ := in["addAssociations"].([]any)
	if len(assocs) == 0 {
		e := clientError("mandatory_validation_failed", "A client user needs a client and site association")
		return nil, &e
	}
	a, _ := assocs[0].(map[string]any)
	client := idString(a["client"].(map[string]any)["accountId"])
	site := idString(a["site"].(map[string]any)["id"])
	if s.sites[client] == "" || s.sites[client] != site {
		e := clientError("referred_value_does_not_exist", "The client or site does not exist")
		return nil, &e
	}
	if role, _ := in["role"].(map[string]any); idString(role["roleId"]) != RequesterRoleID {
		e := clientError("referred_value_does_not_exist", "The role does not exist")
		return nil, &e
	}
	s.nextID++
	u := userRec{id: strconv.FormatInt(s.nextID, 10), client: client, site: site, custom: map[string]any{}}
	u.first, _ = in["firstName"].(string)
	u.last, _ = in["lastName"].(string)
	u.email, _ = in["email"].(string)
	u.contactNumber, _ = in["contactNumber"].(string)
	if cf, ok := in["customFields"].(map[string]any); ok {
		for k, v := range cf {
			u.custom[k] = v
		}
	}
	s.users = append(s.users, u)
	return s.userJSON(u), nil
}

// opGetClientList lists the clients a condition selects, a page at a time.
func (s *Server) opGetClientList(in map[string]any, _ any) (any, *gqlError) {
	var rows []map[string]any
	for _, c := range s.clients {
		row := s.clientJSON(c.Ref, c.Name)
		if matches(in["condition"], func(attr string) any { return row[attr] }) {
			rows = append(rows, row)
		}
	}
	items, info := s.page(in, rows)
	return map[string]any{"clients": items, "listInfo": info}, nil
}

// opGetClient returns one client.
func (s *Server) opGetClient(in map[string]any, _ any) (any, *gqlError) {
	id := idString(in["accountId"])
	for _, c := range s.clients {
		if c.Ref == id {
			return s.clientJSON(c.Ref, c.Name), nil
		}
	}
	return nil, notFound("client", id)
}

// opGetTicket returns one ticket.
func (s *Server) opGetTicket(in map[string]any, _ any) (any, *gqlError) {
	id := idString(in["ticketId"])
	for _, t := range s.tickets {
		if t.id == id {
			return s.ticketJSON(t), nil
		}
	}
	return nil, notFound("ticket", id)
}

// opGetTicketList lists the tickets a condition selects, a page at a time.
func (s *Server) opGetTicketList(in map[string]any, _ any) (any, *gqlError) {
	var rows []map[string]any
	for _, t := range s.tickets {
		row := s.ticketJSON(t)
		if matches(in["condition"], func(attr string) any { return ticketAttr(s, t, row, attr) }) {
			rows = append(rows, row)
		}
	}
	items, info := s.page(in, rows)
	return map[string]any{"tickets": items, "listInfo": info}, nil
}

// opCreateTicketNote adds a note to a ticket (private unless asked otherwise).
func (s *Server) opCreateTicketNote(in map[string]any, _ any) (any, *gqlError) {
	tk, _ := in["ticket"].(map[string]any)
	id := idString(tk["ticketId"])
	found := false
	for _, t := range s.tickets {
		found = found || t.id == id
	}
	if !found {
		return nil, notFound("ticket", id)
	}
	n := NoteRecord{PrivacyType: "PRIVATE"}
	n.Content, _ = in["content"].(string)
	if p, ok := in["privacyType"].(string); ok {
		n.PrivacyType = p
	}
	if by, ok := in["addedBy"].(map[string]any); ok {
		n.AddedBy = idString(by["userId"])
	}
	s.notes[id] = append(s.notes[id], n)
	s.nextID++
	return map[string]any{"noteId": strconv.FormatInt(s.nextID, 10), "addedBy": map[string]any{"userId": json.Number("1"), "name": "Countersign"},
		"addedOn": "2026-12-02T09:00:00", "content": n.Content, "privacyType": n.PrivacyType}, nil
}

// opGetAllFields lists the custom fields of a module (only COMPANY_USER has any).
func (s *Server) opGetAllFields(_ map[string]any, input any) (any, *gqlError) {
	module, _ := input.(string)
	out := []map[string]any{}
	if module == "COMPANY_USER" {
		out = append(out, s.fields...)
	}
	return out, nil
}

func notFound(what, id string) *gqlError {
	e := clientError("entity_does_not_exist", fmt.Sprintf("The %s %s does not exist", what, id))
	return &e
}

// idString reads an ID sent as a string or a number.
func idString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	return ""
}

// num is an id as live tenants send it inside JSON scalars: an unquoted
// number, however many digits.
func num(id string) any {
	if id == "" {
		return nil
	}
	return json.Number(id)
}

func (s *Server) clientName(id string) string {
	for _, c := range s.clients {
		if c.Ref == id {
			return c.Name
		}
	}
	return ""
}

func (s *Server) userJSON(u userRec) map[string]any {
	name := strings.TrimSpace(u.first + " " + u.last)
	custom := map[string]any{}
	for k, v := range u.custom {
		custom[k] = v
	}
	var contact any
	if u.contactNumber != "" {
		contact = u.contactNumber
	}
	var last any
	if u.last != "" {
		last = u.last
	}
	return map[string]any{
		"userId": u.id, "firstName": u.first, "lastName": last, "name": name, "email": u.email,
		"contactNumber": contact, "reportingManager": nil,
		"site":         map[string]any{"id": num(u.site), "name": "HQ"},
		"role":         map[string]any{"roleId": num(RequesterRoleID), "name": "Requester"},
		"client":       map[string]any{"accountId": num(u.client), "name": s.clientName(u.client)},
		"customFields": custom,
	}
}

func (s *Server) clientJSON(id, name string) map[string]any {
	return map[string]any{
		"accountId": id, "name": name, "stage": "Active", "status": "Paid", "emailDomains": []string{},
		"hqSite": map[string]any{"id": num(s.sites[id]), "name": "HQ"}, "customFields": map[string]any{},
		"primaryContact": s.userRef(s.primary[id]),
	}
}

func (s *Server) ticketJSON(t ticketRec) map[string]any {
	var requester any
	if t.requester != "" {
		name := ""
		for _, u := range s.users {
			if u.id == t.requester {
				name = strings.TrimSpace(u.first + " " + u.last)
			}
		}
		requester = map[string]any{"userId": num(t.requester), "name": name}
	}
	return map[string]any{
		"ticketId": t.id, "displayId": t.display, "subject": t.subject, "source": "PHONE", "status": t.status,
		"client":    map[string]any{"accountId": num(t.client), "name": s.clientName(t.client)},
		"requester": requester, "technician": nil, "customFields": map[string]any{},
		"createdTime": "2026-12-02T08:55:10", "updatedTime": "2026-12-02T08:55:10.270",
	}
}

func userAttr(u userRec, row map[string]any, attr string) any {
	switch attr {
	case "client.name":
		return row["client"].(map[string]any)["name"]
	case "site.name":
		return "HQ"
	}
	if col, ok := strings.CutPrefix(attr, "customFields."); ok {
		return u.custom[col]
	}
	return row[attr]
}

func ticketAttr(s *Server, t ticketRec, row map[string]any, attr string) any {
	switch attr {
	case "requester.email":
		for _, u := range s.users {
			if u.id == t.requester {
				return u.email
			}
		}
		return nil
	case "client.name":
		return s.clientName(t.client)
	}
	return row[attr]
}

// matches evaluates a RuleConditionInput (simple or compound) against a
// record's attributes.
func matches(cond any, attr func(string) any) bool {
	c, ok := cond.(map[string]any)
	if !ok || len(c) == 0 {
		return true
	}
	if ops, ok := c["operands"].([]any); ok {
		and := c["joinOperator"] == "AND"
		for _, o := range ops {
			m := matches(o, attr)
			if and && !m {
				return false
			}
			if !and && m {
				return true
			}
		}
		return and
	}
	name, _ := c["attribute"].(string)
	op, _ := c["operator"].(string)
	got := fmt.Sprint(attr(name))
	if attr(name) == nil {
		got = ""
	}
	want := fmt.Sprint(c["value"])
	switch op {
	case "is":
		return strings.EqualFold(got, want)
	case "isNot":
		return !strings.EqualFold(got, want)
	case "contains":
		return strings.Contains(strings.ToLower(got), strings.ToLower(want))
	case "startsWith":
		return strings.HasPrefix(strings.ToLower(got), strings.ToLower(want))
	case "includes", "notIncludes":
		list, _ := c["value"].([]any)
		in := false
		for _, v := range list {
			in = in || strings.EqualFold(got, fmt.Sprint(v))
		}
		return in == (op == "includes")
	case "isEmpty":
		return got == ""
	case "isNotEmpty":
		return got != ""
	}
	return false
}

// page cuts rows to the ListInfoInput's page, with a ListInfo whose
// hasMore is null on the last page, as live tenants send it.
func (s *Server) page(li map[string]any, rows []map[string]any) ([]map[string]any, map[string]any) {
	page, size := 1, 100
	if n, err := strconv.Atoi(idString(li["page"])); err == nil && n > 0 {
		page = n
	}
	if n, err := strconv.Atoi(idString(li["pageSize"])); err == nil && n > 0 && n < size {
		size = n
	}
	if s.pageSize > 0 && s.pageSize < size {
		size = s.pageSize
	}
	start := min((page-1)*size, len(rows))
	end := min(start+size, len(rows))
	var more any
	if end < len(rows) {
		more = true
	}
	items := rows[start:end]
	if items == nil {
		items = []map[string]any{}
	}
	return items, map[string]any{"page": page, "pageSize": size, "hasMore": more, "totalCount": len(rows)}
}
