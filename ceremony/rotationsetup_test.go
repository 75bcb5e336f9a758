package ceremony

import (
	"errors"
	"os"
	"testing"
)

func manifestOf(mode Mode) *Manifest {
	return &Manifest{Kind: ManifestKind, Mode: mode.String(), CeremonyID: "contoso-hsm-2026", HSMName: "contoso-hsm", Quorum: 2,
		Custodians: []ManifestCustodian{{Index: 0, ShareX: 1, Name: "Alice"}}}
}

// A rotation never takes the other mode's manifest, and a refused set-up
// writes nothing (no transcript).
func TestStartRotationRefusesTheOtherModesManifest(t *testing.T) {
	dir := t.TempDir()
	tokens := newSoftDrillTokens(t.TempDir()).Manager()
	cfg := ActivationConfig{Mode: Production, HSMName: "contoso-hsm", CeremonyID: "contoso-rot", Custodians: 3, Quorum: 2, Witness: "Wendy"}
	var mm *ModeMismatchError
	if _, err := StartRotation(dir, cfg, manifestOf(Drill), tokens); !errors.As(err, &mm) || mm.Got != Drill || mm.Want != Production {
		t.Errorf("a production rotation from a drill manifest: %v", err)
	}
	other := manifestOf(Production)
	other.HSMName = "fabrikam-hsm"
	if _, err := StartRotation(dir, cfg, other, tokens); err == nil {
		t.Error("a rotation started from another HSM's manifest")
	}
	weird := manifestOf(Production)
	weird.Mode = "drill" // not the one spelling Custodian writes
	if _, err := StartRotation(dir, cfg, weird, tokens); err == nil || errors.As(err, &mm) {
		t.Errorf("a manifest with mode %q: %v", weird.Mode, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("refused set-ups wrote %v", entries)
	}
	cfg.Mode = Drill
	if _, err := NewRotation(cfg, manifestOf(Production), tokens, &MemoryRecorder{}); !errors.As(err, &mm) || mm.Got != Production {
		t.Errorf("a drill rotation from a production manifest: %v", err)
	}
	cfg.Mode = Production
	r, err := StartRotation(dir, cfg, manifestOf(Production), tokens)
	if err != nil {
		t.Fatal(err)
	}
	if o, err := r.Abandon("test"); err != nil || o.Transcript == "" {
		t.Fatalf("abandoning the started rotation: %v %+v", err, o)
	}
	if _, err := StartRotation(dir, cfg, manifestOf(Production), tokens); err == nil {
		t.Error("a second rotation with the same identifier was started")
	}
}
