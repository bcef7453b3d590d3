package psa

import (
	"net/url"
	"strings"

	"github.com/countersign/countersign/core"
)

// TicketURL fills a ticket-URL template of an integration's settings
// ("https://acme.example/tickets/{id}"), with the ticket's Ref for {id}
// and its Number for {number}, each escaped as one path segment or query
// value. "" when the template is "".
func TicketURL(template string, t Ticket) string {
	if template == "" {
		return ""
	}
	r := strings.NewReplacer("{id}", url.PathEscape(t.Ref), "{number}", url.PathEscape(t.Number))
	return r.Replace(template)
}

// ValidateTicketURL checks a ticket-URL template: an https address that
// names the ticket with {id} or {number}. what names the setting in the
// message.
func ValidateTicketURL(what, template string) error {
	if template == "" {
		return nil
	}
	u, err := url.Parse(strings.NewReplacer("{id}", "1", "{number}", "1").Replace(template))
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return core.Errorf(core.KindInvalid, "%s must be an https address, e.g. https://example.com/tickets/{id}", what)
	}
	if !strings.Contains(template, "{id}") && !strings.Contains(template, "{number}") {
		return core.Errorf(core.KindInvalid, "%s must name the ticket with {id} or {number}", what)
	}
	return nil
}
