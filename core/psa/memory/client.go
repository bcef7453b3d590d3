package memory

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// Client talks to a memory PSA [Server]. It follows the contract of package
// psa without deviations. Make one with [New] or through [Descriptor].
type Client struct {
	base   *url.URL // BaseURL with "/api/v1" appended
	apiKey string
	secret string // the webhook secret
	doer   *psa.Doer
	now    func() time.Time
}

// maxPages bounds the pages one call follows, so that a server that keeps
// sending rel="next" cannot loop a client forever.
const maxPages = 1000

// New returns a client for cfg. It validates cfg and makes no request.
func New(cfg Config, deps psa.Deps) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	u, _ := url.Parse(cfg.BaseURL) // Validate parsed it
	u = u.JoinPath("/api/v1")
	if !strings.HasPrefix(u.Path, "/") {
		u.Path = "/" + u.Path // JoinPath on a URL with an empty path leaves it relative
	}
	return &Client{base: u, apiKey: cfg.APIKey, secret: cfg.WebhookSecret, doer: deps.Doer(), now: deps.Clock()}, nil
}

// Check asks the server who the API key belongs to, which needs a working
// key and nothing else.
func (c *Client) Check(ctx context.Context) error {
	_, err := c.IdentifyMember(ctx)
	return err
}

// get sends GET path?q and decodes the JSON answer into v, returning the
// response headers (for Link paging). op names the route without ids.
func (c *Client) get(ctx context.Context, op, path string, q url.Values, v any) (http.Header, error) {
	u := c.base.JoinPath(path)
	u.RawQuery = q.Encode()
	resp, err := c.doer.Do(ctx, op, func(ctx context.Context) (*http.Request, error) {
		return c.request(ctx, http.MethodGet, u.String(), nil)
	})
	if err != nil {
		return nil, err
	}
	if err := psa.DecodeJSON(resp, v); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return resp.Header, nil
}

// patch sends in as JSON to path with PATCH and discards the answer.
func (c *Client) patch(ctx context.Context, op, path string, in any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	u := c.base.JoinPath(path)
	resp, err := c.doer.Do(ctx, op, func(ctx context.Context) (*http.Request, error) {
		return c.request(ctx, http.MethodPatch, u.String(), bytes.NewReader(body))
	})
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// post sends in as JSON to path and decodes the answer into out (nil to
// discard it).
func (c *Client) post(ctx context.Context, op, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	u := c.base.JoinPath(path)
	resp, err := c.doer.Do(ctx, op, func(ctx context.Context) (*http.Request, error) {
		return c.request(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	})
	if err != nil {
		return err
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil
	}
	if err := psa.DecodeJSON(resp, out); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

func (c *Client) request(ctx context.Context, method, u string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// nextCursor returns the cursor of the rel="next" link in h, or "". The
// link must be on our host and name resource (a path under the API base,
// "contacts"), compared without regard to the host's case, duplicate
// slashes or a trailing slash; a link to another host or path is refused:
// following it would send our API key there.
func (c *Client) nextCursor(h http.Header, op, resource string) (string, error) {
	next := psa.NextLink(h)
	if next == "" {
		return "", nil
	}
	u, err := url.Parse(next)
	if err != nil || !strings.EqualFold(u.Host, c.base.Host) || canonicalPath(u.Path) != canonicalPath(c.base.Path+"/"+resource) {
		return "", fmt.Errorf("%s: next page link %q is not on %s: %w", op, next, c.base.Host, core.ErrUnavailable)
	}
	cur := u.Query().Get("cursor")
	if cur == "" {
		return "", fmt.Errorf("%s: next page link %q has no cursor: %w", op, next, core.ErrUnavailable)
	}
	return cur, nil
}

// canonicalPath is p with runs of slashes collapsed and no trailing slash.
func canonicalPath(p string) string {
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	return p
}
