package connectwise

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

// Error is a failed ConnectWise call (the shared [psa.Error]); Code is
// ConnectWise's error code ("NotFound", "InvalidObject", …). ConnectWise's
// error bodies do not echo credentials, and the client's own messages name
// the company id and hosts only.
type Error = psa.Error

// newError returns an *Error of kind k for the operation what.
func newError(what string, k core.Kind, cause error, format string, args ...any) *Error {
	e := psa.NewError("connectwise", what, k, cause, format, args...)
	var he *psa.HTTPError
	if errors.As(cause, &he) {
		e.Code = parseErrorBody(he.Body).code()
	}
	return e
}

// wrapWhat puts what in front of err, keeping an *Error's message.
func (c *Client) wrapWhat(what string, err error) error {
	return psa.WrapWhat("connectwise", what, err)
}

// errorBody is ConnectWise's error shape (reference §3):
//
//	{"code":"InvalidObject","message":"contact object is invalid",
//	 "errors":[{"code":"MissingRequiredField","message":"…","resource":"contact","field":"firstName"}]}
//
// A 429 says "error" where the others say "code".
type errorBody struct {
	Code    string `json:"code"`
	Error   string `json:"error"`
	Message string `json:"message"`
	Errors  []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"errors"`
	json bool // the body was a JSON object
}

func (b errorBody) code() string {
	if b.Code != "" {
		return b.Code
	}
	return b.Error
}

// detail returns ConnectWise's own explanation, for 400s.
func (b errorBody) detail() string {
	var parts []string
	if b.Message != "" {
		parts = append(parts, strings.TrimSuffix(b.Message, "."))
	}
	for _, e := range b.Errors {
		if e.Message != "" {
			parts = append(parts, strings.TrimSuffix(e.Message, "."))
		}
	}
	return strings.Join(parts, ": ")
}

func parseErrorBody(body string) errorBody {
	var b errorBody
	if json.Unmarshal([]byte(body), &b) == nil {
		b.json = true
	}
	return b
}

// isRoutingFailure reports whether a 404's body says ConnectWise could not
// route the request at all, as opposed to "no such record": the plain-text
// "Cannot route. Codebase/company is invalid", a proxy's page, or the
// ConnectWiseApi "endpoint does not exist" answer (reference §1, §3).
// Records that do not exist come back as JSON with code "NotFound".
func isRoutingFailure(body string) bool {
	b := parseErrorBody(body)
	return !b.json || b.code() == "ConnectWiseApi"
}

// fail turns the error of cl into one whose message says what to do.
func (c *Client) fail(cl call, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("connectwise: %s: %w", cl.what, err)
	}
	var he *psa.HTTPError
	if errors.As(err, &he) {
		return c.httpFail(cl, he.Status, err)
	}
	if errors.Is(err, core.ErrUnavailable) {
		return c.networkFail(cl.what, c.apiHost, err)
	}
	return fmt.Errorf("connectwise: %s: %w", cl.what, err)
}

// networkFail explains a request that got no HTTP answer from host.
func (c *Client) networkFail(what, host string, err error) error {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return newError(what, core.KindUnavailable, err, "ConnectWise host %s does not exist: check the site (e.g. na.myconnectwise.net)", host)
	}
	return newError(what, core.KindUnavailable, err, "cannot reach ConnectWise at %s: check the site, or try again later", host)
}

func (c *Client) httpFail(cl call, status int, err error) error {
	var he *psa.HTTPError
	errors.As(err, &he)
	b := parseErrorBody(he.Body)
	host := cl.host
	if host == "" {
		host = c.apiHost
	}
	switch {
	case status == http.StatusBadRequest || status == http.StatusUnprocessableEntity:
		if d := b.detail(); d != "" {
			return newError(cl.what, core.KindInvalid, err, "ConnectWise rejected the request: %s", d)
		}
		return newError(cl.what, core.KindInvalid, err, "ConnectWise rejected the request as invalid")
	case status == http.StatusUnauthorized:
		if c.member != nil {
			return newError(cl.what, core.KindUnauthorized, err,
				"ConnectWise did not accept the technician's sign-in for member %q: open the pod again from ConnectWise", c.member.MemberID)
		}
		return newError(cl.what, core.KindUnauthorized, err,
			"ConnectWise rejected the API keys for company %q: check the public key, the private key and the company id, and that the API member is active", c.cfg.CompanyID)
	case status == http.StatusForbidden:
		if b.code() == "Security" {
			return newError(cl.what, core.KindForbidden, err,
				"ConnectWise refused API keys on %s: cloud API calls must go to the api- host (e.g. api-na.myconnectwise.net); clear or fix the API host setting", c.apiHost)
		}
		who := "the API member's security role"
		if c.member != nil {
			who = fmt.Sprintf("member %q's security role", c.member.MemberID)
		}
		return newError(cl.what, core.KindForbidden, err, "ConnectWise refused: %s does not allow %s", who, cl.area)
	case status == http.StatusNotFound || status == http.StatusGone:
		if cl.subject == "" {
			return newError(cl.what, core.KindNotFound, err, "ConnectWise found nothing at %s", cl.op)
		}
		return newError(cl.what, core.KindNotFound, err, "ConnectWise has no %s", cl.subject)
	case status == http.StatusConflict:
		if d := b.detail(); d != "" {
			return newError(cl.what, core.KindConflict, err, "ConnectWise reports a conflict: %s", d)
		}
		return newError(cl.what, core.KindConflict, err, "ConnectWise reports a conflict with the record's current state")
	case status == http.StatusTooManyRequests:
		if he.RetryAfter > 0 {
			return newError(cl.what, core.KindRateLimited, err, "ConnectWise is throttling requests: try again in %s", he.RetryAfter.Round(time.Second))
		}
		return newError(cl.what, core.KindRateLimited, err, "ConnectWise is throttling requests: try again in a minute")
	case status >= 500:
		return newError(cl.what, core.KindUnavailable, err, "ConnectWise at %s is not working properly (HTTP %d): try again later", host, status)
	}
	return newError(cl.what, core.KindInternal, err, "ConnectWise answered HTTP %d, which the client does not expect", status)
}
