package psafake

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Certificate makes a self-signed certificate, valid for a day, for names
// (DNS names, "*.example.com" wildcards, or IP addresses; ports are
// dropped) and for localhost and the loopback addresses, and the pool that
// trusts it.
func Certificate(names ...string) (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "psafake"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, n := range names {
		if h, _, err := net.SplitHostPort(n); err == nil {
			n = h
		}
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if n != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}

// TLSServer is a fake served over HTTPS on loopback under the vendor's
// host names.
type TLSServer struct {
	*httptest.Server
	// Client dials every host Known accepts to the server, trusts its
	// certificate, does not follow redirects, and finds no other host.
	Client *http.Client
	// Pool trusts the server's certificate.
	Pool *x509.CertPool
}

// NewTLS serves h over HTTPS on a loopback port with a certificate for
// certNames, and returns it with a client that reaches it under every host
// name known accepts (lower case, without a port). It registers the
// server's shutdown on t.
func NewTLS(t testing.TB, h http.Handler, known func(host string) bool, certNames ...string) *TLSServer {
	t.Helper()
	cert, pool, err := Certificate(certNames...)
	if err != nil {
		t.Fatalf("psafake: certificate: %v", err)
	}
	ts := httptest.NewUnstartedServer(h)
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	// Handshakes refused by clients that do not trust the fake (tests of
	// exactly that) are not news.
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.StartTLS()
	addr := ts.Listener.Addr().String()
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(a)
			if err != nil {
				host = a
			}
			if !known(strings.ToLower(host)) {
				return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}
			}
			return dialer.DialContext(ctx, "tcp", addr)
		},
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 16,
	}
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		ts.Close()
	})
	return &TLSServer{Server: ts, Client: client, Pool: pool}
}

// Hosts returns a Known function for NewTLS that accepts exactly hosts
// (compared case-insensitively).
func Hosts(hosts ...string) func(string) bool {
	set := map[string]bool{}
	for _, h := range hosts {
		set[strings.ToLower(h)] = true
	}
	return func(h string) bool { return set[h] }
}

// String describes the server for test logs.
func (s *TLSServer) String() string {
	return fmt.Sprintf("psafake TLS server at %s", s.Listener.Addr())
}
