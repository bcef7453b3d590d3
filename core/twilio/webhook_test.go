package twilio_test

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/twilio"
	"github.com/countersign/countersign/core/twilio/twiliotest"
)

func TestWebhookValidator(t *testing.T) {
	const (
		base     = "https://cs.example.com"
		path     = "/twilio/sms?tenant=acme"
		token    = "currenttoken"
		newToken = "nexttoken"
	)
	params := url.Values{
		"MessageSid": {"SM0123456789abcdef0123456789abcdef"},
		"From":       {"+15550100200"},
		"To":         {"+15550100100"},
		"Body":       {"#verify"},
		"AccountSid": {"ACtest"},
	}
	body := params.Encode()

	tests := []struct {
		name   string
		signed string // URL the signature was computed over
		token  string // token that signed
		path   string // request URI as received
		body   string
		host   string // Host header as received (must not matter)
		want   bool
	}{
		{name: "valid", signed: base + path, token: token, path: path, body: body, want: true},
		{name: "valid behind proxy with internal host", signed: base + path, token: token, path: path, body: body, host: "10.0.0.5:8080", want: true},
		{name: "rotation token", signed: base + path, token: newToken, path: path, body: body, want: true},
		{name: "default port in signed url", signed: "https://cs.example.com:443" + path, token: token, path: path, body: body, want: true},
		{name: "wrong token", signed: base + path, token: "othertoken", path: path, body: body},
		{name: "http scheme signed", signed: "http://cs.example.com" + path, token: token, path: path, body: body},
		{name: "other host signed", signed: "https://evil.example.com" + path, token: token, path: path, body: body},
		{name: "query changed", signed: base + path, token: token, path: "/twilio/sms?tenant=other", body: body},
		{name: "path changed", signed: base + path, token: token, path: "/twilio/status?tenant=acme", body: body},
		{name: "param changed", signed: base + path, token: token, path: path, body: strings.Replace(body, "verify", "confirm", 1)},
		{name: "param added", signed: base + path, token: token, path: path, body: body + "&Extra=1"},
	}
	v := twilio.NewWebhookValidator(base+"/", token, newToken)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sig := twiliotest.SignRequest(tc.signed, params, tc.token)
			r := httptest.NewRequest("POST", tc.path, strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set(twilio.SignatureHeader, sig)
			r.Header.Set("X-Forwarded-Proto", "http")
			if tc.host != "" {
				r.Host = tc.host
			}
			assert.Equal(t, tc.want, v.Validate(r, []byte(tc.body)))
		})
	}

	t.Run("missing signature", func(t *testing.T) {
		r := httptest.NewRequest("POST", path, strings.NewReader(body))
		assert.False(t, v.Validate(r, []byte(body)))
	})
	t.Run("no tokens", func(t *testing.T) {
		r := httptest.NewRequest("POST", path, strings.NewReader(body))
		r.Header.Set(twilio.SignatureHeader, twiliotest.SignRequest(base+path, params, ""))
		assert.False(t, twilio.NewWebhookValidator(base).Validate(r, []byte(body)))
	})
}

func TestParseStatus(t *testing.T) {
	const sm = "SM0123456789abcdef0123456789abcdef"
	const ca = "CA0123456789abcdef0123456789abcdef"
	tests := []struct {
		name    string
		form    url.Values
		want    twilio.Status
		final   bool
		failed  bool
		wantErr bool
	}{
		{
			name:  "delivered sms",
			form:  url.Values{"MessageSid": {sm}, "MessageStatus": {"delivered"}, "AccountSid": {"ACtest"}, "To": {"+15550100200"}, "NewField": {"x"}},
			want:  twilio.Status{Sid: sm, Status: "delivered", AccountSID: "ACtest", To: "+15550100200"},
			final: true,
		},
		{
			name:  "undelivered with error code",
			form:  url.Values{"MessageSid": {sm}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30006"}, "AccountSid": {"ACtest"}},
			want:  twilio.Status{Sid: sm, Status: "undelivered", ErrorCode: "30006", AccountSID: "ACtest"},
			final: true, failed: true,
		},
		{
			name: "legacy sms status",
			form: url.Values{"MessageSid": {sm}, "SmsStatus": {"sent"}},
			want: twilio.Status{Sid: sm, Status: "sent"},
		},
		{
			name:  "call no answer",
			form:  url.Values{"CallSid": {ca}, "CallStatus": {"no-answer"}, "AccountSid": {"ACtest"}},
			want:  twilio.Status{Sid: ca, Call: true, Status: "no-answer", AccountSID: "ACtest"},
			final: true, failed: true,
		},
		{name: "no sid", form: url.Values{"MessageStatus": {"sent"}}, wantErr: true},
		{name: "no status", form: url.Values{"MessageSid": {sm}}, wantErr: true},
		{name: "malformed sid", form: url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"sent"}}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := twilio.ParseStatus(tc.form)
			if tc.wantErr {
				require.Error(t, err)
				assert.Equal(t, core.KindInvalid, core.ErrorKind(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.final, got.Final())
			assert.Equal(t, tc.failed, got.Failed())
		})
	}
}
