package gui

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/custodian-hsm/custodian/crypto/sgx"
	"github.com/custodian-hsm/custodian/crypto/sgx/quotegen"
	"github.com/custodian-hsm/custodian/internal/testvectors"
)

// A production recovery refuses a forged exchange key (the live quote on
// another key) at the load step: the confirm step never comes, so no share
// can be opened and nothing is written. With the unattested vector key the
// witness's exception lets it go on.
func TestRecoveryRefusesForgedExchangeKey(t *testing.T) {
	live, err := x509.ParseCertificate(testvectors.Read(t, "live-2025-04", "exchange.der"))
	if err != nil {
		t.Fatal(err)
	}
	var ext []byte
	for _, e := range live.Extensions {
		if e.Id.Equal(sgx.OIDAttestation) {
			ext = e.Value
		}
	}
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, err := quotegen.ExchangeCertificate(rand.Reader, k, quotegen.CertSpec{CommonName: "forged", NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0), Extension: ext})
	if err != nil {
		t.Fatal(err)
	}
	forged := filepath.Join(t.TempDir(), "forged.cer")
	os.WriteFile(forged, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)

	h := newHarness(t)
	h.tap("Start recovery")
	h.waitShows("Recovery — set-up")
	h.typeInto("Managed HSM name", "contoso-hsm")
	h.typeInto("ceremony identifier", "contoso-hsm-recovery-forged")
	h.typeInto("witness's full name", "Wendy Witness")
	h.tap("Start the recovery")
	h.waitShows("Air-gap findings")
	h.tap("Witness: I have read the findings")
	h.waitShows("Recovery — load the files")
	h.typeInto("security domain file", testvectors.Path(t, "sd-3of2", "sd.json"))
	h.typeInto("exchange key from init-recovery", forged)
	h.tap("Load both files")
	h.waitShows("report data binds the certificate's key")
	if h.shows("Recovery — confirm the exchange key") {
		t.Fatal("a forged exchange key reached the confirm step")
	}
	h.typeInto("exchange key from init-recovery", testvectors.Path(t, "sd-3of2", "exchange.cer"))
	h.tap("Load both files")
	h.waitShows("no SGX attestation")
	h.typeInto("only if the exchange key's attestation fails", "vector key from no HSM; approved by Wendy Witness")
	h.tap("Load both files")
	h.waitShows("Recovery — confirm the exchange key")
	// Beside the fingerprint: the verdict in words, the exception, and the
	// facts one click away.
	h.waitShows("Is the new HSM genuine?")
	h.waitShows("NOT attested")
	h.waitShows("accepted by exception: vector key from no HSM; approved by Wendy Witness")
	h.tap("Details of the attestation")
	h.waitShows("attestation extension present")
}
