package cli

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/crypto/token/piv"
	"github.com/custodian-hsm/custodian/crypto/token/pkcs11"
	"github.com/custodian-hsm/custodian/crypto/token/pkcs11/softhsm"
	"github.com/custodian-hsm/custodian/crypto/token/soft"
	"github.com/custodian-hsm/custodian/internal/testinfra/hardwarepkcs11"
)

// wantExit runs a command and checks its exit code, that the error is the
// last stderr line, and that it says want.
func wantExit(t *testing.T, code int, want string, args ...string) (string, string) {
	t.Helper()
	out, errOut, got := run(t, args...)
	lines := strings.Split(strings.TrimRight(errOut, "\n"), "\n")
	last := lines[len(lines)-1]
	if got != code || !strings.HasPrefix(last, "custodian: ") || !strings.Contains(last, want) {
		t.Errorf("custodian %s: exit %d (want %d), last stderr line %q (want %q)\n%s", strings.Join(args, " "), got, code, last, want, out)
	}
	return out, errOut
}

// startHSM gives a test a private SoftHSM (one per process is what
// SoftHSM supports; each Start points the process at a new directory).
func startHSM(t *testing.T) *softhsm.Instance {
	t.Helper()
	if _, err := exec.LookPath("softhsm2-util"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("softhsm2-util missing under CI")
		}
		t.Skip("SoftHSM2 not installed")
	}
	hsm, err := softhsm.Start(filepath.Join(t.TempDir(), "softhsm"))
	if err != nil {
		t.Fatal(err)
	}
	// One private SoftHSM per process: close it before the next test.
	t.Cleanup(func() { hsm.Close() })
	return hsm
}

// copyModule copies the SoftHSM module under another name (root-owned
// 0755 when the tests run as root).
func copyModule(t *testing.T, hsm *softhsm.Instance, dir, name string, mode os.FileMode) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("module ownership checks need the tests to run as root")
	}
	src, err := os.Open(hsm.Module)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst := filepath.Join(dir, name)
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, src); err != nil {
		t.Fatal(err)
	}
	out.Close()
	if err := os.Chmod(dst, mode); err != nil {
		t.Fatal(err)
	}
	return dst
}

// Production token enroll refuses key files however the scheme is
// spelled, and writes no key.
func TestEnrollRefusesKeyFilesInProduction(t *testing.T) {
	dir := t.TempDir()
	for _, scheme := range []string{"file", "FILE", "File"} {
		key := filepath.Join(dir, scheme+".pem")
		out, _ := wantExit(t, 2, "never enrolled in production", "token", "enroll", "--token", scheme+":"+key, "--name", "Alice", "--out", filepath.Join(dir, scheme+".cer"))
		if !strings.HasPrefix(out, "mode: PRODUCTION") {
			t.Errorf("%s: first line is not the mode:\n%s", scheme, out)
		}
		if _, err := os.Stat(key); err == nil {
			t.Errorf("%s: a private key was written", scheme)
		}
	}
	// A key a drill made is a drill token, refused as such.
	keys := t.TempDir()
	drillKey := filepath.Join(keys, "cert_0.key")
	mustRun(t, "drill", "keys", "--dir", keys, "--count", "3")
	wantExit(t, 2, "drill token", "token", "enroll", "--token", "file:"+drillKey, "--name", "Alice", "--out", filepath.Join(dir, "d.cer"))
}

// SoftHSM is a drill module: production refuses its tokens by reference,
// by --pkcs11-module and by $CUSTODIAN_PKCS11_MODULE; --drill admits them
// and token list marks them drill.
func TestSoftHSMIsDrillOnly(t *testing.T) {
	hsm := startHSM(t)
	if err := hsm.InitToken("alice", []byte("87654321"), []byte("246810")); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ref := "pkcs11:token=alice?module-path=" + hsm.Module
	cert := filepath.Join(dir, "a.cer")
	wantExit(t, 2, "SoftHSM is a drill module", "token", "enroll", "--token", ref, "--name", "Alice", "--out", cert)
	wantExit(t, 2, "SoftHSM is a drill module", "token", "enroll", "--pkcs11-module", hsm.Module, "--token", ref, "--name", "Alice", "--out", cert)
	t.Setenv(pkcs11.ModuleEnv, hsm.Module)
	out := mustRun(t, "token", "list")
	if !strings.HasPrefix(out, "mode: PRODUCTION") || strings.Contains(out, `"alice"`) {
		t.Errorf("production token list shows a SoftHSM token:\n%s", out)
	}
	out = mustRun(t, "token", "list", "--drill")
	if !strings.HasPrefix(out, "mode: DRILL") || !strings.Contains(out, "SoftHSM v2") || !strings.Contains(out, "DRILL only") || !strings.Contains(out, "module: ") {
		t.Errorf("drill token list:\n%s", out)
	}
}

// Module paths: not on the list, writable, not owned by root — refused
// before any dlopen, naming the reason.
func TestModuleChecksThroughTheCLI(t *testing.T) {
	hsm := startHSM(t)
	dir := t.TempDir()
	other := copyModule(t, hsm, dir, "libother.so", 0o755)
	writable := copyModule(t, hsm, dir, "libwritable.so", 0o666)
	notRoot := copyModule(t, hsm, dir, "libnotroot.so", 0o755)
	if err := os.Chown(notRoot, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	cert := filepath.Join(dir, "a.cer")
	for _, drill := range [][]string{nil, {"--drill"}} {
		args := append([]string{"token", "enroll", "--name", "Alice", "--out", cert}, drill...)
		wantExit(t, 2, "not on the list of modules", append(args, "--token", "pkcs11:token=x?module-path="+other)...)
		wantExit(t, 2, "writable by group or others", append(args, "--pkcs11-module", writable, "--token", "pkcs11:token=x")...)
		wantExit(t, 2, "not root", append(args, "--pkcs11-module", notRoot, "--token", "pkcs11:token=x")...)
		wantExit(t, 2, "not on the list of modules", append(args, "--token", "pkcs11:token=x?module-path="+writable)...)
	}
	wantExit(t, 2, "not on the list of modules", "sd", "check-share", "--transcript", filepath.Join(t.TempDir(), "t.jsonl"), "--drill", "--sd-file", vec(t, "sd.json"), "--key", "pkcs11:token=x?module-path="+other)
	wantExit(t, 2, "writable by group or others", "sd", "restore-blob", "--pkcs11-module", writable, "--sd-file", vec(t, "sd.json"), "--sd-exchange-key", vec(t, "exchange.cer"), acceptVectorKey, "--key", "pkcs11:token=x", "--key", "pkcs11:token=y", "--out", filepath.Join(dir, "blob"))
}

// Two tokens a reference cannot tell apart: refused before any PIN is
// asked, naming the attribute that tells them apart.
func TestAmbiguousReferenceThroughTheCLI(t *testing.T) {
	hsm := startHSM(t)
	// The drill helper refuses a second token with the same label, so the
	// twins differ in label and the reference names only what they share.
	for _, label := range []string{"twin-a", "twin-b"} {
		if err := hsm.InitToken(label, []byte("87654321"), []byte("246810")); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	pinFile := filepath.Join(dir, "pin")
	os.WriteFile(pinFile, []byte("246810\n"), 0o600)
	ref := "pkcs11:manufacturer=SoftHSM%20project?module-path=" + hsm.Module + "&pin-source=file:" + pinFile
	wantExit(t, 2, "serial", "token", "enroll", "--drill", "--token", ref, "--name", "Alice", "--out", filepath.Join(dir, "a.cer"))
	if _, err := os.Stat(filepath.Join(dir, "a.cer")); err == nil {
		t.Error("a certificate was written for an ambiguous reference")
	}
}

// Production recovery: drill keys refused; an openssl key file admitted
// with the warning printed.
func TestRecoveryKeysThroughTheCLI(t *testing.T) {
	tr := filepath.Join(t.TempDir(), "t.jsonl")
	out := mustRun(t, "sd", "check-share", "--transcript", tr, "--sd-file", vec(t, "sd.json"), "--key", "FILE:"+vec(t, "keys", "cert_1.key"))
	if !strings.HasPrefix(out, "mode: PRODUCTION") || !strings.Contains(out, "WARNING: this custodian key is a software key file") || !strings.Contains(out, "rotate the custodians onto hardware") {
		t.Errorf("check-share with a software key:\n%s", out)
	}
	if rec := string(mustRead(t, tr)); !strings.Contains(rec, "admitted as a software key") || !strings.Contains(rec, "WARNING: this custodian key is a software key file") {
		t.Errorf("the warning is not in the transcript:\n%s", rec)
	}
	dir := t.TempDir()
	mustRun(t, "drill", "keys", "--dir", dir, "--count", "3")
	wantExit(t, 2, "drill token", "sd", "check-share", "--transcript", filepath.Join(t.TempDir(), "t.jsonl"), "--sd-file", vec(t, "sd.json"), "--key", "file:"+filepath.Join(dir, "cert_0.key"))
	exKey, err := sd.ParseExchangeKey(mustRead(t, vec(t, "exchange.cer")))
	if err != nil {
		t.Fatal(err)
	}
	_, errOut := wantExit(t, 2, "drill token", "sd", "restore-blob", "--sd-file", vec(t, "sd.json"), "--sd-exchange-key", vec(t, "exchange.cer"), acceptVectorKey,
		"--exchange-key-sha256", fingerprint.Of(exKey.Certificate.Raw).Hex(),
		"--key", "file:"+vec(t, "keys", "cert_0.key"), "--key", "file:"+filepath.Join(dir, "cert_1.key"), "--out", filepath.Join(dir, "blob"))
	if !strings.Contains(errOut, "WARNING: key 1") {
		t.Errorf("restore-blob does not warn about the software key:\n%s", errOut)
	}
	// In a drill, the drill keys are fine and hardware would not be.
	out = mustRun(t, "sd", "check-share", "--transcript", filepath.Join(t.TempDir(), "t.jsonl"), "--drill", "--sd-file", vec(t, "sd.json"), "--key", "file:"+vec(t, "keys", "cert_1.key"))
	if !strings.HasPrefix(out, "mode: DRILL") {
		t.Errorf("drill check-share:\n%s", out)
	}
}

// A PKCS#11 enrollment in production is refused without a witnessed
// exception (before any PIN) and admitted with one; the output names the
// exception and the witness.
func TestPKCS11EnrollmentNeedsException(t *testing.T) {
	hsm := startHSM(t)
	if err := hsm.InitToken("nitro", []byte("87654321"), []byte("246810")); err != nil {
		t.Fatal(err)
	}
	saved := tokensFor
	t.Cleanup(func() { tokensFor = saved })
	tokensFor = func(cfg ceremony.TokenConfig) (*token.Manager, []error) {
		p := pkcs11.New(pkcs11.Options{ModulePath: hsm.Module, Drill: true, ConfigFile: "-"})
		return token.NewManager(piv.New(piv.Options{}), hardwarepkcs11.New(p), soft.New()), nil
	}
	dir := t.TempDir()
	pinFile := filepath.Join(dir, "pin")
	os.WriteFile(pinFile, []byte("246810\n"), 0o600)
	ref := "pkcs11:token=nitro?module-path=" + hsm.Module + "&pin-source=file:" + pinFile
	cert := filepath.Join(dir, "a.cer")
	wantExit(t, 2, "--accept-unattested-key", "token", "enroll", "--token", ref, "--name", "Alice", "--out", cert)
	if _, err := os.Stat(cert); err == nil {
		t.Fatal("a certificate was written without the exception")
	}
	wantExit(t, 2, "approved by NAME", "token", "enroll", "--token", ref, "--name", "Alice", "--out", cert, "--accept-unattested-key", "no witness")
	tr := filepath.Join(dir, "enroll.jsonl")
	out := mustRun(t, "token", "enroll", "--token", ref, "--name", "Alice", "--out", cert, "--transcript", tr, "--accept-unattested-key", "vendor HSM without attestation; approved by Wendy Witness")
	if rec := string(mustRead(t, tr)); !strings.Contains(rec, "vendor HSM without attestation") || !strings.Contains(rec, "Wendy Witness") {
		t.Errorf("the transcript does not name the exception and its witness:\n%s", rec)
	}
	for _, want := range []string{"mode: PRODUCTION", "attestation (pkcs11): claimed by the token, not verified", "EXCEPTION: vendor HSM without attestation (witness: Wendy Witness)", "under exception: vendor HSM without attestation; approved by Wendy Witness"} {
		if !strings.Contains(out, want) {
			t.Errorf("enroll output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "verified=true") {
		t.Errorf("PKCS#11 claims shown as verified:\n%s", out)
	}
}
