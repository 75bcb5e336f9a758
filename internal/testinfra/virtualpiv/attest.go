package virtualpiv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"sync"
	"time"
)

// Yubico's attestation extensions (developers.yubico.com, "PIV attestation").
var (
	oidFirmware   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 3}
	oidSerial     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 7}
	oidPolicy     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 8}
	oidFormFactor = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 9}
)

// Authority is a TEST attestation root: it plays Yubico's PIV root CA
// for virtual cards, issuing each card's attestation certificate (slot
// F9). Nothing it issues proves anything about real hardware; verifiers
// must only ever trust it in tests and drills.
type Authority struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

// NewAuthority creates a fresh TEST attestation root (ECDSA P-256).
func NewAuthority() (*Authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("virtualpiv: generating the test attestation root key: %w", err)
	}
	serial, err := randomSerial(rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:   "Custodian TEST PIV Attestation Root (DRILL ONLY, not Yubico)",
			Organization: []string{"Custodian virtual YubiKey (DRILL)"},
		},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(30, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("virtualpiv: self-signing the test attestation root: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("virtualpiv: parsing the test attestation root: %w", err)
	}
	return &Authority{key: key, cert: cert}, nil
}

// Certificate returns the root certificate.
func (a *Authority) Certificate() *x509.Certificate { return a.cert }

// Pool returns a certificate pool holding only the root, for
// piv.Verifier.Roots and the token backend's AttestationRoots.
func (a *Authority) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(a.cert)
	return p
}

var (
	testAuthorityOnce sync.Once
	testAuthority     *Authority
	testAuthorityErr  error
)

// TestAuthority returns the process-wide TEST attestation root that cards
// use unless Options.Authority says otherwise. It is created on first use
// and lives as long as the process.
func TestAuthority() (*Authority, error) {
	testAuthorityOnce.Do(func() { testAuthority, testAuthorityErr = NewAuthority() })
	return testAuthority, testAuthorityErr
}

// TestAttestationRoot returns the certificate of TestAuthority.
func TestAttestationRoot() (*x509.Certificate, error) {
	a, err := TestAuthority()
	if err != nil {
		return nil, err
	}
	return a.cert, nil
}

func randomSerial(r io.Reader) (*big.Int, error) {
	n, err := rand.Int(r, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("virtualpiv: choosing a certificate serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

// issueDeviceCertificate creates a card's attestation key and its
// certificate (the "Yubico PIV Attestation" intermediate of slot F9).
func (a *Authority) issueDeviceCertificate(serial uint32, version [3]byte, r io.Reader) (*ecdsa.PrivateKey, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), r)
	if err != nil {
		return nil, nil, err
	}
	sn, err := randomSerial(r)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject: pkix.Name{
			CommonName:   fmt.Sprintf("Custodian TEST PIV Attestation %d (DRILL)", serial),
			Organization: []string{"Custodian virtual YubiKey (DRILL)"},
		},
		NotBefore:             a.cert.NotBefore,
		NotAfter:              a.cert.NotAfter,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		ExtraExtensions: []pkix.Extension{
			{Id: oidFirmware, Value: version[:]},
			{Id: oidSerial, Value: mustMarshal(int64(serial))},
		},
	}
	der, err := x509.CreateCertificate(r, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return key, cert, nil
}

func mustMarshal(v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic(err) // only called with integers
	}
	return b
}

// attest is Yubico's ATTEST (P1 slot): a certificate for a key generated
// on the card, signed by the attestation key, with Yubico's extensions.
// An empty slot or an imported key answers 6A80, as a YubiKey does.
func (c *Card) attest(cmd command) ([]byte, uint16) {
	if cmd.p2 != 0 || !isKeySlot(cmd.p1) {
		return nil, swIncorrectP1P2
	}
	k := c.slots[cmd.p1]
	if k == nil || k.origin != originGenerated {
		return nil, swIncorrectData
	}
	var pub any
	if k.rsa != nil {
		pub = &k.rsa.PublicKey
	} else {
		pub = &k.ec.PublicKey
	}
	sn, err := randomSerial(c.rand)
	if err != nil {
		return nil, swUnknown
	}
	issuer := c.currentAttestationCert()
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: fmt.Sprintf("YubiKey PIV Attestation %02x", cmd.p1)},
		NotBefore:    issuer.NotBefore,
		NotAfter:     issuer.NotAfter,
		ExtraExtensions: []pkix.Extension{
			{Id: oidFirmware, Value: c.version[:]},
			{Id: oidSerial, Value: mustMarshal(int64(c.serial))},
			{Id: oidPolicy, Value: []byte{k.pinPolicy, k.touchPolicy}},
			{Id: oidFormFactor, Value: []byte{c.formFactor}},
		},
	}
	der, err := x509.CreateCertificate(c.rand, tmpl, issuer, pub, c.attestKey)
	if err != nil {
		return nil, swUnknown
	}
	return der, swOK
}

// currentAttestationCert is the certificate stored in 5FFF01 when it
// parses (PUT DATA may replace it), else the one issued at creation.
func (c *Card) currentAttestationCert() *x509.Certificate {
	if obj, ok := c.objects[0x5FFF01]; ok {
		if fields, err := parseTLVs(obj); err == nil {
			if der, ok := find(fields, 0x70); ok {
				if cert, err := x509.ParseCertificate(der); err == nil {
					return cert
				}
			}
		}
	}
	return c.attestCert
}
