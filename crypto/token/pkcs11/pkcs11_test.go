package pkcs11

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ThalesGroup/crypto11"
	p11 "github.com/miekg/pkcs11"

	"github.com/custodian-hsm/custodian/crypto/jwe"
	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/crypto/token/pkcs11/softhsm"
)

var hsm *softhsm.Instance

// TestMain starts one private SoftHSM2 for the package (SoftHSM reads its
// configuration once per process).
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "custodian-softhsm-")
	if err != nil {
		panic(err)
	}
	hsm, err = softhsm.Start(dir)
	if err != nil {
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "FAIL: SoftHSM2 is required under CI:", err)
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "skipping PKCS#11 tests:", err)
		os.Exit(0)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// drillProvider is the provider a drill uses: SoftHSM allowed, no
// configuration file.
func drillProvider() *Provider { return New(Options{Drill: true, ConfigFile: "-"}) }

var tokenCount int

// newToken initialises a fresh token with user PIN 1234.
func newToken(t *testing.T) *token.URI {
	t.Helper()
	tokenCount++
	label := fmt.Sprintf("custodian-%d", tokenCount)
	if err := hsm.InitToken(label, []byte("87654321"), []byte("1234")); err != nil {
		t.Fatal(err)
	}
	u, err := token.ParseURI("pkcs11:token=" + label + "?module-path=" + hsm.Module)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func pin(s string) token.OpenOptions {
	return token.OpenOptions{PIN: func(context.Context, token.PINRequest) ([]byte, error) { return []byte(s), nil }}
}

func enroll(t *testing.T, p *Provider, ref *token.URI, bits int) *token.Enrollment {
	t.Helper()
	var stages []string
	e, err := p.Enroll(context.Background(), ref, token.EnrollRequest{Name: "Alice", CeremonyID: "C-1", Bits: bits,
		Progress: func(s string) { stages = append(stages, s) }}, pin("1234"))
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) < 3 {
		t.Errorf("progress stages %v", stages)
	}
	return e
}

func TestEnrollGeneratesOnTheTokenAndStoresTheCertificate(t *testing.T) {
	p := drillProvider()
	for _, bits := range []int{2048, 3072} {
		ref := newToken(t)
		e := enroll(t, p, ref, bits)
		if e.Certificate.Subject.CommonName != "Alice" || e.Certificate.PublicKey.(*rsa.PublicKey).N.BitLen() != bits {
			t.Errorf("certificate %v", e.Certificate.Subject)
		}
		if err := e.Certificate.CheckSignature(e.Certificate.SignatureAlgorithm, e.Certificate.RawTBSCertificate, e.Certificate.Signature); err != nil {
			t.Errorf("self-signature: %v", err)
		}
		if e.Attestation.Status != token.AttestClaimed || e.Attestation.Verified {
			t.Errorf("key attributes are a claim, never verified: status %v verified %v %+v", e.Attestation.Status, e.Attestation.Verified, e.Attestation.Facts)
		}
		if e.Token.Kind != token.KindPKCS11 || !e.Token.Drill {
			t.Errorf("token info %+v", e.Token)
		}
		// The certificate object on the token has the key's CKA_ID and the
		// exact DER bytes.
		k, err := p.OpenKey(context.Background(), e.Ref, pin("1234"))
		if err != nil {
			t.Fatal(err)
		}
		if !k.Certificate().Equal(e.Certificate) {
			t.Error("the certificate on the token differs from the one exported")
		}
		k.Close()
	}
}

// The private key's secret attributes cannot be read: it never leaves.
func TestPrivateKeyIsNotExtractable(t *testing.T) {
	p := drillProvider()
	ref := newToken(t)
	e := enroll(t, p, ref, 2048)
	c11, err := crypto11.Configure(&crypto11.Config{Path: hsm.Module, TokenLabel: ref.Get("token"), Pin: "1234"})
	if err != nil {
		t.Fatal(err)
	}
	defer c11.Close()
	kp, err := c11.FindRSAKeyPair([]byte(e.Ref.Get("id")), nil)
	if err != nil || kp == nil {
		t.Fatalf("key not found: %v", err)
	}
	for _, a := range []crypto11.AttributeType{p11.CKA_PRIVATE_EXPONENT, p11.CKA_PRIME_1} {
		_, err := c11.GetAttribute(kp, a)
		if err == nil || !isCKR(err, p11.CKR_ATTRIBUTE_SENSITIVE) {
			t.Errorf("reading attribute %#x: %v (want CKR_ATTRIBUTE_SENSITIVE)", a, err)
		}
	}
}

func TestDecryptionPaths(t *testing.T) {
	p := drillProvider()
	ref := newToken(t)
	e := enroll(t, p, ref, 2048)
	k, err := p.OpenKey(context.Background(), e.Ref, pin("1234"))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	pub := k.Public()
	cek := make([]byte, 64)
	rand.Read(cek)
	for _, c := range []struct {
		alg     string
		encrypt func() ([]byte, error)
	}{
		{jwe.AlgRSAOAEP256, func() ([]byte, error) { return rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, cek, nil) }},
		{jwe.AlgRSAOAEP, func() ([]byte, error) { return rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, cek, nil) }},
		{jwe.AlgRSA15, func() ([]byte, error) { return rsa.EncryptPKCS1v15(rand.Reader, pub, cek) }},
	} {
		ct, err := c.encrypt()
		if err != nil {
			t.Fatal(err)
		}
		got, err := k.DecryptKey(c.alg, ct)
		if err != nil || string(got) != string(cek) {
			t.Fatalf("%s: %x %v", c.alg, got, err)
		}
		t.Logf("%s: %s", c.alg, k.DecryptPath())
		if c.alg == jwe.AlgRSAOAEP256 && !strings.Contains(k.DecryptPath(), "CKM_RSA") {
			t.Errorf("path not reported: %q", k.DecryptPath())
		}
	}
	// A share JWE encrypted to the token's certificate opens through jwe.
	share := []byte("a share's words")
	compact, err := jwe.EncryptRSAOAEP256(pub, "not used", share, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := jwe.Parse(compact)
	got, err := o.Decrypt(k)
	if err != nil || string(got) != string(share) {
		t.Fatalf("share JWE: %q %v", got, err)
	}
	// A ciphertext for another key fails cleanly.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	ct, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, &other.PublicKey, cek, nil)
	if _, err := k.DecryptKey(jwe.AlgRSAOAEP256, ct); err == nil {
		t.Error("decrypted a ciphertext for another key")
	}
}

// Debian 12's SoftHSM 2.6.1 refuses OAEP-SHA256; this documents what the
// installed one does, so a change of SoftHSM is noticed.
func TestSoftHSMOAEPSHA256Behaviour(t *testing.T) {
	p := drillProvider()
	e := enroll(t, p, newToken(t), 2048)
	k, err := p.OpenKey(context.Background(), e.Ref, pin("1234"))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	ct, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, k.Public(), []byte("x"), nil)
	if _, err := k.DecryptKey(jwe.AlgRSAOAEP256, ct); err != nil {
		t.Fatal(err)
	}
	// Debian 12's SoftHSM 2.6.1 refuses OAEP-SHA256 on the token; if a newer
	// SoftHSM accepts it, the fallback is no longer exercised here and
	// needs another test token.
	if got, want := k.DecryptPath(), "CKM_RSA_X_509 on the token, OAEP decoded in Custodian"; got != want {
		t.Errorf("RSA-OAEP-256 went through %q, want the raw-RSA fallback %q", got, want)
	}
}

// With one try left the PIN is not even asked for unless the caller
// allows the last try; a locked PIN is reported without trying.
func TestLastRetryAndLockedPINAreRefusedWithoutTrying(t *testing.T) {
	p := drillProvider()
	asked := token.OpenOptions{PIN: func(context.Context, token.PINRequest) ([]byte, error) {
		t.Error("the PIN was asked for")
		return nil, errors.New("no")
	}}
	final := slotToken{module: hsm.Module, info: p11.TokenInfo{Label: "t", Flags: flagTokenInitialized | flagUserPINFinalTry}}
	_, err := p.login(context.Background(), final, asked, "test")
	var pe *token.PINError
	if !errors.As(err, &pe) || !pe.LastRetry || pe.RetriesLeft != 1 {
		t.Errorf("final try: %v", err)
	}
	locked := slotToken{module: hsm.Module, info: p11.TokenInfo{Label: "t", Flags: flagTokenInitialized | flagUserPINLocked}}
	_, err = p.login(context.Background(), locked, asked, "test")
	if !errors.As(err, &pe) || !pe.Blocked {
		t.Errorf("locked: %v", err)
	}
}

func TestWrongPINIsTypedAndCountsDown(t *testing.T) {
	p := drillProvider()
	ref := newToken(t)
	e := enroll(t, p, ref, 2048)
	_, err := p.OpenKey(context.Background(), e.Ref, pin("0000"))
	var pe *token.PINError
	if !errors.As(err, &pe) || pe.Blocked {
		t.Fatalf("wrong PIN: %v", err)
	}
	h, err := p.Health(context.Background(), ref, token.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after one wrong PIN: retries %d, warnings %v", h.PINRetries, h.Warnings)
	if len(h.Warnings) == 0 {
		t.Error("SoftHSM flags a low PIN count after a wrong PIN; the health should say so")
	}
	// The right PIN still opens it and resets the flags.
	k, err := p.OpenKey(context.Background(), e.Ref, pin("1234"))
	if err != nil {
		t.Fatal(err)
	}
	k.Close()
}

func TestListAndFindErrors(t *testing.T) {
	p := drillProvider()
	ref := newToken(t)
	// Other modules on the machine may fail (ykcs11 without pcscd): List
	// reports them next to what the others found.
	infos, err := p.List(context.Background())
	if err != nil {
		t.Log(err)
	}
	found := false
	for _, in := range infos {
		found = found || in.Label == ref.Get("token")
	}
	if !found {
		t.Errorf("List does not show %s: %v", ref.Get("token"), infos)
	}
	missing, _ := token.ParseURI("pkcs11:token=no-such-token?module-path=" + hsm.Module)
	if _, err := p.OpenKey(context.Background(), missing, pin("1234")); !errors.Is(err, token.ErrNotFound) || !strings.Contains(err.Error(), "tokens present") {
		t.Errorf("missing token: %v", err)
	}
	empty := newToken(t)
	if _, err := p.OpenKey(context.Background(), empty, pin("1234")); !errors.Is(err, token.ErrNotFound) {
		t.Errorf("token without a key: %v", err)
	}
	bad, _ := token.ParseURI("pkcs11:token=x?module-path=" + filepath.Join(t.TempDir(), "nope.so"))
	var me *ModuleError
	if _, err := p.OpenKey(context.Background(), bad, pin("1")); !errors.As(err, &me) || !strings.Contains(err.Error(), "nope.so") {
		t.Errorf("missing module: %v", err)
	}
}
