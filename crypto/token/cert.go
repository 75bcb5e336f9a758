package token

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"
)

// DrillPolicy is the certificate policy of certificates a drill made
// (`custodian drill keys`, a drill session's key files): an OID under the
// UUID arc 2.25 (ITU-T X.667, UUID 872ca196-d077-4415-8e42-70823ed6d9d3),
// so Custodian needs no registered number. A production ceremony refuses a
// key whose certificate carries it: the mark is a typed fact in the
// certificate, not a name someone typed.
var DrillPolicy = mustOID("2.25.179677517909426806050185444772252408275")

func mustOID(s string) x509.OID {
	o, err := x509.ParseOID(s)
	if err != nil {
		panic(err)
	}
	return o
}

// IsDrillCertificate reports whether a drill made this certificate: it
// carries DrillPolicy, or (drill keys made before the policy existed)
// Custodian's own drill subject "CN=DRILL …, O=Custodian".
func IsDrillCertificate(cert *x509.Certificate) bool {
	if cert == nil {
		return false
	}
	for _, p := range cert.Policies {
		if p.Equal(DrillPolicy) {
			return true
		}
	}
	o := cert.Subject.Organization
	return len(o) == 1 && o[0] == "Custodian" && strings.HasPrefix(cert.Subject.CommonName, "DRILL ")
}

// CertificateValidity is how long custodian certificates are valid. Azure
// does not check expiry, and a custodian certificate must outlive the HSM:
// an expired certificate that still opens its share is the right outcome,
// a certificate re-issued later is not (its SHA-256 would not match the
// share), so we issue long-lived certificates once.
const CertificateValidity = 30 * 365 * 24 * time.Hour

// SelfSignCertificate builds and signs the custodian's self-signed
// certificate with a signer that lives on the token. The subject is
// CN=<name>, OU=<ceremony id>, O=Custodian; key usage keyEncipherment (what
// the HSM uses the key for) and digitalSignature (the self-signature).
func SelfSignCertificate(signer crypto.Signer, req EnrollRequest, now time.Time, random io.Reader) (*x509.Certificate, error) {
	pub, ok := signer.Public().(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("custodian keys must be RSA: the security domain is wrapped with RSA-OAEP")
	}
	if random == nil {
		random = rand.Reader
	}
	serial, err := rand.Int(random, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("drawing a certificate serial number: %w", err)
	}
	subject := pkix.Name{CommonName: req.Name, Organization: []string{"Custodian"}}
	if req.CeremonyID != "" {
		subject.OrganizationalUnit = []string{req.CeremonyID}
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	ski := sha256.Sum256(spki)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		Issuer:                subject,
		NotBefore:             now.Add(-time.Hour).UTC().Truncate(time.Second),
		NotAfter:              now.Add(CertificateValidity).UTC().Truncate(time.Second),
		KeyUsage:              x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		SubjectKeyId:          ski[:20],
		SignatureAlgorithm:    x509.SHA256WithRSA,
	}
	if req.Drill {
		tmpl.Policies = []x509.OID{DrillPolicy}
	}
	der, err := x509.CreateCertificate(random, tmpl, tmpl, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("signing the self-signed certificate on the token: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	// CheckSignatureFrom would demand a CA certificate; a custodian
	// certificate is not one, so check the self-signature directly.
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		return nil, fmt.Errorf("the token produced an invalid self-signature: %w", err)
	}
	return cert, nil
}

// CertificatePEM encodes a certificate as the .cer PEM file that
// `az keyvault security-domain download --sd-wrapping-keys` and
// Export-AzKeyVaultSecurityDomain take.
func CertificatePEM(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

// SamePublicKey reports whether a certificate carries the given RSA key.
func SamePublicKey(cert *x509.Certificate, pub *rsa.PublicKey) bool {
	cpub, ok := cert.PublicKey.(*rsa.PublicKey)
	return ok && cpub.Equal(pub)
}
