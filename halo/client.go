package halo

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

// Client is a Halo REST client for one integration. It follows the
// contract of package psa; its deviations and extras are documented on the
// methods. Make one with [New] or through [Descriptor] and keep it while
// the integration's settings stay the same: it caches its token, the
// authorisation server it found and the instance's outcomes. It is safe
// for concurrent use.
type Client struct {
	cfg       Config
	doer      *psa.Doer
	retry     psa.RetryPolicy
	tokenHTTP *http.Client
	httpc     *http.Client
	calls     psa.CallCounter
	log       *slog.Logger
	now       func() time.Time
	auth      *authState
	agent     *agentState // Halo agent sign-in (agentlogin.go)
}

// New returns a client for cfg. It validates cfg and makes no request.
func New(cfg Config, deps psa.Deps) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.normalized()
	return &Client{
		cfg:       cfg,
		doer:      deps.Doer(),
		retry:     deps.Retry,
		tokenHTTP: tokenClient(deps.HTTP(), deps.Calls),
		httpc:     deps.HTTP(),
		calls:     deps.Calls,
		log:       deps.Log().With(slog.String("psa", ID), slog.String("instance", cfg.InstanceURL)),
		now:       deps.Clock(),
		auth:      newAuthState(cfg),
		agent:     newAgentState(),
	}, nil
}

// InstanceURL returns the Halo instance the client talks to.
func (c *Client) InstanceURL() string { return c.cfg.InstanceURL }

// LearnedSettings implements [psa.SettingsLearner]: the authorisation
// server and tenant /api/authinfo named, once a call has found them, so
// that later clients skip the question (a cold pod load is one call
// cheaper).
func (c *Client) LearnedSettings() map[string]string {
	select {
	case c.auth.sem <- struct{}{}:
	default:
		return nil // a token fetch is under way; nothing settled yet
	}
	defer func() { <-c.auth.sem }()
	if !c.auth.resolved || c.cfg.AuthURL != "" {
		return nil
	}
	m := map[string]string{"auth_url": c.auth.authURL}
	if c.cfg.Tenant == "" && c.auth.tenant != "" {
		m["tenant"] = c.auth.tenant
	}
	return m
}

// call is one REST request.
type call struct {
	what   string // for messages: "get user 12"
	op     string // for the call counter, without ids: "GET /api/Users/{id}"
	method string
	path   string // after /api, escaped: "/Users/12"
	query  url.Values
	body   any // sent as JSON; nil for none

	subject string // what a 404 is missing: "user 12"; "" for lists
	area    string // the permission the call needs, for 403s: "reading users (read:customers)"
}

// send makes cl with a bearer token and returns the 2xx response, whose
// body the caller closes. A 401 drops the token. When the token came from
// the cache (revoked or expired early), the call is made once more with a
// new one, and no more: a 401 to a token fetched for this very call means
// the application itself is refused, and retrying would only repeat it. A
// refused request was not processed, so even a POST may be repeated.
func (c *Client) send(ctx context.Context, cl call) (*http.Response, error) {
	var body []byte
	if cl.body != nil {
		b, err := json.Marshal(cl.body)
		if err != nil {
			return nil, fmt.Errorf("halo: %s: %w", cl.what, err)
		}
		body = b
	}
	u := c.cfg.apiBase() + cl.path
	if len(cl.query) > 0 {
		u += "?" + strings.ReplaceAll(cl.query.Encode(), "+", "%20")
	}
	for attempt := 0; ; attempt++ {
		tok, fresh, err := c.bearer(ctx)
		if err != nil {
			return nil, c.wrapWhat(cl.what, err)
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
			req.Header.Set("Accept", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok)
			if body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			return req, nil
		})
		if err == nil {
			return resp, nil
		}
		var he *psa.HTTPError
		if errors.As(err, &he) && he.Status == http.StatusUnauthorized {
			// Whatever happens next, this token is done with.
			c.dropToken(ctx, tok)
			if attempt == 0 && !fresh {
				c.log.InfoContext(ctx, "halo refused the cached token; fetching a new one", slog.String("op", cl.op))
				continue
			}
		}
		return nil, c.fail(cl, err)
	}
}

// getJSON sends cl and decodes its JSON answer into v.
func (c *Client) getJSON(ctx context.Context, cl call, v any) error {
	resp, err := c.send(ctx, cl)
	if err != nil {
		return err
	}
	if err := psa.DecodeJSON(resp, v); err != nil {
		return c.decodeFail(cl.what, err)
	}
	return nil
}

// post sends cl (a POST of a one-element array, as Halo wants every
// create and update) and decodes the record Halo answers with into v:
// an object, an array holding it, or — v nil — anything at all. Which of
// the two Halo sends is unconfirmed (reference, Conventions), so both are
// read.
func (c *Client) post(ctx context.Context, cl call, v any) error {
	resp, err := c.send(ctx, cl)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("halo: %s: %w", cl.what, ctx.Err())
		}
		return newError(cl.what, core.KindUnavailable, err, "the answer from Halo broke off: check the record in Halo before trying again")
	}
	if v == nil {
		return nil
	}
	if err := decodeLenient(b, v); err != nil {
		return newError(cl.what, core.KindUnavailable, err, "Halo saved the record but its answer is not the JSON it should be")
	}
	return nil
}

// decodeLenient decodes b, a JSON object or an array whose first element
// is the object, into v.
func decodeLenient(b []byte, v any) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(b, &items); err != nil {
			return err
		}
		if len(items) == 0 {
			return errors.New("an empty array")
		}
		b = items[0]
	}
	return json.Unmarshal(b, v)
}

// decodeFail explains a body that did not decode.
func (c *Client) decodeFail(what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("halo: %s: %w", what, err)
	}
	return newError(what, core.KindUnavailable, err, "Halo at %s sent an answer that is not the JSON it should be: try again later", c.hostOf(c.cfg.InstanceURL))
}

// Limits of lists.
const (
	defaultPageSize = 100
	maxPageSize     = 500
	maxPages        = 100
)

// errTooMany is the cause of a list that stopped at its item limit.
var errTooMany = errors.New("too many records")

// listAll fetches every page of cl: pageinate=true (sic), page_size and
// page_no from 1, each answer wrapped as {"record_count": n, key: […]}.
// It stops when record_count records are in (or, when Halo sends no
// record_count, at a short page) or at an empty page, and refuses pages larger than asked for and lists longer than
// maxItems.
func listAll[T any](ctx context.Context, c *Client, cl call, key string, pageSize, maxItems int) ([]T, error) {
	q := url.Values{}
	for k, vs := range cl.query {
		q[k] = append([]string(nil), vs...)
	}
	q.Set("pageinate", "true")
	q.Set("page_size", strconv.Itoa(pageSize))
	out := []T{}
	for page := 1; page <= maxPages; page++ {
		q.Set("page_no", strconv.Itoa(page))
		cl.query = q
		var raw map[string]json.RawMessage
		if err := c.getJSON(ctx, cl, &raw); err != nil {
			return nil, err
		}
		items, total, err := unwrapList[T](raw, key)
		if err != nil {
			return nil, c.decodeFail(cl.what, err)
		}
		if len(items) > pageSize {
			return nil, newError(cl.what, core.KindUnavailable, nil, "Halo sent %d records for a page of %d: refusing an oversized answer", len(items), pageSize)
		}
		out = append(out, items...)
		if len(out) > maxItems {
			return nil, newError(cl.what, core.KindInvalid, errTooMany, "more than %d Halo records match: narrow the search", maxItems)
		}
		// record_count decides when it is there: a server may cap pages
		// below what was asked. Without it, a short page is the last.
		if len(items) == 0 || (total >= 0 && len(out) >= total) || (total < 0 && len(items) < pageSize) {
			return out, nil
		}
	}
	return nil, newError(cl.what, core.KindUnavailable, nil, "Halo kept sending pages after %d pages", maxPages)
}

// unwrapList reads a list answer: the array under key, and record_count
// (-1 when absent).
func unwrapList[T any](raw map[string]json.RawMessage, key string) ([]T, int, error) {
	total := -1
	if rc, ok := raw["record_count"]; ok {
		var n flexInt
		if err := json.Unmarshal(rc, &n); err != nil {
			return nil, 0, fmt.Errorf("record_count: %w", err)
		}
		total = int(n)
	}
	arr, ok := raw[key]
	if !ok {
		if total == 0 {
			return []T{}, 0, nil
		}
		return nil, 0, fmt.Errorf("the answer has no %q list", key)
	}
	var items []T
	if err := json.Unmarshal(arr, &items); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", key, err)
	}
	return items, total, nil
}

// flexInt decodes an integer id written as 34, 34.0 or "34": Halo declares
// some ids as doubles (Users.site_id) and others as integers, and a
// decoder that insists on one breaks on the other.
type flexInt int

func (n *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(strings.TrimSpace(string(b)), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != float64(int64(f)) || f > 1<<31 || f < -(1<<31) {
		return fmt.Errorf("%s is not an integer id", short(s))
	}
	*n = flexInt(int64(f))
	return nil
}

// parseID parses a Halo record id (a positive int32) given as a Ref.
func parseID(kind, ref string) (int, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(ref), 10, 32)
	if err != nil || n < 1 {
		return 0, core.Errorf(core.KindInvalid, "%q is not a Halo %s id", short(ref), kind)
	}
	return int(n), nil
}

// hostOf returns the host of u, for messages.
func (c *Client) hostOf(u string) string {
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		return p.Host
	}
	return u
}
