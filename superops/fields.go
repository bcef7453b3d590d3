package superops

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// mobileLabels are the labels of a requester's mobile-number field, matched
// whole, trimmed and in any case (shared/reference/superops.md).
var mobileLabels = []string{"mobile phone", "mobile number", "cell phone", "cell number", "cell", "mobile"}

// FieldCandidate is a custom field that may hold the mobile number.
type FieldCandidate struct {
	Column string // "udf7text"
	Label  string // "Mobile Phone"
}

// MobileDiscovery is what [Client.DiscoverMobileField] found.
type MobileDiscovery struct {
	// Column is the one field whose label names a mobile number; "" when
	// none or several do.
	Column string
	// Candidates are the fields whose label names a mobile number, for
	// the admin to choose among when there are several.
	Candidates []FieldCandidate
	// SampleKeys are the custom-field keys of a sample requester, shown to
	// help an admin type the column by hand when nothing matched or the
	// field list is not available.
	SampleKeys []string
	// Unavailable says SuperOps did not answer the field list.
	Unavailable bool
}

// DiscoverMobileField finds the requesters' mobile-number custom field by
// its label with getAllFields("COMPANY_USER") — an operation of SuperOps'
// IT-Teams reference reported to work on MSP tenants, hence the fallback —
// and, when no single field matches, reads one requester for the keys its
// custom fields have.
func (c *Client) DiscoverMobileField(ctx context.Context) (MobileDiscovery, error) {
	var d MobileDiscovery
	var fields []struct {
		ColumnName    string `json:"columnName"`
		Label         string `json:"label"`
		FieldType     string `json:"fieldType"`
		FieldCategory string `json:"fieldCategory"`
	}
	err := c.do(ctx, gql{
		what: "list requester fields", name: "getAllFields", input: "COMPANY_USER",
		query: `query getAllFields($input: String!) { getAllFields(input: $input) { columnName label fieldType fieldCategory } }`,
	}, &fields)
	var se *Error
	switch {
	case err == nil:
		for _, f := range fields {
			if !strings.EqualFold(f.FieldCategory, "CUSTOM") || !columnPattern.MatchString(f.ColumnName) {
				continue
			}
			if slices.Contains(mobileLabels, strings.ToLower(strings.TrimSpace(f.Label))) {
				d.Candidates = append(d.Candidates, FieldCandidate{Column: f.ColumnName, Label: strings.TrimSpace(f.Label)})
			}
		}
		if len(d.Candidates) == 1 {
			d.Column = d.Candidates[0].Column
			return d, nil
		}
	case errors.As(err, &se) && se.Kind() == core.KindInvalid:
		d.Unavailable = true // the tenant does not know getAllFields
	default:
		return MobileDiscovery{}, err
	}
	keys, err := c.sampleKeys(ctx)
	if err != nil {
		return MobileDiscovery{}, err
	}
	d.SampleKeys = keys
	return d, nil
}

// sampleKeys returns the custom-field keys of the first requesters.
func (c *Client) sampleKeys(ctx context.Context) ([]string, error) {
	users, err := c.listUsers(ctx, "", nil, maxPageSize*2)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for i, u := range users {
		if i >= 20 {
			break
		}
		for k := range u.CustomFields {
			set[k] = true
		}
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, nil
}

// MobileFieldPresent reports whether the integration's mobile field is
// still a custom field of some requester among the first pages; when it
// is not (the field was deleted or recreated under another column), the
// admin runs the discovery again — the setup page does it for them.
func (c *Client) MobileFieldPresent(ctx context.Context) (bool, error) {
	if c.cfg.MobileField == "" {
		return false, nil
	}
	keys, err := c.sampleKeys(ctx)
	if err != nil {
		return false, err
	}
	return slices.Contains(keys, c.cfg.MobileField), nil
}

// Choices offers the values of the mobile-number field from the tenant
// ([psa.FieldChooser]): the fields whose label names a mobile number, or,
// when none does, the custom-field keys requesters have.
func (c *Client) Choices(ctx context.Context, field string) (psa.Choices, error) {
	if field != "mobile_field" {
		return psa.Choices{}, core.Errorf(core.KindInvalid, "superops: no choices for the setting %q", field)
	}
	d, err := c.DiscoverMobileField(ctx)
	if err != nil {
		return psa.Choices{}, err
	}
	out := psa.Choices{Suggested: d.Column}
	for _, f := range d.Candidates {
		out.Options = append(out.Options, psa.Choice{Value: f.Column, Label: f.Label + " (" + f.Column + ")"})
	}
	switch {
	case len(d.Candidates) == 1:
		out.Hint = "One requester field is labelled as a mobile number."
	case len(d.Candidates) > 1:
		out.Hint = "Several requester fields are labelled as a mobile number: pick the one your technicians fill in."
	default:
		for _, k := range d.SampleKeys {
			out.Options = append(out.Options, psa.Choice{Value: k, Label: k})
		}
		out.Hint = "No requester field is labelled Mobile, Mobile phone, Mobile number, Cell, Cell phone or Cell number; these are the custom-field keys requesters have."
		if d.Unavailable {
			out.Hint = "SuperOps did not list its requester fields; these are the custom-field keys requesters have."
		}
	}
	return out, nil
}
