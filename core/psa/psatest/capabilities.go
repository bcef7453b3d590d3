package psatest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// The cases of the capabilities beyond reads and notes: the descriptor,
// call counting, the connection check, pods (context, member proof,
// installation), setup, and inbound events. A client that implements a
// capability runs its case; the cases that need the fake's help to make a
// valid pod URL, member proof or signed event use the optional fake
// interfaces below, and a fake of a client with the capability must
// implement them.

// PodFake is implemented by fakes of PSAs that host the pod
// ([psa.Embedder]).
type PodFake interface {
	// PodQuery returns the query the PSA adds to the pod URL on screen for
	// the record ref, and false when the PSA has no such screen.
	PodQuery(screen psa.Screen, ref string) (url.Values, bool)
}

// MemberFake is implemented by fakes of PSAs that prove the member looking
// at a pod ([psa.MemberProver]).
type MemberFake interface {
	// MemberProof returns the proof the PSA would hand the pod for m, who
	// becomes a member the PSA knows.
	MemberProof(m psa.Member) json.RawMessage
}

// EventFake is implemented by fakes of PSAs that post events
// ([psa.CallbackVerifier]).
type EventFake interface {
	// SignedEvent returns the headers and body of an event about record
	// ref of type typ with action, as the PSA posts it to the
	// integration's URL, authenticated for the client's integration.
	SignedEvent(typ, action, ref string) (http.Header, []byte)
}

// SharedSecretEvents is implemented by EventFakes of PSAs that authenticate
// their events with a shared secret instead of a signature over the body
// (a webhook that carries Basic credentials and nothing else): a body changed
// on the way cannot be told from the real one there, so instead of the
// tampering cases the suite checks that wrong credentials are refused.
type SharedSecretEvents interface {
	EventFake
	// ForgedEvent is SignedEvent with credentials that are not the
	// integration's.
	ForgedEvent(typ, action, ref string) (http.Header, []byte)
}

// callCounter is a psa.CallCounter for the suite.
type callCounter struct {
	mu  sync.Mutex
	ops []string
}

func (c *callCounter) CountCall(op string, _ int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ops = append(c.ops, op)
}

func (c *callCounter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.ops
	c.ops = nil
	return out
}

// callsOf returns every call of c that asks the PSA something without
// changing it — reads, the connection check, the ticket alone, the pod
// — failing the test when there is none, so that the cases built
// on it can never pass vacuously.
func callsOf(t *testing.T, c psa.Client) []call {
	t.Helper()
	out := reads(c)
	if ch, ok := c.(psa.Checker); ok {
		out = append(out, call{"Check", ch.Check})
	}
	if l, ok := c.(psa.MemberLister); ok {
		out = append(out, call{"ListMembers", func(ctx context.Context) error { _, err := l.ListMembers(ctx, psa.ListOptions{}); return err }})
	}
	if g, ok := c.(psa.TicketOnlyGetter); ok {
		out = append(out, call{"GetTicketOnly", func(ctx context.Context) error { _, err := g.GetTicketOnly(ctx, ticketAlice.Ref); return err }})
	}
	require.NotEmpty(t, out, "the client implements no capability that calls the PSA")
	return out
}

// writeCalls returns a call for each write capability of e's client
// against the standard seed: notes, creations and the contact and ticket
// writes.
func writeCalls(t *testing.T, e env) []call {
	t.Helper()
	var out []call
	if n, ok := e.client.(psa.TicketNoter); ok {
		out = append(out, call{"AddTicketNote", func(ctx context.Context) error {
			return n.AddTicketNote(ctx, ticketAlice.Ref, psa.Note{Text: "psatest: counted (ver_psatestcount)"})
		}})
	}
	if cr, ok := e.client.(psa.TicketCreator); ok {
		out = append(out, call{"CreateTicket", func(ctx context.Context) error {
			_, err := cr.CreateTicket(ctx, psa.NewTicket{CompanyRef: acme.Ref, ContactRef: alice.Ref, Summary: "psatest: counted"})
			return err
		}})
	}
	if cr, ok := e.client.(psa.ContactCreator); ok {
		out = append(out, call{"CreateContact", func(ctx context.Context) error {
			_, err := cr.CreateContact(ctx, psa.Contact{CompanyRef: globex.Ref, FirstName: "Count", LastName: "Ed",
				Emails: []psa.Email{{Address: "counted@globex.example", Default: true}}})
			return err
		}})
	}
	for _, w := range contactWrites(t, e) {
		out = append(out, call{w.name, w.fn})
	}
	return out
}

// refusingTransport fails every request and counts it: a client's New
// must make none.
type refusingTransport struct {
	mu sync.Mutex
	n  int
}

func (rt *refusingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.n++
	rt.mu.Unlock()
	return nil, fmt.Errorf("psatest: New made a request (%s %s)", r.Method, r.URL.Host)
}

func (rt *refusingTransport) count() int {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.n
}

// testDescriptor checks New: a valid config makes a client without a
// request or a counted call; unknown fields, values of the wrong type,
// text that is not an object and a missing required field are errors of
// kind core.ErrInvalid that name no secret.
func testDescriptor(t *testing.T, h Harness) {
	d := h.Descriptor
	require.NotNil(t, d.New, "Harness.Descriptor is not set: set it and Harness.Settings so that the suite checks the plugin's New")
	require.NotEmpty(t, h.Settings, "set Harness.Settings to a valid config for Harness.Descriptor.New")
	_, err := psa.NewRegistry(d)
	require.NoError(t, err, "the descriptor is refused by psa.NewRegistry")

	rt := &refusingTransport{}
	calls := &callCounter{}
	deps := psa.Deps{HTTPClient: &http.Client{Transport: rt}, Calls: calls}
	c, err := d.New(h.Settings, deps)
	require.NoError(t, err, "New with Harness.Settings")
	require.NotNil(t, c)
	assert.Zero(t, rt.count(), "New makes no request")
	assert.Empty(t, calls.take(), "New counts no call")

	var settings map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(h.Settings, &settings), "Harness.Settings is a JSON object")
	secrets := map[string]string{}
	for _, f := range d.Fields {
		if f.Kind == psa.FieldSecret {
			var v string
			if json.Unmarshal(settings[f.Name], &v) == nil && len(v) >= 4 {
				secrets[f.Name] = v
			}
		}
	}
	with := func(change func(map[string]json.RawMessage)) json.RawMessage {
		m := map[string]json.RawMessage{}
		for k, v := range settings {
			m[k] = v
		}
		change(m)
		b, _ := json.Marshal(m)
		return b
	}
	bad := map[string]json.RawMessage{
		"unknown field": with(func(m map[string]json.RawMessage) { m["psatest_unknown"] = json.RawMessage(`"x"`) }),
		"not an object": json.RawMessage(`["psatest"]`),
		"not JSON":      json.RawMessage(`{"`),
		"trailing data": append(append(json.RawMessage{}, h.Settings...), []byte(` {}`)...),
	}
	for _, f := range d.Fields {
		if f.Required {
			bad["without "+f.Name] = with(func(m map[string]json.RawMessage) { delete(m, f.Name) })
		}
		if _, ok := settings[f.Name]; ok {
			bad[f.Name+" of the wrong type"] = with(func(m map[string]json.RawMessage) { m[f.Name] = json.RawMessage(`{"psatest":1}`) })
		}
	}
	for name, raw := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := d.New(raw, deps)
			require.Error(t, err, "New accepted settings %s", name)
			assert.ErrorIs(t, err, core.ErrInvalid, "%v", err)
			for f, v := range secrets {
				assert.NotContains(t, err.Error(), v, "the error shows the secret %s", f)
			}
		})
	}
	assert.Zero(t, rt.count(), "New makes no request, even for bad settings")
}

// opIDs finds what look like record ids in an op name: a path segment
// that is a number, or a seeded ref.
var opIDs = regexp.MustCompile(`/[0-9]+(/|$)`)

// testCallsCounted checks that every request — reads, writes, retries —
// reaches Deps.Calls under an op name without ids (low cardinality for
// metrics).
func testCallsCounted(t *testing.T, h Harness) {
	s := &sleeper{}
	counter := &callCounter{}
	deps := psa.Deps{Calls: counter, Retry: psa.RetryPolicy{MaxAttempts: 3, BaseDelay: 1, Sleep: s.Sleep}}
	e := newEnvDeps(t, h, deps, s)
	seedStandard(e.fake)
	for _, r := range callsOf(t, e.client) {
		counter.take()
		before := e.fake.Requests()
		require.NoError(t, r.fn(t.Context()), r.name)
		made, ops := e.fake.Requests()-before, counter.take()
		assert.NotEmpty(t, ops, "%s counted no call", r.name)
		assert.GreaterOrEqual(t, len(ops), made, "%s made %d requests but counted %v", r.name, made, ops)
		for _, op := range ops {
			assert.NotRegexp(t, opIDs, op, "%s: op %q names a record id; use {id}", r.name, op)
			for _, ref := range []string{alice.Ref, acme.Ref, ticketAlice.Ref, ticketNobody.Ref} {
				assert.NotContains(t, op, ref, "%s: op %q names a record", r.name, op)
			}
		}
	}
	// Writes are requests too.
	for _, w := range writeCalls(t, e) {
		counter.take()
		before := e.fake.Requests()
		require.NoError(t, w.fn(t.Context()), w.name)
		made, ops := e.fake.Requests()-before, counter.take()
		assert.NotEmpty(t, ops, "%s counted no call", w.name)
		assert.GreaterOrEqual(t, len(ops), made, "%s made %d requests but counted %v", w.name, made, ops)
		for _, op := range ops {
			assert.NotRegexp(t, opIDs, op, "%s: op %q names a record id; use {id}", w.name, op)
			for _, ref := range []string{alice.Ref, bob.Ref, acme.Ref, ticketAlice.Ref} {
				assert.NotContains(t, op, ref, "%s: op %q names a record", w.name, op)
			}
		}
	}
	// Retries are requests too.
	r := callsOf(t, e.client)[0]
	counter.take()
	e.fake.FailNext(1, 503, "")
	before := e.fake.Requests()
	require.NoError(t, r.fn(t.Context()), "%s after a 503", r.name)
	assert.GreaterOrEqual(t, len(counter.take()), e.fake.Requests()-before, "%s: the retried request is counted", r.name)
}

func testChecker(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ch, ok := e.client.(psa.Checker)
	if !ok {
		t.Skip("client does not implement psa.Checker")
	}
	seedStandard(e.fake)
	require.NoError(t, ch.Check(t.Context()), "Check against a working fake")
	for _, tc := range []struct {
		status int
		kind   error
	}{{401, core.ErrUnauthorized}, {403, core.ErrForbidden}, {503, core.ErrUnavailable}} {
		e.fake.FailNext(forever, tc.status, "")
		err := ch.Check(t.Context())
		e.fake.FailNext(0, 0, "")
		require.Error(t, err, "Check passed while the PSA answers %d", tc.status)
		assert.ErrorIs(t, err, tc.kind, "%d: %v", tc.status, err)
	}
}

func testTicketOnly(t *testing.T, h Harness) {
	e := newEnv(t, h)
	g, ok := e.client.(psa.TicketOnlyGetter)
	if !ok {
		t.Skip("client does not implement psa.TicketOnlyGetter")
	}
	seedStandard(e.fake)
	if full, ok := e.client.(psa.TicketGetter); ok {
		_, err := full.GetTicket(t.Context(), ticketAlice.Ref) // warm any caches up first
		require.NoError(t, err)
	}
	before := e.fake.Requests()
	got, err := g.GetTicketOnly(t.Context(), ticketAlice.Ref)
	require.NoError(t, err)
	only := e.fake.Requests() - before
	assert.Equal(t, ticketAlice.Ref, got.Ref)
	assert.Equal(t, ticketAlice.Summary, got.Summary)
	assert.Equal(t, ticketAlice.CompanyRef, got.CompanyRef)
	assert.Equal(t, ticketAlice.ContactRef, got.ContactRef)
	assert.NotEmpty(t, got.Number)
	assert.Nil(t, got.Contact, "GetTicketOnly leaves Contact nil")
	if full, ok := e.client.(psa.TicketGetter); ok {
		before = e.fake.Requests()
		_, err := full.GetTicket(t.Context(), ticketAlice.Ref)
		require.NoError(t, err)
		assert.LessOrEqual(t, only, e.fake.Requests()-before, "GetTicketOnly costs no more requests than GetTicket with its contact")
	}
	_, err = g.GetTicketOnly(t.Context(), missingRef)
	assert.ErrorIs(t, err, core.ErrNotFound, "%v", err)
}

// plainOrigin is a bare origin, as a CSP frame-ancestors source.
var plainOrigin = regexp.MustCompile(`^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$`)

func testEmbedder(t *testing.T, h Harness) {
	e := newEnv(t, h)
	emb, ok := e.client.(psa.Embedder)
	if !ok {
		t.Skip("client does not implement psa.Embedder")
	}
	// A client whose settings name no frame origin yet may return none (the
	// host then refuses to serve its pod); every one it names is plain.
	for _, o := range emb.FrameOrigins() {
		assert.Regexp(t, plainOrigin, o, "frame origin %q is not a plain origin", o)
	}
	_, err := emb.PodContext(url.Values{})
	assert.ErrorIs(t, err, core.ErrInvalid, "a pod URL without the PSA's context: %v", err)

	pf := fakeAs[PodFake](t, e, "Embedder", "PodFake")
	any := false
	for _, tc := range []struct {
		screen psa.Screen
		ref    string
		want   psa.PodContext
	}{
		{psa.ScreenTicket, ticketAlice.Ref, psa.PodContext{Screen: psa.ScreenTicket, TicketRef: ticketAlice.Ref}},
		{psa.ScreenContact, alice.Ref, psa.PodContext{Screen: psa.ScreenContact, ContactRef: alice.Ref}},
	} {
		q, ok := pf.PodQuery(tc.screen, tc.ref)
		if !ok {
			continue
		}
		any = true
		got, err := emb.PodContext(q)
		require.NoError(t, err, "%s screen: %v", tc.screen, q)
		assert.Equal(t, tc.want, got, "%s screen", tc.screen)
		// Hostile values: never a panic, and either refused as invalid or
		// read as some context.
		for k := range q {
			for _, v := range []string{"", strings.Repeat("9", 10000), "${ticket}", "[cw_id]", "1 OR 1=1", "../../x", "\x00", "%"} {
				hq := url.Values{}
				for k2, v2 := range q {
					hq[k2] = v2
				}
				hq.Set(k, v)
				var err error
				require.NotPanics(t, func() { _, err = emb.PodContext(hq) }, "%s=%q", k, v)
				if err != nil {
					assert.ErrorIs(t, err, core.ErrInvalid, "%s=%q: %v", k, v, err)
				}
			}
		}
	}
	assert.True(t, any, "PodQuery offers no screen")
}

func testMemberProver(t *testing.T, h Harness) {
	e := newEnv(t, h)
	mp, ok := e.client.(psa.MemberProver)
	if !ok {
		t.Skip("client does not implement psa.MemberProver")
	}
	seedStandard(e.fake)
	failsClosed := func(t *testing.T, why string, proof json.RawMessage) {
		t.Helper()
		var m psa.Member
		var err error
		require.NotPanics(t, func() { m, err = mp.ProveMember(t.Context(), proof) }, why)
		require.Error(t, err, "%s: a proof was accepted", why)
		assert.Zero(t, m, "%s: a member came with the error", why)
	}
	for name, proof := range map[string]json.RawMessage{
		"null": json.RawMessage(`null`), "empty object": json.RawMessage(`{}`), "string": json.RawMessage(`"psatest"`),
		"array": json.RawMessage(`[1,2]`), "not JSON": json.RawMessage(`{"`), "nothing": nil,
		"huge": json.RawMessage(`{"x":"` + strings.Repeat("a", 1<<20) + `"}`),
	} {
		failsClosed(t, name, proof)
	}
	mf := fakeAs[MemberFake](t, e, "MemberProver", "MemberFake")
	tech := psa.Member{Ref: "77", Identifier: "ptech", Name: "Pat Tech", Email: "pat@msp.example"}
	proof := mf.MemberProof(tech)
	got, err := mp.ProveMember(t.Context(), proof)
	require.NoError(t, err, "the fake's own proof")
	assert.Equal(t, tech.Ref, got.Ref)
	assert.Equal(t, tech.Name, got.Name)
	// The same proof fails closed whatever goes wrong with the PSA. (A
	// client may cache a confirmed proof; a fresh one must be asked.)
	for _, status := range []int{401, 403, 404, 429, 500, 503} {
		fresh := mf.MemberProof(psa.Member{Ref: fmt.Sprint(8000 + status), Identifier: "t" + fmt.Sprint(status), Name: "Tech", Email: "t@msp.example"})
		e.fake.FailNext(forever, status, "")
		failsClosed(t, fmt.Sprintf("the PSA answers %d", status), fresh)
		e.fake.FailNext(0, 0, "")
	}
	fresh := mf.MemberProof(psa.Member{Ref: "8999", Identifier: "tm", Name: "Tech", Email: "t@msp.example"})
	e.fake.MalformedNext()
	failsClosed(t, "the PSA's answer is truncated", fresh)
	tampered := bytes.Replace(mf.MemberProof(tech), []byte(`"`), []byte(`"x`), 2)
	failsClosed(t, "a tampered proof", tampered)
}

// setupURLs are what the suite asks a SetupGuide for.
const (
	setupPodURL = "https://cs.example/pod/acme/int_psatest"
	setupOrigin = "https://cs.example"
)

func testSetupGuide(t *testing.T, h Harness) {
	e := newEnv(t, h)
	g, ok := e.client.(psa.SetupGuide)
	if !ok {
		t.Skip("client does not implement psa.SetupGuide")
	}
	before := e.fake.Requests()
	st := g.Setup(setupPodURL, setupOrigin)
	assert.Equal(t, before, e.fake.Requests(), "Setup makes no call")
	assert.NotEmpty(t, st.Where, "Setup says where in the PSA the pod entries go")
	require.NotEmpty(t, st.Permissions, "Setup lists the permissions the API user needs")
	for _, p := range st.Permissions {
		assert.NotEmpty(t, p.Area, "%+v", p)
		assert.NotEmpty(t, p.Access, "%+v", p)
		assert.NotEmpty(t, p.Why, "%+v", p)
	}
	if _, ok := e.client.(psa.Embedder); ok {
		assert.NotEmpty(t, st.Pods, "an Embedder's setup lists the pod entries")
	}
	for _, p := range st.Pods {
		assert.True(t, strings.HasPrefix(p.URL, setupPodURL), "pod URL %q is not under %s", p.URL, setupPodURL)
		assert.Equal(t, setupOrigin, p.Origin, "pod entry origin")
		assert.Contains(t, []psa.Screen{psa.ScreenContact, psa.ScreenTicket}, p.Screen)
		assert.NotEmpty(t, p.ScreenName)
	}
}

func testPodInstaller(t *testing.T, h Harness) {
	e := newEnv(t, h)
	pi, ok := e.client.(psa.PodInstaller)
	if !ok {
		t.Skip("client does not implement psa.PodInstaller")
	}
	seedStandard(e.fake)
	screens, err := pi.PodScreens(t.Context())
	require.NoError(t, err)
	require.NotEmpty(t, screens, "the PSA lists the screens that host pods")
	entries := []psa.PodEntry{{Screen: psa.ScreenTicket, ScreenName: "Tickets", Description: "Countersign", URL: setupPodURL, Origin: setupOrigin, Type: "Pod"}}
	if g, ok := e.client.(psa.SetupGuide); ok {
		entries = g.Setup(setupPodURL, setupOrigin).Pods
	}
	first, err := pi.InstallPods(t.Context(), entries, nil)
	require.NoError(t, err)
	// A PSA may host the pod on fewer screens than the setup lists.
	require.NotEmpty(t, first)
	require.LessOrEqual(t, len(first), len(entries))
	for _, p := range first {
		assert.True(t, p.Created, "%s: created on a fresh PSA", p.Screen)
		assert.NotEmpty(t, p.Ref)
	}
	again, err := pi.InstallPods(t.Context(), entries, nil)
	require.NoError(t, err)
	require.Len(t, again, len(first))
	for i, p := range again {
		assert.False(t, p.Created, "%s: an entry that exists is kept, not duplicated", p.Screen)
		assert.Equal(t, first[i].Ref, p.Ref, "%s: the same entry", p.Screen)
	}
}

func testCallbackRegistrar(t *testing.T, h Harness) {
	e := newEnv(t, h)
	cr, ok := e.client.(psa.CallbackRegistrar)
	if !ok {
		t.Skip("client does not implement psa.CallbackRegistrar")
	}
	seedStandard(e.fake)
	const target = "https://cs.example/webhooks/psa/acme/int_psatest"
	first, err := cr.RegisterCallbacks(t.Context(), target)
	require.NoError(t, err)
	require.NotEmpty(t, first)
	for _, r := range first {
		assert.True(t, r.Created, "created on a fresh PSA")
		assert.NotEmpty(t, r.Ref)
	}
	again, err := cr.RegisterCallbacks(t.Context(), target)
	require.NoError(t, err)
	require.Len(t, again, len(first))
	for i, r := range again {
		assert.False(t, r.Created, "registering again reuses the registration")
		assert.Equal(t, first[i].Ref, r.Ref)
	}
	other, err := cr.RegisterCallbacks(t.Context(), target+"2")
	require.NoError(t, err)
	require.NotEmpty(t, other)
	assert.True(t, other[0].Created, "another URL is another registration")
	assert.NotEqual(t, first[0].Ref, other[0].Ref)

	before := e.fake.Requests()
	for _, bad := range []string{"", "ftp://cs.example/x", "/relative", "https://"} {
		_, err := cr.RegisterCallbacks(t.Context(), bad)
		assert.ErrorIs(t, err, core.ErrInvalid, "%q: %v", bad, err)
	}
	assert.Equal(t, before, e.fake.Requests(), "a bad URL is refused before any call")
}

func testCallbackVerifier(t *testing.T, h Harness) {
	e := newEnv(t, h)
	v, ok := e.client.(psa.CallbackVerifier)
	if !ok {
		t.Skip("client does not implement psa.CallbackVerifier")
	}
	seedStandard(e.fake)
	ef := fakeAs[EventFake](t, e, "CallbackVerifier", "EventFake")
	if cr, ok := e.client.(psa.CallbackRegistrar); ok {
		// A PSA signs its events with what the registration gave it.
		_, err := cr.RegisterCallbacks(t.Context(), "https://cs.example/webhooks/psa/acme/int_psatest")
		require.NoError(t, err, "registering the callbacks the events are posted to")
	}
	refused := func(t *testing.T, why string, hdr http.Header, body []byte, kinds ...error) {
		t.Helper()
		var cb psa.Callback
		var err error
		require.NotPanics(t, func() { cb, err = v.VerifyCallback(t.Context(), hdr, body) }, why)
		require.Error(t, err, "%s: accepted as %+v", why, cb)
		ok := false
		for _, k := range kinds {
			ok = ok || errors.Is(err, k)
		}
		assert.True(t, ok, "%s: %v is none of %v", why, err, kinds)
	}

	hdr, body := ef.SignedEvent("ticket", psa.CallbackAdded, ticketAlice.Ref)
	cb, err := v.VerifyCallback(t.Context(), hdr, body)
	require.NoError(t, err, "the fake's own event")
	assert.Equal(t, "ticket", cb.Type)
	assert.Equal(t, psa.CallbackAdded, cb.Action)
	assert.Equal(t, ticketAlice.Ref, cb.Ref)

	// Replayed: refused, or the same id as before so that the host drops it.
	again, err := v.VerifyCallback(t.Context(), hdr, body)
	if err == nil {
		assert.NotEmpty(t, again.ID, "a replayable event needs an id for the host to drop the replay")
		assert.Equal(t, cb.ID, again.ID, "a replayed event keeps its id")
	} else {
		assert.True(t, errors.Is(err, core.ErrUnauthorized) || errors.Is(err, core.ErrConflict), "replay: %v", err)
	}
	// Another event is not mistaken for a replay.
	h2, b2 := ef.SignedEvent("ticket", psa.CallbackAdded, ticketNobody.Ref)
	cb2, err := v.VerifyCallback(t.Context(), h2, b2)
	require.NoError(t, err)
	assert.Equal(t, ticketNobody.Ref, cb2.Ref)
	if cb.ID != "" || cb2.ID != "" {
		assert.NotEqual(t, cb.ID, cb2.ID, "two events share an id: the host would drop the second")
	}

	if ss, ok := ef.(SharedSecretEvents); ok {
		fh, fb := ss.ForgedEvent("ticket", psa.CallbackAdded, ticketAlice.Ref)
		refused(t, "wrong credentials", fh, fb, core.ErrUnauthorized)
		refused(t, "no headers", http.Header{}, body, core.ErrUnauthorized)
		big := append(bytes.TrimRight(append([]byte{}, body...), "}"), []byte(`,"psatest":"`+strings.Repeat("a", psa.MaxInboundBody)+`"}`)...)
		refused(t, "oversize", hdr, big, core.ErrInvalid)
		refused(t, "not JSON", hdr, []byte(`{"`), core.ErrUnauthorized, core.ErrInvalid)
		return
	}
	tampered := bytes.Replace(body, []byte(ticketAlice.Ref), []byte(ticketNobody.Ref), 1)
	require.NotEqual(t, body, tampered, "the fake's event names its ref")
	refused(t, "tampered body", hdr, tampered, core.ErrUnauthorized)
	refused(t, "no headers", http.Header{}, body, core.ErrUnauthorized)
	mixed := hdr.Clone()
	for k := range h2 {
		mixed[k] = h2[k]
	}
	refused(t, "another event's signature", mixed, body, core.ErrUnauthorized)
	big := append(bytes.TrimRight(append([]byte{}, body...), "}"), []byte(`,"psatest":"`+strings.Repeat("a", psa.MaxInboundBody)+`"}`)...)
	refused(t, "oversize", hdr, big, core.ErrInvalid)
	refused(t, "not JSON", hdr, []byte(`{"`), core.ErrUnauthorized, core.ErrInvalid)
}

// MemberSeeder is implemented by fakes of PSAs whose client is a
// [psa.MemberLister]: the MSP's members, those named in inactive listed as
// inactive (deactivated, left the MSP).
type MemberSeeder interface {
	SeedMembers(members []psa.Member, inactive ...string)
}

// MemberPhoneless is implemented by MemberSeeders of PSAs whose member
// list carries no phone number (Kaseya BMS's employee list has e-mail but
// no phone): the suite then requires every listed phone to be "", so
// that a client invents none.
type MemberPhoneless interface {
	MemberSeeder
	MembersHaveNoPhone()
}

// testMemberLister: following the cursor from the first page visits each
// active member once, with the name, e-mail and phone the PSA holds, and
// no inactive one, whatever page size the PSA imposes; a refusal keeps its
// kind.
func testMemberLister(t *testing.T, h Harness) {
	e := newEnv(t, h)
	l, ok := e.client.(psa.MemberLister)
	if !ok {
		t.Skip("client does not implement psa.MemberLister")
	}
	seeder, ok := e.fake.(MemberSeeder)
	require.True(t, ok, "the client lists members: its fake must implement psatest.MemberSeeder")
	_, phoneless := e.fake.(MemberPhoneless)
	var all []psa.Member
	for i := range 7 {
		all = append(all, psa.Member{Ref: fmt.Sprint(3001 + i), Identifier: fmt.Sprintf("tech%d", i+1), Name: fmt.Sprintf("Tech %d Person", i+1),
			Email: fmt.Sprintf("tech%d@msp.example", i+1), Phone: fmt.Sprintf("(555) 010-01%02d", 50+i)})
	}
	all[6].Phone, all[5].Email = "", ""
	seeder.SeedMembers(all, all[1].Ref, all[4].Ref)
	e.fake.SetPageSize(2)
	got := map[string]psa.Member{}
	cursor, pages := "", 0
	for {
		p, err := l.ListMembers(t.Context(), psa.ListOptions{PageSize: 2, Cursor: cursor})
		require.NoError(t, err, "page %d", pages+1)
		pages++
		for _, m := range p.Items {
			_, dup := got[m.Ref]
			require.False(t, dup, "member %s listed twice", m.Ref)
			got[m.Ref] = m
		}
		if cursor = p.Next; cursor == "" {
			break
		}
		require.Less(t, pages, 20, "the cursor never ends")
	}
	assert.GreaterOrEqual(t, pages, 3, "5 active members at 2 a page are at least 3 pages")
	require.Len(t, got, 5, "each active member once, no inactive one")
	for i, m := range all {
		if i == 1 || i == 4 {
			assert.NotContains(t, got, m.Ref, "inactive member %s listed", m.Ref)
			continue
		}
		g := got[m.Ref]
		assert.Equal(t, m.Name, g.Name)
		assert.Equal(t, strings.ToLower(m.Email), strings.ToLower(g.Email))
		if phoneless {
			assert.Empty(t, g.Phone, "member %s: the PSA lists no phone", m.Ref)
			continue
		}
		assert.Equal(t, phoneDigits(m.Phone), phoneDigits(g.Phone), "member %s's phone", m.Ref)
	}
	e.fake.FailNext(forever, 401, "")
	_, err := l.ListMembers(t.Context(), psa.ListOptions{})
	e.fake.FailNext(0, 0, "")
	assert.ErrorIs(t, err, core.ErrUnauthorized)
}

// phoneDigits is a number's digits: PSAs keep the format they were given.
func phoneDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}
