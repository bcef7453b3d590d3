package twilio

import (
	"bytes"
	"net/http"
	"net/url"
	"testing"
)

// FuzzWebhook: Twilio's status callbacks are outside input. A forged
// signature never validates, and no form panics the status parser.
func FuzzWebhook(f *testing.F) {
	f.Add("/webhooks/twilio/status/acme", "MessageSid=SM1&MessageStatus=delivered&AccountSid=AC1", "abc=")
	f.Add("/webhooks/twilio/status/acme", "CallSid=CA1&CallStatus=completed&ErrorCode=30003", "")
	f.Add("/x?y=%zz", "%%%&&==", "\x00")
	v := NewWebhookValidator("https://cs.example", "token-1")
	f.Fuzz(func(t *testing.T, path, body, sig string) {
		r, err := http.NewRequest(http.MethodPost, "https://cs.example"+path, bytes.NewReader([]byte(body)))
		if err != nil {
			return
		}
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("X-Twilio-Signature", sig)
		if v.Validate(r, []byte(body)) {
			t.Fatalf("a made-up signature %q validated for %q", sig, body)
		}
		if form, err := url.ParseQuery(body); err == nil {
			_, _ = ParseStatus(form)
		}
	})
}
