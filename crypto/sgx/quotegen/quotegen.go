// Package quotegen makes SGX attestations in the live Managed HSM layout
// (Open Enclave header + DCAP quote v3) under a root it is given: the DRILL
// root for the drill HSM, or a root a test makes. It exists so drills and
// tests exercise the very verifier production uses.
//
// It must never be given, or be able to produce, anything that chains to
// Intel's root: it signs only with keys its caller holds, and production
// verifies only under the pinned Intel SGX Root CA.
package quotegen

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"time"

	"github.com/custodian-hsm/custodian/crypto/sgx"
)

// Names are the subjects of the chain's three certificates.
type Names struct{ Root, CA, PCK pkix.Name }

func intelName(cn string) pkix.Name {
	return pkix.Name{CommonName: cn, Organization: []string{"Intel Corporation"}, Locality: []string{"Santa Clara"}, Province: []string{"CA"}, Country: []string{"US"}}
}

// IntelNames are the names Intel's real chain carries (for forgeries in
// tests: names prove nothing).
var IntelNames = Names{intelName("Intel SGX Root CA"), intelName("Intel SGX PCK Platform CA"), intelName("Intel SGX PCK Certificate")}

// DrillNames mark every certificate of a drill chain.
var DrillNames = Names{
	pkix.Name{CommonName: "DRILL SGX Attestation Root (Custodian drills only, NOT Intel)", Organization: []string{"Custodian DRILL"}},
	pkix.Name{CommonName: "DRILL SGX PCK Platform CA", Organization: []string{"Custodian DRILL"}},
	pkix.Name{CommonName: "DRILL SGX PCK Certificate", Organization: []string{"Custodian DRILL"}},
}

// Chain is a root, a platform CA and a PCK certificate, with their keys.
type Chain struct {
	RootKey, CAKey, PCKKey *ecdsa.PrivateKey
	Root, CA, PCK          *x509.Certificate
	Random                 io.Reader
}

// ChainSpec shapes NewChain. Zero values take sensible defaults.
type ChainSpec struct {
	Names Names
	// RootKey and Root: an existing root (the DRILL root); nil makes one.
	RootKey *ecdsa.PrivateKey
	Root    *x509.Certificate
	// PCK validity (default: an hour ago to seven years on).
	PCKNotBefore, PCKNotAfter time.Time
	FMSPC                     [6]byte
	TCB                       [16]byte
	PCESVN                    int
	Random                    io.Reader
}

// NewChain makes a PCK chain under spec's root.
func NewChain(spec ChainSpec) (*Chain, error) {
	rnd := spec.Random
	if rnd == nil {
		rnd = rand.Reader
	}
	c := &Chain{RootKey: spec.RootKey, Root: spec.Root, Random: rnd}
	now := time.Now()
	var err error
	if c.Root == nil {
		if c.RootKey, err = ecdsa.GenerateKey(elliptic.P256(), rnd); err != nil {
			return nil, err
		}
		if c.Root, err = caCert(rnd, spec.Names.Root, c.RootKey, nil, nil, now.AddDate(-1, 0, 0), now.AddDate(20, 0, 0)); err != nil {
			return nil, err
		}
	} else if c.RootKey == nil {
		return nil, errors.New("quotegen: a given root needs its key")
	}
	if c.CAKey, err = ecdsa.GenerateKey(elliptic.P256(), rnd); err != nil {
		return nil, err
	}
	if c.CA, err = caCert(rnd, spec.Names.CA, c.CAKey, c.Root, c.RootKey, c.Root.NotBefore, c.Root.NotAfter); err != nil {
		return nil, err
	}
	if c.PCKKey, err = ecdsa.GenerateKey(elliptic.P256(), rnd); err != nil {
		return nil, err
	}
	nb, na := spec.PCKNotBefore, spec.PCKNotAfter
	if nb.IsZero() {
		nb = now.Add(-time.Hour)
	}
	if na.IsZero() {
		na = now.AddDate(7, 0, 0)
	}
	ext, err := pckExtension(spec.FMSPC, spec.TCB, spec.PCESVN)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: serial(rnd), Subject: spec.Names.PCK, NotBefore: nb, NotAfter: na,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment, BasicConstraintsValid: true,
		ExtraExtensions: []pkix.Extension{{Id: sgx.OIDSGXExtensions, Value: ext}}}
	der, err := x509.CreateCertificate(rnd, tmpl, c.CA, &c.PCKKey.PublicKey, c.CAKey)
	if err != nil {
		return nil, err
	}
	c.PCK, err = x509.ParseCertificate(der)
	return c, err
}

func serial(r io.Reader) *big.Int {
	n, _ := rand.Int(r, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

func caCert(rnd io.Reader, name pkix.Name, key *ecdsa.PrivateKey, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, nb, na time.Time) (*x509.Certificate, error) {
	tmpl := &x509.Certificate{SerialNumber: serial(rnd), Subject: name, NotBefore: nb, NotAfter: na, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rnd, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

type entry struct {
	ID    asn1.ObjectIdentifier
	Value any
}

// pckExtension encodes Intel's SGX extension with FMSPC, PCE ID and TCB.
func pckExtension(fmspc [6]byte, tcb [16]byte, pcesvn int) ([]byte, error) {
	base := sgx.OIDSGXExtensions
	sub := func(n ...int) asn1.ObjectIdentifier { return append(append(asn1.ObjectIdentifier{}, base...), n...) }
	var t []entry
	for i := 0; i < 16; i++ {
		t = append(t, entry{sub(2, i+1), int(tcb[i])})
	}
	t = append(t, entry{sub(2, 17), pcesvn}, entry{sub(2, 18), tcb[:]})
	tcbDER, err := asn1.Marshal(t)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal([]any{
		entry{sub(1), make([]byte, 16)},
		struct {
			ID    asn1.ObjectIdentifier
			Value asn1.RawValue
		}{sub(2), asn1.RawValue{FullBytes: tcbDER}},
		entry{sub(3), []byte{0, 0}},
		entry{sub(4), fmspc[:]},
	})
}

// Enclave is the identity a quote states.
type Enclave struct {
	MRENCLAVE, MRSIGNER [32]byte
	ISVProdID, ISVSVN   uint16
	Attributes          uint64 // flags; 0 means 0x05 (INIT | MODE64BIT, not debug)
	QEMRSIGNER          [32]byte
	QEISVSVN            uint16
}

// Quote makes the extension value for a certificate whose
// SubjectPublicKeyInfo is spki, signed through c.
func (c *Chain) Quote(spki []byte, enc Enclave) ([]byte, error) {
	attKey, err := ecdsa.GenerateKey(elliptic.P256(), c.Random)
	if err != nil {
		return nil, err
	}
	ev := &sgx.Evidence{OEVersion: 1, OEReportType: 2, CertDataType: 5, QEAuthData: make([]byte, 32)}
	binary.LittleEndian.PutUint16(ev.Header[0:], 3)
	binary.LittleEndian.PutUint16(ev.Header[2:], 2)
	copy(ev.Header[12:], []byte{0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07})
	attrs := enc.Attributes
	if attrs == 0 {
		attrs = 0x05
	}
	sum := sha256.Sum256(spki)
	putReport(&ev.Body, enc.MRENCLAVE, enc.MRSIGNER, enc.ISVProdID, enc.ISVSVN, attrs, sum[:])
	pub, err := attKey.PublicKey.Bytes()
	if err != nil {
		return nil, err
	}
	copy(ev.AttestationKey[:], pub[1:])
	qeData := sha256.Sum256(append(append([]byte(nil), ev.AttestationKey[:]...), ev.QEAuthData...))
	putReport(&ev.QEReport, [32]byte{}, enc.QEMRSIGNER, 1, enc.QEISVSVN, 0x15, qeData[:])
	if ev.QEReportSignature, err = signRS(c.Random, c.PCKKey, ev.QEReport[:]); err != nil {
		return nil, err
	}
	for _, cert := range []*x509.Certificate{c.PCK, c.CA, c.Root} {
		ev.CertData = append(ev.CertData, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})...)
	}
	ev.CertData = append(ev.CertData, 0)
	if ev.Signature, err = signRS(c.Random, attKey, ev.SignedBytes()); err != nil {
		return nil, err
	}
	return ev.Marshal(), nil
}

func putReport(b *[sgx.ReportBodySize]byte, mrenclave, mrsigner [32]byte, prod, svn uint16, attrs uint64, data []byte) {
	binary.LittleEndian.PutUint64(b[48:], attrs)
	binary.LittleEndian.PutUint64(b[56:], 0xe7)
	copy(b[64:96], mrenclave[:])
	copy(b[128:160], mrsigner[:])
	binary.LittleEndian.PutUint16(b[256:], prod)
	binary.LittleEndian.PutUint16(b[258:], svn)
	copy(b[320:], data)
}

// Resign re-signs a quote header and body with a fresh attestation key
// and fixes the QE report to bind it: for tests that change the body (a
// debug flag) and need the rest to stay self-consistent.
func (c *Chain) Resign(ev *sgx.Evidence) error {
	attKey, err := ecdsa.GenerateKey(elliptic.P256(), c.Random)
	if err != nil {
		return err
	}
	pub, err := attKey.PublicKey.Bytes()
	if err != nil {
		return err
	}
	copy(ev.AttestationKey[:], pub[1:])
	qeData := sha256.Sum256(append(append([]byte(nil), ev.AttestationKey[:]...), ev.QEAuthData...))
	copy(ev.QEReport[320:352], qeData[:])
	if ev.QEReportSignature, err = signRS(c.Random, c.PCKKey, ev.QEReport[:]); err != nil {
		return err
	}
	ev.Signature, err = signRS(c.Random, attKey, ev.SignedBytes())
	return err
}

func signRS(rnd io.Reader, k *ecdsa.PrivateKey, msg []byte) (sig [64]byte, err error) {
	h := sha256.Sum256(msg)
	r, s, err := ecdsa.Sign(rnd, k, h[:])
	if err != nil {
		return sig, err
	}
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return sig, nil
}

// CertSpec shapes an exchange certificate.
type CertSpec struct {
	CommonName          string
	NotBefore, NotAfter time.Time
	// Extension is the attestation extension's value (nil: none).
	Extension []byte
}

// ExchangeCertificate makes a self-signed exchange certificate for key,
// in the live certificate's shape.
func ExchangeCertificate(rnd io.Reader, key *rsa.PrivateKey, spec CertSpec) ([]byte, error) {
	tmpl := &x509.Certificate{SerialNumber: serial(rnd), Subject: pkix.Name{CommonName: spec.CommonName},
		NotBefore: spec.NotBefore, NotAfter: spec.NotAfter, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment}
	if spec.Extension != nil {
		tmpl.ExtraExtensions = []pkix.Extension{{Id: sgx.OIDAttestation, Value: spec.Extension}}
	}
	return x509.CreateCertificate(rnd, tmpl, tmpl, &key.PublicKey, key)
}

// AttestedCertificate makes a key's exchange certificate carrying a quote
// from c that binds it.
func (c *Chain) AttestedCertificate(key *rsa.PrivateKey, spec CertSpec, enc Enclave) ([]byte, error) {
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	if spec.Extension, err = c.Quote(spki, enc); err != nil {
		return nil, err
	}
	return ExchangeCertificate(c.Random, key, spec)
}
