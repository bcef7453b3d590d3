package psatest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// Harness connects the suite to one plugin.
type Harness struct {
	// New starts a fresh, empty fake server and returns a client of it built
	// with deps (its Retry policy in particular), and the fake. It registers
	// its own cleanup with t.Cleanup. The suite calls it once per case.
	New func(t *testing.T, deps psa.Deps) (psa.Client, Fake)
	// Descriptor is the plugin's descriptor, and Settings a valid config
	// for its New (it need not reach any server): with them the suite
	// checks that New decodes strictly and makes no request. A harness
	// without them fails the Descriptor case.
	Descriptor psa.Descriptor
	Settings   json.RawMessage
}

// Fake is what the suite needs to control a plugin's fake server. Its
// methods are safe for concurrent use.
type Fake interface {
	// Seed replaces the fake's data. It keeps the Refs given, and ignores
	// Ticket.Contact (ContactRef says who the contact is). Phones are stored
	// as given, which is how the PSA would show them.
	Seed(companies []psa.Company, contacts []psa.Contact, tickets []psa.Ticket)
	// SetMember sets the member the client's credential belongs to.
	SetMember(m psa.Member)
	// SetPageSize sets the largest page the fake returns, whatever the
	// client asks for; 0 means the fake's default.
	SetPageSize(n int)
	// FailNext answers the next n requests with status and, when retryAfter
	// is not "", a Retry-After header with that value, without processing
	// them.
	FailNext(n, status int, retryAfter string)
	// MalformedNext answers the next request that would succeed with a
	// truncated JSON body (and the status it would have had).
	MalformedNext()
	// Requests returns how many requests the fake has received.
	Requests() int
	// Notes returns the notes added to the ticket with ref, oldest first.
	Notes(ticketRef string) []psa.Note
}

// forever is a FailNext count that outlasts any retry policy.
const forever = 1000

// Run runs the conformance suite against h.
func Run(t *testing.T, h Harness) {
	t.Helper()
	require.NotNil(t, h.New, "psatest: Harness.New is nil")
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"EmptyResults", testEmptyResults},
		{"PagingCompanies", testPagingCompanies},
		{"PagingContacts", testPagingContacts},
		{"PagingLinkShapes", testPagingLinkShapes},
		{"Unauthorized", testStatus(401, "", core.ErrUnauthorized, false)},
		{"Forbidden", testStatus(403, "", core.ErrForbidden, false)},
		{"RateLimitedOnce", testRateLimitedOnce},
		{"RateLimitedForever", testStatus(429, "", core.ErrRateLimited, true)},
		{"RateLimitedForeverRetryAfter", testStatus(429, "1", core.ErrRateLimited, true)},
		{"UnavailableOnce", testUnavailableOnce},
		{"UnavailableForever", testStatus(500, "", core.ErrUnavailable, true)},
		{"NotFound", testNotFound},
		{"ContextCanceled", testContextCanceled},
		{"ContextCanceledWhileWaiting", testContextCanceledWhileWaiting},
		{"MalformedJSON", testMalformedJSON},
		{"FindByEmail", testFindByEmail},
		{"FindByPhone", testFindByPhone},
		{"FindByName", testFindByName},
		{"FindAmbiguous", testFindAmbiguous},
		{"GetContact", testGetContact},
		{"TicketWithContact", testTicketWithContact},
		{"AddTicketNote", testAddTicketNote},
		{"AddTicketNoteNotRetriedOn5xx", testNoteNotRetried},
		{"AddTicketNoteRetriedOn429", testNoteRetriedOn429},
		{"AddTicketNoteRevokedKeys", testNoteRevokedKeys},
		{"CreateContact", testCreateContact},
		{"CreateTicket", testCreateTicket},
		{"IdentifyMember", testIdentifyMember},
		{"Concurrent", testConcurrent},
		{"Descriptor", testDescriptor},
		{"CallsCounted", testCallsCounted},
		{"Checker", testChecker},
		{"TicketOnly", testTicketOnly},
		{"Embedder", testEmbedder},
		{"MemberProver", testMemberProver},
		{"SetupGuide", testSetupGuide},
		{"PodInstaller", testPodInstaller},
		{"CallbackRegistrar", testCallbackRegistrar},
		{"CallbackVerifier", testCallbackVerifier},
		{"MemberLister", testMemberLister},
		{"AddContactNote", testAddContactNote},
		{"SetContactPhone", testSetContactPhone},
		{"SetTicketContact", testSetTicketContact},
		{"DefaultContact", testDefaultContact},
		{"ContactWriteErrors", testContactWriteErrors},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

// sleeper records the waits a client asks for and returns at once, so that
// a Retry-After of seconds costs the suite nothing.
type sleeper struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (s *sleeper) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.delays = append(s.delays, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeper) Delays() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.delays...)
}

// env is one case's client, fake and recorded waits.
type env struct {
	client psa.Client
	fake   Fake
	sleep  *sleeper
}

func newEnv(t *testing.T, h Harness) env {
	t.Helper()
	s := &sleeper{}
	deps := psa.Deps{Retry: psa.RetryPolicy{
		MaxAttempts: 3,
		BaseDelay:   10 * time.Millisecond,
		MaxDelay:    5 * time.Second,
		Sleep:       s.Sleep,
	}}
	return newEnvDeps(t, h, deps, s)
}

func newEnvDeps(t *testing.T, h Harness, deps psa.Deps, s *sleeper) env {
	t.Helper()
	c, f := h.New(t, deps)
	require.NotNil(t, c, "Harness.New returned a nil client")
	require.NotNil(t, f, "Harness.New returned a nil fake")
	return env{client: c, fake: f, sleep: s}
}

// Seed data. Refs are decimal so that every PSA's fake can keep them.
var (
	acme   = psa.Company{Ref: "1001", Name: "Acme Dental"}
	globex = psa.Company{Ref: "1002", Name: "Globex Logistics"}

	alice = psa.Contact{
		Ref: "2001", CompanyRef: acme.Ref, FirstName: "Alice", LastName: "Smith", Title: "Practice Manager",
		Emails: []psa.Email{{Address: "Alice.Smith@Acme-Dental.example", Label: "Work", Default: true}},
		Phones: []psa.Phone{{Number: "(555) 010-0142", Label: "Mobile", Default: true}, {Number: "555-010-0100", Label: "Direct"}},
	}
	bob = psa.Contact{
		Ref: "2002", CompanyRef: acme.Ref, FirstName: "Bob", LastName: "Jones",
		Emails: []psa.Email{{Address: "bob@acme-dental.example", Default: true}},
		Phones: []psa.Phone{{Number: "+1 555 010 0177", Label: "Mobile", Default: true}},
	}
	carol = psa.Contact{
		Ref: "2003", CompanyRef: globex.Ref, FirstName: "Carol", LastName: "Smithers",
		Emails: []psa.Email{{Address: "carol@globex.example", Default: true}},
		Phones: []psa.Phone{{Number: "(555) 010-0199", Default: true}},
	}

	ticketAlice  = psa.Ticket{Ref: "3001", Number: "3001", Summary: "Password reset for Alice", CompanyRef: acme.Ref, ContactRef: alice.Ref, Status: "New"}
	ticketNobody = psa.Ticket{Ref: "3002", Number: "3002", Summary: "Printer offline", CompanyRef: globex.Ref, Status: "New"}

	member = psa.Member{Ref: "42", Identifier: "jtech", Name: "Jamie Tech", Email: "jamie@msp.example"}

	missingRef = "999999"
)

func seedStandard(f Fake) {
	f.Seed([]psa.Company{acme, globex}, []psa.Contact{alice, bob, carol}, []psa.Ticket{ticketAlice, ticketNobody})
	f.SetMember(member)
}

// call is one read the client can make, for cases that only need "some
// request" (status mapping, retries, cancellation).
type call struct {
	name string
	fn   func(ctx context.Context) error
}

// reads returns a call for each read capability of c, against the standard
// seed.
func reads(c psa.Client) []call {
	var out []call
	if g, ok := c.(psa.ContactGetter); ok {
		out = append(out, call{"GetContact", func(ctx context.Context) error { _, err := g.GetContact(ctx, alice.Ref); return err }})
	}
	if f, ok := c.(psa.ContactFinder); ok {
		out = append(out, call{"FindContacts", func(ctx context.Context) error {
			_, err := f.FindContacts(ctx, acme.Ref, psa.ContactSearch{Email: "bob@acme-dental.example"})
			return err
		}})
	}
	if g, ok := c.(psa.TicketGetter); ok {
		out = append(out, call{"GetTicket", func(ctx context.Context) error { _, err := g.GetTicket(ctx, ticketNobody.Ref); return err }})
	}
	if l, ok := c.(psa.CompanyLister); ok {
		out = append(out, call{"ListCompanies", func(ctx context.Context) error { _, err := l.ListCompanies(ctx, psa.ListOptions{}); return err }})
	}
	if m, ok := c.(psa.MemberIdentifier); ok {
		out = append(out, call{"IdentifyMember", func(ctx context.Context) error { _, err := m.IdentifyMember(ctx); return err }})
	}
	if d, ok := c.(psa.DefaultContactGetter); ok {
		out = append(out, call{"DefaultContact", func(ctx context.Context) error { _, err := d.DefaultContact(ctx, acme.Ref); return err }})
	}
	return out
}

// firstRead returns one read of c, failing the test when c can read nothing.
func firstRead(t *testing.T, c psa.Client) call {
	t.Helper()
	rs := reads(c)
	require.NotEmpty(t, rs, "client implements no read capability")
	return rs[0]
}

func testEmptyResults(t *testing.T, h Harness) {
	e := newEnv(t, h)
	e.fake.Seed([]psa.Company{acme}, nil, nil)
	ran := false
	if f, ok := e.client.(psa.ContactFinder); ok {
		ran = true
		for _, s := range []psa.ContactSearch{{Email: "nobody@acme-dental.example"}, {Phone: "+15550100111"}, {Name: "Nobody"}, {}} {
			got, err := f.FindContacts(t.Context(), acme.Ref, s)
			require.NoError(t, err, "search %+v", s)
			assert.Empty(t, got, "search %+v", s)
		}
	}
	if l, ok := e.client.(psa.CompanyLister); ok {
		ran = true
		e.fake.Seed(nil, nil, nil)
		p, err := l.ListCompanies(t.Context(), psa.ListOptions{})
		require.NoError(t, err)
		assert.Empty(t, p.Items)
		assert.Empty(t, p.Next, "an empty list has no next page")
	}
	if !ran {
		t.Skip("client implements neither ContactFinder nor CompanyLister")
	}
}

func testPagingCompanies(t *testing.T, h Harness) {
	e := newEnv(t, h)
	l, ok := e.client.(psa.CompanyLister)
	if !ok {
		t.Skip("client does not implement psa.CompanyLister")
	}
	var companies []psa.Company
	for i := range 5 {
		companies = append(companies, psa.Company{Ref: fmt.Sprint(1101 + i), Name: fmt.Sprintf("Company %d", i)})
	}
	e.fake.Seed(companies, nil, nil)
	e.fake.SetPageSize(2)

	seen := map[string]int{}
	pages := 0
	o := psa.ListOptions{PageSize: 2}
	for {
		p, err := l.ListCompanies(t.Context(), o)
		require.NoError(t, err)
		pages++
		require.LessOrEqual(t, pages, 10, "paging does not end")
		for _, c := range p.Items {
			seen[c.Ref]++
		}
		if p.Next == "" {
			break
		}
		o.Cursor = p.Next
	}
	assert.GreaterOrEqual(t, pages, 3, "5 companies at 2 a page take at least 3 pages")
	for _, c := range companies {
		assert.Equal(t, 1, seen[c.Ref], "company %s seen %d times", c.Ref, seen[c.Ref])
	}
	assert.Len(t, seen, len(companies))

	all, err := psa.AllCompanies(t.Context(), l, 0)
	require.NoError(t, err)
	assert.ElementsMatch(t, companyRefs(companies), companyRefs(all))
}

func testPagingContacts(t *testing.T, h Harness) {
	e := newEnv(t, h)
	f, ok := e.client.(psa.ContactFinder)
	if !ok {
		t.Skip("client does not implement psa.ContactFinder")
	}
	var contacts []psa.Contact
	for i := range 5 {
		contacts = append(contacts, psa.Contact{
			Ref: fmt.Sprint(2101 + i), CompanyRef: acme.Ref, FirstName: "Pat", LastName: fmt.Sprintf("Page%d", i),
			Emails: []psa.Email{{Address: fmt.Sprintf("pat%d@acme-dental.example", i), Default: true}},
		})
	}
	e.fake.Seed([]psa.Company{acme, globex}, append(contacts, carol), nil)
	e.fake.SetPageSize(2)
	before := e.fake.Requests()

	got, err := f.FindContacts(t.Context(), acme.Ref, psa.ContactSearch{})
	require.NoError(t, err)
	assert.ElementsMatch(t, contactRefs(contacts), contactRefs(got), "every contact of the company exactly once, and none of another")
	assert.GreaterOrEqual(t, e.fake.Requests()-before, 3, "5 contacts at 2 a page take at least 3 requests")

	got, err = f.FindContacts(t.Context(), acme.Ref, psa.ContactSearch{Name: "Pat"})
	require.NoError(t, err)
	assert.ElementsMatch(t, contactRefs(contacts), contactRefs(got), "a search is paged too")
}

// testStatus checks that every read answered with status maps to kind, and
// that the client retried (or did not) accordingly.
func testStatus(status int, retryAfter string, kind error, retried bool) func(*testing.T, Harness) {
	return func(t *testing.T, h Harness) {
		e := newEnv(t, h)
		for _, r := range reads(e.client) {
			t.Run(r.name, func(t *testing.T) {
				seedStandard(e.fake)
				e.fake.FailNext(forever, status, retryAfter)
				t.Cleanup(func() { e.fake.FailNext(0, 0, "") })
				before := e.fake.Requests()
				err := r.fn(t.Context())
				require.Error(t, err)
				assert.ErrorIs(t, err, kind, "status %d: %v", status, err)
				n := e.fake.Requests() - before
				if retried {
					assert.Greater(t, n, 1, "status %d is retried", status)
					assert.LessOrEqual(t, n, 10, "retries are bounded")
				} else {
					assert.Equal(t, 1, n, "status %d is not retried", status)
				}
			})
		}
		if len(reads(e.client)) == 0 {
			t.Skip("client implements no read capability")
		}
	}
}

func testRateLimitedOnce(t *testing.T, h Harness) {
	e := newEnv(t, h)
	seedStandard(e.fake)
	r := firstRead(t, e.client)
	e.fake.FailNext(1, 429, "1")
	before := e.fake.Requests()
	require.NoError(t, r.fn(t.Context()), "%s after one 429", r.name)
	assert.GreaterOrEqual(t, e.fake.Requests()-before, 2)
	assert.Contains(t, e.sleep.Delays(), time.Second, "Retry-After: 1 is honoured")
}

func testUnavailableOnce(t *testing.T, h Harness) {
	e := newEnv(t, h)
	seedStandard(e.fake)
	for _, r := range callsOf(t, e.client) {
		e.fake.FailNext(1, 503, "")
		before := e.fake.Requests()
		require.NoError(t, r.fn(t.Context()), "%s after one 503", r.name)
		assert.GreaterOrEqual(t, e.fake.Requests()-before, 2, "%s retried", r.name)
	}
}

func testNotFound(t *testing.T, h Harness) {
	e := newEnv(t, h)
	seedStandard(e.fake)
	ran := false
	if g, ok := e.client.(psa.ContactGetter); ok {
		ran = true
		_, err := g.GetContact(t.Context(), missingRef)
		assert.ErrorIs(t, err, core.ErrNotFound, "GetContact: %v", err)
	}
	if g, ok := e.client.(psa.TicketGetter); ok {
		ran = true
		_, err := g.GetTicket(t.Context(), missingRef)
		assert.ErrorIs(t, err, core.ErrNotFound, "GetTicket: %v", err)
	}
	if n, ok := e.client.(psa.TicketNoter); ok {
		ran = true
		err := n.AddTicketNote(t.Context(), missingRef, psa.Note{Text: "psatest"})
		assert.ErrorIs(t, err, core.ErrNotFound, "AddTicketNote: %v", err)
	}
	if !ran {
		t.Skip("client implements no getter or noter")
	}
}

func testContextCanceled(t *testing.T, h Harness) {
	e := newEnv(t, h)
	seedStandard(e.fake)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	rs := append(callsOf(t, e.client), writeCalls(t, e)...)
	for _, r := range rs {
		start, before := time.Now(), e.fake.Requests()
		err := r.fn(ctx)
		assert.ErrorIs(t, err, context.Canceled, "%s: %v", r.name, err)
		assert.Less(t, time.Since(start), time.Second, "%s returns promptly", r.name)
		assert.Equal(t, before, e.fake.Requests(), "%s: a cancelled call makes no request", r.name)
	}
	assert.Empty(t, e.fake.Notes(ticketAlice.Ref), "a cancelled note is not written")
}

// testContextCanceledWhileWaiting cancels the context while the client
// waits to retry a 503, with a real wait that only cancellation can end.
func testContextCanceledWhileWaiting(t *testing.T, h Harness) {
	deps := psa.Deps{Retry: psa.RetryPolicy{
		MaxAttempts: 5,
		BaseDelay:   time.Hour,
		MaxDelay:    time.Hour,
	}}
	e := newEnvDeps(t, h, deps, nil)
	seedStandard(e.fake)
	r := firstRead(t, e.client)
	e.fake.FailNext(forever, 503, "")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	timer := time.AfterFunc(50*time.Millisecond, cancel)
	defer timer.Stop()
	start := time.Now()
	err := r.fn(ctx)
	assert.ErrorIs(t, err, context.Canceled, "%s: %v", r.name, err)
	assert.Less(t, time.Since(start), 2*time.Second, "%s returns promptly", r.name)
}

func testMalformedJSON(t *testing.T, h Harness) {
	e := newEnv(t, h)
	seedStandard(e.fake)
	rs := reads(e.client)
	if len(rs) == 0 {
		t.Skip("client implements no read capability")
	}
	for _, r := range rs {
		e.fake.MalformedNext()
		var err error
		require.NotPanics(t, func() { err = r.fn(t.Context()) }, r.name)
		require.Error(t, err, "%s accepted a truncated body", r.name)
		assert.ErrorIs(t, err, core.ErrUnavailable, "%s: %v", r.name, err)
	}
}

func finder(t *testing.T, h Harness) (env, psa.ContactFinder) {
	t.Helper()
	e := newEnv(t, h)
	f, ok := e.client.(psa.ContactFinder)
	if !ok {
		t.Skip("client does not implement psa.ContactFinder")
	}
	seedStandard(e.fake)
	return e, f
}

func testFindByEmail(t *testing.T, h Harness) {
	_, f := finder(t, h)
	for _, tc := range []struct {
		name, company, email string
		want                 []string
	}{
		{"exact case", acme.Ref, "Alice.Smith@Acme-Dental.example", []string{alice.Ref}},
		{"lower case", acme.Ref, "alice.smith@acme-dental.example", []string{alice.Ref}},
		{"upper case", acme.Ref, "ALICE.SMITH@ACME-DENTAL.EXAMPLE", []string{alice.Ref}},
		{"any company", "", "carol@globex.example", []string{carol.Ref}},
		{"other company", globex.Ref, "alice.smith@acme-dental.example", nil},
		{"prefix is not a match", acme.Ref, "alice.smith@acme-dental", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.FindContacts(t.Context(), tc.company, psa.ContactSearch{Email: tc.email})
			require.NoError(t, err)
			assert.ElementsMatch(t, tc.want, contactRefs(got))
		})
	}
	got, err := f.FindContacts(t.Context(), acme.Ref, psa.ContactSearch{Email: "alice.smith@acme-dental.example"})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assertContact(t, alice, got[0])
}

func testFindByPhone(t *testing.T, h Harness) {
	_, f := finder(t, h)
	for _, tc := range []struct {
		name, company, phone string
		want                 []string
	}{
		{"national format in the PSA", acme.Ref, "+15550100142", []string{alice.Ref}},
		{"second number", acme.Ref, "+15550100100", []string{alice.Ref}},
		{"international format in the PSA", acme.Ref, "+15550100177", []string{bob.Ref}},
		{"any company", "", "+15550100199", []string{carol.Ref}},
		{"no such number", acme.Ref, "+15550100111", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.FindContacts(t.Context(), tc.company, psa.ContactSearch{Phone: tc.phone})
			require.NoError(t, err)
			assert.ElementsMatch(t, tc.want, contactRefs(got))
		})
	}
}

func testFindByName(t *testing.T, h Harness) {
	_, f := finder(t, h)
	for _, tc := range []struct {
		name, company, query string
		want                 []string
	}{
		{"full name", acme.Ref, "Alice Smith", []string{alice.Ref}},
		{"full name any case", acme.Ref, "alice SMITH", []string{alice.Ref}},
		{"first name", acme.Ref, "bob", []string{bob.Ref}},
		{"last name", "", "Smithers", []string{carol.Ref}},
		{"no such name", acme.Ref, "Zed", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.FindContacts(t.Context(), tc.company, psa.ContactSearch{Name: tc.query})
			require.NoError(t, err)
			assert.ElementsMatch(t, tc.want, contactRefs(got))
		})
	}
}

func testFindAmbiguous(t *testing.T, h Harness) {
	e := newEnv(t, h)
	f, ok := e.client.(psa.ContactFinder)
	if !ok {
		t.Skip("client does not implement psa.ContactFinder")
	}
	twin := alice
	twin.Ref, twin.FirstName = "2004", "Alicia"
	e.fake.Seed([]psa.Company{acme}, []psa.Contact{alice, twin, bob}, nil)
	got, err := f.FindContacts(t.Context(), acme.Ref, psa.ContactSearch{Email: alice.Emails[0].Address})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{alice.Ref, twin.Ref}, contactRefs(got), "every match is returned; the technician chooses")
}

func testGetContact(t *testing.T, h Harness) {
	e := newEnv(t, h)
	g, ok := e.client.(psa.ContactGetter)
	if !ok {
		t.Skip("client does not implement psa.ContactGetter")
	}
	seedStandard(e.fake)
	got, err := g.GetContact(t.Context(), alice.Ref)
	require.NoError(t, err)
	assertContact(t, alice, got)
}

func testTicketWithContact(t *testing.T, h Harness) {
	e := newEnv(t, h)
	g, ok := e.client.(psa.TicketGetter)
	if !ok {
		t.Skip("client does not implement psa.TicketGetter")
	}
	seedStandard(e.fake)

	got, err := g.GetTicket(t.Context(), ticketAlice.Ref)
	require.NoError(t, err)
	assert.Equal(t, ticketAlice.Ref, got.Ref)
	assert.NotEmpty(t, got.Number)
	assert.Equal(t, ticketAlice.Summary, got.Summary)
	assert.Equal(t, ticketAlice.CompanyRef, got.CompanyRef)
	assert.Equal(t, ticketAlice.ContactRef, got.ContactRef)
	require.NotNil(t, got.Contact, "a ticket with a contact comes with it")
	assertContact(t, alice, *got.Contact)

	got, err = g.GetTicket(t.Context(), ticketNobody.Ref)
	require.NoError(t, err)
	assert.Empty(t, got.ContactRef)
	assert.Nil(t, got.Contact, "a ticket without a contact has a nil Contact")
}

func testAddTicketNote(t *testing.T, h Harness) {
	e := newEnv(t, h)
	n, ok := e.client.(psa.TicketNoter)
	if !ok {
		t.Skip("client does not implement psa.TicketNoter")
	}
	seedStandard(e.fake)
	require.NoError(t, n.AddTicketNote(t.Context(), ticketAlice.Ref, psa.Note{Text: "Caller verified by SMS code (ver_psatest1)."}))
	require.NoError(t, n.AddTicketNote(t.Context(), ticketAlice.Ref, psa.Note{Text: "Shown to the customer (ver_psatest2).", Public: true}))

	notes := e.fake.Notes(ticketAlice.Ref)
	require.Len(t, notes, 2)
	assert.Contains(t, notes[0].Text, "ver_psatest1")
	assert.False(t, notes[0].Public, "a note is internal unless asked otherwise")
	assert.Contains(t, notes[1].Text, "ver_psatest2")
	assert.True(t, notes[1].Public)
	assert.Empty(t, e.fake.Notes(ticketNobody.Ref))
}

// warmUp makes one read, so that a client that signs in before its first
// call (Kaseya BMS, Halo's OAuth token) holds its token and the fault a
// case sets up next hits the call under test, not the sign-in.
func warmUp(t *testing.T, c psa.Client) {
	t.Helper()
	if rs := reads(c); len(rs) > 0 {
		require.NoError(t, rs[0].fn(t.Context()), "warm-up %s", rs[0].name)
	}
}

func testNoteNotRetried(t *testing.T, h Harness) {
	e := newEnv(t, h)
	n, ok := e.client.(psa.TicketNoter)
	if !ok {
		t.Skip("client does not implement psa.TicketNoter")
	}
	seedStandard(e.fake)
	warmUp(t, e.client)
	e.fake.FailNext(1, 503, "")
	err := n.AddTicketNote(t.Context(), ticketAlice.Ref, psa.Note{Text: "psatest"})
	require.Error(t, err, "a note POST that may have been processed is never retried blindly")
	assert.ErrorIs(t, err, core.ErrUnavailable)
	assert.Empty(t, e.fake.Notes(ticketAlice.Ref))
}

func testNoteRetriedOn429(t *testing.T, h Harness) {
	e := newEnv(t, h)
	n, ok := e.client.(psa.TicketNoter)
	if !ok {
		t.Skip("client does not implement psa.TicketNoter")
	}
	seedStandard(e.fake)
	e.fake.FailNext(1, 429, "1")
	require.NoError(t, n.AddTicketNote(t.Context(), ticketAlice.Ref, psa.Note{Text: "psatest"}), "a 429 was not processed, so it is retried")
	assert.Len(t, e.fake.Notes(ticketAlice.Ref), 1, "exactly once")
	assert.Contains(t, e.sleep.Delays(), time.Second)
}

// CredentialRejecter is a Fake that can refuse the client's keys until
// told otherwise; psafake.Faults provides it to every fake built on it.
type CredentialRejecter interface {
	RejectCredentials(revoked bool)
}

// testNoteRevokedKeys: keys revoked in the PSA make a note fail as a
// misconfiguration an admin can act on — the plugin's words, and the PSA's
// own from its 401 body — after a bounded number of requests, and the note
// is written once the keys work again.
func testNoteRevokedKeys(t *testing.T, h Harness) {
	e := newEnv(t, h)
	n, ok := e.client.(psa.TicketNoter)
	if !ok {
		t.Skip("client does not implement psa.TicketNoter")
	}
	rej := fakeAs[CredentialRejecter](t, e, "TicketNoter", "CredentialRejecter (embed psafake.Faults)")
	seedStandard(e.fake)
	warmUp(t, e.client)
	before := e.fake.Requests()
	rej.RejectCredentials(true)
	err := n.AddTicketNote(t.Context(), ticketAlice.Ref, psa.Note{Text: "psatest revoked"})
	require.ErrorIs(t, err, core.ErrUnauthorized)
	assert.LessOrEqual(t, e.fake.Requests()-before, 3, "a refused key is not hammered (one fresh sign-in at most)")
	mis := psa.Misconfiguration(err)
	require.ErrorIs(t, mis, core.ErrMisconfigured)
	var me *core.MisconfiguredError
	require.ErrorAs(t, mis, &me)
	assert.NotEmpty(t, me.Fix, "the plugin says what to check")
	assert.Equal(t, "401", me.Code)
	// me.VendorMessage is the PSA's own words from its 401 body, when it
	// sends any (SuperOps answers a bare 401).
	assert.Empty(t, e.fake.Notes(ticketAlice.Ref))

	rej.RejectCredentials(false)
	require.NoError(t, n.AddTicketNote(t.Context(), ticketAlice.Ref, psa.Note{Text: "psatest revoked"}))
	assert.Len(t, e.fake.Notes(ticketAlice.Ref), 1)
}

func testCreateContact(t *testing.T, h Harness) {
	e := newEnv(t, h)
	cr, ok := e.client.(psa.ContactCreator)
	if !ok {
		t.Skip("client does not implement psa.ContactCreator")
	}
	seedStandard(e.fake)
	in := psa.Contact{
		Ref: "ignored", CompanyRef: globex.Ref, FirstName: "Dana", LastName: "New", Title: "Driver",
		Emails: []psa.Email{{Address: "dana@globex.example", Default: true}},
		Phones: []psa.Phone{{Number: "+15550100155", Label: "Mobile", Default: true}},
	}
	got, err := cr.CreateContact(t.Context(), in)
	require.NoError(t, err)
	require.NotEmpty(t, got.Ref)
	assert.NotEqual(t, "ignored", got.Ref)
	in.Ref = got.Ref
	assertContact(t, in, got)

	if g, ok := e.client.(psa.ContactGetter); ok {
		again, err := g.GetContact(t.Context(), got.Ref)
		require.NoError(t, err)
		assertContact(t, in, again)
	}
	if f, ok := e.client.(psa.ContactFinder); ok {
		found, err := f.FindContacts(t.Context(), globex.Ref, psa.ContactSearch{Email: "dana@globex.example"})
		require.NoError(t, err)
		assert.Equal(t, []string{got.Ref}, contactRefs(found))
	}
}

func testCreateTicket(t *testing.T, h Harness) {
	e := newEnv(t, h)
	cr, ok := e.client.(psa.TicketCreator)
	if !ok {
		t.Skip("client does not implement psa.TicketCreator")
	}
	seedStandard(e.fake)
	got, err := cr.CreateTicket(t.Context(), psa.NewTicket{CompanyRef: acme.Ref, ContactRef: alice.Ref,
		Summary: "psatest: Outlook keeps asking for a password", Description: "Logged from the tray."})
	require.NoError(t, err)
	require.NotEmpty(t, got.Ref)
	assert.NotEmpty(t, got.Number, "the number technicians see")
	assert.Equal(t, "psatest: Outlook keeps asking for a password", got.Summary)
	if g, ok := e.client.(psa.TicketGetter); ok {
		again, err := g.GetTicket(t.Context(), got.Ref)
		require.NoError(t, err)
		assert.Equal(t, got.Summary, again.Summary)
		assert.Equal(t, alice.Ref, again.ContactRef)
		assert.Equal(t, acme.Ref, again.CompanyRef)
	}
	_, err = cr.CreateTicket(t.Context(), psa.NewTicket{CompanyRef: "999999", Summary: "psatest: no such company"})
	require.Error(t, err, "a ticket for a company the PSA does not have")
	assert.Contains(t, []core.Kind{core.KindInvalid, core.KindNotFound}, core.ErrorKind(err), "%v", err)
}

func testIdentifyMember(t *testing.T, h Harness) {
	e := newEnv(t, h)
	m, ok := e.client.(psa.MemberIdentifier)
	if !ok {
		t.Skip("client does not implement psa.MemberIdentifier")
	}
	seedStandard(e.fake)
	got, err := m.IdentifyMember(t.Context())
	require.NoError(t, err)
	assert.Equal(t, member.Ref, got.Ref)
	assert.Equal(t, member.Name, got.Name)
	if got.Identifier != "" {
		assert.Equal(t, member.Identifier, got.Identifier)
	}
	if got.Email != "" {
		assert.True(t, strings.EqualFold(member.Email, got.Email), "email %q", got.Email)
	}
}

func testConcurrent(t *testing.T, h Harness) {
	e := newEnv(t, h)
	seedStandard(e.fake)
	rs := reads(e.client)
	if len(rs) == 0 {
		t.Skip("client implements no read capability")
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(rs))
	for range 8 {
		for _, r := range rs {
			wg.Go(func() {
				if err := r.fn(t.Context()); err != nil {
					errs <- fmt.Errorf("%s: %w", r.name, err)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
}

// assertContact checks the fields a plugin must carry through: refs, names,
// email addresses (case aside) and phone numbers as the PSA stores them.
// Labels and Default flags are the PSA's and are not compared.
func assertContact(t *testing.T, want, got psa.Contact) {
	t.Helper()
	assert.Equal(t, want.Ref, got.Ref, "Ref")
	assert.Equal(t, want.CompanyRef, got.CompanyRef, "CompanyRef")
	assert.Equal(t, want.FirstName, got.FirstName, "FirstName")
	assert.Equal(t, want.LastName, got.LastName, "LastName")
	var wantEmails, gotEmails []string
	for _, e := range want.Emails {
		wantEmails = append(wantEmails, strings.ToLower(e.Address))
	}
	for _, e := range got.Emails {
		gotEmails = append(gotEmails, strings.ToLower(e.Address))
	}
	assert.ElementsMatch(t, wantEmails, gotEmails, "emails")
	var wantPhones, gotPhones []string
	for _, p := range want.Phones {
		wantPhones = append(wantPhones, digits(p.Number))
	}
	for _, p := range got.Phones {
		gotPhones = append(gotPhones, digits(p.Number))
	}
	assert.ElementsMatch(t, wantPhones, gotPhones, "phones (digits)")
}

// digits keeps the digits of s, so that "(555) 010-0142" and "555.010.0142"
// compare equal: PSAs reformat numbers, and either form is "as the PSA gave it".
func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func contactRefs(cs []psa.Contact) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Ref)
	}
	return out
}

func companyRefs(cs []psa.Company) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Ref)
	}
	return out
}
