package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// BenchmarkRestoreBlobProcess times `custodian sd restore-blob` for N = M =
// 10 software keys as a whole process (start-up included), the way a
// script runs it: a benchmark to read, not a timed test. The "full" binary
// links the GUI, "nogui" is built with -tags nogui; both are built with
// the release's -trimpath -ldflags "-s -w", because the size of the binary
// is part of the cost (every transcript opens with the binary's SHA-256).
// Inputs and outputs go to a tmpfs (see benchDir). Besides the wall time it
// reports cpu-ms/op, the child's user + system time, which other work on
// the machine disturbs far less than the wall time.
func BenchmarkRestoreBlobProcess(b *testing.B) {
	for _, variant := range []struct{ name, tag string }{{"full", ""}, {"nogui", "nogui"}} {
		b.Run(variant.name, func(b *testing.B) {
			bin := buildRelease(b, variant.tag)
			dir := benchDir(b)
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
			var cpu time.Duration
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
				cmd := exec.Command(bin, append(args, "--out", filepath.Join(outDir, "b.json"))...)
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("custodian sd restore-blob: %v\n%s", err, out)
				}
				cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			}
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
}

// BenchmarkProcessStart times `custodian help` as a whole process, built
// as BenchmarkRestoreBlobProcess builds it: what every command costs before
// it does any work (the Go runtime's start, every linked package's init,
// the identity hash started beside them). It is the floor under
// BenchmarkRestoreBlobProcess, read beside it: the GUI toolkit's package
// initialisation runs in every process of the default build, with or
// without a window.
func BenchmarkProcessStart(b *testing.B) {
	for _, variant := range []struct{ name, tag string }{{"full", ""}, {"nogui", "nogui"}} {
		b.Run(variant.name, func(b *testing.B) {
			bin := buildRelease(b, variant.tag)
			var cpu time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				cmd := exec.Command(bin, "help")
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("custodian help: %v\n%s", err, out)
				}
				cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			}
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
}

// buildRelease builds the binary as the release does (-trimpath, no symbol
// table or DWARF), with the build tag if not empty.
func buildRelease(b *testing.B, tag string) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "custodian")
	args := []string{"build", "-trimpath", "-ldflags", "-s -w", "-o", bin}
	if tag != "" {
		args = append(args, "-tags", tag)
	}
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), append(args, "github.com/custodian-hsm/custodian")...)
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building the binary: %v\n%s", err, out)
	}
	return bin
}

// benchDir is a new folder on a tmpfs, as the issue measures: $CUSTODIAN_BENCH_DIR
// if set, else /dev/shm when it is a tmpfs, else the test's temporary folder
// (said in the log: an fsync on a disk costs far more wall time than on a tmpfs).
func benchDir(b *testing.B) string {
	b.Helper()
	parent := os.Getenv("CUSTODIAN_BENCH_DIR")
	if parent == "" {
		var st syscall.Statfs_t
		if err := syscall.Statfs("/dev/shm", &st); err == nil && st.Type == tmpfsMagic {
			parent = "/dev/shm"
		}
	}
	if parent == "" {
		b.Log("no tmpfs found (set CUSTODIAN_BENCH_DIR): outputs go to the test's temporary folder")
		return b.TempDir()
	}
	dir, err := os.MkdirTemp(parent, "custodian-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// tmpfsMagic is TMPFS_MAGIC from linux/magic.h.
const tmpfsMagic = 0x01021994
