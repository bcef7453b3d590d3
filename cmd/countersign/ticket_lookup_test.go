package main

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/kaseya"
	"github.com/countersign/countersign/kaseya/kaseyatest"
	"github.com/countersign/countersign/superops"
	"github.com/countersign/countersign/superops/superopstest"
)

// Verifying from a ticket number in the console, for the PSAs without an
// embed point, over HTTP with the real server (Run), the real clients and
// the contract-checked fakes: the ticket resolves to its contact, an SMS
// code verifies them, the outbox writes the internal note to the ticket,
// and the PSA calls of the whole round stay within budget.

// ticketPSA is one PSA's fake, as the round needs it.
type ticketPSA struct {
	kind, name string
	cfg        any
	link       string // the ticket's address in the PSA, from the integration's ticket URL
	caller     string // the ticket's contact
	http       *http.Client
	number     string            // the ticket number the technician types
	ticketRef  string            // its id in the PSA
	requests   func() int        // the fake's request count
	notes      func() []psa.Note // the ticket's notes
	private    func(i int) bool  // whether note i is internal as the PSA stores it
}

const ticketCallerPhone = "+15550100184"

func kaseyaTicketPSA(t *testing.T) ticketPSA {
	ks := kaseyatest.NewServer(t)
	ks.Seed([]psa.Company{{Ref: "501", Name: "Acme Dental"}},
		[]psa.Contact{{Ref: "601", CompanyRef: "501", FirstName: "Kay", LastName: "Caller",
			Emails: []psa.Email{{Address: "kay@acme-dental.example", Default: true}},
			Phones: []psa.Phone{{Number: "(555) 010-0184", Label: "Mobile", Default: true}}}},
		[]psa.Ticket{{Ref: "701", Number: "T20261202.0007", Summary: "Password reset", CompanyRef: "501", ContactRef: "601"}})
	cfg := ks.Config()
	cfg.TicketURL = "https://bms.kaseya.com/#/servicedesk/tickets/{id}"
	return ticketPSA{kind: kaseya.ID, name: "Kaseya BMS", cfg: cfg, link: "https://bms.kaseya.com/#/servicedesk/tickets/701", caller: "Kay Caller", http: ks.HTTPClient(), number: "T20261202.0007", ticketRef: "701",
		requests: ks.Requests, notes: func() []psa.Note { return ks.Notes("701") },
		private: func(i int) bool { return ks.NoteRecords("701")[i].IsInternal }}
}

func superopsTicketPSA(t *testing.T) ticketPSA {
	ss := superopstest.NewServer(t)
	ss.Seed([]psa.Company{{Ref: "7928838372746166276", Name: "Globex"}},
		[]psa.Contact{{Ref: "7928838372746166301", CompanyRef: "7928838372746166276", FirstName: "Sue", LastName: "Caller",
			Emails: []psa.Email{{Address: "sue@globex.example", Default: true}},
			Phones: []psa.Phone{{Number: "(555) 010-0184", Label: "Mobile"}}}},
		[]psa.Ticket{{Ref: "7928838372746166987", Number: "120226-0005", Summary: "VPN down", CompanyRef: "7928838372746166276", ContactRef: "7928838372746166301"}})
	cfg := ss.Config()
	cfg.TicketURL = "https://acmemsp.superops.ai/#/tickets/{id}/details"
	return ticketPSA{kind: superops.ID, name: "SuperOps", cfg: cfg, link: "https://acmemsp.superops.ai/#/tickets/7928838372746166987/details", caller: "Sue Caller", http: ss.HTTPClient(), number: "120226-0005", ticketRef: "7928838372746166987",
		requests: ss.Requests, notes: func() []psa.Note { return ss.Notes("7928838372746166987") },
		private: func(i int) bool { return ss.NoteRecords("7928838372746166987")[i].PrivacyType == "PRIVATE" }}
}

// consoleSignIn signs Jane in to the console over the API (password, TOTP
// enrolment) and returns the client holding her session.
func consoleSignIn(t *testing.T, s *testServer) *apiClient {
	t.Helper()
	c := newAPIClient(t, "http://"+s.Addr+"/api/v1")
	status, body := c.do("POST", "/login", map[string]string{"tenant": testTenantSlug, "email": techEmail, "password": techPassword})
	require.Equal(t, http.StatusOK, status, body)
	secret, _ := body["secret"].(string)
	require.NotEmpty(t, secret, "%v", body)
	code, err := totp.GenerateCode(secret, time.Now())
	require.NoError(t, err)
	status, body = c.do("POST", "/login/totp", map[string]string{"code": code})
	require.Equal(t, http.StatusOK, status, body)
	return c
}

func TestVerifyFromTicketNumber(t *testing.T) {
	for _, mk := range []func(*testing.T) ticketPSA{kaseyaTicketPSA, superopsTicketPSA} {
		p := mk(t)
		t.Run(p.name, func(t *testing.T) {
			s := startServer(t, func(c *Config) { c.psaHTTP = p.http })
			intID := s.AddIntegration(t, p.kind, p.name, p.cfg)
			c := consoleSignIn(t, s)

			status, body := c.do("GET", "/tickets/sources", nil)
			require.Equal(t, http.StatusOK, status, body)
			assert.Contains(t, body["sources"], map[string]any{"id": intID, "name": p.name, "kind": p.kind})

			round := func(t *testing.T) int {
				t.Helper()
				before := p.requests()
				notes := len(p.notes())
				status, pc := c.do("GET", "/tickets/lookup?integration="+intID+"&number="+url.QueryEscape(p.number), nil)
				require.Equal(t, http.StatusOK, status, pc)
				ticket := pc["ticket"].(map[string]any)
				assert.Equal(t, p.ticketRef, ticket["ref"])
				assert.Equal(t, p.link, ticket["url"])
				assert.Equal(t, p.number, ticket["number"])
				contact := pc["contact"].(map[string]any)
				seen := len(s.Twilio.Messages())
				status, v := c.do("POST", "/pod/"+intID+"/verifications",
					map[string]string{"scope": pc["scope"].(string), "contact_id": contact["id"].(string), "method": "sms_code"})
				require.Equal(t, http.StatusCreated, status, v)
				code := s.WaitForSMSCode(t, ticketCallerPhone, seen)
				status, v = c.do("POST", "/verifications/"+v["id"].(string)+"/check", map[string]string{"code": code})
				require.Equal(t, http.StatusOK, status, v)
				require.Equal(t, "verified", v["status"])
				deadline := time.Now().Add(waitTimeout)
				for len(p.notes()) == notes && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				require.Len(t, p.notes(), notes+1, "the note was written to the ticket")
				assert.True(t, p.private(notes), "internal")
				assert.Contains(t, p.notes()[notes].Text, "SMS")
				return p.requests() - before
			}
			assert.LessOrEqual(t, round(t), 4, "cold: ticket number + verification + note")
			assert.LessOrEqual(t, round(t), 2, "warm")

			// Numbers that are no ticket, and input that is no number.
			status, body = c.do("GET", "/tickets/lookup?integration="+intID+"&number=NOPE-1", nil)
			assert.Equal(t, http.StatusNotFound, status, body)
			assert.Contains(t, body["error"], "has no ticket NOPE-1")
			for _, bad := range []string{"", "a b", "<script>", "x" + string(make([]byte, 60))} {
				status, body = c.do("GET", "/tickets/lookup?integration="+intID+"&number="+url.QueryEscape(bad), nil)
				assert.Equal(t, http.StatusBadRequest, status, "%q: %v", bad, body)
			}
			status, _ = c.do("GET", "/tickets/lookup?integration=int_other&number="+p.number, nil)
			assert.Equal(t, http.StatusNotFound, status, "another tenant's or no integration")

			// The caller's open tickets, for the console to offer.
			status, pc := c.do("GET", "/tickets/lookup?integration="+intID+"&number="+url.QueryEscape(p.number), nil)
			require.Equal(t, http.StatusOK, status, pc)
			contactID := pc["contact"].(map[string]any)["id"].(string)
			status, body = c.do("GET", "/tickets/for-contact?contact="+contactID, nil)
			require.Equal(t, http.StatusOK, status, body)
			require.Len(t, body["tickets"], 1)
			tk := body["tickets"].([]any)[0].(map[string]any)
			assert.Equal(t, p.number, tk["number"])
			assert.Equal(t, intID, tk["integration"])
			assert.Equal(t, p.link, tk["url"])
			status, _ = c.do("GET", "/tickets/for-contact?contact=", nil)
			assert.Equal(t, http.StatusBadRequest, status)
			status, _ = c.do("GET", "/tickets/for-contact?contact=con_nosuch", nil)
			assert.Equal(t, http.StatusNotFound, status)
		})
	}
}

// TestBrowserVerifyFromTicket: in the console, the technician picks the
// PSA, types the ticket number, sends an SMS code to the ticket's contact,
// types the code the caller reads back, and the shield turns green; the
// internal note appears on the fake PSA's ticket.
func TestBrowserVerifyFromTicket(t *testing.T) {
	for _, mk := range []func(*testing.T) ticketPSA{kaseyaTicketPSA, superopsTicketPSA} {
		p := mk(t)
		t.Run(p.name, func(t *testing.T) {
			s := startServer(t, func(c *Config) { c.psaHTTP = p.http })
			s.AddIntegration(t, p.kind, p.name, p.cfg)
			tech := NewTab(t)
			s.SignIn(t, tech, techEmail, techPassword, "")

			tech.WaitVisible("#tk-number")
			tech.Type("#tk-number", "NOPE-1")
			tech.Click("#tk-open")
			tech.WaitText("#tk-msg", "has no ticket NOPE-1")

			tech.Eval(`document.getElementById("tk-number").value = ""`, nil)
			tech.Type("#tk-number", p.number)
			tech.Click("#tk-open")
			tech.WaitText("#tk-title", "Ticket "+p.number)
			tech.WaitText("#contact-name", "Caller")
			assert.Contains(t, tech.Text("#tk-contact"), "(the ticket's contact)")
			tech.WaitStable("main", 400*time.Millisecond)
			tech.CheckA11y("console (ticket open)")
			tech.Screenshot("console-ticket-" + p.kind)

			notes := len(p.notes())
			seen := len(s.Twilio.Messages())
			tech.Click(`button[data-method="sms_code"]`)
			code := s.WaitForSMSCode(t, ticketCallerPhone, seen)
			tech.WaitVisible("#code")
			tech.Type("#code", code)
			tech.Click(`#check button[type="submit"]`)
			tech.WaitClass("#shield", "green")
			tech.Screenshot("console-ticket-" + p.kind + "-verified")
			deadline := time.Now().Add(waitTimeout)
			for len(p.notes()) == notes && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			require.Len(t, p.notes(), notes+1, "the note is on the PSA's ticket")
			assert.True(t, p.private(notes), "and internal")
			var href string
			tech.Eval(`document.getElementById("tk-link").href`, &href)
			assert.Equal(t, p.link, href, "a link back to the ticket in the PSA")

			// Later, the caller chosen from the contacts: their open
			// tickets are listed, and one click opens one.
			tech.Click("#tk-clear")
			openContact(t, tech, "Caller", p.caller)
			tech.WaitVisible("#recent-list button")
			assert.Contains(t, tech.Text("#recent-list"), p.number)
			tech.CheckA11y("console (recent tickets)")
			tech.Click("#recent-list button")
			tech.WaitText("#tk-title", "Ticket "+p.number)
		})
	}
}

// TestBrowserChooseFromPSA: on the integrations page, a setting the PSA
// can offer (SuperOps' mobile-number field) is chosen from the tenant's
// own fields: the one labelled as a mobile number is filled in.
func TestBrowserChooseFromPSA(t *testing.T) {
	ss := superopstest.NewServer(t)
	ss.Seed([]psa.Company{{Ref: "7928838372746166276", Name: "Globex"}}, nil, nil)
	s := startServer(t, func(c *Config) { c.psaHTTP = ss.HTTPClient() })
	cfg := ss.Config()
	cfg.MobileField = ""
	intID := s.AddIntegration(t, superops.ID, "SuperOps", cfg)
	tech := NewTab(t)
	s.SignIn(t, tech, techEmail, techPassword, "")
	tech.Visit(s.URL + "/app/admin/integrations")
	tech.WaitVisible("#int-edit-" + intID)
	tech.Click("#int-edit-" + intID)
	tech.WaitVisible("#int-field-mobile_field-choose")
	tech.Click("#int-field-mobile_field-choose")
	tech.WaitText("#int-field-mobile_field-choices-msg", "One requester field is labelled as a mobile number")
	var got string
	tech.Eval(`document.getElementById("int-field-mobile_field").value`, &got)
	assert.Equal(t, superopstest.MobileColumn, got)
	tech.CheckA11y("integrations (choices)")
	tech.Click("#int-show-" + intID)
	tech.WaitText("#int-no-pods", "SuperOps has no place for a pod")
	var podsShown bool
	tech.Eval(`!document.getElementById("int-pods-list").hidden`, &podsShown)
	assert.False(t, podsShown, "no empty pod table for a PSA without pods")
	tech.Screenshot("integrations-superops-mobile-field")
}
