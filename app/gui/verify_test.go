package gui

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/custodian-hsm/custodian/internal/testvectors"
)

// The Verify screen, given the live HSM's security domain and its own
// custodian certificates (openssl's: CA certificates, expired in 2021):
// the domain verifies, and each certificate's notes are said below the
// report, as Azure accepted them and a custodian should still hear it.
func TestVerifyScreenNotesExpiredAndCACertificates(t *testing.T) {
	h := newHarness(t)
	h.locked(func() { h.shell.verifyScreen() })
	h.typeInto("the file to check (SD file, exchange key, blob, certificate, transcript, SHA256SUMS)", testvectors.Path(t, "live-2025-04", "sd.json"))
	h.typeInto("quorum M (optional)", "2")
	certs := testvectors.Path(t, "live-2025-04", "cert_0.cer") + "\n" + testvectors.Path(t, "live-2025-04", "cert_1.cer") + "\n" + testvectors.Path(t, "live-2025-04", "cert_2.cer")
	h.typeInto("for an SD file: custodian certificate paths, one per line, in share order (optional)", certs)
	h.tap("Check")
	h.waitShows("verification passed")
	// Once per sentence, with the certificates it is true of.
	h.waitShows("Note on cert_0.cer, cert_1.cer, cert_2.cer: it expired on 2021-08-28")
	h.waitShows("Note on cert_0.cer, cert_1.cer, cert_2.cer: it is a CA certificate (basic constraints CA:TRUE)")
	if dir := os.Getenv("CUSTODIAN_TEST_CAPTURES"); dir != "" {
		f, err := os.Create(filepath.Join(dir, "verify-live-certificates.png"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := png.Encode(f, h.capture()); err != nil {
			t.Fatal(err)
		}
	}
}
