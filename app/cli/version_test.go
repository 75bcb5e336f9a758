package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/crypto/fingerprint"
)

// `custodian version` names the bytes that run: its hash is the running
// executable's SHA-256 (the test binary here), and its words spell it.
func TestVersionPrintsTheRunningBinarysHash(t *testing.T) {
	out, errOut, code := run(t, "version")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	fields := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(line, " ")
		fields[k] = strings.TrimSpace(v)
	}
	if fields["sha256"] != hex.EncodeToString(sum[:]) {
		t.Errorf("sha256 %q, want %x", fields["sha256"], sum)
	}
	if want := fingerprint.Fingerprint(sum).WordString(); fields["words"] != want {
		t.Errorf("words %q, want %q", fields["words"], want)
	}
	if fields["toolchain"] != runtime.Version() {
		t.Errorf("toolchain %q, want %q", fields["toolchain"], runtime.Version())
	}
	for _, k := range []string{"custodian", "commit"} {
		if fields[k] == "" {
			t.Errorf("no %s line in:\n%s", k, out)
		}
	}
}

func TestVersionRefusesArguments(t *testing.T) {
	_, errOut, code := run(t, "version", "extra")
	if code != 2 || !strings.Contains(errOut, "custodian: ") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}
