package autotask_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/autotask"
	"github.com/countersign/countersign/autotask/autotasktest"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

const hookURL = "https://cs.example/webhooks/psa/acme/int_1"

func TestWebhookRegistration(t *testing.T) {
	e := newEnv(t, nil)
	regs, err := e.client.RegisterCallbacks(t.Context(), hookURL)
	require.NoError(t, err)
	require.Len(t, regs, 1)
	assert.True(t, regs[0].Created)
	hooks := e.fake.Webhooks()
	require.Len(t, hooks, 1)
	assert.Equal(t, hookURL, hooks[0].URL)
	assert.True(t, hooks[0].Active)
	assert.True(t, hooks[0].OnCreate)
	assert.LessOrEqual(t, len(hooks[0].SecretKey), 64)
	assert.NotContains(t, hooks[0].SecretKey, autotasktest.Secret, "the key reveals nothing of the API secret")

	regs, err = e.client.RegisterCallbacks(t.Context(), hookURL)
	require.NoError(t, err)
	assert.False(t, regs[0].Created, "registered once, never twice")
	assert.Len(t, e.fake.Webhooks(), 1)

	e.fake.DisableWebhooks()
	regs, err = e.client.RegisterCallbacks(t.Context(), hookURL)
	require.NoError(t, err)
	assert.True(t, regs[0].Reenabled)
	assert.True(t, e.fake.Webhooks()[0].Active)
}

func hookEnv(t *testing.T) (env, *clock) {
	t.Helper()
	f := autotasktest.NewServer(t)
	f.Seed([]psa.Company{acme}, []psa.Contact{alice}, []psa.Ticket{ticket})
	clk := &clock{now: time.Now().UTC().Truncate(time.Millisecond)}
	c, err := autotask.New(f.Config(), f.Deps(psa.Deps{Now: clk.Now, Retry: quickRetry}))
	require.NoError(t, err)
	_, err = c.RegisterCallbacks(t.Context(), hookURL)
	require.NoError(t, err)
	return env{fake: f, client: c}, clk
}

func TestWebhookVerification(t *testing.T) {
	e, clk := hookEnv(t)
	ev := e.fake.TicketEvent("3009", "Create", clk.Now())
	cb, err := e.client.VerifyCallback(t.Context(), ev.Header, ev.Body)
	require.NoError(t, err)
	assert.Equal(t, psa.Callback{ID: cb.ID, Type: "ticket", Action: psa.CallbackAdded, Ref: "3009"}, cb)
	assert.NotEmpty(t, cb.ID, "the delivery's Guid, for the host's replay drop")

	bad := func(name string, h http.Header, body []byte, kind error) {
		t.Helper()
		_, err := e.client.VerifyCallback(t.Context(), h, body)
		assert.ErrorIs(t, err, kind, name)
	}
	tampered := bytes.Replace(ev.Body, []byte(`"Id":3009`), []byte(`"Id":3001`), 1)
	require.NotEqual(t, ev.Body, tampered)
	bad("tampered body", ev.Header, tampered, core.ErrUnauthorized)
	bad("no signature", http.Header{}, ev.Body, core.ErrUnauthorized)
	bad("sha256 prefix", http.Header{"X-Hook-Signature": {"sha256=" + ev.Header.Get("X-Hook-Signature")[5:]}}, ev.Body, core.ErrUnauthorized)
	bad("not base64", http.Header{"X-Hook-Signature": {"sha1=%%%"}}, ev.Body, core.ErrUnauthorized)
	other := hmac.New(sha1.New, []byte("another webhook's key"))
	other.Write(ev.Body)
	bad("another key", http.Header{"X-Hook-Signature": {"sha1=" + base64.StdEncoding.EncodeToString(other.Sum(nil))}}, ev.Body, core.ErrUnauthorized)

	old := e.fake.TicketEvent("3009", "Create", clk.Now().Add(-16*time.Minute))
	bad("older than 15 minutes (a replay)", old.Header, old.Body, core.ErrUnauthorized)
	ahead := e.fake.TicketEvent("3009", "Create", clk.Now().Add(5*time.Minute))
	bad("from the future", ahead.Header, ahead.Body, core.ErrUnauthorized)

	sign := func(body []byte) http.Header {
		// What the fake signs with is what Autotask was given.
		m := hmac.New(sha1.New, []byte(e.fake.Webhooks()[0].SecretKey))
		m.Write(body)
		return http.Header{"X-Hook-Signature": {"sha1=" + base64.StdEncoding.EncodeToString(m.Sum(nil))}}
	}
	junk := []byte("not json")
	bad("signed but not JSON", sign(junk), junk, core.ErrInvalid)
	noTime := []byte(`{"Action":"Create","EntityType":"Ticket","Id":5}`)
	bad("no EventTime", sign(noTime), noTime, core.ErrInvalid)
	huge := make([]byte, psa.MaxInboundBody+1)
	bad("too large", sign(huge), huge, core.ErrInvalid)

	upd := e.fake.TicketEvent("3001", "Update", clk.Now())
	cb, err = e.client.VerifyCallback(t.Context(), upd.Header, upd.Body)
	require.NoError(t, err)
	assert.Equal(t, psa.CallbackUpdated, cb.Action)

	// A new API secret means a new key: old registrations stop verifying
	// until the webhook is registered again.
	cfg := e.fake.Config()
	cfg.Secret = "another-secret"
	c2, err := autotask.New(cfg, psa.Deps{Now: clk.Now})
	require.NoError(t, err)
	_, err = c2.VerifyCallback(t.Context(), ev.Header, ev.Body)
	assert.ErrorIs(t, err, core.ErrUnauthorized)
}

// FuzzVerifyCallback feeds arbitrary bodies and signatures: nothing
// panics, and nothing is accepted whose signature is not the body's HMAC
// with the webhook's key.
func FuzzVerifyCallback(f *testing.F) {
	cfg := autotask.Config{UserName: autotasktest.UserName, Secret: autotasktest.Secret, IntegrationCode: autotasktest.IntegrationCode}
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	c, err := autotask.New(cfg, psa.Deps{Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"Action":"Create","Guid":"g","EntityType":"Ticket","Id":12,"EventTime":"2026-03-01T08:59:00.000Z"}`), "sha1=AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	f.Add([]byte(`{}`), "")
	f.Add([]byte(`{"Id":-1,"EventTime":"x"}`), "sha1=")
	f.Fuzz(func(t *testing.T, body []byte, sig string) {
		cb, err := c.VerifyCallback(t.Context(), http.Header{"X-Hook-Signature": {sig}}, body)
		if err != nil {
			return
		}
		if cb.Ref == "" || cb.Type == "" || cb.ID == "" {
			t.Fatalf("accepted an event without ref, type or id: %+v", cb)
		}
		t.Fatalf("accepted a signature nobody could make without the key: %q", sig)
	})
}
