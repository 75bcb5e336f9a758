package pcsc

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestNoDaemonIsNamed points pcsc-lite at a socket nobody listens on and
// checks that the failure names SCARD_E_NO_SERVICE. pcsc-lite reads
// PCSCLITE_CSOCK_NAME once per process, so this test must run before any
// other test of this package establishes a context; it is the only one
// that does.
func TestNoDaemonIsNamed(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "no-pcscd.comm")
	t.Setenv("PCSCLITE_CSOCK_NAME", sock)
	ctx, err := EstablishContext()
	if err == nil {
		ctx.Release()
		t.Fatalf("EstablishContext succeeded with no daemon at %s", sock)
	}
	if !errors.Is(err, ErrNoService) {
		t.Fatalf("err = %v, want SCARD_E_NO_SERVICE", err)
	}
	if _, statErr := os.Stat(sock); statErr == nil {
		t.Fatal("the client created the daemon's socket")
	}
}
