package halo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// Error is a failed Halo call (the shared [psa.Error]).
type Error = psa.Error

func newError(what string, k core.Kind, cause error, format string, args ...any) *Error {
	return psa.NewError("halo", what, k, cause, format, args...)
}

// wrapWhat puts what in front of err, keeping an *Error's message.
func (c *Client) wrapWhat(what string, err error) error { return psa.WrapWhat("halo", what, err) }

// errorDetail returns Halo's own explanation from an error body, which is
// plain text or JSON of varying shape; "" when there is none.
func errorDetail(body string) string {
	body = strings.TrimSpace(body)
	if body == "" {
		return ""
	}
	var m map[string]any
	if json.Unmarshal([]byte(body), &m) == nil {
		for _, k := range []string{"message", "Message", "error_description", "error", "title"} {
			if s, ok := m[k].(string); ok && s != "" {
				return short(strings.TrimSuffix(s, "."))
			}
		}
		return ""
	}
	if strings.HasPrefix(body, "<") {
		return "" // a proxy's HTML page
	}
	var s string
	if json.Unmarshal([]byte(body), &s) == nil {
		body = s
	}
	return short(strings.TrimSuffix(strings.TrimSpace(body), "."))
}

// fail turns the error of cl into one whose message says what to do.
func (c *Client) fail(cl call, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("halo: %s: %w", cl.what, err)
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	host := c.hostOf(c.cfg.InstanceURL)
	var he *psa.HTTPError
	if !errors.As(err, &he) {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return newError(cl.what, core.KindUnavailable, err, "Halo host %s does not exist: check the instance URL", host)
		}
		if errors.Is(err, core.ErrUnavailable) {
			return newError(cl.what, core.KindUnavailable, err, "cannot reach Halo at %s: check the instance URL, or try again later", host)
		}
		return fmt.Errorf("halo: %s: %w", cl.what, err)
	}
	d := errorDetail(he.Body)
	switch s := he.Status; {
	case s == http.StatusBadRequest || s == http.StatusUnprocessableEntity:
		if d != "" {
			return newError(cl.what, core.KindInvalid, err, "Halo rejected the request: %s", d)
		}
		return newError(cl.what, core.KindInvalid, err, "Halo rejected the request as invalid")
	case s == http.StatusUnauthorized:
		return newError(cl.what, core.KindUnauthorized, err,
			"Halo at %s refused the API application's token twice: check the client id and secret, and that the application is active", host)
	case s == http.StatusForbidden:
		area := cl.area
		if area == "" {
			area = "this call"
		}
		return newError(cl.what, core.KindForbidden, err, "Halo refused: the API application or its agent does not allow %s", area)
	case s == http.StatusNotFound || s == http.StatusGone:
		if cl.subject == "" {
			return newError(cl.what, core.KindNotFound, err, "Halo found nothing at %s", cl.op)
		}
		return newError(cl.what, core.KindNotFound, err, "Halo has no %s", cl.subject)
	case s == http.StatusConflict:
		return newError(cl.what, core.KindConflict, err, "Halo reports a conflict with the record's current state")
	case s == http.StatusTooManyRequests:
		if he.RetryAfter > 0 {
			return newError(cl.what, core.KindRateLimited, err, "Halo is throttling requests: try again in %s", he.RetryAfter.Round(time.Second))
		}
		return newError(cl.what, core.KindRateLimited, err, "Halo is throttling requests: try again in a minute")
	case s >= 500:
		return newError(cl.what, core.KindUnavailable, err, "Halo at %s is not working properly (HTTP %d): try again later", host, s)
	}
	return newError(cl.what, core.KindInternal, err, "Halo answered HTTP %d, which the client does not expect", he.Status)
}
