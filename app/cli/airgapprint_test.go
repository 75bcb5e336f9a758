package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/ceremony/airgap"
)

// A production restore-blob prints the air-gap findings on the terminal
// and its transcript says they were printed (not "shown to witness").
func TestRestoreBlobPrintsTheAirGapFindings(t *testing.T) {
	if airgap.Live().Check().Clean() {
		t.Skip("this machine has no air-gap findings to print")
	}
	dir := t.TempDir()
	args := []string{"sd", "restore-blob", "--sd-file", vec(t, "sd.json"), "--sd-exchange-key", vec(t, "exchange.cer"), acceptVectorKey,
		"--key", "file:" + vec(t, "keys", "cert_0.key"), "--key", "file:" + vec(t, "keys", "cert_1.key"), "--out", filepath.Join(dir, "blob.json"),
		"--exchange-key-sha256", exchangeSHA(t).Hex(), "--witness", "Wendy Witness"}
	_, errOut, code := run(t, args...)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "AIR GAP:") {
		t.Errorf("the findings were not printed:\n%s", errOut)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "*transcript.jsonl"))
	if len(matches) != 1 {
		t.Fatalf("transcripts: %v", matches)
	}
	data, _ := os.ReadFile(matches[0])
	if !strings.Contains(string(data), "printed on the terminal for witness") {
		t.Errorf("the transcript does not say the findings were printed:\n%s", data)
	}
}
