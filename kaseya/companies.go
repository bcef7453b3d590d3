package kaseya

import (
	"context"
	"net/url"
	"strconv"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// ListCompanies lists accounts with GET /v2/crm/accounts/summary, whose
// totalRecords says when the last page is in even when BMS serves smaller
// pages than asked for; the cursor is the next page number.
func (c *Client) ListCompanies(ctx context.Context, o psa.ListOptions) (psa.Page[psa.Company], error) {
	size := o.PageSize
	if size <= 0 || size > maxPageSize {
		size = maxPageSize
	}
	page := 1
	if o.Cursor != "" {
		n, err := strconv.Atoi(o.Cursor)
		if err != nil || n < 1 || n > 100000 {
			return psa.Page[psa.Company]{}, core.Errorf(core.KindInvalid, "kaseya: %q is not a cursor of this client", o.Cursor)
		}
		page = n
	}
	var rows []struct {
		ID          int    `json:"id"`
		AccountName string `json:"accountName"`
	}
	total := -1
	if err := c.do(ctx, call{
		what: "list accounts", op: "GET /v2/crm/accounts/summary", method: "GET", path: "/v2/crm/accounts/summary",
		query: url.Values{"PageSize": {strconv.Itoa(size)}, "PageNumber": {strconv.Itoa(page)}},
	}, &rows, &total); err != nil {
		return psa.Page[psa.Company]{}, err
	}
	if len(rows) > size {
		return psa.Page[psa.Company]{}, newError("list accounts", core.KindUnavailable, nil, "Kaseya BMS sent %d accounts for a page of %d: refusing an oversized answer", len(rows), size)
	}
	out := psa.Page[psa.Company]{Items: make([]psa.Company, 0, len(rows))}
	for _, r := range rows {
		out.Items = append(out.Items, psa.Company{Ref: strconv.Itoa(r.ID), Name: strings.TrimSpace(r.AccountName)})
	}
	// Pages hold the same number of rows but the last, so page*len(rows)
	// below the total means more; past the last page BMS sends none.
	if len(rows) > 0 && (total < 0 && len(rows) == size || page*len(rows) < total) {
		out.Next = strconv.Itoa(page + 1)
	}
	return out, nil
}

// userInfo is the part of BMS's UserInfoOutputDto we use.
type userInfo struct {
	UserID       int    `json:"userId"`
	FullName     string `json:"fullName"`
	EmailAddress string `json:"emailAddress"`
}

// IdentifyMember returns the BMS user the integration signs in as, with
// GET /v2/security/userinfo.
func (c *Client) IdentifyMember(ctx context.Context) (psa.Member, error) {
	var u userInfo
	if err := c.do(ctx, call{
		what: "read the signed-in user", op: "GET /v2/security/userinfo", method: "GET", path: "/v2/security/userinfo",
		subject: "signed-in user",
	}, &u, nil); err != nil {
		return psa.Member{}, err
	}
	if u.UserID == 0 {
		return psa.Member{}, newError("read the signed-in user", core.KindUnavailable, nil, "Kaseya BMS sent no user id")
	}
	// BMS's userinfo has no login name: Identifier stays "".
	return psa.Member{Ref: strconv.Itoa(u.UserID), Name: strings.TrimSpace(u.FullName), Email: u.EmailAddress}, nil
}

// Check signs in and reads the signed-in user: the setup page's live check.
func (c *Client) Check(ctx context.Context) error {
	_, err := c.IdentifyMember(ctx)
	return err
}
