package halo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// Authorisation (reference, OAuth2 client credentials). The token URL is
// {auth_url}/token?tenant={tenant}, where /api/authinfo names auth_url
// and, on hosted Halo, the tenant; a configured tenant wins over it, and a
// configured AuthURL (stored after setup) skips the question. When
// authinfo does not answer usefully the client falls back to
// {instance}/auth/token. Tokens come from golang.org/x/oauth2's
// clientcredentials and are kept until shortly before they expire; one
// fetch runs at a time, and every caller waits for it.

// tokenEarly is how long before its expiry a token is replaced, so that a
// request never leaves with a token that lapses on the way.
const tokenEarly = time.Minute

// opToken and opAuthInfo name the authorisation calls for the counter.
const (
	opToken    = "POST /auth/token"
	opAuthInfo = "GET /api/authinfo"
)

// authState is the client's token and what it learned about the
// authorisation server. sem (capacity 1) is held while a token is fetched.
type authState struct {
	sem      chan struct{}
	tok      *oauth2.Token
	expires  time.Time // by the client's clock; zero: until a 401
	authURL  string    // "" until known
	tenant   string    // the tenant sent with token requests; "" for none
	resolved bool      // authURL and tenant are known
}

func newAuthState(cfg Config) *authState {
	a := &authState{sem: make(chan struct{}, 1), tenant: cfg.Tenant}
	if cfg.AuthURL != "" {
		a.authURL, a.resolved = cfg.AuthURL, true
	}
	return a
}

// bearer returns a token for API calls, fetching one when none is cached
// or the cached one is about to expire; fresh says it was fetched for this
// call.
func (c *Client) bearer(ctx context.Context) (access string, fresh bool, err error) {
	select {
	case c.auth.sem <- struct{}{}:
	case <-ctx.Done():
		return "", false, fmt.Errorf("halo: get a token: %w", ctx.Err())
	}
	defer func() { <-c.auth.sem }()
	a := c.auth
	if a.tok != nil && (a.expires.IsZero() || c.now().Before(a.expires)) {
		return a.tok.AccessToken, false, nil
	}
	if err := c.resolveAuth(ctx); err != nil {
		return "", false, err
	}
	tok, err := c.fetchToken(ctx)
	if err != nil {
		return "", false, err
	}
	a.tok = tok
	// clientcredentials turns expires_in into Expiry on the wall clock
	// (and drops ExpiresIn); what is left of it is kept on the client's.
	a.expires = time.Time{}
	life := time.Duration(tok.ExpiresIn) * time.Second
	if life <= 0 && !tok.Expiry.IsZero() {
		life = time.Until(tok.Expiry)
	}
	if life > 0 {
		a.expires = c.now().Add(life - min(tokenEarly, life/10))
	} else if !tok.Expiry.IsZero() {
		a.expires = c.now() // already expired: use it for this call only
	}
	return tok.AccessToken, true, nil
}

// dropToken forgets the cached token if it is still access: the API
// refused it (401), so the next call fetches a new one.
func (c *Client) dropToken(ctx context.Context, access string) {
	select {
	case c.auth.sem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	defer func() { <-c.auth.sem }()
	if c.auth.tok != nil && c.auth.tok.AccessToken == access {
		c.auth.tok = nil
	}
}

// tokenURL returns where tokens come from; resolveAuth ran.
func (c *Client) tokenURL() string {
	u := c.auth.authURL + "/token"
	if c.auth.tenant != "" {
		u += "?tenant=" + url.QueryEscape(c.auth.tenant)
	}
	return u
}

// wireAuthInfo is GET /api/authinfo's answer (no schema in the contract;
// fields as third-party clients read them).
type wireAuthInfo struct {
	AuthURL  string `json:"auth_url"`
	TenantID string `json:"tenant_id"`
}

// resolveAuth finds the authorisation server and tenant once; the caller
// holds the token semaphore.
func (c *Client) resolveAuth(ctx context.Context) error {
	a := c.auth
	if a.resolved {
		return nil
	}
	fallback := c.cfg.InstanceURL + "/auth"
	resp, err := c.doer.Do(ctx, opAuthInfo, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.apiBase()+"/authinfo", nil)
		if err == nil {
			req.Header.Set("Accept", "application/json")
		}
		return req, err
	})
	var info wireAuthInfo
	switch {
	case err == nil:
		if derr := psa.DecodeJSON(resp, &info); derr != nil {
			c.log.WarnContext(ctx, "halo authinfo is not JSON; using the instance's /auth", "err", derr)
		}
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("halo: find the authorisation server: %w", err)
	case errors.Is(err, core.ErrNotFound) || errors.Is(err, core.ErrUnauthorized) || errors.Is(err, core.ErrForbidden):
		c.log.InfoContext(ctx, "halo authinfo not available; using the instance's /auth", "err", err)
	default:
		return c.fail(call{what: "find the authorisation server", op: opAuthInfo}, err)
	}
	authURL := strings.TrimRight(strings.TrimSpace(info.AuthURL), "/")
	if authURL != "" {
		u, perr := url.Parse(authURL)
		if perr != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" {
			c.log.WarnContext(ctx, "halo authinfo names an authorisation server that is not https; using the instance's /auth", "auth_url", short(authURL))
			authURL = ""
		}
	}
	if authURL == "" {
		authURL = fallback
	}
	a.authURL = authURL
	if a.tenant == "" {
		a.tenant = strings.TrimSpace(info.TenantID)
	}
	a.resolved = true
	return nil
}

// fetchToken asks for a client-credentials token, retrying a 429 after its
// Retry-After and a 5xx or network failure with backoff, as [psa.Doer]
// does for API calls: a token request changes nothing, so unlike other
// POSTs it is safe to repeat.
func (c *Client) fetchToken(ctx context.Context) (*oauth2.Token, error) {
	const what = "get a token"
	cc := clientcredentials.Config{
		ClientID: c.cfg.ClientID, ClientSecret: c.cfg.ClientSecret, TokenURL: c.tokenURL(),
		Scopes: strings.Fields(c.cfg.Scope), AuthStyle: oauth2.AuthStyleInParams,
	}
	tctx := context.WithValue(ctx, oauth2.HTTPClient, c.tokenHTTP)
	p := c.retry
	attempts := p.MaxAttempts
	if attempts <= 0 {
		attempts = 4
	}
	maxDelay := p.MaxDelay
	if maxDelay <= 0 {
		maxDelay = 30 * time.Second
	}
	for attempt := 1; ; attempt++ {
		tok, err := cc.Token(tctx)
		if err == nil {
			if tok.AccessToken == "" {
				return nil, newError(what, core.KindUnavailable, nil, "Halo's authorisation server at %s sent no access token", c.hostOf(c.auth.authURL))
			}
			return tok, nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("halo: %s: %w", what, ctxErr)
		}
		status, retryAfter, hasRA := 0, time.Duration(0), false
		var re *oauth2.RetrieveError
		var ue *url.Error
		switch {
		case errors.As(err, &re) && re.Response != nil:
			status = re.Response.StatusCode
			retryAfter, hasRA = psa.RetryAfter(re.Response.Header, c.now())
		case errors.As(err, &ue):
			status = -1 // no answer
		}
		retryable := status == http.StatusTooManyRequests || status == -1 || (status >= 500 && status != http.StatusNotImplemented)
		if !retryable || attempt >= attempts {
			return nil, c.tokenFail(err, status, re, retryAfter)
		}
		wait := backoff(p.BaseDelay, maxDelay, attempt)
		if hasRA && (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) {
			if retryAfter > maxDelay {
				return nil, c.tokenFail(err, status, re, retryAfter)
			}
			wait = retryAfter
		}
		if err := sleep(ctx, p, wait); err != nil {
			return nil, fmt.Errorf("halo: %s: %w", what, err)
		}
	}
}

// tokenFail explains a token request that failed for good.
func (c *Client) tokenFail(err error, status int, re *oauth2.RetrieveError, retryAfter time.Duration) error {
	const what = "get a token"
	host := c.hostOf(c.auth.authURL)
	code := ""
	if re != nil {
		code = re.ErrorCode
	}
	switch {
	case status == -1:
		return newError(what, core.KindUnavailable, err, "cannot reach Halo's authorisation server at %s: check the instance URL, or try again later", host)
	case code == "invalid_scope":
		return newError(what, core.KindForbidden, err, "Halo refused the scope %q: give the API application those permissions, or set the scope to all", c.cfg.Scope)
	case status == http.StatusBadRequest || status == http.StatusUnauthorized || code == "invalid_client" || code == "unauthorized_client":
		return newError(what, core.KindUnauthorized, err,
			"Halo at %s refused the client id and secret: check them, that the API application is active and uses Client ID and Secret (Services), and the tenant (%s)", host, orNone(c.auth.tenant))
	case status == http.StatusForbidden:
		return newError(what, core.KindForbidden, err, "Halo at %s refused the API application a token: check that it is active and has an agent to log in as", host)
	case status == http.StatusNotFound:
		return newError(what, core.KindUnavailable, err, "Halo at %s has no token endpoint at %s: check the instance URL and tenant", host, c.auth.authURL+"/token")
	case status == http.StatusTooManyRequests:
		if retryAfter > 0 {
			return newError(what, core.KindRateLimited, err, "Halo is throttling requests: try again in %s", retryAfter.Round(time.Second))
		}
		return newError(what, core.KindRateLimited, err, "Halo is throttling requests: try again in a minute")
	case status >= 500:
		return newError(what, core.KindUnavailable, err, "Halo's authorisation server at %s is not working properly (HTTP %d): try again later", host, status)
	}
	return newError(what, core.KindUnavailable, err, "Halo's authorisation server at %s did not answer with a token: try again later", host)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// backoff is the wait before attempt n+1 after n failures: base doubled
// n-1 times up to maxDelay, half of it random (psa.RetryPolicy's rule).
func backoff(base, maxDelay time.Duration, n int) time.Duration {
	d := base
	if d <= 0 {
		d = 500 * time.Millisecond
	}
	for i := 1; i < n && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, p psa.RetryPolicy, d time.Duration) error {
	if p.Sleep != nil {
		return p.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// countingTransport counts the requests oauth2 makes through it.
type countingTransport struct {
	base  http.RoundTripper
	calls psa.CallCounter
	op    string
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if t.calls != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.calls.CountCall(t.op, status)
	}
	return resp, err
}

// tokenClient returns the HTTP client token requests go through: hc's
// transport, counted, and no redirects (a redirected POST would carry the
// secret elsewhere).
func tokenClient(hc *http.Client, calls psa.CallCounter) *http.Client {
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	return &http.Client{
		Transport:     countingTransport{base: base, calls: calls, op: opToken},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       hc.Timeout,
		Jar:           nil,
	}
}
