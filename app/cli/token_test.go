package cli

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/crypto/drillhsm"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/token/pkcs11/softhsm"
)

func TestCheckShareOpensOneShareAndPrintsNothingSecret(t *testing.T) {
	tdir := t.TempDir()
	out := mustRun(t, "sd", "check-share", "--sd-file", vec(t, "sd.json"), "--key", "file:"+vec(t, "keys", "cert_1.key"), "--transcript", filepath.Join(tdir, "1.jsonl"))
	for _, want := range []string{"share x=2 of 3 opens and is well-formed (quorum 2)", "SHA-256", "words"} {
		if !strings.Contains(out, want) {
			t.Errorf("check-share output lacks %q:\n%s", want, out)
		}
	}
	_, errOut, code := run(t, "sd", "check-share", "--sd-file", vec(t, "sd.json"), "--key", "file:"+vec(t, "exchange.key"), "--transcript", filepath.Join(tdir, "2.jsonl"))
	if code != 1 || !strings.Contains(errOut, "matches no share") {
		t.Errorf("a key with no share: exit %d %s", code, errOut)
	}
	if _, _, code := run(t, "sd", "check-share", "--sd-file", vec(t, "sd.json")); code != 2 {
		t.Errorf("no --key: exit %d", code)
	}
}

// A custodian's life on a PKCS#11 token through the CLI: enroll, attest,
// activation with the drill HSM, check-share, restore-blob.
func TestTokenEnrollAttestAndCheckShareOnSoftHSM(t *testing.T) {
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
	dir := t.TempDir()
	pinFile := filepath.Join(dir, "pin")
	os.WriteFile(pinFile, []byte("246810\n"), 0o600)
	var certs []string
	for _, name := range []string{"alice", "bob", "carol"} {
		if err := hsm.InitToken(name, []byte("87654321"), []byte("246810")); err != nil {
			t.Fatal(err)
		}
		ref := "pkcs11:token=" + name + "?module-path=" + hsm.Module + "&pin-source=file:" + pinFile
		cert := filepath.Join(dir, name+".cer")
		out := mustRun(t, "token", "enroll", "--drill", "--token", ref, "--name", name, "--ceremony", "C-1", "--out", cert)
		if !strings.HasPrefix(out, "mode: DRILL") || !strings.Contains(out, "attestation (pkcs11): claimed by the token, not verified") || !strings.Contains(out, "CKA_NEVER_EXTRACTABLE (claimed): true") {
			t.Errorf("enroll output:\n%s", out)
		}
		certs = append(certs, cert)
		if _, _, code := run(t, "token", "enroll", "--drill", "--token", ref, "--name", name, "--out", cert); code != 2 {
			t.Errorf("enroll over an existing certificate file: exit %d", code)
		}
		// A PKCS#11 key's attributes are a claim: attest shows them and
		// does not call them verified.
		out, errOut, code := run(t, "token", "attest", "--drill", "--key", ref)
		if code != 1 || !strings.Contains(out, "CKA_LOCAL (claimed): true") || !strings.Contains(errOut, "claimed by the token, not verified") {
			t.Errorf("attest: exit %d\n%s%s", code, out, errOut)
		}
	}
	// The operator activates; each custodian checks their own share.
	var parsed []*x509.Certificate
	for _, c := range certs {
		b := mustRead(t, c)
		block, _ := pem.Decode(b)
		pc, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, pc)
	}
	h, err := drillhsm.Create(filepath.Join(dir, "hsm"))
	if err != nil {
		t.Fatal(err)
	}
	sdBytes, err := h.Activate(parsed, 2, drillhsm.ActivateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sdPath := filepath.Join(dir, "sd.json")
	os.WriteFile(sdPath, sdBytes, 0o644)
	for _, name := range []string{"alice", "bob", "carol"} {
		ref := "pkcs11:token=" + name + "?module-path=" + hsm.Module + "&pin-source=file:" + pinFile
		out := mustRun(t, "sd", "check-share", "--drill", "--sd-file", sdPath, "--key", ref, "--transcript", filepath.Join(dir, name+"-check.jsonl"))
		if !strings.Contains(out, "opens and is well-formed") || !strings.Contains(out, "CKM_RSA") {
			t.Errorf("check-share %s:\n%s", name, out)
		}
		if strings.Contains(out, "246810") {
			t.Error("the PIN was printed")
		}
	}
	// Recovery with two tokens.
	exPEM, err := h.InitRecovery()
	if err != nil {
		t.Fatal(err)
	}
	ex := filepath.Join(dir, "sde.cer")
	os.WriteFile(ex, exPEM, 0o644)
	blob := filepath.Join(dir, "blob.json")
	exKey, err := sd.ParseExchangeKey(exPEM)
	if err != nil {
		t.Fatal(err)
	}
	// No --drill: the drill HSM's exchange key makes the recovery a drill.
	out := mustRun(t, "sd", "restore-blob", "--sd-file", sdPath, "--sd-exchange-key", ex, "--out", blob, "--exchange-key-sha256", fingerprint.Of(exKey.Certificate.Raw).Hex(),
		"--key", "pkcs11:token=alice?module-path="+hsm.Module+"&pin-source=file:"+pinFile,
		"--key", "pkcs11:token=carol?module-path="+hsm.Module+"&pin-source=file:"+pinFile)
	if first := strings.SplitN(out, "\n", 2)[0]; !strings.HasPrefix(first, "mode: DRILL") || !strings.Contains(first, "drill HSM's") {
		t.Errorf("restore-blob with a drill HSM's exchange key:\n%s", out)
	}
	res, err := h.Upload(mustRead(t, blob))
	if err != nil || !res.Restored {
		t.Fatalf("upload: %v %v", res, err)
	}
	if _, err := sd.ParseRestoreBlob(mustRead(t, blob)); err != nil {
		t.Fatal(err)
	}
}
