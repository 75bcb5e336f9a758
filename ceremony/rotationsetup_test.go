package ceremony

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/crypto/token"
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

// When the comparison finds the old and the new domains different (here
// the "new" file is another HSM's domain), no old key may be retired: it
// may be all that opens the HSM's real security domain.
func TestRotationRefusesRetiringWhenTheDomainsDiffer(t *testing.T) {
	old, _, oldSD, oldTokens := activationWithSoftKeys(t, 3, 2, &MemoryRecorder{})
	data, err := os.ReadFile(filepath.Join(old.Package().Dir, "DRILL-manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	oldManifest, err := ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tokens := newSoftDrillTokens(dir)
	rec := &MemoryRecorder{}
	r, err := NewRotation(ActivationConfig{Mode: Drill, HSMName: "test-hsm", CeremonyID: "ROT", Custodians: 3, Quorum: 2, Witness: "Wendy"}, oldManifest, tokens.Manager(), rec)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := r.Enroll(context.Background(), fmt.Sprintf("New %d", i+1), tokens.Ref(i), token.EnrollRequest{}, tokens.Options(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.WritePackage(filepath.Join(dir, "pkg")); err != nil {
		t.Fatal(err)
	}
	session := &DrillSession{Dir: dir, Tokens: tokens, HSM: newTestHSM(t)}
	name, sdBytes, err := session.OperatorActivate(r.Activation, drillActivateDefaults())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.LoadSD(name, sdBytes); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := r.SelfTest(context.Background(), i, tokens.Options(i)); err != nil {
			t.Fatal(err)
		}
	}
	var keys []OldKey
	for i := 0; i < 2; i++ {
		keys = append(keys, OldKey{Name: fmt.Sprintf("Custodian %c", 'A'+i), Ref: oldTokens.Ref(i), Opts: oldTokens.Options(i)})
	}
	c, err := r.CompareWithOld(context.Background(), oldManifest.SDFileName, oldSD, keys)
	if err != nil {
		t.Fatal(err)
	}
	if c.Same() || c.SameMasterKey {
		t.Fatalf("another HSM's domain compared the same: %s", c)
	}
	if err := r.ProveQuorum(); err != nil {
		t.Fatal(err)
	}
	if err := r.Retire(0, DestructionMethods[0], "Wendy"); err == nil || !strings.Contains(err.Error(), "do not retire") {
		t.Errorf("an old key was retired although the domains differ: %v", err)
	}
	if len(r.Pending()) != 3 {
		t.Errorf("pending %v", r.Pending())
	}
}
