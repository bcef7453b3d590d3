package microsoft_test

import (
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/microsoft"
	"github.com/countersign/countersign/core/microsoft/microsofttest"
)

func options(s *microsofttest.Server) microsoft.Options {
	return microsoft.Options{HTTPClient: s.HTTPClient(), LoginURL: s.URL(), GraphURL: s.URL(), ConnectorURL: s.URL(),
		GraphResource: "https://graph.microsoft.com", MaxRetryWait: 3 * time.Second}
}

func newClient(t *testing.T, s *microsofttest.Server, mod ...func(*core.MicrosoftConfig, *microsoft.Options)) *microsoft.Client {
	t.Helper()
	cfg, opts := s.Config(), options(s)
	for _, m := range mod {
		m(&cfg, &opts)
	}
	c, err := microsoft.New(cfg, opts)
	require.NoError(t, err)
	return c
}

func msError(t *testing.T, err error) *core.MicrosoftError {
	t.Helper()
	var me *core.MicrosoftError
	require.True(t, errors.As(err, &me), "want a *core.MicrosoftError, got %v", err)
	return me
}

func TestNewValidates(t *testing.T) {
	for _, cfg := range []core.MicrosoftConfig{
		{TenantID: "../evil", ClientID: microsofttest.DefaultClientID, ClientSecret: "x"},
		{TenantID: "contoso.onmicrosoft.com/x", ClientID: microsofttest.DefaultClientID, ClientSecret: "x"},
		{TenantID: microsofttest.DefaultTenantID, ClientID: "not-a-guid", ClientSecret: "x"},
		{TenantID: microsofttest.DefaultTenantID, ClientID: microsofttest.DefaultClientID},
	} {
		_, err := microsoft.New(cfg, microsoft.Options{})
		assert.Equal(t, core.KindInvalid, core.ErrorKind(err), "%+v", cfg)
	}
	_, err := microsoft.New(core.MicrosoftConfig{TenantID: "contoso.onmicrosoft.com", ClientID: microsofttest.DefaultClientID, ClientSecret: "x"}, microsoft.Options{})
	assert.NoError(t, err)
}

func TestTokenErrors(t *testing.T) {
	s := microsofttest.Start(t)
	err := newClient(t, s, func(c *core.MicrosoftConfig, _ *microsoft.Options) { c.ClientSecret = "wrong" }).Check(t.Context())
	me := msError(t, err)
	assert.Equal(t, "AADSTS7000215", me.Code)
	assert.Equal(t, http.StatusUnauthorized, me.HTTPStatus)
	assert.NotContains(t, err.Error(), "wrong", "the secret is not in the error")

	err = newClient(t, s, func(c *core.MicrosoftConfig, _ *microsoft.Options) { c.TenantID = "fabrikam.example" }).Check(t.Context())
	assert.Equal(t, "AADSTS90002", msError(t, err).Code)

	err = newClient(t, s, func(c *core.MicrosoftConfig, _ *microsoft.Options) {
		c.ClientID = "99999999-2222-4333-8444-555555555555"
	}).Check(t.Context())
	assert.Equal(t, "AADSTS700016", msError(t, err).Code)

	// The Graph token's scope is Graph's, not the host we talk to.
	err = newClient(t, s, func(_ *core.MicrosoftConfig, o *microsoft.Options) { o.GraphResource = ""; o.GraphURL = s.URL() }).Check(t.Context())
	require.NoError(t, err, "GraphResource \"\" is graph.microsoft.com")

	require.NoError(t, newClient(t, s).CheckConnector(t.Context()))
	err = newClient(t, s, func(c *core.MicrosoftConfig, _ *microsoft.Options) { c.ConnectorSecret = "nope" }).CheckConnector(t.Context())
	assert.Equal(t, "AADSTS7000215", msError(t, err).Code)
	err = newClient(t, s, func(c *core.MicrosoftConfig, _ *microsoft.Options) { c.ConnectorSecret = "" }).CheckConnector(t.Context())
	assert.Equal(t, core.KindInvalid, core.ErrorKind(err))

	s.MFAClientDisabled = true
	err = newClient(t, s).CheckConnector(t.Context())
	assert.Equal(t, "AADSTS7000112", msError(t, err).Code)
	s.MFAClientDisabled, s.ConnectorDisabled = false, true
	err = newClient(t, s).CheckConnector(t.Context())
	assert.Equal(t, "AADSTS500014", msError(t, err).Code)
}

func seedUsers(s *microsofttest.Server, n int) {
	for i := range n {
		u := microsofttest.User{UPN: "user" + string(rune('a'+i)) + "@contoso.example", DisplayName: "User " + string(rune('A'+i))}
		if i%2 == 0 {
			u.Mail, u.Mobile, u.Synced = "u"+string(rune('a'+i))+"@contoso.example", "+1 555 010 01"+string(rune('0'+i))+"0", true
		}
		s.AddUser(u)
	}
}

func TestUsersPaging(t *testing.T) {
	s := &microsofttest.Server{PageSize: 3}
	seedUsers(s, 7)
	s.Serve(t)
	c := newClient(t, s)
	users, err := c.Users(t.Context())
	require.NoError(t, err)
	require.Len(t, users, 7, "all pages read")
	assert.Equal(t, 3, s.Count("graph"), "three pages of at most 3")
	assert.Equal(t, 1, s.Count("token"), "one token for the whole listing")
	assert.Equal(t, "usera@contoso.example", users[0].UPN)
	assert.Equal(t, "ua@contoso.example", users[0].Mail)
	assert.Equal(t, "+1 555 010 0100", users[0].Mobile)
	assert.Equal(t, core.MicrosoftSynced, users[0].Source)
	assert.Equal(t, core.MicrosoftCloudOnly, users[1].Source, "onPremisesSyncEnabled null is cloud-only")
	assert.Empty(t, users[1].Mail)
	assert.True(t, users[1].Enabled)
	assert.NotEmpty(t, users[6].ObjectID)
}

func TestUsersThrottled(t *testing.T) {
	s := &microsofttest.Server{PageSize: 2}
	seedUsers(s, 3)
	s.Serve(t)
	c := newClient(t, s)

	s.Throttle(2, 1)
	start := time.Now()
	users, err := c.Users(t.Context())
	require.NoError(t, err)
	assert.Len(t, users, 3)
	assert.Equal(t, 2, s.Count("throttled"))
	assert.GreaterOrEqual(t, time.Since(start), 2*time.Second, "Retry-After was honoured")

	// More throttling than the retries allow: throttled, in words.
	c = newClient(t, s, func(_ *core.MicrosoftConfig, o *microsoft.Options) { o.MaxRetries = 1 })
	s.Throttle(5, 0)
	_, err = c.Users(t.Context())
	require.Error(t, err)
	assert.Equal(t, core.KindRateLimited, core.ErrorKind(err))
	s.Throttle(0, 0)

	// A Retry-After beyond the cap fails at once rather than sleeping.
	s.Throttle(1, 600)
	before := s.Count("throttled")
	start = time.Now()
	_, err = c.Users(t.Context())
	assert.Equal(t, core.KindRateLimited, core.ErrorKind(err))
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Equal(t, before+1, s.Count("throttled"))
}

func TestTokenExpiryMidListing(t *testing.T) {
	s := &microsofttest.Server{PageSize: 2}
	seedUsers(s, 5)
	var once sync.Once
	s.BeforeGraph = func(n int) {
		if n == 2 {
			once.Do(func() { s.Advance(2 * time.Hour) }) // the token dies between pages
		}
	}
	s.Serve(t)
	c := newClient(t, s)
	users, err := c.Users(t.Context())
	require.NoError(t, err)
	assert.Len(t, users, 5)
	assert.Equal(t, 2, s.Count("token"), "a new token after the refusal")
	assert.Equal(t, 1, s.Count("refused"))

	// A token whose expires_in is within the client's margin is not reused.
	s2 := &microsofttest.Server{TokenLifetime: 5 * time.Second}
	seedUsers(s2, 1)
	s2.Serve(t)
	c = newClient(t, s2)
	for range 3 {
		_, err := c.Users(t.Context())
		require.NoError(t, err)
	}
	assert.Equal(t, 3, s2.Count("token"))
	assert.Zero(t, s2.Count("refused"), "expired tokens are not sent")
}

func TestNextLinkOffHost(t *testing.T) {
	evil := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the token went off the Graph host: %s", r.URL)
	}))
	defer evil.Close()
	s := microsofttest.Start(t)
	graph := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"value":[],"@odata.nextLink":"` + evil.URL + `/v1.0/users?$skiptoken=1"}`))
	}))
	defer graph.Close()
	c := newClient(t, s, func(_ *core.MicrosoftConfig, o *microsoft.Options) {
		o.GraphURL = graph.URL
		o.HTTPClient = graph.Client() // trusts graph's cert; the fake's login too (same test CA)
	})
	_, err := c.Users(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "off the Graph host")
}

func TestAuthMethods(t *testing.T) {
	s := microsofttest.Start(t,
		microsofttest.User{UPN: "sam@contoso.example"},
		microsofttest.User{UPN: "kim@contoso.example", Methods: []string{microsofttest.MethodPassword, microsofttest.MethodPhone}})
	c := newClient(t, s)
	ms, err := c.AuthMethods(t.Context(), "sam@contoso.example")
	require.NoError(t, err)
	assert.Contains(t, ms, core.MicrosoftAuthenticatorType)
	ms, err = c.AuthMethods(t.Context(), "kim@contoso.example")
	require.NoError(t, err)
	assert.Equal(t, []string{microsofttest.MethodPassword, microsofttest.MethodPhone}, ms)

	_, err = c.AuthMethods(t.Context(), "nobody@contoso.example")
	assert.Equal(t, http.StatusNotFound, msError(t, err).HTTPStatus)
	s.DenyMethods = true
	_, err = c.AuthMethods(t.Context(), "sam@contoso.example")
	assert.Equal(t, "Authorization_RequestDenied", msError(t, err).Code)
}

const ctxID = "0b6c7d8e-9f00-4a1b-8c2d-3e4f5a6b7c8d"

func TestBeginTwoWay(t *testing.T) {
	approve, deny := microsofttest.Approve, microsofttest.Deny
	s := &microsofttest.Server{ForeignDomains: []string{"fabrikam.example"}}
	s.AddUser(microsofttest.User{UPN: "sam&o'neil@contoso.example", Auto: &approve})
	s.AddUser(microsofttest.User{UPN: "kim@contoso.example", Auto: &deny})
	s.AddUser(microsofttest.User{UPN: "lee@contoso.example", Methods: []string{microsofttest.MethodPhone}})
	// Prefers SMS, but has the app: the push names the app, so it arrives.
	s.AddUser(microsofttest.User{UPN: "ria@contoso.example", Default: microsofttest.OneWaySMS, Auto: &approve})
	s.Serve(t)
	c := newClient(t, s)
	ctx := t.Context()

	r, err := c.BeginTwoWay(ctx, core.MicrosoftPush{UPN: "sam&o'neil@contoso.example", ContextID: ctxID})
	require.NoError(t, err)
	assert.True(t, r.AuthenticationResult)
	assert.Equal(t, "Success", r.Value)
	assert.Empty(t, r.Message, "i:nil message")
	assert.NotEmpty(t, r.SessionID)
	req := s.Requests()[0]
	assert.Equal(t, "sam&o'neil@contoso.example", req.UPN, "the UPN is XML-escaped")
	assert.Contains(t, req.Raw, "sam&amp;o&#39;neil@contoso.example")
	assert.Equal(t, "PhoneAppNotification", req.Method)
	assert.Equal(t, ctxID, req.ContextID)
	assert.True(t, req.SyncCall)
	assert.True(t, req.RequireUserMatch)
	assert.Equal(t, "false", req.Props["OverrideVoiceOtp"])
	assert.Equal(t, "en-us", req.Lcid)

	r, err = c.BeginTwoWay(ctx, core.MicrosoftPush{UPN: "kim@contoso.example", ContextID: ctxID})
	require.NoError(t, err)
	assert.False(t, r.AuthenticationResult)
	assert.Equal(t, "PhoneAppDenied", r.Value)
	assert.Equal(t, "The user denied the request.", r.Message)

	for upn, want := range map[string]string{
		"lee@contoso.example":    "AuthenticationMethodNotConfigured",
		"nobody@contoso.example": "UserNotFound",
		"pat@fabrikam.example":   "AccessDenied",
	} {
		r, err = c.BeginTwoWay(ctx, core.MicrosoftPush{UPN: upn, ContextID: ctxID})
		require.NoError(t, err)
		assert.Equal(t, want, r.Value, upn)
		assert.False(t, r.AuthenticationResult)
	}

	r, err = c.BeginTwoWay(ctx, core.MicrosoftPush{UPN: "ria@contoso.example", ContextID: ctxID})
	require.NoError(t, err)
	assert.Equal(t, "Success", r.Value)
	pushes := s.Pushes()
	require.Len(t, pushes, 3)
	assert.Equal(t, "PhoneAppNotification", pushes[2].Method, "the app, not the preferred SMS")

	// The connector token expires: refreshed and sent again.
	tokens := s.Count("token-v1")
	s.Advance(2 * time.Hour)
	_, err = c.BeginTwoWay(ctx, core.MicrosoftPush{UPN: "kim@contoso.example", ContextID: ctxID})
	require.NoError(t, err)
	assert.Equal(t, tokens+1, s.Count("token-v1"))

	_, err = newClient(t, s, func(c *core.MicrosoftConfig, _ *microsoft.Options) { c.ConnectorSecret = "" }).
		BeginTwoWay(ctx, core.MicrosoftPush{UPN: "kim@contoso.example", ContextID: ctxID})
	assert.Equal(t, core.KindInvalid, core.ErrorKind(err))
}

func TestBeginTwoWayWaits(t *testing.T) {
	s := &microsofttest.Server{PushTimeout: 300 * time.Millisecond}
	s.AddUser(microsofttest.User{UPN: "sam@contoso.example"})
	s.Serve(t)
	c := newClient(t, s)
	done := make(chan core.MicrosoftResult, 1)
	go func() {
		r, err := c.BeginTwoWay(t.Context(), core.MicrosoftPush{UPN: "sam@contoso.example", ContextID: ctxID})
		assert.NoError(t, err)
		done <- r
	}()
	require.Len(t, s.WaitPushes(1, 5*time.Second), 1)
	// A second push while one waits is a duplicate.
	r, err := c.BeginTwoWay(t.Context(), core.MicrosoftPush{UPN: "sam@contoso.example", ContextID: ctxID})
	require.NoError(t, err)
	assert.Equal(t, "UserAuthFailedDuplicateRequest", r.Value)
	r = <-done
	assert.Equal(t, "PhoneAppNoResponse", r.Value, "unanswered: no response")
	assert.True(t, strings.HasPrefix(r.Raw, "<BeginTwoWayAuthenticationResponse"))
}

func TestConnectorCertificate(t *testing.T) {
	approve := microsofttest.Approve
	s := microsofttest.Start(t, microsofttest.User{UPN: "sam@contoso.example", Auto: &approve})
	certPEM, keyPEM, err := core.NewMicrosoftConnectorCertificate("Countersign MFA connector (test)", time.Now(), rand.Reader)
	require.NoError(t, err)
	withCert := func(c *core.MicrosoftConfig, _ *microsoft.Options) {
		c.ConnectorSecret, c.ConnectorCert, c.ConnectorKey = "", certPEM, keyPEM
	}

	err = newClient(t, s, withCert).CheckConnector(t.Context())
	assert.Equal(t, "AADSTS700027", msError(t, err).Code, "not registered on the service principal yet")
	require.NoError(t, s.AddConnectorCert(certPEM))
	c := newClient(t, s, withCert)
	require.NoError(t, c.CheckConnector(t.Context()))
	r, err := c.BeginTwoWay(t.Context(), core.MicrosoftPush{UPN: "sam@contoso.example", ContextID: ctxID})
	require.NoError(t, err)
	assert.True(t, r.AuthenticationResult)
	assert.Zero(t, s.Count("token-v1"), "the certificate goes to the v2.0 endpoint")

	// A certificate preferred over a secret when both are set.
	both := newClient(t, s, func(c *core.MicrosoftConfig, _ *microsoft.Options) {
		c.ConnectorSecret, c.ConnectorCert, c.ConnectorKey = "wrong-secret", certPEM, keyPEM
	})
	require.NoError(t, both.CheckConnector(t.Context()))

	// Another key than the certificate's is refused at once.
	_, otherKey, err := core.NewMicrosoftConnectorCertificate("other", time.Now(), rand.Reader)
	require.NoError(t, err)
	cfg := s.Config()
	cfg.ConnectorCert, cfg.ConnectorKey = certPEM, otherKey
	_, err = microsoft.New(cfg, options(s))
	assert.Equal(t, core.KindInvalid, core.ErrorKind(err))
	cfg.ConnectorKey = ""
	_, err = microsoft.New(cfg, options(s))
	assert.Equal(t, core.KindInvalid, core.ErrorKind(err))

	// Microsoft's clock an hour ahead of ours: the assertion is outside
	// its time range.
	s.Advance(time.Hour)
	err = newClient(t, s, withCert).CheckConnector(t.Context())
	assert.Equal(t, "AADSTS700024", msError(t, err).Code)
}
