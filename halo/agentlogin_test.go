package halo_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/halo"
	"github.com/countersign/countersign/halo/halotest"
)

const callbackURL = "https://cs.example" + halo.AgentCallbackPath

var jamie = psa.Member{Ref: "42", Name: "Jamie Tech", Email: "jamie@msp.example"}

// popOut plays the tab's script and the pop-out: PKCE, Halo's authorize
// endpoint (signing in as the agent the fake approves), and the code from
// the redirect.
func popOut(t *testing.T, f *fixture, c *halo.Client) (code, verifier string) {
	t.Helper()
	si, ok, err := c.AgentSignIn(t.Context())
	require.NoError(t, err)
	require.True(t, ok)
	b := make([]byte, 48)
	_, _ = rand.Read(b)
	verifier = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"response_type": {"code"}, "client_id": {si.ClientID}, "redirect_uri": {callbackURL}, "scope": {si.Scope},
		"state": {"st4te"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	if si.Tenant != "" {
		q.Set("tenant", si.Tenant)
	}
	req, err := http.NewRequestWithContext(t.Context(), "GET", si.AuthorizeURL+"?"+q.Encode(), nil)
	require.NoError(t, err)
	resp, err := f.srv.HTTPClient().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	back, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "st4te", back.Query().Get("state"))
	require.NotEmpty(t, back.Query().Get("code"), "%s", back)
	return back.Query().Get("code"), verifier
}

func proof(code, verifier, redirect string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"code": code, "code_verifier": verifier, "redirect_uri": redirect})
	return b
}

func TestAgentSignIn(t *testing.T) {
	f := newFixture(t, func(c *halo.Config) { c.AgentClientID = halotest.AgentClientID })
	f.srv.AddAgent(jamie, false)
	f.srv.AllowRedirect(callbackURL)
	f.srv.AutoApprove(jamie.Ref)

	code, verifier := popOut(t, f, f.c)
	f.calls.take()
	m, err := f.c.ProveMember(t.Context(), proof(code, verifier, callbackURL))
	require.NoError(t, err)
	assert.Equal(t, jamie.Ref, m.Ref, "the agent Halo signed in, by Halo's id")
	assert.Equal(t, jamie.Name, m.Name)
	assert.Equal(t, []string{"POST /auth/token OK", "GET /api/Agent/me OK"}, f.calls.take(), "two calls per sign-in")

	// The same proof again (linking after a Countersign sign-in): no call.
	m2, err := f.c.ProveMember(t.Context(), proof(code, verifier, callbackURL))
	require.NoError(t, err)
	assert.Equal(t, m, m2)
	assert.Empty(t, f.calls.take())

	// A code is good once, with its own verifier.
	code, _ = popOut(t, f, f.c)
	other := make([]byte, 48)
	_, _ = rand.Read(other)
	_, err = f.c.ProveMember(t.Context(), proof(code, base64.RawURLEncoding.EncodeToString(other), callbackURL))
	require.ErrorIs(t, err, core.ErrUnauthorized, "a verifier that is not the challenge's")
	_, err = f.c.ProveMember(t.Context(), proof("made-up-code-123", verifier, callbackURL))
	require.ErrorIs(t, err, core.ErrUnauthorized)

	for name, p := range map[string]json.RawMessage{
		"other redirect":  proof(code, verifier, "https://evil.example/cb"),
		"short verifier":  proof(code, "abc", callbackURL),
		"bad characters":  proof(code, verifier+"!", callbackURL),
		"agent id":        json.RawMessage(`{"agent_id":42}`),
		"not an object":   json.RawMessage(`"42"`),
		"code with space": proof("a code with spaces", verifier, callbackURL),
	} {
		_, err := f.c.ProveMember(t.Context(), p)
		assert.ErrorIs(t, err, core.ErrInvalid, name)
	}

	// Without an agent-login application there is no agent sign-in.
	noApp := func(c *halo.Config) { c.AgentClientID = "" }
	_, ok, err := newFixture(t, noApp).c.AgentSignIn(t.Context())
	require.NoError(t, err)
	assert.False(t, ok)
	_, err = newFixture(t, noApp).c.ProveMember(t.Context(), proof(code, verifier, callbackURL))
	assert.ErrorIs(t, err, core.ErrInvalid)
}
