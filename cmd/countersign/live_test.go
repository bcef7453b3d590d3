package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core/store/storetest"
	"github.com/countersign/countersign/core/twilio/twiliotest"
)

// startNode runs a server with cfg until the test ends and returns its base
// URL, a function that stops it (reporting Run's error), and its logs.
func startNode(t *testing.T, cfg Config) (base string, stop func() error, logs *syncBuffer) {
	t.Helper()
	logs = &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, log, func(a string) { addrc <- a }) }()
	select {
	case a := <-addrc:
		base = "http://" + a
	case err := <-done:
		cancel()
		t.Fatalf("server did not start: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("server did not start in time\n%s", logs.String())
	}
	var stopped bool
	var runErr error
	stop = func() error {
		if stopped {
			return runErr
		}
		stopped = true
		cancel()
		select {
		case runErr = <-done:
		case <-time.After(20 * time.Second):
			t.Errorf("server %s did not shut down", base)
		}
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return base, stop, logs
}

// TestLiveAcrossNodes runs two servers on one PostgreSQL database: a
// verification completed through node A turns the contact green on a
// socket connected to node B, within a second.
func TestLiveAcrossNodes(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	masterKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	t.Setenv("COUNTERSIGN_MASTER_KEY", masterKey)
	code, out := cli(t, "tenant", "create", "-db", dsn, "-slug", "acme-it", "-name", "Acme IT")
	require.Equal(t, 0, code, out)
	t.Setenv("LIVE_PASSWORD", "correct horse battery staple")
	code, out = cli(t, "user", "create", "-db", dsn, "-tenant", "acme-it", "-email", "jane@acme.example",
		"-name", "Jane Tech", "-role", "admin", "-password-env", "LIVE_PASSWORD")
	require.Equal(t, 0, code, out)

	tw := twiliotest.New(t)
	cfg := Config{
		Listen: "127.0.0.1:0", Database: dsn, MasterKey: masterKey, OutboxPoll: 200 * time.Millisecond,
		TwilioAccountSID: twiliotest.DefaultAccountSID, TwilioSecret: twiliotest.DefaultAuthToken, TwilioFrom: "+15550100000",
		twilioHTTP: tw.HTTPClient(),
	}
	baseA, _, logsA := startNode(t, cfg)
	baseB, stopB, logsB := startNode(t, cfg)
	assert.Contains(t, logsB.String(), "listening for other nodes' events")

	signIn := func(base string) *apiClient {
		api := newAPIClient(t, base+"/api/v1")
		status, body := api.do("POST", "/login", map[string]string{"tenant": "acme-it", "email": "jane@acme.example", "password": "correct horse battery staple"})
		require.Equal(t, http.StatusOK, status, body)
		return api
	}
	apiA, apiB := signIn(baseA), signIn(baseB)

	status, body := apiA.do("POST", "/clients", map[string]string{"name": "Contoso"})
	require.Equal(t, http.StatusCreated, status, body)
	status, body = apiA.do("POST", "/contacts", map[string]any{"client_id": body["id"], "first_name": "Sam", "last_name": "Caller",
		"phones": []map[string]any{{"value": "(555) 010-0142", "default": true}}})
	require.Equal(t, http.StatusCreated, status, body)
	contactID := body["id"].(string)

	// A pod on node B watches the contact.
	d := websocket.Dialer{Jar: apiB.http.Jar, HandshakeTimeout: 5 * time.Second}
	ws, res, err := d.DialContext(t.Context(), "ws"+strings.TrimPrefix(baseB, "http")+"/api/v1/live?contact="+contactID,
		http.Header{"Origin": {baseB}})
	require.NoError(t, err, "dial node B: %v", res)
	t.Cleanup(func() { ws.Close() })
	read := func(d time.Duration) (map[string]any, error) {
		if err := ws.SetReadDeadline(time.Now().Add(d)); err != nil {
			return nil, err
		}
		_, raw, err := ws.ReadMessage()
		if err != nil {
			return nil, err
		}
		var m map[string]any
		return m, json.Unmarshal(raw, &m)
	}
	hello, err := read(time.Second)
	require.NoError(t, err)
	require.Equal(t, "hello", hello["type"])

	// The verification runs entirely through node A.
	status, body = apiA.do("POST", "/verifications", map[string]string{"contact_id": contactID, "method": "sms_code", "ticket_ref": "4821"})
	require.Equal(t, http.StatusCreated, status, body)
	id := body["id"].(string)
	wctx, wcancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer wcancel()
	sms, err := tw.WaitForMessage(wctx, "+15550100142")
	require.NoError(t, err)
	smsCode := regexp.MustCompile(`\d{6}`).FindString(strings.ReplaceAll(sms.Body, " ", ""))
	require.NotEmpty(t, smsCode, sms.Body)
	status, body = apiA.do("POST", "/verifications/"+id+"/check", map[string]string{"code": smsCode})
	require.Equal(t, http.StatusOK, status, body)
	checked := time.Now()

	var got map[string]any
	for got == nil {
		m, err := read(time.Until(checked.Add(time.Second)))
		require.NoError(t, err, "node B's socket got no verification.verified within 1 s\nnode A:\n%s\nnode B:\n%s", logsA.String(), logsB.String())
		if m["type"] == "verification.verified" {
			got = m
		}
	}
	t.Logf("node B's pod saw the verification %v after node A answered", time.Since(checked))
	assert.Equal(t, id, got["verification_id"])
	assert.Equal(t, contactID, got["contact_id"])
	assert.Equal(t, "4821", got["ticket_ref"])
	assert.Equal(t, "verified", got["status"])
	assert.NotContains(t, got, "tenant_id")
	// What the pod refetches on node B is green too.
	status, body = apiB.do("GET", "/contacts/"+contactID, nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "green", body["shield"].(map[string]any)["state"])

	// Node B shutting down closes the socket with "going away", so the
	// page reconnects (to another node behind the load balancer).
	stopped := make(chan error, 1)
	go func() { stopped <- stopB() }()
	for {
		_, err := read(5 * time.Second)
		if err != nil {
			var ce *websocket.CloseError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, websocket.CloseGoingAway, ce.Code)
			break
		}
	}
	require.NoError(t, <-stopped, "graceful shutdown of node B")
}
