package connectwise

import (
	"bytes"
	"context"
	"encoding/base64"
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

// APIVersion is the ConnectWise REST API version the client speaks, pinned
// in every request's Accept header (reference §2.4). It changes in the same
// commit as the contract file it was tested against
// (shared/contracts/connectwise/manage-2025.1.json).
const APIVersion = "2025.1"

// acceptHeader pins the model version; without it ConnectWise answers with
// its newest models.
const acceptHeader = "application/vnd.connectwise.com+json; version=" + APIVersion

// How long discovered facts are trusted. The codebase changes when a cloud
// tenant is upgraded; a 404 that ConnectWise could not route re-discovers it
// at once, so the TTL only bounds how stale an unused value can get.
const (
	codebaseTTL  = 12 * time.Hour
	commTypesTTL = time.Hour
)

// Client is a ConnectWise PSA REST client for one integration. It follows
// the contract of package psa; its deviations and extras are documented on
// the methods. Make one with [New] or through [Descriptor] and keep it for
// as long as the integration's settings do not change: it caches the
// tenant's codebase and communication types, so that a warm pod load costs
// one call per record read. It is safe for concurrent use.
type Client struct {
	cfg     Config
	apiHost string
	region  string // for phone numbers stored without a country code
	doer    *psa.Doer
	log     *slog.Logger
	now     func() time.Time
	member  *MemberAuth // nil: the API member's keys
	st      *state      // shared with clients made by WithMember
}

// state is what a Client learns about its tenant, shared by the clients
// WithMember derives from it.
type state struct {
	mu          sync.Mutex
	codebase    string // "v2025_1/"; "" until discovered
	codebaseAt  time.Time
	pinned      bool          // codebase came from Config.Codebase: no TTL, only a routing 404 drops it
	discovering chan struct{} // closed when the discovery under way ends
	types       []commType
	typesAt     time.Time
	memberForm  authForm // the member-auth form that last worked; 0 when unknown
	proofs      proofCache
	callbacks   callbackState // signing keys of callbacks (callbacks.go)
}

// New returns a client for cfg. It validates cfg and makes no request.
func New(cfg Config, deps psa.Deps) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.normalized()
	region := cfg.PhoneRegion
	if region == "" {
		region = "US"
	}
	return &Client{
		cfg:     cfg,
		apiHost: cfg.apiHost(),
		region:  region,
		doer:    deps.Doer(),
		log:     deps.Log().With(slog.String("psa", ID), slog.String("site", cfg.Site), slog.String("company_id", cfg.CompanyID)),
		now:     deps.Clock(),
		st:      &state{codebase: cfg.Codebase, pinned: cfg.Codebase != ""},
	}, nil
}

// APIHost returns the host the client sends REST calls to.
func (c *Client) APIHost() string { return c.apiHost }

// call is one REST request.
type call struct {
	what   string // for messages: "get contact 12"
	op     string // for the call counter, without ids: "GET /company/contacts/{id}"
	method string
	path   string // after /apis/3.0, already escaped: "/company/contacts/12"
	query  url.Values
	body   any // sent as JSON; nil for none
	header http.Header

	host    string // for messages: the host called; "" means the API host
	subject string // what a 404 is missing: "contact 12"; "" for lists
	area    string // the security-role permission the call needs, for 403s
}

// baseURL returns the REST base for codebase.
func (c *Client) baseURL(codebase string) string {
	return "https://" + c.apiHost + "/" + codebase + "apis/3.0"
}

// send makes cl, discovering the codebase first, and returns the 2xx
// response, whose body the caller closes. When ConnectWise cannot route the
// request (the codebase changed under a cached value) it re-discovers and
// tries once more: such a request was not processed, so even a note POST
// may be repeated.
func (c *Client) send(ctx context.Context, cl call) (*http.Response, error) {
	var body []byte
	if cl.body != nil {
		b, err := json.Marshal(cl.body)
		if err != nil {
			return nil, fmt.Errorf("connectwise: %s: %w", cl.what, err)
		}
		body = b
	}
	for attempt := 0; ; attempt++ {
		codebase, err := c.codebase(ctx)
		if err != nil {
			return nil, c.wrapWhat(cl.what, err)
		}
		resp, err := c.sendAuth(ctx, cl, codebase, body)
		if err == nil {
			return resp, nil
		}
		var he *psa.HTTPError
		if errors.As(err, &he) && he.Status == http.StatusNotFound && isRoutingFailure(he.Body) {
			if attempt == 0 {
				changed, derr := c.rediscover(ctx, codebase)
				if derr != nil {
					return nil, c.wrapWhat(cl.what, derr)
				}
				if changed {
					c.log.InfoContext(ctx, "connectwise codebase changed; retrying", slog.String("op", cl.op))
					continue
				}
			}
			return nil, newError(cl.what, core.KindUnavailable, err,
				"ConnectWise could not route the request to company %q on %s (codebase %s): check the site and company id; on ConnectWise's cloud, wrong API keys can also cause this",
				c.cfg.CompanyID, c.apiHost, strings.TrimSuffix(codebase, "/"))
		}
		return nil, c.fail(cl, err)
	}
}

// sendAuth sends cl with the client's credentials. A member client tries
// the member-auth forms of reference §2.5 in turn until one is accepted,
// and remembers it for the tenant.
func (c *Client) sendAuth(ctx context.Context, cl call, codebase string, body []byte) (*http.Response, error) {
	u := c.baseURL(codebase) + cl.path
	if len(cl.query) > 0 {
		// url.Values writes a space as "+"; a real "+" is already "%2B", so
		// this leaves no doubt about how the server decodes spaces
		// (reference §5.2).
		u += "?" + strings.ReplaceAll(cl.query.Encode(), "+", "%20")
	}
	if c.member == nil {
		return c.doer.Do(ctx, cl.op, c.builder(cl, u, body, formAPIKey))
	}
	c.st.mu.Lock()
	known := c.st.memberForm
	c.st.mu.Unlock()
	forms := memberForms(known)
	var lastErr error
	for _, f := range forms {
		resp, err := c.doer.Do(ctx, cl.op, c.builder(cl, u, body, f))
		if err == nil {
			if f != known {
				c.st.mu.Lock()
				c.st.memberForm = f
				c.st.mu.Unlock()
			}
			return resp, nil
		}
		lastErr = err
		var he *psa.HTTPError
		if !errors.As(err, &he) || he.Status != http.StatusUnauthorized {
			return nil, err
		}
	}
	return nil, lastErr
}

// builder returns the request factory the psa.Doer calls once per attempt.
func (c *Client) builder(cl call, u string, body []byte, form authForm) func(ctx context.Context) (*http.Request, error) {
	return func(ctx context.Context) (*http.Request, error) {
		var r io.Reader
		if body != nil {
			r = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, cl.method, u, r)
		if err != nil {
			return nil, err
		}
		for k, v := range cl.header {
			req.Header[k] = v
		}
		req.Header.Set("Accept", acceptHeader)
		req.Header.Set("clientId", c.cfg.ClientID)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		c.authorize(req, form)
		return req, nil
	}
}

// authForm is how a request proves who sends it.
type authForm int

const (
	formAPIKey             authForm = iota // Basic companyId+publicKey:privateKey
	formMemberCookie                       // Cookie: companyName, memberId, memberHash, memberContext
	formMemberBasic                        // Basic companyId+memberId:memberHash
	formMemberCookieEscape                 // the cookie form with URL-encoded values
	formMemberCookieNoCtx                  // the cookie form without memberContext
)

// memberForms returns the member-auth forms to try, the one known to work
// first. ConnectWise documents more than one and which a tenant accepts is
// unconfirmed (reference §2.5), so we try them all, in the order a working
// public implementation uses.
func memberForms(known authForm) []authForm {
	all := []authForm{formMemberCookie, formMemberBasic, formMemberCookieEscape, formMemberCookieNoCtx}
	if known == formAPIKey {
		return all
	}
	out := []authForm{known}
	for _, f := range all {
		if f != known {
			out = append(out, f)
		}
	}
	return out
}

func (c *Client) authorize(req *http.Request, form authForm) {
	basic := func(user, pass string) {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	}
	m := c.member
	switch form {
	case formAPIKey:
		basic(c.cfg.CompanyID+"+"+c.cfg.PublicKey, c.cfg.PrivateKey)
	case formMemberBasic:
		basic(c.cfg.CompanyID+"+"+m.MemberID, m.Hash)
	case formMemberCookie, formMemberCookieNoCtx:
		v := "companyName=" + c.cfg.CompanyID + "; memberId=" + m.MemberID + "; memberHash=" + m.Hash
		if form == formMemberCookie {
			v += "; memberContext=" + m.Context
		}
		req.Header.Set("Cookie", v)
	case formMemberCookieEscape:
		e := url.QueryEscape
		req.Header.Set("Cookie", "companyName="+e(c.cfg.CompanyID)+"; memberId="+e(m.MemberID)+
			"; memberHash="+e(m.Hash)+"; memberContext="+e(m.Context))
	}
}

// getJSON sends cl and decodes its JSON answer into v, returning the
// response headers (for paging).
func (c *Client) getJSON(ctx context.Context, cl call, v any) (http.Header, error) {
	resp, err := c.send(ctx, cl)
	if err != nil {
		return nil, err
	}
	if err := psa.DecodeJSON(resp, v); err != nil {
		return nil, c.decodeFail(cl.what, err)
	}
	return resp.Header, nil
}

// decodeFail explains a body that did not decode.
func (c *Client) decodeFail(what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("connectwise: %s: %w", what, err)
	}
	return newError(what, core.KindUnavailable, err, "ConnectWise at %s sent an answer that is not the JSON it should be: try again later", c.apiHost)
}

// errTooMany is the cause of a list that stopped at its item limit.
var errTooMany = errors.New("too many records")

// maxPages bounds the pages one list follows, so that a server that keeps
// sending rel="next" cannot loop a client forever.
const maxPages = 100

// listAll fetches every page of cl (navigable paging: page and pageSize,
// following rel="next"), at most maxItems records. Each page must hold at
// most pageSize records: a bigger one is a misbehaving server, refused
// before it can fill memory page after page.
func listAll[T any](ctx context.Context, c *Client, cl call, pageSize, maxItems int) ([]T, error) {
	q := cloneValues(cl.query)
	q.Set("pageSize", strconv.Itoa(pageSize))
	out := []T{}
	for page := 1; page <= maxPages; page++ {
		q.Set("page", strconv.Itoa(page))
		cl.query = q
		var items []T
		h, err := c.getJSON(ctx, cl, &items)
		if err != nil {
			return nil, err
		}
		if len(items) > pageSize {
			return nil, newError(cl.what, core.KindUnavailable, nil,
				"ConnectWise sent %d records for a page of %d: refusing an oversized answer", len(items), pageSize)
		}
		out = append(out, items...)
		if len(out) > maxItems {
			return nil, newError(cl.what, core.KindInvalid, errTooMany,
				"more than %d ConnectWise records match: narrow the search", maxItems)
		}
		next, err := c.nextPage(h, cl)
		if err != nil {
			return nil, err
		}
		if next == 0 {
			return out, nil
		}
		if next != page+1 {
			return nil, newError(cl.what, core.KindUnavailable, nil, "ConnectWise's next-page link skips from page %d to %d", page, next)
		}
	}
	return nil, newError(cl.what, core.KindUnavailable, nil, "ConnectWise kept sending next pages after %d pages", maxPages)
}

// nextPage returns the page number of h's rel="next" link, or 0 on the last
// page. The link must point at the same host and resource: we never follow
// a URL a response hands us (it could send our keys elsewhere), we only
// read the page number from it.
func (c *Client) nextPage(h http.Header, cl call) (int, error) {
	u, err := c.nextLink(h, cl)
	if err != nil || u == nil {
		return 0, err
	}
	n, err := strconv.Atoi(u.Query().Get("page"))
	if err != nil || n < 1 {
		return 0, newError(cl.what, core.KindUnavailable, nil, "ConnectWise's next-page link has no page number")
	}
	return n, nil
}

// nextLink returns h's rel="next" link, checked to be on the API host and
// on cl's resource, or nil. Host and path are compared in a canonical form
// ([samePage]): ConnectWise writes its links with a trailing slash before
// the query ("…/company/contacts/?page=2"), sometimes with a double slash
// after the codebase, and with the host in whatever case it was called.
func (c *Client) nextLink(h http.Header, cl call) (*url.URL, error) {
	next := psa.NextLink(h)
	if next == "" {
		return nil, nil
	}
	u, err := url.Parse(next)
	if err != nil || !c.samePage(u, cl.path) {
		return nil, newError(cl.what, core.KindUnavailable, nil, "ConnectWise's next-page link does not point back at %s%s", c.apiHost, cl.path)
	}
	return u, nil
}

// samePage reports whether u is https on the API host and names the REST
// resource path (after /apis/3.0) under at most one leading codebase
// segment. Case of the host, a default port, duplicate slashes and a
// trailing slash make no difference; any other host, scheme or path does.
func (c *Client) samePage(u *url.URL, path string) bool {
	if u.Scheme != "https" || u.User != nil || canonicalHost(u.Host) != canonicalHost(c.apiHost) {
		return false
	}
	got, want := canonicalPath(u.Path), canonicalPath("/apis/3.0"+path)
	if got == want {
		return true
	}
	codebase, rest, ok := strings.Cut(strings.TrimPrefix(got, "/"), "/")
	return ok && codebase != "" && codebase != "apis" && "/"+rest == want
}

// canonicalHost is h lower-cased, without the default https port.
func canonicalHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(h), ":443")
}

// canonicalPath is p with runs of slashes collapsed and no trailing slash.
func canonicalPath(p string) string {
	p = collapseSlashes(p)
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	return p
}

func collapseSlashes(p string) string {
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	return p
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// parseID parses a ConnectWise record id (a positive int32) given as a Ref.
func parseID(kind, ref string) (int, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(ref), 10, 32)
	if err != nil || n < 1 {
		return 0, core.Errorf(core.KindInvalid, "%q is not a ConnectWise %s id", ref, kind)
	}
	return int(n), nil
}
