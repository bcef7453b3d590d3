// Package duo sends Countersign's Duo pushes through Duo's Auth API v2 with
// Duo's own library, duo_api_golang (channels.md §2).
//
// [Client] implements core.DuoClient: /auth/v2/check for the live check at
// setup, /auth/v2/preauth (with client_supports_verified_push where the
// account asks for Verified Duo Push, decoded by hand because the library's
// result has no txid), an asynchronous /auth/v2/auth push with type and
// pushinfo, and the /auth/v2/auth_status long-poll.
//
// The library takes no context and answers HTTP errors as a "stat":"FAIL"
// body rather than a Go error. Each call therefore runs in a goroutine that
// the caller stops waiting for when its ctx ends (the request itself ends
// at the HTTP client's timeout), and every FAIL becomes a *core.DuoError.
// A network failure or an unreadable answer is a core.KindUnavailable error.
package duo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	duoapi "github.com/duosecurity/duo_api_golang"
	"github.com/duosecurity/duo_api_golang/authapi"

	"github.com/countersign/countersign/core"
)

// DefaultTimeout bounds Duo's calls other than the status long-poll.
const DefaultTimeout = 10 * time.Second

// Options tune the connector.
type Options struct {
	// HTTPClient replaces the library's own clients. nil keeps them, with
	// their pinned Duo certificate authorities: production leaves it nil.
	// Its Timeout also bounds the status long-poll, so keep it ≥ 60 s.
	// Tests pass duotest.Server.HTTPClient.
	HTTPClient *http.Client
	// AllowHost accepts an API host that is not one of Duo's (a loopback
	// fake); nil accepts only Duo's hosts (core.ValidDuoHost).
	AllowHost func(host string) bool
	// UserAgent prefixes the library's user agent; "" means "countersign".
	UserAgent string
}

// Connector returns the core.DuoConnector that opens clients with opts.
func Connector(opts Options) core.DuoConnector {
	return func(cfg core.DuoConfig) (core.DuoClient, error) { return New(cfg, opts) }
}

// Client is one Duo Auth API application. It is safe for concurrent use.
type Client struct {
	api  *duoapi.DuoApi
	auth *authapi.AuthApi
}

// Interface guard.
var _ core.DuoClient = (*Client)(nil)

// New checks cfg and returns a client; it makes no network call.
func New(cfg core.DuoConfig, opts Options) (*Client, error) {
	host := strings.ToLower(strings.TrimSpace(cfg.APIHost))
	if !core.ValidDuoHost(host) && (opts.AllowHost == nil || !opts.AllowHost(host)) {
		return nil, core.Errorf(core.KindInvalid, "%q is not a Duo API hostname (it looks like api-1a2b3c4d.duosecurity.com)", cfg.APIHost)
	}
	if cfg.IntegrationKey == "" || cfg.SecretKey == "" {
		return nil, core.Errorf(core.KindInvalid, "the Duo integration key and secret key are required")
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = "countersign"
	}
	api := duoapi.NewDuoApi(cfg.IntegrationKey, cfg.SecretKey, host, ua, duoapi.SetTimeout(DefaultTimeout))
	if opts.HTTPClient != nil {
		api.SetCustomHTTPClient(opts.HTTPClient)
	}
	return &Client{api: api, auth: authapi.NewAuthApi(*api)}, nil
}

// call runs fn, which blocks in the library, until it returns or ctx ends.
func call[T any](ctx context.Context, op string, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := fn()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			var zero T
			return zero, fmt.Errorf("duo: %s: %w: %v", op, core.ErrUnavailable, r.err)
		}
		return r.v, nil
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("duo: %s: %w", op, ctx.Err())
	}
}

// failed turns a "stat":"FAIL" answer into a *core.DuoError.
func failed(s duoapi.StatResult) error {
	if s.Stat == "OK" {
		return nil
	}
	e := &core.DuoError{}
	if s.Message != nil {
		e.Message = *s.Message
	}
	if s.Code != nil {
		e.Code = int(*s.Code)
	}
	if s.Message_Detail != nil {
		e.Detail = *s.Message_Detail
	}
	if e.Message == "" {
		e.Message = "Duo answered " + s.Stat
	}
	return e
}

// Check implements core.DuoClient with /auth/v2/check.
func (c *Client) Check(ctx context.Context) error {
	r, err := call(ctx, "check", c.auth.Check)
	if err != nil {
		return err
	}
	return failed(r.StatResult)
}

// preauthResult is /auth/v2/preauth's answer with the Verified Push txid
// that authapi.PreauthResult lacks.
type preauthResult struct {
	duoapi.StatResult
	Response struct {
		Result    string `json:"result"`
		StatusMsg string `json:"status_msg"`
		Txid      string `json:"txid"`
		Devices   []struct {
			Device       string   `json:"device"`
			Type         string   `json:"type"`
			Name         string   `json:"name"`
			Number       string   `json:"number"`
			Capabilities []string `json:"capabilities"`
		} `json:"devices"`
	} `json:"response"`
}

// Preauth implements core.DuoClient.
func (c *Client) Preauth(ctx context.Context, username string, verifiedPush bool) (core.DuoPreauth, error) {
	params := url.Values{"username": {username}}
	if verifiedPush {
		params.Set("client_supports_verified_push", "1")
	}
	body, err := call(ctx, "preauth", func() ([]byte, error) {
		_, body, err := c.api.SignedCall(http.MethodPost, "/auth/v2/preauth", params, duoapi.UseTimeout)
		return body, err
	})
	if err != nil {
		return core.DuoPreauth{}, err
	}
	var r preauthResult
	if err := json.Unmarshal(body, &r); err != nil {
		return core.DuoPreauth{}, fmt.Errorf("duo: preauth: %w: unreadable answer", core.ErrUnavailable)
	}
	r.SyncCode()
	if err := failed(r.StatResult); err != nil {
		return core.DuoPreauth{}, err
	}
	out := core.DuoPreauth{Result: r.Response.Result, StatusMsg: r.Response.StatusMsg, Txid: r.Response.Txid}
	for _, d := range r.Response.Devices {
		out.Devices = append(out.Devices, core.DuoDevice{ID: d.Device, Type: d.Type, Name: d.Name, Number: d.Number, Capabilities: d.Capabilities})
	}
	return out, nil
}

// Push implements core.DuoClient: always asynchronous (a synchronous push
// would block without a timeout, channels.md §2.5).
func (c *Client) Push(ctx context.Context, p core.DuoPush) (string, error) {
	opts := []func(*url.Values){authapi.AuthUsername(p.Username), authapi.AuthAsync(), authapi.AuthDevice(p.Device)}
	if p.Type != "" {
		opts = append(opts, authapi.AuthType(p.Type))
	}
	if info := pushinfo(p.Info); info != "" {
		opts = append(opts, authapi.AuthPushinfo(info))
	}
	if p.Txid != "" {
		opts = append(opts, func(v *url.Values) { v.Set("txid", p.Txid) })
	}
	r, err := call(ctx, "auth", func() (*authapi.AuthResult, error) { return c.auth.Auth("push", opts...) })
	if err != nil {
		return "", err
	}
	if err := failed(r.StatResult); err != nil {
		return "", err
	}
	if r.Response.Txid == "" {
		return "", fmt.Errorf("duo: auth: %w: no txid in Duo's answer", core.ErrUnavailable)
	}
	return r.Response.Txid, nil
}

// Status implements core.DuoClient with the /auth/v2/auth_status long-poll.
func (c *Client) Status(ctx context.Context, txid string) (core.DuoStatus, error) {
	r, err := call(ctx, "auth_status", func() (*authapi.AuthStatusResult, error) { return c.auth.AuthStatus(txid) })
	if err != nil {
		return core.DuoStatus{}, err
	}
	if err := failed(r.StatResult); err != nil {
		return core.DuoStatus{}, err
	}
	return core.DuoStatus{Result: r.Response.Result, Status: r.Response.Status, StatusMsg: r.Response.Status_Msg}, nil
}

// pushinfo URL-encodes key/value pairs in order, as Duo Mobile shows them;
// Duo caps pushinfo below 20,000 bytes, so long values are cut.
func pushinfo(kv [][2]string) string {
	parts := make([]string, 0, len(kv))
	for _, p := range kv {
		if p[1] == "" {
			continue
		}
		v := core.ClipBytes(p[1], 200, "")
		parts = append(parts, url.QueryEscape(p[0])+"="+url.QueryEscape(v))
	}
	return strings.Join(parts, "&")
}
