package core

import (
	"errors"
	"fmt"
	"strings"
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
	// KindMisconfigured: an outside service refused us because of how it
	// is set up — wrong or revoked credentials, a sender it does not know,
	// keys without the rights they need. Retrying cannot help until an
	// administrator fixes the settings; see [MisconfiguredError].
	KindMisconfigured Kind = "misconfigured"
	// KindAssuranceTooLow: the method is weaker than the client's policy
	// requires for the verification's purpose (see [Assurance]); another
	// method can do it.
	KindAssuranceTooLow Kind = "assurance_too_low"
)

// Sentinel errors, one per kind, for errors.Is checks and %w wrapping.
var (
	ErrNotFound      = &Error{Kind: KindNotFound, Message: "not found"}
	ErrInvalid       = &Error{Kind: KindInvalid, Message: "invalid input"}
	ErrUnauthorized  = &Error{Kind: KindUnauthorized, Message: "not signed in"}
	ErrForbidden     = &Error{Kind: KindForbidden, Message: "not allowed"}
	ErrConflict      = &Error{Kind: KindConflict, Message: "conflict"}
	ErrRateLimited   = &Error{Kind: KindRateLimited, Message: "too many requests"}
	ErrUnavailable   = &Error{Kind: KindUnavailable, Message: "service unavailable"}
	ErrGone          = &Error{Kind: KindGone, Message: "no longer valid"}
	ErrMisconfigured = &Error{Kind: KindMisconfigured, Message: "not configured correctly"}
	// ErrAssuranceTooLow matches every refusal of a method below a
	// policy's minimum assurance.
	ErrAssuranceTooLow = &Error{Kind: KindAssuranceTooLow, Message: "method below the required assurance"}
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

// MisconfiguredError is a refusal by an outside service that only an
// administrator can fix: Twilio's 20003 (wrong or revoked credentials), an
// SMTP relay's 535 or a sender it will not accept, a PSA's 401 or 403 to
// the integration's API keys. Its kind is [KindMisconfigured] and its
// user-safe message is Fix; the outbox does not retry it like an outage but
// parks the item until the settings are saved again (see
// [Engine.ClearChannelIssue]).
type MisconfiguredError struct {
	// Fix says what an administrator must change, in their words, e.g.
	// "Twilio rejected the account SID and auth token: check them in the
	// SMS settings".
	Fix string
	// Code is the vendor's error code or HTTP status ("20003", "535",
	// "401"); "" when it gave none.
	Code string
	// VendorMessage is the vendor's own words for the refusal, shown to
	// administrators beside Fix; "" when it gave none.
	VendorMessage string
	// Err is the underlying error, for logs.
	Err error
}

// Misconfigured returns a *MisconfiguredError.
func Misconfigured(fix, code, vendorMessage string, err error) error {
	return &MisconfiguredError{Fix: fix, Code: code, VendorMessage: vendorMessage, Err: err}
}

func (e *MisconfiguredError) Error() string {
	s := "misconfigured: " + e.Fix
	if e.Code != "" || e.VendorMessage != "" {
		s += " (" + strings.TrimSpace(e.Code+" "+e.VendorMessage) + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap gives errors.Is and errors.As the kind (first, so [ErrorKind] and
// [ErrorMessage] see KindMisconfigured and Fix) and then the cause.
func (e *MisconfiguredError) Unwrap() []error {
	kind := &Error{Kind: KindMisconfigured, Message: e.Fix}
	if e.Err == nil {
		return []error{kind}
	}
	return []error{kind, e.Err}
}

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
