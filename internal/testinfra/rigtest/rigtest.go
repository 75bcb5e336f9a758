// Package rigtest starts the virtual-card rig (package rig) for a Go test:
// one call that skips the test when pcscd, vpcd or unshare are missing
// (fails under CI=true), closes the rig when the test ends and logs
// pcscd's last lines on failure.
//
// It is a package of its own because it imports "testing": the rig itself
// is linked into the drill build (virtual YubiKeys), which must not carry
// the testing package. Never import this package from non-test code.
package rigtest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/custodian-hsm/custodian/internal/testinfra/virtualpiv/rig"
)

// StartForTest starts a rig with n cards for a test and closes it when
// the test ends (t.Cleanup; Close may also be called earlier). Without
// pcscd, vpcd or unshare it skips the test, except under CI=true, where a
// missing component fails it. On failure pcscd's last lines are logged.
func StartForTest(t testing.TB, n int) *rig.Rig {
	t.Helper()
	return StartForTestWith(t, rig.Options{Cards: n})
}

// StartForTestWith is StartForTest with options.
func StartForTestWith(t testing.TB, opts rig.Options) *rig.Rig {
	t.Helper()
	if err := rig.AvailableWith(opts); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and the virtual-card rig cannot run: %v (install pcscd, vsmartcard-vpcd, util-linux)", err)
		}
		t.Skipf("virtual-card rig unavailable: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := rig.Start(ctx, opts)
	if err != nil {
		t.Fatalf("starting the virtual-card rig: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pcscd's last lines:\n%s", r.LogTail())
		}
		if err := r.Close(); err != nil {
			t.Errorf("closing the virtual-card rig: %v", err)
		}
	})
	return r
}

// OwnProcess runs the calling test again in a child process and reports
// its outcome there, returning true in the parent; it returns false in the
// child, which runs the test. libpcsclite binds a process to the first
// PC/SC socket it is given, and other tests of the package may already
// have talked to the machine's pcscd: a rig needs a process of its own.
// A test that the child skipped is skipped, and one that the child did not
// run fails.
func OwnProcess(t *testing.T) bool {
	t.Helper()
	if os.Getenv(ownProcessEnv) == t.Name() {
		return false
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), ownProcessEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s in its own process: %v\n%s", t.Name(), err, out)
	}
	if strings.Contains(string(out), "--- SKIP") {
		t.Skipf("skipped in its own process:\n%s", out)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("%s did not run in its own process:\n%s", t.Name(), out)
	}
	return true
}

// ownProcessEnv names, in the child, the test it is to run.
const ownProcessEnv = "CUSTODIAN_RIGTEST_CHILD"
