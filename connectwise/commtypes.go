package connectwise

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// commType is a row of /company/communicationTypes: the tenant's own kinds
// of email address and phone number ("Email - Business", "Phone - Direct"),
// whose ids and names differ per tenant (reference §7.3).
type commType struct {
	ID          int    `json:"id"`
	Description string `json:"description"`
	EmailFlag   *bool  `json:"emailFlag"`
	PhoneFlag   *bool  `json:"phoneFlag"`
	FaxFlag     *bool  `json:"faxFlag"`
	DefaultFlag *bool  `json:"defaultFlag"`
}

func (t commType) kind() string {
	switch {
	case isTrue(t.EmailFlag):
		return kindEmail
	case isTrue(t.PhoneFlag):
		return kindPhone
	case isTrue(t.FaxFlag):
		return "Fax"
	}
	return ""
}

// The values of ContactCommunicationItem.communicationType.
const (
	kindEmail = "Email"
	kindPhone = "Phone"
)

func isTrue(b *bool) bool { return b != nil && *b }

// commTypes returns the tenant's communication types, cached for
// commTypesTTL.
func (c *Client) commTypes(ctx context.Context) ([]commType, error) {
	c.st.mu.Lock()
	if c.st.types != nil && c.now().Sub(c.st.typesAt) < commTypesTTL {
		ts := c.st.types
		c.st.mu.Unlock()
		return ts, nil
	}
	c.st.mu.Unlock()
	ts, err := listAll[commType](ctx, c, call{
		what:   "list communication types",
		op:     "GET /company/communicationTypes",
		method: http.MethodGet,
		path:   "/company/communicationTypes",
		query:  url.Values{"fields": {"id,description,emailFlag,phoneFlag,faxFlag,defaultFlag"}},
		area:   "reading communication types (System › Table Setup, inquire)",
	}, 1000, 5000)
	if err != nil {
		return nil, err
	}
	c.st.mu.Lock()
	c.st.types, c.st.typesAt = ts, c.now()
	c.st.mu.Unlock()
	return ts, nil
}

// pickType returns the communication type to file a new item of kind
// under: one whose description contains label ("Mobile" → "Phone -
// Mobile"), else the default of that kind, else the first of that kind.
func pickType(types []commType, kind, label string) (commType, bool) {
	var first, def *commType
	for i := range types {
		t := &types[i]
		if t.kind() != kind {
			continue
		}
		if label != "" && strings.Contains(strings.ToLower(t.Description), strings.ToLower(label)) {
			return *t, true
		}
		if first == nil {
			first = t
		}
		if def == nil && isTrue(t.DefaultFlag) {
			def = t
		}
	}
	switch {
	case def != nil:
		return *def, true
	case first != nil:
		return *first, true
	}
	return commType{}, false
}
