package autotask

import (
	"context"
	"strconv"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// wireMember is a Resources record as ListMembers reads it.
type wireMember struct {
	wireResource
	MobilePhone string `json:"mobilePhone"`
	OfficePhone string `json:"officePhone"`
}

var memberFields = append(append([]string(nil), resourceFields...), "mobilePhone", "officePhone")

// membersPageSize is ListMembers' default page.
const membersPageSize = 200

// ListMembers implements [psa.MemberLister] with a Resources query for the
// active resources, a page at a time by id (the cursor is the last id, as
// in ListCompanies). A member's phone is their mobile, else their office
// phone, as Autotask holds it. The API user (this integration's own
// resource) is left out: it is not a technician.
func (c *Client) ListMembers(ctx context.Context, o psa.ListOptions) (psa.Page[psa.Member], error) {
	const what = "list resources"
	size := o.PageSize
	if size <= 0 {
		size = membersPageSize
	}
	size = min(size, maxRecords)
	var after int64
	if o.Cursor != "" {
		n, err := strconv.ParseInt(o.Cursor, 10, 64)
		if err != nil || n < 0 {
			return psa.Page[psa.Member]{}, core.Errorf(core.KindInvalid, "resource list cursor %q is not one this client made", o.Cursor)
		}
		after = n
	}
	ws, more, err := queryPage[wireMember](ctx, c, what, "Resources", resourcesArea, queryModel{MaxRecords: size,
		IncludeFields: memberFields, Filter: []filter{gt("id", after), eq("isActive", true)}})
	if err != nil {
		return psa.Page[psa.Member]{}, err
	}
	out := psa.Page[psa.Member]{Items: []psa.Member{}}
	var last int64
	for _, w := range ws {
		if w.ID <= after {
			return psa.Page[psa.Member]{}, newError(what, core.KindUnavailable, nil, "Autotask answered \"id gt %d\" with resource %d", after, w.ID)
		}
		last = max(last, w.ID)
		if w.IsActive != nil && !*w.IsActive || strings.EqualFold(w.UserName, c.cfg.UserName) {
			continue
		}
		m := w.toMember()
		m.Email = strings.TrimSpace(m.Email)
		if m.Phone = strings.TrimSpace(w.MobilePhone); m.Phone == "" {
			m.Phone = strings.TrimSpace(w.OfficePhone)
		}
		out.Items = append(out.Items, m)
	}
	if more || len(ws) == size {
		out.Next = idRef(last)
	}
	return out, nil
}
