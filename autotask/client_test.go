package autotask_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/autotask"
	"github.com/countersign/countersign/autotask/autotasktest"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

var (
	acme  = psa.Company{Ref: "1001", Name: "Acme Dental"}
	alice = psa.Contact{Ref: "2001", CompanyRef: acme.Ref, FirstName: "Alice", LastName: "Smith", Title: "Practice Manager",
		Emails: []psa.Email{{Address: "alice@acme-dental.example"}},
		Phones: []psa.Phone{{Number: "(555) 010-0142", Label: "Mobile"}, {Number: "555.010.0100"}}}
	bob = psa.Contact{Ref: "2002", CompanyRef: acme.Ref, FirstName: "Bob", LastName: "Jones",
		Emails: []psa.Email{{Address: "bob@other.example"}, {Address: "Bob.Jones@Acme-Dental.example"}}}
	ticket = psa.Ticket{Ref: "3001", Summary: "Password reset", CompanyRef: acme.Ref, ContactRef: alice.Ref}
	tech   = psa.Member{Ref: "42", Identifier: "jtech", Name: "Jamie Tech", Email: "jamie@msp.example"}
)

// quickRetry makes retries instant.
var quickRetry = psa.RetryPolicy{MaxAttempts: 3, Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}

type env struct {
	fake   *autotasktest.Server
	client *autotask.Client
	calls  *callLog
}

// callLog is a psa.CallCounter that remembers the calls counted.
type callLog struct {
	mu  sync.Mutex
	ops []string
}

func (c *callLog) CountCall(op string, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ops = append(c.ops, fmt.Sprintf("%s %d", op, status))
}

func (c *callLog) Take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.ops
	c.ops = nil
	return out
}

func newEnv(t *testing.T, change func(*autotask.Config), opts ...autotasktest.Option) env {
	t.Helper()
	f := autotasktest.NewServer(t, opts...)
	f.Seed([]psa.Company{acme}, []psa.Contact{alice, bob}, []psa.Ticket{ticket})
	cfg := f.Config()
	if change != nil {
		change(&cfg)
	}
	calls := &callLog{}
	c, err := autotask.New(cfg, f.Deps(psa.Deps{Retry: quickRetry, Calls: calls}))
	require.NoError(t, err)
	return env{fake: f, client: c, calls: calls}
}

func TestZoneDiscovery(t *testing.T) {
	e := newEnv(t, nil)
	assert.Nil(t, e.client.LearnedSettings(), "nothing learned before the first call")
	_, err := e.client.GetContact(t.Context(), alice.Ref)
	require.NoError(t, err)
	_, err = e.client.GetTicketOnly(t.Context(), ticket.Ref)
	require.NoError(t, err)

	log := e.fake.Log()
	require.Len(t, log, 3)
	assert.Equal(t, autotasktest.DiscoveryHost, log[0].Host, "the zone is looked up first")
	assert.Equal(t, "GET /V1.0/ZoneInformation", log[0].Route)
	for _, h := range []string{"ApiIntegrationCode", "UserName", "Secret"} {
		assert.Empty(t, log[0].Header.Get(h), "no %s goes to zone discovery", h)
	}
	for _, r := range log[1:] {
		assert.Equal(t, "webservices5.autotask.net", r.Host, "then only the zone's host")
		assert.Equal(t, autotasktest.IntegrationCode, r.Header.Get("ApiIntegrationCode"))
		assert.Equal(t, autotasktest.UserName, r.Header.Get("UserName"))
		assert.Equal(t, autotasktest.Secret, r.Header.Get("Secret"))
		assert.Empty(t, r.Header.Get("ImpersonationResourceId"))
	}
	assert.Equal(t, map[string]string{"zone_url": e.fake.ZoneURL(), "web_url": e.fake.WebURL()}, e.client.LearnedSettings())
	assert.Equal(t, []string{e.fake.WebOrigin()}, e.client.FrameOrigins())

	// A client of the stored integration starts with the zone.
	f2 := newEnv(t, func(c *autotask.Config) {
		c.ZoneURL, c.WebURL = "https://webservices5.autotask.net/ATServicesRest/", "https://ww5.autotask.net/"
	})
	_, err = f2.client.GetContact(t.Context(), alice.Ref)
	require.NoError(t, err)
	assert.Len(t, f2.fake.Log(), 1, "no discovery with a stored zone")
	assert.Equal(t, []string{"GET /V1.0/Contacts/{id} 200"}, f2.calls.Take())
}

func TestZoneMoved(t *testing.T) {
	e := newEnv(t, func(c *autotask.Config) { c.ZoneURL = "https://webservices5.autotask.net/ATServicesRest/" })
	e.fake.MoveZone(17)
	got, err := e.client.GetContact(t.Context(), alice.Ref)
	require.NoError(t, err, "a 401 from the stored zone finds the new one")
	assert.Equal(t, alice.Ref, got.Ref)
	log := e.fake.Log()
	require.Len(t, log, 3)
	assert.Equal(t, 401, log[0].Status)
	assert.Equal(t, autotasktest.DiscoveryHost, log[1].Host)
	assert.Equal(t, "webservices17.autotask.net", log[2].Host)
	assert.Equal(t, "https://webservices17.autotask.net/ATServicesRest/", e.client.LearnedSettings()["zone_url"])
}

func TestConfigRefusesZonesOutsideAutotask(t *testing.T) {
	for _, u := range []string{"http://webservices5.autotask.net/ATServicesRest/", "https://webservices5.autotask.net.evil.example/",
		"https://evil.example/ATServicesRest/", "https://user@webservices5.autotask.net/"} {
		cfg := autotasktest.NewServer(t).Config()
		cfg.ZoneURL = u
		_, err := autotask.New(cfg, psa.Deps{})
		assert.ErrorIs(t, err, core.ErrInvalid, "%s", u)
	}
}

func TestNextPageOnAnotherOriginIsRefused(t *testing.T) {
	for _, host := range []string{"webservices9.autotask.net", "evil.example"} {
		t.Run(host, func(t *testing.T) {
			e := newEnv(t, nil)
			e.fake.SetPageSize(1)
			e.fake.NextPageHost(host)
			_, err := e.client.FindContacts(t.Context(), acme.Ref, psa.ContactSearch{})
			require.Error(t, err)
			assert.ErrorIs(t, err, core.ErrUnavailable)
			assert.Contains(t, core.ErrorMessage(err), "refusing to send credentials elsewhere")
			for _, r := range e.fake.Log() {
				assert.NotEqual(t, host, r.Host, "nothing was sent to %s", host)
			}
		})
	}
}

func TestQuerySyntax(t *testing.T) {
	e := newEnv(t, nil)
	got, err := e.client.FindContacts(t.Context(), "", psa.ContactSearch{Email: "BOB.JONES@acme-dental.example"})
	require.NoError(t, err)
	require.Len(t, got, 1, "found in the second e-mail field")
	assert.Equal(t, bob.Ref, got[0].Ref)
	log := e.fake.Log()
	last := log[len(log)-1]
	assert.Equal(t, "GET /V1.0/Contacts/query", last.Route)
	assert.Equal(t, []string{"GET /V1.0/ZoneInformation 200", "GET /V1.0/Contacts/query 200"}, e.calls.Take(), "one query")
	search := last.Query.Get("search")
	for _, f := range []string{"emailAddress", "emailAddress2", "emailAddress3"} {
		assert.Contains(t, search, `{"op":"eq","field":"`+f+`","value":"bob.jones@acme-dental.example"}`, "one OR over the three e-mail fields")
	}
	assert.Contains(t, search, `"op":"or"`)

	// By phone: every phone field, compared in E.164.
	got, err = e.client.FindContacts(t.Context(), acme.Ref, psa.ContactSearch{Phone: "+15550100100"})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, alice.Ref, got[0].Ref)
}

func TestPaging(t *testing.T) {
	e := newEnv(t, nil)
	var many []psa.Contact
	for i := range 7 {
		many = append(many, psa.Contact{Ref: fmt.Sprint(2100 + i), CompanyRef: acme.Ref, FirstName: "Pat", LastName: fmt.Sprint("P", i)})
	}
	e.fake.Seed([]psa.Company{acme}, many, nil)
	e.fake.SetPageSize(3)
	got, err := e.client.FindContacts(t.Context(), acme.Ref, psa.ContactSearch{Name: "pat"})
	require.NoError(t, err)
	assert.Len(t, got, 7)
	var routes []string
	for _, r := range e.fake.Log()[1:] {
		routes = append(routes, r.Route)
	}
	assert.Equal(t, []string{"GET /V1.0/Contacts/query", "GET /V1.0/Contacts/query/next", "GET /V1.0/Contacts/query/next"}, routes,
		"next pages with the first page's verb")
}

func TestMisconfigured(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*autotask.Config)
		fake   func(*autotasktest.Server)
		kind   error
		says   string
	}{
		{name: "wrong secret", fake: func(f *autotasktest.Server) { f.RejectSecret(true) }, kind: core.ErrUnauthorized, says: "check the username and secret"},
		{name: "wrong integration code", fake: func(f *autotasktest.Server) { f.RejectIntegrationCode(true) }, kind: core.ErrUnauthorized, says: "integration code"},
		{name: "unknown username", change: func(c *autotask.Config) { c.UserName = "nobody@msp.example" }, kind: core.ErrUnauthorized, says: "knows no API user"},
		{name: "no permission", fake: func(f *autotasktest.Server) { f.Forbid("Contacts", true) }, kind: core.ErrForbidden, says: "security level does not allow reading contacts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.change)
			if tc.fake != nil {
				tc.fake(e.fake)
			}
			_, err := e.client.GetContact(t.Context(), alice.Ref)
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.kind, "%v", err)
			assert.Contains(t, core.ErrorMessage(err), tc.says)
			assert.NotContains(t, err.Error(), autotasktest.Secret)
			assert.NotContains(t, err.Error(), autotasktest.IntegrationCode)
			err = e.client.Check(t.Context())
			assert.ErrorIs(t, err, tc.kind, "the live check says the same: %v", err)
		})
	}
	e := newEnv(t, nil)
	require.NoError(t, e.client.Check(t.Context()), "a good configuration passes the live check")
}

func TestImpersonation(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.AddResource(tech, true)
	other := psa.Member{Ref: "43", Identifier: "ntech", Name: "Noimp Tech", Email: "noimp@msp.example"}
	e.fake.AddResource(other, false)

	m, err := e.client.ResourceByEmail(t.Context(), "JAMIE@msp.example")
	require.NoError(t, err)
	assert.Equal(t, tech.Ref, m.Ref)
	as, err := e.client.AsResource(m.Ref)
	require.NoError(t, err)
	_, err = as.GetTicketOnly(t.Context(), ticket.Ref)
	require.NoError(t, err)
	require.NoError(t, as.AddTicketNote(t.Context(), ticket.Ref, psa.Note{Text: "verified (ver_1)"}))
	notes := e.fake.NoteRecords(ticket.Ref)
	require.Len(t, notes, 1)
	assert.EqualValues(t, 42, notes[0].CreatorResourceID, "written as the technician")
	assert.EqualValues(t, autotasktest.APIUserID, notes[0].ImpersonatorCreatorResourceID, "with the API user alongside")
	for _, r := range e.fake.Log() {
		if r.Route != "POST /V1.0/Tickets/{parentId}/Notes" {
			assert.Empty(t, r.Header.Get("ImpersonationResourceId"), "reads are never impersonated: %s", r.Route)
		}
	}

	// A resource that may not be impersonated: the note is written once,
	// as the API user.
	as2, err := e.client.AsResource(other.Ref)
	require.NoError(t, err)
	require.NoError(t, as2.AddTicketNote(t.Context(), ticket.Ref, psa.Note{Text: "verified (ver_2)"}))
	notes = e.fake.NoteRecords(ticket.Ref)
	require.Len(t, notes, 2, "exactly once")
	assert.EqualValues(t, autotasktest.APIUserID, notes[1].CreatorResourceID)
	assert.Zero(t, notes[1].ImpersonatorCreatorResourceID)

	// The API user's client never impersonates.
	require.NoError(t, e.client.AddTicketNote(t.Context(), ticket.Ref, psa.Note{Text: "verified (ver_3)"}))
	log := e.fake.Log()
	assert.Empty(t, log[len(log)-1].Header.Get("ImpersonationResourceId"))

	_, err = e.client.AsResource("not-a-number")
	assert.ErrorIs(t, err, core.ErrInvalid)
}

func TestNotePicklists(t *testing.T) {
	e := newEnv(t, func(c *autotask.Config) { c.NoteType, c.NotePublish = "", "" })
	require.NoError(t, e.client.AddTicketNote(t.Context(), ticket.Ref, psa.Note{Text: "Caller verified by SMS code\nsecond line"}))
	require.NoError(t, e.client.AddTicketNote(t.Context(), ticket.Ref, psa.Note{Text: strings.Repeat("long ", 100), Public: true}))
	notes := e.fake.NoteRecords(ticket.Ref)
	require.Len(t, notes, 2)
	assert.Equal(t, autotasktest.NoteTypeDetail, notes[0].NoteType, "the picklist's default type")
	assert.Equal(t, autotasktest.PublishInternal, notes[0].Publish, "internal by the label Internal Only")
	assert.Equal(t, "Caller verified by SMS code", notes[0].Title)
	assert.Equal(t, "Caller verified by SMS code\nsecond line", notes[0].Description)
	assert.Equal(t, autotasktest.PublishAll, notes[1].Publish)
	assert.LessOrEqual(t, len([]rune(notes[1].Title)), 250)
	calls := e.calls.Take()
	assert.Contains(t, calls, "GET /V1.0/TicketNotes/entityInformation/fields 200")
	n := 0
	for _, c := range calls {
		if strings.Contains(c, "entityInformation") {
			n++
		}
	}
	assert.Equal(t, 1, n, "the picklists are read once")

	ch, err := e.client.NotePicklists(t.Context())
	require.NoError(t, err)
	var labels []string
	for _, c := range ch.Publish {
		labels = append(labels, c.Label)
	}
	assert.Equal(t, []string{"All Autotask Users", "Internal Only"}, labels)

	pc, err := e.client.Choices(t.Context(), "note_publish")
	require.NoError(t, err)
	assert.Len(t, pc.Options, 2)
	assert.Equal(t, strconv.Itoa(autotasktest.PublishInternal), pc.Suggested, "the internal one")
	tc, err := e.client.Choices(t.Context(), "note_type")
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(autotasktest.NoteTypeDetail), tc.Suggested, "the picklist's default")
	_, err = e.client.Choices(t.Context(), "secret")
	assert.ErrorIs(t, err, core.ErrInvalid)
}

func TestCreateContactRequiredFields(t *testing.T) {
	e := newEnv(t, nil)
	in := psa.Contact{CompanyRef: acme.Ref, FirstName: "Dana", LastName: "New", Emails: []psa.Email{{Address: "dana@acme-dental.example"}},
		Phones: []psa.Phone{{Number: "+15550100155", Label: "Mobile"}}}
	got, err := e.client.CreateContact(t.Context(), in)
	require.NoError(t, err)
	assert.NotEmpty(t, got.Ref)
	assert.Equal(t, "+15550100155", got.Phones[0].Number)

	e.fake.RequireContactField("externalID")
	e2 := newEnv(t, nil)
	e2.fake.RequireContactField("externalID")
	before := len(e2.fake.Log())
	_, err = e2.client.CreateContact(t.Context(), in)
	require.ErrorIs(t, err, core.ErrInvalid)
	assert.Contains(t, core.ErrorMessage(err), `"externalID"`)
	for _, r := range e2.fake.Log()[before:] {
		assert.NotContains(t, r.Route, "POST", "nothing is written")
	}

	_, err = e.client.CreateContact(t.Context(), psa.Contact{FirstName: "No", LastName: "Company"})
	assert.ErrorIs(t, err, core.ErrInvalid, "Autotask files every contact under a company")
}

func TestAtMostThreeInFlightPerEndpoint(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.SetLatency(30 * time.Millisecond)
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			_, err := e.client.GetContact(t.Context(), alice.Ref)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	assert.Equal(t, autotask.MaxInFlight, e.fake.HighWater("Contacts"), "three at once, never more")
	assert.Equal(t, autotask.MaxInFlight, e.client.Budget().HighWater("contacts"))
	assert.EqualValues(t, 12, e.client.Budget().Calls(), "every API call counted (discovery is not an API call)")
}

func TestConfigNeverShowsSecrets(t *testing.T) {
	cfg := autotasktest.NewServer(t).Config()
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("cfg", "config", cfg)
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%+v", cfg), buf.String()} {
		assert.NotContains(t, s, autotasktest.Secret)
		assert.NotContains(t, s, autotasktest.IntegrationCode)
	}
	_, err := autotask.New(autotask.Config{UserName: "x@y", Secret: "s"}, psa.Deps{})
	assert.ErrorIs(t, err, core.ErrInvalid)
	assert.Contains(t, core.ErrorMessage(err), "integration code is required")
}

func autotaskRef(n int) string { return fmt.Sprint(n) }
