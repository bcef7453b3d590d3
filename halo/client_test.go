package halo_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/halo"
	"github.com/countersign/countersign/halo/halotest"
)

var (
	acme  = psa.Company{Ref: "1001", Name: "Acme Dental"}
	alice = psa.Contact{Ref: "2001", CompanyRef: acme.Ref, FirstName: "Alice", LastName: "Smith",
		Emails: []psa.Email{{Address: "alice@acme-dental.example"}, {Address: "a.smith@home.example"}, {Address: "alice.s@acme-dental.example"}},
		Phones: []psa.Phone{{Number: "(555) 010-0142", Label: "Mobile"}, {Number: "555.010.0143", Label: "Mobile 2"}, {Number: "555-010-0100", Label: "Phone"}}}
	alix = psa.Contact{Ref: "2002", CompanyRef: acme.Ref, FirstName: "Alix", LastName: "Smithson",
		Emails: []psa.Email{{Address: "xalice@acme-dental.example"}},
		Phones: []psa.Phone{{Number: "555 010 1142", Label: "Mobile"}}}
	ticket = psa.Ticket{Ref: "3001", Summary: "Locked out", CompanyRef: acme.Ref, ContactRef: alice.Ref}
	api    = psa.Member{Ref: "7", Name: "Countersign API", Email: "api@msp.example"}
)

// callLog counts what the client counted.
type callLog struct {
	mu  sync.Mutex
	ops []string
}

func (c *callLog) CountCall(op string, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ops = append(c.ops, op+" "+http.StatusText(status))
}

func (c *callLog) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.ops
	c.ops = nil
	return out
}

// sleeps records retry waits and returns at once.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

type fixture struct {
	srv   *halotest.Server
	c     *halo.Client
	calls *callLog
	sleep *sleeps
	clock *clock
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newFixture(t *testing.T, cfg func(*halo.Config), opts ...halotest.Option) *fixture {
	t.Helper()
	f := &fixture{srv: halotest.NewServer(t, opts...), calls: &callLog{}, sleep: &sleeps{}, clock: &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}}
	f.srv.SetClock(f.clock.Now)
	f.srv.Seed([]psa.Company{acme}, []psa.Contact{alice, alix}, []psa.Ticket{ticket})
	f.srv.SetMember(api)
	c := f.srv.Config()
	if cfg != nil {
		cfg(&c)
	}
	var err error
	f.c, err = halo.New(c, f.srv.Deps(psa.Deps{Calls: f.calls, Now: f.clock.Now,
		Retry: psa.RetryPolicy{MaxAttempts: 3, BaseDelay: 10 * time.Millisecond, MaxDelay: 5 * time.Second, Sleep: f.sleep.Sleep}}))
	require.NoError(t, err)
	return f
}

func TestTokenCachedAndShared(t *testing.T) {
	f := newFixture(t, nil)
	for range 5 {
		_, err := f.c.GetContact(t.Context(), alice.Ref)
		require.NoError(t, err)
	}
	assert.Equal(t, 1, f.srv.TokenRequests(), "one token for five calls")
	assert.Equal(t, []string{"GET /api/authinfo OK", "POST /auth/token OK", "GET /api/Users/{id} OK", "GET /api/Users/{id} OK",
		"GET /api/Users/{id} OK", "GET /api/Users/{id} OK", "GET /api/Users/{id} OK"}, f.calls.take(), "the token fetch is counted")

	// Cold and concurrent: one fetch, every caller waits for it.
	g := newFixture(t, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			_, err := g.c.GetTicketOnly(t.Context(), ticket.Ref)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	assert.Equal(t, 1, g.srv.TokenRequests(), "one refresh at a time")
}

func TestTokenRenewedBeforeExpiry(t *testing.T) {
	f := newFixture(t, nil)
	f.srv.SetTokenLifetime(time.Hour)
	_, err := f.c.GetTicketOnly(t.Context(), ticket.Ref)
	require.NoError(t, err)
	f.clock.Add(58 * time.Minute)
	_, err = f.c.GetTicketOnly(t.Context(), ticket.Ref)
	require.NoError(t, err)
	assert.Equal(t, 1, f.srv.TokenRequests(), "still valid at 58 minutes")
	f.clock.Add(90 * time.Second) // 59.5 minutes: inside the last minute
	_, err = f.c.GetTicketOnly(t.Context(), ticket.Ref)
	require.NoError(t, err)
	assert.Equal(t, 2, f.srv.TokenRequests(), "replaced shortly before it expires, not after a 401")
	assert.Equal(t, 3, f.srv.Requests(), "no call was refused")
}

func TestTokenRefusedForcesOneRefresh(t *testing.T) {
	f := newFixture(t, nil)
	_, err := f.c.GetTicketOnly(t.Context(), ticket.Ref)
	require.NoError(t, err)
	f.calls.take()

	// Halo forgot the token (restart, revoked sessions): one new token, the
	// call repeated, nothing seen by the caller — a note POST included.
	f.srv.RevokeTokens()
	require.NoError(t, f.c.AddTicketNote(t.Context(), ticket.Ref, psa.Note{Text: "after revocation"}))
	assert.Equal(t, []string{"POST /api/Actions Unauthorized", "POST /auth/token OK", "POST /api/Actions Created"}, f.calls.take())
	assert.Len(t, f.srv.Actions(ticket.Ref), 1, "written once")

	// A 401 that a new token does not cure: one refresh, and no more.
	f.srv.FailNext(1000, http.StatusUnauthorized, "")
	_, err = f.c.GetTicketOnly(t.Context(), ticket.Ref)
	require.ErrorIs(t, err, core.ErrUnauthorized)
	assert.Contains(t, core.ErrorMessage(err), "client id and secret")
	assert.Equal(t, []string{"GET /api/Tickets/{id} Unauthorized", "POST /auth/token OK", "GET /api/Tickets/{id} Unauthorized"}, f.calls.take())
	_, err = f.c.GetTicketOnly(t.Context(), ticket.Ref)
	require.ErrorIs(t, err, core.ErrUnauthorized)
	assert.Equal(t, []string{"POST /auth/token OK", "GET /api/Tickets/{id} Unauthorized"}, f.calls.take(), "a fresh token refused is not retried")
}

func TestTokenFailures(t *testing.T) {
	t.Run("429 honours Retry-After", func(t *testing.T) {
		f := newFixture(t, nil)
		f.srv.FailToken(1, http.StatusTooManyRequests, "2")
		_, err := f.c.GetTicketOnly(t.Context(), ticket.Ref)
		require.NoError(t, err)
		assert.Equal(t, []time.Duration{2 * time.Second}, f.sleep.d)
		assert.Equal(t, 2, f.srv.TokenRequests())
	})
	t.Run("429 longer than the longest wait", func(t *testing.T) {
		f := newFixture(t, nil)
		f.srv.FailToken(1, http.StatusTooManyRequests, "120")
		_, err := f.c.GetTicketOnly(t.Context(), ticket.Ref)
		require.ErrorIs(t, err, core.ErrRateLimited)
		assert.Contains(t, core.ErrorMessage(err), "try again in 2m0s")
		assert.Equal(t, 1, f.srv.TokenRequests())
	})
	t.Run("5xx backs off", func(t *testing.T) {
		f := newFixture(t, nil)
		f.srv.FailToken(1000, http.StatusBadGateway, "")
		_, err := f.c.GetTicketOnly(t.Context(), ticket.Ref)
		require.ErrorIs(t, err, core.ErrUnavailable)
		assert.Equal(t, 3, f.srv.TokenRequests(), "MaxAttempts")
		assert.Len(t, f.sleep.d, 2)
		assert.Equal(t, 0, f.srv.Requests(), "no API call without a token")
	})
	t.Run("wrong secret", func(t *testing.T) {
		f := newFixture(t, func(c *halo.Config) { c.ClientSecret = "not-the-secret-at-all" })
		_, err := f.c.GetTicketOnly(t.Context(), ticket.Ref)
		require.ErrorIs(t, err, core.ErrUnauthorized)
		msg := core.ErrorMessage(err)
		assert.Contains(t, msg, "refused the client id and secret")
		assert.Contains(t, msg, halotest.DefaultTenant, "names the tenant it tried")
		assert.NotContains(t, err.Error(), "not-the-secret-at-all")
		assert.Equal(t, 1, f.srv.TokenRequests(), "not retried")
	})
	t.Run("context cancelled while waiting", func(t *testing.T) {
		f := newFixture(t, nil)
		f.srv.FailToken(1000, http.StatusServiceUnavailable, "")
		c, err := halo.New(f.srv.Config(), f.srv.Deps(psa.Deps{Retry: psa.RetryPolicy{MaxAttempts: 5, BaseDelay: time.Hour, MaxDelay: time.Hour}}))
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err = c.GetTicketOnly(ctx, ticket.Ref)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

func TestTenantDiscovery(t *testing.T) {
	t.Run("authinfo", func(t *testing.T) {
		f := newFixture(t, nil)
		assert.Nil(t, f.c.LearnedSettings(), "nothing learned before a call")
		_, err := f.c.GetTicketOnly(t.Context(), ticket.Ref)
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"auth_url": f.srv.URL() + "/auth", "tenant": halotest.DefaultTenant}, f.c.LearnedSettings())
		log := f.srv.Log()
		require.GreaterOrEqual(t, len(log), 2)
		assert.Equal(t, "GET /AuthInfo", log[0].Route)
		assert.Equal(t, "POST /auth/token", log[1].Route)
		assert.Equal(t, "tenant="+halotest.DefaultTenant, log[1].Query)
	})
	t.Run("stored settings skip authinfo", func(t *testing.T) {
		f := newFixture(t, func(c *halo.Config) {
			c.AuthURL, c.Tenant = "https://"+halotest.DefaultHost+"/auth", halotest.DefaultTenant
		})
		_, err := f.c.GetTicketOnly(t.Context(), ticket.Ref)
		require.NoError(t, err)
		assert.Equal(t, []string{"POST /auth/token OK", "GET /api/Tickets/{id} OK"}, f.calls.take())
		assert.Nil(t, f.c.LearnedSettings(), "nothing new")
	})
	t.Run("no authinfo: the instance's /auth and the configured tenant", func(t *testing.T) {
		f := newFixture(t, func(c *halo.Config) { c.Tenant = halotest.DefaultTenant })
		f.srv.NoAuthInfo(true)
		_, err := f.c.GetTicketOnly(t.Context(), ticket.Ref)
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"auth_url": f.srv.URL() + "/auth"}, f.c.LearnedSettings())
	})
	t.Run("self-hosted sends no tenant", func(t *testing.T) {
		f := newFixture(t, nil, halotest.WithTenant(""), halotest.WithHost("halo.msp.example"))
		_, err := f.c.GetTicketOnly(t.Context(), ticket.Ref)
		require.NoError(t, err)
		for _, r := range f.srv.Log() {
			if r.Route == "POST /auth/token" {
				assert.Empty(t, r.Query)
			}
		}
	})
	t.Run("wrong tenant", func(t *testing.T) {
		f := newFixture(t, func(c *halo.Config) { c.Tenant = "someoneelse" })
		_, err := f.c.GetTicketOnly(t.Context(), ticket.Ref)
		require.ErrorIs(t, err, core.ErrUnauthorized)
		assert.Contains(t, core.ErrorMessage(err), "someoneelse")
	})
}

func TestFindUsersExactMatch(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct {
		name string
		s    psa.ContactSearch
		want []string
	}{
		// Halo's search is a like match: "alice@acme-dental.example" is
		// inside "xalice@acme-dental.example" too.
		{"email, like-match ruled out", psa.ContactSearch{Email: "ALICE@acme-dental.example"}, []string{alice.Ref}},
		{"email2", psa.ContactSearch{Email: "a.smith@home.example"}, []string{alice.Ref}},
		{"email3", psa.ContactSearch{Email: "alice.s@acme-dental.example"}, []string{alice.Ref}},
		{"mobile", psa.ContactSearch{Phone: "+15550100142"}, []string{alice.Ref}},
		{"mobile 2", psa.ContactSearch{Phone: "+15550100143"}, []string{alice.Ref}},
		{"same last digits, other number", psa.ContactSearch{Phone: "+15550101142"}, []string{alix.Ref}},
		{"name is not a prefix", psa.ContactSearch{Name: "Smith"}, []string{alice.Ref}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.c.FindContacts(t.Context(), acme.Ref, tc.s)
			require.NoError(t, err)
			var refs []string
			for _, c := range got {
				refs = append(refs, c.Ref)
			}
			assert.Equal(t, tc.want, refs)
		})
	}
	for _, r := range f.srv.Log() {
		if r.Route == "GET /Users" && strings.Contains(r.Query, "search_phonenumbers") {
			assert.Regexp(t, `search=[0-9]{4}&`, r.Query, "phones are searched by their last digits")
		}
	}
	got, err := f.c.GetContact(t.Context(), alice.Ref)
	require.NoError(t, err)
	require.NotEmpty(t, got.Phones)
	assert.Equal(t, "(555) 010-0142", got.Phones[0].Number, "the mobile first: it is the one to text")
	assert.True(t, got.Phones[0].Default)
}

func TestNotesAsHiddenActions(t *testing.T) {
	f := newFixture(t, nil)
	require.NoError(t, f.c.AddTicketNote(t.Context(), ticket.Ref, psa.Note{Text: "Countersign: verified (ver_1)"}))
	acts := f.srv.Actions(ticket.Ref)
	require.Len(t, acts, 1)
	a := acts[0]
	assert.Equal(t, 7, a.OutcomeID, "the default outcome")
	require.NotNil(t, a.HiddenFromUser)
	assert.True(t, *a.HiddenFromUser, "hidden from the end user")
	require.NotNil(t, a.SendEmail)
	assert.False(t, *a.SendEmail, "no e-mail to the end user")
	assert.Nil(t, a.NewStatus)
	assert.Equal(t, []string{"hiddenfromuser", "note", "outcome_id", "sendemail", "ticket_id"}, a.Keys, "nothing else sent: no status change")
	assert.Equal(t, 1, f.srv.TicketStatus(ticket.Ref), "status untouched")

	for name, outcome := range map[string]string{"by id": "32", "by name": "countersign verification"} {
		g := newFixture(t, func(c *halo.Config) { c.NoteOutcome = outcome })
		g.srv.PostArrays(name == "by name") // either answer shape is fine
		require.NoError(t, g.c.AddTicketNote(t.Context(), ticket.Ref, psa.Note{Text: "n"}), name)
		acts := g.srv.Actions(ticket.Ref)
		require.Len(t, acts, 1)
		assert.Equal(t, 32, acts[0].OutcomeID, name)
	}

	d := newFixture(t, nil)
	d.srv.DenyOutcome(7)
	err := d.c.AddTicketNote(t.Context(), ticket.Ref, psa.Note{Text: "n"})
	require.ErrorIs(t, err, core.ErrInvalid, "the setup's outcome is refused: permanent")
	assert.Contains(t, core.ErrorMessage(err), "do not have access to this Action")
}

func TestCreateUserUnderMainSite(t *testing.T) {
	for _, arrays := range []bool{false, true} {
		f := newFixture(t, nil)
		f.srv.PostArrays(arrays)
		got, err := f.c.CreateContact(t.Context(), psa.Contact{CompanyRef: acme.Ref, FirstName: "Dana", LastName: "New",
			Emails: []psa.Email{{Address: "dana@acme-dental.example"}}, Phones: []psa.Phone{{Number: "+15550100155"}}})
		require.NoError(t, err, "post answers as arrays: %v", arrays)
		assert.NotEmpty(t, got.Ref)
		assert.Equal(t, acme.Ref, got.CompanyRef)
		require.Len(t, got.Phones, 1)
		assert.Equal(t, "Mobile", got.Phones[0].Label, "an unlabelled number goes to mobilenumber")
		sites, err := f.c.Sites(t.Context(), acme.Ref)
		require.NoError(t, err)
		require.Len(t, sites, 1)
	}
	f := newFixture(t, nil)
	_, err := f.c.CreateContact(t.Context(), psa.Contact{FirstName: "Nobody"})
	require.ErrorIs(t, err, core.ErrInvalid)
}

func TestAgentsBareArray(t *testing.T) {
	f := newFixture(t, nil)
	f.srv.AddAgent(psa.Member{Ref: "42", Name: "Jamie Tech", Email: "jamie@msp.example"}, false)
	f.srv.AddAgent(psa.Member{Ref: "43", Name: "Gone Tech", Email: "gone@msp.example"}, true)
	got, err := f.c.Agents(t.Context(), "")
	require.NoError(t, err)
	var names []string
	for _, m := range got {
		names = append(names, m.Name)
	}
	assert.ElementsMatch(t, []string{"Countersign API", "Jamie Tech"}, names, "disabled agents left out")
	out, err := f.c.Outcomes(t.Context())
	require.NoError(t, err)
	assert.Contains(t, out, halo.Outcome{ID: 7, Name: "Private Note"})

	ch, err := f.c.Choices(t.Context(), "note_outcome")
	require.NoError(t, err)
	assert.Contains(t, ch.Options, psa.Choice{Value: "7", Label: "Private Note (7)"})
	assert.Equal(t, "7", ch.Suggested, "the one private note type")
	_, err = f.c.Choices(t.Context(), "client_secret")
	assert.ErrorIs(t, err, core.ErrInvalid)
}

func TestCheck(t *testing.T) {
	f := newFixture(t, nil)
	require.NoError(t, f.c.Check(t.Context()))
	f.srv.Forbid("GET /Users")
	err := newFixture(t, nil).c.Check(t.Context())
	require.NoError(t, err)
	g := newFixture(t, nil)
	g.srv.Forbid("GET /Users")
	err = g.c.Check(t.Context())
	require.ErrorIs(t, err, core.ErrForbidden)
	assert.Contains(t, core.ErrorMessage(err), "reading users")
}

func TestConfigValidate(t *testing.T) {
	ok := halo.Config{InstanceURL: "https://acme.halopsa.com/", ClientID: "id", ClientSecret: "s3cret"}
	require.NoError(t, ok.Validate())
	for name, tc := range map[string]func(*halo.Config){
		"http":            func(c *halo.Config) { c.InstanceURL = "http://acme.halopsa.com" },
		"no url":          func(c *halo.Config) { c.InstanceURL = "" },
		"no secret":       func(c *halo.Config) { c.ClientSecret = "" },
		"bad tenant":      func(c *halo.Config) { c.Tenant = "a&b" },
		"webhook half":    func(c *halo.Config) { c.WebhookUser = "u" },
		"auth url http":   func(c *halo.Config) { c.AuthURL = "http://x/auth" },
		"region":          func(c *halo.Config) { c.PhoneRegion = "USA" },
		"tab variable ws": func(c *halo.Config) { c.TabVariable = "a b" },
	} {
		c := ok
		tc(&c)
		err := c.Validate()
		assert.ErrorIs(t, err, core.ErrInvalid, name)
	}
	assert.NotContains(t, ok.String(), "s3cret")
	assert.NotContains(t, ok.GoString(), "s3cret")
}
