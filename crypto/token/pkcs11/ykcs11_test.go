package pkcs11

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/crypto/token/virtualpiv/rig"
)

// Enrolling a YubiKey through Yubico's ykcs11 is refused, before any PIN,
// with a message that points to the yubikey: reference. Run against the
// virtual card behind ykcs11, in a child process (the rig changes
// process-wide PC/SC state).
func TestYKCS11EnrollmentPointsToYubiKeyReference(t *testing.T) {
	var mod string
	for _, m := range SystemModules {
		if strings.Contains(m, "ykcs11") {
			if _, err := os.Stat(m); err == nil {
				mod = m
				break
			}
		}
	}
	if mod == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("ykcs11 is required under CI (Debian package ykcs11)")
		}
		t.Skip("ykcs11 not installed (Debian package ykcs11)")
	}
	if os.Getenv("CUSTODIAN_YKCS11_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestYKCS11EnrollmentPointsToYubiKeyReference$", "-test.v")
		cmd.Env = append(os.Environ(), "CUSTODIAN_YKCS11_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		if strings.Contains(string(out), "--- SKIP") {
			t.Skipf("virtual card unavailable:\n%s", out)
		}
		return
	}
	if err := rig.Available(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	r, err := rig.Start(context.Background(), rig.Options{Cards: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := New(Options{Modules: []string{mod}, ConfigFile: "-"})
	infos, err := p.List(context.Background())
	var yk *token.Info
	for i := range infos {
		if strings.HasPrefix(infos[i].Manufacturer, "Yubico") {
			yk = &infos[i]
		}
	}
	if yk == nil {
		t.Fatalf("ykcs11 shows no YubiKey for the virtual card: %v %v", infos, err)
	}
	asked := false
	opts := token.OpenOptions{PIN: func(context.Context, token.PINRequest) ([]byte, error) { asked = true; return []byte("123456"), nil }}
	_, err = p.Enroll(context.Background(), yk.Ref, token.EnrollRequest{Name: "Alice"}, opts)
	if !errors.Is(err, token.ErrUnsupported) || !strings.Contains(err.Error(), "yubikey:serial=") {
		t.Fatalf("enrollment through ykcs11: %v", err)
	}
	if asked {
		t.Error("a PIN was asked before the refusal")
	}
	t.Logf("refused as expected: %v", err)
}
