package connectwise

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

type wireCompany struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// Page sizes of company lists. ConnectWise allows up to 1000 a page.
const (
	defaultCompanyPage = 250
	maxPageSize        = 1000
)

// DefaultContact implements [psa.DefaultContactGetter]: GET
// /company/companies/{id}?fields=defaultContact.
func (c *Client) DefaultContact(ctx context.Context, companyRef string) (string, error) {
	id, err := parseID("company", companyRef)
	if err != nil {
		return "", err
	}
	sid := strconv.Itoa(id)
	var w struct {
		DefaultContact *wireRef `json:"defaultContact"`
	}
	if _, err := c.getJSON(ctx, call{
		what: "get the default contact of company " + sid, op: "GET /company/companies/{id}", method: http.MethodGet,
		path: "/company/companies/" + sid, query: url.Values{"fields": {"defaultContact"}},
		subject: "company " + sid, area: "reading companies (Companies › Company Maintenance, inquire)",
	}, &w); err != nil {
		return "", err
	}
	if w.DefaultContact == nil || w.DefaultContact.ID == nil || *w.DefaultContact.ID < 1 {
		return "", nil
	}
	return strconv.Itoa(*w.DefaultContact.ID), nil
}

// ListCompanies implements [psa.CompanyLister] with ConnectWise's
// forward-only paging (header pagination-type: forward-only, query
// pageId = the last id seen; reference §4), which stays fast on large
// syncs where page numbers make the server count from the start. The
// cursor is the last company id of the previous page. Deleted companies are
// left out.
func (c *Client) ListCompanies(ctx context.Context, o psa.ListOptions) (psa.Page[psa.Company], error) {
	const what = "list companies"
	size := o.PageSize
	if size <= 0 {
		size = defaultCompanyPage
	}
	size = min(size, maxPageSize)
	q := url.Values{
		"conditions": {"deletedFlag=false"},
		"fields":     {"id,name"},
		"pageSize":   {strconv.Itoa(size)},
	}
	after := 0
	if o.Cursor != "" {
		n, err := strconv.Atoi(o.Cursor)
		if err != nil || n < 1 {
			return psa.Page[psa.Company]{}, core.Errorf(core.KindInvalid, "company list cursor %q is not one this client made", o.Cursor)
		}
		after = n
		q.Set("pageId", o.Cursor)
	}
	cl := call{
		what: what, op: "GET /company/companies", method: http.MethodGet, path: "/company/companies", query: q,
		header: http.Header{"Pagination-Type": {"forward-only"}},
		area:   "reading companies (Companies › Company Maintenance, inquire)",
	}
	var ws []wireCompany
	h, err := c.getJSON(ctx, cl, &ws)
	if err != nil {
		return psa.Page[psa.Company]{}, err
	}
	if len(ws) > size {
		return psa.Page[psa.Company]{}, newError(what, core.KindUnavailable, nil,
			"ConnectWise sent %d companies for a page of %d: refusing an oversized answer", len(ws), size)
	}
	out := psa.Page[psa.Company]{Items: []psa.Company{}}
	last := after
	for _, w := range ws {
		// pageId means id > pageId, in id order; anything else would make
		// the cursor skip or repeat companies.
		if w.ID <= last {
			return psa.Page[psa.Company]{}, newError(what, core.KindUnavailable, nil, "ConnectWise sent companies out of id order in a forward-only page")
		}
		last = w.ID
		out.Items = append(out.Items, psa.Company{Ref: strconv.Itoa(w.ID), Name: w.Name})
	}
	// Forward-only answers always carry a next link; the list ends with
	// an empty page, or when there is no link at all.
	next, err := c.nextLink(h, cl)
	if err != nil {
		return psa.Page[psa.Company]{}, err
	}
	if next != nil && len(ws) > 0 {
		out.Next = strconv.Itoa(last)
	}
	return out, nil
}

// GetCompany returns the company with ref, or core.ErrNotFound.
func (c *Client) GetCompany(ctx context.Context, ref string) (psa.Company, error) {
	id, err := parseID("company", ref)
	if err != nil {
		return psa.Company{}, err
	}
	sid := strconv.Itoa(id)
	var w wireCompany
	if _, err := c.getJSON(ctx, call{
		what: "get company " + sid, op: "GET /company/companies/{id}", method: http.MethodGet,
		path: "/company/companies/" + sid, query: url.Values{"fields": {"id,name"}},
		subject: "company " + sid, area: "reading companies (Companies › Company Maintenance, inquire)",
	}, &w); err != nil {
		return psa.Company{}, err
	}
	return psa.Company{Ref: strconv.Itoa(w.ID), Name: w.Name}, nil
}
