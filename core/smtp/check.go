package smtp

import (
	"context"
	"crypto/x509"
	"errors"
	"net/textproto"

	gomail "github.com/wneessen/go-mail"

	"github.com/countersign/countersign/core"
)

// Check connects to the relay, starts TLS as configured and signs in,
// then quits without sending: the settings page's live check. Each failure
// is a core error whose message says what to fix; the password never
// appears in it.
func (ml *Mailer) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, ml.cfg.Timeout)
	defer cancel()
	c, err := gomail.NewClient(ml.cfg.Host, ml.opts...)
	if err != nil {
		return core.Errorf(core.KindInvalid, "the mail settings cannot be used: %s", err)
	}
	if err := c.DialWithContext(ctx); err != nil {
		return checkError(ctx, err)
	}
	_ = c.Close()
	return nil
}

func checkError(ctx context.Context, err error) error {
	var (
		te      *textproto.Error
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
	)
	switch {
	case ctx.Err() != nil:
		return core.Errorf(core.KindUnavailable, "the mail server did not answer in time: check the host and port")
	case errors.As(err, &te) && (te.Code == 535 || te.Code == 534 || te.Code == 530):
		return core.Errorf(core.KindInvalid, "the mail server rejected the user name or password (%d)", te.Code)
	case errors.As(err, &unknown) || errors.As(err, &host):
		return core.Errorf(core.KindInvalid, "the mail server's TLS certificate is not trusted for this host name")
	case errors.Is(err, gomail.ErrSMTPAuthMethodIsNil):
		return core.Errorf(core.KindInvalid, "the mail server offers no sign-in that matches the settings")
	}
	return core.Errorf(core.KindUnavailable, "could not connect and sign in to the mail server: %s", err)
}
