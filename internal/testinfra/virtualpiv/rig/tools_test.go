package rig_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/custodian-hsm/custodian/internal/testinfra/rigtest"
	"github.com/custodian-hsm/custodian/internal/testinfra/virtualpiv/rig"
)

// These tests run Yubico's and OpenSC's own tools against the virtual
// YubiKey, through the rig's pcscd, and compare what they report with what
// they report for a real YubiKey 5.7: so that the emulator cannot drift
// from the device unnoticed. A missing tool skips its test, except under
// CI=true, where it fails it (Debian packages yubikey-manager,
// yubico-piv-tool, opensc, ykcs11; `make test-deps` installs them).

// needTool returns the path of a command-line tool.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		missing(t, fmt.Sprintf("%s (Debian package %s)", name, pkg))
	}
	return path
}

// needModule returns the first PKCS#11 module of paths that exists.
func needModule(t *testing.T, pkg string, paths ...string) string {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	missing(t, fmt.Sprintf("%s (Debian package %s)", paths[0], pkg))
	return ""
}

func missing(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and %s is missing", what)
	}
	t.Skipf("%s is missing", what)
}

// tool runs a tool against the rig's pcscd and returns its output; a
// non-zero exit fails the test.
func tool(t *testing.T, r *rig.Rig, stdin string, name string, args ...string) string {
	t.Helper()
	out, err := toolErr(t, r, stdin, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func toolErr(t *testing.T, r *rig.Rig, stdin string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), r.Env()...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func wantLines(t *testing.T, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s does not say %q:\n%s", what, w, out)
		}
	}
}

var (
	openSCModules = []string{"/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so", "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so", "/usr/lib/opensc-pkcs11.so"}
	ykcs11Modules = []string{"/usr/lib/x86_64-linux-gnu/libykcs11.so.2", "/usr/lib/aarch64-linux-gnu/libykcs11.so.2", "/usr/lib/x86_64-linux-gnu/libykcs11.so"}
)

// ykman, yubico-piv-tool, OpenSC and ykcs11 each see a YubiKey 5.7 with
// its serial number, factory PIN and AES-192 management key.
func TestYubicoAndOpenSCToolsSeeAYubiKey5(t *testing.T) {
	ykman := needTool(t, "ykman", "yubikey-manager")
	pivTool := needTool(t, "yubico-piv-tool", "yubico-piv-tool")
	p11Tool := needTool(t, "pkcs11-tool", "opensc")
	openSC := needModule(t, "opensc-pkcs11", openSCModules...)
	ykcs11 := needModule(t, "ykcs11", ykcs11Modules...)
	r := rigtest.StartForTestWith(t, rig.Options{Cards: 1, RSAKeys: pool.Key})
	reader, serial := r.Readers()[0], fmt.Sprint(r.Cards()[0].Serial())

	wantLines(t, "ykman info", tool(t, r, "", ykman, "--reader", reader, "info"),
		"Serial number: "+serial, "Firmware version: 5.7.1", "PIV         \tEnabled")
	wantLines(t, "ykman piv info", tool(t, r, "", ykman, "--reader", reader, "piv", "info"),
		"PIV version: 5.7.1", "WARNING: Using default PIN!", "PIN tries remaining: 3/3",
		"WARNING: Using default Management key!", "Management key algorithm: AES192")
	wantLines(t, "yubico-piv-tool -a status", tool(t, r, "", pivTool, "-r", reader, "-a", "status"),
		"Version:\t5.7.1", "Serial Number:\t"+serial, "PIN tries left:\t3")
	wantLines(t, "pkcs11-tool -L (OpenSC)", tool(t, r, "", p11Tool, "--module", openSC, "-L"),
		reader, "token label        : PIV_II", "token initialized, PIN initialized")
	wantLines(t, "pkcs11-tool -L (ykcs11)", tool(t, r, "", p11Tool, "--module", ykcs11, "-L"),
		reader, "token label        : YubiKey PIV #"+serial, "serial num         : "+serial, "firmware version   : 5.71")
}

// `ykman piv reset`, which Custodian's messages tell users to run, works on
// the virtual card as on a YubiKey: it blocks the PIN and the PUK and
// resets the PIV application to its factory PIN, PUK and management key,
// dropping the keys.
func TestYkmanPIVResetWorks(t *testing.T) {
	ykman := needTool(t, "ykman", "yubikey-manager")
	pivTool := needTool(t, "yubico-piv-tool", "yubico-piv-tool")
	r := rigtest.StartForTestWith(t, rig.Options{Cards: 1, RSAKeys: pool.Key})
	reader := r.Readers()[0]

	// A card in use: its own PIN, a key in 9a.
	tool(t, r, "", pivTool, "-r", reader, "-a", "change-pin", "-P", "123456", "-N", "24681357")
	tool(t, r, "", ykman, "--reader", reader, "piv", "keys", "generate", "-a", "ECCP256",
		"-m", "010203040506070801020304050607080102030405060708", "9a", "-")
	wantLines(t, "ykman piv keys attest 9a", tool(t, r, "", ykman, "--reader", reader, "piv", "keys", "attest", "9a", "-"),
		"BEGIN CERTIFICATE")
	info := tool(t, r, "", ykman, "--reader", reader, "piv", "info")
	if strings.Contains(info, "default PIN") {
		t.Fatalf("the PIN change did not take:\n%s", info)
	}
	if out, err := toolErr(t, r, "", pivTool, "-r", reader, "-a", "verify-pin", "-P", "123456"); err == nil {
		t.Fatalf("the factory PIN still verifies before the reset:\n%s", out)
	}

	out := tool(t, r, "y\n", ykman, "--reader", reader, "piv", "reset")
	wantLines(t, "ykman piv reset", out, "Success")
	wantLines(t, "ykman piv info after the reset", tool(t, r, "", ykman, "--reader", reader, "piv", "info"),
		"WARNING: Using default PIN!", "PIN tries remaining: 3/3", "WARNING: Using default Management key!")
	wantLines(t, "verify-pin after the reset", tool(t, r, "", pivTool, "-r", reader, "-a", "verify-pin", "-P", "123456"),
		"Successfully verified PIN")
	if out, err := toolErr(t, r, "", ykman, "--reader", reader, "piv", "keys", "attest", "9a", "-"); err == nil {
		t.Errorf("slot 9a still holds a key after the reset (ykman attests it):\n%s", out)
	}
}
