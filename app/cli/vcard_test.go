package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/crypto/token/piv"
	"github.com/custodian-hsm/custodian/crypto/token/pkcs11"
	"github.com/custodian-hsm/custodian/internal/testinfra/rigtest"
	"github.com/custodian-hsm/custodian/internal/testinfra/virtualpiv"
)

// A virtual YubiKey in production: refused as a drill token, and — were it
// not marked — refused outright by its attestation, which chains to the
// virtual card's test root and not to Yubico's, exception or not. The rig
// changes process-wide state, so the test runs in a child process.
func TestVirtualYubiKeyRefusedInProduction(t *testing.T) {
	if os.Getenv("CUSTODIAN_VYK_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestVirtualYubiKeyRefusedInProduction$", "-test.v")
		cmd.Env = append(os.Environ(), "CUSTODIAN_VYK_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		if strings.Contains(string(out), "--- SKIP") {
			t.Skipf("virtual YubiKeys unavailable:\n%s", out)
		}
		return
	}
	r := rigtest.StartForTest(t, 1)
	serial := fmt.Sprint(r.Cards()[0].Serial())
	dir := t.TempDir()
	pinFile := filepath.Join(dir, "pin")
	os.WriteFile(pinFile, []byte("314159\n"), 0o600)
	prepareCard(t, serial)
	ref := "yubikey:serial=" + serial + "?pin-source=file:" + pinFile

	// Outside a drill the virtual card is listed as the YubiKey it claims
	// to be (whether a card is a drill card is decided by the rig that
	// made it, never by its reader's name), and refused outright by its
	// attestation, which chains to the virtual card's test root, not to
	// Yubico's: no exception admits it.
	out := mustRun(t, "token", "list")
	if !strings.Contains(out, serial) {
		t.Errorf("token list does not show the virtual YubiKey %s:\n%s", serial, out)
	}
	_, errOut := wantExit(t, 1, "no exception can admit it", "token", "enroll", "--token", ref, "--name", "Alice", "--out", filepath.Join(dir, "a.cer"),
		"--accept-unattested-key", "try; approved by W")
	if !strings.Contains(errOut, "NOT verified") && !strings.Contains(errOut, "does not prove") {
		t.Errorf("refusal does not say the attestation failed: %s", errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "a.cer")); err == nil {
		t.Error("a certificate was written for a rejected attestation")
	}

	// Through OpenSC's PKCS#11 module the same card is a PKCS#11 token
	// whose key attributes are only a claim: without a witnessed exception
	// it is refused before any PIN is asked.
	if _, err := os.Stat("/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"); err == nil {
		p := pkcs11.New(pkcs11.Options{ConfigFile: "-"})
		infos, lerr := p.List(context.Background())
		t.Logf("modules %v; problems %v; list error %v", p.Modules(), p.Problems(), lerr)
		seen := false
		for _, in := range infos {
			if strings.Contains(in.Ref.Query["module-path"], "opensc") {
				seen = true
				r := in.Ref.String() + "&pin-source=file:" + pinFile
				wantExit(t, 2, "witnessed exception", "token", "enroll", "--token", r, "--name", "Alice", "--out", filepath.Join(dir, "o.cer"))
			}
		}
		if !seen {
			t.Errorf("OpenSC does not show the virtual card: %v", infos)
		}
	}
}

// prepareCard replaces the virtual card's factory credentials, as a
// custodian does with a new YubiKey before enrollment.
func prepareCard(t *testing.T, serial string) {
	t.Helper()
	prov := piv.New(piv.Options{})
	ref := &token.URI{Scheme: token.SchemeYubiKey, Path: map[string]string{"serial": serial}}
	ctx := context.Background()
	if err := prov.ChangePIN(ctx, ref, virtualpiv.DefaultPIN, []byte("314159"), false); err != nil {
		t.Fatal(err)
	}
	if err := prov.ChangePUK(ctx, ref, virtualpiv.DefaultPUK, []byte("27182818"), false); err != nil {
		t.Fatal(err)
	}
	pin := token.OpenOptions{PIN: func(context.Context, token.PINRequest) ([]byte, error) { return []byte("314159"), nil }}
	if err := prov.SetRandomManagementKey(ctx, ref, pin); err != nil {
		t.Fatal(err)
	}
}
