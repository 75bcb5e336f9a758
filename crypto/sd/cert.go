package sd

import (
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
)

// MinRSABits is the smallest custodian or exchange key Azure accepts.
const MinRSABits = 2048

// Thumbprint is the SD's x5t_256 of a certificate: base64url (no padding)
// of the SHA-256 of its DER bytes. The exact bytes matter: a re-issued
// certificate for the same key has another thumbprint.
func Thumbprint(der []byte) string {
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// ThumbprintSHA1 is a JWK's x5t: base64url of the SHA-1 of the DER bytes.
func ThumbprintSHA1(der []byte) string {
	sum := sha1.Sum(der)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// ParseCertificate reads one X.509 certificate, PEM (any line length) or
// DER, and checks that it carries an RSA key of at least 2048 bits.
func ParseCertificate(data []byte) (*x509.Certificate, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("certificate file is %d bytes, over the %d-byte limit", len(data), MaxFileSize)
	}
	der, err := certificateDER(data)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("not a valid X.509 certificate: %v", err)
	}
	if _, err := rsaKeyOf(cert, "certificate"); err != nil {
		return nil, err
	}
	return cert, nil
}

// certificateDER extracts the DER bytes of exactly one certificate.
func certificateDER(data []byte) ([]byte, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		if len(data) > 0 && data[0] == 0x30 {
			return data, nil
		}
		return nil, errors.New("neither a PEM certificate nor DER: expected -----BEGIN CERTIFICATE-----")
	}
	if block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("holds a PEM %q block, not a CERTIFICATE", block.Type)
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, errors.New("holds more than one PEM block: give one certificate per file, not a chain")
	}
	return block.Bytes, nil
}

func rsaKeyOf(cert *x509.Certificate, what string) (*rsa.PublicKey, error) {
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("the %s (subject %q) carries a %s key; Azure needs RSA", what, cert.Subject.String(), keyKind(cert))
	}
	if pub.N.BitLen() < MinRSABits {
		return nil, fmt.Errorf("the %s (subject %q) carries a %d-bit RSA key; Azure needs at least %d bits", what, cert.Subject.String(), pub.N.BitLen(), MinRSABits)
	}
	return pub, nil
}

func keyKind(cert *x509.Certificate) string {
	switch cert.PublicKeyAlgorithm {
	case x509.ECDSA:
		return "ECDSA"
	case x509.Ed25519:
		return "Ed25519"
	case x509.DSA:
		return "DSA"
	}
	return cert.PublicKeyAlgorithm.String()
}

// b64uInt is a JWK integer: big-endian, no leading zero bytes.
func b64uInt(n *big.Int) string {
	return base64.RawURLEncoding.EncodeToString(n.Bytes())
}
