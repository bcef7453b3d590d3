package core

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error for the boundaries that translate it: core/web maps
// each kind to one HTTP status, PSA clients map HTTP statuses to kinds, and
// core/store maps driver error codes to kinds.
type Kind string

// The error kinds. Anything that is not one of them counts as internal.
const (
	KindInternal     Kind = "internal"
	KindNotFound     Kind = "not_found"
	KindInvalid      Kind = "invalid"
	KindUnauthorized Kind = "unauthorized"
	KindForbidden    Kind = "forbidden"
	KindConflict     Kind = "conflict"
	KindRateLimited  Kind = "rate_limited"
	KindUnavailable  Kind = "unavailable"
	KindGone         Kind = "gone"
)

// Sentinel errors, one per kind, for errors.Is checks and %w wrapping.
var (
	ErrNotFound     = &Error{Kind: KindNotFound, Message: "not found"}
	ErrInvalid      = &Error{Kind: KindInvalid, Message: "invalid input"}
	ErrUnauthorized = &Error{Kind: KindUnauthorized, Message: "not signed in"}
	ErrForbidden    = &Error{Kind: KindForbidden, Message: "not allowed"}
	ErrConflict     = &Error{Kind: KindConflict, Message: "conflict"}
	ErrRateLimited  = &Error{Kind: KindRateLimited, Message: "too many requests"}
	ErrUnavailable  = &Error{Kind: KindUnavailable, Message: "service unavailable"}
	ErrGone         = &Error{Kind: KindGone, Message: "no longer valid"}
)

// Error is an error whose Message is safe to show to the person who caused it.
// Kind decides the HTTP status; two Errors match under errors.Is when their
// kinds are equal, so a wrapped Errorf(KindNotFound, ...) is ErrNotFound.
type Error struct {
	Kind    Kind
	Message string
}

func (e *Error) Error() string { return e.Message }

// Is reports whether target is an *Error of the same kind.
func (e *Error) Is(target error) bool {
	var t *Error
	if errors.As(target, &t) {
		return t.Kind == e.Kind
	}
	return false
}

// Errorf returns an *Error of kind k with a formatted, user-safe message.
func Errorf(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// ErrorKind returns the kind of err, or KindInternal for errors that carry none.
func ErrorKind(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// ErrorMessage returns the user-safe message of err, or "" when err carries
// none (an internal error, whose text must not reach users).
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return ""
}

// PermanentError marks a delivery failure that retrying cannot fix (an
// invalid or unsubscribed number, a rejected recipient); the outbox stops
// retrying it at once.
type PermanentError struct {
	Code   string // provider's error code, e.g. Twilio "21610"
	Reason string // short, user-safe explanation for the technician
	Err    error
}

func (e *PermanentError) Error() string {
	return fmt.Sprintf("permanent delivery failure %s: %s", e.Code, e.Reason)
}

func (e *PermanentError) Unwrap() error { return e.Err }

// retryAfterError carries how long the client should wait before trying
// again; core/web sends it as a Retry-After header.
type retryAfterError struct {
	error
	after time.Duration
}

func (e retryAfterError) Unwrap() error { return e.error }

// WithRetryAfter attaches a wait to err (a rate limit or an overload), which
// keeps its kind and message.
func WithRetryAfter(err error, after time.Duration) error {
	return retryAfterError{error: err, after: after}
}

// RetryAfter returns the wait attached by [WithRetryAfter], if any.
func RetryAfter(err error) (time.Duration, bool) {
	var r retryAfterError
	if errors.As(err, &r) {
		return r.after, true
	}
	return 0, false
}
