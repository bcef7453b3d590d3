package halo

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// wireClient is a Halo client (customer company; schema Area).
type wireClient struct {
	ID         int     `json:"id"`
	Name       string  `json:"name"`
	Inactive   *bool   `json:"inactive"`
	MainSiteID flexInt `json:"main_site_id"`
}

// wireSite is a site of a client (schema Site).
type wireSite struct {
	ID            int     `json:"id"`
	Name          string  `json:"name"`
	ClientID      flexInt `json:"client_id"`
	Inactive      *bool   `json:"inactive"`
	MainContactID flexInt `json:"maincontact_id"`
}

// Site is a site of a Halo client: Halo files users under sites.
type Site struct {
	Ref       string
	ClientRef string
	Name      string
}

const areaClients = "reading clients (permission read:customers)"

// ListCompanies implements [psa.CompanyLister] over Halo's clients (GET
// /api/Client, paged). Inactive
// clients are left out.
func (c *Client) ListCompanies(ctx context.Context, o psa.ListOptions) (psa.Page[psa.Company], error) {
	size := o.PageSize
	if size <= 0 {
		size = defaultPageSize
	}
	size = min(size, maxPageSize)
	page, seen := 1, 0
	if o.Cursor != "" {
		p, n, ok := parseCursor(o.Cursor)
		if !ok {
			return psa.Page[psa.Company]{}, core.Errorf(core.KindInvalid, "%q is not a cursor of this Halo client", short(o.Cursor))
		}
		page, seen = p, n
	}
	q := url.Values{"pageinate": {"true"}, "page_size": {strconv.Itoa(size)}, "page_no": {strconv.Itoa(page)}}
	cl := call{what: "list clients", op: "GET /api/Client", method: http.MethodGet, path: "/Client", query: q, area: areaClients}
	var raw map[string]json.RawMessage
	if err := c.getJSON(ctx, cl, &raw); err != nil {
		return psa.Page[psa.Company]{}, err
	}
	items, total, err := unwrapList[wireClient](raw, "clients")
	if err != nil {
		return psa.Page[psa.Company]{}, c.decodeFail(cl.what, err)
	}
	if len(items) > size {
		return psa.Page[psa.Company]{}, newError(cl.what, core.KindUnavailable, nil, "Halo sent %d clients for a page of %d: refusing an oversized answer", len(items), size)
	}
	out := psa.Page[psa.Company]{Items: []psa.Company{}}
	for _, w := range items {
		if w.Inactive != nil && *w.Inactive {
			continue
		}
		out.Items = append(out.Items, psa.Company{Ref: strconv.Itoa(w.ID), Name: w.Name})
	}
	seen += len(items)
	if len(items) > 0 && ((total >= 0 && seen < total) || (total < 0 && len(items) == size)) {
		out.Next = strconv.Itoa(page+1) + "." + strconv.Itoa(seen)
	}
	return out, nil
}

// parseCursor reads a ListCompanies cursor: "{next page}.{clients seen}".
// The count travels with the page because Halo may cap pages below the
// size asked for, and record_count is compared with what was seen.
func parseCursor(s string) (page, seen int, ok bool) {
	a, b, found := strings.Cut(s, ".")
	p, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !found || err1 != nil || err2 != nil || p < 2 || p > 1_000_000 || n < 0 || n > 100_000_000 {
		return 0, 0, false
	}
	return p, n, true
}

// getClient reads one client (GET /api/Client/{id}).
func (c *Client) getClient(ctx context.Context, id int) (wireClient, error) {
	sid := strconv.Itoa(id)
	var w wireClient
	if err := c.getJSON(ctx, call{
		what: "get client " + sid, op: "GET /api/Client/{id}", method: http.MethodGet, path: "/Client/" + sid,
		subject: "client " + sid, area: areaClients,
	}, &w); err != nil {
		return wireClient{}, err
	}
	if w.ID != id {
		return wireClient{}, newError("get client "+sid, core.KindNotFound, nil, "Halo has no client %s", sid)
	}
	return w, nil
}

// Sites lists the active sites of the client with clientRef (GET
// /api/Site?client_id=…).
func (c *Client) Sites(ctx context.Context, clientRef string) ([]Site, error) {
	id, err := parseID("client", clientRef)
	if err != nil {
		return nil, err
	}
	ws, err := listAll[wireSite](ctx, c, call{
		what: "list sites", op: "GET /api/Site", method: http.MethodGet, path: "/Site",
		query: url.Values{"client_id": {strconv.Itoa(id)}}, area: areaClients,
	}, "sites", defaultPageSize, 1000)
	if err != nil {
		return nil, err
	}
	out := []Site{}
	for _, w := range ws {
		if (w.Inactive != nil && *w.Inactive) || (w.ClientID != 0 && int(w.ClientID) != id) {
			continue
		}
		out = append(out, Site{Ref: strconv.Itoa(w.ID), ClientRef: strconv.Itoa(id), Name: w.Name})
	}
	return out, nil
}

// DefaultContact implements [psa.DefaultContactGetter]. A Halo client
// names no contact of its own (schema Area has only main_contact_name,
// a display copy); its main site does, as maincontact_id (schema Site).
// So the client is read for its main site (GET /api/Client/{id}) and the
// site for its main contact (GET /api/Site/{id}): two calls. A client
// without a main site, or a site without a main contact, names none.
func (c *Client) DefaultContact(ctx context.Context, companyRef string) (string, error) {
	id, err := parseID("client", companyRef)
	if err != nil {
		return "", err
	}
	what := "get the main contact of client " + strconv.Itoa(id)
	cl, err := c.getClient(ctx, id)
	if err != nil {
		return "", c.wrapWhat(what, err)
	}
	if cl.MainSiteID < 1 {
		return "", nil
	}
	sid := strconv.Itoa(int(cl.MainSiteID))
	var st wireSite
	if err := c.getJSON(ctx, call{
		what: what, op: "GET /api/Site/{id}", method: http.MethodGet, path: "/Site/" + sid,
		subject: "site " + sid, area: areaClients,
	}, &st); err != nil {
		return "", err
	}
	if st.ID != int(cl.MainSiteID) || (st.ClientID != 0 && int(st.ClientID) != id) || st.MainContactID < 1 {
		// Another client's site would name another client's user.
		return "", nil
	}
	return strconv.Itoa(int(st.MainContactID)), nil
}
