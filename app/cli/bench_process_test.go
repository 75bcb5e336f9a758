package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BenchmarkRestoreBlobProcess times `custodian sd restore-blob` for N = M =
// 10 software keys as a whole process (start-up included), the way a
// script runs it: a benchmark to read, not a timed test. The "full" binary
// links the GUI, "nogui" is built with -tags nogui. Outputs go to the
// benchmark's temporary folder (tmpfs where /tmp is one).
func BenchmarkRestoreBlobProcess(b *testing.B) {
	for _, variant := range []struct{ name, tag string }{{"full", ""}, {"nogui", "nogui"}} {
		b.Run(variant.name, func(b *testing.B) {
			var bin string
			if variant.tag == "" {
				bin = buildCustodian(b)
			} else {
				bin = buildCustodian(b, variant.tag)
			}
			dir := b.TempDir()
			run := func(args ...string) {
				if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
					b.Fatalf("custodian %v: %v\n%s", args, err, out)
				}
			}
			run("drill", "keys", "--dir", filepath.Join(dir, "k"), "--count", "10")
			activate := []string{"drill", "hsm", "activate", "--hsm-dir", filepath.Join(dir, "h"), "--quorum", "10", "--out", filepath.Join(dir, "sd.json")}
			for i := 0; i < 10; i++ {
				activate = append(activate, filepath.Join(dir, "k", fmt.Sprintf("cert_%d.cer", i)))
			}
			run(activate...)
			run("drill", "hsm", "init-recovery", "--hsm-dir", filepath.Join(dir, "h"), "--out", filepath.Join(dir, "ex.cer"))
			pemBytes, err := os.ReadFile(filepath.Join(dir, "ex.cer"))
			if err != nil {
				b.Fatal(err)
			}
			block, _ := pem.Decode(pemBytes)
			if block == nil {
				b.Fatal("the drill exchange key is not PEM")
			}
			sum := sha256.Sum256(block.Bytes)
			// The flags a non-interactive run needs: the drill HSM's
			// exchange key has no SGX attestation, and its fingerprint is
			// confirmed by flag instead of on a terminal.
			args := []string{"sd", "restore-blob", "--sd-file", filepath.Join(dir, "sd.json"), "--sd-exchange-key", filepath.Join(dir, "ex.cer"),
				"--accept-unattested-exchange-key=drill HSM exchange key in a benchmark; approved by the benchmark",
				"--exchange-key-sha256", hex.EncodeToString(sum[:])}
			for i := 0; i < 10; i++ {
				args = append(args, "--key", "file:"+filepath.Join(dir, "k", fmt.Sprintf("cert_%d.key", i)))
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// A new folder each time: the blob's SHA256SUMS (and
				// transcript) are written next to it, never overwritten.
				b.StopTimer()
				outDir := filepath.Join(dir, fmt.Sprintf("out-%d", i))
				if err := os.Mkdir(outDir, 0o700); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				run(append(args, "--out", filepath.Join(outDir, "b.json"))...)
			}
		})
	}
}
