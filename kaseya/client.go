package kaseya

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// Client is a Kaseya BMS REST v2 client for one integration. It follows the
// contract of package psa; its deviations and extras are documented on the
// methods. Make one with [New] or through [Descriptor] and keep it while
// the integration's settings do not change: it holds the integration's
// access token. It is safe for concurrent use.
type Client struct {
	cfg    Config
	base   string // "https://api.bmsemea.kaseya.com"
	region string
	doer   *psa.Doer
	log    *slog.Logger
	now    func() time.Time
	auth   *tokenSource
	// contacts caches contact reads briefly (GetContact).
	contacts *psa.ContactCache
}

// New returns a client for cfg. It validates cfg and makes no request.
func New(cfg Config, deps psa.Deps) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.normalized()
	base, _ := cfg.apiBase() // checked by Validate
	region := cfg.PhoneRegion
	if region == "" {
		region = "US"
	}
	c := &Client{
		cfg:    cfg,
		base:   base,
		region: region,
		doer:   deps.Doer(),
		log:    deps.Log().With(slog.String("psa", ID), slog.String("tenant", cfg.Tenant)),
		now:    deps.Clock(),

		contacts: psa.NewContactCache(contactTTL, maxCachedContacts),
	}
	perHour := cfg.callsPerHour()
	// BMS counts calls per endpoint: so does our own budget, with room
	// for the bursts of one technician's work.
	c.doer.Limit = psa.NewLimiter(perHour, time.Hour, min(perHour, 40), true)
	c.auth = &tokenSource{c: c}
	return c, nil
}

// BaseURL returns the API base the client calls.
func (c *Client) BaseURL() string { return c.base }

// call is one API request.
type call struct {
	what    string // for messages: "get contact 12"
	op      string // for the call counter, without ids: "GET /v2/crm/contacts/summary/{id}"
	method  string
	path    string // escaped, from /v2
	query   url.Values
	body    any    // sent as JSON; nil for none
	subject string // what a 404 or an empty result is missing: "contact 12"
	// bare: the vendor document declares the answer without the envelope;
	// whether the service wraps it is unconfirmed, so both decode.
	bare bool
}

// envelope is the wrapper of every BMS v2 answer. Go's decoder matches the
// keys case-insensitively, so the vendor document's PascalCase and the
// wire's camelCase both decode.
type envelope struct {
	Success      *bool           `json:"success"`
	Error        *errorInfo      `json:"error"`
	Result       json.RawMessage `json:"result"`
	TotalRecords *int            `json:"totalRecords"`
}

// errorInfo is BMS's ErrorInfo ("stackStrace" sic, which we never log).
type errorInfo struct {
	Code      int      `json:"code"`
	Message   string   `json:"message"`
	Details   string   `json:"details"`
	SubErrors []string `json:"subErrors"`
}

func (e *errorInfo) text() string {
	if e == nil {
		return "no reason given"
	}
	parts := []string{strings.TrimSpace(e.Message)}
	if d := strings.TrimSpace(e.Details); d != "" && d != parts[0] {
		parts = append(parts, d)
	}
	for _, s := range e.SubErrors {
		if s = strings.TrimSpace(s); s != "" {
			parts = append(parts, s)
		}
	}
	s := strings.Join(parts, "; ")
	s = core.ClipBytes(s, 300, core.Ellipsis)
	if s == "" {
		return "no reason given"
	}
	return s
}

// kind maps a success:false error to a core kind by its code, which BMS
// fills with an HTTP-like status.
func (e *errorInfo) kind() core.Kind {
	if e == nil {
		return core.KindUnavailable
	}
	switch {
	case e.Code == http.StatusUnauthorized:
		return core.KindUnauthorized
	case e.Code == http.StatusForbidden:
		return core.KindForbidden
	case e.Code == http.StatusNotFound:
		return core.KindNotFound
	case e.Code == http.StatusConflict:
		return core.KindConflict
	case e.Code == http.StatusTooManyRequests:
		return core.KindRateLimited
	case e.Code >= 500:
		return core.KindUnavailable
	}
	return core.KindInvalid
}

// Error is a BMS answer with success:false, or a failure of the client
// explained in words an admin can act on (the shared [psa.Error]).
type Error = psa.Error

func newError(what string, k core.Kind, cause error, format string, args ...any) error {
	return psa.NewError("kaseya", what, k, cause, format, args...)
}

// do sends cl with the integration's token and decodes its envelope into
// v (the result) and total (totalRecords; nil when not wanted). A 401
// drops the token and retries once with a fresh one.
func (c *Client) do(ctx context.Context, cl call, v any, total *int) error {
	var body []byte
	if cl.body != nil {
		b, err := json.Marshal(cl.body)
		if err != nil {
			return fmt.Errorf("kaseya: %s: %w", cl.what, err)
		}
		body = b
	}
	u := c.base + cl.path
	if len(cl.query) > 0 {
		u += "?" + strings.ReplaceAll(cl.query.Encode(), "+", "%20")
	}
	for attempt := 0; ; attempt++ {
		tok, err := c.auth.token(ctx)
		if err != nil {
			return err
		}
		resp, err := c.doer.Do(ctx, cl.op, func(ctx context.Context) (*http.Request, error) {
			var r io.Reader
			if body != nil {
				r = bytes.NewReader(body)
			}
			req, err := http.NewRequestWithContext(ctx, cl.method, u, r)
			if err != nil {
				return nil, err
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Accept", "application/json")
			if body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			return req, nil
		})
		if err != nil {
			if errors.Is(err, core.ErrUnauthorized) && attempt == 0 {
				// The token expired early or was revoked: one fresh
				// token, one more try, and no more.
				c.auth.drop(tok)
				continue
			}
			return c.fail(cl, err)
		}
		return c.decode(cl, resp, v, total)
	}
}

// decode reads resp's envelope into v and total.
func (c *Client) decode(cl call, resp *http.Response, v any, total *int) error {
	var raw json.RawMessage
	var env envelope
	err := psa.DecodeJSON(resp, &raw)
	if err == nil {
		err = json.Unmarshal(raw, &env)
	}
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("kaseya: %s: %w", cl.what, err)
		}
		return newError(cl.what, core.KindUnavailable, err, "Kaseya BMS at %s sent an answer that is not the JSON it should be: try again later", c.base)
	}
	if cl.bare && env.Success == nil && env.Error == nil && env.Result == nil {
		if err := json.Unmarshal(raw, v); err != nil {
			return newError(cl.what, core.KindUnavailable, err, "Kaseya BMS sent a result that is not the JSON it should be: try again later")
		}
		return nil
	}
	if env.Success == nil || !*env.Success {
		return c.refused(cl, env.Error)
	}
	if total != nil && env.TotalRecords != nil {
		*total = *env.TotalRecords
	}
	if v == nil {
		return nil
	}
	if len(env.Result) == 0 || bytes.Equal(env.Result, []byte("null")) {
		if cl.subject != "" {
			return newError(cl.what, core.KindNotFound, nil, "Kaseya BMS has no %s", cl.subject)
		}
		return nil // an empty list
	}
	if err := json.Unmarshal(env.Result, v); err != nil {
		return newError(cl.what, core.KindUnavailable, err, "Kaseya BMS sent a result that is not the JSON it should be: try again later")
	}
	return nil
}

// refused explains a success:false answer.
func (c *Client) refused(cl call, e *errorInfo) error {
	k := e.kind()
	switch k {
	case core.KindUnauthorized:
		return newError(cl.what, k, nil, "Kaseya BMS refused the integration's sign-in (%s): check the user name, password and tenant on the integration page", e.text())
	case core.KindForbidden:
		return newError(cl.what, k, nil, "the BMS user %q may not do this (%s): give its role the permission in BMS", c.cfg.Username, e.text())
	case core.KindNotFound:
		if cl.subject != "" {
			return newError(cl.what, k, nil, "Kaseya BMS has no %s", cl.subject)
		}
	}
	return newError(cl.what, k, nil, "Kaseya BMS refused it: %s", e.text())
}

// fail explains a transport-level failure of cl.
func (c *Client) fail(cl call, err error) error {
	var he *psa.HTTPError
	if !errors.As(err, &he) {
		return fmt.Errorf("kaseya: %s: %w", cl.what, err)
	}
	// BMS may still send its envelope with a non-2xx status.
	var env envelope
	if json.Unmarshal([]byte(he.Body), &env) == nil && env.Error != nil && env.Error.Message != "" {
		switch he.Status {
		case http.StatusUnauthorized:
			return newError(cl.what, core.KindUnauthorized, err, "Kaseya BMS refused the integration's token (%s): check the user name, password and tenant on the integration page", env.Error.text())
		case http.StatusForbidden:
			return newError(cl.what, core.KindForbidden, err, "the BMS user %q may not do this (%s): give its role the permission in BMS", c.cfg.Username, env.Error.text())
		}
	}
	switch he.Status {
	case http.StatusUnauthorized:
		return newError(cl.what, core.KindUnauthorized, err, "Kaseya BMS refused the integration's token: check the user name, password and tenant on the integration page")
	case http.StatusForbidden:
		return newError(cl.what, core.KindForbidden, err, "the BMS user %q may not do this: give its role the permission in BMS", c.cfg.Username)
	case http.StatusNotFound:
		if cl.subject != "" {
			return newError(cl.what, core.KindNotFound, err, "Kaseya BMS has no %s", cl.subject)
		}
	}
	return fmt.Errorf("kaseya: %s: %w", cl.what, err)
}

// maxPageSize is the largest page BMS serves (an older vendor article says
// 100 objects per request).
const maxPageSize = 100

// maxPages bounds the pages one list follows.
const maxPages = 100

// listAll fetches every page of cl (PageSize and PageNumber from 1), at
// most maxItems records, stopping at a short page or when totalRecords are
// in.
func listAll[T any](ctx context.Context, c *Client, cl call, maxItems int) ([]T, error) {
	q := url.Values{}
	for k, vs := range cl.query {
		q[k] = append([]string(nil), vs...)
	}
	q.Set("PageSize", strconv.Itoa(maxPageSize))
	out := []T{}
	for page := 1; page <= maxPages; page++ {
		q.Set("PageNumber", strconv.Itoa(page))
		cl.query = q
		var items []T
		total := -1
		if err := c.do(ctx, cl, &items, &total); err != nil {
			return nil, err
		}
		if len(items) > maxPageSize {
			return nil, newError(cl.what, core.KindUnavailable, nil, "Kaseya BMS sent %d records for a page of %d: refusing an oversized answer", len(items), maxPageSize)
		}
		out = append(out, items...)
		if len(out) > maxItems {
			return nil, newError(cl.what, core.KindInvalid, nil, "more than %d Kaseya BMS records match: narrow the search", maxItems)
		}
		if len(items) == 0 || (total >= 0 && len(out) >= total) || (total < 0 && len(items) < maxPageSize) {
			return out, nil
		}
	}
	return nil, newError(cl.what, core.KindUnavailable, nil, "Kaseya BMS kept sending pages after %d pages", maxPages)
}

// parseID parses a BMS record id (a positive int32) given as a Ref.
func parseID(kind, ref string) (int, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(ref), 10, 32)
	if err != nil || n < 1 {
		return 0, core.Errorf(core.KindInvalid, "%q is not a Kaseya BMS %s id", ref, kind)
	}
	return int(n), nil
}

func jsonUnmarshal(b []byte, v any) error {
	if len(b) == 0 {
		return errors.New("empty")
	}
	return json.Unmarshal(b, v)
}
