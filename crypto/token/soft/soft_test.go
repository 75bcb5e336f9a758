package soft

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/crypto/jwe"
	"github.com/custodian-hsm/custodian/crypto/token"
)

var vectorKeys string

func TestMain(m *testing.M) {
	d, ok := testvectorsDir()
	if !ok {
		fmt.Fprintln(os.Stderr, "test vectors not found in "+d+": set CUSTODIAN_VECTORS to a copy of the contract's vectors folder (the repository keeps one in internal/testvectors/testdata/vectors)")
		os.Exit(1)
	}
	vectorKeys = filepath.Join(d, "sd-3of2", "keys")
	os.Exit(m.Run())
}

func askWith(pass string, calls *int) token.PINFunc {
	return func(ctx context.Context, req token.PINRequest) ([]byte, error) {
		if calls != nil {
			*calls++
		}
		if req.What != "passphrase" {
			return nil, errors.New("asked for " + req.What)
		}
		return []byte(pass), nil
	}
}

func TestOpenVectorKeyFollowsAzConvention(t *testing.T) {
	k, err := Open(context.Background(), filepath.Join(vectorKeys, "cert_0.key"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	// A key made with openssl, as Microsoft's quickstart teaches, is a
	// software key, not a drill key: the admission policy tells them apart.
	if tok := k.Token(); tok.Kind != token.KindSoftware || tok.Drill {
		t.Errorf("an openssl key file is software, not drill: %+v", tok)
	}
	if info, err := New().Describe(context.Background(), k.Ref()); err != nil || info.Drill || info.Kind != token.KindSoftware {
		t.Errorf("Describe of an openssl key: %+v %v", info, err)
	}
	if k.Certificate() == nil || !token.SamePublicKey(k.Certificate(), k.Public()) {
		t.Error("certificate not loaded from cert_0.cer or not matching")
	}
	// A CEK wrapped to the certificate opens.
	cek := make([]byte, 64)
	rand.Read(cek)
	ek, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, k.Public(), cek, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.DecryptKey(jwe.AlgRSAOAEP256, ek)
	if err != nil || string(got) != string(cek) {
		t.Fatalf("DecryptKey = %x, %v", got, err)
	}
}

func TestOpenRejectsMismatchedCertificate(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, filepath.Join(vectorKeys, "cert_0.key"), filepath.Join(dir, "a.key"))
	copyFile(t, filepath.Join(vectorKeys, "cert_1.cer"), filepath.Join(dir, "a.cer"))
	_, err := Open(context.Background(), filepath.Join(dir, "a.key"), nil)
	if err == nil || !strings.Contains(err.Error(), "does not belong to") {
		t.Fatalf("mismatched certificate accepted: %v", err)
	}
}

func TestOpenMissingCertificateSaysWhereItLooked(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, filepath.Join(vectorKeys, "cert_0.key"), filepath.Join(dir, "alone.key"))
	_, err := Open(context.Background(), filepath.Join(dir, "alone.key"), nil)
	if err == nil || !strings.Contains(err.Error(), "alone.cer") {
		t.Fatalf("error does not name the expected certificate path: %v", err)
	}
}

// Encrypted keys are made by the real openssl, in every form it writes.
func TestOpenEncryptedKeysWrittenByOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	src := filepath.Join(vectorKeys, "cert_2.key")
	for name, args := range map[string][]string{
		"pbes2-aes256-sha256": {"pkcs8", "-topk8", "-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA256"},
		"pbes2-aes128-sha1":   {"pkcs8", "-topk8", "-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1"},
		"pbes2-des3":          {"pkcs8", "-topk8", "-v2", "des3"},
		"legacy-pkcs1-aes256": {"rsa", "-traditional", "-aes256"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			keyPath := filepath.Join(dir, "c.key")
			cmd := exec.Command("openssl", append(args, "-in", src, "-out", keyPath, "-passout", "pass:correct horse")...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("openssl: %v\n%s", err, out)
			}
			copyFile(t, filepath.Join(vectorKeys, "cert_2.cer"), filepath.Join(dir, "c.cer"))
			calls := 0
			k, err := Open(context.Background(), keyPath, askWith("correct horse", &calls))
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if calls != 1 {
				t.Errorf("passphrase asked %d times", calls)
			}
			k.Close()
			_, err = Open(context.Background(), keyPath, askWith("wrong horse", nil))
			if err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
				t.Errorf("wrong passphrase: %v", err)
			}
		})
	}
}

func TestOpenUnencryptedPKCS1(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "c.pem")
	if out, err := exec.Command("openssl", "rsa", "-traditional", "-in", filepath.Join(vectorKeys, "cert_1.key"), "-out", keyPath).CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	copyFile(t, filepath.Join(vectorKeys, "cert_1.cer"), filepath.Join(dir, "c.cer"))
	if _, err := Open(context.Background(), keyPath, nil); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRejectsNonKeys(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"garbage":     "not a PEM private key",
		"certificate": "not a private key",
	}
	os.WriteFile(filepath.Join(dir, "garbage.key"), []byte("hello"), 0o600)
	copyFile(t, filepath.Join(vectorKeys, "cert_0.cer"), filepath.Join(dir, "certificate.key"))
	for name, want := range cases {
		_, err := Open(context.Background(), filepath.Join(dir, name+".key"), nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", name, err, want)
		}
	}
}

func TestGenerateFilesMakesDrillPairAndNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "cert_0.key")
	var stages []string
	cert, err := GenerateFiles(keyPath, token.EnrollRequest{Name: "Alice", CeremonyID: "drill-1", Progress: func(s string) { stages = append(stages, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cert.Subject.CommonName, "DRILL") || cert.Subject.OrganizationalUnit[0] != "drill-1" {
		t.Errorf("subject %v does not say DRILL and the ceremony", cert.Subject)
	}
	if len(stages) < 2 {
		t.Errorf("progress stages %v", stages)
	}
	st, _ := os.Stat(keyPath)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", st.Mode().Perm())
	}
	k, err := Open(context.Background(), keyPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	if k.Certificate().Equal(cert) == false {
		t.Error("certificate on disk differs")
	}
	// A drill's key is a drill token, known from its certificate's drill
	// policy, before and after opening.
	if !k.Token().Drill || !token.IsDrillCertificate(cert) {
		t.Errorf("a drill key is not marked drill: %+v", k.Token())
	}
	if info, err := New().Describe(context.Background(), k.Ref()); err != nil || !info.Drill {
		t.Errorf("Describe of a drill key: %+v %v", info, err)
	}
	if _, err := GenerateFiles(keyPath, token.EnrollRequest{Name: "Bob"}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("overwrote: %v", err)
	}
}

func TestPBKDF2KnownAnswer(t *testing.T) {
	// RFC 6070 test vector 2 (HMAC-SHA1, 2 iterations).
	got := pbkdf2(sha1New, []byte("password"), []byte("salt"), 2, 20)
	if want := "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"; hexs(got) != want {
		t.Errorf("pbkdf2 = %s, want %s", hexs(got), want)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
