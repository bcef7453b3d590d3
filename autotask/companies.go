package autotask

import (
	"context"
	"strconv"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// companyTTL is how long a company's name is trusted.
const companyTTL = time.Hour

type wireCompany struct {
	ID          int64  `json:"id"`
	CompanyName string `json:"companyName"`
	IsActive    *bool  `json:"isActive"`
}

type cachedCompany struct {
	c  psa.Company
	at time.Time
}

const companiesArea = "reading companies (CRM: view companies)"

// companiesPageSize is ListCompanies' default page.
const companiesPageSize = 200

// ListCompanies implements [psa.CompanyLister], a page at a time, by id
// (the query adds "id gt <the cursor>", the paging Autotask documents as
// an alternative to page URLs). It is non-essential work: it waits while
// the database's API usage is above half its threshold and stops above
// three quarters (see [Budget]). Every company listed is cached.
func (c *Client) ListCompanies(ctx context.Context, o psa.ListOptions) (psa.Page[psa.Company], error) {
	const what = "list companies"
	if err := c.nonEssential(ctx, what); err != nil {
		return psa.Page[psa.Company]{}, err
	}
	size := o.PageSize
	if size <= 0 {
		size = companiesPageSize
	}
	size = min(size, maxRecords)
	var after int64
	if o.Cursor != "" {
		n, err := strconv.ParseInt(o.Cursor, 10, 64)
		if err != nil || n < 0 {
			return psa.Page[psa.Company]{}, core.Errorf(core.KindInvalid, "company list cursor %q is not one this client made", o.Cursor)
		}
		after = n
	}
	ws, more, err := queryPage[wireCompany](ctx, c, what, "Companies", companiesArea, queryModel{MaxRecords: size,
		IncludeFields: []string{"id", "companyName", "isActive"}, Filter: []filter{gt("id", after)}})
	if err != nil {
		return psa.Page[psa.Company]{}, err
	}
	out := psa.Page[psa.Company]{Items: []psa.Company{}}
	var last int64
	for _, w := range ws {
		if w.ID <= after {
			return psa.Page[psa.Company]{}, newError(what, core.KindUnavailable, nil, "Autotask answered \"id gt %d\" with company %d", after, w.ID)
		}
		last = max(last, w.ID)
		co := psa.Company{Ref: idRef(w.ID), Name: w.CompanyName}
		c.cacheCompany(co)
		out.Items = append(out.Items, co)
	}
	if more || len(ws) == size {
		out.Next = idRef(last)
	}
	return out, nil
}

func (c *Client) cacheCompany(co psa.Company) {
	c.st.mu.Lock()
	defer c.st.mu.Unlock()
	id, _ := strconv.ParseInt(co.Ref, 10, 64)
	c.st.companies[id] = cachedCompany{c: co, at: c.now()}
}

// GetCompany returns the company with ref, from the cache when it was read
// within the hour.
func (c *Client) GetCompany(ctx context.Context, ref string) (psa.Company, error) {
	id, err := parseID("company", ref)
	if err != nil {
		return psa.Company{}, err
	}
	c.st.mu.Lock()
	cc, ok := c.st.companies[id]
	c.st.mu.Unlock()
	if ok && c.now().Sub(cc.at) < companyTTL {
		return cc.c, nil
	}
	w, err := getItem[wireCompany](ctx, c, "get company "+ref, "Companies", "company "+ref, companiesArea, id)
	if err != nil {
		return psa.Company{}, err
	}
	co := psa.Company{Ref: idRef(w.ID), Name: w.CompanyName}
	c.cacheCompany(co)
	return co, nil
}
