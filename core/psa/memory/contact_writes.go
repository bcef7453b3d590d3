package memory

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// Contact writes of SMS opt-in forms (issue 18 item 4): a note on a
// contact, and a corrected mobile number. The API takes the contact's
// phones as a whole list (PATCH /contacts/{id} {"phones": […]}), so the
// client reads the contact, changes the one number and writes the list.

// wireContactPatch is the body of PATCH /contacts/{id}.
type wireContactPatch struct {
	Phones []wirePhone `json:"phones"`
}

// AddContactNote implements [psa.ContactNoter].
func (c *Client) AddContactNote(ctx context.Context, contactRef, text string) error {
	if err := c.post(ctx, "POST /contacts/{id}/notes", "contacts/"+url.PathEscape(contactRef)+"/notes", wireNote{Text: text, Visibility: "internal"}, nil); err != nil {
		if refused := refusal("add note to contact "+contactRef, err); refused != nil {
			return refused
		}
		return fmt.Errorf("memory: add note to contact %s: %w", contactRef, err)
	}
	return nil
}

// SetContactPhone implements [psa.ContactPhoneSetter]. Numbers are compared
// in E.164, national ones read as US numbers, as the server does.
func (c *Client) SetContactPhone(ctx context.Context, contactRef string, ch psa.PhoneChange) error {
	ct, err := c.GetContact(ctx, contactRef)
	if err != nil {
		return err
	}
	same := func(a, b string) bool {
		x, err1 := core.NormalizePhone(a, "US")
		y, err2 := core.NormalizePhone(b, "US")
		return err1 == nil && err2 == nil && x == y
	}
	if slices.ContainsFunc(ct.Phones, func(p psa.Phone) bool { return same(p.Number, ch.New) }) {
		return nil
	}
	phones := make([]wirePhone, 0, len(ct.Phones)+1)
	replaced := false
	for _, p := range ct.Phones {
		w := wirePhone{Number: p.Number, Label: p.Label, Primary: p.Default}
		if !replaced && ch.Old != "" && same(p.Number, ch.Old) {
			w.Number, replaced = ch.New, true
		}
		phones = append(phones, w)
	}
	if !replaced {
		label := ch.Label
		if label == "" {
			label = "Mobile"
		}
		phones = append(phones, wirePhone{Number: ch.New, Label: label})
	}
	if err := c.patch(ctx, "PATCH /contacts/{id}", "contacts/"+url.PathEscape(contactRef), wireContactPatch{Phones: phones}); err != nil {
		if refused := refusal("change the phones of contact "+contactRef, err); refused != nil {
			return refused
		}
		return fmt.Errorf("memory: change the phones of contact %s: %w", contactRef, err)
	}
	return nil
}

// ContactNotes returns the notes written on the contact with ref.
func (s *Server) ContactNotes(ref string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.contactNotes[ref])
}

func (s *Server) handleAddContactNote(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var in wireNote
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		s.writeError(w, http.StatusBadRequest, "invalid note: "+err.Error())
		return
	}
	if strings.TrimSpace(in.Text) == "" || in.Visibility != "internal" {
		s.writeError(w, http.StatusUnprocessableEntity, `text is required and contact notes are "internal"`)
		return
	}
	c, ok := s.contact(id)
	if !ok {
		s.writeError(w, http.StatusNotFound, "no such contact")
		return
	}
	if !visible(r, c.CompanyRef) {
		s.writeError(w, http.StatusForbidden, "the member may not see this contact")
		return
	}
	s.mu.Lock()
	s.contactNotes[id] = append(s.contactNotes[id], in.Text)
	s.mu.Unlock()
	s.writeJSON(w, http.StatusCreated, in)
}

func (s *Server) handlePatchContact(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var in wireContactPatch
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || in.Phones == nil {
		s.writeError(w, http.StatusBadRequest, "invalid contact patch: phones is required")
		return
	}
	for _, p := range in.Phones {
		if strings.TrimSpace(p.Number) == "" {
			s.writeError(w, http.StatusUnprocessableEntity, "a phone needs a number")
			return
		}
	}
	c, ok := s.contact(id)
	if !ok {
		s.writeError(w, http.StatusNotFound, "no such contact")
		return
	}
	if !visible(r, c.CompanyRef) {
		s.writeError(w, http.StatusForbidden, "the member may not see this contact")
		return
	}
	s.mu.Lock()
	for i := range s.contacts {
		if s.contacts[i].Ref == id {
			s.contacts[i].Phones = nil
			for _, p := range in.Phones {
				s.contacts[i].Phones = append(s.contacts[i].Phones, psa.Phone{Number: p.Number, Label: p.Label, Default: p.Primary})
			}
			c = cloneContact(s.contacts[i])
		}
	}
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, toWireContact(c))
}
