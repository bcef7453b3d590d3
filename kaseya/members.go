package kaseya

import (
	"context"
	"net/url"
	"strconv"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// defaultMemberPage is ListMembers' page when the caller names none.
const defaultMemberPage = maxPageSize

// ListMembers implements [psa.MemberLister] with GET
// /v2/hr/employees/searchselect?Filter.IsActive=true: the MSP's active
// employees, with their login name and e-mail address. BMS's employee
// list carries no phone number (EmployeesListSearchSelectOutputDto), so
// Phone is always "": an admin adds the number of a copied member by
// hand. The cursor is the next page number; totalRecords says when the
// last page is in.
func (c *Client) ListMembers(ctx context.Context, o psa.ListOptions) (psa.Page[psa.Member], error) {
	const what = "list employees"
	size := o.PageSize
	if size <= 0 || size > maxPageSize {
		size = defaultMemberPage
	}
	page := 1
	if o.Cursor != "" {
		n, err := strconv.Atoi(o.Cursor)
		if err != nil || n < 1 || n > 100000 {
			return psa.Page[psa.Member]{}, core.Errorf(core.KindInvalid, "kaseya: %q is not a cursor of this client", o.Cursor)
		}
		page = n
	}
	var rows []struct {
		ID           int    `json:"id"`
		FirstName    string `json:"firstName"`
		LastName     string `json:"lastName"`
		EmailAddress string `json:"emailAddress"`
		Username     string `json:"username"`
		IsActive     *bool  `json:"isActive"`
	}
	total := -1
	if err := c.do(ctx, call{
		what: what, op: "GET /v2/hr/employees/searchselect", method: "GET", path: "/v2/hr/employees/searchselect",
		query: url.Values{"Filter.IsActive": {"true"}, "PageSize": {strconv.Itoa(size)}, "PageNumber": {strconv.Itoa(page)}},
	}, &rows, &total); err != nil {
		return psa.Page[psa.Member]{}, err
	}
	if len(rows) > size {
		return psa.Page[psa.Member]{}, newError(what, core.KindUnavailable, nil, "Kaseya BMS sent %d employees for a page of %d: refusing an oversized answer", len(rows), size)
	}
	out := psa.Page[psa.Member]{Items: []psa.Member{}}
	for _, r := range rows {
		if r.ID < 1 || r.IsActive != nil && !*r.IsActive {
			continue // asked for active ones; the filter is checked again
		}
		out.Items = append(out.Items, psa.Member{Ref: strconv.Itoa(r.ID), Identifier: strings.TrimSpace(r.Username),
			Name: strings.TrimSpace(strings.TrimSpace(r.FirstName) + " " + strings.TrimSpace(r.LastName)), Email: strings.TrimSpace(r.EmailAddress)})
	}
	// As ListCompanies: full pages below the total mean more.
	if len(rows) > 0 && (total < 0 && len(rows) == size || page*len(rows) < total) {
		out.Next = strconv.Itoa(page + 1)
	}
	return out, nil
}
