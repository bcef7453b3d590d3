package autotask

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

// Error is a failed Autotask call (the shared [psa.Error]); Errors is
// Autotask's errors[]. Autotask's errors[] do not echo credentials, and the
// client's own messages name the username and hosts only.
type Error = psa.Error

// newError returns an *Error of kind k for the operation what.
func newError(what string, k core.Kind, cause error, format string, args ...any) *Error {
	e := psa.NewError("autotask", what, k, cause, format, args...)
	var he *psa.HTTPError
	if errors.As(cause, &he) {
		e.Errors = parseErrors([]byte(he.Body))
	}
	return e
}

// wrapWhat puts what in front of err, keeping an *Error's message.
func wrapWhat(what string, err error) error { return psa.WrapWhat("autotask", what, err) }

// parseErrors returns the errors[] of an Autotask body, or nil.
func parseErrors(body []byte) []string {
	var b struct {
		Errors []json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(body, &b) != nil {
		return nil
	}
	var out []string
	for _, raw := range b.Errors {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			out = append(out, s)
			continue
		}
		// Some answers carry {"message": …} objects instead of strings.
		var m struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(raw, &m) == nil && m.Message != "" {
			out = append(out, m.Message)
		}
	}
	return out
}

// What Autotask's errors[] say, by the words in them. Autotask answers bad
// credentials, validation and throttling alike with HTTP 500 (reference,
// "Response and error shapes"), so the text is all there is to go on.
func mentionsAny(errs []string, words ...string) bool {
	for _, e := range errs {
		le := strings.ToLower(e)
		for _, w := range words {
			if strings.Contains(le, w) {
				return true
			}
		}
	}
	return false
}

func isIntegrationCodeError(errs []string) bool {
	return mentionsAny(errs, "integrationcode", "integration code", "tracking identifier", "apiintegrationcode")
}

func isCredentialError(errs []string) bool {
	return mentionsAny(errs, "username", "user name", "secret", "authenticat", "credential", "api user", "login")
}

func isImpersonationError(errs []string) bool {
	return mentionsAny(errs, "impersonat")
}

func isThresholdError(errs []string) bool {
	return mentionsAny(errs, "threshold", "rate limit", "too many requests", "request limit")
}

// isValidationError reports whether errs explain why Autotask refused a
// write: it answers those as HTTP 500 (reference, "Response and error
// shapes"), and trying again would be refused again.
func isValidationError(errs []string) bool {
	return mentionsAny(errs, "missing required field", "does not reference an existing entity", "is not a valid",
		"cannot all be empty", "must reference", "is longer than", "is read-only", "does not match the parent")
}

func detail(errs []string) string {
	var parts []string
	for _, e := range errs {
		if e = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(e), ".")); e != "" {
			parts = append(parts, e)
		}
	}
	return strings.Join(parts, "; ")
}

// fail turns the error of cl into one whose message says what to do.
func (c *Client) fail(cl call, host string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("autotask: %s: %w", cl.what, err)
	}
	var he *psa.HTTPError
	if errors.As(err, &he) {
		return c.httpFail(cl, host, he, err)
	}
	if errors.Is(err, core.ErrUnavailable) {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return newError(cl.what, core.KindUnavailable, err, "Autotask host %s does not exist: clear the zone API URL to have the zone found again", host)
		}
		return newError(cl.what, core.KindUnavailable, err, "cannot reach Autotask at %s: try again later", host)
	}
	return fmt.Errorf("autotask: %s: %w", cl.what, err)
}

func (c *Client) httpFail(cl call, host string, he *psa.HTTPError, err error) error {
	errs := parseErrors([]byte(he.Body))
	status := he.Status
	switch {
	case isIntegrationCodeError(errs) && (status == http.StatusUnauthorized || status >= 500 || status == http.StatusForbidden):
		return newError(cl.what, core.KindUnauthorized, err,
			"Autotask rejected the API integration code for user %q: copy the tracking identifier from the API user's page again", c.cfg.UserName)
	case status == http.StatusUnauthorized || (status >= 500 && isCredentialError(errs) && !isImpersonationError(errs)):
		return newError(cl.what, core.KindUnauthorized, err,
			"Autotask rejected the API user %q on %s: check the username and secret, and that the user is active with security level API User (API-only)", c.cfg.UserName, host)
	case isImpersonationError(errs):
		return newError(cl.what, core.KindForbidden, err, "Autotask refused to act as resource %d: %s", c.resource, detail(errs))
	case status == http.StatusForbidden:
		return newError(cl.what, core.KindForbidden, err,
			"Autotask refused: the API user's security level does not allow %s (Admin › Account Settings & Users › Security Levels)", cl.area)
	case status == http.StatusNotFound || status == http.StatusGone:
		if cl.subject == "" {
			return newError(cl.what, core.KindNotFound, err, "Autotask found nothing at %s", cl.op)
		}
		return newError(cl.what, core.KindNotFound, err, "Autotask has no %s", cl.subject)
	case status == http.StatusTooManyRequests || (status >= 500 && isThresholdError(errs)):
		if he.RetryAfter > 0 {
			return newError(cl.what, core.KindRateLimited, err, "Autotask is throttling this database's API requests: try again in %s", he.RetryAfter.Round(time.Second))
		}
		return newError(cl.what, core.KindRateLimited, err, "Autotask is throttling this database's API requests (10,000 an hour, shared by every integration): try again in a few minutes")
	case status == http.StatusBadRequest || status == http.StatusUnprocessableEntity:
		if d := detail(errs); d != "" {
			return newError(cl.what, core.KindInvalid, err, "Autotask rejected the request: %s", d)
		}
		return newError(cl.what, core.KindInvalid, err, "Autotask rejected the request as invalid")
	case status == http.StatusConflict:
		return newError(cl.what, core.KindConflict, err, "Autotask reports a conflict: %s", detail(errs))
	case status >= 500 && cl.method != http.MethodGet && isValidationError(errs):
		return newError(cl.what, core.KindInvalid, err, "Autotask refused: %s", detail(errs))
	case status >= 500:
		if d := detail(errs); d != "" {
			return newError(cl.what, core.KindUnavailable, err, "Autotask at %s could not do it (HTTP %d: %s): try again later", host, status, d)
		}
		return newError(cl.what, core.KindUnavailable, err, "Autotask at %s is not working properly (HTTP %d): try again later", host, status)
	}
	return newError(cl.what, core.KindInternal, err, "Autotask answered HTTP %d, which the client does not expect", status)
}
