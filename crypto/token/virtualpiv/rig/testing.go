package rig

import (
	"context"
	"os"
	"testing"
	"time"
)

// StartForTest starts a rig with n cards for a test and closes it when
// the test ends (t.Cleanup; Close may also be called earlier). Without
// pcscd, vpcd or unshare it skips the test, except under CI=true, where a
// missing component fails it. On failure pcscd's last lines are logged.
func StartForTest(t testing.TB, n int) *Rig {
	t.Helper()
	return StartForTestWith(t, Options{Cards: n})
}

// StartForTestWith is StartForTest with options.
func StartForTestWith(t testing.TB, opts Options) *Rig {
	t.Helper()
	if err := available(opts); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and the virtual-card rig cannot run: %v (install pcscd, vsmartcard-vpcd, util-linux)", err)
		}
		t.Skipf("virtual-card rig unavailable: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := Start(ctx, opts)
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
