package halo

import (
	"context"
	"net/http"
	"net/url"
)

// Check implements [psa.Checker], for the console's "Test connection"
// button. It deviates from the one-call rule on purpose, to name the
// problem precisely: a token (wrong instance, tenant, id or secret), the
// application's agent (GET /api/Agent/me), then one user and one ticket
// (a scope or agent without the rights verification needs: whether users
// fall under the customers scopes is unconfirmed, so it is tried rather
// than assumed). Four calls on a cold client, five when authinfo is asked.
func (c *Client) Check(ctx context.Context) error {
	if _, err := c.IdentifyMember(ctx); err != nil {
		return err
	}
	probe := url.Values{"count": {"1"}}
	for _, cl := range []call{
		{what: "check users", op: "GET /api/Users", path: "/Users", area: areaUsers},
		{what: "check tickets", op: "GET /api/Tickets", path: "/Tickets", area: areaTickets},
	} {
		cl.method, cl.query = http.MethodGet, probe
		var v map[string]any
		if err := c.getJSON(ctx, cl, &v); err != nil {
			return err
		}
	}
	return nil
}
