package sd

import (
	"strings"
	"testing"
	"time"

	"github.com/custodian-hsm/custodian/internal/testvectors"
)

func noteKinds(notes []CertificateNote) []CertificateNoteKind {
	var kinds []CertificateNoteKind
	for _, n := range notes {
		kinds = append(kinds, n.Kind)
	}
	return kinds
}

// The live HSM's custodian certificates, which it accepted in 2025, were
// made by `openssl req -x509`: CA certificates, expired in 2021. Both facts
// are said, neither refuses the certificate.
func TestCustodianCertificateNotesOfTheLiveCertificates(t *testing.T) {
	cert, err := ParseCertificate(testvectors.Read(t, "live-2025-04", "cert_0.cer"))
	if err != nil {
		t.Fatal(err)
	}
	notes := CustodianCertificateNotes(cert, time.Date(2025, 4, 23, 0, 0, 0, 0, time.UTC))
	if k := noteKinds(notes); len(k) != 2 || k[0] != CertExpired || k[1] != CertIsCA {
		t.Fatalf("notes %v, want expired and CA", notes)
	}
	if !strings.Contains(notes[0].Sentence, "expired on 2021-08-28") || !strings.Contains(notes[0].Sentence, "Azure does not check") {
		t.Errorf("expired: %q", notes[0].Sentence)
	}
	if !strings.Contains(notes[1].Sentence, "CA:TRUE") || !strings.Contains(notes[1].Sentence, "not an issuing CA's") {
		t.Errorf("CA: %q", notes[1].Sentence)
	}
}

// A certificate Custodian issued (30 years, not a CA) has nothing to say
// inside its validity, and is "not yet valid" before it.
func TestCustodianCertificateNotesOfOurOwnCertificate(t *testing.T) {
	cert, err := ParseCertificate(testvectors.Read(t, "sd-3of2", "keys", "cert_0.cer"))
	if err != nil {
		t.Fatal(err)
	}
	if notes := CustodianCertificateNotes(cert, cert.NotBefore.Add(24*time.Hour)); len(notes) != 0 {
		t.Errorf("inside its validity: %v", notes)
	}
	if notes := CustodianCertificateNotes(cert, cert.NotAfter.Add(time.Second)); len(notes) != 1 || notes[0].Kind != CertExpired {
		t.Errorf("a second after its validity: %v", notes)
	}
	before := cert.NotBefore.Add(-48 * time.Hour)
	notes := CustodianCertificateNotes(cert, before)
	if len(notes) != 1 || notes[0].Kind != CertNotYetValid || !strings.Contains(notes[0].Sentence, "valid only from "+cert.NotBefore.UTC().Format("2006-01-02")) ||
		!strings.Contains(notes[0].Sentence, before.UTC().Format("2006-01-02")) {
		t.Errorf("before its validity: %v", notes)
	}
}
