package psa

import (
	"net/http"
	"strings"
)

// NextLink returns the URL of the rel="next" link in h's Link headers
// (RFC 8288), or "" when there is none: the last page. ConnectWise and the
// memory PSA page this way. Callers check that the URL is on the PSA's own
// host before following it, so that a response cannot send credentials
// elsewhere.
func NextLink(h http.Header) string {
	for _, v := range h.Values("Link") {
		// Split on '<' rather than ',': a target URL may contain commas
		// (ConnectWise conditions), but never an unescaped '<'.
		for _, link := range strings.Split(v, "<")[1:] {
			target, params, ok := strings.Cut(link, ">")
			if !ok {
				continue
			}
			for _, p := range strings.Split(params, ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if !strings.EqualFold(strings.TrimSpace(k), "rel") {
					continue
				}
				val = strings.TrimRight(strings.TrimSpace(val), ", ")
				for _, rel := range strings.Fields(strings.Trim(val, `"`)) {
					if strings.EqualFold(rel, "next") {
						return target
					}
				}
			}
		}
	}
	return ""
}
