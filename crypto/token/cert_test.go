package token

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"testing"
	"time"
)

func TestSelfSignCertificateIsWhatAzureTakes(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	cert, err := SelfSignCertificate(key, EnrollRequest{Name: "Alice Example", CeremonyID: "HSM-2026-11"}, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "Alice Example" || cert.Subject.OrganizationalUnit[0] != "HSM-2026-11" {
		t.Errorf("subject %v", cert.Subject)
	}
	if cert.KeyUsage&x509.KeyUsageKeyEncipherment == 0 {
		t.Error("no keyEncipherment: the HSM wraps shares to this key")
	}
	if cert.IsCA {
		t.Error("a custodian certificate must not be a CA")
	}
	if !cert.NotAfter.After(now.Add(25 * 365 * 24 * time.Hour)) {
		t.Errorf("validity ends %v: custodian certificates must outlive the HSM", cert.NotAfter)
	}
	if !SamePublicKey(cert, &key.PublicKey) {
		t.Error("certificate carries another key")
	}
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		t.Errorf("self-signature: %v", err)
	}
	if string(CertificatePEM(cert)[:27]) != "-----BEGIN CERTIFICATE-----" {
		t.Error("PEM export is not a CERTIFICATE block")
	}
}

// A drill's certificate carries the drill policy through a DER round trip;
// a production one does not.
func TestDrillCertificatePolicy(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, drill := range []bool{false, true} {
		req := EnrollRequest{Name: "Alice", Drill: drill}
		if err := req.Validate(); err != nil {
			t.Fatal(err)
		}
		c, err := SelfSignCertificate(priv, req, time.Now(), nil)
		if err != nil {
			t.Fatal(err)
		}
		back, err := x509.ParseCertificate(c.Raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := IsDrillCertificate(back); got != drill {
			t.Errorf("drill=%v: IsDrillCertificate = %v", drill, got)
		}
	}
}
