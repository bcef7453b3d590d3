package connectwise_test

import (
	"encoding/json"
	"fmt"
	"net/url"
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

// testClock is a settable clock for cache lifetimes.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// podEnv is e with a client whose codebase is stored in its config (as an
// integration set up through the console has it) and whose clock the test
// turns.
type podEnv struct {
	*env
	pod *connectwise.Client
	clk *testClock
}

func newPodEnv(t *testing.T, opts ...cwtest.Option) podEnv {
	t.Helper()
	e := newEnv(t, opts...)
	e.srv.AddPodMember(tech, techAuth, false)
	clk := &testClock{t: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}
	d := e.deps
	d.Now = clk.now
	cfg := e.srv.Config()
	cfg.Codebase = cwtest.DefaultCodebase
	c, err := connectwise.New(cfg, d)
	require.NoError(t, err)
	return podEnv{env: e, pod: c, clk: clk}
}

// proof is the getMemberAuthentication data ConnectWise gives the pod for
// a (reference §8.5), with changes applied.
func proof(a connectwise.MemberAuth, change ...func(map[string]string)) json.RawMessage {
	m := map[string]string{
		"site": "https://na.myconnectwise.net/", "companyid": cwtest.DefaultCompanyID, "memberid": a.MemberID,
		"memberHash": a.Hash, "memberContext": a.Context, "memberEmail": "someone@else.example", "codeBase": "v2025_1/",
	}
	for _, f := range change {
		f(m)
	}
	raw, _ := json.Marshal(m)
	return raw
}

func TestPodFrameOrigins(t *testing.T) {
	e := newEnv(t)
	assert.Equal(t, []string{"https://na.myconnectwise.net"}, e.client.FrameOrigins(), "the site technicians sign in to, not the api- host")
	onPrem := e.clientWith(t, func(c *connectwise.Config) { c.Site = "https://CW.msp.example:8443/" })
	assert.Equal(t, []string{"https://cw.msp.example:8443"}, onPrem.FrameOrigins())

	// Technicians who open ConnectWise at other addresses too (another
	// region, the MSP's own names): each is an origin of its own.
	more := e.clientWith(t, func(c *connectwise.Config) {
		c.Origins = "eu.myconnectwise.net, https://CW.msp.example:8443/  na.myconnectwise.net eu.myconnectwise.net"
	})
	assert.Equal(t, []string{"https://na.myconnectwise.net", "https://eu.myconnectwise.net", "https://cw.msp.example:8443"}, more.FrameOrigins())
	_, err := connectwise.New(connectwise.Config{Site: "na.myconnectwise.net", CompanyID: "c", PublicKey: "p", PrivateKey: "k", ClientID: "i",
		Origins: "eu.myconnectwise.net evil.example<script>"}, psa.Deps{})
	require.ErrorIs(t, err, core.ErrInvalid)
	assert.Contains(t, core.ErrorMessage(err), "other ConnectWise address")

	// A pod opened at one of them says so in its sign-in's site.
	pe := newPodEnv(t)
	eu := func(m map[string]string) { m["site"] = "https://eu.myconnectwise.net/" }
	_, err = pe.pod.ProveMember(t.Context(), proof(techAuth, eu))
	require.ErrorIs(t, err, core.ErrUnauthorized, "not configured on this integration")
	m, err := pe.clientWith(t, func(c *connectwise.Config) { c.Origins = "eu.myconnectwise.net" }).ProveMember(t.Context(), proof(techAuth, eu))
	require.NoError(t, err, "a configured ConnectWise address")
	assert.Equal(t, tech.Ref, m.Ref)
}

func TestPodContext(t *testing.T) {
	c := newEnv(t).client
	tests := []struct {
		name, query string
		want        psa.PodContext
		wantMsg     string
	}{
		{name: "ticket", query: "id=3001&screen=ticket", want: psa.PodContext{Screen: psa.ScreenTicket, TicketRef: "3001"}},
		{name: "contact", query: "id=2001&screen=contact", want: psa.PodContext{Screen: psa.ScreenContact, ContactRef: "2001"}},
		{name: "service tickets", query: "id=3001&screen=Service%20Tickets", want: psa.PodContext{Screen: psa.ScreenTicket, TicketRef: "3001"}},
		{name: "service_ticket", query: "id=3001&screen=service_ticket", want: psa.PodContext{Screen: psa.ScreenTicket, TicketRef: "3001"}},
		{name: "tickets", query: "id=3001&screen=tickets", want: psa.PodContext{Screen: psa.ScreenTicket, TicketRef: "3001"}},
		{name: "contacts upper case", query: "id=2001&screen=CONTACTS", want: psa.PodContext{Screen: psa.ScreenContact, ContactRef: "2001"}},
		{name: "leading zeros and spaces", query: "id=%2000042%20&screen=ticket", want: psa.PodContext{Screen: psa.ScreenTicket, TicketRef: "42"}},
		{name: "largest id", query: "id=2147483647&screen=ticket", want: psa.PodContext{Screen: psa.ScreenTicket, TicketRef: "2147483647"}},
		{name: "deep link ticket", query: "ticket=3001", want: psa.PodContext{Screen: psa.ScreenTicket, TicketRef: "3001"}},
		{name: "deep link contact", query: "contact=2001", want: psa.PodContext{Screen: psa.ScreenContact, ContactRef: "2001"}},

		{name: "nothing", query: "", wantMsg: "names no ConnectWise record"},
		{name: "no id", query: "screen=ticket", wantMsg: "names no ConnectWise record"},
		{name: "tokens not replaced", query: "id=[cw_id]&screen=[cw_screen]", wantMsg: "did not fill in"},
		{name: "letters", query: "id=abc&screen=ticket", wantMsg: `id "abc" is not a ConnectWise record id`},
		{name: "negative", query: "id=-5&screen=ticket", wantMsg: "not a ConnectWise record id"},
		{name: "plus sign", query: "id=%2B5&screen=ticket", wantMsg: "not a ConnectWise record id"},
		{name: "zero", query: "id=0&screen=ticket", wantMsg: "not a ConnectWise record id"},
		{name: "too large", query: "id=2147483648&screen=ticket", wantMsg: "not a ConnectWise record id"},
		{name: "decimal", query: "id=3.5&screen=ticket", wantMsg: "not a ConnectWise record id"},
		{name: "long", query: "id=" + strings.Repeat("9", 200) + "&screen=ticket", wantMsg: "…"},
		{name: "no screen", query: "id=3001", wantMsg: "does not say which ConnectWise screen"},
		{name: "numeric screen", query: "id=3001&screen=12", wantMsg: "screen=ticket (Service Tickets) or screen=contact"},
		{name: "company screen", query: "id=250&screen=company", wantMsg: `not on screen "company"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			require.NoError(t, err)
			got, err := c.PodContext(q)
			if tc.wantMsg != "" {
				require.ErrorIs(t, err, core.ErrInvalid)
				assert.Contains(t, core.ErrorMessage(err), tc.wantMsg)
				assert.Less(t, len(core.ErrorMessage(err)), 260, "no echo of a long input")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestGetTicketOnly(t *testing.T) {
	e := newPodEnv(t)
	noContact := psa.Ticket{Ref: "3002", Summary: "Printer", CompanyRef: acme.Ref}
	e.srv.Seed([]psa.Company{acme}, []psa.Contact{alice}, []psa.Ticket{ticket, noContact})
	e.calls.Take()

	got, err := e.pod.GetTicketOnly(t.Context(), ticket.Ref)
	require.NoError(t, err)
	assert.Equal(t, psa.Ticket{Ref: "3001", Number: "3001", Summary: "Password reset", CompanyRef: acme.Ref, ContactRef: alice.Ref, Status: "New"}, got)
	assert.Equal(t, []string{"GET /service/tickets/{id} 200"}, e.calls.Take(), "one call, and no discovery with a stored codebase")

	got, err = e.pod.GetTicketOnly(t.Context(), noContact.Ref)
	require.NoError(t, err)
	assert.Empty(t, got.ContactRef)
	assert.Nil(t, got.Contact)

	_, err = e.pod.GetTicketOnly(t.Context(), "999999")
	require.ErrorIs(t, err, core.ErrNotFound)
	_, err = e.pod.GetTicketOnly(t.Context(), "x")
	require.ErrorIs(t, err, core.ErrInvalid)
}

func TestStoredCodebase(t *testing.T) {
	e := newPodEnv(t)
	e.calls.Take()
	e.clk.add(48 * time.Hour)
	_, err := e.pod.GetContact(t.Context(), alice.Ref)
	require.NoError(t, err)
	assert.Equal(t, []string{"GET /company/contacts/{id} 200"}, e.calls.Take(), "a stored codebase does not go stale")

	// An upgrade moves the tenant: the stored codebase is discovered again.
	e.srv.ChangeCodebase("v2025_2/")
	_, err = e.pod.GetContact(t.Context(), alice.Ref)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"GET /company/contacts/{id} 404",
		"GET /login/companyinfo/{companyId} 200",
		"GET /company/contacts/{id} 200",
	}, e.calls.Take())
	cb, err := e.pod.Codebase(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "v2025_2/", cb)
	assert.Empty(t, e.calls.Take())

	// A fresh client discovers it, for setup to store.
	cb, err = e.client.Codebase(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "v2025_2/", cb)
	assert.Equal(t, []string{"GET /login/companyinfo/{companyId} 200"}, e.calls.Take())

	for _, tc := range []struct{ in, wantMsg string }{
		{in: "v2025_1"}, {in: " /v4_6_release/ "},
		{in: "v2025 1/", wantMsg: "not a ConnectWise codebase"},
		{in: "../x/", wantMsg: "not a ConnectWise codebase"},
	} {
		cfg := e.srv.Config()
		cfg.Codebase = tc.in
		err := cfg.Validate()
		if tc.wantMsg == "" {
			assert.NoError(t, err, tc.in)
			continue
		}
		require.ErrorIs(t, err, core.ErrInvalid, tc.in)
		assert.Contains(t, core.ErrorMessage(err), tc.wantMsg)
	}
	d := connectwise.Descriptor()
	raw := `{"site":"na.myconnectwise.net","company_id":"countersigntest","public_key":"` + cwtest.PublicKey +
		`","private_key":"` + cwtest.PrivateKey + `","client_id":"` + cwtest.ClientID + `","codebase":"v2025_2/"}`
	c, err := d.New(json.RawMessage(raw), e.srv.Deps(psa.Deps{Calls: e.calls}))
	require.NoError(t, err)
	_, err = c.(psa.TicketOnlyGetter).GetTicketOnly(t.Context(), ticket.Ref)
	require.NoError(t, err)
	assert.Equal(t, []string{"GET /service/tickets/{id} 200"}, e.calls.Take(), "the descriptor reads the stored codebase")
	assert.Contains(t, fmt.Sprint(e.srv.Config()), "Codebase:")
}

func TestProveMember(t *testing.T) {
	e := newPodEnv(t)
	e.srv.AddPodMember(psa.Member{Ref: "43", Identifier: "ddoe", Name: "Dana Doe"}, connectwise.MemberAuth{MemberID: "ddoe", Hash: "h4sh-of-ddoe", Context: "ctx2"}, false)
	e.srv.AddPodMember(psa.Member{Ref: "44", Identifier: "gone", Name: "Gone Tech"}, connectwise.MemberAuth{MemberID: "gone", Hash: "h4sh-of-gone", Context: "ctx3"}, true)
	e.calls.Take()
	ctx := t.Context()

	m, err := e.pod.ProveMember(ctx, proof(techAuth))
	require.NoError(t, err)
	assert.Equal(t, psa.Member{Ref: "42", Identifier: "jtech", Name: "Jamie Tech", Email: "jamie@msp.example"}, m,
		"ConnectWise's member, not the pod's memberEmail")
	assert.Equal(t, []string{"GET /system/myMembers/info 200"}, e.calls.Take())
	log := e.srv.Log()
	assert.Equal(t, "member-cookie", log[len(log)-1].Auth, "asked as the member, not with the API keys")

	// Accepted proofs are trusted for five minutes.
	e.clk.add(4 * time.Minute)
	_, err = e.pod.ProveMember(ctx, proof(techAuth))
	require.NoError(t, err)
	assert.Empty(t, e.calls.Take(), "cached")
	e.clk.add(2 * time.Minute)
	_, err = e.pod.ProveMember(ctx, proof(techAuth))
	require.NoError(t, err)
	assert.Len(t, e.calls.Take(), 1, "asked again after five minutes")

	// A hash ConnectWise does not accept: refused, and remembered for a minute.
	forged := techAuth
	forged.Hash = "forged-hash-0001"
	_, err = e.pod.ProveMember(ctx, proof(forged))
	require.ErrorIs(t, err, core.ErrUnauthorized)
	assert.NotEmpty(t, e.calls.Take())
	_, err = e.pod.ProveMember(ctx, proof(forged))
	require.ErrorIs(t, err, core.ErrUnauthorized)
	assert.Empty(t, e.calls.Take(), "a refusal is cached")
	e.clk.add(61 * time.Second)
	_, err = e.pod.ProveMember(ctx, proof(forged))
	require.ErrorIs(t, err, core.ErrUnauthorized)
	assert.NotEmpty(t, e.calls.Take(), "for a minute only")

	// A colleague's valid hash under one's own member id.
	_, err = e.pod.ProveMember(ctx, proof(connectwise.MemberAuth{MemberID: "jtech", Hash: "h4sh-of-ddoe", Context: "ctx2"}))
	require.ErrorIs(t, err, core.ErrUnauthorized)
	// An inactive member.
	_, err = e.pod.ProveMember(ctx, proof(connectwise.MemberAuth{MemberID: "gone", Hash: "h4sh-of-gone", Context: "ctx3"}))
	require.ErrorIs(t, err, core.ErrForbidden)
	e.calls.Take()

	// Another ConnectWise company or site: refused by name, without a call.
	_, err = e.pod.ProveMember(ctx, proof(techAuth, func(m map[string]string) { m["companyid"] = "othermsp" }))
	require.ErrorIs(t, err, core.ErrUnauthorized)
	assert.Contains(t, core.ErrorMessage(err), `company "othermsp", but the integration is for company "countersigntest"`)
	_, err = e.pod.ProveMember(ctx, proof(techAuth, func(m map[string]string) { m["site"] = "https://eu.myconnectwise.net/" }))
	require.ErrorIs(t, err, core.ErrUnauthorized)
	assert.Contains(t, core.ErrorMessage(err), "eu.myconnectwise.net")
	assert.Empty(t, e.calls.Take())
	_, err = e.pod.ProveMember(ctx, proof(techAuth, func(m map[string]string) {
		m["companyid"], m["site"] = "CounterSignTest", "https://NA.myconnectwise.net"
	}))
	require.NoError(t, err, "case aside")
	_, err = e.pod.ProveMember(ctx, proof(techAuth, func(m map[string]string) { delete(m, "site"); delete(m, "companyid") }))
	require.NoError(t, err, "both are consistency checks, made when present")

	// Strings that could reach a header are refused before any call.
	for name, raw := range map[string]json.RawMessage{
		"cookie injection": proof(connectwise.MemberAuth{MemberID: "jtech", Hash: "abc;memberId=ddoe", Context: "x"}),
		"colon in id":      proof(connectwise.MemberAuth{MemberID: "jtech:x", Hash: techAuth.Hash, Context: "x"}),
		"no hash":          proof(techAuth, func(m map[string]string) { delete(m, "memberHash") }),
		"not json":         json.RawMessage(`memberid=jtech`),
		"array":            json.RawMessage(`[1]`),
		"number id":        json.RawMessage(`{"memberid":42,"memberHash":"h4sh+of/jtech==","memberContext":"ctx1"}`),
	} {
		_, err := e.pod.ProveMember(ctx, raw)
		require.ErrorIs(t, err, core.ErrInvalid, name)
	}
	assert.Empty(t, e.calls.Take())

	// The data as a JSON string, as a pod may forward it unparsed.
	s, _ := json.Marshal(string(proof(techAuth)))
	_, err = e.pod.ProveMember(ctx, s)
	require.NoError(t, err)
}

func TestProveMemberFailsClosed(t *testing.T) {
	e := newPodEnv(t)
	e.calls.Take()
	e.srv.SetDown(true)
	_, err := e.pod.ProveMember(t.Context(), proof(techAuth))
	require.ErrorIs(t, err, core.ErrUnavailable)
	e.srv.SetDown(false)
	e.calls.Take()
	m, err := e.pod.ProveMember(t.Context(), proof(techAuth))
	require.NoError(t, err, "an outage is not remembered as a refusal")
	assert.Equal(t, "42", m.Ref)
	assert.Len(t, e.calls.Take(), 1)
}

func TestProveMemberRateLimit(t *testing.T) {
	e := newPodEnv(t)
	e.srv.SetMemberAuthForms("member-cookie")
	for i := range 10 {
		_, err := e.pod.ProveMember(t.Context(), proof(connectwise.MemberAuth{MemberID: "jtech", Hash: fmt.Sprintf("guess-%04d", i), Context: "c"}))
		require.ErrorIs(t, err, core.ErrUnauthorized)
	}
	e.calls.Take()
	_, err := e.pod.ProveMember(t.Context(), proof(connectwise.MemberAuth{MemberID: "JTECH", Hash: "guess-more", Context: "c"}))
	require.ErrorIs(t, err, core.ErrRateLimited)
	assert.Empty(t, e.calls.Take(), "no call while limited")
	m, err := e.pod.ProveMember(t.Context(), proof(techAuth))
	require.ErrorIs(t, err, core.ErrRateLimited, "the member id is limited, whatever the hash")
	assert.Empty(t, m.Ref)
	e.clk.add(time.Minute)
	_, err = e.pod.ProveMember(t.Context(), proof(techAuth))
	require.NoError(t, err, "a minute later")
}

func TestProveMemberKeepsSecrets(t *testing.T) {
	e := newPodEnv(t)
	forged := techAuth
	forged.Hash += "x"
	var shown []string
	for _, raw := range []json.RawMessage{proof(techAuth), proof(forged), proof(techAuth, func(m map[string]string) { m["companyid"] = "othermsp" })} {
		_, err := e.pod.ProveMember(t.Context(), raw)
		if err != nil {
			shown = append(shown, err.Error(), core.ErrorMessage(err), fmt.Sprintf("%+v", err))
		}
	}
	require.Len(t, shown, 6)
	shown = append(shown, e.logs.String())
	for _, s := range shown {
		for _, secret := range []string{techAuth.Hash, techAuth.Context, forged.Hash} {
			assert.NotContains(t, s, secret)
		}
	}
	assert.Contains(t, e.logs.String(), "connectwise member proved")
}
