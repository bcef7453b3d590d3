package autotask

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/countersign/countersign/core"
)

// queryModel is the body of POST V1.0/{Entity}/query (reference, "Query
// syntax and paging"). Top-level filter items are ANDed.
type queryModel struct {
	MaxRecords    int      `json:"MaxRecords,omitempty"`
	IncludeFields []string `json:"IncludeFields,omitempty"`
	Filter        []filter `json:"filter"`
}

// filter is one filter item: a leaf (op, field, value) or a group ("and",
// "or") of items.
type filter struct {
	Op    string   `json:"op"`
	Field string   `json:"field,omitempty"`
	Value any      `json:"value,omitempty"`
	Items []filter `json:"items,omitempty"`
}

func eq(field string, v any) filter       { return filter{Op: "eq", Field: field, Value: v} }
func or(items ...filter) filter           { return filter{Op: "or", Items: items} }
func and(items ...filter) filter          { return filter{Op: "and", Items: items} }
func gt(field string, v any) filter       { return filter{Op: "gt", Field: field, Value: v} }
func contains(field string, v any) filter { return filter{Op: "contains", Field: field, Value: v} }

// allIDs is the filter that selects every record: Autotask refuses a query
// without one.
var allIDs = filter{Op: "gte", Field: "id", Value: 0}

// Query limits.
const (
	// maxRecords is Autotask's largest page.
	maxRecords = 500
	// maxPages bounds the pages one query follows, so that a server that
	// keeps sending nextPageUrl cannot loop a client forever.
	maxPages = 50
	// maxOr is Autotask's limit of OR conditions in one query.
	maxOr = 500
)

// page is a query answer.
type page[T any] struct {
	Items       []T `json:"items"`
	PageDetails struct {
		Count       int     `json:"count"`
		NextPageURL *string `json:"nextPageUrl"`
	} `json:"pageDetails"`
}

// queryAll runs q against entity ("Contacts") and returns every page of
// it, at most maxItems records. Queries are GETs with the query in search=
// (the contract's UrlParameterQuery), so that they are retried like every
// read; next pages are fetched the same way, and only from the zone's own
// API: a nextPageUrl on another origin or outside entity's query is
// refused, so an answer cannot send our credentials elsewhere.
func queryAll[T any](ctx context.Context, c *Client, what, entity, area string, q queryModel, maxItems int) ([]T, error) {
	cl := queryCall(what, entity, area, q)
	out := []T{}
	for n := 0; n < maxPages; n++ {
		var p page[T]
		if err := c.do(ctx, cl, &p); err != nil {
			return nil, err
		}
		if limit := q.MaxRecords; limit > 0 && len(p.Items) > limit || len(p.Items) > maxRecords {
			return nil, newError(what, core.KindUnavailable, nil, "Autotask sent %d records for a page of at most %d: refusing an oversized answer", len(p.Items), max(q.MaxRecords, maxRecords))
		}
		out = append(out, p.Items...)
		if len(out) > maxItems {
			return nil, newError(what, core.KindInvalid, errTooMany, "more than %d Autotask records match: narrow the search", maxItems)
		}
		if p.PageDetails.NextPageURL == nil || *p.PageDetails.NextPageURL == "" {
			return out, nil
		}
		next, err := c.checkNext(ctx, *p.PageDetails.NextPageURL, entity)
		if err != nil {
			return nil, wrapWhat(what, err)
		}
		cl.url, cl.query, cl.op = next, nil, "GET /V1.0/"+entity+"/query/next"
	}
	return nil, newError(what, core.KindUnavailable, nil, "Autotask kept sending next pages after %d pages", maxPages)
}

// queryCall is the first page of q: GET V1.0/{entity}/query?search=….
func queryCall(what, entity, area string, q queryModel) call {
	return call{what: what, op: "GET /V1.0/" + entity + "/query", method: http.MethodGet,
		path: "V1.0/" + entity + "/query", query: url.Values{"search": {string(jsonBody(q))}}, area: area}
}

// checkNext checks a nextPageUrl: the zone's scheme and host, under the
// zone's API base, on entity's query.
func (c *Client) checkNext(ctx context.Context, raw, entity string) (string, error) {
	z, err := c.zone(ctx)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(raw)
	prefix := strings.ToLower(z.base.Path + "V1.0/" + entity + "/query")
	if err != nil || u.Scheme != z.base.Scheme || !strings.EqualFold(u.Host, z.base.Host) || u.User != nil ||
		!strings.HasPrefix(strings.ToLower(u.Path), prefix) {
		return "", newError("follow the next page", core.KindUnavailable, nil,
			"Autotask's nextPageUrl does not point back at %s%s: refusing to send credentials elsewhere", z.base.Host, z.base.Path)
	}
	return u.String(), nil
}

// item is the answer of GET V1.0/{Entity}/{id}.
type item[T any] struct {
	Item *T `json:"item"`
}

// getItem reads entity record id into v. A missing record is a 404 or an
// {"item": null} (reference: which one is unconfirmed); both are
// core.ErrNotFound.
func getItem[T any](ctx context.Context, c *Client, what, entity, subject, area string, id int64) (T, error) {
	var it item[T]
	var zero T
	if err := c.do(ctx, call{what: what, op: "GET /V1.0/" + entity + "/{id}", method: http.MethodGet,
		path: "V1.0/" + entity + "/" + idRef(id), subject: subject, area: area}, &it); err != nil {
		return zero, err
	}
	if it.Item == nil {
		return zero, newError(what, core.KindNotFound, nil, "Autotask has no %s", subject)
	}
	return *it.Item, nil
}

// created is the answer of a create: {"itemId": n}.
type created struct {
	ItemID int64 `json:"itemId"`
}

// errTooMany is the cause of a query that stopped at its item limit.
var errTooMany = errors.New("too many records")

// queryPage runs q against entity and returns its first page only, and
// whether Autotask has more.
func queryPage[T any](ctx context.Context, c *Client, what, entity, area string, q queryModel) ([]T, bool, error) {
	var p page[T]
	if err := c.do(ctx, queryCall(what, entity, area, q), &p); err != nil {
		return nil, false, err
	}
	if limit := q.MaxRecords; limit > 0 && len(p.Items) > limit || len(p.Items) > maxRecords {
		return nil, false, newError(what, core.KindUnavailable, nil, "Autotask sent %d records for a page of at most %d: refusing an oversized answer", len(p.Items), max(q.MaxRecords, maxRecords))
	}
	more := p.PageDetails.NextPageURL != nil && *p.PageDetails.NextPageURL != ""
	return p.Items, more, nil
}
