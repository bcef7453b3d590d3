package twiliotest_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core/twilio/twiliotest"
)

// TestContract checks that the fake refuses what Twilio refuses, with
// Twilio's error shape, so client tests cannot pass on requests the real API
// would reject.
func TestContract(t *testing.T) {
	msgs := "https://api.twilio.com/2010-04-01/Accounts/ACtest/Messages.json"
	calls := "https://api.twilio.com/2010-04-01/Accounts/ACtest/Calls.json"
	ok := url.Values{"To": {"+15550100200"}, "From": {"+15550100100"}, "Body": {"hi"}}
	with := func(v url.Values, k, val string) url.Values {
		out := url.Values{}
		for kk, vv := range v {
			out[kk] = vv
		}
		if val == "" {
			out.Del(k)
		} else {
			out.Set(k, val)
		}
		return out
	}
	call := url.Values{"To": {"+15550100200"}, "From": {"+15550100100"}, "Twiml": {"<Response><Say>hi</Say></Response>"}}

	tests := []struct {
		name       string
		url        string
		form       url.Values
		user, pass string
		ctype      string
		wantStatus int
		wantCode   int
	}{
		{name: "sms accepted", url: msgs, form: ok, wantStatus: 201},
		{name: "call accepted", url: calls, form: call, wantStatus: 201},
		{name: "wrong token", url: msgs, form: ok, pass: "nope", wantStatus: 401, wantCode: 20003},
		{name: "other account in path", url: strings.Replace(msgs, "ACtest", "ACother", 1), form: ok, wantStatus: 404, wantCode: 20404},
		{name: "json body", url: msgs, form: ok, ctype: "application/json", wantStatus: 415, wantCode: 20001},
		{name: "to not e164", url: msgs, form: with(ok, "To", "5550100200"), wantStatus: 400, wantCode: 21211},
		{name: "from not e164", url: msgs, form: with(ok, "From", "ACME"), wantStatus: 400, wantCode: 21212},
		{name: "no body", url: msgs, form: with(ok, "Body", ""), wantStatus: 400, wantCode: 21602},
		{name: "body too long", url: msgs, form: with(ok, "Body", strings.Repeat("x", 1601)), wantStatus: 400, wantCode: 21617},
		{name: "validity too long", url: msgs, form: with(ok, "ValidityPeriod", "36001"), wantStatus: 400, wantCode: 20001},
		{name: "validity zero", url: msgs, form: with(ok, "ValidityPeriod", "0"), wantStatus: 400, wantCode: 20001},
		{name: "callback with underscore host", url: msgs, form: with(ok, "StatusCallback", "https://my_host.example/cb"), wantStatus: 400, wantCode: 21609},
		{name: "url and twiml", url: calls, form: with(call, "Url", "https://example.com/twiml"), wantStatus: 400, wantCode: 20001},
		{name: "twiml too long", url: calls, form: with(call, "Twiml", "<Response>"+strings.Repeat("x", 4000)+"</Response>"), wantStatus: 400, wantCode: 20001},
		{name: "ring timeout too long", url: calls, form: with(call, "Timeout", "601"), wantStatus: 400, wantCode: 20001},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := twiliotest.New(t)
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, tc.url, strings.NewReader(tc.form.Encode()))
			require.NoError(t, err)
			ct := tc.ctype
			if ct == "" {
				ct = "application/x-www-form-urlencoded"
			}
			req.Header.Set("Content-Type", ct)
			user, pass := tc.user, tc.pass
			if user == "" {
				user = twiliotest.DefaultAccountSID
			}
			if pass == "" {
				pass = twiliotest.DefaultAuthToken
			}
			req.SetBasicAuth(user, pass)
			res, err := fake.HTTPClient().Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			assert.Equal(t, tc.wantStatus, res.StatusCode)
			var body map[string]any
			require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
			if tc.wantCode != 0 {
				assert.InDelta(t, tc.wantCode, body["code"], 0)
				assert.InDelta(t, tc.wantStatus, body["status"], 0)
				assert.NotEmpty(t, body["message"])
				assert.Empty(t, fake.Messages())
				assert.Empty(t, fake.Calls())
				return
			}
			assert.Equal(t, "queued", body["status"])
			assert.Equal(t, "ACtest", body["account_sid"])
			assert.Regexp(t, `^(SM|CA)[0-9a-f]{32}$`, body["sid"])
		})
	}
}

func TestSignRequestKnownVector(t *testing.T) {
	// The vector from twilio-go's client/request_validator_test.go (v1.30.9).
	params := url.Values{
		"Digits": {"1234"}, "CallSid": {"CA1234567890ABCDE"}, "To": {"+18005551212"},
		"Caller": {"+14158675309"}, "From": {"+14158675309"},
		"ReasonConferenceEnded": {"test"}, "Reason": {"Participant"},
	}
	got := twiliotest.SignRequest("https://mycompany.com/myapp.php?foo=1&bar=2", params, "12345")
	assert.Equal(t, "vOEb5UThFn24KEfnOFLQY2AE5FY=", got)
}
