package autotask

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
	"sync"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// Client is an Autotask REST client for one integration. It follows the
// contract of package psa; its deviations and extras are documented on the
// methods. Make one with [New] or through [Descriptor] and keep it for as
// long as the integration's settings do not change: it caches the zone,
// companies and picklists. It is safe for concurrent use.
type Client struct {
	cfg      Config
	region   string
	doer     *psa.Doer
	log      *slog.Logger
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error
	budget   *Budget
	resource int64  // ImpersonationResourceId on writes; 0 means the API user
	st       *state // shared with clients made by AsResource
}

// state is what a Client learns about its database, shared by the clients
// AsResource derives from it.
type state struct {
	mu          sync.Mutex
	zone        zoneInfo
	discovering chan struct{} // closed when the discovery under way ends
	companies   map[int64]cachedCompany
	fields      map[string]cachedFields // entity information by entity
	resources   map[string]cachedResource
	ambiguous   map[string]bool // notes (ticket + text) whose last POST may have been written
	apiUser     int64           // the API user's resource id, 0 until read
	apiUserAt   time.Time
}

// New returns a client for cfg with budgets of its own. It validates cfg
// and makes no request. Clients that should share a database's budget
// come from one [Descriptor].
func New(cfg Config, deps psa.Deps) (*Client, error) {
	return newClient(cfg, deps, NewBudgets())
}

func newClient(cfg Config, deps psa.Deps, budgets *Budgets) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.normalized()
	region := cfg.PhoneRegion
	if region == "" {
		region = "US"
	}
	budget := budgets.For(cfg.UserName)
	base := deps.HTTP()
	rt := base.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	hc := &http.Client{
		Transport: &limitTransport{base: rt, budget: budget},
		Timeout:   base.Timeout,
		Jar:       nil,
		// A redirect could carry the credential headers to another host.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	deps.HTTPClient = hc
	sleep := deps.Retry.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	c := &Client{
		cfg:    cfg,
		region: region,
		doer:   deps.Doer(),
		log:    deps.Log().With(slog.String("psa", ID), slog.String("username", cfg.UserName)),
		now:    deps.Clock(),
		sleep:  sleep,
		budget: budget,
		st:     &state{companies: map[int64]cachedCompany{}, fields: map[string]cachedFields{}, resources: map[string]cachedResource{}},
	}
	if cfg.ZoneURL != "" {
		u, _ := zoneBase(cfg.ZoneURL) // checked by Validate
		c.st.zone = zoneInfo{base: u, web: cfg.WebURL, pinned: true}
	}
	return c, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Budget returns the API budget the client shares with the other clients
// of its database.
func (c *Client) Budget() *Budget { return c.budget }

// AsResource returns a client that creates and updates records as the
// Autotask resource with ref (ImpersonationResourceId), sharing c's caches
// and budget. Only pass the resource mapped to a technician Countersign
// authenticated itself — never a resourceid from an Insight URL, which
// anyone can edit. When Autotask refuses to impersonate (the API user lacks
// the permission, or the resource's security level forbids it), writes
// fall back to the API user and say so in the log.
func (c *Client) AsResource(ref string) (*Client, error) {
	id, err := parseID("resource", ref)
	if err != nil {
		return nil, err
	}
	cp := *c
	cp.resource = id
	cp.log = c.log.With(slog.Int64("resource", id))
	return &cp, nil
}

// call is one REST request.
type call struct {
	what   string // for messages: "get contact 12"
	op     string // for the call counter, without ids: "GET /V1.0/Contacts/{id}"
	method string
	path   string // after the zone's API base, escaped: "V1.0/Contacts/12"
	url    string // an absolute URL instead of path (a next page), already checked
	query  url.Values
	body   []byte // JSON; nil for none

	subject     string // what a 404 is missing: "contact 12"; "" for lists
	area        string // what the API user needs, for 403s: "reading contacts"
	impersonate bool   // a write that carries ImpersonationResourceId on a resource client
}

// jsonBody marshals v for a call.
func jsonBody(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("autotask: marshal %T: %v", v, err)) // our own types: a bug
	}
	return b
}

// send makes cl against the zone and returns the 2xx response, whose body
// the caller closes. A 401 from a zone that was not just discovered
// discovers it again, and repeats the request once when the zone moved: a
// request the wrong zone refused was not processed.
func (c *Client) send(ctx context.Context, cl call) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		z, err := c.zone(ctx)
		if err != nil {
			return nil, wrapWhat(cl.what, err)
		}
		u := cl.url
		if u == "" {
			u = z.base.String() + cl.path
			if len(cl.query) > 0 {
				u += "?" + strings.ReplaceAll(cl.query.Encode(), "+", "%20")
			}
		}
		resp, err := c.doer.Do(ctx, cl.op, c.builder(cl, u, cl.impersonate && c.resource != 0))
		if err == nil {
			return resp, nil
		}
		var he *psa.HTTPError
		if errors.As(err, &he) {
			if he.Status == http.StatusUnauthorized && attempt == 0 && cl.url == "" {
				if moved, derr := c.rediscover(ctx, z); derr == nil && moved {
					c.log.InfoContext(ctx, "autotask zone changed; retrying", slog.String("op", cl.op))
					continue
				}
			}
			if cl.impersonate && c.resource != 0 && isImpersonationError(parseErrors([]byte(he.Body))) {
				// Autotask refused the impersonation, and with it the
				// request: send it again as the API user.
				c.log.WarnContext(ctx, "autotask refused impersonation; writing as the API user",
					slog.String("op", cl.op), slog.String("errors", detail(parseErrors([]byte(he.Body)))))
				resp, err = c.doer.Do(ctx, cl.op, c.builder(cl, u, false))
				if err == nil {
					return resp, nil
				}
			}
		}
		return nil, c.fail(cl, z.base.Host, err)
	}
}

// builder returns the request factory the psa.Doer calls once per attempt.
func (c *Client) builder(cl call, u string, impersonate bool) func(ctx context.Context) (*http.Request, error) {
	return func(ctx context.Context) (*http.Request, error) {
		var r io.Reader
		if cl.body != nil {
			r = bytes.NewReader(cl.body)
		}
		req, err := http.NewRequestWithContext(ctx, cl.method, u, r)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("ApiIntegrationCode", c.cfg.IntegrationCode)
		req.Header.Set("UserName", c.cfg.UserName)
		req.Header.Set("Secret", c.cfg.Secret)
		if cl.body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if impersonate {
			req.Header.Set("ImpersonationResourceId", strconv.FormatInt(c.resource, 10))
		}
		return req, nil
	}
}

// maxBody is the largest answer read; Autotask pages of 500 records are
// well under it.
const maxBody = 32 << 20

// do sends cl and decodes its JSON answer into v (nil to discard it). A
// 2xx whose body carries a non-empty errors[] is a failure: Autotask has
// been seen to answer refusals that way.
func (c *Client) do(ctx context.Context, cl call, v any) error {
	resp, err := c.send(ctx, cl)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("autotask: %s: %w", cl.what, ctx.Err())
		}
		return newError(cl.what, core.KindUnavailable, err, "Autotask's answer broke off: try again later")
	}
	if len(b) > maxBody {
		return newError(cl.what, core.KindUnavailable, nil, "Autotask sent an answer larger than %d bytes", maxBody)
	}
	if errs := parseErrors(b); len(errs) > 0 {
		kind := core.KindUnavailable
		if cl.method != http.MethodGet {
			kind = core.KindInvalid
		}
		e := newError(cl.what, kind, nil, "Autotask refused: %s", detail(errs))
		e.Status, e.Errors = resp.StatusCode, errs
		return e
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return newError(cl.what, core.KindUnavailable, fmt.Errorf("%w: %w", core.ErrUnavailable, err),
			"Autotask sent an answer that is not the JSON it should be: try again later")
	}
	return nil
}

// parseID parses an Autotask record id (a positive int64) given as a Ref.
func parseID(kind, ref string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(ref), 10, 64)
	if err != nil || n < 1 {
		return 0, core.Errorf(core.KindInvalid, "%q is not an Autotask %s id", ref, kind)
	}
	return n, nil
}

func idRef(id int64) string { return strconv.FormatInt(id, 10) }
