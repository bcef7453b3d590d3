package halo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// Halo agent sign-in (reference, OAuth2 › Agent login): the only way to
// learn which technician uses a custom tab. The tab's script opens Halo's
// /auth/authorize in a pop-out (authorisation code + PKCE S256) with the
// agent-login application; Halo redirects the pop-out to Countersign's
// callback page ([AgentCallbackPath]), which hands the code to the tab;
// the tab sends code, verifier and redirect URL to the server as a member
// proof, and [Client.ProveMember] redeems the code at Halo's token endpoint
// and asks GET /api/Agent/me with the agent's token who it is. Nothing in
// the tab's URL or the proof names the technician: Halo does.

// AgentCallbackPath is where Halo sends the agent sign-in pop-out back to:
// a page the plugin ships (assets/agent-callback.html), served by the host
// at /static/psa/halo/. Register {Countersign URL}+AgentCallbackPath as the
// agent-login application's Login Redirect URL.
const AgentCallbackPath = "/static/psa/" + ID + "/agent-callback.html"

// Limits of agent sign-in.
const (
	proofTTL        = 5 * time.Minute // a redeemed proof is remembered (codes are single use; linking re-presents it)
	maxProofs       = 1024
	agentLoginLimit = 20 // refused proofs per minute per integration
	maxCodeLen      = 4096
)

// agentState remembers redeemed proofs and counts refusals.
type agentState struct {
	mu      sync.Mutex
	proofs  map[[sha256.Size]byte]proofAnswer
	refused []time.Time
}

type proofAnswer struct {
	member  psa.Member
	expires time.Time
}

func newAgentState() *agentState { return &agentState{proofs: map[[sha256.Size]byte]proofAnswer{}} }

// agentProof is what the tab's script posts: the code Halo gave the
// pop-out, the PKCE verifier the tab made, and the redirect URL used.
type agentProof struct {
	Code         string `json:"code"`
	CodeVerifier string `json:"code_verifier"`
	RedirectURI  string `json:"redirect_uri"`
}

// AgentSignIn is what the tab's script needs to start Halo agent sign-in;
// none of it is secret.
type AgentSignIn struct {
	AuthorizeURL string // Halo's authorisation endpoint, without a query
	ClientID     string // the agent-login application
	Tenant       string // "" on self-hosted Halo
	Scope        string
}

// AgentSignIn returns the parameters of Halo agent sign-in, or false when
// the integration has no agent-login application. It may ask /api/authinfo
// (once) for the authorisation server.
func (c *Client) AgentSignIn(ctx context.Context) (AgentSignIn, bool, error) {
	if c.cfg.AgentClientID == "" {
		return AgentSignIn{}, false, nil
	}
	if err := c.withAuth(ctx, func() error { return c.resolveAuth(ctx) }); err != nil {
		return AgentSignIn{}, false, err
	}
	return AgentSignIn{AuthorizeURL: c.auth.authURL + "/authorize", ClientID: c.cfg.AgentClientID, Tenant: c.auth.tenant, Scope: c.cfg.Scope}, true, nil
}

// withAuth runs fn holding the token semaphore.
func (c *Client) withAuth(ctx context.Context, fn func() error) error {
	select {
	case c.auth.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("halo: %w", ctx.Err())
	}
	defer func() { <-c.auth.sem }()
	return fn()
}

// ProveMember implements [psa.MemberProver] for Halo agent sign-in. It
// checks the proof's strings, redeems the code (grant_type
// authorization_code with the PKCE verifier, the agent-login application's
// client id and the redirect URL) and asks GET /api/Agent/me with the
// agent's token. The Member's Ref is the Halo agent id. A disabled agent
// is core.ErrForbidden; a code Halo refuses core.ErrUnauthorized. A proof
// Halo accepted is remembered for five minutes (by its SHA-256), so that
// the same proof can link the agent to a technician signing in with
// Countersign right after; refusals are limited per integration.
func (c *Client) ProveMember(ctx context.Context, raw json.RawMessage) (psa.Member, error) {
	const what = "prove Halo agent"
	if c.cfg.AgentClientID == "" {
		return psa.Member{}, core.Errorf(core.KindInvalid, "Halo agent sign-in is not set up for this integration: sign in with Countersign, or add an agent-login application on the setup page")
	}
	var p agentProof
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if len(raw) > 3*maxCodeLen || dec.Decode(&p) != nil {
		return psa.Member{}, core.Errorf(core.KindInvalid, "the Halo sign-in from the tab is not in the form the tab sends")
	}
	if err := p.validate(); err != nil {
		return psa.Member{}, err
	}
	key := sha256.Sum256([]byte(p.Code + "\x00" + p.CodeVerifier + "\x00" + p.RedirectURI))
	now := c.now()
	a := c.agent
	a.mu.Lock()
	if ans, ok := a.proofs[key]; ok && now.Before(ans.expires) {
		a.mu.Unlock()
		return ans.member, nil
	}
	recent := a.refused[:0]
	for _, t := range a.refused {
		if now.Sub(t) < time.Minute {
			recent = append(recent, t)
		}
	}
	a.refused = recent
	if len(a.refused) >= agentLoginLimit {
		a.mu.Unlock()
		return psa.Member{}, core.Errorf(core.KindRateLimited, "too many refused Halo sign-ins: try again in a minute")
	}
	a.mu.Unlock()

	m, err := c.redeem(ctx, p)
	if err != nil {
		if k := core.ErrorKind(err); k == core.KindUnauthorized || k == core.KindForbidden {
			a.mu.Lock()
			a.refused = append(a.refused, c.now())
			a.mu.Unlock()
			c.log.InfoContext(ctx, "halo agent sign-in refused", slog.Any("err", err))
		}
		return psa.Member{}, c.wrapWhat(what, err)
	}
	a.mu.Lock()
	if len(a.proofs) >= maxProofs {
		for k, v := range a.proofs {
			if !now.Before(v.expires) || len(a.proofs) >= maxProofs {
				delete(a.proofs, k)
			}
		}
	}
	a.proofs[key] = proofAnswer{member: m, expires: now.Add(proofTTL)}
	a.mu.Unlock()
	c.log.InfoContext(ctx, "halo agent signed in", slog.String("agent", m.Ref))
	return m, nil
}

// validate checks the proof's strings before any leaves the server.
func (p agentProof) validate() error {
	bad := func(what string) error {
		return core.Errorf(core.KindInvalid, "the Halo sign-in from the tab has an invalid %s", what)
	}
	if len(p.Code) < 8 || len(p.Code) > maxCodeLen || !printableWithout(p.Code, " ") {
		return bad("code")
	}
	// RFC 7636 §4.1: 43–128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
	if len(p.CodeVerifier) < 43 || len(p.CodeVerifier) > 128 || strings.Trim(p.CodeVerifier,
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") != "" {
		return bad("code verifier")
	}
	u, err := url.Parse(p.RedirectURI)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
		u.Path != AgentCallbackPath || len(p.RedirectURI) > 1000 {
		return bad("redirect URL (it must be Countersign's " + AgentCallbackPath + ")")
	}
	return nil
}

// redeem trades the code for an agent token and asks Halo whose it is.
func (c *Client) redeem(ctx context.Context, p agentProof) (psa.Member, error) {
	if err := c.withAuth(ctx, func() error { return c.resolveAuth(ctx) }); err != nil {
		return psa.Member{}, err
	}
	oc := oauth2.Config{
		ClientID:    c.cfg.AgentClientID,
		Endpoint:    oauth2.Endpoint{AuthURL: c.auth.authURL + "/authorize", TokenURL: c.tokenURL(), AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: p.RedirectURI,
	}
	tok, err := oc.Exchange(context.WithValue(ctx, oauth2.HTTPClient, c.tokenHTTP), p.Code, oauth2.VerifierOption(p.CodeVerifier))
	if err != nil {
		if ctx.Err() != nil {
			return psa.Member{}, fmt.Errorf("halo: redeem the sign-in code: %w", ctx.Err())
		}
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 && re.Response.StatusCode != http.StatusTooManyRequests {
			return psa.Member{}, newError("redeem the sign-in code", core.KindUnauthorized, err, "Halo did not accept the sign-in (%s): sign in again from the tab", orNone(re.ErrorCode))
		}
		status := 0
		if re != nil && re.Response != nil {
			status = re.Response.StatusCode
		}
		if status == http.StatusTooManyRequests {
			return psa.Member{}, newError("redeem the sign-in code", core.KindRateLimited, err, "Halo is throttling requests: try again in a minute")
		}
		return psa.Member{}, newError("redeem the sign-in code", core.KindUnavailable, err, "Halo's authorisation server at %s did not answer: try again later", c.hostOf(c.auth.authURL))
	}
	var w wireAgent
	cl := call{what: "identify the signed-in agent", op: "GET /api/Agent/me", method: http.MethodGet, path: "/Agent/me",
		subject: "agent for this sign-in", area: areaAgents}
	resp, err := c.doer.Do(ctx, cl.op, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.apiBase()+cl.path, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		return req, nil
	})
	if err != nil {
		return psa.Member{}, c.fail(cl, err)
	}
	if err := psa.DecodeJSON(resp, &w); err != nil {
		return psa.Member{}, c.decodeFail(cl.what, err)
	}
	if w.ID == 0 {
		return psa.Member{}, newError(cl.what, core.KindUnauthorized, nil, "Halo did not say which agent signed in")
	}
	if w.IsDisabled != nil && *w.IsDisabled {
		return psa.Member{}, newError(cl.what, core.KindForbidden, nil, "Halo agent %q is disabled", w.Name)
	}
	return w.member(), nil
}

// Interface guard.
var _ psa.MemberProver = (*Client)(nil)
