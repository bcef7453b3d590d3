package cwtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/countersign/countersign/core/psa"
)

// Contact writes of SMS opt-in forms: notes on a contact (model
// ContactNote) and its communication items (ContactCommunication), added
// with POST and replaced as a whole with PUT, as the contract has them.

type (
	// ContactNote model.
	contactNoteRec struct {
		ID        int    `json:"id"`
		ContactID int    `json:"contactId"`
		Text      string `json:"text"`
		Flagged   bool   `json:"flagged"`
		EnteredBy string `json:"enteredBy,omitempty"`
		Info      info   `json:"_info"`
	}
	// ContactCommunication model.
	contactCommRec struct {
		ID                int       `json:"id"`
		ContactID         int       `json:"contactId"`
		Type              reference `json:"type"`
		Value             string    `json:"value"`
		Extension         string    `json:"extension,omitempty"`
		DefaultFlag       bool      `json:"defaultFlag"`
		CommunicationType string    `json:"communicationType"`
		Info              info      `json:"_info"`
	}
)

// ContactNotes returns the texts of the notes added to the contact with
// ref, oldest first.
func (s *Server) ContactNotes(contactRef string) []string {
	id, err := refID(contactRef)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, n := range s.contactNotes[id] {
		out = append(out, n.Text)
	}
	return out
}

// contactLocked returns the contact of the path's parentId, having
// answered the request when there is none or the member may not see it.
func (s *Server) contactLocked(q *req) (*contactRec, bool) {
	id, ok := s.pathID(q, 2, "Contact")
	if !ok {
		return nil, false
	}
	for i := range s.contacts {
		if s.contacts[i].ID == id {
			if !q.who.sees(s.contacts[i].companyID()) {
				writeHidden(q)
				return nil, false
			}
			return &s.contacts[i], true
		}
	}
	writeError(q.w, http.StatusNotFound, "NotFound", fmt.Sprintf("Contact %d not found", id), nil)
	return nil, false
}

// handleAddContactNote serves POST /company/contacts/{parentId}/notes.
func (s *Server) handleAddContactNote(q *req) {
	var in struct {
		Text    string `json:"text"`
		Flagged bool   `json:"flagged"`
	}
	if err := json.Unmarshal(q.body, &in); err != nil {
		writeError(q.w, http.StatusBadRequest, "InvalidObject", "contactNote object is invalid", nil)
		return
	}
	if strings.TrimSpace(in.Text) == "" {
		writeError(q.w, http.StatusBadRequest, "InvalidObject", "contactNote object is invalid",
			[]fieldError{{Code: "MissingRequiredField", Message: "The text field is required.", Resource: "contactNote", Field: "text"}})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.contactLocked(q)
	if !ok {
		return
	}
	s.lastID++
	rec := contactNoteRec{ID: s.lastID, ContactID: c.ID, Text: in.Text, Flagged: in.Flagged, EnteredBy: "api",
		Info: info{"lastUpdated": time.Now().UTC().Format(time.RFC3339), "updatedBy": "api"}}
	s.contactNotes[c.ID] = append(s.contactNotes[c.ID], rec)
	s.writeJSONLocked(q, http.StatusCreated, "ContactNote", false, rec)
}

// commBody reads a ContactCommunication body: a type of the tenant's and
// a value are required (the contract marks both).
func (s *Server) commBody(q *req) (commItemRec, bool) {
	var in struct {
		Type        *reference `json:"type"`
		Value       string     `json:"value"`
		Extension   string     `json:"extension"`
		DefaultFlag bool       `json:"defaultFlag"`
	}
	invalid := func(field, msg string) (commItemRec, bool) {
		writeError(q.w, http.StatusBadRequest, "InvalidObject", "contactCommunication object is invalid",
			[]fieldError{{Code: "InvalidField", Message: msg, Resource: "contactCommunication", Field: field}})
		return commItemRec{}, false
	}
	if err := json.Unmarshal(q.body, &in); err != nil {
		return invalid("", "The object could not be read.")
	}
	if in.Type == nil {
		return invalid("type", "The type field is required.")
	}
	if strings.TrimSpace(in.Value) == "" {
		return invalid("value", "The value field is required.")
	}
	for _, t := range s.commTypes {
		if t.ID == in.Type.ID {
			return commItemRec{Type: reference{ID: t.ID, Name: t.Description, Info: info{}}, Value: in.Value, Extension: in.Extension,
				DefaultFlag: in.DefaultFlag, CommunicationType: t.kind()}, true
		}
	}
	return invalid("type", "The communication type is not valid.")
}

func commRecOf(contactID int, it commItemRec) contactCommRec {
	return contactCommRec{ID: it.ID, ContactID: contactID, Type: it.Type, Value: it.Value, Extension: it.Extension,
		DefaultFlag: it.DefaultFlag, CommunicationType: it.CommunicationType, Info: info{"lastUpdated": time.Now().UTC().Format(time.RFC3339)}}
}

// handleAddCommunication serves POST /company/contacts/{parentId}/communications.
func (s *Server) handleAddCommunication(q *req) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.commBody(q)
	if !ok {
		return
	}
	c, ok := s.contactLocked(q)
	if !ok {
		return
	}
	s.lastID++
	it.ID = s.lastID
	c.CommunicationItems = append(c.CommunicationItems, it)
	s.writeJSONLocked(q, http.StatusCreated, "ContactCommunication", false, commRecOf(c.ID, it))
}

// handlePutCommunication serves PUT /company/contacts/{parentId}/communications/{id}:
// the item is replaced as a whole.
func (s *Server) handlePutCommunication(q *req) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.commBody(q)
	if !ok {
		return
	}
	c, ok := s.contactLocked(q)
	if !ok {
		return
	}
	id, ok := s.pathID(q, 4, "Communication")
	if !ok {
		return
	}
	for i := range c.CommunicationItems {
		if c.CommunicationItems[i].ID == id {
			it.ID = id
			c.CommunicationItems[i] = it
			s.writeJSONLocked(q, http.StatusOK, "ContactCommunication", false, commRecOf(c.ID, it))
			return
		}
	}
	writeError(q.w, http.StatusNotFound, "NotFound", fmt.Sprintf("Communication %d not found", id), nil)
}

// ContactPhones returns the phone communication items of the contact with
// ref as stored, labelled with their type (psatest.ContactPhoneFake); nil
// for no such contact.
func (s *Server) ContactPhones(contactRef string) []psa.Phone {
	id, err := refID(contactRef)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.contacts {
		if c.ID != id {
			continue
		}
		out := []psa.Phone{}
		for _, it := range c.CommunicationItems {
			if it.CommunicationType == "Phone" {
				n := it.Value
				if it.Extension != "" {
					n += " x" + it.Extension
				}
				out = append(out, psa.Phone{Number: n, Label: it.Type.Name, Default: it.DefaultFlag})
			}
		}
		return out
	}
	return nil
}
