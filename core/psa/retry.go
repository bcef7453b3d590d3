package psa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/countersign/countersign/core"
)

// RetryPolicy says how often and how long a [Doer] retries. The zero value
// is the default policy.
type RetryPolicy struct {
	MaxAttempts int           // attempts in all, the first included; 0 means 4
	BaseDelay   time.Duration // backoff before the second attempt, doubled after each; 0 means 500ms
	MaxDelay    time.Duration // longest single wait; 0 means 30s

	// Sleep waits d or until ctx is done, returning ctx.Err() in the latter
	// case. nil means a timer. Tests inject one that records d and returns
	// at once.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (p RetryPolicy) maxAttempts() int {
	if p.MaxAttempts > 0 {
		return p.MaxAttempts
	}
	return 4
}

func (p RetryPolicy) maxDelay() time.Duration {
	if p.MaxDelay > 0 {
		return p.MaxDelay
	}
	return 30 * time.Second
}

// backoff returns the wait before attempt n+1 after n failures: BaseDelay
// doubled n-1 times, capped at MaxDelay, with "equal jitter" (half fixed,
// half random) so that many clients throttled together do not return
// together.
func (p RetryPolicy) backoff(n int) time.Duration {
	d := p.BaseDelay
	if d <= 0 {
		d = 500 * time.Millisecond
	}
	for i := 1; i < n && d < p.maxDelay(); i++ {
		d *= 2
	}
	d = min(d, p.maxDelay())
	return d/2 + rand.N(d/2+1)
}

func (p RetryPolicy) sleep(ctx context.Context, d time.Duration) error {
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

// RetryAfter returns the delay a Retry-After header in h asks for, as of
// now. Retry-After is either delay-seconds or an HTTP-date (RFC 9110
// §10.2.3); a date in the past is 0. It returns 0 and false when the header
// is missing or unparsable, and the caller falls back to exponential
// backoff.
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// HTTPError is a PSA's non-2xx answer. It unwraps to the core error of its
// status's kind, so errors.Is(err, core.ErrNotFound) holds for a 404.
type HTTPError struct {
	Status     int
	Body       string        // the start of the response body, for logs
	RetryAfter time.Duration // what Retry-After asked for; 0 when absent
	kind       error
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("http %d", e.Status)
	if e.Body != "" {
		msg += ": " + e.Body
	}
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return msg
}

// Unwrap returns the core error of the status's kind, or nil for statuses
// that have none (an unexpected 3xx, 405, …: our bug, an internal error).
func (e *HTTPError) Unwrap() error { return e.kind }

// maxErrorBody is how much of an error body HTTPError keeps.
const maxErrorBody = 512

// StatusError returns the error for a non-2xx status and its response body:
// an *[HTTPError] that unwraps to the core error of the status's kind.
// 400 and 422 are core.ErrInvalid, 401 core.ErrUnauthorized, 403
// core.ErrForbidden, 404 and 410 core.ErrNotFound, 409 core.ErrConflict,
// 429 core.ErrRateLimited, and 5xx core.ErrUnavailable.
func StatusError(code int, body []byte) error {
	var kind error
	switch {
	case code == http.StatusBadRequest, code == http.StatusUnprocessableEntity:
		kind = core.ErrInvalid
	case code == http.StatusUnauthorized:
		kind = core.ErrUnauthorized
	case code == http.StatusForbidden:
		kind = core.ErrForbidden
	case code == http.StatusNotFound, code == http.StatusGone:
		kind = core.ErrNotFound
	case code == http.StatusConflict:
		kind = core.ErrConflict
	case code == http.StatusTooManyRequests:
		kind = core.ErrRateLimited
	case code >= 500 && code <= 599:
		kind = core.ErrUnavailable
	}
	b := strings.ToValidUTF8(string(body), "")
	b = core.ClipBytes(b, maxErrorBody, core.Ellipsis)
	return &HTTPError{Status: code, Body: strings.TrimSpace(b), kind: kind}
}

// Doer sends a plugin's HTTP requests with the shared contract of the
// package documentation: retries per Policy, honouring Retry-After and ctx,
// status codes mapped to core kinds by [StatusError], and every request
// counted. Make one with [Deps.Doer]; it is safe for concurrent use.
type Doer struct {
	Client *http.Client     // nil means http.DefaultClient
	Policy RetryPolicy      // the zero value is the default policy
	Calls  CallCounter      // nil means calls are not counted
	Now    func() time.Time // nil means time.Now; read for HTTP-date Retry-After values
	Limit  *Limiter         // nil means no limit of our own; waited for before every attempt
}

// Do sends the request that build makes, retrying as the policy says, and
// returns the response when its status is 2xx; the caller reads and closes
// its body (see [DecodeJSON]). build is called once per attempt, so that
// each attempt has a fresh body. op names the call for the counter and for
// error messages: "GET /company/contacts".
//
// GET, HEAD, PUT, DELETE and OPTIONS are retried on 5xx (except 501) and
// network errors; every method is retried on 429. A Retry-After longer than
// Policy.MaxDelay is not waited for: Do returns core.ErrRateLimited at once,
// with the delay in the *[HTTPError], so that a person is not kept waiting
// on a spinner.
func (d *Doer) Do(ctx context.Context, op string, build func(ctx context.Context) (*http.Request, error)) (*http.Response, error) {
	return d.do(ctx, op, build, false)
}

// DoRepeatable is [Doer.Do] for a request whose method is not idempotent
// but whose effect is: a sign-in that hands out a token, a search sent as
// a POST. It is retried on 5xx and network errors like a GET. Never use it
// for a request that creates or changes a record.
func (d *Doer) DoRepeatable(ctx context.Context, op string, build func(ctx context.Context) (*http.Request, error)) (*http.Response, error) {
	return d.do(ctx, op, build, true)
}

func (d *Doer) do(ctx context.Context, op string, build func(ctx context.Context) (*http.Request, error), repeatable bool) (*http.Response, error) {
	hc := d.Client
	if hc == nil {
		hc = http.DefaultClient
	}
	now := d.Now
	if now == nil {
		now = time.Now
	}
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		if d.Limit != nil {
			if err := d.Limit.Wait(ctx, op, now()); err != nil {
				return nil, err
			}
		}
		req, err := build(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: build request: %w", op, err)
		}
		idempotent := repeatable || isIdempotent(req.Method)
		last := attempt >= d.Policy.maxAttempts()

		resp, err := hc.Do(req)
		if err != nil {
			d.count(op, 0)
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, fmt.Errorf("%s: %w", op, ctxErr)
			}
			if !idempotent || last {
				return nil, fmt.Errorf("%s: %w: %w", op, core.ErrUnavailable, err)
			}
			if err := d.Policy.sleep(ctx, d.Policy.backoff(attempt)); err != nil {
				return nil, fmt.Errorf("%s: %w", op, err)
			}
			continue
		}
		d.count(op, resp.StatusCode)
		if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
			return resp, nil
		}

		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody+1))
		resp.Body.Close()
		herr := StatusError(resp.StatusCode, body).(*HTTPError)
		ra, hasRA := RetryAfter(resp.Header, now())
		herr.RetryAfter = ra

		retryable := resp.StatusCode == http.StatusTooManyRequests ||
			(idempotent && resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented)
		if !retryable || last {
			return nil, fmt.Errorf("%s: %w", op, herr)
		}
		wait := d.Policy.backoff(attempt)
		if hasRA && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
			if ra > d.Policy.maxDelay() {
				return nil, fmt.Errorf("%s: %w", op, herr)
			}
			wait = ra
		}
		if err := d.Policy.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
}

func (d *Doer) count(op string, status int) {
	if d.Calls != nil {
		d.Calls.CountCall(op, status)
	}
}

// isIdempotent reports whether a request with method may be repeated
// without changing its effect (RFC 9110 §9.2.2).
func isIdempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// maxBody is the largest response body DecodeJSON reads. PSA pages are well
// under it; a larger body is a misbehaving server.
const maxBody = 32 << 20

// DecodeJSON decodes resp's JSON body into v and closes the body. A body
// that is not the expected JSON (truncated, HTML from a proxy, the wrong
// shape) is an error of kind core.ErrUnavailable wrapping the parse error:
// the PSA, or something in front of it, is not answering properly.
func DecodeJSON(resp *http.Response, v any) error {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("read response: %w", err)
		}
		return fmt.Errorf("read response: %w: %w", core.ErrUnavailable, err)
	}
	if len(b) > maxBody {
		return fmt.Errorf("response larger than %d bytes: %w", maxBody, core.ErrUnavailable)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode response: %w: %w", core.ErrUnavailable, err)
	}
	return nil
}
