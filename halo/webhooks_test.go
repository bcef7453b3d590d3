package halo_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/halo"
	"github.com/countersign/countersign/halo/halotest"
)

const (
	hookUser = "cs-hook-7f3a"
	hookPass = "Zq8vN1xT4rLw0pYc6mE2hK9s"
)

func hookClient(t *testing.T) *halo.Client {
	t.Helper()
	c, err := halo.New(halo.Config{InstanceURL: "https://acme.halopsa.com", ClientID: "i", ClientSecret: "s",
		WebhookUser: hookUser, WebhookPassword: hookPass}, psa.Deps{})
	require.NoError(t, err)
	return c
}

func basic(user, pass string) http.Header {
	return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}}
}

func TestWebhookVerify(t *testing.T) {
	c := hookClient(t)
	ticket := []byte(`{"id": 3001, "summary": "New PC", "client_id": 12, "site_id": 34, "user_id": 2001, "status_id": 1}`)
	cb, err := c.VerifyCallback(t.Context(), basic(hookUser, hookPass), ticket)
	require.NoError(t, err)
	assert.Equal(t, psa.Callback{ID: cb.ID, Type: "ticket", Action: psa.CallbackAdded, Ref: "3001"}, cb)
	assert.True(t, strings.HasPrefix(cb.ID, "sha256:"))
	again, err := c.VerifyCallback(t.Context(), basic(hookUser, hookPass), ticket)
	require.NoError(t, err)
	assert.Equal(t, cb.ID, again.ID, "a re-sent delivery has the same id, for the host to drop")

	for name, body := range map[string]string{
		"wrapped ticket": `{"ticket": {"id": "3002"}, "action": {"ticket_id": 3002, "id": 9}}`,
		"action only":    `{"action": {"ticket_id": 3002, "outcome": "Email User"}}`,
		"ticket_id":      `{"ticket_id": 3002.0}`,
		"batched":        `[{"event": "New Ticket Logged", "ticket": {"id": 3002}}, {"ticket": {"id": 3003}}]`,
	} {
		cb, err := c.VerifyCallback(t.Context(), basic(hookUser, hookPass), []byte(body))
		require.NoError(t, err, name)
		assert.Equal(t, "3002", cb.Ref, name)
		assert.Equal(t, psa.CallbackAdded, cb.Action, name)
	}
	cb, err = c.VerifyCallback(t.Context(), basic(hookUser, hookPass), []byte(`{"event": "Ticket Reassigned", "ticket": {"id": 5}}`))
	require.NoError(t, err)
	assert.Equal(t, psa.CallbackUpdated, cb.Action)

	for name, h := range map[string]http.Header{
		"none":          {},
		"wrong pass":    basic(hookUser, hookPass+"x"),
		"wrong user":    basic("admin", hookPass),
		"swapped":       basic(hookPass, hookUser),
		"bearer":        {"Authorization": {"Bearer " + hookPass}},
		"not base64":    {"Authorization": {"Basic %%%"}},
		"no colon":      {"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(hookUser+hookPass))}},
		"prefix of pwd": basic(hookUser, hookPass[:10]),
	} {
		_, err := c.VerifyCallback(t.Context(), h, ticket)
		assert.ErrorIs(t, err, core.ErrUnauthorized, name)
	}
	for name, body := range map[string]string{
		"empty":        ``,
		"not json":     `<xml/>`,
		"no ticket":    `{"client": {"id": 4}}`,
		"zero id":      `{"ticket_id": 0}`,
		"negative":     `{"ticket_id": -3}`,
		"fraction":     `{"ticket_id": 3.5}`,
		"trailing":     `{"ticket_id": 3} {"ticket_id": 4}`,
		"huge":         `{"ticket_id": 3, "x": "` + strings.Repeat("a", psa.MaxInboundBody) + `"}`,
		"deep garbage": strings.Repeat("[", 5000),
	} {
		_, err := c.VerifyCallback(t.Context(), basic(hookUser, hookPass), []byte(body))
		assert.ErrorIs(t, err, core.ErrInvalid, name)
	}

	// An integration without webhook credentials takes no webhook at all.
	open, err := halo.New(halo.Config{InstanceURL: "https://acme.halopsa.com", ClientID: "i", ClientSecret: "s"}, psa.Deps{})
	require.NoError(t, err)
	_, err = open.VerifyCallback(t.Context(), http.Header{}, ticket)
	assert.ErrorIs(t, err, core.ErrUnauthorized)
	_, err = open.VerifyCallback(t.Context(), basic("", ""), ticket)
	assert.ErrorIs(t, err, core.ErrUnauthorized)
}

func FuzzVerifyCallback(f *testing.F) {
	f.Add("Basic "+base64.StdEncoding.EncodeToString([]byte(hookUser+":"+hookPass)), []byte(`{"ticket":{"id":1}}`))
	f.Add("Basic "+base64.StdEncoding.EncodeToString([]byte(hookUser+":"+hookPass)), []byte(`[{"ticket_id":"7"},1,null]`))
	f.Add("Basic Og==", []byte(`{"id":1,"summary":"x"}`))
	f.Add("", []byte(`{}`))
	c, err := halo.New(halo.Config{InstanceURL: "https://acme.halopsa.com", ClientID: "i", ClientSecret: "s",
		WebhookUser: hookUser, WebhookPassword: hookPass}, psa.Deps{})
	if err != nil {
		f.Fatal(err)
	}
	good := "Basic " + base64.StdEncoding.EncodeToString([]byte(hookUser+":"+hookPass))
	f.Fuzz(func(t *testing.T, auth string, body []byte) {
		cb, err := c.VerifyCallback(t.Context(), http.Header{"Authorization": {auth}}, body)
		if err != nil {
			k := core.ErrorKind(err)
			if k != core.KindUnauthorized && k != core.KindInvalid {
				t.Fatalf("error of kind %s: %v", k, err)
			}
			return
		}
		if strings.TrimSpace(auth) != good && !strings.EqualFold(strings.Fields(auth)[0], "basic") {
			t.Fatalf("accepted %q", auth)
		}
		if cb.Ref == "" || strings.Trim(cb.Ref, "0123456789") != "" || cb.Ref[0] == '0' || cb.ID == "" || cb.Type != "ticket" {
			t.Fatalf("bad callback %+v", cb)
		}
	})
}

func TestRegisterWebhook(t *testing.T) {
	f := newFixture(t, nil)
	const target = "https://cs.example/webhooks/psa/acme-it/int_abc"
	regs, err := f.c.RegisterCallbacks(t.Context(), target)
	require.NoError(t, err)
	require.Len(t, regs, 1)
	assert.True(t, regs[0].Created)
	hooks := f.srv.Webhooks()
	require.Len(t, hooks, 1)
	assert.Equal(t, target, hooks[0]["url"])
	assert.Equal(t, halotest.WebhookUser, hooks[0]["basic_username"])
	assert.Equal(t, halotest.WebhookPassword, hooks[0]["basic_password"])
	assert.Equal(t, "application/json", hooks[0]["content_type"])

	f.srv.SetWebhookActive(target, false)
	again, err := f.c.RegisterCallbacks(t.Context(), target)
	require.NoError(t, err)
	require.Len(t, again, 1)
	assert.Equal(t, regs[0].Ref, again[0].Ref)
	assert.True(t, again[0].Reenabled, "Halo had it inactive")
	assert.Equal(t, true, f.srv.Webhooks()[0]["active"])
	assert.Len(t, f.srv.Webhooks(), 1, "never duplicated")

	g := newFixture(t, func(c *halo.Config) { c.WebhookUser, c.WebhookPassword = "", "" })
	_, err = g.c.RegisterCallbacks(t.Context(), target)
	assert.ErrorIs(t, err, core.ErrInvalid, "no credentials, no webhook")
}
