package twilio

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/twilio/twilio-go/client"

	"github.com/countersign/countersign/core"
)

// SignatureHeader carries Twilio's webhook signature.
const SignatureHeader = "X-Twilio-Signature"

// WebhookValidator checks X-Twilio-Signature on inbound SMS and status
// callbacks (channels.md §1.6, security.md §7). It is safe for concurrent use.
type WebhookValidator struct {
	base       string
	validators []client.RequestValidator
}

// NewWebhookValidator returns a validator for webhooks served under
// publicBaseURL (scheme, host and any path prefix the proxy strips, exactly as
// configured in Twilio, e.g. "https://cs.example.com"). A request validates if
// any of authTokens signed it: pass the current and the next token while
// rotating. With an empty base URL or no tokens nothing validates.
func NewWebhookValidator(publicBaseURL string, authTokens ...string) *WebhookValidator {
	v := &WebhookValidator{base: strings.TrimRight(publicBaseURL, "/")}
	for _, t := range authTokens {
		if t != "" {
			v.validators = append(v.validators, client.NewRequestValidator(t))
		}
	}
	return v
}

// Validate reports whether r carries a valid Twilio signature over the
// configured base URL + r.URL.RequestURI() and rawBody, the exact bytes read
// from r.Body. The URL is never rebuilt from Host, X-Forwarded-* or r.TLS:
// behind a TLS-terminating proxy they differ from what Twilio signed, and
// they are attacker-controlled.
func (v *WebhookValidator) Validate(r *http.Request, rawBody []byte) bool {
	sig := r.Header.Get(SignatureHeader)
	if sig == "" || v.base == "" {
		return false
	}
	full := v.base + r.URL.RequestURI()
	for i := range v.validators {
		// ValidateBody compares in constant time and tries the URL with and
		// without the default port.
		if v.validators[i].ValidateBody(full, rawBody, sig) {
			return true
		}
	}
	return false
}

// Status is a message or call status callback.
type Status struct {
	Sid        string // MessageSid ("SM…"/"MM…") or CallSid ("CA…")
	Call       bool   // whether this is a call's callback
	Status     string // MessageStatus or CallStatus, e.g. "delivered", "no-answer"
	ErrorCode  string // Twilio error code on failure, e.g. "30003"; "" if none
	AccountSID string
	To         string
	From       string
}

// Final reports whether no further status will follow (delivered, failed,
// completed, …); "sent" is not final because delivery receipts may follow.
func (s Status) Final() bool {
	switch s.Status {
	case "delivered", "undelivered", "failed", "canceled", "read",
		"completed", "busy", "no-answer":
		return true
	}
	return false
}

// Failed reports whether the message or call did not reach the recipient.
func (s Status) Failed() bool {
	switch s.Status {
	case "undelivered", "failed", "canceled", "busy", "no-answer":
		return true
	}
	return false
}

// ParseStatus reads a status callback's form (already signature-checked).
// Twilio adds parameters without notice, so unknown fields are ignored; a
// form without a sid or status is a core.KindInvalid error.
func ParseStatus(form url.Values) (Status, error) {
	s := Status{
		ErrorCode:  form.Get("ErrorCode"),
		AccountSID: form.Get("AccountSid"),
		To:         form.Get("To"),
		From:       form.Get("From"),
	}
	switch {
	case form.Get("MessageSid") != "":
		s.Sid = form.Get("MessageSid")
		s.Status = form.Get("MessageStatus")
		if s.Status == "" {
			s.Status = form.Get("SmsStatus") // older callbacks
		}
	case form.Get("CallSid") != "":
		s.Sid, s.Call = form.Get("CallSid"), true
		s.Status = form.Get("CallStatus")
	}
	if s.Sid == "" || s.Status == "" {
		return Status{}, core.Errorf(core.KindInvalid, "status callback without sid or status")
	}
	if len(s.Sid) != 34 || !alnum.MatchString(s.Sid) {
		return Status{}, core.Errorf(core.KindInvalid, "status callback with malformed sid")
	}
	return s, nil
}
