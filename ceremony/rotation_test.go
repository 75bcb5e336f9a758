package ceremony

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/crypto/token"
)

// A rotation enrolls a new set, verifies the re-downloaded SD and proves
// its quorum, and only then retires the old keys with destruction records.
func TestRotationRetiresOldKeysOnlyAfterTheNewSDIsProven(t *testing.T) {
	rec := &MemoryRecorder{}
	old, _, _, _ := activationWithSoftKeys(t, 3, 2, &MemoryRecorder{})
	manifestPath := filepath.Join(old.Package().Dir, "DRILL-manifest.json")
	data, err := os.ReadFile(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	oldManifest, err := ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	tokens := newSoftDrillTokens(dir)
	if _, err := NewRotation(ActivationConfig{Mode: Drill, HSMName: "other-hsm", CeremonyID: "ROT", Custodians: 4, Quorum: 3, Witness: "Wendy"}, oldManifest, tokens.Manager(), rec); err == nil {
		t.Error("a rotation accepted another HSM's manifest")
	}
	r, err := NewRotation(ActivationConfig{Mode: Drill, HSMName: "test-hsm", CeremonyID: "ROT", Custodians: 4, Quorum: 3, Witness: "Wendy"}, oldManifest, tokens.Manager(), rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Retire(0, DestructionMethods[0], "Wendy"); err == nil {
		t.Fatal("an old key was retired before the new security domain was proven")
	}
	for i := 0; i < 4; i++ {
		if _, err := r.Enroll(context.Background(), "New "+string(rune('A'+i)), tokens.Ref(i), token.EnrollRequest{}, tokens.Options(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.WritePackage(filepath.Join(dir, "pkg")); err != nil {
		t.Fatal(err)
	}
	session := &DrillSession{Dir: dir, Tokens: tokens}
	hsm := newTestHSM(t)
	session.HSM = hsm
	name, sdBytes, err := session.OperatorActivate(r.Activation, drillActivateDefaults())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.LoadSD(name, sdBytes); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if err := r.SelfTest(context.Background(), i, tokens.Options(i)); err != nil {
			t.Fatal(err)
		}
	}
	// An old key that cannot be opened is named, with its place in the
	// list, so that a front-end can ask that custodian (last PIN try)
	// and compare again.
	missing := filepath.Join(dir, "no-such-old-key.pem")
	_, err = r.CompareWithOld(context.Background(), name, sdBytes, []OldKey{
		{Name: "Old A", Ref: tokens.Ref(0), Opts: tokens.Options(0)},
		{Name: "Old B", Ref: "file:" + missing},
	})
	var oe *OldKeyError
	if !errors.As(err, &oe) || oe.Index != 1 || oe.Name != "Old B" || !strings.Contains(err.Error(), "old custodian Old B: ") {
		t.Fatalf("an old key that does not open: %v (%#v)", err, oe)
	}
	if err := r.ProveQuorum(); err != nil {
		t.Fatal(err)
	}
	if len(r.Pending()) != 3 {
		t.Fatalf("pending %v", r.Pending())
	}
	if err := r.Retire(1, "", "Wendy"); err == nil {
		t.Error("a destruction record without a method")
	}
	for i := 0; i < 3; i++ {
		if err := r.Retire(i, DestructionMethods[i%len(DestructionMethods)], "Wendy"); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Retire(0, DestructionMethods[0], "Wendy"); err == nil {
		t.Error("an old key retired twice")
	}
	if len(r.Pending()) != 0 {
		t.Errorf("pending after retiring all: %v", r.Pending())
	}
	var retired int
	for _, e := range rec.Events {
		if e.Step == "rotation.retire" {
			retired++
			if len(e.Inputs) != 1 || e.Inputs[0].SHA256 == "" || !strings.Contains(e.Decision, "retired") {
				t.Errorf("destruction record %+v", e)
			}
		}
	}
	if retired != 3 || rec.Events[0].Step != "rotation.start" {
		t.Errorf("record: %v", rec.Steps())
	}
}
