package superops

import (
	"context"
	"strconv"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// ListCompanies lists clients with getClientList; the cursor is the next
// page number.
func (c *Client) ListCompanies(ctx context.Context, o psa.ListOptions) (psa.Page[psa.Company], error) {
	size := o.PageSize
	if size <= 0 || size > maxPageSize {
		size = maxPageSize
	}
	page := 1
	if o.Cursor != "" {
		n, err := strconv.Atoi(o.Cursor)
		if err != nil || n < 1 || n > 100000 {
			return psa.Page[psa.Company]{}, core.Errorf(core.KindInvalid, "superops: %q is not a cursor of this client", o.Cursor)
		}
		page = n
	}
	var res struct {
		Clients []struct {
			AccountID FlexID `json:"accountId"`
			Name      string `json:"name"`
		} `json:"clients"`
		ListInfo listInfo `json:"listInfo"`
	}
	if err := c.do(ctx, gql{
		what: "list clients", name: "getClientList", input: map[string]any{"page": page, "pageSize": size},
		query: `query getClientList($input: ListInfoInput!) { getClientList(input: $input) { clients { accountId name } ` + listInfoFields + ` } }`,
	}, &res); err != nil {
		return psa.Page[psa.Company]{}, err
	}
	if len(res.Clients) > size {
		return psa.Page[psa.Company]{}, newError("list clients", core.KindUnavailable, nil, "SuperOps sent more clients than a page holds: refusing an oversized answer")
	}
	out := psa.Page[psa.Company]{Items: make([]psa.Company, 0, len(res.Clients))}
	for _, cl := range res.Clients {
		out.Items = append(out.Items, psa.Company{Ref: string(cl.AccountID), Name: strings.TrimSpace(cl.Name)})
	}
	if res.ListInfo.HasMore != nil && *res.ListInfo.HasMore && len(res.Clients) > 0 {
		out.Next = strconv.Itoa(page + 1)
	}
	return out, nil
}

// Check reads one client: the setup page's live check of the token and
// the subdomain.
func (c *Client) Check(ctx context.Context) error {
	_, err := c.ListCompanies(ctx, psa.ListOptions{PageSize: 1})
	return err
}
