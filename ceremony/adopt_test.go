package ceremony

import (
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/internal/testvectors"
)

// A custodian certificate made outside Custodian (the live HSM's: openssl's
// default, a CA certificate, expired in 2021) is adopted, as Azure would
// accept it, and the record says both facts.
func TestAdoptRecordsWhatAzureDoesNotCheck(t *testing.T) {
	rec := &MemoryRecorder{}
	a, err := NewActivation(ActivationConfig{Mode: Production, HSMName: "h", CeremonyID: "T", Custodians: 3, Quorum: 2, Witness: "W"}, token.NewManager(), rec)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := sd.ParseCertificate(testvectors.Read(t, "live-2025-04", "cert_0.cer"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Adopt("Alice", "", cert); err != nil {
		t.Fatal(err)
	}
	last := rec.Events[len(rec.Events)-1]
	if last.Step != "activation.enroll.adopted" {
		t.Fatalf("last event %q", last.Step)
	}
	for _, want := range []string{"note: it expired on 2021-08-28", "note: it is a CA certificate (basic constraints CA:TRUE)"} {
		if !strings.Contains(last.Message, want) {
			t.Errorf("the adopted entry lacks %q: %q", want, last.Message)
		}
	}
}
