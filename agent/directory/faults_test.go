package directory

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// cutProxy forwards TCP to target and, once limit bytes have gone from the
// server to the client (0: no limit), closes both sides: a DC that drops
// in the middle of a response.
type cutProxy struct {
	ln     net.Listener
	target string
	limit  atomic.Int64
	sent   atomic.Int64
	wg     sync.WaitGroup
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.serve(c) }()
		}
	}()
	return p
}

func (p *cutProxy) serve(c net.Conn) {
	defer c.Close()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer s.Close()
	go func() { io.Copy(s, c); s.Close() }()
	buf := make([]byte, 512)
	for {
		n, err := s.Read(buf)
		if n > 0 {
			if lim := p.limit.Load(); lim > 0 && p.sent.Load()+int64(n) > lim {
				n = int(lim - p.sent.Load())
				c.Write(buf[:n])
				return
			}
			p.sent.Add(int64(n))
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestSyncDCDropsMidPage: the connection dies in the middle of the user
// pages; the sync fails as unreachable and returns nothing, so nothing
// partial is ever uploaded.
func TestSyncDCDropsMidPage(t *testing.T) {
	f := newFixture(t)
	for _, n := range []string{"p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8"} {
		f.addUser("", userSpec{name: n, mail: n + "@corp.example.test"})
	}
	cfg := testConfig(t, f.ou)
	p := newCutProxy(t, hostPort(t, cfg.URL))
	cfg.URL = "ldaps://" + p.ln.Addr().String()
	cfg.PageSize = 2

	// A whole sync through the proxy, to learn how many bytes it takes.
	c := dial(t, cfg)
	r, err := c.Sync(State{}, time.Now())
	if err != nil || len(r.Users) != 8 {
		t.Fatalf("sync through the proxy: %v (%d users)", err, len(r.Users))
	}
	c.Close()
	total := p.sent.Load()

	p.sent.Store(0)
	c = dial(t, cfg)
	handshake := p.sent.Load()
	p.limit.Store(handshake + (total-handshake)*2/3)
	r, err = c.Sync(State{}, time.Now())
	if !errors.Is(err, ErrUnreachable) || r != nil {
		t.Fatalf("sync cut after %d of %d bytes: %v (result %v), want ErrUnreachable and no result", p.limit.Load(), total, err, r)
	}
}

// TestExpiredCertificate: a DC whose certificate has expired is refused
// as untrusted before any password is sent.
func TestExpiredCertificate(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "dc.expired.test"},
		DNSNames: []string{"dc.expired.test"}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c) // the handshake fails; no application data arrives
		got <- b
	}()
	_, err = Dial(Config{
		URL: "ldaps://" + ln.Addr().String(), ServerName: "dc.expired.test", Timeout: 5 * time.Second,
		CAPEM:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		BindUser: "svc@expired.test", BindPassword: "Secret!Passw0rd",
	})
	if !errors.Is(err, ErrCertificate) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired certificate: %v, want ErrCertificate naming the expiry", err)
	}
	if b := <-got; len(b) > 0 {
		t.Errorf("the server received %d bytes of application data", len(b))
	}
}
