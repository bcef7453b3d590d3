package twilio_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/twilio"
	"github.com/countersign/countersign/core/twilio/twiliotest"
)

const (
	from = "+15550100100"
	to   = "+15550100200"
	mgID = "MG0123456789abcdef0123456789abcdef"
)

func newClient(t *testing.T, fake *twiliotest.Server, mod func(*twilio.Config)) *twilio.Client {
	t.Helper()
	cfg := twilio.Config{
		AccountSID: twiliotest.DefaultAccountSID,
		Secret:     twiliotest.DefaultAuthToken,
		From:       from,
		HTTPClient: fake.HTTPClient(),
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := twilio.New(cfg)
	require.NoError(t, err)
	return c
}

func TestSMSSend(t *testing.T) {
	tests := []struct {
		name         string
		cfg          func(*twilio.Config)
		out          core.Outbound
		wantFrom     string
		wantService  string
		wantValidity int
		wantCallback string
	}{
		{
			name:     "minimal",
			out:      core.Outbound{To: to, Text: "Acme help desk code 123456"},
			wantFrom: from,
		},
		{
			name: "validity and callback",
			out: core.Outbound{To: to, Text: "code 123456", ValidityPeriod: 5 * time.Minute,
				StatusCallback: "https://cs.example.com/twilio/status"},
			wantFrom: from, wantValidity: 300, wantCallback: "https://cs.example.com/twilio/status",
		},
		{
			name:     "validity rounds up to a whole second",
			out:      core.Outbound{To: to, Text: "code", ValidityPeriod: 1500 * time.Millisecond},
			wantFrom: from, wantValidity: 2,
		},
		{
			name:     "validity clamped to twilio maximum",
			out:      core.Outbound{To: to, Text: "code", ValidityPeriod: 48 * time.Hour},
			wantFrom: from, wantValidity: 36000,
		},
		{
			name:     "outbound from overrides default",
			out:      core.Outbound{To: to, From: "+15550100999", Text: "code"},
			wantFrom: "+15550100999",
		},
		{
			name:        "messaging service without from",
			cfg:         func(c *twilio.Config) { c.From, c.MessagingServiceSID = "", mgID },
			out:         core.Outbound{To: to, Text: "code"},
			wantService: mgID,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := twiliotest.New(t)
			c := newClient(t, fake, tc.cfg)

			ref, err := c.SMS().Send(t.Context(), tc.out)
			require.NoError(t, err)

			got, ok := fake.LastMessageTo(to)
			require.True(t, ok)
			assert.Equal(t, got.Sid, ref)
			assert.Regexp(t, `^SM[0-9a-f]{32}$`, ref)
			assert.Equal(t, tc.out.Text, got.Body)
			assert.Equal(t, tc.wantFrom, got.From)
			assert.Equal(t, tc.wantService, got.MessagingServiceSID)
			assert.Equal(t, tc.wantValidity, got.ValidityPeriod)
			assert.Equal(t, tc.wantCallback, got.StatusCallback)
			assert.NotContains(t, got.Form, "ShortenUrls", "links must never go through a shortener")
		})
	}
}

func TestVoiceSend(t *testing.T) {
	say := []string{
		"Hello. This is the Acme I.T. help desk.",
		"Your verification code is:",
		"4, 8, 2, 9, 1, 3.",
		"Again, your code is:",
		"4, 8, 2, 9, 1, 3.",
		"Goodbye.",
	}
	tests := []struct {
		name          string
		out           core.Outbound
		wantTimeLimit int
		wantEvents    []string
	}{
		{name: "default time limit", out: core.Outbound{To: to, Say: say}, wantTimeLimit: 60},
		{
			name: "time limit and callback",
			out: core.Outbound{To: to, Say: say, TimeLimit: 90 * time.Second,
				StatusCallback: "https://cs.example.com/twilio/call-status"},
			wantTimeLimit: 90,
			wantEvents:    []string{"initiated", "ringing", "answered", "completed"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := twiliotest.New(t)
			c := newClient(t, fake, nil)

			ref, err := c.Voice().Send(t.Context(), tc.out)
			require.NoError(t, err)

			got, ok := fake.LastCallTo(to)
			require.True(t, ok)
			assert.Equal(t, got.Sid, ref)
			assert.Regexp(t, `^CA[0-9a-f]{32}$`, ref)
			assert.Equal(t, from, got.From)
			assert.Empty(t, got.URL, "a code call never uses a Url")
			assert.NotContains(t, got.Form, "Url")
			assert.Equal(t, 30, got.Timeout)
			assert.Equal(t, tc.wantTimeLimit, got.TimeLimit)
			assert.Equal(t, tc.out.StatusCallback, got.StatusCallback)
			assert.Equal(t, tc.wantEvents, got.StatusCallbackEvents)

			assert.Equal(t, 2, strings.Count(got.Twiml, "<Say>4, 8, 2, 9, 1, 3.</Say>"), "code read twice: %s", got.Twiml)
			for _, p := range say {
				assert.Contains(t, got.Twiml, "<Say>"+p+"</Say>")
			}
			assert.Equal(t, len(say)-1, strings.Count(got.Twiml, `<Pause length="1"/>`), "a pause between phrases")
			assert.True(t, strings.HasSuffix(got.Twiml, "<Hangup/></Response>"), got.Twiml)
		})
	}
}

func TestTwiMLEscapes(t *testing.T) {
	doc, err := twilio.TwiML(core.Outbound{Say: []string{`Acme <IT> & "Co"`}})
	require.NoError(t, err)
	assert.NotContains(t, doc, "<IT>")
	assert.Contains(t, doc, "&lt;IT&gt; &amp;")
}

func TestSendErrors(t *testing.T) {
	tests := []struct {
		name      string
		voice     bool
		setup     func(*twiliotest.Server)
		cfg       func(*twilio.Config)
		to        string
		wantPerm  string // PermanentError code; "" means not permanent
		wantKind  core.Kind
		wantInErr string
		// wantVendor is the MisconfiguredError's code and vendor message.
		wantVendor string
	}{
		{name: "invalid to", to: "12345", wantPerm: "21211"},
		{name: "invalid to voice", voice: true, to: "not-a-number", wantPerm: "21211"},
		{
			name:  "opted out",
			setup: func(s *twiliotest.Server) { s.Unsubscribe(to) },
			to:    to, wantPerm: "21610", wantInErr: "recipient has opted out of SMS from this number",
		},
		{name: "landline", setup: func(s *twiliotest.Server) { s.FailWith(to, 21614) }, to: to, wantPerm: "21614"},
		{name: "geo permission", setup: func(s *twiliotest.Server) { s.FailWith(to, 21408) }, to: to, wantPerm: "21408"},
		{name: "voice geo permission", voice: true, setup: func(s *twiliotest.Server) { s.FailWith(to, 13227) }, to: to, wantPerm: "13227"},
		{name: "server error", setup: func(s *twiliotest.Server) { s.FailNext(1, 500) }, to: to, wantKind: core.KindInternal},
		{name: "unavailable", voice: true, setup: func(s *twiliotest.Server) { s.FailNext(1, 503) }, to: to, wantKind: core.KindInternal},
		{name: "rate limited", setup: func(s *twiliotest.Server) { s.FailNext(1, 429) }, to: to, wantKind: core.KindInternal},
		{
			name: "wrong credentials", to: to,
			cfg:      func(c *twilio.Config) { c.Secret = "wrongtoken" },
			wantKind: core.KindMisconfigured, wantInErr: "account SID and auth token", wantVendor: "20003 Authenticate",
		},
		{
			name: "wrong account", to: to,
			cfg:      func(c *twilio.Config) { c.AccountSID = "ACother" },
			wantKind: core.KindMisconfigured, wantVendor: "20003 Authentication Error - invalid username",
		},
		{
			name: "revoked api key", to: to, voice: true,
			setup:    func(s *twiliotest.Server) { s.SetAPIKey("SKrevoked", "") },
			cfg:      func(c *twilio.Config) { c.APIKeySID, c.Secret = "SKrevoked", "keysecret" },
			wantKind: core.KindMisconfigured, wantVendor: "20003 Authentication Error - invalid username",
		},
		{
			name: "sender not ours", to: to,
			setup:    func(s *twiliotest.Server) { s.FailWith(to, 21659) },
			wantKind: core.KindMisconfigured, wantInErr: "not a number of this Twilio account", wantVendor: "21659",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := twiliotest.New(t)
			if tc.setup != nil {
				tc.setup(fake)
			}
			c := newClient(t, fake, tc.cfg)
			var s core.Sender = c.SMS()
			if tc.voice {
				s = c.Voice()
			}
			out := core.Outbound{To: tc.to, Text: "code 123456", Say: []string{"code"}}
			_, err := s.Send(t.Context(), out)
			require.Error(t, err)

			var perm *core.PermanentError
			if tc.wantPerm != "" {
				require.ErrorAs(t, err, &perm)
				assert.Equal(t, tc.wantPerm, perm.Code)
				assert.NotEmpty(t, perm.Reason)
			} else {
				assert.False(t, errors.As(err, &perm), "must stay retryable: %v", err)
				assert.Equal(t, tc.wantKind, core.ErrorKind(err))
			}
			var mis *core.MisconfiguredError
			if tc.wantVendor != "" {
				require.ErrorAs(t, err, &mis)
				assert.Equal(t, tc.wantVendor, strings.TrimSpace(mis.Code + " " + mis.VendorMessage)[:len(tc.wantVendor)])
				assert.NotEmpty(t, mis.Fix)
			} else {
				assert.False(t, errors.As(err, &mis), "not a misconfiguration: %v", err)
			}
			if tc.wantInErr != "" {
				assert.Contains(t, err.Error(), tc.wantInErr)
			}
			assert.Empty(t, fake.Messages())
			assert.Empty(t, fake.Calls())
		})
	}
}

func TestRetryAfterServerError(t *testing.T) {
	fake := twiliotest.New(t)
	c := newClient(t, fake, nil)
	fake.FailNext(1, 503)
	_, err := c.SMS().Send(t.Context(), core.Outbound{To: to, Text: "code"})
	require.Error(t, err)
	ref, err := c.SMS().Send(t.Context(), core.Outbound{To: to, Text: "code"})
	require.NoError(t, err)
	assert.NotEmpty(t, ref)
}

func TestAPIKeyCredentials(t *testing.T) {
	fake := &twiliotest.Server{APIKeys: map[string]string{"SKkey1": "keysecret"}}
	fake.Start(t)
	c := newClient(t, fake, func(c *twilio.Config) { c.APIKeySID, c.Secret = "SKkey1", "keysecret" })
	_, err := c.SMS().Send(t.Context(), core.Outbound{To: to, Text: "code"})
	require.NoError(t, err)
	require.Len(t, fake.Messages(), 1)
	assert.Equal(t, twiliotest.DefaultAccountSID, fake.Messages()[0].AccountSID)
}

func TestSendHonoursContext(t *testing.T) {
	t.Run("cancelled before send", func(t *testing.T) {
		fake := twiliotest.New(t)
		c := newClient(t, fake, nil)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		for _, s := range []core.Sender{c.SMS(), c.Voice()} {
			_, err := s.Send(ctx, core.Outbound{To: to, Text: "code"})
			require.ErrorIs(t, err, context.Canceled)
		}
		assert.Empty(t, fake.Messages())
		assert.Empty(t, fake.Calls())
	})

	t.Run("cancelled in flight", func(t *testing.T) {
		// A Twilio that never answers: only ctx can end the request.
		release := make(chan struct{})
		hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		t.Cleanup(hang.Close)
		t.Cleanup(func() { close(release) })
		hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			r = r.Clone(r.Context())
			r.URL.Scheme, r.URL.Host = "http", strings.TrimPrefix(hang.URL, "http://")
			return http.DefaultTransport.RoundTrip(r)
		})}
		c, err := twilio.New(twilio.Config{AccountSID: "ACtest", Secret: "token123", From: from, HTTPClient: hc})
		require.NoError(t, err)

		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err = c.SMS().Send(ctx, core.Outbound{To: to, Text: "code"})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Less(t, time.Since(start), 5*time.Second)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestNewValidates(t *testing.T) {
	ok := twilio.Config{AccountSID: "ACtest", Secret: "token123", From: from}
	tests := []struct {
		name string
		mod  func(*twilio.Config)
		ok   bool
	}{
		{name: "valid", mod: func(*twilio.Config) {}, ok: true},
		{name: "messaging service only", mod: func(c *twilio.Config) { c.From, c.MessagingServiceSID = "", mgID }, ok: true},
		{name: "api key", mod: func(c *twilio.Config) { c.APIKeySID = "SKabc" }, ok: true},
		{name: "bad account", mod: func(c *twilio.Config) { c.AccountSID = "XYtest" }},
		{name: "bad api key", mod: func(c *twilio.Config) { c.APIKeySID = "AKabc" }},
		{name: "empty secret", mod: func(c *twilio.Config) { c.Secret = "" }},
		{name: "secret with symbols", mod: func(c *twilio.Config) { c.Secret = "tok-en" }},
		{name: "from not e164", mod: func(c *twilio.Config) { c.From = "5550100100" }},
		{name: "no sender", mod: func(c *twilio.Config) { c.From = "" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.mod(&cfg)
			_, err := twilio.New(cfg)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, core.KindInvalid, core.ErrorKind(err))
		})
	}
}

func TestVoiceNeedsCallerID(t *testing.T) {
	fake := twiliotest.New(t)
	c := newClient(t, fake, func(c *twilio.Config) { c.From, c.MessagingServiceSID = "", mgID })
	_, err := c.Voice().Send(t.Context(), core.Outbound{To: to, Say: []string{"hi"}})
	var perm *core.PermanentError
	require.ErrorAs(t, err, &perm)
	assert.Equal(t, "no_caller_id", perm.Code)
}

func TestWaitForMessage(t *testing.T) {
	fake := twiliotest.New(t)
	c := newClient(t, fake, nil)
	go func() {
		time.Sleep(20 * time.Millisecond)
		_, _ = c.SMS().Send(context.Background(), core.Outbound{To: to, Text: "code 654321"})
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	m, err := fake.WaitForMessage(ctx, to)
	require.NoError(t, err)
	assert.Equal(t, "code 654321", m.Body)

	short, cancel2 := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel2()
	_, err = fake.WaitForMessage(short, "+15550100300")
	require.ErrorIs(t, err, context.DeadlineExceeded)
}
