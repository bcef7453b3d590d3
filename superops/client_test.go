package superops_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/superops"
	"github.com/countersign/countersign/superops/superopstest"
)

// Ids as long as live tenants have them: a float64 would lose digits.
var (
	globex = psa.Company{Ref: "7928838372746166276", Name: "Globex Corporation"}
	ryan   = psa.Contact{Ref: "7928838372746166301", CompanyRef: globex.Ref, FirstName: "Ryan", LastName: "Howard",
		Emails: []psa.Email{{Address: "Ryan.Howard@Globex.example", Default: true}},
		Phones: []psa.Phone{{Number: "(641) 234-9876", Label: "Mobile"}, {Number: "+1 641 555 0100", Label: "Work"}}}
	pam = psa.Contact{Ref: "7928838372746166302", CompanyRef: globex.Ref, FirstName: "Pam", LastName: "Beesly",
		Emails: []psa.Email{{Address: "pam@globex.example", Default: true}},
		Phones: []psa.Phone{{Number: "+1 641 555 0111", Label: "Work"}}}
	ticket = psa.Ticket{Ref: "7928838372746166987", Number: "062822-0005", Summary: "VPN down", CompanyRef: globex.Ref, ContactRef: ryan.Ref, Status: "Open"}
)

type counter struct {
	mu  sync.Mutex
	ops []string
}

func (c *counter) CountCall(op string, _ int) { c.mu.Lock(); c.ops = append(c.ops, op); c.mu.Unlock() }
func (c *counter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.ops
	c.ops = nil
	return out
}

func setup(t *testing.T) (*superopstest.Server, *superops.Client, *counter) {
	t.Helper()
	srv := superopstest.NewServer(t)
	srv.Seed([]psa.Company{globex}, []psa.Contact{ryan, pam}, []psa.Ticket{ticket})
	calls := &counter{}
	return srv, srv.NewClient(t, psa.Deps{Calls: calls}), calls
}

func TestTicketByDisplayIDAndNoteBudget(t *testing.T) {
	srv, c, calls := setup(t)
	got, err := c.FindTicketByNumber(t.Context(), "062822-0005")
	require.NoError(t, err)
	assert.Equal(t, ticket.Ref, got.Ref, "the internal id, all 19 digits")
	assert.Equal(t, "062822-0005", got.Number)
	assert.Equal(t, globex.Ref, got.CompanyRef)
	require.NotNil(t, got.Contact)
	assert.Equal(t, ryan.Ref, got.Contact.Ref)
	require.NoError(t, c.AddTicketNote(t.Context(), got.Ref, psa.Note{Text: "Verified <by> SMS code\nref v1"}))
	assert.Equal(t, []string{"query getTicketList", "query getClientUser", "mutation createTicketNote"}, calls.take(), "cold: at most 4 calls")

	got, err = c.FindTicketByNumber(t.Context(), "062822-0005")
	require.NoError(t, err)
	require.NoError(t, c.AddTicketNote(t.Context(), got.Ref, psa.Note{Text: "ref v2"}))
	assert.Len(t, calls.take(), 2, "warm: at most 2 calls")

	notes := srv.NoteRecords(ticket.Ref)
	require.Len(t, notes, 2)
	assert.Equal(t, "PRIVATE", notes[0].PrivacyType, "sent explicitly")
	assert.Equal(t, "<p>Verified &lt;by&gt; SMS code<br>ref v1</p>", notes[0].Content, "text is escaped into the HTML content")
	assert.Empty(t, notes[0].AddedBy, "the token's user is the author")

	_, err = c.FindTicketByNumber(t.Context(), "062822-000")
	assert.ErrorIs(t, err, core.ErrNotFound)
	_, err = c.GetTicket(t.Context(), "062822-0005")
	assert.ErrorIs(t, err, core.ErrInvalid, "a display id is not a ticket id")
}

func TestMobileFieldIsAPhoneWithItsProvenance(t *testing.T) {
	_, c, _ := setup(t)
	got, err := c.GetContact(t.Context(), ryan.Ref)
	require.NoError(t, err)
	require.Len(t, got.Phones, 2)
	assert.Equal(t, psa.Phone{Number: "(641) 234-9876", Label: "Mobile (custom field udf7text)", Default: true}, got.Phones[0])
	assert.Equal(t, "Contact number", got.Phones[1].Label)
	assert.False(t, got.Phones[1].Default)

	found, err := c.FindContacts(t.Context(), "", psa.ContactSearch{Phone: "+16412349876"})
	require.NoError(t, err)
	require.Len(t, found, 1, "found by the mobile field")
	assert.Equal(t, ryan.Ref, found[0].Ref)

	// A requester with no mobile: the contact number is the default.
	p, err := c.GetContact(t.Context(), pam.Ref)
	require.NoError(t, err)
	require.Len(t, p.Phones, 1)
	assert.Equal(t, "Contact number", p.Phones[0].Label)
	assert.True(t, p.Phones[0].Default)
}

func TestDiscoverMobileField(t *testing.T) {
	t.Run("one match", func(t *testing.T) {
		_, c, _ := setup(t)
		d, err := c.DiscoverMobileField(t.Context())
		require.NoError(t, err)
		assert.Equal(t, superopstest.MobileColumn, d.Column)
		assert.Equal(t, []superops.FieldCandidate{{Column: "udf7text", Label: "Mobile Phone"}}, d.Candidates)
	})
	t.Run("several: the admin picks", func(t *testing.T) {
		srv, c, _ := setup(t)
		srv.SetRequesterFields(map[string]string{" CELL ": "udf3text", "Mobile number": "udf7text", "Mobile phone number": "udf8text"})
		d, err := c.DiscoverMobileField(t.Context())
		require.NoError(t, err)
		assert.Empty(t, d.Column, "no guess among several")
		assert.ElementsMatch(t, []superops.FieldCandidate{{Column: "udf3text", Label: "CELL"}, {Column: "udf7text", Label: "Mobile number"}}, d.Candidates,
			"whole labels only: 'Mobile phone number' is not one")
		assert.Contains(t, d.SampleKeys, "udf7text")
	})
	t.Run("none: sample keys to type one by hand", func(t *testing.T) {
		srv, c, _ := setup(t)
		srv.SetRequesterFields(map[string]string{"Employee number": "udf9text"})
		d, err := c.DiscoverMobileField(t.Context())
		require.NoError(t, err)
		assert.Empty(t, d.Column)
		assert.Empty(t, d.Candidates)
		assert.Equal(t, []string{"udf7text"}, d.SampleKeys)
	})
	t.Run("field list unavailable", func(t *testing.T) {
		srv, c, _ := setup(t)
		srv.FieldsUnavailable(true)
		d, err := c.DiscoverMobileField(t.Context())
		require.NoError(t, err)
		assert.True(t, d.Unavailable)
		assert.Equal(t, []string{"udf7text"}, d.SampleKeys)
	})
	t.Run("renamed field: the stored column vanishes and discovery finds the new one", func(t *testing.T) {
		srv, c, _ := setup(t)
		present, err := c.MobileFieldPresent(t.Context())
		require.NoError(t, err)
		assert.True(t, present)

		// The admin deleted the field and made a new one: values move to
		// another column.
		srv.SetRequesterCustom(ryan.Ref, "udf7text", nil)
		srv.SetRequesterCustom(ryan.Ref, "udf12text", "(641) 234-9876")
		srv.SetRequesterFields(map[string]string{"Mobile": "udf12text"})
		present, err = c.MobileFieldPresent(t.Context())
		require.NoError(t, err)
		assert.False(t, present)
		d, err := c.DiscoverMobileField(t.Context())
		require.NoError(t, err)
		assert.Equal(t, "udf12text", d.Column)

		got, err := c.GetContact(t.Context(), pam.Ref)
		require.NoError(t, err)
		assert.Len(t, got.Phones, 1, "the old column reads nothing, and nothing breaks")
	})
}

func TestGraphQLErrorsInA200(t *testing.T) {
	for _, tc := range []struct {
		code string
		kind error
		want string
	}{
		{"entity_does_not_exist", core.ErrNotFound, "has no"},
		{"forbidden", core.ErrForbidden, "may not do this"},
		{"rate_limit_exceeded", core.ErrRateLimited, "rate limit"},
		{"subscription_paused", core.ErrForbidden, "subscription is paused"},
		{"mandatory_validation_failed", core.ErrInvalid, "mandatory_validation_failed"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			srv, c, _ := setup(t)
			srv.ClientErrorNext(tc.code)
			_, err := c.GetContact(t.Context(), ryan.Ref)
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.kind, "%v", err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	t.Run("a note to a ticket that does not exist", func(t *testing.T) {
		srv, c, _ := setup(t)
		err := c.AddTicketNote(t.Context(), "7928838372746169999", psa.Note{Text: "x"})
		assert.ErrorIs(t, err, core.ErrNotFound)
		assert.Empty(t, srv.Notes("7928838372746169999"))
	})
}

func TestMisconfigured(t *testing.T) {
	srv := superopstest.NewServer(t)
	for _, tc := range []struct {
		name   string
		mutate func(*superops.Config)
		want   string
	}{
		{"revoked token", func(c *superops.Config) { c.APIToken = "an-old-token" }, "refused the API token"},
		{"wrong subdomain", func(c *superops.Config) { c.Subdomain = "othermsp" }, `does not know the subdomain "othermsp"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := srv.Config()
			tc.mutate(&cfg)
			c, err := superops.New(cfg, psa.Deps{HTTPClient: srv.HTTPClient()})
			require.NoError(t, err)
			err = c.Check(t.Context())
			require.Error(t, err)
			assert.ErrorIs(t, err, core.ErrUnauthorized)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), cfg.APIToken)
		})
	}
}

func TestConfig(t *testing.T) {
	ok := superops.Config{Subdomain: "AcmeMSP", APIToken: "tok"}
	_, err := superops.New(ok, psa.Deps{})
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		mutate func(*superops.Config)
		want   string
	}{
		{"no subdomain", func(c *superops.Config) { c.Subdomain = "" }, "subdomain is required"},
		{"a URL as subdomain", func(c *superops.Config) { c.Subdomain = "https://acme.superops.ai" }, "not a SuperOps subdomain"},
		{"no token", func(c *superops.Config) { c.APIToken = "" }, "API token is required"},
		{"region", func(c *superops.Config) { c.Region = "apac" }, "us or eu"},
		{"mobile column", func(c *superops.Config) { c.MobileField = "Mobile" }, "not a SuperOps column name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.mutate(&cfg)
			_, err := superops.New(cfg, psa.Deps{})
			require.Error(t, err)
			assert.ErrorIs(t, err, core.ErrInvalid)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	s := superops.Config{Subdomain: "a", APIToken: "very-secret-token"}.String()
	assert.NotContains(t, s, "very-secret-token")

	d := superops.Descriptor()
	_, err = d.New([]byte(`{"subdomain":"a","api_token":"t","mobile":"udf7text"}`), psa.Deps{})
	assert.ErrorIs(t, err, core.ErrInvalid, "unknown settings are refused")
}

func TestEURegion(t *testing.T) {
	srv := superopstest.NewServer(t)
	srv.Seed([]psa.Company{globex}, nil, nil)
	cfg := srv.Config()
	cfg.Region = "eu"
	c, err := superops.New(cfg, psa.Deps{HTTPClient: srv.HTTPClient()})
	require.NoError(t, err)
	require.NoError(t, c.Check(t.Context()), "euapi.superops.ai")
}

func TestOwnBudget(t *testing.T) {
	srv := superopstest.NewServer(t)
	srv.Seed([]psa.Company{globex}, []psa.Contact{ryan}, nil)
	cfg := srv.Config()
	cfg.CallsPerMinute = "2"
	c, err := superops.New(cfg, psa.Deps{HTTPClient: srv.HTTPClient()})
	require.NoError(t, err)
	require.NoError(t, c.Check(t.Context()))
	_, err = c.GetContact(t.Context(), ryan.Ref)
	require.NoError(t, err)
	before := srv.Requests()
	err = c.Check(t.Context())
	require.Error(t, err)
	assert.ErrorIs(t, err, core.ErrRateLimited)
	assert.Equal(t, before, srv.Requests(), "refused before it reached SuperOps")
}

func TestContactTicketsAndLink(t *testing.T) {
	srv := superopstest.NewServer(t)
	closed := psa.Ticket{Ref: "7928838372746166988", Number: "062822-0006", Summary: "Old", CompanyRef: globex.Ref, ContactRef: ryan.Ref, Status: "Closed"}
	pams := psa.Ticket{Ref: "7928838372746166989", Number: "062822-0007", Summary: "Hers", CompanyRef: globex.Ref, ContactRef: pam.Ref, Status: "Open"}
	srv.Seed([]psa.Company{globex}, []psa.Contact{ryan, pam}, []psa.Ticket{ticket, closed, pams})
	cfg := srv.Config()
	cfg.TicketURL = "https://acmemsp.superops.ai/#/tickets/{id}/details"
	c, err := superops.New(cfg, psa.Deps{HTTPClient: srv.HTTPClient()})
	require.NoError(t, err)
	got, err := c.ContactTickets(t.Context(), ryan, 10)
	require.NoError(t, err)
	require.Len(t, got, 1, "open tickets of his only")
	assert.Equal(t, "062822-0005", got[0].Number)
	assert.Equal(t, "https://acmemsp.superops.ai/#/tickets/7928838372746166987/details", c.TicketURL(got[0]))
	none, err := c.ContactTickets(t.Context(), psa.Contact{Ref: "1"}, 10)
	require.NoError(t, err)
	assert.Empty(t, none, "no e-mail, nothing to look by")
}

func TestMobileFieldChoices(t *testing.T) {
	srv, c, _ := setup(t)
	ch, err := c.Choices(t.Context(), "mobile_field")
	require.NoError(t, err)
	assert.Equal(t, "udf7text", ch.Suggested)
	assert.Equal(t, []psa.Choice{{Value: "udf7text", Label: "Mobile Phone (udf7text)"}}, ch.Options)

	srv.SetRequesterFields(map[string]string{"Notes": "udf2text"})
	ch, err = c.Choices(t.Context(), "mobile_field")
	require.NoError(t, err)
	assert.Empty(t, ch.Suggested)
	assert.Equal(t, []psa.Choice{{Value: "udf7text", Label: "udf7text"}}, ch.Options, "the keys requesters have, to pick by hand")
	assert.Contains(t, ch.Hint, "No requester field is labelled")
}
