package gui

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/custodian-hsm/custodian/crypto/token/pkcs11/softhsm"
	"github.com/custodian-hsm/custodian/internal/testvectors"
)

// A production activation in the GUI refuses, with the admission policy's
// reason on screen and no custodian enrolled, every key that is not a
// hardware key born on a genuine token: a software key file however its
// scheme is spelled, a module nobody configured, and a SoftHSM token (a
// drill module, never on the production list). The CLI's refusals are tested in
// app/cli; this is the same policy reached through the window.
func TestProductionEnrollmentRefusesNonHardwareKeysInTheGUI(t *testing.T) {
	vec := testvectors.Path(t, "sd-3of2", "keys", "cert_0.key")
	drillKeys := t.TempDir()
	cases := []struct{ name, ref, want string }{
		{"file:", "file:" + vec, "never enrolled in production"},
		{"FILE:", "FILE:" + vec, "never enrolled in production"},
		{"File:", "File:" + vec, "never enrolled in production"},
		{"a new key file in a drill folder", "file:" + filepath.Join(drillKeys, "new.key"), "never enrolled in production"},
	}
	// A module the reference names but nobody configured: refused before
	// anything is loaded.
	os.WriteFile(filepath.Join(drillKeys, "libevil.so"), []byte("not a library"), 0o644)
	cases = append(cases, struct{ name, ref, want string }{"a module not on the list", "pkcs11:token=alice?module-path=" + filepath.Join(drillKeys, "libevil.so"), "not on the list of modules"})
	if mod, err := softhsm.Module(); err == nil {
		cases = append(cases, struct{ name, ref, want string }{"SoftHSM token", "pkcs11:token=alice?module-path=" + mod, "SoftHSM is a drill module"})
	} else if os.Getenv("CI") != "" {
		t.Fatalf("SoftHSM2 missing under CI: %v", err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			h.fillActivationSetup()
			h.waitShows("eth0 (test finding)")
			h.tap("Witness: I have read the findings")
			h.waitShows("Activation — custodian 1 of 3")
			h.typeInto("custodian's full name", "Alice")
			h.typeInto("token reference: choose a token above", c.ref)
			h.tap("Generate the key on the token")
			h.waitShows("Enrollment failed")
			h.waitShows(c.want)
			if h.shows("Activation — custodian 2 of 3") {
				t.Fatal("a refused key was enrolled")
			}
			if _, err := os.Stat(filepath.Join(drillKeys, "new.key")); err == nil {
				t.Fatal("a key file was written for a refused enrollment")
			}
		})
	}
}
