package ceremony

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/crypto/token/soft"
)

func TestRejectedSetUpWritesNothingAndCanBeRetried(t *testing.T) {
	dir := t.TempDir()
	tokens := token.NewManager(soft.New())
	bad := ActivationConfig{Mode: Production, HSMName: "contoso hsm", CeremonyID: "C-1", Custodians: 3, Quorum: 2, Witness: "W"}
	if _, err := StartActivation(dir, bad, tokens); err == nil || !strings.Contains(err.Error(), "not an Azure resource name") {
		t.Fatalf("typo accepted: %v", err)
	}
	noWitness := RecoveryConfig{Mode: Production, HSMName: "contoso-hsm", CeremonyID: "C-1"}
	if _, err := StartRecovery(dir, noWitness, tokens); err == nil {
		t.Fatal("a recovery without a witness was accepted")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a rejected set-up wrote %v", entries)
	}
	good := bad
	good.HSMName = "contoso-hsm"
	a, err := StartActivation(dir, good, tokens)
	if err != nil {
		t.Fatalf("the corrected set-up with the same ceremony id: %v", err)
	}
	a.Cancel("W", "test")
	if _, err := StartActivation(dir, good, tokens); err == nil || !strings.Contains(err.Error(), "already has a transcript") {
		t.Errorf("a second ceremony with the same id: %v", err)
	}
}

// sha256sumCheck runs `sha256sum -c` on a folder's list, as the operator
// is told to.
func sha256sumCheck(t *testing.T, dir, sums string) {
	t.Helper()
	if _, err := exec.LookPath("sha256sum"); err != nil {
		t.Skip("sha256sum not installed")
	}
	cmd := exec.Command("sha256sum", "-c", sums)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Count(string(out), ": OK") < 2 {
		t.Errorf("sha256sum -c %s in %s: %v\n%s", sums, dir, err, out)
	}
}

func TestOperatorFoldersCarryTheirChecksums(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "drill")
	if _, err := RunDrill(t.Context(), DrillConfig{Custodians: 3, Quorum: 2, Dir: dir}); err != nil {
		t.Fatal(err)
	}
	pkg := filepath.Join(dir, "DRILL-operator-package")
	sums, _ := os.ReadFile(filepath.Join(pkg, "DRILL-SHA256SUMS"))
	for _, name := range []string{"DRILL-cert_0.cer", "DRILL-cert_2.cer", "DRILL-manifest.json", "DRILL-INSTRUCTIONS.txt"} {
		if !strings.Contains(string(sums), "  "+name+"\n") {
			t.Errorf("the operator package's checksums lack %s:\n%s", name, sums)
		}
	}
	sha256sumCheck(t, pkg, "DRILL-SHA256SUMS")
	instr, _ := os.ReadFile(filepath.Join(pkg, "DRILL-INSTRUCTIONS.txt"))
	if !strings.Contains(string(instr), "cd DRILL-operator-package && sha256sum -c DRILL-SHA256SUMS") {
		t.Errorf("the instructions do not give the command:\n%s", instr)
	}
	restore := filepath.Join(dir, "DRILL-restore")
	sha256sumCheck(t, restore, "DRILL-SHA256SUMS")
	upload, _ := os.ReadFile(filepath.Join(restore, "DRILL-UPLOAD-INSTRUCTIONS.txt"))
	if !strings.Contains(string(upload), "cd DRILL-restore && sha256sum -c DRILL-SHA256SUMS") {
		t.Errorf("the upload instructions do not give the command:\n%s", upload)
	}
}
