package halo

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// The ticket custom tab (reference, Custom tabs): Halo frames the pod on
// the ticket screen with the URL an admin pasted into Configuration ›
// Custom Tabs (type Iframe), its ticket variable replaced with the ticket
// id: …/pod/{tenant}/{integration}?ticket=$FAULTID. Halo passes no
// identity to a tab, signed or not, so the URL is context only: the ticket
// is read through this integration's API (so it must be a ticket of this
// instance), and the technician is known from Countersign's own sign-in or
// Halo agent sign-in in a pop-out (agentlogin.go).

// FrameOrigins implements [psa.Embedder]: only the instance itself may
// frame the tab.
func (c *Client) FrameOrigins() []string {
	u, err := url.Parse(c.cfg.InstanceURL)
	if err != nil {
		return nil
	}
	return []string{u.Scheme + "://" + u.Host}
}

// TabQuery is the query the custom tab's URL ends in, with the tab
// variable Halo fills in.
func (c *Client) TabQuery() string { return "?ticket=" + c.cfg.TabVariable }

// PodContext implements [psa.Embedder]: ?ticket= is the ticket id Halo
// filled in. Everything else is read through the API.
func (c *Client) PodContext(q url.Values) (psa.PodContext, error) {
	raw := strings.TrimSpace(q.Get("ticket"))
	switch {
	case raw == "":
		return psa.PodContext{}, core.Errorf(core.KindInvalid,
			"the custom tab URL names no Halo ticket: it must end in %s", c.TabQuery())
	case strings.ContainsAny(raw, "${}[]"):
		return psa.PodContext{}, core.Errorf(core.KindInvalid,
			"Halo did not fill in the custom tab's ticket variable %s: check the variable name in Halo's Custom Tab editor and the integration's tab variable setting", short(raw))
	}
	if len(raw) > 10 || strings.Trim(raw, "0123456789") != "" {
		return psa.PodContext{}, core.Errorf(core.KindInvalid, "the custom tab's ticket %s is not a Halo ticket id", strconv.Quote(short(raw)))
	}
	id, err := strconv.ParseInt(raw, 10, 32)
	if err != nil || id < 1 {
		return psa.PodContext{}, core.Errorf(core.KindInvalid, "the custom tab's ticket %s is not a Halo ticket id", strconv.Quote(short(raw)))
	}
	return psa.PodContext{Screen: psa.ScreenTicket, TicketRef: strconv.FormatInt(id, 10)}, nil
}

// Interface guard.
var _ psa.Embedder = (*Client)(nil)
