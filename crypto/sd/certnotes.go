package sd

import (
	"crypto/x509"
	"fmt"
	"time"
)

// CertificateNoteKind is something about a custodian certificate that Azure
// does not check but that the people at a ceremony should see.
//
// Azure uses only a custodian certificate's public key: the live HSM of
// the contract's vectors accepted, in 2025, custodian certificates that
// expired in 2021 and are CA certificates (what `openssl req -x509` makes
// with its default configuration, as Microsoft's instructions run it). So
// none of these is refused; each is said, because it can also mean the
// wrong file was picked (an issuing CA's certificate, an old key).
type CertificateNoteKind int

const (
	// CertExpired: the certificate's validity ended before the ceremony's clock.
	CertExpired CertificateNoteKind = iota + 1
	// CertNotYetValid: its validity starts after the ceremony's clock.
	CertNotYetValid
	// CertIsCA: basic constraints say CA:TRUE.
	CertIsCA
)

// CertificateNote is one such fact, with the sentence to show.
type CertificateNote struct {
	Kind     CertificateNoteKind
	Sentence string
}

// CustodianCertificateNotes returns what a ceremony should be told about a
// custodian certificate, checked at the ceremony's clock at: nothing for a
// certificate Custodian issued, whose validity is 30 years and which is not
// a CA.
func CustodianCertificateNotes(cert *x509.Certificate, at time.Time) []CertificateNote {
	const day = "2006-01-02"
	var notes []CertificateNote
	switch {
	case at.After(cert.NotAfter):
		notes = append(notes, CertificateNote{CertExpired, fmt.Sprintf(
			"it expired on %s. Azure does not check a custodian certificate's dates and still uses its key, so it works; check that it is this custodian's current key",
			cert.NotAfter.UTC().Format(day))})
	case at.Before(cert.NotBefore):
		notes = append(notes, CertificateNote{CertNotYetValid, fmt.Sprintf(
			"it is valid only from %s, after this machine's clock (%s): check the clock of the machine that made it, and this one's",
			cert.NotBefore.UTC().Format(day), at.UTC().Format(day))})
	}
	if cert.BasicConstraintsValid && cert.IsCA {
		notes = append(notes, CertificateNote{CertIsCA,
			"it is a CA certificate (basic constraints CA:TRUE), as `openssl req -x509` makes by default. Azure uses only its key; check that it is the custodian's own certificate, not an issuing CA's"})
	}
	return notes
}
