package connectwise_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/connectwise"
	"github.com/countersign/countersign/connectwise/cwtest"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// cbEnv is a fake ConnectWise and a client of it on a settable clock.
type cbEnv struct {
	srv    *cwtest.Server
	client *connectwise.Client
	mu     sync.Mutex
	now    time.Time
	logs   *syncBuffer
}

func (e *cbEnv) clock() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now }
func (e *cbEnv) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

func newCBEnv(t *testing.T, opts ...cwtest.Option) *cbEnv {
	t.Helper()
	e := &cbEnv{srv: cwtest.NewServer(t, opts...), now: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC), logs: &syncBuffer{}}
	e.srv.Seed([]psa.Company{acme}, []psa.Contact{alice}, []psa.Ticket{ticket})
	e.client = e.newClient(t)
	return e
}

// newClient returns another client of the fake, with its own key cache.
func (e *cbEnv) newClient(t *testing.T) *connectwise.Client {
	t.Helper()
	deps := e.srv.Deps(psa.Deps{Now: e.clock,
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Retry:  psa.RetryPolicy{Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}})
	c, err := connectwise.New(e.srv.Config(), deps)
	require.NoError(t, err)
	return c
}

func header(sig string) http.Header {
	h := http.Header{}
	if sig != "" {
		h.Set("X-Content-Signature", sig)
	}
	return h
}

// TestSignatureTestVector checks the algorithm against the vector of
// reference §10.4 — SHA-256 of the signing key as the HMAC key — end to
// end through VerifyCallback, with the key served at the vector's key URL.
func TestSignatureTestVector(t *testing.T) {
	const body = `{"MessageId":"m-1","Action":"updated","Type":"ticket","ID":5000,"Metadata":{"key_url":"https://na.myconnectwise.net/v2025_1//system/callbackkey/index.rails?companyName=Acme&id=00000000-0000-0000-0000-000000000000"}}`
	require.Len(t, body, 215)
	const want = "hvVsyd56k7UfG7bm34yJmY7JmfxMl/0G+BbvIvA8Pxg="
	assert.Equal(t, want, connectwise.SignCallback("example-signing-key", []byte(body)))

	var fetched []string
	hc := &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
		fetched = append(fetched, r.URL.String())
		assert.Empty(t, r.Header.Get("Authorization"), "the key is asked for without credentials first")
		assert.Equal(t, "cid", r.Header.Get("clientId"))
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(`{"signing_key":"example-signing-key"}`)), Request: r}, nil
	})}
	c, err := connectwise.New(connectwise.Config{Site: "na.myconnectwise.net", CompanyID: "Acme", PublicKey: "pub", PrivateKey: "priv", ClientID: "cid"},
		psa.Deps{HTTPClient: hc})
	require.NoError(t, err)
	cb, err := c.VerifyCallback(t.Context(), header(want), []byte(body))
	require.NoError(t, err)
	assert.Equal(t, psa.Callback{ID: "m-1", Type: "ticket", Action: "updated", Ref: "5000"}, cb)
	assert.Equal(t, []string{"https://na.myconnectwise.net/v2025_1//system/callbackkey/index.rails?companyName=Acme&id=00000000-0000-0000-0000-000000000000"}, fetched)

	// The raw key as HMAC key gives another signature, which is refused.
	_, err = c.VerifyCallback(t.Context(), header("aeGdlMZtscAWGVAXfOtTFEKuMfvp/JVqunj1etxb988="), []byte(body))
	require.ErrorIs(t, err, core.ErrUnauthorized)
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestVerifyCallback(t *testing.T) {
	e := newCBEnv(t)
	ctx := t.Context()
	cb := e.srv.SignedCallback("added", "ticket", 3001, map[string]any{"id": 3001, "summary": "Password reset"})

	got, err := e.client.VerifyCallback(ctx, header(cb.Signature), cb.Body)
	require.NoError(t, err)
	assert.Equal(t, "ticket", got.Type)
	assert.Equal(t, psa.CallbackAdded, got.Action)
	assert.Equal(t, "3001", got.Ref)
	assert.NotEmpty(t, got.ID)
	assert.Equal(t, 1, e.srv.KeyFetches())

	// A second callback uses the cached key: one fetch for two callbacks.
	cb2 := e.srv.SignedCallback("updated", "ticket", 3001, map[string]any{"id": 3001})
	_, err = e.client.VerifyCallback(ctx, header(cb2.Signature), cb2.Body)
	require.NoError(t, err)
	assert.Equal(t, 1, e.srv.KeyFetches(), "the signing key is cached")

	// Deleted: Entity is null.
	cb3 := e.srv.SignedCallback("deleted", "ticket", 3001, nil)
	got, err = e.client.VerifyCallback(ctx, header(cb3.Signature), cb3.Body)
	require.NoError(t, err)
	assert.Equal(t, psa.CallbackDeleted, got.Action)

	keyURL := e.srv.CallbackKeyURL()
	signed := func(m map[string]any) ([]byte, string) {
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return b, e.srv.Sign(b)
	}
	payload := func(keyURL string, change ...func(map[string]any)) map[string]any {
		m := map[string]any{"MessageId": "m-2", "FromUrl": e.srv.Site(), "CompanyId": e.srv.CompanyID(), "Action": "added", "Type": "ticket",
			"ID": 3001, "Entity": "{}", "Metadata": map[string]string{"key_url": keyURL}}
		for _, f := range change {
			f(m)
		}
		return m
	}

	tests := []struct {
		name    string
		body    []byte
		sig     string
		kind    error
		message string
	}{
		{name: "no signature", body: cb.Body, kind: core.ErrUnauthorized, message: "no x-content-signature"},
		{name: "signature not base64", body: cb.Body, sig: "not base64!", kind: core.ErrUnauthorized, message: "not a base64"},
		{name: "signature of another body", body: cb2.Body, sig: cb.Signature, kind: core.ErrUnauthorized, message: "does not match"},
		{name: "body changed after signing", body: []byte(strings.Replace(string(cb.Body), "3001", "3002", 1)), sig: cb.Signature,
			kind: core.ErrUnauthorized, message: "does not match"},
		{name: "malformed json", body: []byte(`{"Action":"added",`), sig: cb.Signature, kind: core.ErrInvalid, message: "not a JSON object"},
		{name: "json array", body: []byte(`[1,2]`), sig: cb.Signature, kind: core.ErrInvalid},
		{name: "no key url", body: []byte(`{"Action":"added","Type":"ticket","ID":1}`), sig: cb.Signature, kind: core.ErrUnauthorized, message: "key_url"},
	}
	for _, h := range []struct{ name, url, message string }{
		{"foreign host", strings.Replace(keyURL, e.srv.Site(), "evil.example", 1), `host "evil.example"`},
		{"another region", strings.Replace(keyURL, e.srv.Site(), "eu.myconnectwise.net", 1), "eu.myconnectwise.net"},
		{"look-alike host", strings.Replace(keyURL, e.srv.Site(), e.srv.Site()+".evil.example", 1), "not this integration's ConnectWise"},
		{"http", strings.Replace(keyURL, "https://", "http://", 1), "not https"},
		{"credentials", strings.Replace(keyURL, "https://", "https://user:pw@", 1), "credentials"},
		{"port", strings.Replace(keyURL, e.srv.Site(), e.srv.Site()+":8443", 1), "port 8443"},
		{"path", strings.Replace(keyURL, "/system/callbackkey/index.rails", "/system/other", 1), "path"},
		{"other company", strings.Replace(keyURL, "companyName="+e.srv.CompanyID(), "companyName=othermsp", 1), `company "othermsp"`},
		{"no company", strings.Replace(keyURL, "companyName="+e.srv.CompanyID(), "x=1", 1), "company"},
	} {
		b, sig := signed(payload(h.url))
		tests = append(tests, struct {
			name    string
			body    []byte
			sig     string
			kind    error
			message string
		}{name: "key url: " + h.name, body: b, sig: sig, kind: core.ErrUnauthorized, message: h.message})
	}
	b, sig := signed(payload(keyURL, func(m map[string]any) { m["CompanyId"] = "othermsp" }))
	tests = append(tests, struct {
		name    string
		body    []byte
		sig     string
		kind    error
		message string
	}{name: "signed but for another company", body: b, sig: sig, kind: core.ErrUnauthorized, message: `company "othermsp"`})
	b, sig = signed(payload(keyURL, func(m map[string]any) { m["FromUrl"] = "eu.myconnectwise.net" }))
	tests = append(tests, struct {
		name    string
		body    []byte
		sig     string
		kind    error
		message string
	}{name: "signed but from another host", body: b, sig: sig, kind: core.ErrUnauthorized, message: "eu.myconnectwise.net"})
	b, sig = signed(payload(keyURL, func(m map[string]any) { m["ID"] = "x" }))
	tests = append(tests, struct {
		name    string
		body    []byte
		sig     string
		kind    error
		message string
	}{name: "signed without a record id", body: b, sig: sig, kind: core.ErrInvalid, message: "record id"})

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.srv.KeyFetches()
			_, err := e.client.VerifyCallback(ctx, header(tc.sig), tc.body)
			require.ErrorIs(t, err, tc.kind)
			assert.Contains(t, core.ErrorMessage(err), tc.message)
			assert.Equal(t, before, e.srv.KeyFetches(), "nothing is fetched for a refused callback")
		})
	}

	// Extra fields and a numeric string id are read defensively.
	b, sig = signed(payload(keyURL, func(m map[string]any) { m["ID"] = "3001"; m["Surprise"] = []int{1} }))
	got, err = e.client.VerifyCallback(ctx, header(sig), b)
	require.NoError(t, err)
	assert.Equal(t, "3001", got.Ref)
	assert.Equal(t, 1, e.srv.KeyFetches())
}

func TestCallbackKeyRotationAndLimits(t *testing.T) {
	e := newCBEnv(t)
	ctx := t.Context()
	cb := e.srv.SignedCallback("added", "ticket", 3001, map[string]any{"id": 3001})
	_, err := e.client.VerifyCallback(ctx, header(cb.Signature), cb.Body)
	require.NoError(t, err)
	require.Equal(t, 1, e.srv.KeyFetches())

	// ConnectWise rotates the key behind the URL: within a minute of the
	// last fetch a mismatch is refused without asking again…
	e.srv.RotateCallbackKey()
	cb = e.srv.SignedCallback("added", "ticket", 3001, map[string]any{"id": 3001})
	_, err = e.client.VerifyCallback(ctx, header(cb.Signature), cb.Body)
	require.ErrorIs(t, err, core.ErrUnauthorized)
	assert.Equal(t, 1, e.srv.KeyFetches())
	// …and after it, the key is fetched once more and the callback passes.
	e.advance(2 * time.Minute)
	_, err = e.client.VerifyCallback(ctx, header(cb.Signature), cb.Body)
	require.NoError(t, err)
	assert.Equal(t, 2, e.srv.KeyFetches())
	// A cached key expires after an hour.
	e.advance(61 * time.Minute)
	_, err = e.client.VerifyCallback(ctx, header(cb.Signature), cb.Body)
	require.NoError(t, err)
	assert.Equal(t, 3, e.srv.KeyFetches())

	// A key URL on the tenant's host with an id ConnectWise does not know
	// is fetched (it passes the pins) and refused; forged ones cannot make
	// us fetch more than ten a minute.
	forged := func(i int) ([]byte, string) {
		u := strings.Replace(e.srv.CallbackKeyURL(), "&id=", "&id=00000000-0000-4000-8000-00000000000"+string(rune('a'+i))+"x", 1)
		b, _ := json.Marshal(map[string]any{"Action": "added", "Type": "ticket", "ID": 1, "Metadata": map[string]string{"key_url": u}})
		return b, e.srv.Sign(b)
	}
	fresh := e.newClient(t)
	before := e.srv.KeyFetches()
	for i := range 10 {
		b, sig := forged(i)
		_, err := fresh.VerifyCallback(ctx, header(sig), b)
		require.ErrorIs(t, err, core.ErrUnauthorized, "attempt %d", i)
		assert.Contains(t, core.ErrorMessage(err), "no such callback signing key")
	}
	assert.Equal(t, before+10, e.srv.KeyFetches())
	b, sig := forged(11)
	_, err = fresh.VerifyCallback(ctx, header(sig), b)
	require.ErrorIs(t, err, core.ErrRateLimited)
	assert.Equal(t, before+10, e.srv.KeyFetches(), "the eleventh is not fetched")
}

func TestCallbackKeyWhileConnectWiseIsDown(t *testing.T) {
	e := newCBEnv(t)
	cb := e.srv.SignedCallback("added", "ticket", 3001, map[string]any{"id": 3001})
	e.srv.SetDown(true)
	_, err := e.client.VerifyCallback(t.Context(), header(cb.Signature), cb.Body)
	require.ErrorIs(t, err, core.ErrUnavailable)
	assert.Contains(t, core.ErrorMessage(err), "did not hand out the callback signing key")
	e.srv.SetDown(false)
	_, err = e.client.VerifyCallback(t.Context(), header(cb.Signature), cb.Body)
	require.NoError(t, err, "a failed fetch is not cached")
}

func TestRegisterCallbacks(t *testing.T) {
	e := newCBEnv(t)
	ctx := t.Context()
	const target = "https://cs.example/webhooks/connectwise/acme/int_1?recordId="

	regs, err := e.client.RegisterCallbacks(ctx, target)
	require.NoError(t, err)
	require.Len(t, regs, 1)
	assert.True(t, regs[0].Created)
	assert.Equal(t, "ticket", regs[0].Type)
	cbs := e.srv.Callbacks()
	require.Len(t, cbs, 1)
	assert.Equal(t, cwtest.CallbackEntry{ID: cbs[0].ID, URL: target, Type: "ticket", Level: "owner", ObjectID: 1,
		Description: "Countersign", PayloadVersion: "3.0.0"}, cbs[0])
	assert.Equal(t, regs[0].Ref, strconv.Itoa(cbs[0].ID))

	// Again: reused, not duplicated.
	regs, err = e.client.RegisterCallbacks(ctx, target)
	require.NoError(t, err)
	assert.False(t, regs[0].Created)
	assert.False(t, regs[0].Reenabled)
	assert.Len(t, e.srv.Callbacks(), 1)

	// ConnectWise disabled it after failed deliveries: re-enabled by PATCH.
	e.srv.DisableCallback(cbs[0].ID)
	regs, err = e.client.RegisterCallbacks(ctx, target)
	require.NoError(t, err)
	assert.True(t, regs[0].Reenabled)
	cbs = e.srv.Callbacks()
	require.Len(t, cbs, 1)
	assert.False(t, cbs[0].Inactive)

	// Another URL (another integration) is another registration.
	_, err = e.client.RegisterCallbacks(ctx, "https://cs.example/webhooks/connectwise/acme/int_2?recordId=")
	require.NoError(t, err)
	assert.Len(t, e.srv.Callbacks(), 2)

	// Bad URLs are refused before any call.
	n := e.srv.Requests()
	for _, bad := range []string{"", "ftp://x/y", "/relative", "https://cs.example/a b"} {
		_, err := e.client.RegisterCallbacks(ctx, bad)
		require.ErrorIs(t, err, core.ErrInvalid, bad)
	}
	assert.Equal(t, n, e.srv.Requests())
}

// TestRegisterCallbacksReusesLegacyURL: an integration whose callback was
// registered at the route that predates /webhooks/psa/ keeps that one
// registration (the legacy route still takes it) instead of getting a
// second, which would make ConnectWise post every ticket twice.
func TestRegisterCallbacksReusesLegacyURL(t *testing.T) {
	e := newCBEnv(t)
	ctx := t.Context()
	_, err := e.client.RegisterCallbacks(ctx, "https://cs.example/webhooks/connectwise/acme/int_1?recordId=")
	require.NoError(t, err)
	regs, err := e.client.RegisterCallbacks(ctx, "https://cs.example/webhooks/psa/acme/int_1?recordId=")
	require.NoError(t, err)
	require.Len(t, regs, 1)
	assert.False(t, regs[0].Created)
	assert.Len(t, e.srv.Callbacks(), 1)

	_, err = e.client.RegisterCallbacks(ctx, "https://cs.example/webhooks/psa/acme/int_2?recordId=")
	require.NoError(t, err)
	assert.Len(t, e.srv.Callbacks(), 2, "another integration's URL is another registration")
}

func TestRegisterCallbacksFaults(t *testing.T) {
	const target = "https://cs.example/webhooks/connectwise/acme/int_1?recordId="
	t.Run("role may not add callbacks", func(t *testing.T) {
		e := newCBEnv(t)
		e.srv.Forbid("", "POST /system/callbacks")
		_, err := e.client.RegisterCallbacks(t.Context(), target)
		require.ErrorIs(t, err, core.ErrForbidden)
		assert.Contains(t, core.ErrorMessage(err), "Table Setup")
		assert.Empty(t, e.srv.Callbacks())
	})
	t.Run("role may not read callbacks", func(t *testing.T) {
		e := newCBEnv(t)
		e.srv.Forbid("", "GET /system/callbacks")
		_, err := e.client.RegisterCallbacks(t.Context(), target)
		require.ErrorIs(t, err, core.ErrForbidden)
		assert.Contains(t, core.ErrorMessage(err), "reading callbacks")
	})
	t.Run("keys revoked", func(t *testing.T) {
		e := newCBEnv(t)
		e.srv.RejectKeys(true)
		_, err := e.client.RegisterCallbacks(t.Context(), target)
		require.ErrorIs(t, err, core.ErrUnauthorized)
		assert.Contains(t, core.ErrorMessage(err), "rejected the API keys")
	})
	t.Run("down", func(t *testing.T) {
		e := newCBEnv(t)
		e.srv.SetDown(true)
		_, err := e.client.RegisterCallbacks(t.Context(), target)
		require.ErrorIs(t, err, core.ErrUnavailable)
	})
	t.Run("server error on the list is retried", func(t *testing.T) {
		e := newCBEnv(t)
		require.NoError(t, e.client.Check(t.Context())) // warm the codebase
		e.srv.FailNext(1, http.StatusInternalServerError, "")
		_, err := e.client.RegisterCallbacks(t.Context(), target)
		require.NoError(t, err, "the list is a GET and retried on 500")
		assert.Len(t, e.srv.Callbacks(), 1)
	})
}
