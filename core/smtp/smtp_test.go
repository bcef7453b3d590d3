package smtp_test

import (
	"context"
	"errors"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/smtp"
	"github.com/countersign/countersign/core/smtp/smtptest"
)

const (
	sender    = "helpdesk@acme.example"
	recipient = "jane.doe@customer.example"
	user      = "relayuser"
	pass      = "s3cret-pass"
	link      = "https://cs.example.com/l/AbCdEf0123456789AbCdEf0123456789"
)

func outbound() core.Outbound {
	return core.Outbound{
		Kind:     core.OutboxEmail,
		To:       recipient,
		FromName: "Acme IT Services",
		Subject:  "Acme IT Services: confirm you are on the phone with Zoë (ticket 4821)",
		Text:     "Hello Jane,\n\nOpen this link to confirm:\n" + link + "\n\nThe link expires in 5 minutes. " + strings.Repeat("Long line ", 20),
		HTML:     `<p style="color:#112233">Hello Jane, <a href="` + link + `">Confirm it is me</a> – Zoë</p>`,
	}
}

func mailer(t *testing.T, srv *smtptest.Server, mod func(*smtp.Config)) *smtp.Mailer {
	t.Helper()
	cfg := smtp.Config{
		Host: srv.Host(), Port: srv.Port(), From: sender, FromName: "Countersign",
		Username: user, Password: pass, RootCAs: srv.CertPool(), Timeout: 5 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	m, err := smtp.New(cfg)
	require.NoError(t, err)
	return m
}

func TestSend(t *testing.T) {
	tests := []struct {
		name     string
		opts     []smtptest.Option
		cfg      func(*smtp.Config)
		wantTLS  bool
		wantUser string
	}{
		{
			name: "starttls with auto auth", opts: []smtptest.Option{smtptest.WithSTARTTLS(), smtptest.WithAuth(user, pass)},
			wantTLS: true, wantUser: user,
		},
		{
			name: "implicit tls with plain auth", opts: []smtptest.Option{smtptest.WithImplicitTLS(), smtptest.WithAuth(user, pass)},
			cfg:     func(c *smtp.Config) { c.TLS, c.Auth = smtp.TLSImplicit, smtp.AuthPlain },
			wantTLS: true, wantUser: user,
		},
		{
			name: "starttls without auth", opts: []smtptest.Option{smtptest.WithSTARTTLS()},
			cfg:     func(c *smtp.Config) { c.Username, c.Password = "", "" },
			wantTLS: true,
		},
		{
			name: "explicit plaintext on loopback", opts: []smtptest.Option{smtptest.WithAuth(user, pass)},
			cfg:      func(c *smtp.Config) { c.TLS, c.Auth = smtp.TLSNone, smtp.AuthPlain },
			wantUser: user,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.New(t, tc.opts...)
			m := mailer(t, srv, tc.cfg)
			out := outbound()

			ref, err := m.Send(t.Context(), out)
			require.NoError(t, err)

			got, ok := srv.LastMessageTo(recipient)
			require.True(t, ok)
			assert.Equal(t, tc.wantTLS, got.TLS)
			assert.Equal(t, tc.wantUser, got.AuthUser)
			assert.Equal(t, sender, got.From, "envelope sender")
			assert.Equal(t, []string{recipient}, got.To)

			assert.Equal(t, out.Subject, got.Subject)
			assert.Equal(t, ref, got.Header.Get("Message-Id"))
			assert.Regexp(t, `^<[0-9a-f]{32}@acme\.example>$`, ref)
			from, err := mail.ParseAddress(got.Header.Get("From"))
			require.NoError(t, err)
			assert.Equal(t, &mail.Address{Name: "Acme IT Services", Address: sender}, from)
			to, err := mail.ParseAddress(got.Header.Get("To"))
			require.NoError(t, err)
			assert.Equal(t, recipient, to.Address)
			date, err := got.Header.Date()
			require.NoError(t, err)
			assert.WithinDuration(t, time.Now(), date, time.Minute)
			assert.Equal(t, "auto-generated", got.Header.Get("Auto-Submitted"))
			assert.Contains(t, got.Header.Get("Content-Type"), "multipart/alternative")

			assert.Equal(t, out.Text, strings.ReplaceAll(got.Text, "\r\n", "\n"))
			assert.Equal(t, out.HTML, got.HTML)
			assert.Contains(t, got.Text, link)
			assert.Contains(t, got.HTML, link)
			assert.NotContains(t, got.Header.Get("Subject"), link, "no token in headers")
		})
	}
}

func TestFromNameDefault(t *testing.T) {
	srv := smtptest.New(t, smtptest.WithSTARTTLS())
	m := mailer(t, srv, func(c *smtp.Config) { c.Username, c.Password = "", "" })
	out := outbound()
	out.FromName = ""
	_, err := m.Send(t.Context(), out)
	require.NoError(t, err)
	got, ok := srv.LastMessageTo(recipient)
	require.True(t, ok)
	from, err := mail.ParseAddress(got.Header.Get("From"))
	require.NoError(t, err)
	assert.Equal(t, "Countersign", from.Name)
}

func TestSendErrors(t *testing.T) {
	tests := []struct {
		name     string
		opts     []smtptest.Option
		setup    func(*smtptest.Server)
		cfg      func(*smtp.Config)
		wantPerm string    // PermanentError code; "" means retryable
		wantKind core.Kind // for retryable errors
		// wantVendor starts the MisconfiguredError's code and vendor words.
		wantVendor string
	}{
		{
			name: "mailbox unavailable", opts: []smtptest.Option{smtptest.WithSTARTTLS(), smtptest.WithAuth(user, pass)},
			setup: func(s *smtptest.Server) { s.Reject(recipient, 550) }, wantPerm: "550",
		},
		{
			name: "address not valid", opts: []smtptest.Option{smtptest.WithSTARTTLS(), smtptest.WithAuth(user, pass)},
			setup: func(s *smtptest.Server) { s.Reject(recipient, 553) }, wantPerm: "553",
		},
		{
			name: "temporary rejection", opts: []smtptest.Option{smtptest.WithSTARTTLS(), smtptest.WithAuth(user, pass)},
			setup: func(s *smtptest.Server) { s.Reject(recipient, 450) }, wantKind: core.KindInternal,
		},
		{
			name: "wrong password", opts: []smtptest.Option{smtptest.WithSTARTTLS(), smtptest.WithAuth(user, pass)},
			cfg:      func(c *smtp.Config) { c.Password = "wrong" },
			wantKind: core.KindMisconfigured, wantVendor: "535",
		},
		{
			name: "sender not verified", opts: []smtptest.Option{smtptest.WithSTARTTLS(), smtptest.WithAuth(user, pass)},
			setup:    func(s *smtptest.Server) { s.VerifySenders("someone-else@acme.example") },
			wantKind: core.KindMisconfigured, wantVendor: "550 5.7.1 The from address does not match a verified Sender Identity",
		},
		{
			name: "starttls mandatory but not offered", opts: []smtptest.Option{smtptest.WithAuth(user, pass)},
			wantKind: core.KindInternal,
		},
		{
			name: "untrusted certificate", opts: []smtptest.Option{smtptest.WithSTARTTLS()},
			cfg:      func(c *smtp.Config) { c.RootCAs, c.Username, c.Password = nil, "", "" },
			wantKind: core.KindInternal,
		},
		{
			name: "connection refused", opts: []smtptest.Option{smtptest.WithSTARTTLS()},
			cfg:      func(c *smtp.Config) { c.Port = 1 },
			wantKind: core.KindInternal,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.New(t, tc.opts...)
			if tc.setup != nil {
				tc.setup(srv)
			}
			m := mailer(t, srv, tc.cfg)
			_, err := m.Send(t.Context(), outbound())
			require.Error(t, err)

			var perm *core.PermanentError
			if tc.wantPerm != "" {
				require.ErrorAs(t, err, &perm)
				assert.Equal(t, tc.wantPerm, perm.Code)
				assert.NotEmpty(t, perm.Reason)
			} else {
				assert.False(t, errors.As(err, &perm), "must stay retryable: %v", err)
				assert.Equal(t, tc.wantKind, core.ErrorKind(err), "%v", err)
			}
			var mis *core.MisconfiguredError
			if tc.wantVendor != "" {
				require.ErrorAs(t, err, &mis)
				assert.True(t, strings.HasPrefix(mis.Code+" "+mis.VendorMessage, tc.wantVendor), "%q %q", mis.Code, mis.VendorMessage)
				assert.NotEmpty(t, mis.Fix)
			} else {
				assert.False(t, errors.As(err, &mis), "not a misconfiguration: %v", err)
			}
			assert.Empty(t, srv.Messages())
		})
	}
}

func TestSendHonoursContext(t *testing.T) {
	t.Run("cancelled before send", func(t *testing.T) {
		srv := smtptest.New(t, smtptest.WithSTARTTLS())
		m := mailer(t, srv, func(c *smtp.Config) { c.Username, c.Password = "", "" })
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := m.Send(ctx, outbound())
		require.ErrorIs(t, err, context.Canceled)
		assert.Empty(t, srv.Messages())
	})
	t.Run("deadline mid conversation", func(t *testing.T) {
		srv := smtptest.New(t, smtptest.WithSTARTTLS(), smtptest.WithAuth(user, pass), smtptest.WithDataDelay(10*time.Second))
		m := mailer(t, srv, nil)
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := m.Send(ctx, outbound())
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Less(t, time.Since(start), 5*time.Second)
	})
}

func TestWaitForMessage(t *testing.T) {
	srv := smtptest.New(t, smtptest.WithSTARTTLS())
	m := mailer(t, srv, func(c *smtp.Config) { c.Username, c.Password = "", "" })
	go func() { _, _ = m.Send(context.Background(), outbound()) }()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	got, err := srv.WaitForMessage(ctx, recipient)
	require.NoError(t, err)
	assert.Contains(t, got.Text, link)
}

func TestNewValidates(t *testing.T) {
	base := smtp.Config{Host: "smtp.example.com", From: sender, Username: user, Password: pass}
	tests := []struct {
		name string
		mod  func(*smtp.Config)
		ok   bool
	}{
		{name: "defaults", mod: func(*smtp.Config) {}, ok: true},
		{name: "implicit tls", mod: func(c *smtp.Config) { c.TLS = "TLS" }, ok: true},
		{name: "explicit none", mod: func(c *smtp.Config) { c.TLS = smtp.TLSNone }, ok: true},
		{name: "cram-md5", mod: func(c *smtp.Config) { c.Auth = smtp.AuthCramMD5 }, ok: true},
		{name: "no auth", mod: func(c *smtp.Config) { c.Auth, c.Username, c.Password = smtp.AuthNone, "", "" }, ok: true},
		{name: "no host", mod: func(c *smtp.Config) { c.Host = "" }},
		{name: "bad from", mod: func(c *smtp.Config) { c.From = "not an address" }},
		{name: "from with name", mod: func(c *smtp.Config) { c.From = "Acme <a@b.example>" }},
		{name: "unknown tls", mod: func(c *smtp.Config) { c.TLS = "opportunistic" }},
		{name: "unknown auth", mod: func(c *smtp.Config) { c.Auth = "xoauth2" }},
		{name: "auth without password", mod: func(c *smtp.Config) { c.Auth, c.Password = smtp.AuthPlain, "" }},
		{name: "bad port", mod: func(c *smtp.Config) { c.Port = 70000 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.mod(&cfg)
			_, err := smtp.New(cfg)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, core.KindInvalid, core.ErrorKind(err))
		})
	}
}

func TestSendRejectsBadRecipient(t *testing.T) {
	srv := smtptest.New(t, smtptest.WithSTARTTLS())
	m := mailer(t, srv, func(c *smtp.Config) { c.Username, c.Password = "", "" })
	out := outbound()
	out.To = "not an address"
	_, err := m.Send(t.Context(), out)
	var perm *core.PermanentError
	require.ErrorAs(t, err, &perm)
	assert.Equal(t, "invalid_address", perm.Code)
}
