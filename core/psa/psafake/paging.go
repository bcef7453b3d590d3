package psafake

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// PageBounds returns the [start, end) of page (1-based) among n items at
// size a page, and the number of the last page (1 for an empty list). A
// page past the last is empty.
func PageBounds(n, page, size int) (start, end, last int) {
	size = max(size, 1)
	page = max(page, 1)
	last = max(1, (n+size-1)/size)
	start = min((page-1)*size, n)
	return start, min(start+size, n), last
}

// CursorBounds returns the [start, end) of the page after cursor (an
// offset as a decimal string; "" for the first page) among n items at size
// a page, and the next page's cursor ("" on the last page). A cursor that
// is not an offset is an error the fake answers with a 400.
func CursorBounds(n int, cursor string, size int) (start, end int, next string, err error) {
	size = max(size, 1)
	if cursor != "" {
		c, err := strconv.Atoi(cursor)
		if err != nil || c < 0 {
			return 0, 0, "", fmt.Errorf("cursor %q is not valid", cursor)
		}
		start = min(c, n)
	}
	end = min(start+size, n)
	if end < n {
		next = strconv.Itoa(end)
	}
	return start, end, next, nil
}

// Link is one link of an RFC 8288 Link header.
type Link struct {
	Rel string // "next", "prev", "first", "last"
	URL string
}

// LinkHeader formats links as a Link header value,
// `<https://…?page=2>; rel="next", <…>; rel="last"`, or "" for none.
func LinkHeader(links ...Link) string {
	parts := make([]string, 0, len(links))
	for _, l := range links {
		parts = append(parts, fmt.Sprintf(`<%s>; rel="%s"`, l.URL, l.Rel))
	}
	return strings.Join(parts, ", ")
}

// PageLinks returns the first, prev (when page > 1), next (when page <
// last) and last links of a page-numbered list whose request URL is u,
// with the page number in the query parameter param. Other query
// parameters are kept as they came.
func PageLinks(u *url.URL, param string, page, last int) []Link {
	at := func(p int) string { return WithQuery(u, param, strconv.Itoa(p)) }
	links := []Link{{Rel: "first", URL: at(1)}}
	if page > 1 {
		links = append(links, Link{Rel: "prev", URL: at(page - 1)})
	}
	if page < last {
		links = append(links, Link{Rel: "next", URL: at(page + 1)})
	}
	return append(links, Link{Rel: "last", URL: at(last)})
}

// WithQuery returns u (absolute) with query parameter param set to v.
func WithQuery(u *url.URL, param, v string) string {
	c := *u
	q := c.Query()
	q.Set(param, v)
	c.RawQuery = q.Encode()
	return c.String()
}

// RequestURL returns the absolute URL of a request as the fake saw it:
// scheme (https when tls), host and path with its query. Fakes build their
// Link headers from it.
func RequestURL(tls bool, host string, u *url.URL) *url.URL {
	out := *u
	out.Scheme, out.Host = "http", host
	if tls {
		out.Scheme = "https"
	}
	return &out
}
