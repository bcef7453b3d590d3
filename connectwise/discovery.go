package connectwise

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// companyInfo is the answer of GET /login/companyinfo/{companyId}, in
// PascalCase (reference §1):
//
//	{"CompanyName":"Acme MSP","Codebase":"v2025_1/","VersionCode":"v2025.1",
//	 "VersionNumber":"v4.6.xxxxx","CompanyID":"acmemsp","IsCloud":"True"}
type companyInfo struct {
	CompanyName string   `json:"CompanyName"`
	Codebase    string   `json:"Codebase"`
	VersionCode string   `json:"VersionCode"`
	CompanyID   string   `json:"CompanyID"`
	IsCloud     flexBool `json:"IsCloud"`
}

// flexBool decodes true, "True" and "true": the official example sends
// IsCloud as a string.
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	switch t := v.(type) {
	case bool:
		*b = flexBool(t)
	case string:
		*b = flexBool(strings.EqualFold(t, "true"))
	}
	return nil
}

// codebasePattern is what a codebase may look like before it goes into a
// URL path: "v2025_1/", "v4_6_release/".
var codebasePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}/$`)

// codebase returns the tenant's codebase, discovering it when the cached
// one is missing or stale. Concurrent callers share one discovery.
func (c *Client) codebase(ctx context.Context) (string, error) {
	for {
		st := c.st
		st.mu.Lock()
		if st.codebase != "" && (st.pinned || c.now().Sub(st.codebaseAt) < codebaseTTL) {
			cb := st.codebase
			st.mu.Unlock()
			return cb, nil
		}
		if ch := st.discovering; ch != nil {
			st.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return "", fmt.Errorf("connectwise: discover codebase: %w", ctx.Err())
			}
		}
		ch := make(chan struct{})
		st.discovering = ch
		st.mu.Unlock()

		info, err := c.discover(ctx)

		st.mu.Lock()
		st.discovering = nil
		if err == nil {
			st.codebase, st.codebaseAt = info.Codebase, c.now()
		}
		st.mu.Unlock()
		close(ch)
		if err != nil {
			return "", err
		}
		c.log.InfoContext(ctx, "connectwise codebase discovered",
			slog.String("codebase", info.Codebase), slog.String("version", info.VersionCode), slog.Bool("cloud", bool(info.IsCloud)))
		return info.Codebase, nil
	}
}

// Codebase returns the tenant's codebase ("v2025_1/"), discovering it
// unless the client has it. Setting up an integration stores it in
// [Config.Codebase], so that later clients start without discovery.
func (c *Client) Codebase(ctx context.Context) (string, error) { return c.codebase(ctx) }

// rediscover drops the cached codebase if it is still stale, discovers it
// again, and reports whether it changed.
func (c *Client) rediscover(ctx context.Context, stale string) (bool, error) {
	c.st.mu.Lock()
	if c.st.codebase == stale {
		c.st.codebase, c.st.pinned = "", false
	}
	c.st.mu.Unlock()
	cb, err := c.codebase(ctx)
	if err != nil {
		return false, err
	}
	return cb != stale, nil
}

// discover asks ConnectWise for the company's codebase: on the sign-in
// host first and, when that has no such page, on the API host (which of the
// two answers is unconfirmed, reference §1). The request carries no
// credentials.
func (c *Client) discover(ctx context.Context) (companyInfo, error) {
	const what = "discover codebase"
	hosts := []string{c.cfg.Site}
	if c.apiHost != c.cfg.Site {
		hosts = append(hosts, c.apiHost)
	}
	var lastErr error
	for _, host := range hosts {
		info, err := c.companyInfo(ctx, host)
		if err == nil {
			return info, nil
		}
		lastErr = err
		var he *psa.HTTPError
		if !errors.As(err, &he) || he.Status != http.StatusNotFound {
			break
		}
	}
	err := lastErr
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return companyInfo{}, fmt.Errorf("connectwise: %s: %w", what, err)
	}
	var he *psa.HTTPError
	switch {
	case errors.Is(err, errNoCompany) || errors.As(err, &he) && he.Status == http.StatusNotFound:
		return companyInfo{}, newError(what, core.KindInvalid, err,
			"ConnectWise at %s has no company %q: check the company id (the company typed on the ConnectWise login page) and the site", c.cfg.Site, c.cfg.CompanyID)
	case errors.Is(err, errBadCodebase):
		return companyInfo{}, newError(what, core.KindUnavailable, err,
			"ConnectWise at %s sent an unusable company record for %q: try again later", c.cfg.Site, c.cfg.CompanyID)
	case he != nil:
		return companyInfo{}, c.httpFail(call{what: what, op: "GET /login/companyinfo/{companyId}", host: c.cfg.Site, area: "the company lookup"}, he.Status, err)
	case errors.Is(err, errUnreadable):
		return companyInfo{}, c.decodeFail(what, err)
	case errors.Is(err, core.ErrUnavailable):
		return companyInfo{}, c.networkFail(what, c.cfg.Site, err)
	}
	return companyInfo{}, fmt.Errorf("connectwise: %s: %w", what, err)
}

var (
	errNoCompany   = errors.New("companyinfo names no company")
	errBadCodebase = errors.New("companyinfo has an unusable codebase")
	errUnreadable  = errors.New("companyinfo answer is unreadable")
)

func (c *Client) companyInfo(ctx context.Context, host string) (companyInfo, error) {
	u := "https://" + host + "/login/companyinfo/" + url.PathEscape(c.cfg.CompanyID)
	resp, err := c.doer.Do(ctx, "GET /login/companyinfo/{companyId}", func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		return req, nil
	})
	if err != nil {
		return companyInfo{}, err
	}
	var info *companyInfo
	if err := psa.DecodeJSON(resp, &info); err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return companyInfo{}, err
		}
		return companyInfo{}, fmt.Errorf("%w: %w", errUnreadable, err)
	}
	// An unknown company has been seen to answer 200 with null or with
	// empty fields rather than a 404; either way there is no codebase.
	if info == nil || strings.TrimSpace(info.Codebase) == "" {
		return companyInfo{}, errNoCompany
	}
	cb := strings.TrimPrefix(strings.TrimSpace(info.Codebase), "/")
	if !strings.HasSuffix(cb, "/") {
		cb += "/"
	}
	if !codebasePattern.MatchString(cb) {
		return companyInfo{}, fmt.Errorf("%w: %q", errBadCodebase, info.Codebase)
	}
	info.Codebase = cb
	return *info, nil
}
