package psa

import (
	"errors"
	"fmt"
	"time"

	"github.com/countersign/countersign/core"
)

// Error is a failed PSA call. Its message (through [core.ErrorMessage])
// says what went wrong in words an MSP admin or technician can act on;
// Error() adds the operation and the technical cause for logs. It matches
// the core error of its kind under errors.Is, and never carries a secret:
// plugins write their messages naming ids and hosts only. Plugins alias it
// (type Error = psa.Error) and build it with [NewError].
type Error struct {
	PSA        string        // the plugin's error prefix: "connectwise"
	What       string        // the operation: "get contact 12"
	Status     int           // the HTTP status; 0 when none arrived
	Code       string        // the PSA's own error code ("NotFound", "InvalidObject", …); "" when none
	Errors     []string      // the PSA's own list of error messages; nil when none
	RetryAfter time.Duration // what a 429's Retry-After asked for; 0 when absent
	msg        *core.Error
	cause      error
}

// NewError returns an *Error of kind k for the operation what of the PSA
// whose error prefix is name, with a message formatted from format and
// args. When cause holds an *[HTTPError], its status and Retry-After are
// kept; the plugin fills Code and Errors from the body where its PSA has
// them.
func NewError(name, what string, k core.Kind, cause error, format string, args ...any) *Error {
	e := &Error{PSA: name, What: what, msg: &core.Error{Kind: k, Message: fmt.Sprintf(format, args...)}, cause: cause}
	var he *HTTPError
	if errors.As(cause, &he) {
		e.Status, e.RetryAfter = he.Status, he.RetryAfter
	}
	return e
}

func (e *Error) Error() string {
	s := e.PSA + ": " + e.What + ": " + e.msg.Message
	if e.cause != nil {
		s += " (" + e.cause.Error() + ")"
	}
	return s
}

// Kind returns the core kind of e.
func (e *Error) Kind() core.Kind { return e.msg.Kind }

// Unwrap returns the core error of e's kind, and the cause when it agrees
// with that kind or has none (a context error stays visible): a 404 that
// the PSA could not route, or a 500 that is really a bad credential, must
// not also look like the kind of its HTTP status.
func (e *Error) Unwrap() []error {
	if e.cause != nil && (core.ErrorKind(e.cause) == e.msg.Kind || core.ErrorKind(e.cause) == core.KindInternal) {
		return []error{e.msg, e.cause}
	}
	return []error{e.msg}
}

// WrapWhat puts what in front of the operation of err's *Error, keeping its
// message; any other error is wrapped with name and what.
func WrapWhat(name, what string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		cp := *e
		cp.What = what + ": " + e.What
		return &cp
	}
	return fmt.Errorf("%s: %s: %w", name, what, err)
}
