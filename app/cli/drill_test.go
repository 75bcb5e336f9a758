package cli

import (
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/custodian-hsm/custodian/crypto/drillhsm"
	"github.com/custodian-hsm/custodian/internal/testvectors"
)

// The shared vectors' blob.json, uploaded through the CLI to a drill HSM that
// holds the vectors' security domain, restores it: the CLI's acceptance is the
// drill HSM's, byte for byte on what Azure would receive.
func TestDrillHSMUploadAcceptsTheVectorBlob(t *testing.T) {
	var exp struct {
		ContentsHex map[string]string `json:"contents_hex"`
	}
	if err := json.Unmarshal(testvectors.Read(t, "sd-3of2", "expected.json"), &exp); err != nil {
		t.Fatal(err)
	}
	contents := map[string][]byte{}
	for tag, h := range exp.ContentsHex {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		contents[tag] = b
	}
	dir := filepath.Join(t.TempDir(), "hsm")
	if _, err := drillhsm.Import(dir, testvectors.Read(t, "sd-3of2", "sd.json"),
		testvectors.Read(t, "sd-3of2", "exchange.cer"), testvectors.Read(t, "sd-3of2", "exchange.key"), contents); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := run(t, "drill", "hsm", "upload", "--hsm-dir", dir, "--blob", vec(t, "blob.json")); code != 0 {
		t.Fatalf("upload of the vector blob: exit %d: %s", code, errOut)
	}
	// A blob that is not a restore blob is refused with exit 1 (the operation ran).
	if _, errOut, code := run(t, "drill", "hsm", "upload", "--hsm-dir", dir, "--blob", vec(t, "sd.json")); code != 1 {
		t.Errorf("upload of the SD file as a blob: exit %d: %s", code, errOut)
	}
}
