package gui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/internal/testvectors"
)

// The Verify screen's report on the live HSM's security domain against its
// own custodian certificates (openssl's: CA certificates, expired in 2021):
// the domain verifies, and each certificate's notes are said below it.
func TestVerifyReportNotesExpiredAndCACertificates(t *testing.T) {
	live := filepath.Join(testvectors.Dir(t), "live-2025-04")
	data, err := os.ReadFile(filepath.Join(live, "sd.json"))
	if err != nil {
		t.Fatal(err)
	}
	var certs []string
	for _, n := range []string{"cert_0.cer", "cert_1.cer", "cert_2.cer"} {
		certs = append(certs, filepath.Join(live, n))
	}
	report := sdReport(data, strings.Join(certs, "\n"), "2")
	if strings.Contains(report, "FAIL") {
		t.Fatalf("the live SD does not verify against its certificates:\n%s", report)
	}
	for _, n := range []string{"cert_0.cer", "cert_1.cer", "cert_2.cer"} {
		for _, want := range []string{"Note on " + n + ": it expired on", "Note on " + n + ": it is a CA certificate"} {
			if !strings.Contains(report, want) {
				t.Errorf("missing %q in\n%s", want, report)
			}
		}
	}
}
