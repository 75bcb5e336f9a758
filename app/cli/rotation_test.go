package cli

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/ceremony/transcript"
	"github.com/custodian-hsm/custodian/crypto/drillhsm"
)

func drillKeys(t *testing.T, dir string, n int) ([]string, []*x509.Certificate) {
	t.Helper()
	mustRun(t, "drill", "keys", "--dir", dir, "--count", fmt.Sprint(n))
	var paths []string
	var certs []*x509.Certificate
	for i := 0; i < n; i++ {
		p := filepath.Join(dir, fmt.Sprintf("cert_%d.cer", i))
		block, _ := pem.Decode(mustRead(t, p))
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		paths, certs = append(paths, p), append(certs, c)
	}
	return paths, certs
}

// A rotation step by step through the CLI: package for the new set, the
// re-downloaded SD checked and compared, the old keys retired after the
// check only.
func TestRotationThroughTheCLI(t *testing.T) {
	dir := t.TempDir()
	oldDir, newDir := filepath.Join(dir, "old"), filepath.Join(dir, "new")
	_, oldCerts := drillKeys(t, oldDir, 3)
	newPaths, newCerts := drillKeys(t, newDir, 4)
	var old []*ceremony.Custodian
	for i, c := range oldCerts {
		old = append(old, &ceremony.Custodian{Index: i, Name: fmt.Sprintf("Old %d", i+1), Certificate: c})
	}
	oldPkg, err := ceremony.WriteOperatorPackage(filepath.Join(dir, "old-package"), ceremony.Drill, "OLD-1", "test-hsm", 2, old, "test")
	if err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(oldPkg.Dir, "DRILL-manifest.json")
	h, err := drillhsm.Create(filepath.Join(dir, "hsm"))
	if err != nil {
		t.Fatal(err)
	}
	oldSD, err := h.Activate(oldCerts, 2, drillhsm.ActivateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	oldSDPath := filepath.Join(dir, "old-sd.json")
	os.WriteFile(oldSDPath, oldSD, 0o600)

	args := []string{"rotation", "package", "--drill", "--old-manifest", manifest, "--quorum", "3", "--out-dir", filepath.Join(dir, "rot-package")}
	for _, p := range newPaths {
		args = append(args, "--cert", p)
	}
	if out := mustRun(t, args...); !strings.Contains(out, "DRILL-SHA256SUMS") || !strings.Contains(out, "final digest: ") {
		t.Errorf("package:\n%s", out)
	}

	newSD, err := h.Redownload(newCerts, 3)
	if err != nil {
		t.Fatal(err)
	}
	checkDir := filepath.Join(dir, "check")
	os.Mkdir(checkDir, 0o700)
	newSDPath := filepath.Join(checkDir, "new-sd.json")
	os.WriteFile(newSDPath, newSD, 0o600)
	check := []string{"rotation", "check", "--drill", "--old-manifest", manifest, "--sd-file", newSDPath, "--old-sd", oldSDPath,
		"--old-key", "file:" + filepath.Join(oldDir, "cert_0.key"), "--old-key", "file:" + filepath.Join(oldDir, "cert_2.key")}
	for i, p := range newPaths {
		check = append(check, "--cert", p, "--key", "file:"+filepath.Join(newDir, fmt.Sprintf("cert_%d.key", i)))
	}
	out := mustRun(t, check...)
	if !strings.HasPrefix(out, "mode: DRILL") {
		t.Errorf("rotation check does not say its mode on its first line:\n%s", out)
	}
	if !strings.Contains(out, "same master key") || !strings.Contains(out, "the new quorum of 3 recovers") || !strings.Contains(out, "old key of Old 2") {
		t.Errorf("check:\n%s", out)
	}
	matches, _ := filepath.Glob(filepath.Join(checkDir, "DRILL-custodian-rotation-check-*-transcript.jsonl"))
	if len(matches) != 1 {
		t.Fatalf("check transcripts %v", matches)
	}
	checked := matches[0]
	if v, err := transcript.VerifyFile(checked); err != nil || !v.OK() || v.Ending() != "completed" {
		t.Fatalf("check transcript: %s %v", v.Summary(), err)
	}

	// Retiring against an altered check transcript is refused.
	forged := filepath.Join(dir, "forged.jsonl")
	os.WriteFile(forged, bytes.Replace(mustRead(t, checked), []byte("same master key"), []byte("SAME master key"), 1), 0o600)
	retire := []string{"rotation", "retire", "--drill", "--old-manifest", manifest, "--custodian", "Old 1", "--custodian", "old 3", "--method", "3", "--witness", "Wendy"}
	if _, errOut, code := run(t, append(retire, "--checked", forged, "--transcript", filepath.Join(dir, "r0.jsonl"))...); code != 1 || !strings.Contains(errOut, "does not verify") {
		t.Errorf("retire with a forged check: exit %d %s", code, errOut)
	}
	out = mustRun(t, append(retire, "--checked", checked, "--transcript", filepath.Join(dir, "r1.jsonl"))...)
	if strings.Count(out, "retired: the old key of") != 2 {
		t.Errorf("retire:\n%s", out)
	}
	v, err := transcript.VerifyFile(filepath.Join(dir, "r1.jsonl"))
	if err != nil || !v.OK() || v.Entries[2].Step != "rotation.retire" || !strings.Contains(v.Entries[3].Decision, "Old 3") {
		t.Errorf("retire transcript: %s %v", v.Summary(), err)
	}

	// A new SD for other certificates fails the check and says so.
	otherSD, err := h.Redownload(newCerts[:3], 2)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(checkDir, "other-sd.json")
	os.WriteFile(other, otherSD, 0o600)
	check[6] = other
	if _, errOut, code := run(t, check...); code != 1 || !strings.Contains(errOut, "ended: cancelled") {
		t.Errorf("check of a wrong SD: exit %d %s", code, errOut)
	}
}
