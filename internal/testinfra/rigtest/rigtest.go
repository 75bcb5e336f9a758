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
