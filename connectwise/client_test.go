package connectwise_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/connectwise"
	"github.com/countersign/countersign/connectwise/cwtest"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// Seed data, in the psatest style: decimal refs.
var (
	acme  = psa.Company{Ref: "1001", Name: "Acme Dental"}
	alice = psa.Contact{
		Ref: "2001", CompanyRef: acme.Ref, FirstName: "Alice", LastName: "Smith",
		Emails: []psa.Email{{Address: "alice+it@acme-dental.example", Default: true}},
		Phones: []psa.Phone{{Number: "(555) 010-0142", Label: "Mobile", Default: true}},
	}
	ticket   = psa.Ticket{Ref: "3001", Summary: "Password reset", CompanyRef: acme.Ref, ContactRef: alice.Ref, Status: "New"}
	tech     = psa.Member{Ref: "42", Identifier: "jtech", Name: "Jamie Tech", Email: "jamie@msp.example"}
	techAuth = connectwise.MemberAuth{MemberID: "jtech", Hash: "h4sh+of/jtech==", Context: "ctx1"}
)

// env is one test's fake, client, counted calls and captured log.
type env struct {
	srv    *cwtest.Server
	client *connectwise.Client
	calls  *cwtest.CallLog
	logs   *bytes.Buffer
	deps   psa.Deps
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

func newEnv(t *testing.T, opts ...cwtest.Option) *env {
	t.Helper()
	srv := cwtest.NewServer(t, opts...)
	srv.Seed([]psa.Company{acme}, []psa.Contact{alice}, []psa.Ticket{ticket})
	srv.SetMember(psa.Member{Ref: "7", Identifier: "countersign-api", Name: "Countersign API"})
	logs := &syncBuffer{}
	calls := &cwtest.CallLog{}
	deps := srv.Deps(psa.Deps{
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Calls:  calls,
		Retry: psa.RetryPolicy{MaxAttempts: 3, Sleep: func(ctx context.Context, _ time.Duration) error {
			return ctx.Err()
		}},
	})
	c, err := connectwise.New(srv.Config(), deps)
	require.NoError(t, err)
	return &env{srv: srv, client: c, calls: calls, logs: &logs.Buffer, deps: deps}
}

// clientWith returns a client of e's fake with cfg changed by change.
func (e *env) clientWith(t *testing.T, change func(*connectwise.Config)) *connectwise.Client {
	t.Helper()
	cfg := e.srv.Config()
	change(&cfg)
	c, err := connectwise.New(cfg, e.deps)
	require.NoError(t, err)
	return c
}

// apiRequest sends a raw request to the fake's REST API, as a client that
// drifted from the contract would.
func apiRequest(t *testing.T, srv *cwtest.Server, method, path, body string) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, "https://"+srv.APIHost()+"/"+srv.Codebase()+"apis/3.0"+path, r)
	require.NoError(t, err)
	req.SetBasicAuth(cwtest.DefaultCompanyID+"+"+cwtest.PublicKey, cwtest.PrivateKey)
	req.Header.Set("clientId", cwtest.ClientID)
	req.Header.Set("Accept", "application/vnd.connectwise.com+json; version="+connectwise.APIVersion)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := srv.HTTPClient().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestFakeRejectsWhatTheContractDoesNot(t *testing.T) {
	srv := cwtest.NewServer(t)
	srv.Seed([]psa.Company{acme}, nil, nil)

	status, body := apiRequest(t, srv, http.MethodPost, "/company/contacts", `{"firstName":"Eve","email":"eve@acme.example"}`)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "InvalidObject", body["code"], "ConnectWise's error shape")
	v := srv.TakeViolations()
	require.Len(t, v, 1)
	assert.Contains(t, v[0], `field "email", which model Contact does not declare`)

	status, _ = apiRequest(t, srv, http.MethodPost, "/company/contacts", `{"firstName":"Eve","communicationItems":[{"type":{"id":1},"value":"x@y.example","label":"Work"}]}`)
	assert.Equal(t, http.StatusBadRequest, status, "undeclared fields are refused at every level")
	v = srv.TakeViolations()
	require.Len(t, v, 1)
	assert.Contains(t, v[0], "ContactCommunicationItem")

	status, _ = apiRequest(t, srv, http.MethodPost, "/service/tickets/1/notes", `{"text":"x","internalAnalysisFlag":"yes"}`)
	assert.Equal(t, http.StatusBadRequest, status, "values of the wrong kind are refused")
	assert.Len(t, srv.TakeViolations(), 1)

	status, body = apiRequest(t, srv, http.MethodGet, "/company/contactz", "")
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, map[string]any{"code": "ConnectWiseApi", "message": "The endpoint does not exist."}, body)
	assert.Len(t, srv.TakeViolations(), 1)

	status, _ = apiRequest(t, srv, http.MethodGet, "/system/MyMembers/info", "")
	assert.Equal(t, http.StatusNotFound, status, "paths are matched case-sensitively")
	assert.Len(t, srv.TakeViolations(), 1)

	status, body = apiRequest(t, srv, http.MethodPost, "/company/companies/5", "{}")
	assert.Equal(t, http.StatusMethodNotAllowed, status)
	assert.Equal(t, "ConnectWiseApi", body["code"])
	assert.Len(t, srv.TakeViolations(), 1)

	status, _ = apiRequest(t, srv, http.MethodGet, "/company/contacts?fields=id,email", "")
	assert.Equal(t, http.StatusBadRequest, status, "fields the model does not have")
	assert.Len(t, srv.TakeViolations(), 1)

	status, _ = apiRequest(t, srv, http.MethodGet, "/company/contacts?search=alice", "")
	assert.Equal(t, http.StatusBadRequest, status, "query names outside the contract")
	assert.Len(t, srv.TakeViolations(), 1)

	for _, cond := range []string{
		`childConditions=communicationItems/value%20in%20("a","b")`,
		`conditions=firstName=Alice`,
		`conditions=email="a@b.example"`,
		`conditions=communicationItems/value="a@b.example"`,
		`childConditions=communicationItems/value="a`,
	} {
		status, _ = apiRequest(t, srv, http.MethodGet, "/company/contacts?"+cond, "")
		assert.Equal(t, http.StatusBadRequest, status, cond)
		assert.Len(t, srv.TakeViolations(), 1, cond)
	}

	// ConnectWise's own rules, which the contract cannot express: not
	// violations, just its answers.
	status, body = apiRequest(t, srv, http.MethodPost, "/company/contacts", `{"lastName":"Nofirst"}`)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "InvalidObject", body["code"])
	assert.Empty(t, srv.TakeViolations())
}

func TestCloudAPIHost(t *testing.T) {
	for _, tc := range []struct{ site, want string }{
		{"na.myconnectwise.net", "api-na.myconnectwise.net"},
		{"https://EU.myconnectwise.net/", "api-eu.myconnectwise.net"},
		{"api-au.myconnectwise.net", "api-au.myconnectwise.net"},
		{"staging.connectwisedev.com", "api-staging.connectwisedev.com"},
		{"cw.msp.example", "cw.msp.example"},
		{"cw.msp.example:8443", "cw.msp.example:8443"},
	} {
		assert.Equal(t, tc.want, connectwise.APIHostFor(tc.site), tc.site)
	}

	e := newEnv(t)
	_, err := e.client.GetContact(t.Context(), alice.Ref)
	require.NoError(t, err)
	log := e.srv.Log()
	require.Len(t, log, 2)
	assert.Equal(t, "na.myconnectwise.net", log[0].Host, "discovery on the sign-in host")
	assert.Equal(t, "GET /login/companyinfo/{companyId}", log[0].Route)
	assert.Empty(t, log[0].Auth, "discovery carries no credentials")
	assert.Equal(t, "api-na.myconnectwise.net", log[1].Host, "REST on the api- host")
	assert.Equal(t, "api-key", log[1].Auth)

	onPrem := newEnv(t, cwtest.WithSite("cw.msp.example"))
	_, err = onPrem.client.GetContact(t.Context(), alice.Ref)
	require.NoError(t, err)
	for _, r := range onPrem.srv.Log() {
		assert.Equal(t, "cw.msp.example", r.Host, "on premises everything is on the site")
	}

	// API keys on the cloud sign-in host are refused by ConnectWise.
	c := e.clientWith(t, func(cfg *connectwise.Config) { cfg.APIHost = "na.myconnectwise.net" })
	_, err = c.GetContact(t.Context(), alice.Ref)
	require.ErrorIs(t, err, core.ErrForbidden)
	assert.Contains(t, core.ErrorMessage(err), "api- host")
}

func TestCodebaseChange(t *testing.T) {
	e := newEnv(t)
	_, err := e.client.GetContact(t.Context(), alice.Ref)
	require.NoError(t, err)
	e.calls.Take()

	e.srv.ChangeCodebase("v2025_2/")
	got, err := e.client.GetContact(t.Context(), alice.Ref)
	require.NoError(t, err, "a changed codebase is discovered again")
	assert.Equal(t, alice.Ref, got.Ref)
	assert.Equal(t, []string{
		"GET /company/contacts/{id} 404",
		"GET /login/companyinfo/{companyId} 200",
		"GET /company/contacts/{id} 200",
	}, e.calls.Take())

	_, err = e.client.GetContact(t.Context(), alice.Ref)
	require.NoError(t, err)
	assert.Equal(t, []string{"GET /company/contacts/{id} 200"}, e.calls.Take(), "and cached")

	// A note is not processed when ConnectWise cannot route it, so it is
	// safe to send again under the new codebase.
	e.srv.ChangeCodebase("v2025_3/")
	require.NoError(t, e.client.AddTicketNote(t.Context(), ticket.Ref, psa.Note{Text: "after upgrade"}))
	assert.Len(t, e.srv.Notes(ticket.Ref), 1)

	// A record that does not exist is not a routing failure.
	_, err = e.client.GetContact(t.Context(), "999999")
	require.ErrorIs(t, err, core.ErrNotFound)
	assert.Equal(t, "ConnectWise has no contact 999999", core.ErrorMessage(err))
}

func TestConditionInjection(t *testing.T) {
	e := newEnv(t)
	other := psa.Contact{Ref: "2002", CompanyRef: acme.Ref, FirstName: "Mallory", LastName: "O'Brien",
		Emails: []psa.Email{{Address: "mallory@acme-dental.example"}}}
	e.srv.Seed([]psa.Company{acme}, []psa.Contact{alice, other}, nil)

	before := e.srv.Requests()
	for _, s := range []psa.ContactSearch{
		{Email: `x" OR communicationItems/value like "%`},
		{Email: `alice+it@acme-dental.example" OR id>0 OR firstName="x`},
		{Name: `Alice" OR lastName="O'Brien`},
		{Name: `x\" OR id>0`},
		{Email: "a@b.example\r\nX: y"},
		{Name: "[[]x"},
	} {
		got, err := e.client.FindContacts(t.Context(), "", s)
		require.ErrorIs(t, err, core.ErrInvalid, "%+v", s)
		assert.Empty(t, got)
		assert.Contains(t, core.ErrorMessage(err), "cannot carry safely")
	}
	assert.Equal(t, before, e.srv.Requests(), "nothing reached ConnectWise")

	// What is sent for a real address: the + survives encoding, and the
	// value is one quoted literal.
	got, err := e.client.FindContacts(t.Context(), acme.Ref, psa.ContactSearch{Email: "ALICE+IT@acme-dental.example"})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, alice.Ref, got[0].Ref)
	log := e.srv.Log()
	last := log[len(log)-1]
	assert.Equal(t, `communicationItems/value="ALICE+IT@acme-dental.example" AND communicationItems/communicationType="Email"`, last.Query.Get("childConditions"))
	assert.Equal(t, `inactiveFlag=false AND company/id=1001`, last.Query.Get("conditions"))

	got, err = e.client.FindContacts(t.Context(), "", psa.ContactSearch{Name: "mallory o'brien"})
	require.NoError(t, err, "an apostrophe is an ordinary character")
	require.Len(t, got, 1)
	assert.Equal(t, other.Ref, got[0].Ref)
}

func TestFindPhoneFallback(t *testing.T) {
	e := newEnv(t)
	paris := psa.Contact{Ref: "2003", CompanyRef: acme.Ref, FirstName: "Claire", LastName: "Dupont",
		Phones: []psa.Phone{{Number: "06 12 34 56 78", Label: "Mobile"}}}
	e.srv.Seed([]psa.Company{acme}, []psa.Contact{alice, paris}, nil)
	c := e.clientWith(t, func(cfg *connectwise.Config) { cfg.PhoneRegion = "FR" })

	got, err := c.FindContacts(t.Context(), acme.Ref, psa.ContactSearch{Phone: "+33612345678"})
	require.NoError(t, err)
	require.Len(t, got, 1, "a number punctuated inside its last digits is found by listing the company")
	assert.Equal(t, paris.Ref, got[0].Ref)

	_, err = c.FindContacts(t.Context(), acme.Ref, psa.ContactSearch{Phone: "0612345678"})
	require.ErrorIs(t, err, core.ErrInvalid, "search numbers are E.164")
}

func TestHugePages(t *testing.T) {
	e := newEnv(t)
	var contacts []psa.Contact
	for i := range 260 {
		contacts = append(contacts, psa.Contact{Ref: fmt.Sprint(5000 + i), CompanyRef: acme.Ref, FirstName: "Pat", LastName: fmt.Sprint(i)})
	}
	e.srv.Seed([]psa.Company{acme}, contacts, nil)

	got, err := e.client.FindContacts(t.Context(), acme.Ref, psa.ContactSearch{})
	require.NoError(t, err)
	assert.Len(t, got, 260, "two pages of 250")

	e.srv.HugePages(true)
	_, err = e.client.FindContacts(t.Context(), acme.Ref, psa.ContactSearch{})
	require.ErrorIs(t, err, core.ErrUnavailable)
	assert.Contains(t, core.ErrorMessage(err), "260 records for a page of 250")
	e.srv.Seed([]psa.Company{acme, {Ref: "1002", Name: "B"}, {Ref: "1003", Name: "C"}}, contacts, nil)
	_, err = e.client.ListCompanies(t.Context(), psa.ListOptions{PageSize: 2})
	require.ErrorIs(t, err, core.ErrUnavailable)
	assert.Contains(t, core.ErrorMessage(err), "3 companies for a page of 2")
	e.srv.HugePages(false)

	for i := range 1800 {
		contacts = append(contacts, psa.Contact{Ref: fmt.Sprint(6000 + i), CompanyRef: acme.Ref, FirstName: "Sam", LastName: fmt.Sprint(i)})
	}
	e.srv.Seed([]psa.Company{acme}, contacts, nil)
	_, err = e.client.FindContacts(t.Context(), acme.Ref, psa.ContactSearch{})
	require.ErrorIs(t, err, core.ErrInvalid)
	assert.Contains(t, core.ErrorMessage(err), "more than 2000 ConnectWise records match: narrow the search")
}

func TestListCompaniesForwardOnly(t *testing.T) {
	e := newEnv(t)
	var companies []psa.Company
	for i := range 5 {
		companies = append(companies, psa.Company{Ref: fmt.Sprint(1100 + i), Name: fmt.Sprintf("Company %d", i)})
	}
	e.srv.Seed(companies, nil, nil)
	all, err := psa.AllCompanies(t.Context(), e.client, 2)
	require.NoError(t, err)
	assert.Len(t, all, 5)
	var pageIDs []string
	for _, r := range e.srv.Log() {
		if r.Route == "GET /company/companies" {
			pageIDs = append(pageIDs, r.Query.Get("pageId"))
			assert.Empty(t, r.Query.Get("page"), "forward-only paging sends no page number")
		}
	}
	assert.Equal(t, []string{"", "1101", "1103", "1104"}, pageIDs)

	_, err = e.client.ListCompanies(t.Context(), psa.ListOptions{Cursor: "x"})
	require.ErrorIs(t, err, core.ErrInvalid)
}

func TestNoteFlags(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.client.AddTicketNote(t.Context(), ticket.Ref, psa.Note{Text: "Caller verified (ver_1)."}))
	require.NoError(t, e.client.AddTicketNote(t.Context(), ticket.Ref, psa.Note{Text: "Shown to the customer (ver_2).", Public: true}))
	notes := e.srv.NoteRecords(ticket.Ref)
	require.Len(t, notes, 2)
	f := false
	assert.Equal(t, cwtest.NoteRecord{Text: "Caller verified (ver_1).", InternalAnalysis: true, ProcessNotifications: &f}, notes[0],
		"internal by default, every display flag set, no notification emails")
	assert.Equal(t, cwtest.NoteRecord{Text: "Shown to the customer (ver_2).", DetailDescription: true, ProcessNotifications: &f}, notes[1])

	err := e.client.AddTicketNote(t.Context(), ticket.Ref, psa.Note{Text: "  "})
	require.ErrorIs(t, err, core.ErrInvalid)
	err = e.client.AddTicketNote(t.Context(), "T-1", psa.Note{Text: "x"})
	require.ErrorIs(t, err, core.ErrInvalid)
}

// TestNoteSettings checks that where a note shows, and whether ConnectWise
// mails about it, is the integration's setting (default: internal and
// silent), and that the setup guide says which applies.
func TestNoteSettings(t *testing.T) {
	srv := cwtest.NewServer(t)
	srv.Seed([]psa.Company{acme}, []psa.Contact{alice}, []psa.Ticket{ticket})
	f, tr := false, true
	for _, tc := range []struct {
		visibility, email string
		want              cwtest.NoteRecord
		setup             string
	}{
		{"", "", cwtest.NoteRecord{InternalAnalysis: true, ProcessNotifications: &f}, "as Internal notes, which only technicians see, and ConnectWise sends no e-mail"},
		{"Discussion", "off", cwtest.NoteRecord{DetailDescription: true, ProcessNotifications: &f}, "in the Discussion, which the customer sees, and ConnectWise sends no e-mail"},
		{"resolution", "on", cwtest.NoteRecord{Resolution: true, ProcessNotifications: &tr}, "as Resolution notes, which can appear on invoices, and ConnectWise sends its e-mail notifications"},
		{"internal", "on", cwtest.NoteRecord{InternalAnalysis: true, ProcessNotifications: &tr}, "only technicians see, and ConnectWise sends its e-mail"},
	} {
		cfg := srv.Config()
		cfg.NoteVisibility, cfg.NoteEmail = tc.visibility, tc.email
		c, err := connectwise.New(cfg, srv.Deps(psa.Deps{}))
		require.NoError(t, err)
		text := "Caller verified (ver_" + tc.visibility + tc.email + ")."
		require.NoError(t, c.AddTicketNote(t.Context(), ticket.Ref, psa.Note{Text: text}))
		notes := srv.NoteRecords(ticket.Ref)
		tc.want.Text = text
		assert.Equal(t, tc.want, notes[len(notes)-1], "visibility %q, e-mail %q", tc.visibility, tc.email)
		assert.Contains(t, strings.Join(c.Setup("https://cs.example/pod/a/int_1", "https://cs.example").Notes, "\n"), tc.setup)
	}
	for _, bad := range []struct{ visibility, email, msg string }{
		{"public", "", "note visibility"}, {"", "yes", "note e-mail"},
	} {
		cfg := srv.Config()
		cfg.NoteVisibility, cfg.NoteEmail = bad.visibility, bad.email
		_, err := connectwise.New(cfg, psa.Deps{})
		require.ErrorIs(t, err, core.ErrInvalid)
		assert.Contains(t, core.ErrorMessage(err), bad.msg)
	}
}

func TestCallCounts(t *testing.T) {
	// A pod on the Contact screen: read the contact, verify, write the note.
	e := newEnv(t)
	podLoad := func(c *connectwise.Client) {
		_, err := c.GetContact(t.Context(), alice.Ref)
		require.NoError(t, err)
		require.NoError(t, c.AddTicketNote(t.Context(), ticket.Ref, psa.Note{Text: "verified"}))
	}
	podLoad(e.client)
	cold := e.calls.Take()
	assert.LessOrEqual(t, len(cold), 4, "cold: %v", cold)
	podLoad(e.client)
	warm := e.calls.Take()
	assert.LessOrEqual(t, len(warm), 2, "warm: %v", warm)
	assert.Equal(t, []string{"GET /company/contacts/{id} 200", "POST /service/tickets/{parentId}/notes 201"}, warm)

	// On the Service Ticket screen the pod reads the ticket and its
	// contact: one call more.
	_, err := e.client.GetTicket(t.Context(), ticket.Ref)
	require.NoError(t, err)
	assert.Equal(t, []string{"GET /service/tickets/{id} 200", "GET /company/contacts/{id} 200"}, e.calls.Take())

	cold2 := newEnv(t)
	_, err = cold2.client.GetTicket(t.Context(), ticket.Ref)
	require.NoError(t, err)
	require.NoError(t, cold2.client.AddTicketNote(t.Context(), ticket.Ref, psa.Note{Text: "verified"}))
	assert.Len(t, cold2.calls.Take(), 4, "ticket screen, cold: discovery, ticket, contact, note")

	// Counted names carry no ids (low cardinality).
	for _, op := range append(cold, warm...) {
		assert.NotRegexp(t, `[0-9]{3,} `, op)
	}
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		after   string
		kind    error
		message string
	}{
		{"unauthorized", 401, "", core.ErrUnauthorized, `ConnectWise rejected the API keys for company "countersigntest": check the public key, the private key and the company id, and that the API member is active`},
		{"forbidden", 403, "", core.ErrForbidden, "ConnectWise refused: the API member's security role does not allow reading contacts (Companies › Contacts, inquire)"},
		{"not found", 404, "", core.ErrNotFound, "ConnectWise has no contact 2001"},
		{"bad request", 400, "", core.ErrInvalid, "ConnectWise rejected the request: The request is invalid"},
		{"throttled", 429, "120", core.ErrRateLimited, "ConnectWise is throttling requests: try again in 2m0s"},
		{"server error", 500, "", core.ErrUnavailable, "ConnectWise at api-na.myconnectwise.net is not working properly (HTTP 500): try again later"},
		{"down", 503, "", core.ErrUnavailable, "ConnectWise at api-na.myconnectwise.net is not working properly (HTTP 503): try again later"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.srv.FailNext(1000, tc.status, tc.after)
			_, err := e.client.GetContact(t.Context(), alice.Ref)
			require.ErrorIs(t, err, tc.kind)
			assert.Equal(t, tc.message, core.ErrorMessage(err))
			var cwErr *connectwise.Error
			require.ErrorAs(t, err, &cwErr)
			assert.Equal(t, tc.status, cwErr.Status)
		})
	}

	t.Run("malformed", func(t *testing.T) {
		e := newEnv(t)
		e.srv.MalformedNext()
		_, err := e.client.GetContact(t.Context(), alice.Ref)
		require.ErrorIs(t, err, core.ErrUnavailable)
		assert.Equal(t, "ConnectWise at api-na.myconnectwise.net sent an answer that is not the JSON it should be: try again later", core.ErrorMessage(err))
	})

	t.Run("not a routing failure", func(t *testing.T) {
		e := newEnv(t)
		_, err := e.client.GetTicket(t.Context(), "424242")
		require.ErrorIs(t, err, core.ErrNotFound)
		assert.NotErrorIs(t, err, core.ErrUnavailable)
	})

	t.Run("deleted contact", func(t *testing.T) {
		e := newEnv(t)
		orphan := psa.Ticket{Ref: "3009", Summary: "Contact deleted", CompanyRef: acme.Ref, ContactRef: "2999"}
		e.srv.Seed([]psa.Company{acme}, []psa.Contact{alice}, []psa.Ticket{orphan})
		got, err := e.client.GetTicket(t.Context(), orphan.Ref)
		require.NoError(t, err, "the ticket exists")
		assert.Empty(t, got.ContactRef)
		assert.Nil(t, got.Contact)
	})

	t.Run("unroutable bad keys", func(t *testing.T) {
		// ConnectWise's cloud has been seen to answer bad keys with the
		// 404 of an unknown codebase: re-discovery finds the same
		// codebase, and the message says what may be wrong. It must not
		// look like a missing record.
		e := newEnv(t)
		e.srv.UnroutableAuthFailures(true)
		c := e.clientWith(t, func(cfg *connectwise.Config) { cfg.PrivateKey = "wrong" })
		_, err := c.GetContact(t.Context(), alice.Ref)
		require.ErrorIs(t, err, core.ErrUnavailable)
		assert.NotErrorIs(t, err, core.ErrNotFound)
		assert.Equal(t, `ConnectWise could not route the request to company "countersigntest" on api-na.myconnectwise.net (codebase v2025_1): check the site and company id; on ConnectWise's cloud, wrong API keys can also cause this`, core.ErrorMessage(err))
		assert.Equal(t, []string{
			"GET /login/companyinfo/{companyId} 200",
			"GET /company/contacts/{id} 404",
			"GET /login/companyinfo/{companyId} 200",
		}, e.calls.Take(), "one re-discovery, no retry when the codebase is unchanged")
	})
}

func TestNoteWhileConnectWiseIsDown(t *testing.T) {
	e := newEnv(t)
	_, err := e.client.GetContact(t.Context(), alice.Ref)
	require.NoError(t, err)
	e.calls.Take()
	e.srv.SetDown(true)
	err = e.client.AddTicketNote(t.Context(), ticket.Ref, psa.Note{Text: "verified (ver_9)"})
	require.ErrorIs(t, err, core.ErrUnavailable)
	assert.Equal(t, "ConnectWise at api-na.myconnectwise.net is not working properly (HTTP 503): try again later", core.ErrorMessage(err))
	assert.Empty(t, e.srv.Notes(ticket.Ref))
	assert.Equal(t, []string{"POST /service/tickets/{parentId}/notes 503"}, e.calls.Take(), "a note POST is not retried after a 5xx")

	e.srv.SetDown(false)
	require.NoError(t, e.client.AddTicketNote(t.Context(), ticket.Ref, psa.Note{Text: "verified (ver_9)"}), "the outbox's retry lands it")
	assert.Len(t, e.srv.Notes(ticket.Ref), 1)
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(e *env) *connectwise.Client
		kind    error
		message string
	}{
		{name: "ok", setup: func(e *env) *connectwise.Client { return e.client }},
		{
			name: "wrong site",
			setup: func(e *env) *connectwise.Client {
				return e.clientWith(t, func(c *connectwise.Config) { c.Site = "nq.myconnectwise.net" })
			},
			kind:    core.ErrUnavailable,
			message: "ConnectWise host nq.myconnectwise.net does not exist: check the site (e.g. na.myconnectwise.net)",
		},
		{
			name: "wrong company",
			setup: func(e *env) *connectwise.Client {
				return e.clientWith(t, func(c *connectwise.Config) { c.CompanyID = "acmemsp" })
			},
			kind:    core.ErrInvalid,
			message: `ConnectWise at na.myconnectwise.net has no company "acmemsp": check the company id (the company typed on the ConnectWise login page) and the site`,
		},
		{
			name: "wrong keys",
			setup: func(e *env) *connectwise.Client {
				return e.clientWith(t, func(c *connectwise.Config) { c.PrivateKey = "not-the-key" })
			},
			kind:    core.ErrUnauthorized,
			message: `ConnectWise rejected the API keys for company "countersigntest": check the public key, the private key and the company id, and that the API member is active`,
		},
		{
			name:    "revoked keys",
			setup:   func(e *env) *connectwise.Client { e.srv.RejectKeys(true); return e.client },
			kind:    core.ErrUnauthorized,
			message: `ConnectWise rejected the API keys for company "countersigntest": check the public key, the private key and the company id, and that the API member is active`,
		},
		{
			name:    "no contact permission",
			setup:   func(e *env) *connectwise.Client { e.srv.Forbid("", "GET /company/contacts"); return e.client },
			kind:    core.ErrForbidden,
			message: "ConnectWise refused: the API member's security role does not allow reading contacts (Companies › Contacts, inquire)",
		},
		{
			name:    "no ticket permission",
			setup:   func(e *env) *connectwise.Client { e.srv.Forbid("", "GET /service/tickets"); return e.client },
			kind:    core.ErrForbidden,
			message: "ConnectWise refused: the API member's security role does not allow reading service tickets (Service Desk › Service Tickets, inquire)",
		},
		{
			name:    "down",
			setup:   func(e *env) *connectwise.Client { e.srv.SetDown(true); return e.client },
			kind:    core.ErrUnavailable,
			message: "ConnectWise at na.myconnectwise.net is not working properly (HTTP 503): try again later",
		},
		{
			name:    "throttled",
			setup:   func(e *env) *connectwise.Client { e.srv.FailNext(100, 429, "3600"); return e.client },
			kind:    core.ErrRateLimited,
			message: "ConnectWise is throttling requests: try again in 1h0m0s",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			err := tc.setup(e).Check(t.Context())
			if tc.kind == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.kind)
			assert.Equal(t, tc.message, core.ErrorMessage(err))
		})
	}
}

func TestMemberAuth(t *testing.T) {
	e := newEnv(t)
	e.srv.AddPodMember(tech, techAuth, false)
	other := connectwise.MemberAuth{MemberID: "ddoe", Hash: "h4sh-of-ddoe", Context: "ctx2"}
	e.srv.AddPodMember(psa.Member{Ref: "43", Identifier: "ddoe", Name: "Dana Doe"}, other, false)
	gone := connectwise.MemberAuth{MemberID: "gone", Hash: "h4sh-of-gone", Context: "ctx3"}
	e.srv.AddPodMember(psa.Member{Ref: "44", Identifier: "gone", Name: "Gone Tech"}, gone, true)

	m, err := e.client.VerifyMember(t.Context(), techAuth)
	require.NoError(t, err)
	assert.Equal(t, psa.Member{Ref: "42", Identifier: "jtech", Name: "Jamie Tech", Email: "jamie@msp.example"}, m)
	log := e.srv.Log()
	assert.Equal(t, "member-cookie", log[len(log)-1].Auth, "the official cookie form first")

	_, err = e.client.VerifyMember(t.Context(), connectwise.MemberAuth{MemberID: "jtech", Hash: "wrong-hash", Context: "ctx1"})
	require.ErrorIs(t, err, core.ErrUnauthorized)
	assert.Contains(t, core.ErrorMessage(err), `ConnectWise did not accept the technician's sign-in for member "jtech"`)

	_, err = e.client.VerifyMember(t.Context(), connectwise.MemberAuth{MemberID: "jtech", Hash: other.Hash, Context: other.Context})
	require.ErrorIs(t, err, core.ErrUnauthorized, "a colleague's hash under one's own id")

	_, err = e.client.VerifyMember(t.Context(), gone)
	require.ErrorIs(t, err, core.ErrForbidden)
	assert.Equal(t, `ConnectWise member "gone" is inactive`, core.ErrorMessage(err))

	_, err = e.client.VerifyMember(t.Context(), connectwise.MemberAuth{MemberID: "jtech", Hash: "abc;memberId=ddoe", Context: "x"})
	require.ErrorIs(t, err, core.ErrInvalid, "no cookie injection")

	// The API member is not a technician.
	api, err := e.client.IdentifyMember(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "countersign-api", api.Identifier)

	// A tenant that accepts only the Basic form: the client falls back and
	// remembers.
	e.srv.SetMemberAuthForms("member-basic")
	_, err = e.client.VerifyMember(t.Context(), techAuth)
	require.NoError(t, err)
	before := len(e.srv.Log())
	_, err = e.client.VerifyMember(t.Context(), techAuth)
	require.NoError(t, err)
	log = e.srv.Log()[before:]
	require.Len(t, log, 1, "the working form is tried first next time")
	assert.Equal(t, "member-basic", log[0].Auth)

	// Calls as the technician run under their security role.
	mc, err := e.client.WithMember(techAuth)
	require.NoError(t, err)
	_, err = mc.GetTicket(t.Context(), ticket.Ref)
	require.NoError(t, err)
	e.srv.Forbid("jtech", "GET /service/tickets/{id}")
	_, err = mc.GetTicket(t.Context(), ticket.Ref)
	require.ErrorIs(t, err, core.ErrForbidden)
	assert.Equal(t, `ConnectWise refused: member "jtech"'s security role does not allow reading service tickets (Service Desk › Service Tickets, inquire)`, core.ErrorMessage(err))
	_, err = e.client.GetTicket(t.Context(), ticket.Ref)
	require.NoError(t, err, "the API member still may")

	m2, err := e.client.FindMember(t.Context(), "JTECH")
	require.NoError(t, err)
	assert.Equal(t, "42", m2.Ref)
	_, err = e.client.FindMember(t.Context(), "nobody")
	require.ErrorIs(t, err, core.ErrNotFound)
}

func TestCreateContactTypes(t *testing.T) {
	e := newEnv(t)
	got, err := e.client.CreateContact(t.Context(), psa.Contact{CompanyRef: acme.Ref, FirstName: "Dana", LastName: "New",
		Emails: []psa.Email{{Address: "dana@acme-dental.example", Default: true}},
		Phones: []psa.Phone{{Number: "+15550100155", Label: "Mobile", Default: true}, {Number: "555-010-0156"}}})
	require.NoError(t, err)
	require.Len(t, got.Phones, 2)
	assert.Equal(t, "Mobile", got.Phones[0].Label, "filed under the type named like the label")
	assert.Equal(t, "Direct", got.Phones[1].Label, "else the default phone type")
	assert.Equal(t, "Email", got.Emails[0].Label)

	_, err = e.client.CreateContact(t.Context(), psa.Contact{LastName: "Nofirst"})
	require.ErrorIs(t, err, core.ErrInvalid)
	assert.Equal(t, "ConnectWise needs a first name for a new contact", core.ErrorMessage(err))

	_, err = e.client.CreateContact(t.Context(), psa.Contact{CompanyRef: "999999", FirstName: "X"})
	require.ErrorIs(t, err, core.ErrInvalid)
	assert.Equal(t, "ConnectWise rejected the request: contact object is invalid: The company is not valid", core.ErrorMessage(err))

	// The communication types were read once and are cached.
	_, err = e.client.CreateContact(t.Context(), psa.Contact{CompanyRef: acme.Ref, FirstName: "Eli", Emails: []psa.Email{{Address: "eli@acme-dental.example"}}})
	require.NoError(t, err)
	n := 0
	for _, op := range e.calls.Take() {
		if strings.HasPrefix(op, "GET /company/communicationTypes") {
			n++
		}
	}
	assert.Equal(t, 1, n)
}

func TestSecretsStaySecret(t *testing.T) {
	e := newEnv(t)
	e.srv.AddPodMember(tech, techAuth, false)
	secrets := []string{cwtest.PrivateKey, cwtest.ClientID, techAuth.Hash, techAuth.Context}

	var errs []error
	collect := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	wrong := e.clientWith(t, func(c *connectwise.Config) { c.PublicKey = "wrong" })
	collect(wrong.Check(t.Context()))
	_, err := e.client.VerifyMember(t.Context(), connectwise.MemberAuth{MemberID: "jtech", Hash: techAuth.Hash + "x", Context: techAuth.Context})
	collect(err)
	_, err = e.client.VerifyMember(t.Context(), techAuth)
	require.NoError(t, err)
	e.srv.SetDown(true)
	collect(e.client.AddTicketNote(t.Context(), ticket.Ref, psa.Note{Text: "x"}))
	e.srv.SetDown(false)
	e.srv.ChangeCodebase("v2025_9/")
	_, err = e.client.GetContact(t.Context(), alice.Ref)
	require.NoError(t, err)
	e.srv.FailNext(1, 500, "")
	_, err = e.client.GetContact(t.Context(), alice.Ref)
	require.NoError(t, err)
	_, err = connectwise.New(connectwise.Config{Site: "http://na.myconnectwise.net", CompanyID: "a", PublicKey: "p", PrivateKey: cwtest.PrivateKey, ClientID: cwtest.ClientID}, psa.Deps{})
	collect(err)
	_, err = e.client.WithMember(connectwise.MemberAuth{MemberID: "jtech", Hash: techAuth.Hash + ";", Context: techAuth.Context})
	collect(err)
	require.Len(t, errs, 5)

	cfg := e.srv.Config()
	ma := techAuth
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "cfg", cfg, "member", ma)
	shown := []string{
		e.logs.String(), logged.String(),
		fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), cfg.String(),
		fmt.Sprint(ma), fmt.Sprintf("%+v", ma), fmt.Sprintf("%#v", ma),
	}
	for _, err := range errs {
		shown = append(shown, err.Error(), core.ErrorMessage(err), fmt.Sprintf("%+v", err))
	}
	for _, s := range shown {
		for _, secret := range secrets {
			assert.NotContains(t, s, secret)
		}
	}
	assert.Contains(t, e.logs.String(), "codebase", "the log is not empty: the check means something")
	assert.Contains(t, fmt.Sprint(cfg), "[redacted]")
}

func TestDescriptor(t *testing.T) {
	srv := cwtest.NewServer(t)
	d := connectwise.Descriptor()
	reg, err := psa.NewRegistry(d)
	require.NoError(t, err)
	got, err := reg.Get(connectwise.ID)
	require.NoError(t, err)
	assert.Equal(t, "ConnectWise PSA", got.Name)
	i := slices.IndexFunc(got.Fields, func(f psa.Field) bool { return f.Name == "private_key" })
	require.GreaterOrEqual(t, i, 0)
	assert.Equal(t, psa.FieldSecret, got.Fields[i].Kind)

	valid := `{"site":"na.myconnectwise.net","company_id":"countersigntest","public_key":"` + cwtest.PublicKey +
		`","private_key":"` + cwtest.PrivateKey + `","client_id":"` + cwtest.ClientID + `"}`
	tests := []struct {
		name, cfg, wantMsg string
	}{
		{name: "ok", cfg: valid},
		{name: "pasted url", cfg: strings.Replace(valid, `"na.myconnectwise.net"`, `"https://na.myconnectwise.net/v4_6_release/"`, 1)},
		{name: "unknown field", cfg: strings.Replace(valid, `"site"`, `"url":"x","site"`, 1), wantMsg: `unknown field "url"`},
		{name: "http", cfg: strings.Replace(valid, `"na.myconnectwise.net"`, `"http://na.myconnectwise.net"`, 1), wantMsg: "https"},
		{name: "no site", cfg: strings.Replace(valid, `"na.myconnectwise.net"`, `""`, 1), wantMsg: "site is required"},
		{name: "bad site", cfg: strings.Replace(valid, `"na.myconnectwise.net"`, `"na my connectwise"`, 1), wantMsg: "is not a host name"},
		{name: "company with plus", cfg: strings.Replace(valid, `"countersigntest"`, `"a+b"`, 1), wantMsg: "company id"},
		{name: "no private key", cfg: strings.Replace(valid, cwtest.PrivateKey, "", 1), wantMsg: "private key are required"},
		{name: "no client id", cfg: strings.Replace(valid, cwtest.ClientID, "", 1), wantMsg: "client id is required"},
		{name: "bad region", cfg: strings.Replace(valid, `"site"`, `"phone_region":"USA","site"`, 1), wantMsg: "two-letter"},
		{name: "note settings", cfg: strings.Replace(valid, `"site"`, `"note_visibility":"discussion","note_email":"on","site"`, 1)},
		{name: "bad note visibility", cfg: strings.Replace(valid, `"site"`, `"note_visibility":"everyone","site"`, 1), wantMsg: "note visibility"},
		{name: "empty", cfg: ``, wantMsg: "site is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := d.New(json.RawMessage(tc.cfg), srv.Deps(psa.Deps{}))
			if tc.wantMsg != "" {
				require.ErrorIs(t, err, core.ErrInvalid)
				assert.Contains(t, core.ErrorMessage(err), tc.wantMsg)
				assert.NotContains(t, err.Error(), cwtest.PrivateKey)
				return
			}
			require.NoError(t, err)
			require.Implements(t, (*psa.Checker)(nil), c)
			require.NoError(t, c.(psa.Checker).Check(t.Context()))
		})
	}
}
