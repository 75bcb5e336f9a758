package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/ceremony/airgap"
)

// fakeSystem lays out a /sys and /proc the way the kernel does.
func fakeSystem(t *testing.T, uid int, files map[string]string) airgap.System {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return airgap.System{Root: root, UID: uid}
}

func runAirgap(t *testing.T, sys airgap.System) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := airgapCheck(&Env{Stdout: &out, Stderr: &errOut}, sys)
	if err != nil {
		errOut.WriteString("custodian: " + err.Error() + "\n")
	}
	return out.String(), errOut.String(), ExitCode(err)
}

func TestAirgapCheckCleanMachineExitsZero(t *testing.T) {
	sys := fakeSystem(t, 1000, map[string]string{
		"sys/class/net/lo/operstate": "unknown\n",
		"sys/class/net/lo/flags":     "0x9\n",
		"proc/swaps":                 "Filename\tType\tSize\tUsed\tPriority\n",
	})
	out, errOut, code := runAirgap(t, sys)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if strings.Contains(out, "FINDING") || !strings.Contains(out, "ok       swap") {
		t.Errorf("output:\n%s", out)
	}
}

func TestAirgapCheckFindingsExitOne(t *testing.T) {
	sys := fakeSystem(t, 0, map[string]string{
		"sys/class/net/lo/operstate":   "unknown\n",
		"sys/class/net/eth0/operstate": "up\n",
		"proc/swaps":                   "Filename\tType\tSize\tUsed\tPriority\n/dev/sda2 partition\t999420\t0\t-2\n",
	})
	out, errOut, code := runAirgap(t, sys)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{"FINDING  network    network interface(s) up: eth0", "FINDING  swap", "FINDING  root"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "custodian: air gap: 3 finding(s)") {
		t.Errorf("last stderr line %q", last)
	}
}

func TestAirgapCheckRefusesArguments(t *testing.T) {
	if _, _, code := run(t, "airgap", "check", "now"); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
}
