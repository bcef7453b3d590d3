package kaseya_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/kaseya"
	"github.com/countersign/countersign/kaseya/kaseyatest"
)

var (
	acme  = psa.Company{Ref: "501", Name: "Acme Dental"}
	alice = psa.Contact{Ref: "601", CompanyRef: "501", FirstName: "Alice", LastName: "Smith",
		Emails: []psa.Email{{Address: "Alice@Acme-Dental.example", Default: true}},
		Phones: []psa.Phone{{Number: "(555) 010-0142", Label: "Mobile", Default: true}}}
	ticket = psa.Ticket{Ref: "701", Number: "T20250101.0007", Summary: "Password reset", CompanyRef: "501", ContactRef: "601", Status: "New"}
)

// clock is a settable clock shared by the client and the fake.
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

// counter counts calls by op.
type counter struct {
	mu  sync.Mutex
	ops []string
}

func (c *counter) CountCall(op string, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ops = append(c.ops, op)
}

func (c *counter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.ops
	c.ops = nil
	return out
}

func setup(t *testing.T) (*kaseyatest.Server, *kaseya.Client, *clock, *counter) {
	t.Helper()
	srv := kaseyatest.NewServer(t)
	srv.Seed([]psa.Company{acme}, []psa.Contact{alice}, []psa.Ticket{ticket})
	srv.SetMember(psa.Member{Ref: "77", Name: "Countersign Integration", Email: "countersign@acme-msp.example"})
	clk := &clock{t: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)}
	srv.SetClock(clk.Now)
	calls := &counter{}
	c := srv.NewClient(t, psa.Deps{Now: clk.Now, Calls: calls, Retry: psa.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond}})
	return srv, c, clk, calls
}

func TestFindTicketByNumberAndNoteBudget(t *testing.T) {
	srv, c, _, calls := setup(t)
	ctx := t.Context()

	// Cold: sign in, find the ticket, read its contact, write the note.
	got, err := c.FindTicketByNumber(ctx, "t20250101.0007")
	require.NoError(t, err)
	assert.Equal(t, "701", got.Ref)
	assert.Equal(t, "T20250101.0007", got.Number)
	require.NotNil(t, got.Contact)
	assert.Equal(t, "Alice", got.Contact.FirstName)
	require.NoError(t, c.AddTicketNote(ctx, got.Ref, psa.Note{Text: "Verified by SMS code (ref v1)"}))
	cold := calls.take()
	assert.Equal(t, []string{
		"POST /v2/security/authenticate", "GET /v2/servicedesk/tickets", "GET /v2/crm/contacts/summary/{id}",
		"POST /v2/servicedesk/tickets/{ticketId}/notes",
	}, cold, "cold: at most 4 calls")

	// Warm: the token and the contact are held.
	got, err = c.FindTicketByNumber(ctx, "T20250101.0007")
	require.NoError(t, err)
	require.NoError(t, c.AddTicketNote(ctx, got.Ref, psa.Note{Text: "Verified by SMS code (ref v2)"}))
	assert.Len(t, calls.take(), 2, "warm: at most 2 calls")

	_, err = c.FindTicketByNumber(ctx, "T20250101.000")
	assert.ErrorIs(t, err, core.ErrNotFound, "a part of a number is not the ticket")

	notes := srv.NoteRecords("701")
	require.Len(t, notes, 2)
	for _, n := range notes {
		assert.True(t, n.IsInternal, "verification notes are internal")
		assert.Equal(t, 1, n.TypeID)
		assert.Empty(t, n.Extra, "no status change, no e-mail notification")
		_, err := time.Parse(time.RFC3339, n.NoteDate)
		assert.NoError(t, err, "NoteDate %q", n.NoteDate)
	}
	assert.Empty(t, srv.ExtraHeaders(), "BMS takes no custom headers: the tenant is in the token")
}

func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	srv, c, clk, _ := setup(t)
	srv.SetTokenTTL(30 * time.Minute)
	_, err := c.GetContact(t.Context(), "601")
	require.NoError(t, err)
	clk.Add(29 * time.Minute) // within refreshAhead of the expiry
	_, err = c.GetTicketOnly(t.Context(), "701")
	require.NoError(t, err)
	signIns, _ := srv.SignIns()
	assert.Equal(t, 1, signIns, "a refresh, not a new sign-in")
	assert.Equal(t, 1, srv.Refreshes())
}

func TestRevokedTokenRefreshesOnceMidFlow(t *testing.T) {
	srv, c, _, calls := setup(t)
	_, err := c.GetTicketOnly(t.Context(), "701")
	require.NoError(t, err)
	calls.take()
	srv.ExpireTokens() // BMS drops the token mid-flow
	require.NoError(t, c.AddTicketNote(t.Context(), "701", psa.Note{Text: "after a revoked token"}))
	assert.Equal(t, []string{
		"POST /v2/servicedesk/tickets/{ticketId}/notes", // 401: the token is gone
		"POST /v2/security/refreshtoken",
		"POST /v2/servicedesk/tickets/{ticketId}/notes",
	}, calls.take())
	assert.Len(t, srv.Notes("701"), 1, "the note is written once")

	// A token refused again right after a refresh is not chased forever.
	srv.ExpireTokens()
	srv.SetTokenTTL(-time.Minute) // every new token is dead on arrival
	_, err = c.GetTicketOnly(t.Context(), "701")
	require.Error(t, err)
	assert.ErrorIs(t, err, core.ErrUnauthorized)
	assert.LessOrEqual(t, len(calls.take()), 4, "one refresh and no more")
}

func TestOneSignInAtATime(t *testing.T) {
	srv, c, _, _ := setup(t)
	release := srv.HoldSignIns()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.GetTicketOnly(t.Context(), "701")
			errs <- err
		}()
	}
	// Let the goroutines pile up behind the held sign-in.
	require.Eventually(t, func() bool { n, _ := srv.SignIns(); return n >= 1 }, 5*time.Second, time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	release()
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	total, most := srv.SignIns()
	assert.Equal(t, 1, total, "twenty callers, one sign-in")
	assert.Equal(t, 1, most)
}

func TestSignInRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*kaseya.Config, *kaseyatest.Server)
		want   string
	}{
		{"wrong password", func(c *kaseya.Config, _ *kaseyatest.Server) { c.Password = "hunter2-wrong" }, "Invalid username or password"},
		{"wrong tenant", func(c *kaseya.Config, _ *kaseyatest.Server) { c.Tenant = "OtherMSP" }, "check the user name, password, tenant"},
		{"MFA without a secret", func(_ *kaseya.Config, s *kaseyatest.Server) { s.RequireMFA("JBSWY3DPEHPK3PXP") }, "MFA code is required"},
		{"wrong TOTP secret", func(c *kaseya.Config, s *kaseyatest.Server) {
			s.RequireMFA("JBSWY3DPEHPK3PXP")
			c.TOTPSecret = "KRSXG5CTMVRXEZLU"
		}, "Invalid MFA code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := kaseyatest.NewServer(t)
			srv.Seed([]psa.Company{acme}, []psa.Contact{alice}, []psa.Ticket{ticket})
			cfg := srv.Config()
			tc.mutate(&cfg, srv)
			c, err := kaseya.New(cfg, psa.Deps{HTTPClient: srv.HTTPClient()})
			require.NoError(t, err)
			_, err = c.GetContact(t.Context(), "601")
			require.Error(t, err)
			assert.ErrorIs(t, err, core.ErrUnauthorized, "a refused sign-in is a misconfiguration: %v", err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), cfg.Password)
			signIns, _ := srv.SignIns()
			assert.Equal(t, 1, signIns, "a refused sign-in is not retried")
		})
	}

	t.Run("right TOTP secret", func(t *testing.T) {
		srv := kaseyatest.NewServer(t)
		srv.Seed([]psa.Company{acme}, []psa.Contact{alice}, nil)
		srv.RequireMFA("JBSWY3DPEHPK3PXP")
		c := srv.NewClient(t, psa.Deps{})
		_, err := c.GetContact(t.Context(), "601")
		require.NoError(t, err)
		code, _ := totp.GenerateCode("JBSWY3DPEHPK3PXP", time.Now())
		assert.Len(t, code, 6)
	})
}

func TestSuccessFalseIsAnError(t *testing.T) {
	_, c, _, _ := setup(t)
	err := c.AddTicketNote(t.Context(), "799", psa.Note{Text: "to a ticket BMS does not have"})
	require.Error(t, err)
	assert.ErrorIs(t, err, core.ErrNotFound, "HTTP 200 with success:false and code 404: %v", err)

	_, err = c.CreateContact(t.Context(), psa.Contact{CompanyRef: "999", FirstName: "No", LastName: "Account"})
	require.Error(t, err)
	assert.ErrorIs(t, err, core.ErrInvalid, "%v", err)
}

func TestBothSpellingsAndShapesDecode(t *testing.T) {
	srv, c, _, _ := setup(t)
	_, err := c.GetTicketOnly(t.Context(), "701") // sign in first
	require.NoError(t, err)

	srv.PascalCaseNext()
	got, err := c.GetTicketOnly(t.Context(), "701")
	require.NoError(t, err, "the vendor document's PascalCase")
	assert.Equal(t, "T20250101.0007", got.Number)
	assert.Equal(t, "601", got.ContactRef)

	srv.WrapBareAnswers(true)
	ct, err := c.GetContact(t.Context(), "601")
	require.NoError(t, err, "a summary GET wrapped in the envelope")
	assert.Equal(t, "Smith", ct.LastName)
	assert.Equal(t, "(555) 010-0142", ct.Phones[0].Number, "phones come as BMS stores them")
}

func TestFindByPhoneMatchesTheNationalNumber(t *testing.T) {
	_, c, _, _ := setup(t)
	got, err := c.FindContacts(t.Context(), "", psa.ContactSearch{Phone: "+15550100142"})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "601", got[0].Ref)
	got, err = c.FindContacts(t.Context(), "", psa.ContactSearch{Phone: "+15550100"})
	require.NoError(t, err)
	assert.Empty(t, got, "a number that only contains part of hers is not hers")
}

func TestConfig(t *testing.T) {
	ok := kaseya.Config{GatewayURL: "https://bmsemea.kaseya.com/", Tenant: "Acme", Username: "u", Password: "p"}
	c, err := kaseya.New(ok, psa.Deps{})
	require.NoError(t, err)
	assert.Equal(t, "https://api.bmsemea.kaseya.com", c.BaseURL())

	for _, tc := range []struct {
		name   string
		mutate func(*kaseya.Config)
		want   string
	}{
		{"no gateway", func(c *kaseya.Config) { c.GatewayURL = "" }, "gateway URL is required"},
		{"plain http", func(c *kaseya.Config) { c.GatewayURL = "http://bms.kaseya.com" }, "must be https"},
		{"unknown region", func(c *kaseya.Config) { c.GatewayURL = "https://evil.example" }, "not a Kaseya BMS region"},
		{"API URL with a path", func(c *kaseya.Config) { c.APIURL = "https://api.bms.kaseya.com/v2" }, "no path"},
		{"no tenant", func(c *kaseya.Config) { c.Tenant = " " }, "tenant is required"},
		{"no password", func(c *kaseya.Config) { c.Password = "" }, "password are required"},
		{"bad TOTP secret", func(c *kaseya.Config) { c.TOTPSecret = "not base32!" }, "not base32"},
		{"bad note type", func(c *kaseya.Config) { c.NoteTypeID = "internal" }, "positive number"},
		{"bad region", func(c *kaseya.Config) { c.PhoneRegion = "usa" }, "two-letter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.mutate(&cfg)
			_, err := kaseya.New(cfg, psa.Deps{})
			require.Error(t, err)
			assert.ErrorIs(t, err, core.ErrInvalid)
			assert.Contains(t, err.Error(), tc.want)
		})
	}

	secret := kaseya.Config{GatewayURL: "bms.kaseya.com", Tenant: "Acme", Username: "u", Password: "s3cret-pass", TOTPSecret: "JBSWY3DPEHPK3PXP"}
	for _, s := range []string{secret.String(), fmt.Sprint(secret), fmt.Sprintf("%v", secret)} {
		assert.NotContains(t, s, "s3cret-pass")
		assert.NotContains(t, s, "JBSWY3DPEHPK3PXP")
	}
	c, err = kaseya.New(secret, psa.Deps{})
	require.NoError(t, err, "a gateway host without a scheme is accepted")
	assert.Equal(t, "https://api.bms.kaseya.com", c.BaseURL())
}

func TestDescriptorDecodesStrictly(t *testing.T) {
	d := kaseya.Descriptor()
	assert.Equal(t, kaseya.ID, d.ID)
	_, err := d.New([]byte(`{"gateway_url":"https://bms.kaseya.com","tenant":"A","username":"u","password":"p","pasword":"typo"}`), psa.Deps{})
	require.Error(t, err)
	assert.ErrorIs(t, err, core.ErrInvalid)
	c, err := d.New([]byte(`{"gateway_url":"https://bms.kaseya.com","tenant":"A","username":"u","password":"p"}`), psa.Deps{})
	require.NoError(t, err)
	_, isCloser := c.(interface{ Close() error })
	assert.False(t, isCloser)
	_ = context.Background
	_ = strings.TrimSpace
}

func TestOwnBudgetPerEndpoint(t *testing.T) {
	srv := kaseyatest.NewServer(t)
	srv.Seed([]psa.Company{acme}, []psa.Contact{alice}, []psa.Ticket{ticket})
	cfg := srv.Config()
	cfg.CallsPerHour = "3"
	c, err := kaseya.New(cfg, psa.Deps{HTTPClient: srv.HTTPClient()})
	require.NoError(t, err)
	for i := range 3 {
		_, err := c.GetTicketOnly(t.Context(), "701")
		require.NoError(t, err, "call %d", i+1)
	}
	before := srv.Requests()
	_, err = c.GetTicketOnly(t.Context(), "701")
	require.Error(t, err)
	assert.ErrorIs(t, err, core.ErrRateLimited, "%v", err)
	assert.Equal(t, before, srv.Requests(), "refused before it reached BMS")
	_, err = c.GetContact(t.Context(), "601")
	assert.NoError(t, err, "another endpoint has a budget of its own")

	cfg.CallsPerHour = "lots"
	_, err = kaseya.New(cfg, psa.Deps{})
	assert.ErrorIs(t, err, core.ErrInvalid)
}

func TestContactTicketsAndLink(t *testing.T) {
	srv := kaseyatest.NewServer(t)
	done := psa.Ticket{Ref: "702", Number: "T20250101.0008", Summary: "Old", CompanyRef: "501", ContactRef: "601", Status: "Completed"}
	other := psa.Ticket{Ref: "703", Number: "T20250101.0009", Summary: "Not hers", CompanyRef: "501", Status: "New"}
	srv.Seed([]psa.Company{acme}, []psa.Contact{alice}, []psa.Ticket{ticket, done, other})
	cfg := srv.Config()
	cfg.TicketURL = "https://bms.kaseya.com/#/servicedesk/tickets/{id}"
	c, err := kaseya.New(cfg, psa.Deps{HTTPClient: srv.HTTPClient()})
	require.NoError(t, err)
	got, err := c.ContactTickets(t.Context(), alice, 10)
	require.NoError(t, err)
	require.Len(t, got, 1, "open tickets of hers only")
	assert.Equal(t, "T20250101.0007", got[0].Number)
	assert.Equal(t, "https://bms.kaseya.com/#/servicedesk/tickets/701", c.TicketURL(got[0]))

	cfg.TicketURL = "http://bms.kaseya.com/{id}"
	_, err = kaseya.New(cfg, psa.Deps{})
	assert.ErrorIs(t, err, core.ErrInvalid)
}

func TestNoteTypeChoices(t *testing.T) {
	_, c, _, _ := setup(t)
	ch, err := c.Choices(t.Context(), "note_type_id")
	require.NoError(t, err)
	assert.Equal(t, []psa.Choice{
		{Value: "3", Label: "Note type 3 (templates: Caller verified, Internal remark)"},
		{Value: "5", Label: "Note type 5 (templates: Customer update)"},
	}, ch.Options)
	assert.Empty(t, ch.Suggested, "no guess between two")
	_, err = c.Choices(t.Context(), "password")
	assert.ErrorIs(t, err, core.ErrInvalid)
}
