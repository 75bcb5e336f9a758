package pkcs11

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/internal/testinfra/rigtest"
)

// ykcs11Module is Debian's ykcs11, or "" (the test skips; CI fails).
func ykcs11Module(t *testing.T) string {
	t.Helper()
	for _, m := range SystemModules {
		if strings.Contains(m, "ykcs11") {
			if _, err := os.Stat(m); err == nil {
				return m
			}
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("ykcs11 is required under CI (Debian package ykcs11)")
	}
	t.Skip("ykcs11 not installed (Debian package ykcs11)")
	return ""
}

// Yubico's module is known by its C_GetInfo identity (which is what
// enrollment checks), and SoftHSM is not taken for it.
func TestYKCS11IsRecognised(t *testing.T) {
	mod := ykcs11Module(t)
	resolved, err := CheckModule(mod)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if yk, err := isYKCS11(resolved); err != nil || !yk {
		t.Errorf("ykcs11 not recognised: %v %v", yk, err)
	}
	sh, _ := CheckModule(hsm.Module)
	if yk, err := isYKCS11(sh); err != nil || yk {
		t.Errorf("SoftHSM taken for ykcs11: %v %v", yk, err)
	}
}

// Enrolling a YubiKey through ykcs11 is refused before any PIN, pointing
// to the yubikey: reference; run against the virtual card behind ykcs11,
// in a child process (the rig changes process-wide PC/SC state).
//
// Debian 12's ykcs11 (2.2.0) lists only readers whose name starts with
// "Yubico"; the rig names its readers as a YubiKey's are named, so the
// virtual card is seen through ykcs11 (a ykcs11 that does not see it makes
// the test skip, saying so).
func TestYKCS11EnrollmentPointsToYubiKeyReference(t *testing.T) {
	mod := ykcs11Module(t)
	if os.Getenv("CUSTODIAN_YKCS11_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestYKCS11EnrollmentPointsToYubiKeyReference$", "-test.v")
		cmd.Env = append(os.Environ(), "CUSTODIAN_YKCS11_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		if strings.Contains(string(out), "--- SKIP") {
			t.Skipf("child skipped:\n%s", out)
		}
		return
	}
	rigtest.StartForTest(t, 1)
	p := New(Options{Modules: []string{mod}, ConfigFile: "-"})
	infos, _ := p.List(context.Background())
	var yk *token.Info
	for i := range infos {
		if strings.HasPrefix(infos[i].Manufacturer, "Yubico") {
			yk = &infos[i]
		}
	}
	if yk == nil {
		t.Skip("this ykcs11 lists only readers named \"Yubico…\"; the rig's reader is not: the virtual card is not visible through it")
	}
	asked := false
	opts := token.OpenOptions{PIN: func(context.Context, token.PINRequest) ([]byte, error) { asked = true; return []byte("123456"), nil }}
	_, err := p.Enroll(context.Background(), yk.Ref, token.EnrollRequest{Name: "Alice"}, opts)
	if !errors.Is(err, token.ErrUnsupported) || !strings.Contains(err.Error(), "yubikey:serial=") {
		t.Fatalf("enrollment through ykcs11: %v", err)
	}
	if asked {
		t.Error("a PIN was asked before the refusal")
	}
}
