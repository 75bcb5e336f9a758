package sgx

import (
	"crypto/sha256"
	"crypto/x509"
	_ "embed"
	"encoding/hex"
	"encoding/pem"
	"fmt"
)

// IntelRootSHA256 is the SHA-256 of the Intel SGX Root CA's DER bytes, as
// published by Intel and as found at the end of the live Managed HSM's PCK
// chain (shared/vectors/live-2025-04/README.md). The embedded certificate
// must hash to it: the pin is the hash, the file only supplies the key.
const IntelRootSHA256 = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"

// intelRootPEM is Intel's public SGX Root CA certificate (valid 2018-05-21
// to 2049-12-31), taken from the live exchange certificate's chain.
//
//go:embed intel-sgx-root-ca.pem
var intelRootPEM []byte

// drillRootPEM is Custodian's DRILL attestation root. Its private key is
// public (crypto/drillhsm holds it): it proves nothing and production
// never accepts it.
//
//go:embed drill-root.pem
var drillRootPEM []byte

// RootKind says what a root is; production accepts only RootIntel.
type RootKind int

// Root kinds.
const (
	RootIntel RootKind = iota + 1 // the pinned Intel SGX Root CA
	RootDrill                     // Custodian's DRILL attestation root
	RootTest                      // a root made by a test
)

// Root is an attestation root a PCK chain may end in.
type Root struct {
	Name   string
	Kind   RootKind
	Cert   *x509.Certificate
	SHA256 [32]byte
}

// Drill reports whether the root is not Intel's.
func (r *Root) Drill() bool { return r.Kind != RootIntel }

func (r *Root) String() string {
	switch r.Kind {
	case RootIntel:
		return "Intel SGX Root CA (pinned, SHA-256 " + hex.EncodeToString(r.SHA256[:]) + ")"
	case RootDrill:
		return "DRILL attestation root (not Intel: drills only)"
	}
	return "TEST root " + r.Name + " (not Intel)"
}

var intelRoot, drillRoot = mustRoot(intelRootPEM, RootIntel, IntelRootSHA256), mustRoot(drillRootPEM, RootDrill, "")

func mustRoot(p []byte, kind RootKind, pin string) *Root {
	b, _ := pem.Decode(p)
	if b == nil {
		panic("sgx: embedded root is not PEM")
	}
	r, err := newRoot(b.Bytes, kind)
	if err != nil {
		panic("sgx: embedded root: " + err.Error())
	}
	if pin != "" && hex.EncodeToString(r.SHA256[:]) != pin {
		panic("sgx: the embedded Intel SGX Root CA does not match its pinned SHA-256")
	}
	return r
}

func newRoot(der []byte, kind RootKind) (*Root, error) {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	if !c.IsCA {
		return nil, fmt.Errorf("%q is not a CA certificate", c.Subject.CommonName)
	}
	return &Root{Name: c.Subject.CommonName, Kind: kind, Cert: c, SHA256: sha256.Sum256(der)}, nil
}

// IntelRoot is the pinned Intel SGX Root CA.
func IntelRoot() *Root { return intelRoot }

// DrillRoot is Custodian's DRILL attestation root.
func DrillRoot() *Root { return drillRoot }

// TestRoot makes a root of kind RootTest from a DER certificate, for tests
// that sign quotes under their own root. It is never Intel's, whatever
// names it carries.
func TestRoot(der []byte) (*Root, error) { return newRoot(der, RootTest) }
