package secret

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestBufferHoldsAndWipes(t *testing.T) {
	src := []byte("share bytes")
	b, err := Copy(src)
	if err != nil {
		t.Fatal(err)
	}
	if string(b.Bytes()) != "share bytes" {
		t.Fatalf("Bytes = %q", b.Bytes())
	}
	for _, c := range src {
		if c != 0 {
			t.Fatal("Copy did not wipe its source")
		}
	}
	if !b.Locked() && b.Why == "" {
		t.Error("unlocked memory without a reason")
	}
	view := b.Bytes()
	b.Wipe()
	b.Wipe() // idempotent
	if b.Bytes() != nil {
		t.Error("Bytes after Wipe")
	}
	_ = view // unmapped now: reading it would fault, which is the point
}

func TestWipeZeroes(t *testing.T) {
	b := []byte{1, 2, 3}
	Wipe(b)
	if b[0]|b[1]|b[2] != 0 {
		t.Error("not zeroed")
	}
}

// HardenProcess changes the process for good, so it runs in a child.
func TestHardenProcess(t *testing.T) {
	if os.Getenv("CUSTODIAN_HARDEN_CHILD") == "1" {
		r, err := HardenProcess()
		if err != nil {
			os.Stdout.WriteString("error: " + err.Error())
			os.Exit(1)
		}
		var lim unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_CORE, &lim)
		dumpable, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
		if lim.Cur != 0 || lim.Max != 0 || dumpable != 0 || !r.CoreDumpsDisabled || !r.NotDumpable {
			os.Stdout.WriteString("not hardened: " + r.String())
			os.Exit(1)
		}
		os.Stdout.WriteString("hardened")
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHardenProcess$")
	cmd.Env = append(os.Environ(), "CUSTODIAN_HARDEN_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "hardened") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}
