package twilio_test

import (
	"testing"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/twilio"
	"github.com/countersign/countersign/core/twilio/twiliotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCheck runs the settings page's live check against the fake: the
// account must be active and the number one of its numbers, able to text.
func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		fake    *twiliotest.Server
		mod     func(*twilio.Config)
		wantErr string
	}{
		{name: "good", fake: &twiliotest.Server{Numbers: []string{"+15550100999", from}}},
		{name: "good, any number", fake: &twiliotest.Server{}},
		{name: "api key", fake: &twiliotest.Server{APIKeys: map[string]string{"SKkey1": "keysecret"}},
			mod: func(c *twilio.Config) { c.APIKeySID, c.Secret = "SKkey1", "keysecret" }},
		{name: "wrong token", fake: &twiliotest.Server{}, mod: func(c *twilio.Config) { c.Secret = "wrong" },
			wantErr: "rejected the credentials"},
		{name: "revoked api key", fake: &twiliotest.Server{}, mod: func(c *twilio.Config) { c.APIKeySID, c.Secret = "SKgone", "keysecret" },
			wantErr: "rejected the credentials"},
		{name: "suspended", fake: &twiliotest.Server{AccountStatus: "suspended"}, wantErr: "is suspended"},
		{name: "number elsewhere", fake: &twiliotest.Server{Numbers: []string{"+15550100999"}}, wantErr: "is not a number of Twilio account"},
		{name: "no sms", fake: &twiliotest.Server{Numbers: []string{from}, NoSMS: map[string]bool{from: true}}, wantErr: "cannot send SMS"},
		{name: "messaging service only", fake: &twiliotest.Server{Numbers: []string{}},
			mod: func(c *twilio.Config) { c.From, c.MessagingServiceSID = "", mgID }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := tc.fake
			fake.Start(t)
			err := newClient(t, fake, tc.mod).Check(t.Context())
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, core.ErrorMessage(err), tc.wantErr)
			assert.NotContains(t, err.Error(), "token123")
		})
	}
	t.Run("down", func(t *testing.T) {
		fake := twiliotest.New(t)
		fake.FailNext(1, 503)
		err := newClient(t, fake, nil).Check(t.Context())
		assert.Equal(t, core.KindUnavailable, core.ErrorKind(err))
	})
}
