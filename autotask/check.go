package autotask

import (
	"context"
	"net/http"
	"net/url"
)

// Check implements [psa.Checker], for the setup page's live check. It
// deviates from the one-call rule on purpose, to name the problem
// precisely: it finds the zone (a wrong username), reads
// ThresholdInformation (a wrong secret or integration code), then asks for
// one ticket id and one contact id (a security level without the
// permissions verification needs) and the note picklists. Four calls and a
// discovery on a cold cache.
func (c *Client) Check(ctx context.Context) error {
	if _, err := c.zone(ctx); err != nil {
		return wrapWhat("check", err)
	}
	if _, err := c.Threshold(ctx); err != nil {
		return wrapWhat("check", err)
	}
	for _, p := range []struct{ entity, area string }{
		{"Tickets", ticketsArea},
		{"Contacts", contactsArea},
	} {
		var n struct {
			QueryCount int `json:"queryCount"`
		}
		if err := c.do(ctx, call{what: "check " + p.entity, op: "GET /V1.0/" + p.entity + "/query/count", method: http.MethodGet,
			path: "V1.0/" + p.entity + "/query/count", query: url.Values{"search": {string(jsonBody(queryModel{Filter: []filter{allIDs}}))}},
			area: p.area}, &n); err != nil {
			return err
		}
	}
	if _, err := c.NotePicklists(ctx); err != nil {
		return wrapWhat("check", err)
	}
	return nil
}
