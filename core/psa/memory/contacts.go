package memory

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// FindContacts implements [psa.ContactFinder]. The server matches emails
// case-insensitively and phones in E.164, so the search is passed through
// as it is.
func (c *Client) FindContacts(ctx context.Context, companyRef string, s psa.ContactSearch) ([]psa.Contact, error) {
	const op = "memory: find contacts"
	if companyRef == "" && s.IsZero() {
		return nil, core.Errorf(core.KindInvalid, "a contact search needs a company or a criterion")
	}
	q := url.Values{}
	for k, v := range map[string]string{"company_id": companyRef, "email": s.Email, "phone": s.Phone, "name": strings.TrimSpace(s.Name)} {
		if v != "" {
			q.Set(k, v)
		}
	}
	out := []psa.Contact{}
	for range maxPages {
		var page []wireContact
		h, err := c.get(ctx, "GET /contacts", "contacts", q, &page)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		for _, w := range page {
			out = append(out, fromWireContact(w))
		}
		cur, err := c.nextCursor(h, op, "contacts")
		if err != nil || cur == "" {
			return out, err
		}
		q.Set("cursor", cur)
	}
	return nil, fmt.Errorf("%s: more than %d pages: %w", op, maxPages, core.ErrUnavailable)
}

// GetContact implements [psa.ContactGetter].
func (c *Client) GetContact(ctx context.Context, ref string) (psa.Contact, error) {
	var w wireContact
	if _, err := c.get(ctx, "GET /contacts/{id}", "contacts/"+url.PathEscape(ref), nil, &w); err != nil {
		return psa.Contact{}, fmt.Errorf("memory: get contact %s: %w", ref, err)
	}
	return fromWireContact(w), nil
}

// CreateContact implements [psa.ContactCreator].
func (c *Client) CreateContact(ctx context.Context, in psa.Contact) (psa.Contact, error) {
	in.Ref = ""
	var w wireContact
	if err := c.post(ctx, "POST /contacts", "contacts", toWireContact(in), &w); err != nil {
		return psa.Contact{}, fmt.Errorf("memory: create contact: %w", err)
	}
	if w.ID == "" {
		return psa.Contact{}, fmt.Errorf("memory: create contact: answer has no id: %w", core.ErrUnavailable)
	}
	return fromWireContact(w), nil
}
