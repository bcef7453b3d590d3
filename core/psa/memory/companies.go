package memory

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"github.com/countersign/countersign/core/psa"
)

// ListCompanies implements [psa.CompanyLister]. The cursor is the server's.
func (c *Client) ListCompanies(ctx context.Context, o psa.ListOptions) (psa.Page[psa.Company], error) {
	const op = "memory: list companies"
	q := url.Values{}
	if o.PageSize > 0 {
		q.Set("page_size", strconv.Itoa(min(o.PageSize, maxPageSize)))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	var page []wireCompany
	h, err := c.get(ctx, "GET /companies", "companies", q, &page)
	if err != nil {
		return psa.Page[psa.Company]{}, fmt.Errorf("%s: %w", op, err)
	}
	out := psa.Page[psa.Company]{Items: []psa.Company{}}
	for _, w := range page {
		out.Items = append(out.Items, psa.Company{Ref: w.ID, Name: w.Name})
	}
	if out.Next, err = c.nextCursor(h, op, "companies"); err != nil {
		return psa.Page[psa.Company]{}, err
	}
	return out, nil
}

// DefaultContact implements [psa.DefaultContactGetter].
func (c *Client) DefaultContact(ctx context.Context, companyRef string) (string, error) {
	var w wireCompany
	if _, err := c.get(ctx, "GET /companies/{id}", "companies/"+url.PathEscape(companyRef), nil, &w); err != nil {
		return "", fmt.Errorf("memory: company %s: %w", companyRef, err)
	}
	return w.DefaultContactID, nil
}
