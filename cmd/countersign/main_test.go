package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core/smtp/smtptest"
	"github.com/countersign/countersign/core/twilio/twiliotest"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// cli runs a subcommand in-process and returns its exit code and output.
func cli(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(t.Context(), args, &out, &errOut)
	return code, out.String() + errOut.String()
}

// apiClient talks JSON to the server with a cookie jar.
type apiClient struct {
	t    *testing.T
	base string
	http *http.Client
}

func newAPIClient(t *testing.T, base string) *apiClient {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &apiClient{t: t, base: base, http: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

func (c *apiClient) do(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(c.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, rd)
	require.NoError(c.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// TestEndToEnd starts the whole server with Run against the loopback Twilio
// fake and SMTP server, signs a technician in with TOTP enrolment, completes
// an SMS-code and an email-link verification, checks that no secret reached
// the logs, shuts down gracefully, and checks the audit log with the CLI —
// before and after tampering with the database.
func TestEndToEnd(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "cs.db")
	masterKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	t.Setenv("COUNTERSIGN_MASTER_KEY", masterKey)

	code, out := cli(t, "tenant", "create", "-db", db, "-slug", "acme-it", "-name", "Acme IT")
	require.Equal(t, 0, code, out)
	t.Setenv("E2E_PASSWORD", "correct horse battery staple")
	code, out = cli(t, "user", "create", "-db", db, "-tenant", "acme-it", "-email", "Jane@Acme.example",
		"-name", "Jane Tech", "-role", "admin", "-password-env", "E2E_PASSWORD")
	require.Equal(t, 0, code, out)
	code, out = cli(t, "tenant", "create", "-db", db, "-slug", "acme-it", "-name", "Again")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "already exists")

	tw := twiliotest.New(t)
	mail := smtptest.New(t, smtptest.WithAuth("mailer", "smtp-pass-987"), smtptest.WithSTARTTLS())
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := Config{
		Listen: "127.0.0.1:0", Database: db, MasterKey: masterKey, RequireTOTP: true, OutboxPoll: 200 * time.Millisecond,
		TwilioAccountSID: twiliotest.DefaultAccountSID, TwilioSecret: twiliotest.DefaultAuthToken, TwilioFrom: "+15550100000",
		twilioHTTP: tw.HTTPClient(),
		SMTPHost:   mail.Host(), SMTPPort: mail.Port(), SMTPUsername: "mailer", SMTPPassword: "smtp-pass-987",
		SMTPFrom: "helpdesk@acme.example", SMTPTLS: "starttls", smtpRoots: mail.CertPool(),
		MetricsListen: "127.0.0.1:0",
	}
	metricsAddr := make(chan string, 1)
	cfg.metricsReady = func(a string) { metricsAddr <- a }
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, log, func(a string) { addrc <- a }) }()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("server did not start: %v", err)
	}
	t.Cleanup(cancel)

	api := newAPIClient(t, base+"/api/v1")
	status, _ := api.do("GET", "/contacts", nil)
	require.Equal(t, http.StatusUnauthorized, status)

	// First sign-in: the password is right, then a TOTP enrolment.
	status, body := api.do("POST", "/login", map[string]string{"tenant": "acme-it", "email": "jane@acme.example", "password": "correct horse battery staple"})
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, true, body["totp_enrollment_required"])
	totpSecret := body["secret"].(string)
	status, _ = api.do("GET", "/contacts", nil)
	require.Equal(t, http.StatusUnauthorized, status, "no session before enrolment completes")
	otpCode, err := totp.GenerateCode(totpSecret, time.Now())
	require.NoError(t, err)
	status, body = api.do("POST", "/login/totp", map[string]string{"code": otpCode})
	require.Equal(t, http.StatusOK, status, body)

	status, body = api.do("POST", "/clients", map[string]string{"name": "Contoso"})
	require.Equal(t, http.StatusCreated, status, body)
	clientID := body["id"].(string)
	status, body = api.do("POST", "/contacts", map[string]any{"client_id": clientID, "first_name": "Sam", "last_name": "Caller",
		"phones": []map[string]any{{"value": "(555) 010-0142", "default": true}},
		"emails": []map[string]any{{"value": "sam@contoso.example", "default": true}}})
	require.Equal(t, http.StatusCreated, status, body)
	contactID := body["id"].(string)

	// SMS code: the code arrives at the Twilio fake and is read back.
	status, body = api.do("POST", "/verifications", map[string]string{"contact_id": contactID, "method": "sms_code", "ticket_ref": "4821"})
	require.Equal(t, http.StatusCreated, status, body)
	smsID := body["id"].(string)
	wctx, wcancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer wcancel()
	sms, err := tw.WaitForMessage(wctx, "+15550100142")
	require.NoError(t, err)
	assert.Equal(t, 300, sms.ValidityPeriod)
	smsCode := regexp.MustCompile(`\d{6}`).FindString(strings.ReplaceAll(sms.Body, " ", ""))
	require.NotEmpty(t, smsCode, sms.Body)
	status, body = api.do("POST", "/verifications/"+smsID+"/check", map[string]string{"code": smsCode})
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, "verified", body["status"])
	status, body = api.do("GET", "/contacts/"+contactID, nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "green", body["shield"].(map[string]any)["state"])

	// Email link: the link arrives over SMTP; the end user opens it in a
	// browser without the technician's cookies and confirms with the code
	// the technician reads out.
	status, body = api.do("POST", "/verifications", map[string]string{"contact_id": contactID, "method": "email_link"})
	require.Equal(t, http.StatusCreated, status, body)
	linkID, techCode := body["id"].(string), body["tech_code"].(string)
	require.Len(t, techCode, 6)
	msg, err := mail.WaitForMessage(wctx, "sam@contoso.example")
	require.NoError(t, err)
	assert.True(t, msg.TLS, "mail went over STARTTLS")
	assert.Equal(t, "mailer", msg.AuthUser)
	link := regexp.MustCompile(regexp.QuoteMeta(base) + `/l/acme-it/[A-Za-z0-9_-]{43}`).FindString(msg.Text)
	require.NotEmpty(t, link, msg.Text)
	enduser := &http.Client{Timeout: 10 * time.Second}
	resp, err := enduser.Get(link)
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	status, body = api.do("GET", "/verifications/"+linkID, nil)
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, []any{"pending", "sent"}, body["status"], "GET of the link changed nothing")
	nonce := regexp.MustCompile(`name="nonce" value="([^"]+)"`).FindSubmatch(page)
	require.NotNil(t, nonce, string(page))
	resp, err = enduser.PostForm(link, url.Values{"nonce": {string(nonce[1])}, "code": {techCode}, "action": {"confirm"}})
	require.NoError(t, err)
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(page))
	assert.Contains(t, string(page), "you are confirmed")
	status, body = api.do("GET", "/verifications/"+linkID, nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "verified", body["status"])

	// The enrolment code cannot be replayed to sign in again, and the
	// refusal looks like any other wrong sign-in.
	status, _ = api.do("POST", "/logout", nil)
	require.Equal(t, http.StatusOK, status)
	status, body = api.do("POST", "/login", map[string]string{"tenant": "acme-it", "email": "jane@acme.example",
		"password": "correct horse battery staple", "totp": otpCode})
	assert.Equal(t, http.StatusUnauthorized, status, "replayed TOTP code")
	assert.Equal(t, "email, password or code is wrong", body["error"])

	// Metrics count the outcomes, on their own listener only (issue 9
	// item 8: the public one showed per-tenant counts to anyone).
	resp, err = enduser.Get(base + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "no /metrics on the public listener")
	resp, err = enduser.Get("http://" + <-metricsAddr + "/metrics")
	require.NoError(t, err)
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(metrics), `countersign_verifications_total{method="sms_code",outcome="verified"} 1`)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, "graceful shutdown")
	case <-time.After(20 * time.Second):
		t.Fatal("server did not shut down")
	}

	// No secret reaches the logs: codes, the link token, the TOTP secret,
	// the master key and provider credentials.
	all := logs.String()
	require.NotEmpty(t, all)
	token := link[strings.LastIndex(link, "/")+1:]
	for name, secret := range map[string]string{
		"sms code": smsCode, "link token": token, "tech code": techCode, "totp secret": totpSecret, "totp code": otpCode,
		"master key": masterKey, "twilio token": twiliotest.DefaultAuthToken, "smtp password": "smtp-pass-987",
		"password": "correct horse battery staple",
	} {
		assert.NotContains(t, all, secret, "%s leaked into the logs", name)
	}

	// The audit chain verifies, and tampering with the database is caught.
	code, out = cli(t, "audit", "verify", "-db", db, "-tenant", "acme-it")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "intact")
	raw, err := sql.Open("sqlite3", db)
	require.NoError(t, err)
	defer raw.Close()
	_, err = raw.Exec(`UPDATE audit_events SET actor = 'tech:someone-else' WHERE seq = 3`)
	require.NoError(t, err)
	code, out = cli(t, "audit", "verify", "-db", db, "-tenant", "acme-it")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "TAMPERING DETECTED")
	assert.Contains(t, out, "seq 3")
}

func TestHelpOnEveryCommand(t *testing.T) {
	code, out := cli(t, "-help")
	assert.Equal(t, 0, code)
	for _, c := range commands() {
		assert.Contains(t, out, c.name)
		args := []string{c.name, "-help"}
		code, out := cli(t, args...)
		assert.Equal(t, 0, code, "%s -help: %s", c.name, out)
		assert.Contains(t, out, "Usage: countersign "+c.name, c.name)
	}
	for _, sub := range [][]string{{"tenant", "create", "-help"}, {"user", "create", "-help"}, {"audit", "verify", "-help"}} {
		code, out := cli(t, sub...)
		assert.Equal(t, 0, code, "%v: %s", sub, out)
		assert.Contains(t, out, "-db")
	}
	code, out = cli(t, "frobnicate")
	assert.Equal(t, 2, code)
	assert.Contains(t, out, "unknown command")
}

func TestServeRefusesWithoutMasterKey(t *testing.T) {
	t.Setenv("COUNTERSIGN_MASTER_KEY", "")
	code, out := cli(t, "serve", "-db", filepath.Join(t.TempDir(), "x.db"), "-listen", "127.0.0.1:0")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "no master key")
}
