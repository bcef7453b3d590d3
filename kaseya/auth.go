package kaseya

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// refreshAhead is how long before its expiry a token is renewed, so that a
// call never leaves with a token that lapses on the way.
const refreshAhead = 2 * time.Minute

// tokenSource holds the integration's BMS token. At most one sign-in or
// refresh runs at a time; callers that need a token meanwhile wait for it.
type tokenSource struct {
	c *Client

	mu         sync.Mutex
	access     string
	refresh    string
	accessExp  time.Time
	refreshExp time.Time
	renewing   chan struct{} // closed when the renewal under way ends
	lastErr    error         // the renewal that just ended, for its waiters
}

// tokenOutput is BMS's TokenOutputDto.
type tokenOutput struct {
	AccessToken          string    `json:"accessToken"`
	RefreshToken         string    `json:"refreshToken"`
	AccessTokenExpireOn  time.Time `json:"accessTokenExpireOn"`
	RefreshTokenExpireOn time.Time `json:"refreshTokenExpireOn"`
}

// token returns a token valid for a while yet, signing in or refreshing
// when there is none.
func (s *tokenSource) token(ctx context.Context) (string, error) {
	for {
		s.mu.Lock()
		now := s.c.now()
		if s.access != "" && now.Add(refreshAhead).Before(s.accessExp) {
			t := s.access
			s.mu.Unlock()
			return t, nil
		}
		if wait := s.renewing; wait != nil {
			s.mu.Unlock()
			select {
			case <-wait:
			case <-ctx.Done():
				return "", ctx.Err()
			}
			s.mu.Lock()
			err := s.lastErr
			s.mu.Unlock()
			if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				return "", err
			}
			continue // renewed, or the renewer gave up on its own context: try ourselves
		}
		done := make(chan struct{})
		s.renewing = done
		refresh := ""
		if s.refresh != "" && now.Before(s.refreshExp) {
			refresh = s.refresh
		}
		old := s.access
		s.mu.Unlock()

		tok, err := s.renew(ctx, old, refresh)

		s.mu.Lock()
		s.lastErr = err
		if err == nil {
			s.access, s.refresh = tok.AccessToken, tok.RefreshToken
			s.accessExp, s.refreshExp = tok.AccessTokenExpireOn, tok.RefreshTokenExpireOn
		}
		s.renewing = nil
		close(done)
		s.mu.Unlock()
		if err != nil {
			return "", err
		}
		// Use what BMS just issued even if its expiry looks near or past
		// (a skewed clock): asking again would only loop.
		return tok.AccessToken, nil
	}
}

// drop forgets tok if it is still the current token, so that the next
// call signs in again; a token another caller already replaced stays.
func (s *tokenSource) drop(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.access == tok {
		// Keep the token itself: BMS's refresh takes it with the refresh
		// token.
		s.accessExp = time.Time{}
	}
}

// renew refreshes with refresh when it is not "", falling back to a full
// sign-in when BMS refuses the refresh.
func (s *tokenSource) renew(ctx context.Context, access, refresh string) (tokenOutput, error) {
	if refresh != "" && access != "" {
		tok, err := s.post(ctx, "refresh the BMS token", "POST /v2/security/refreshtoken", "/v2/security/refreshtoken",
			url.Values{"accessToken": {access}, "refreshToken": {refresh}})
		if err == nil {
			return tok, nil
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return tokenOutput{}, err
		}
		s.c.log.InfoContext(ctx, "kaseya: token refresh refused; signing in again", "err", err)
	}
	cfg := s.c.cfg
	form := url.Values{
		"grantType": {"password"},
		"userName":  {cfg.Username},
		"password":  {cfg.Password},
		"tenant":    {cfg.Tenant},
	}
	if cfg.TOTPSecret != "" {
		code, err := totp.GenerateCode(cfg.TOTPSecret, s.c.now())
		if err != nil {
			return tokenOutput{}, core.Errorf(core.KindInvalid, "kaseya: the TOTP secret cannot make a code: paste it again on the integration page")
		}
		form.Set("mfaCode", code)
	}
	return s.post(ctx, "sign in to Kaseya BMS", "POST /v2/security/authenticate", "/v2/security/authenticate", form)
}

// post sends a sign-in or refresh form and decodes the token.
func (s *tokenSource) post(ctx context.Context, what, op, path string, form url.Values) (tokenOutput, error) {
	c := s.c
	body := form.Encode()
	// A sign-in changes nothing in BMS, so a 5xx or a dropped connection
	// may be tried again like a GET.
	resp, err := c.doer.DoRepeatable(ctx, op, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		return req, nil
	})
	cl := call{what: what, op: op}
	if err != nil {
		var he *psa.HTTPError
		if errors.As(err, &he) && (he.Status == http.StatusUnauthorized || he.Status == http.StatusBadRequest) {
			return tokenOutput{}, c.signInRefused(what, err, []byte(he.Body))
		}
		return tokenOutput{}, c.fail(cl, err)
	}
	var env envelope
	if err := psa.DecodeJSON(resp, &env); err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return tokenOutput{}, err
		}
		return tokenOutput{}, newError(what, core.KindUnavailable, err, "Kaseya BMS at %s sent an answer that is not the JSON it should be: try again later", c.base)
	}
	if env.Success == nil || !*env.Success {
		return tokenOutput{}, newError(what, core.KindUnauthorized, nil,
			"Kaseya BMS refused to sign in user %q at tenant %q (%s): check the user name, password, tenant and, when the user has MFA, the TOTP secret",
			c.cfg.Username, c.cfg.Tenant, env.Error.text())
	}
	var tok tokenOutput
	if err := jsonUnmarshal(env.Result, &tok); err != nil || tok.AccessToken == "" || tok.AccessTokenExpireOn.IsZero() {
		return tokenOutput{}, newError(what, core.KindUnavailable, err, "Kaseya BMS signed in but sent no usable token: try again later")
	}
	return tok, nil
}

func (c *Client) signInRefused(what string, err error, body []byte) error {
	var env envelope
	reason := "no reason given"
	if jsonUnmarshal(body, &env) == nil && env.Error != nil {
		reason = env.Error.text()
	}
	return newError(what, core.KindUnauthorized, err,
		"Kaseya BMS refused to sign in user %q at tenant %q (%s): check the user name, password, tenant and, when the user has MFA, the TOTP secret",
		c.cfg.Username, c.cfg.Tenant, reason)
}
