package core

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"time"
)

// microsoftCertLife is how long a generated connector certificate is
// valid; Microsoft accepts longer, rotation is the admin's to schedule.
const microsoftCertLife = 2 * 365 * 24 * time.Hour

// NewMicrosoftConnectorCertificate makes a self-signed RSA 2048
// certificate and its PKCS #8 key (both PEM) for the MFA Client service
// principal, named so a customer's admin recognises it in their audit log
// (channels.md §3.8: "name it clearly").
func NewMicrosoftConnectorCertificate(name string, now time.Time, random io.Reader) (certPEM, keyPEM string, err error) {
	key, err := rsa.GenerateKey(random, 2048)
	if err != nil {
		return "", "", fmt.Errorf("core: connector key: %w", err)
	}
	serial, err := randSerial(random)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(microsoftCertLife),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(random, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", fmt.Errorf("core: connector certificate: %w", err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})), nil
}

func randSerial(random io.Reader) (*big.Int, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(random, b); err != nil {
		return nil, err
	}
	return new(big.Int).SetBytes(b), nil
}

// GenerateMicrosoftConnectorCertificate makes (or replaces) the
// connection's certificate credential for the MFA connector and stores it
// sealed with the rest; it returns the certificate (PEM) for the admin to
// add to the Azure Multi-Factor Auth Client service principal. Push with
// it works once Microsoft knows it: CheckMicrosoftConnection says when.
// The private key never leaves the sealed config.
func (e *Engine) GenerateMicrosoftConnectorCertificate(ctx context.Context, tenantID, actor, connectionID string) (string, error) {
	var conn MicrosoftConnection
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		conn, err = tx.MicrosoftConnection(ctx, tenantID, connectionID)
		return err
	})
	if err != nil {
		return "", err
	}
	cfg, err := e.openMicrosoft(conn)
	if err != nil {
		return "", err
	}
	now := e.Now()
	certPEM, keyPEM, err := NewMicrosoftConnectorCertificate("Countersign MFA connector ("+conn.Name+")", now, e.cfg.Rand)
	if err != nil {
		return "", err
	}
	cfg.ConnectorCert, cfg.ConnectorKey = certPEM, keyPEM
	err = e.cfg.Store.Update(ctx, func(tx Tx) error {
		cur, err := tx.MicrosoftConnection(ctx, tenantID, connectionID)
		if err != nil {
			return err
		}
		if err := e.sealMicrosoft(&cur, cfg); err != nil {
			return err
		}
		cur.UpdatedAt = now
		if err := tx.PutMicrosoftConnection(ctx, &cur); err != nil {
			return err
		}
		return e.audit(ctx, tx, tenantID, actor, AuditMicrosoftCertGenerated, cur.ID,
			map[string]string{"not_after": now.Add(microsoftCertLife).UTC().Format(time.DateOnly)})
	})
	if err != nil {
		return "", err
	}
	return certPEM, nil
}

// sealMicrosoft seals cfg into c.
func (e *Engine) sealMicrosoft(c *MicrosoftConnection, cfg MicrosoftConfig) error {
	plain, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	c.Sealed, err = e.cfg.Sealer.Seal(plain, msConnectionAAD(c.TenantID, c.ID))
	return err
}
