package superopstest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/countersign/countersign/core/psa"
)

// The fake's tray-ticket, on-call and requester-write operations:
// createTicket, updateTicket, updateClientUser, getTechnicianList and
// getStatusList, answering SuperOps' clientError codes where it refuses.

func init() {
	operations["createTicket"] = (*Server).opCreateTicket
	operations["updateTicket"] = (*Server).opUpdateTicket
	operations["updateClientUser"] = (*Server).opUpdateClientUser
	operations["getTechnicianList"] = (*Server).opGetTechnicianList
	operations["getStatusList"] = (*Server).opGetStatusList
}

// Statuses are the tenant's ticket statuses, in SuperOps' order.
var Statuses = []string{"Open", "Assigned", "In Progress", "On Hold", "Resolved", "Closed"}

// Ticket is a ticket created through the API, for tests.
type Ticket struct {
	psa.Ticket
	Description, Source string
}

// Tickets returns the tickets created through the API, oldest first.
func (s *Server) Tickets() []Ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Ticket
	for _, t := range s.tickets {
		if t.source == "" {
			continue // seeded
		}
		out = append(out, Ticket{Ticket: psa.Ticket{Ref: t.id, Number: t.display, Summary: t.subject, CompanyRef: t.client, ContactRef: t.requester, Status: t.status},
			Description: t.description, Source: t.source})
	}
	return out
}

// TicketRequester returns the requester of the ticket with ref.
func (s *Server) TicketRequester(ref string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tickets {
		if t.id == ref {
			return t.requester
		}
	}
	return ""
}

// Requester returns the requester with ref as stored: its contactNumber
// and the value of its mobile custom field.
func (s *Server) Requester(ref string) (contactNumber string, mobile any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if u.id == ref {
			return u.contactNumber, u.custom[MobileColumn]
		}
	}
	return "", nil
}

// SetPrimaryContact makes the requester with contactRef the client's
// primary contact ("" for none).
func (s *Server) SetPrimaryContact(companyRef, contactRef string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.primary[companyRef] = contactRef
}

// SeedMembers sets the MSP's technicians (psatest.MemberSeeder). SuperOps
// has no inactive technicians: one who left is deleted, so those named in
// inactive are not kept.
func (s *Server) SeedMembers(members []psa.Member, inactive ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.techs = nil
	for _, m := range members {
		if !slices.Contains(inactive, m.Ref) {
			s.techs = append(s.techs, m)
		}
	}
}

// userRef is a ClientUser as JSON scalars hold it: {userId, name}.
func (s *Server) userRef(id string) any {
	for _, u := range s.users {
		if id != "" && u.id == id {
			return map[string]any{"userId": num(u.id), "name": strings.TrimSpace(u.first + " " + u.last)}
		}
	}
	return nil
}

func (s *Server) user(id string) *userRec {
	for i := range s.users {
		if s.users[i].id == id {
			return &s.users[i]
		}
	}
	return nil
}

func refused(code, msg string) *gqlError {
	e := clientError(code, msg)
	return &e
}

// opCreateTicket creates a ticket: the input type is checked before;
// here what SuperOps checks against its data. The reference calls status
// mandatory (CreateTicketInput.status); it and the client and requester
// must exist, the requester at that client.
func (s *Server) opCreateTicket(in map[string]any, _ any) (any, *gqlError) {
	subject, _ := in["subject"].(string)
	if strings.TrimSpace(subject) == "" {
		return nil, refused("mandatory_validation_failed", "subject is mandatory")
	}
	status, _ := in["status"].(string)
	if status == "" {
		return nil, refused("mandatory_validation_failed", "status is mandatory")
	}
	if !slices.Contains(Statuses, status) {
		return nil, refused("referred_value_does_not_exist", "The status "+status+" does not exist")
	}
	client := idString(in["client"].(map[string]any)["accountId"])
	if !slices.ContainsFunc(s.clients, func(c psa.Company) bool { return c.Ref == client }) {
		return nil, refused("referred_value_does_not_exist", "The client "+client+" does not exist")
	}
	t := ticketRec{subject: subject, client: client, status: status, source: fmt.Sprint(in["source"])}
	t.description, _ = in["description"].(string)
	if rq, ok := in["requester"].(map[string]any); ok {
		u := s.user(idString(rq["userId"]))
		if u == nil || u.client != client {
			return nil, refused("referred_value_does_not_exist", "The requester does not exist at the client")
		}
		t.requester = u.id
	}
	s.nextID++
	t.id = strconv.FormatInt(s.nextID, 10)
	t.display = fmt.Sprintf("120226-%04d", len(s.tickets)+1)
	s.tickets = append(s.tickets, t)
	return s.ticketJSON(t), nil
}

// opUpdateTicket changes a ticket's requester or subject; the fake applies
// nothing else it is sent, as a test would have to teach it first.
func (s *Server) opUpdateTicket(in map[string]any, _ any) (any, *gqlError) {
	id := idString(in["ticketId"])
	i := slices.IndexFunc(s.tickets, func(t ticketRec) bool { return t.id == id })
	if i < 0 {
		return nil, notFound("ticket", id)
	}
	t := s.tickets[i]
	for k, v := range in {
		switch k {
		case "ticketId":
		case "requester":
			rq, _ := v.(map[string]any)
			u := s.user(idString(rq["userId"]))
			if u == nil {
				return nil, refused("referred_value_does_not_exist", "The requester does not exist")
			}
			t.requester = u.id
		case "subject":
			if t.subject, _ = v.(string); strings.TrimSpace(t.subject) == "" {
				return nil, refused("mandatory_validation_failed", "subject is mandatory")
			}
		default:
			s.v.Add("updateTicket: superopstest does not apply %q", k)
			return nil, refused("type_validation_failed", "not applied: "+k)
		}
	}
	s.tickets[i] = t
	return s.ticketJSON(t), nil
}

// opUpdateClientUser changes a requester's contactNumber and custom
// fields (merged key by key; a column that is no custom field of
// requesters is refused).
func (s *Server) opUpdateClientUser(in map[string]any, _ any) (any, *gqlError) {
	id := idString(in["userId"])
	u := s.user(id)
	if u == nil {
		return nil, notFound("client user", id)
	}
	next := *u
	next.custom = map[string]any{}
	for k, v := range u.custom {
		next.custom[k] = v
	}
	for k, v := range in {
		switch k {
		case "userId":
		case "contactNumber":
			next.contactNumber, _ = v.(string)
		case "customFields":
			cf, _ := v.(map[string]any)
			for col, val := range cf {
				if !slices.ContainsFunc(s.fields, func(f map[string]any) bool { return f["columnName"] == col && f["fieldCategory"] == "CUSTOM" }) {
					return nil, refused("referred_value_does_not_exist", "The custom field "+col+" does not exist")
				}
				if str, ok := val.(string); !ok || len(str) > 255 {
					return nil, refused("value_length_exceeds_limit", "A text field holds at most 255 characters")
				}
				next.custom[col] = val
			}
		default:
			s.v.Add("updateClientUser: superopstest does not apply %q", k)
			return nil, refused("type_validation_failed", "not applied: "+k)
		}
	}
	*u = next
	return s.userJSON(*u), nil
}

// opGetTechnicianList lists the technicians a page at a time.
func (s *Server) opGetTechnicianList(in map[string]any, _ any) (any, *gqlError) {
	var rows []map[string]any
	for _, m := range s.techs {
		first, last, _ := strings.Cut(m.Name, " ")
		var phone, lastName any
		if m.Phone != "" {
			phone = m.Phone
		}
		if last != "" {
			lastName = last
		}
		rows = append(rows, map[string]any{"userId": m.Ref, "firstName": first, "lastName": lastName, "name": m.Name, "email": m.Email,
			"contactNumber": phone, "role": map[string]any{"roleId": num("3"), "name": "Technician"}})
	}
	items, info := s.page(in, rows)
	return map[string]any{"userList": items, "listInfo": info}, nil
}

// opGetStatusList lists the ticket statuses.
func (s *Server) opGetStatusList(map[string]any, any) (any, *gqlError) {
	out := []map[string]any{}
	for i, n := range Statuses {
		out = append(out, map[string]any{"id": strconv.Itoa(i + 1), "name": n, "description": nil})
	}
	return out, nil
}

// ContactPhones returns the requester's two numbers as stored: the
// mobile custom field (labelled "Mobile") and contactNumber, each when
// set (psatest.ContactPhoneFake); nil for no such requester.
func (s *Server) ContactPhones(ref string) []psa.Phone {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if u.id != ref {
			continue
		}
		out := []psa.Phone{}
		if m, ok := u.custom[MobileColumn].(string); ok && m != "" {
			out = append(out, psa.Phone{Number: m, Label: "Mobile"})
		}
		if u.contactNumber != "" {
			out = append(out, psa.Phone{Number: u.contactNumber})
		}
		return out
	}
	return nil
}

// TicketContact is TicketRequester (psatest.TicketContactFake).
func (s *Server) TicketContact(ref string) string { return s.TicketRequester(ref) }

// SetDefaultContact is SetPrimaryContact (psatest.DefaultContactFake).
func (s *Server) SetDefaultContact(companyRef, contactRef string) {
	s.SetPrimaryContact(companyRef, contactRef)
}
