package smtp_test

import (
	"crypto/x509"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/smtp"
	"github.com/countersign/countersign/core/smtp/smtptest"
)

// TestCheck runs the settings page's live check: connect, TLS, sign in,
// and nothing sent.
func TestCheck(t *testing.T) {
	srv := smtptest.New(t, smtptest.WithAuth(user, pass), smtptest.WithSTARTTLS())
	require.NoError(t, mailer(t, srv, nil).Check(t.Context()))
	assert.Empty(t, srv.Messages(), "a check sends nothing")

	err := mailer(t, srv, func(c *smtp.Config) { c.Password = "wrong-password" }).Check(t.Context())
	require.Error(t, err)
	assert.Contains(t, core.ErrorMessage(err), "rejected the user name or password")
	assert.NotContains(t, err.Error(), "wrong-password")

	err = mailer(t, srv, func(c *smtp.Config) { c.RootCAs = x509.NewCertPool() }).Check(t.Context())
	require.Error(t, err)
	assert.Contains(t, core.ErrorMessage(err), "certificate is not trusted")

	closed := smtptest.New(t)
	port := closed.Port()
	closed.Close()
	err = mailer(t, srv, func(c *smtp.Config) { c.Port = port }).Check(t.Context())
	require.Error(t, err)
	assert.Equal(t, core.KindUnavailable, core.ErrorKind(err))
}
