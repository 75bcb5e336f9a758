// Package soft serves "file:PATH" references: custodian keys kept as PEM
// files, the way the Azure tools expect them (c0.key next to c0.cer).
//
// Custodian exists so that custodian keys live on hardware. Software keys
// are here for two reasons only: to read the files of people moving away
// from the openssl procedure (kind "file": software, admitted for recovery
// with a recorded warning), and for drills. Every key this package makes is
// a drill key: its certificate carries token.DrillPolicy and says DRILL,
// and keys opened with such a certificate are reported with Drill set. It
// never decides what a ceremony admits: ceremony's admission policy does.
package soft

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/custodian-hsm/custodian/crypto/jwe"
	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// maxKeyFile bounds what is read as a key or certificate file.
const maxKeyFile = 64 << 10

// Provider is the file: backend.
type Provider struct{}

// New returns the file: backend.
func New() *Provider { return &Provider{} }

// Scheme implements token.Provider.
func (*Provider) Scheme() string { return token.SchemeFile }

// List implements token.Provider. Key files are not discovered: they are
// named on the command line or chosen in a file dialog.
func (*Provider) List(context.Context) ([]token.Info, error) { return nil, nil }

// info describes a key file; cert, when known, tells whether a drill made
// it.
func info(path string, cert *x509.Certificate) token.Info {
	return token.Info{
		Kind:  token.KindSoftware,
		Model: "software key file",
		Label: filepath.Base(path),
		Ref:   &token.URI{Scheme: token.SchemeFile, File: path},
		Drill: token.IsDrillCertificate(cert),
	}
}

// Describe implements token.Describer: it reads the certificate next to
// the key (no passphrase needed) to tell a drill's key from one made
// elsewhere. A key file that does not exist yet (an enrollment) is
// described by its reference alone.
func (*Provider) Describe(_ context.Context, ref *token.URI) (token.Info, error) {
	data, err := safefile.ReadLimited(CertificatePath(ref.File), maxKeyFile)
	if err != nil {
		return info(ref.File, nil), nil
	}
	cert, err := parseCertificate(data)
	if err != nil {
		return info(ref.File, nil), nil
	}
	return info(ref.File, cert), nil
}

// Health implements token.Provider: a file has no PIN counter.
func (*Provider) Health(_ context.Context, ref *token.URI, _ token.OpenOptions) (token.Health, error) {
	return token.Health{
		PINRetries: -1, PUKRetries: -1,
		Warnings: []string{"software key file: no hardware protection; rotate its custodian onto a hardware token"},
	}, nil
}

// CertificatePath returns where the az convention keeps a key's
// certificate: the key's path with its extension replaced by .cer.
func CertificatePath(keyPath string) string {
	return strings.TrimSuffix(keyPath, filepath.Ext(keyPath)) + ".cer"
}

// Key is a software custodian key.
type Key struct {
	path string
	priv *rsa.PrivateKey
	cert *x509.Certificate
}

// OpenKey implements token.Provider. The key file may be PKCS#1 or PKCS#8,
// encrypted or not; a passphrase is asked through opts.PIN.
func (p *Provider) OpenKey(ctx context.Context, ref *token.URI, opts token.OpenOptions) (token.Key, error) {
	return Open(ctx, ref.File, opts.PIN)
}

// Open reads a key file and its certificate.
func Open(ctx context.Context, path string, ask token.PINFunc) (*Key, error) {
	keyPEM, err := safefile.ReadLimited(path, maxKeyFile)
	if err != nil {
		return nil, fmt.Errorf("reading key file: %w", err)
	}
	defer clear(keyPEM)
	priv, err := parsePrivateKey(ctx, path, keyPEM, ask)
	if err != nil {
		return nil, err
	}
	certPath := CertificatePath(path)
	certData, err := safefile.ReadLimited(certPath, maxKeyFile)
	if err != nil {
		return nil, fmt.Errorf("reading the certificate of %s (expected next to it, as %s): %w", path, certPath, err)
	}
	cert, err := parseCertificate(certData)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, err)
	}
	if !token.SamePublicKey(cert, &priv.PublicKey) {
		return nil, fmt.Errorf("%s does not belong to %s: the certificate carries another public key", certPath, path)
	}
	return &Key{path: path, priv: priv, cert: cert}, nil
}

func parseCertificate(data []byte) (*x509.Certificate, error) {
	der := data
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("holds a PEM %q block, not a CERTIFICATE", block.Type)
		}
		der = block.Bytes
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("not an X.509 certificate: %w", err)
	}
	return cert, nil
}

func parsePrivateKey(ctx context.Context, path string, data []byte, ask token.PINFunc) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s is not a PEM private key", path)
	}
	der := block.Bytes
	switch {
	case block.Type == "ENCRYPTED PRIVATE KEY" || x509.IsEncryptedPEMBlock(block): //nolint:staticcheck // legacy format still met in the field
		if ask == nil {
			return nil, fmt.Errorf("%s is encrypted and no passphrase prompt is available", path)
		}
		pass, err := ask(ctx, token.PINRequest{Token: info(path, nil), What: "passphrase", Reason: "decrypt the key file " + filepath.Base(path), RetriesLeft: -1})
		if err != nil {
			return nil, fmt.Errorf("passphrase for %s: %w", path, err)
		}
		defer clear(pass)
		if block.Type == "ENCRYPTED PRIVATE KEY" {
			der, err = decryptPKCS8(block.Bytes, pass)
		} else {
			der, err = x509.DecryptPEMBlock(block, pass) //nolint:staticcheck // reading legacy openssl files
			if err != nil {
				err = errWrongPassphrase
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer clear(der)
	case block.Type == "PRIVATE KEY" || block.Type == "RSA PRIVATE KEY":
	default:
		return nil, fmt.Errorf("%s holds a PEM %q block, not a private key", path, block.Type)
	}
	var key any
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		if k1, err1 := x509.ParsePKCS1PrivateKey(der); err1 == nil {
			key, err = k1, nil
		}
	}
	if err != nil {
		if strings.Contains(block.Type, "ENCRYPTED") || x509.IsEncryptedPEMBlock(block) { //nolint:staticcheck
			return nil, fmt.Errorf("%s: %w", path, errWrongPassphrase)
		}
		return nil, fmt.Errorf("%s is not a PKCS#1 or PKCS#8 private key: %w", path, err)
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s holds a %T key; custodian keys are RSA", path, key)
	}
	if rk.N.BitLen() < 2048 {
		return nil, fmt.Errorf("%s is a %d-bit RSA key; Azure requires at least 2048 bits", path, rk.N.BitLen())
	}
	return rk, nil
}

// Ref implements token.Key.
func (k *Key) Ref() *token.URI { return &token.URI{Scheme: token.SchemeFile, File: k.path} }

// Token implements token.Key.
func (k *Key) Token() token.Info { return info(k.path, k.cert) }

// Certificate implements token.Key.
func (k *Key) Certificate() *x509.Certificate { return k.cert }

// Public implements token.Key.
func (k *Key) Public() *rsa.PublicKey { return &k.priv.PublicKey }

// DecryptKey implements token.Key and jwe.KeyDecrypter.
func (k *Key) DecryptKey(alg string, encryptedKey []byte) ([]byte, error) {
	if k.priv == nil {
		return nil, errors.New("key is closed")
	}
	return jwe.RSAKeyDecrypter{Key: k.priv}.DecryptKey(alg, encryptedKey)
}

// DecryptPath implements token.Key.
func (k *Key) DecryptPath() string {
	if token.IsDrillCertificate(k.cert) {
		return "software key in memory (DRILL)"
	}
	return "software key in memory (no hardware protection)"
}

// Attest implements token.Key: a file proves nothing about where the key
// has been, and says so.
func (k *Key) Attest(context.Context) (*token.Attestation, error) {
	return &token.Attestation{
		Kind:   token.KindSoftware,
		Status: token.AttestNone,
		Facts: []token.Fact{
			{Name: "storage", Value: "software key file " + filepath.Base(k.path)},
			{Name: "protection", Value: "none: the private key can be copied"},
		},
	}, nil
}

// Close implements token.Key. Go cannot reliably wipe a big.Int's limbs;
// dropping the reference is the best a software key can do, which is one
// more reason software keys are for drills.
func (k *Key) Close() error {
	k.priv = nil
	return nil
}

// Enroll implements token.Provider for drills: it generates a key pair and
// writes it as ref's file (PKCS#8, mode 0600) with the certificate next to
// it as .cer, like the openssl quickstart does.
func (p *Provider) Enroll(_ context.Context, ref *token.URI, req token.EnrollRequest, _ token.OpenOptions) (*token.Enrollment, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	cert, err := GenerateFiles(ref.File, req)
	if err != nil {
		return nil, err
	}
	return &token.Enrollment{
		Ref:         &token.URI{Scheme: token.SchemeFile, File: ref.File},
		Token:       info(ref.File, cert),
		Certificate: cert,
		Attestation: &token.Attestation{Kind: token.KindSoftware, Status: token.AttestNone, Facts: []token.Fact{{Name: "protection", Value: "none: software key for drills"}}},
	}, nil
}

// GenerateFiles makes a DRILL custodian key pair: keyPath (PKCS#8 PEM,
// 0600) and its certificate next to it (.cer, PEM). Neither file may exist.
func GenerateFiles(keyPath string, req token.EnrollRequest) (*x509.Certificate, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	certPath := CertificatePath(keyPath)
	for _, p := range []string{keyPath, certPath} {
		if _, err := os.Lstat(p); err == nil {
			return nil, fmt.Errorf("%s already exists: Custodian never overwrites a file", p)
		}
	}
	req.Report(fmt.Sprintf("generating a %d-bit RSA key in software (DRILL)", req.Bits))
	priv, err := rsa.GenerateKey(rand.Reader, req.Bits)
	if err != nil {
		return nil, fmt.Errorf("generating the key: %w", err)
	}
	if !strings.Contains(req.Name, "DRILL") {
		req.Name = "DRILL " + req.Name
	}
	req.Drill = true
	req.Report("signing the self-signed certificate")
	cert, err := token.SelfSignCertificate(crypto.Signer(priv), req, time.Now(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	clear(der)
	defer clear(keyPEM)
	req.Report("writing " + filepath.Base(keyPath))
	if err := safefile.Write(keyPath, keyPEM, safefile.WithPerm(0o600)); err != nil {
		return nil, err
	}
	if err := safefile.Write(certPath, token.CertificatePEM(cert)); err != nil {
		return nil, err
	}
	return cert, nil
}
