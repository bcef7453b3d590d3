// Package smtptest is an in-process loopback SMTP server for tests, built on
// emersion/go-smtp (channels.md §4.2).
//
// It can require AUTH PLAIN, offer STARTTLS or implicit TLS with a
// self-signed certificate generated in-process ([Server.CertPool] verifies
// it), reject chosen recipients, and records every message it accepts with
// its text and HTML parts decoded. No network access, no external binary.
package smtptest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/countersign/countersign/core/psa/psafake"
)

// Server is a loopback SMTP server. Its methods are safe for concurrent use.
type Server struct {
	user, pass string // "" means AUTH is neither offered nor required
	startTLS   bool
	implicit   bool
	delay      time.Duration

	srv  *smtp.Server
	ln   net.Listener
	pool *x509.CertPool
	done chan struct{}

	mu       sync.Mutex
	senders  map[string]bool // nil: any sender; else only these (verified senders)
	rejects  map[string]int
	messages []Message
	changed  chan struct{}
}

// Message is an accepted message.
type Message struct {
	From     string   // envelope MAIL FROM
	To       []string // envelope RCPT TO
	Raw      []byte   // the message as received
	Header   mail.Header
	Subject  string // decoded
	Text     string // the text/plain part, decoded
	HTML     string // the text/html part, decoded
	AuthUser string // "" when the client did not authenticate
	TLS      bool   // whether the session was encrypted
}

// Option configures New.
type Option func(*Server)

// WithAuth requires AUTH PLAIN as user/pass before MAIL FROM; wrong
// credentials get 535.
func WithAuth(user, pass string) Option {
	return func(s *Server) { s.user, s.pass = user, pass }
}

// WithSTARTTLS offers STARTTLS with a self-signed certificate for 127.0.0.1
// and localhost. AUTH is then offered only after STARTTLS, as real relays do.
func WithSTARTTLS() Option { return func(s *Server) { s.startTLS = true } }

// WithImplicitTLS speaks TLS from the first byte, like port 465.
func WithImplicitTLS() Option { return func(s *Server) { s.implicit = true } }

// WithDataDelay makes the server wait d before answering DATA, to test
// timeouts and cancellation.
func WithDataDelay(d time.Duration) Option { return func(s *Server) { s.delay = d } }

// New starts a Server on 127.0.0.1 and closes it when t ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{rejects: map[string]int{}, changed: make(chan struct{}), done: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.MaxRecipients = 10
	srv.ErrorLog = discardLogger{}
	if s.startTLS || s.implicit {
		cert, pool, err := psafake.Certificate()
		if err != nil {
			t.Fatalf("smtptest: certificate: %v", err)
		}
		s.pool = pool
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	} else {
		// Plaintext loopback only: let tests exercise AUTH without TLS.
		srv.AllowInsecureAuth = true
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	if s.implicit {
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	s.srv, s.ln = srv, ln
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(s.Close)
	return s
}

// Close stops the server.
func (s *Server) Close() {
	select {
	case <-s.done:
		return
	default:
		close(s.done)
	}
	_ = s.srv.Close()
}

// Host returns "127.0.0.1".
func (s *Server) Host() string { return "127.0.0.1" }

// Port returns the port the server listens on.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Addr returns host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// CertPool returns a pool that verifies the server's certificate; nil
// without TLS.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// TLSConfig returns a client TLS configuration that trusts the server.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.pool, ServerName: s.Host(), MinVersion: tls.VersionTLS12}
}

// VerifySenders makes the relay take mail only from addrs, as providers
// that send for verified sender identities only do; any other MAIL FROM
// gets SendGrid's answer, 550 "The from address does not match a verified
// Sender Identity". No addrs: any sender again.
func (s *Server) VerifySenders(addrs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(addrs) == 0 {
		s.senders = nil
		return
	}
	s.senders = map[string]bool{}
	for _, a := range addrs {
		s.senders[strings.ToLower(a)] = true
	}
}

// Reject makes RCPT TO addr fail with code (e.g. 550 or 450); 0 removes it.
func (s *Server) Reject(addr string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == 0 {
		delete(s.rejects, strings.ToLower(addr))
		return
	}
	s.rejects[strings.ToLower(addr)] = code
}

// Messages returns every accepted message, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// LastMessageTo returns the most recent message with to among its envelope
// recipients, and whether there is one.
func (s *Server) LastMessageTo(to string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.messages) - 1; i >= 0; i-- {
		for _, r := range s.messages[i].To {
			if strings.EqualFold(r, to) {
				return s.messages[i], true
			}
		}
	}
	return Message{}, false
}

// WaitForMessage returns the most recent message to to, waiting for one
// until ctx ends.
func (s *Server) WaitForMessage(ctx context.Context, to string) (Message, error) {
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		if m, ok := s.LastMessageTo(to); ok {
			return m, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Message{}, fmt.Errorf("smtptest: wait for message to %s: %w", to, ctx.Err())
		}
	}
}

// session is one SMTP connection; go-smtp calls it per command.
type session struct {
	s        *Server
	conn     *smtp.Conn
	authUser string
	from     string
	to       []string
}

// Interface guard: AUTH is offered through smtp.AuthSession.
var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string {
	if ss.s.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain || ss.s.user == "" {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if identity != "" && identity != user {
			return smtp.ErrAuthFailed
		}
		if user != ss.s.user || pass != ss.s.pass {
			return smtp.ErrAuthFailed
		}
		ss.authUser = user
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.user != "" && ss.authUser == "" {
		return smtp.ErrAuthRequired
	}
	ss.s.mu.Lock()
	refused := ss.s.senders != nil && !ss.s.senders[strings.ToLower(from)]
	ss.s.mu.Unlock()
	if refused {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
			Message: "The from address does not match a verified Sender Identity"}
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	code := ss.s.rejects[strings.ToLower(to)]
	ss.s.mu.Unlock()
	if code != 0 {
		enh := smtp.EnhancedCode{5, 1, 1}
		if code < 500 {
			enh = smtp.EnhancedCode{4, 2, 1}
		}
		return &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: "Requested action not taken: mailbox unavailable"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if ss.s.delay > 0 {
		select {
		case <-time.After(ss.s.delay):
		case <-ss.s.done:
		}
	}
	m, err := parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Malformed message: " + err.Error()}
	}
	m.From, m.To, m.AuthUser = ss.from, append([]string(nil), ss.to...), ss.authUser
	_, m.TLS = ss.conn.TLSConnectionState()

	ss.s.mu.Lock()
	ss.s.messages = append(ss.s.messages, m)
	close(ss.s.changed)
	ss.s.changed = make(chan struct{})
	ss.s.mu.Unlock()
	return nil
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error { return nil }

// parse decodes a message's subject and its text and HTML parts, following
// nested multiparts and undoing quoted-printable and base64.
func parse(raw []byte) (Message, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{}, err
	}
	m := Message{Raw: raw, Header: msg.Header}
	dec := new(mime.WordDecoder)
	if m.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return Message{}, fmt.Errorf("subject: %w", err)
	}
	err = walk(&m, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	return m, err
}

func walk(m *Message, contentType, encoding string, body io.Reader) error {
	if contentType == "" {
		contentType = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("content type: %w", err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart() // also undoes quoted-printable
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := walk(m, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(encoding) {
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, newlineStripper{body})
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("decode %s part: %w", mt, err)
	}
	switch mt {
	case "text/plain":
		m.Text += string(b)
	case "text/html":
		m.HTML += string(b)
	}
	return nil
}

// newlineStripper drops CR and LF so base64 lines decode as one stream.
type newlineStripper struct{ r io.Reader }

func (n newlineStripper) Read(p []byte) (int, error) {
	for {
		k, err := n.r.Read(p)
		j := 0
		for _, c := range p[:k] {
			if c != '\r' && c != '\n' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// discardLogger keeps go-smtp's connection errors (clients hanging up in
// cancellation tests) out of test output.
type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}
