package directory

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Errors a caller can tell apart with errors.Is. The wrapped error keeps
// the DC's diagnostic for logs; show people these errors' texts instead.
var (
	// ErrPlainRefused: the URL is plain ldap:// without StartTLS and plain
	// LDAP was not allowed.
	ErrPlainRefused = errors.New("directory: plain LDAP refused: use ldaps:// or StartTLS")
	// ErrNotEncrypted: a password operation was asked of a connection that
	// is not encrypted.
	ErrNotEncrypted = errors.New("directory: passwords are changed only over LDAPS or StartTLS")
	// ErrCertificate: the DC's certificate did not verify (expired, wrong
	// name, unknown CA).
	ErrCertificate = errors.New("directory: the domain controller's certificate is not trusted")
	// ErrUnreachable: no connection to the DC, or it dropped.
	ErrUnreachable = errors.New("directory: the domain controller cannot be reached")
	// ErrInvalidCredentials: wrong account or password (bind data 52e/525).
	ErrInvalidCredentials = errors.New("directory: wrong account name or password")
	// ErrAccountLocked: the account is locked out (data 775).
	ErrAccountLocked = errors.New("directory: the account is locked out")
	// ErrAccountDisabled: the account is disabled or expired (data 533/701).
	ErrAccountDisabled = errors.New("directory: the account is disabled or expired")
	// ErrPasswordExpired: the password has expired or must be changed at
	// next logon (data 532/773).
	ErrPasswordExpired = errors.New("directory: the password has expired or must be changed")
	// ErrPasswordPolicy: the DC refused a new password (result 19,
	// 0000052D): too short, too simple, or in the history.
	ErrPasswordPolicy = errors.New("directory: the password does not meet the domain's password policy")
	// ErrInsufficientRights: the bind account may not do this (result 50).
	ErrInsufficientRights = errors.New("directory: the service account lacks the right to do this")
	// ErrNoSuchUser: no user with that objectGUID in the included OUs.
	ErrNoSuchUser = errors.New("directory: no such user")
)

// Config says how to reach and bind to one domain controller.
type Config struct {
	// URL is ldaps://host[:636] or ldap://host[:389].
	URL string
	// StartTLS upgrades an ldap:// connection before binding.
	StartTLS bool
	// AllowPlain permits ldap:// without StartTLS (a lab, never a real
	// domain). Password operations are refused on it all the same.
	AllowPlain bool
	// CAPEM is the CA bundle the DC's certificate must chain to (usually
	// the customer's internal CA); empty means the system roots.
	CAPEM []byte
	// ServerName is the name the certificate must carry, when it is not
	// the URL's host (a DC reached by address).
	ServerName string
	// BindUser is the service account: a UPN (svc@corp.example) or a DN.
	BindUser string
	// BindPassword is its password; an empty one is refused (an empty
	// simple bind is an anonymous bind that servers report as success).
	BindPassword string
	// BaseDN is the domain's naming context; "" reads defaultNamingContext
	// from the rootDSE.
	BaseDN string
	// OUs are the DNs whose subtrees are harvested; none means the whole
	// domain.
	OUs []string
	// PageSize is the paged-search page size (≤ 1000, AD's MaxPageSize);
	// 0 means 500.
	PageSize int
	// Timeout bounds the TCP connect and each request; 0 means 30 s.
	Timeout time.Duration
	// FullEvery forces a full sync when the last one is older (deletions
	// are then found even without the right to read tombstones); 0 means
	// 24 hours.
	FullEvery time.Duration
}

func (c Config) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return 30 * time.Second
}

func (c Config) pageSize() uint32 {
	if c.PageSize <= 0 || c.PageSize > 1000 {
		return 500
	}
	return uint32(c.PageSize)
}

// Conn is a bound connection to one DC.
type Conn struct {
	cfg       Config
	l         *ldap.Conn
	encrypted bool
	host      string
}

// Dial connects to the DC, secures the connection as configured and binds
// as the service account.
func Dial(cfg Config) (*Conn, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "ldaps" && u.Scheme != "ldap") || u.Hostname() == "" {
		return nil, fmt.Errorf("directory: URL %q is not ldaps://host or ldap://host", cfg.URL)
	}
	if u.Scheme == "ldap" && !cfg.StartTLS && !cfg.AllowPlain {
		return nil, ErrPlainRefused
	}
	if cfg.BindUser == "" || cfg.BindPassword == "" {
		return nil, errors.New("directory: the service account's name and password are required")
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: u.Hostname()}
	if cfg.ServerName != "" {
		tlsCfg.ServerName = cfg.ServerName
	}
	if len(cfg.CAPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(cfg.CAPEM) {
			return nil, errors.New("directory: the CA bundle holds no PEM certificate")
		}
		tlsCfg.RootCAs = pool
	}
	dialer := &net.Dialer{Timeout: cfg.timeout()}
	l, err := ldap.DialURL(cfg.URL, ldap.DialWithDialer(dialer), ldap.DialWithTLSConfig(tlsCfg))
	if err != nil {
		return nil, classify(err)
	}
	l.SetTimeout(cfg.timeout())
	c := &Conn{cfg: cfg, l: l, encrypted: u.Scheme == "ldaps", host: u.Hostname()}
	if u.Scheme == "ldap" && cfg.StartTLS {
		if err := l.StartTLS(tlsCfg); err != nil {
			l.Close()
			return nil, classify(err)
		}
		c.encrypted = true
	}
	if err := l.Bind(cfg.BindUser, cfg.BindPassword); err != nil {
		l.Close()
		return nil, classify(err)
	}
	return c, nil
}

// Close ends the connection.
func (c *Conn) Close() error { return c.l.Close() }

// Encrypted reports whether the connection is LDAPS or StartTLS.
func (c *Conn) Encrypted() bool { return c.encrypted }

// classify maps a go-ldap or network error to this package's errors,
// keeping the original (the DC's text) wrapped for logs.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var cerr *tls.CertificateVerificationError
	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	var ierr x509.CertificateInvalidError
	if errors.As(err, &cerr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &ierr) {
		return fmt.Errorf("%w: %v", ErrCertificate, err)
	}
	var le *ldap.Error
	if errors.As(err, &le) {
		diag := le.Err.Error()
		switch le.ResultCode {
		case ldap.LDAPResultInvalidCredentials:
			switch bindDataCode(diag) {
			case "775":
				return fmt.Errorf("%w (%v)", ErrAccountLocked, err)
			case "533", "701":
				return fmt.Errorf("%w (%v)", ErrAccountDisabled, err)
			case "532", "773":
				return fmt.Errorf("%w (%v)", ErrPasswordExpired, err)
			}
			return fmt.Errorf("%w (%v)", ErrInvalidCredentials, err)
		case ldap.LDAPResultConstraintViolation:
			if strings.HasPrefix(strings.ToUpper(diag), "0000052D") {
				return fmt.Errorf("%w (%v)", ErrPasswordPolicy, err)
			}
		case ldap.LDAPResultInsufficientAccessRights:
			return fmt.Errorf("%w (%v)", ErrInsufficientRights, err)
		case ldap.LDAPResultStrongAuthRequired, ldap.LDAPResultConfidentialityRequired:
			return fmt.Errorf("%w (%v)", ErrNotEncrypted, err)
		case ldap.ErrorNetwork:
			if errors.As(le.Err, &cerr) || errors.As(le.Err, &uerr) || errors.As(le.Err, &herr) || errors.As(le.Err, &ierr) {
				return fmt.Errorf("%w: %v", ErrCertificate, err)
			}
			return fmt.Errorf("%w: %v", ErrUnreachable, err)
		}
		if strings.Contains(diag, "ldap: connection closed") || strings.Contains(diag, "connection reset") || strings.Contains(diag, "EOF") {
			return fmt.Errorf("%w: %v", ErrUnreachable, err)
		}
		return fmt.Errorf("directory: %v", err)
	}
	var ne net.Error
	// go-ldap reports a connection that died under a request as a plain
	// error carrying the read error's text.
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(err.Error(), "unable to read LDAP response packet") {
		return fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	return fmt.Errorf("directory: %v", err)
}
