package connectwise

import (
	"context"
	"net/http"
	"net/url"
)

// Check implements [psa.Checker], for the console's "Test connection"
// button. It deviates from the one-call rule on purpose, to name the
// problem precisely: it discovers the codebase (wrong site, wrong company
// id), reads /system/info (wrong keys, keys on the cloud UI host), then
// reads one contact and one ticket id (a security role without the
// permissions verification needs). Four calls on a cold cache.
func (c *Client) Check(ctx context.Context) error {
	if _, err := c.codebase(ctx); err != nil {
		return c.wrapWhat("check", err)
	}
	var info struct {
		Version string `json:"version"`
	}
	if _, err := c.getJSON(ctx, call{
		what: "check", op: "GET /system/info", method: http.MethodGet, path: "/system/info",
		area: "reading system information",
	}, &info); err != nil {
		return err
	}
	probe := url.Values{"pageSize": {"1"}, "fields": {"id"}}
	for _, cl := range []call{
		{what: "check contacts", op: "GET /company/contacts", path: "/company/contacts", area: "reading contacts (Companies › Contacts, inquire)"},
		{what: "check tickets", op: "GET /service/tickets", path: "/service/tickets", area: "reading service tickets (Service Desk › Service Tickets, inquire)"},
	} {
		cl.method, cl.query = http.MethodGet, probe
		var ids []struct {
			ID int `json:"id"`
		}
		if _, err := c.getJSON(ctx, cl, &ids); err != nil {
			return err
		}
	}
	return nil
}
