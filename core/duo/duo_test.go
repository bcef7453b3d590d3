package duo_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/duo"
	"github.com/countersign/countersign/core/duo/duotest"
)

func newClient(t *testing.T, fake *duotest.Server, cfg core.DuoConfig) *duo.Client {
	t.Helper()
	c, err := duo.New(cfg, duo.Options{HTTPClient: fake.HTTPClient(), AllowHost: func(h string) bool { return h == fake.Host() }})
	require.NoError(t, err)
	return c
}

func duoErr(t *testing.T, err error) *core.DuoError {
	t.Helper()
	var de *core.DuoError
	require.True(t, errors.As(err, &de), "want a *core.DuoError, got %v", err)
	return de
}

func TestCheckSigning(t *testing.T) {
	fake := duotest.Start(t)
	ctx := t.Context()

	require.NoError(t, newClient(t, fake, fake.Config()).Check(ctx))

	bad := fake.Config()
	bad.SecretKey = strings.Repeat("x", 40)
	assert.Equal(t, 40103, duoErr(t, newClient(t, fake, bad).Check(ctx)).Code, "wrong secret: bad signature")

	bad = fake.Config()
	bad.IntegrationKey = "DIXXXXXXXXXXXXXXXXXX"
	assert.Equal(t, 40102, duoErr(t, newClient(t, fake, bad).Check(ctx)).Code, "unknown integration key")

	// Duo's clock is ten minutes ahead of ours: the Date is refused.
	fake.SetClockOffset(10 * time.Minute)
	assert.Equal(t, 40105, duoErr(t, newClient(t, fake, fake.Config()).Check(ctx)).Code, "clock skew")
	fake.SetClockOffset(-4 * time.Minute)
	require.NoError(t, newClient(t, fake, fake.Config()).Check(ctx), "skew within Duo's window")

	fake.SetClockOffset(0)
	fake.SetDown(true)
	err := newClient(t, fake, fake.Config()).Check(ctx)
	require.Error(t, err)
	assert.Equal(t, core.KindUnavailable, core.ErrorKind(err), "a 503 is Duo unavailable, not a Duo refusal: %v", err)
}

// TestFakeRefusesTamperedRequest signs a request by hand, as Duo's
// documentation describes, and changes one parameter after signing.
func TestFakeRefusesTamperedRequest(t *testing.T) {
	fake := duotest.Start(t, duotest.User{Username: "jane"})
	send := func(params url.Values, signed url.Values) int {
		date := time.Now().UTC().Format(time.RFC1123Z)
		sig := duotest.Sign(duotest.DefaultSKey, "POST", fake.Host(), "/auth/v2/preauth", date, signed)
		req, err := http.NewRequest("POST", "https://"+fake.Host()+"/auth/v2/preauth", strings.NewReader(params.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Date", date)
		req.Header.Set("Authorization", duotest.BasicAuth(duotest.DefaultIKey, sig))
		resp, err := fake.HTTPClient().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	p := url.Values{"username": {"jane doe"}}
	assert.Equal(t, http.StatusOK, send(p, p), "a space is signed as %20")
	assert.Equal(t, http.StatusUnauthorized, send(url.Values{"username": {"mallory"}}, p))
}

func TestPreauthResults(t *testing.T) {
	fake := duotest.Start(t,
		duotest.User{Username: "jane", Aliases: []string{"jane@acme.test"}},
		duotest.User{Username: "bypassed", Preauth: "allow"},
		duotest.User{Username: "locked", Preauth: "deny"},
		duotest.User{Username: "vp", VerifiedPush: true},
	)
	c := newClient(t, fake, fake.Config())
	ctx := t.Context()

	p, err := c.Preauth(ctx, "jane@acme.test", false)
	require.NoError(t, err)
	assert.Equal(t, "auth", p.Result, "an alias matches")
	require.Len(t, p.Devices, 1)
	assert.True(t, p.Devices[0].CanPush())
	assert.Empty(t, p.Txid)

	for name, want := range map[string]string{"bypassed": "allow", "locked": "deny", "nobody": "enroll"} {
		p, err := c.Preauth(ctx, name, false)
		require.NoError(t, err)
		assert.Equal(t, want, p.Result, name)
	}

	p, err = c.Preauth(ctx, "vp", true)
	require.NoError(t, err)
	assert.NotEmpty(t, p.Txid, "Verified Duo Push gives a txid")
}

func TestPushOutcomes(t *testing.T) {
	cases := []duotest.Outcome{duotest.Approve, duotest.Deny, duotest.Fraud, duotest.Timeout, duotest.Bypass, duotest.PushFailed, duotest.LockedOut}
	for _, o := range cases {
		t.Run(o.Status, func(t *testing.T) {
			oc := o
			fake := duotest.Start(t, duotest.User{Username: "jane", Auto: &oc})
			c := newClient(t, fake, fake.Config())
			ctx := t.Context()
			pre, err := c.Preauth(ctx, "jane", false)
			require.NoError(t, err)
			txid, err := c.Push(ctx, core.DuoPush{Username: "jane", Device: pre.Devices[0].ID, Type: "Help desk verification",
				Info: [][2]string{{"MSP", "Acme IT"}, {"Technician", "Tom Tech"}, {"Ticket", "T-1 & more"}}})
			require.NoError(t, err)
			st, err := c.Status(ctx, txid)
			require.NoError(t, err)
			assert.Equal(t, o.Result, st.Result)
			assert.Equal(t, o.Status, st.Status)

			pushes := fake.Pushes()
			require.Len(t, pushes, 1)
			assert.Equal(t, "Help desk verification", pushes[0].Type)
			assert.Equal(t, "T-1 & more", pushes[0].Pushinfo.Get("Ticket"), "pushinfo is URL-encoded")
			assert.Equal(t, "Tom Tech", pushes[0].Pushinfo.Get("Technician"))
			assert.True(t, strings.HasPrefix(pushes[0].RawInfo, "MSP="), "pushinfo keeps our order: %s", pushes[0].RawInfo)
		})
	}
}

func TestStatusLongPollAndContext(t *testing.T) {
	fake := &duotest.Server{LongPoll: 200 * time.Millisecond}
	fake.AddUser(duotest.User{Username: "jane"})
	fake.Serve(t)
	c := newClient(t, fake, fake.Config())
	ctx := t.Context()
	pre, err := c.Preauth(ctx, "jane", false)
	require.NoError(t, err)
	txid, err := c.Push(ctx, core.DuoPush{Username: "jane", Device: pre.Devices[0].ID})
	require.NoError(t, err)

	st, err := c.Status(ctx, txid)
	require.NoError(t, err)
	assert.Equal(t, "waiting", st.Result, "no answer yet: the long-poll ends waiting")

	go func() { time.Sleep(50 * time.Millisecond); fake.Answer("jane", duotest.Approve) }()
	st, err = c.Status(ctx, txid)
	require.NoError(t, err)
	assert.Equal(t, "allow", st.Status, "the long-poll returns at the change")
}

func TestUnknownUserPush(t *testing.T) {
	fake := duotest.Start(t)
	c := newClient(t, fake, fake.Config())
	_, err := c.Push(t.Context(), core.DuoPush{Username: "nobody", Device: "auto"})
	assert.Equal(t, 40002, duoErr(t, err).Code)
}

func TestHostAllowList(t *testing.T) {
	cfg := core.DuoConfig{IntegrationKey: duotest.DefaultIKey, SecretKey: duotest.DefaultSKey}
	for _, h := range []string{"api-1a2b3c4d.duosecurity.com", "API-1A2B3C4D.duosecurity.com", "api-abcd1234.duofederal.com"} {
		cfg.APIHost = h
		_, err := duo.New(cfg, duo.Options{})
		assert.NoError(t, err, h)
	}
	for _, h := range []string{"127.0.0.1:8443", "evil.example.com", "api-1a2b3c4d.duosecurity.com.evil.test", "api-1a2b3c4d.duosecurity.com:444", ""} {
		cfg.APIHost = h
		_, err := duo.New(cfg, duo.Options{})
		assert.Equal(t, core.KindInvalid, core.ErrorKind(err), h)
	}
}
