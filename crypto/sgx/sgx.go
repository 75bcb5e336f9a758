// Package sgx verifies the Intel SGX attestation a Managed HSM puts in its
// exchange certificate: the proof that the RSA key a restore blob is
// wrapped to was made inside a genuine SGX enclave, and which enclave.
//
// The certificate's extension 1.2.840.113556.10.1.1 holds an Open Enclave
// report header and an Intel SGX DCAP quote version 3 (ECDSA P-256). The
// verifier parses it with every length checked against a fixed bound,
// verifies the PCK certificate chain to a PINNED root (Intel's SGX Root CA,
// compared by SHA-256; a root that merely comes with the quote is never
// trusted), the QE report's signature and binding of the attestation key,
// the quote's signature, that the enclave's report data is SHA-256 of the
// certificate's SubjectPublicKeyInfo, and that the enclave is not a debug
// enclave; and it checks the certificate itself (self-signature, RSA size,
// validity at the ceremony's clock).
//
// It returns a typed Result: a Verdict, the Facts found and every failed
// check by name. It never decides what a ceremony does with a failure
// (package ceremony does), and it never accepts a DRILL root unless the
// caller passes it in Options.Roots; the Result then says which root.
//
// Intel's TCB collateral (TCB Info, QE Identity) is verified by
// EvaluateCollateral, separately: the quote does not carry it.
package sgx

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"sort"
	"strings"
	"time"
)

// OIDAttestation is the Open Enclave attestation extension of a Managed
// HSM exchange certificate.
var OIDAttestation = asn1.ObjectIdentifier{1, 2, 840, 113556, 10, 1, 1}

// Verdict is the overall answer.
type Verdict int

// Verdicts, from best to worst.
const (
	// Genuine: every check passed.
	Genuine Verdict = iota
	// Stale: every cryptographic check passed but a certificate (the
	// exchange certificate or one in the PCK chain) is outside its
	// validity period at the time checked.
	Stale
	// Failed: the attestation parses but a check failed.
	Failed
	// Malformed: the extension is present but does not parse.
	Malformed
	// Unattested: the certificate carries no attestation extension.
	Unattested
)

func (v Verdict) String() string {
	switch v {
	case Genuine:
		return "genuine"
	case Stale:
		return "stale"
	case Failed:
		return "failed"
	case Malformed:
		return "malformed"
	case Unattested:
		return "unattested"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// Check names one verification step.
type Check string

// The checks, in the order they run.
const (
	CheckExtension      Check = "attestation extension present"
	CheckFormat         Check = "attestation well formed"
	CheckCertSignature  Check = "certificate self-signature"
	CheckKeySize        Check = "RSA key size"
	CheckCertValidity   Check = "certificate validity"
	CheckPCKChain       Check = "PCK chain to the pinned root"
	CheckPCKValidity    Check = "PCK chain validity"
	CheckQESignature    Check = "QE report signed by the PCK key"
	CheckQEReportData   Check = "QE report binds the attestation key"
	CheckQuoteSignature Check = "quote signed by the attestation key"
	CheckReportData     Check = "report data binds the certificate's key"
	CheckDebug          Check = "not a debug enclave"
)

// Failure is one failed check. It is an error.
type Failure struct {
	Check  Check
	Detail string
}

func (f *Failure) Error() string { return fmt.Sprintf("%s: %s", f.Check, f.Detail) }

// ExpectedRSABits is the exchange key size of the live service.
const ExpectedRSABits = 4096

// MinRSABits is the smallest exchange key that can ever be accepted,
// whatever exception is recorded.
const MinRSABits = 2048

// Options shape a verification.
type Options struct {
	// At is the time validity is checked at (zero: now).
	At time.Time
	// Roots are the attestation roots accepted (nil: Intel's SGX Root CA
	// only). Drills add DrillRoot(); production never does.
	Roots []*Root
}

// Facts is what the attestation and the certificate say.
type Facts struct {
	// The exchange certificate.
	Subject    string
	HostName   string // the subject's common name: the HSM's host name
	NotBefore  time.Time
	NotAfter   time.Time
	KeyBits    int
	SPKISHA256 [32]byte

	// The enclave (the quote's report body).
	MRENCLAVE  [32]byte
	MRSIGNER   [32]byte
	ISVProdID  uint16
	ISVSVN     uint16
	Attributes uint64 // the attributes' flags
	Debug      bool
	// KeyBound: report data[0:32] is SHA-256 of the SubjectPublicKeyInfo
	// and the rest is zero.
	KeyBound bool

	// The quoting enclave.
	QEVendorID  [16]byte
	QEMRSIGNER  [32]byte
	QEISVProdID uint16
	QEISVSVN    uint16
	// QEMiscSelect and QEAttributes are compared with Intel's QE Identity.
	QEMiscSelect uint32
	QEAttributes [16]byte

	// The PCK certificate (the platform).
	PCKSubject   string
	PCKNotBefore time.Time
	PCKNotAfter  time.Time
	FMSPC        [6]byte
	PCEID        [2]byte
	PCKTCB       PCKTCB

	// Root is the pinned root the PCK chain verified to (nil when it did
	// not); Chain is the verified path, PCK certificate first.
	Root  *Root
	Chain []*x509.Certificate
}

// Result is the outcome of Verify.
type Result struct {
	Verdict  Verdict
	Facts    Facts
	Failures []*Failure
	// At is the time validity was checked at.
	At time.Time
}

// Failed reports whether check c failed.
func (r *Result) Failed(c Check) bool {
	for _, f := range r.Failures {
		if f.Check == c {
			return true
		}
	}
	return false
}

// Drill reports whether the chain verified to a DRILL root.
func (r *Result) Drill() bool { return r.Facts.Root != nil && r.Facts.Root.Drill() }

// Reason is a one-line summary of what failed ("" when genuine).
func (r *Result) Reason() string {
	var parts []string
	for _, f := range r.Failures {
		parts = append(parts, f.Error())
	}
	return strings.Join(parts, "; ")
}

func (r *Result) fail(c Check, format string, args ...any) {
	r.Failures = append(r.Failures, &Failure{Check: c, Detail: fmt.Sprintf(format, args...)})
}

// verdict derives the verdict from the failures, and puts a missing or
// malformed attestation first among them: it is the headline.
func (r *Result) verdict() Verdict {
	sort.SliceStable(r.Failures, func(i, j int) bool {
		return headline(r.Failures[i].Check) && !headline(r.Failures[j].Check)
	})
	v := Genuine
	for _, f := range r.Failures {
		switch f.Check {
		case CheckExtension:
			return Unattested
		case CheckFormat:
			return Malformed
		case CheckCertValidity, CheckPCKValidity:
			if v == Genuine {
				v = Stale
			}
		default:
			v = Failed
		}
	}
	return v
}

func headline(c Check) bool { return c == CheckExtension || c == CheckFormat }

// HasAttestation reports whether cert carries the attestation extension.
func HasAttestation(cert *x509.Certificate) bool {
	_, ok := extensionValue(cert)
	return ok
}

func extensionValue(cert *x509.Certificate) ([]byte, bool) {
	for _, e := range cert.Extensions {
		if e.Id.Equal(OIDAttestation) {
			return e.Value, true
		}
	}
	return nil, false
}
