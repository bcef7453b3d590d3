// Package smtp delivers Countersign's email messages (one-click links and
// codes) through an SMTP relay with wneessen/go-mail.
//
// [Mailer] implements core.Sender. TLS is mandatory by default (STARTTLS, or
// implicit TLS on 465); plaintext exists only for an explicitly chosen
// loopback relay in development. Permanent 5xx replies about the recipient or
// the message become *core.PermanentError; wrong credentials or a rejected
// sender become *core.MisconfiguredError (the outbox parks the message until
// an administrator fixes the settings); 4xx
// replies and network failures are plain errors the outbox retries. See
// shared/reference/channels.md §4.
package smtp

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/countersign/countersign/core"
)

// TLS modes for Config.TLS.
const (
	TLSStartTLS = "starttls" // STARTTLS required (port 587 by default)
	TLSImplicit = "tls"      // TLS from the first byte (port 465 by default)
	TLSNone     = "none"     // plaintext: only for a loopback relay in development
)

// Auth mechanisms for Config.Auth.
const (
	AuthAuto    = "" // the strongest the server offers, if Username is set
	AuthPlain   = "plain"
	AuthLogin   = "login"
	AuthCramMD5 = "cram-md5"
	AuthNone    = "none"
)

// DefaultTimeout bounds a whole delivery (dial, TLS, AUTH, DATA) when
// Config.Timeout is zero, so a slow relay cannot hang a verification.
const DefaultTimeout = 15 * time.Second

// Config is an SMTP relay.
type Config struct {
	Host string
	// Port is the relay's port; 0 means 587 for STARTTLS, 465 for implicit
	// TLS and 25 for plaintext.
	Port     int
	Username string // "" means no AUTH (unless Auth asks for one)
	Password string
	// From is the sender address, used for the envelope and the From header.
	From string
	// FromName is the display name when Outbound.FromName is empty; "" means
	// the bare address.
	FromName string
	// TLS is TLSStartTLS, TLSImplicit or TLSNone; "" means TLSStartTLS.
	// Plaintext is never a fallback: it must be chosen explicitly.
	TLS string
	// Auth is one of the Auth constants; "" picks automatically.
	Auth string
	// RootCAs verifies the relay's certificate; nil means the system roots.
	// Tests pass smtptest.Server.CertPool.
	RootCAs *x509.CertPool
	// InsecureSkipVerify turns off certificate verification. Tests only:
	// it makes TLS worthless against an active attacker (security.md §7
	// requires verification on every outbound connection).
	InsecureSkipVerify bool
	// Timeout bounds one delivery; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Mailer sends email through one relay. It is safe for concurrent use.
type Mailer struct {
	cfg    Config
	domain string // of cfg.From, for Message-IDs
	opts   []gomail.Option
}

// Interface guard: Mailer is the engine's email sender.
var _ core.Sender = (*Mailer)(nil)

// New checks cfg and returns a Mailer for it. It does not connect.
func New(cfg Config) (*Mailer, error) {
	if cfg.Host == "" {
		return nil, core.Errorf(core.KindInvalid, "smtp: host is required")
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil || from.Name != "" {
		return nil, core.Errorf(core.KindInvalid, "smtp: from must be a bare email address")
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, core.Errorf(core.KindInvalid, "smtp: port out of range")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	tlsCfg := &tls.Config{
		ServerName:         cfg.Host,
		MinVersion:         tls.VersionTLS12,
		RootCAs:            cfg.RootCAs,
		InsecureSkipVerify: cfg.InsecureSkipVerify, //nolint:gosec // documented test-only knob
	}
	opts := []gomail.Option{gomail.WithTimeout(cfg.Timeout), gomail.WithTLSConfig(tlsCfg)}

	defaultPort := 0
	switch strings.ToLower(cfg.TLS) {
	case "", TLSStartTLS:
		cfg.TLS, defaultPort = TLSStartTLS, gomail.DefaultPortTLS
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		cfg.TLS, defaultPort = TLSImplicit, gomail.DefaultPortSSL
		opts = append(opts, gomail.WithSSL())
	case TLSNone:
		cfg.TLS, defaultPort = TLSNone, 25
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		return nil, core.Errorf(core.KindInvalid, "smtp: tls must be starttls, tls or none")
	}
	if cfg.Port == 0 {
		cfg.Port = defaultPort
	}
	opts = append(opts, gomail.WithPort(cfg.Port))

	var mech gomail.SMTPAuthType
	switch strings.ToLower(cfg.Auth) {
	case AuthAuto:
		if cfg.Username != "" {
			mech = gomail.SMTPAuthAutoDiscover
		}
	case AuthPlain:
		mech = gomail.SMTPAuthPlain
	case AuthLogin:
		mech = gomail.SMTPAuthLogin
	case AuthCramMD5:
		mech = gomail.SMTPAuthCramMD5
	case AuthNone:
	default:
		return nil, core.Errorf(core.KindInvalid, "smtp: auth must be plain, login, cram-md5, none or empty")
	}
	if mech != "" {
		if cfg.Username == "" || cfg.Password == "" {
			return nil, core.Errorf(core.KindInvalid, "smtp: auth needs a username and password")
		}
		opts = append(opts, gomail.WithSMTPAuth(mech), gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}

	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	return &Mailer{cfg: cfg, domain: domain, opts: opts}, nil
}

// Send delivers m (Subject, Text and, when set, HTML as an alternative part)
// to m.To and returns its Message-ID header value. m.From is ignored: the
// relay only accepts its configured sender.
func (ml *Mailer) Send(ctx context.Context, m core.Outbound) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("smtp: send: %w", err)
	}
	msg, id, err := ml.message(m)
	if err != nil {
		return "", err
	}

	ctx, cancel := context.WithTimeout(ctx, ml.cfg.Timeout)
	defer cancel()
	// go-mail uses ctx only while dialling and then relies on its own
	// deadline. Closing the connection when ctx ends makes cancellation reach
	// a delivery that is stuck mid-conversation. With implicit TLS go-mail
	// must dial itself (a custom dialer would make it treat the connection
	// as unencrypted and refuse PLAIN/LOGIN), so there only the dial and
	// Config.Timeout honour ctx.
	var stop func() bool
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	opts := ml.opts[:len(ml.opts):len(ml.opts)]
	if ml.cfg.TLS != TLSImplicit {
		opts = append(opts, gomail.WithDialContextFunc(func(dctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(dctx, network, addr)
			if err != nil {
				return nil, err
			}
			stop = context.AfterFunc(ctx, func() { c.Close() })
			return c, nil
		}))
	}

	client, err := gomail.NewClient(ml.cfg.Host, opts...)
	if err != nil {
		return "", fmt.Errorf("smtp: new client: %w", err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return "", mapError(ctx, err, ml.cfg.From)
	}
	return id, nil
}

// message builds the MIME message and returns it with its Message-ID.
func (ml *Mailer) message(m core.Outbound) (*gomail.Msg, string, error) {
	msg := gomail.NewMsg()
	name := m.FromName
	if name == "" {
		name = ml.cfg.FromName
	}
	var err error
	if name != "" {
		err = msg.FromFormat(name, ml.cfg.From)
	} else {
		err = msg.From(ml.cfg.From)
	}
	if err != nil {
		return nil, "", fmt.Errorf("smtp: set from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, "", &core.PermanentError{Code: "invalid_address", Reason: "the email address is not valid",
			Err: fmt.Errorf("smtp: set to: %w", err)}
	}
	if m.Text == "" && m.HTML == "" {
		return nil, "", &core.PermanentError{Code: "empty_body", Reason: "the message is empty",
			Err: errors.New("smtp: empty body")}
	}
	msg.Subject(m.Subject)
	// The Message-ID uses the sender's domain, not os.Hostname (go-mail's
	// default), so it does not reveal internal host names.
	id := randomID() + "@" + ml.domain
	msg.SetMessageIDWithValue(id)
	msg.SetDate()
	// RFC 3834: mark the mail as automated so auto-responders stay quiet.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader("X-Auto-Response-Suppress", "All")
	if m.Text != "" {
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
		if m.HTML != "" {
			msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
		}
	} else {
		msg.SetBodyString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, "<" + id + ">", nil
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// mapError translates a go-mail error; see the package doc for the policy.
func mapError(ctx context.Context, err error, from string) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("smtp: send: %w", ctxErr)
	}
	var se *gomail.SendError
	if errors.As(err, &se) {
		code := se.ErrorCode()
		if se.IsTemp() || code < 500 {
			return fmt.Errorf("smtp: send: %w", err)
		}
		switch se.Reason {
		case gomail.ErrSMTPRcptTo:
			return &core.PermanentError{Code: strconv.Itoa(code), Reason: rcptReason(code), Err: fmt.Errorf("smtp: send: %w", err)}
		case gomail.ErrSMTPData, gomail.ErrSMTPDataClose:
			return &core.PermanentError{Code: strconv.Itoa(code), Reason: "the recipient's mail server refused the message",
				Err: fmt.Errorf("smtp: send: %w", err)}
		case gomail.ErrSMTPMailFrom:
			// Our sender address is refused: a configuration problem, not the
			// recipient's, so not a PermanentError.
			return core.Misconfigured("the mail relay refused the sender address "+from+": verify the sender (or its domain) with the mail provider, or change it in the email settings",
				strconv.Itoa(code), vendorText(se.Error()), fmt.Errorf("smtp: send: %w", err))
		}
		return fmt.Errorf("smtp: send: %w", err)
	}
	var te *textproto.Error
	if errors.As(err, &te) && (te.Code == 535 || te.Code == 534 || te.Code == 530) {
		// Wrong credentials (or AUTH refused): parked until an administrator
		// saves a fix.
		return core.Misconfigured("the mail relay rejected the username and password: check them in the email settings",
			strconv.Itoa(te.Code), te.Msg, fmt.Errorf("smtp: send: %w", err))
	}
	return fmt.Errorf("smtp: send: %w", err)
}

// rcptReason explains a permanent RCPT TO rejection (RFC 5321 §4.2.3).
func rcptReason(code int) string {
	switch code {
	case 550:
		return "the mailbox does not exist or does not accept mail"
	case 551, 553:
		return "the email address is not valid"
	case 552:
		return "the mailbox is full"
	default:
		return "the recipient's mail server refused the address"
	}
}

// vendorText is the relay's reply in a go-mail SendError's text, which
// reads "<reason>: 550 5.7.1 <words>, affected recipient(s): …, affected
// message ID: …": the words after the reply code, on one short line.
func vendorText(s string) string {
	if _, rest, ok := strings.Cut(s, ": "); ok {
		s = rest
	}
	s, _, _ = strings.Cut(s, ", affected ")
	if len(s) > 4 && s[3] == ' ' && strings.Trim(s[:3], "0123456789") == "" {
		s = s[4:]
	}
	s = strings.Trim(strings.Join(strings.Fields(s), " "), `"`) // go-mail quotes the relay's words
	return core.ClipBytes(s, 200, "")
}
