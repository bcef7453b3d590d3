package microsoft

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" // the x5t header is the certificate's SHA-1 thumbprint (RFC 7515 §4.1.7)
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/countersign/countersign/core"
)

// assertionType is RFC 7523's client assertion type.
const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionLife is how long one client assertion is good for; a fresh one
// goes with every token request.
const assertionLife = 10 * time.Minute

// certCredential signs client assertions (RFC 7523) with a certificate's
// key: Microsoft identity platform's certificate credential.
type certCredential struct {
	key *rsa.PrivateKey
	x5t string // base64url SHA-1 of the certificate
}

// parseCertCredential reads a PEM certificate and its PKCS #8 RSA key,
// and checks that they belong together.
func parseCertCredential(certPEM, keyPEM string) (*certCredential, error) {
	cb, _ := pem.Decode([]byte(certPEM))
	kb, _ := pem.Decode([]byte(keyPEM))
	if cb == nil || kb == nil || cb.Type != "CERTIFICATE" {
		return nil, core.Errorf(core.KindInvalid, "the MFA connector certificate or its key is not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, core.Errorf(core.KindInvalid, "the MFA connector certificate cannot be read")
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, core.Errorf(core.KindInvalid, "the MFA connector key cannot be read")
	}
	key, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, core.Errorf(core.KindInvalid, "the MFA connector key is not an RSA key")
	}
	if pub, ok := cert.PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		return nil, core.Errorf(core.KindInvalid, "the MFA connector key does not belong to its certificate")
	}
	sum := sha1.Sum(cert.Raw)
	return &certCredential{key: key, x5t: base64.RawURLEncoding.EncodeToString(sum[:])}, nil
}

// assertion returns a signed JWT for clientID at tokenURL, valid from now.
func (c *certCredential) assertion(clientID, tokenURL string, now time.Time) (string, error) {
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	header, err := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "x5t": c.x5t})
	if err != nil {
		return "", err
	}
	claims, err := json.Marshal(map[string]any{"aud": tokenURL, "iss": clientID, "sub": clientID,
		"jti": hex.EncodeToString(jti), "nbf": now.Unix(), "iat": now.Unix(), "exp": now.Add(assertionLife).Unix()})
	if err != nil {
		return "", err
	}
	signing := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(claims)
	digest := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, c.key, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("microsoft: sign client assertion: %w", err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
