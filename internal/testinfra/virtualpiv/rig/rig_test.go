package rig_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/custodian-hsm/custodian/crypto/token/pcsc"
	"github.com/custodian-hsm/custodian/internal/testinfra/rigtest"
	"github.com/custodian-hsm/custodian/internal/testinfra/virtualpiv"
	"github.com/custodian-hsm/custodian/internal/testinfra/virtualpiv/rig"
	pivgo "github.com/go-piv/piv-go/v2/piv"
)

var pool = func() *virtualpiv.KeyPool {
	p := virtualpiv.NewKeyPool()
	p.Warm(2048, 4)
	return p
}()

// TestEnrollThroughPCSC runs an enrolment as the token backend does it,
// with piv-go through the rig's real pcscd and vpcd: open, serial,
// version, PIN retries, key generation with the firmware 5.7 default
// (AES-192) management key, certificate, attestation, PIN-protected
// management key, and a raw RSA decryption through crypto/token/pcsc.
func TestEnrollThroughPCSC(t *testing.T) {
	r := rigtest.StartForTestWith(t, rig.Options{Cards: 1, RSAKeys: pool.Key})
	card := r.Cards()[0]

	readers, err := pivgo.Cards()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range readers {
		if !strings.HasPrefix(name, rig.ReaderPrefix) {
			t.Fatalf("piv-go sees reader %q, which is not the rig's: the process is not isolated from the system pcscd", name)
		}
	}
	if idx := indexOf(readers, r.Readers()[0]); idx < 0 {
		t.Fatalf("the card's reader %q is not among %q", r.Readers()[0], readers)
	}
	yk, err := pivgo.Open(r.Readers()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer func() { yk.Close() }()
	if v := yk.Version(); v != (pivgo.Version{Major: 5, Minor: 7, Patch: 1}) {
		t.Fatalf("version %+v", v)
	}
	serial, err := yk.Serial()
	if err != nil || serial != card.Serial() {
		t.Fatalf("serial %d (%v), want %d", serial, err, card.Serial())
	}
	if n, err := yk.Retries(); err != nil || n != 3 {
		t.Fatalf("PIN retries %d (%v), want 3", n, err)
	}
	ff, err := yk.FormFactor()
	if err != nil || ff != pivgo.FormfactorUSBAKeychain {
		t.Fatalf("form factor %v (%v)", ff, err)
	}

	// Generate with the default AES-192 management key.
	pubAny, err := yk.GenerateKey(pivgo.DefaultManagementKey, pivgo.SlotKeyManagement, pivgo.Key{
		Algorithm: pivgo.AlgorithmRSA2048, PINPolicy: pivgo.PINPolicyOnce, TouchPolicy: pivgo.TouchPolicyAlways,
	})
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	pub := pubAny.(*rsa.PublicKey)
	ki, err := yk.KeyInfo(pivgo.SlotKeyManagement)
	if err != nil {
		t.Fatal(err)
	}
	if ki.Algorithm != pivgo.AlgorithmRSA2048 || ki.PINPolicy != pivgo.PINPolicyOnce || ki.TouchPolicy != pivgo.TouchPolicyAlways || ki.Origin != pivgo.OriginGenerated || !pub.Equal(ki.PublicKey) {
		t.Fatalf("KeyInfo %+v", ki)
	}

	// Attestation verifies against the rig's TEST root, not Yubico's.
	slotCert, err := yk.Attest(pivgo.SlotKeyManagement)
	if err != nil {
		t.Fatalf("Attest: %v", err)
	}
	devCert, err := yk.AttestationCertificate()
	if err != nil {
		t.Fatalf("AttestationCertificate: %v", err)
	}
	a, err := (&pivgo.Verifier{Roots: r.AttestationRoot()}).Verify(devCert, slotCert)
	if err != nil {
		t.Fatalf("attestation does not verify against the rig's root: %v", err)
	}
	if a.Serial != card.Serial() || a.Slot != pivgo.SlotKeyManagement || a.TouchPolicy != pivgo.TouchPolicyAlways || !pub.Equal(slotCert.PublicKey) {
		t.Fatalf("attestation %+v", a)
	}
	if _, err := pivgo.Verify(devCert, slotCert); err == nil {
		t.Fatal("a virtual card's attestation verifies against Yubico's roots")
	}

	// A 1.3 KB certificate goes through chaining and GET RESPONSE.
	cert := selfIssued(t, pub)
	if err := yk.SetCertificate(pivgo.DefaultManagementKey, pivgo.SlotKeyManagement, cert); err != nil {
		t.Fatalf("SetCertificate: %v", err)
	}
	got, err := yk.Certificate(pivgo.SlotKeyManagement)
	if err != nil || !got.Equal(cert) {
		t.Fatalf("Certificate: %v", err)
	}

	// A random management key, PIN-protected as piv-go and ykman keep it.
	newKey := make([]byte, 24)
	rand.Read(newKey)
	if err := yk.SetManagementKey(pivgo.DefaultManagementKey, newKey); err != nil {
		t.Fatalf("SetManagementKey: %v", err)
	}
	if err := yk.SetMetadata(newKey, &pivgo.Metadata{ManagementKey: &newKey}); err != nil {
		t.Fatalf("SetMetadata: %v", err)
	}
	if _, err := yk.Metadata("654321"); err == nil {
		t.Fatal("Metadata with a wrong PIN succeeded")
	}
	md, err := yk.Metadata(pivgo.DefaultPIN)
	if err != nil || md.ManagementKey == nil || !bytes.Equal(*md.ManagementKey, newKey) {
		t.Fatalf("Metadata: %v", err)
	}
	if err := yk.SetCertificate(pivgo.DefaultManagementKey, pivgo.SlotKeyManagement, cert); err == nil {
		t.Fatal("the factory management key still works after SetManagementKey")
	}

	// piv-go's own decryption (PKCS#1 v1.5) with the PIN.
	priv, err := yk.PrivateKey(pivgo.SlotKeyManagement, pub, pivgo.KeyAuth{PIN: pivgo.DefaultPIN})
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := rsa.EncryptPKCS1v15(rand.Reader, pub, []byte("drill share"))
	pt, err := priv.(crypto.Decrypter).Decrypt(rand.Reader, ct, nil)
	if err != nil || string(pt) != "drill share" {
		t.Fatalf("piv-go Decrypt: %q, %v", pt, err)
	}
	yk.Close()

	// Raw RSA through Custodian's own PC/SC binding (shared mode, Le 256,
	// chained command, GET RESPONSE): an OAEP ciphertext comes back as
	// the padded message, which rsa.DecryptOAEP's inverse confirms.
	msg := []byte("security domain share")
	oaep, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, msg, nil)
	em := rawDecrypt(t, r.Readers()[0], pub, oaep)
	if em[0] != 0 {
		t.Fatalf("encoded message starts with %02x", em[0])
	}
	check := new(big.Int).Exp(new(big.Int).SetBytes(em), big.NewInt(int64(pub.E)), pub.N)
	if !bytes.Equal(check.FillBytes(make([]byte, pub.Size())), oaep) {
		t.Fatal("raw RSA through PC/SC is not c^d mod n")
	}
}

// rawDecrypt verifies the PIN and runs GENERAL AUTHENTICATE with slot 9D
// through crypto/token/pcsc.
func rawDecrypt(t *testing.T, reader string, pub *rsa.PublicKey, c []byte) []byte {
	t.Helper()
	ctx, err := pcsc.EstablishContext()
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Release()
	card, err := ctx.Connect(reader)
	if err != nil {
		t.Fatal(err)
	}
	defer card.Disconnect(pcsc.LeaveCard)
	run := func(cmd pcsc.Command) []byte {
		t.Helper()
		resp, err := pcsc.Exchange(card, cmd)
		if err != nil {
			t.Fatal(err)
		}
		if err := resp.Err(cmd.INS); err != nil {
			t.Fatal(err)
		}
		return resp.Data
	}
	run(pcsc.Command{INS: 0xA4, P1: 0x04, Data: []byte{0xA0, 0x00, 0x00, 0x03, 0x08}, Ne: 256})
	pin := append([]byte(pivgo.DefaultPIN), 0xFF, 0xFF)
	run(pcsc.Command{INS: 0x20, P2: 0x80, Data: pin})
	inner := append([]byte{0x82, 0x00, 0x81, 0x82, byte(len(c) >> 8), byte(len(c))}, c...)
	data := append([]byte{0x7C, 0x82, byte(len(inner) >> 8), byte(len(inner))}, inner...)
	resp := run(pcsc.Command{INS: 0x87, P1: 0x07, P2: 0x9D, Data: data, Ne: 256})
	// 7C 82 01 04 82 82 01 00 <256 bytes>
	if len(resp) != 8+pub.Size() || resp[0] != 0x7C || resp[4] != 0x82 {
		t.Fatalf("GENERAL AUTHENTICATE answer %x…", resp[:8])
	}
	return resp[8:]
}

func TestWrongPINCountsDownAndBlocks(t *testing.T) {
	r := rigtest.StartForTestWith(t, rig.Options{Cards: 1, RSAKeys: pool.Key})
	yk, err := pivgo.Open(r.Readers()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer yk.Close()
	for _, want := range []int{2, 1, 0} {
		err := yk.VerifyPIN("999999")
		var ae pivgo.AuthErr
		if !errors.As(err, &ae) || ae.Retries != want {
			t.Fatalf("wrong PIN: %v, want AuthErr with %d retries", err, want)
		}
	}
	if err := yk.VerifyPIN(pivgo.DefaultPIN); err == nil {
		t.Fatal("the right PIN works on a blocked card")
	}
	if n, err := yk.Retries(); err != nil || n != 0 {
		t.Fatalf("Retries on a blocked PIN: %d, %v", n, err)
	}
	if err := yk.Unblock("00000000", "24681357"); err == nil {
		t.Fatal("Unblock with a wrong PUK succeeded")
	}
	if err := yk.Unblock(pivgo.DefaultPUK, "24681357"); err != nil {
		t.Fatalf("Unblock: %v", err)
	}
	if err := yk.VerifyPIN("24681357"); err != nil {
		t.Fatalf("new PIN: %v", err)
	}
	if err := yk.Reset(); err != nil {
		t.Fatalf("Reset (blocks PIN and PUK, then resets): %v", err)
	}
	if err := yk.VerifyPIN(pivgo.DefaultPIN); err != nil {
		t.Fatalf("factory PIN after Reset: %v", err)
	}
}

// TestThreeCards checks that three cards behind one pcscd are three
// readers with distinct serials, each reachable independently, and that
// the spare slot's blank card is not taken for a YubiKey.
func TestThreeCards(t *testing.T) {
	r := rigtest.StartForTestWith(t, rig.Options{Cards: 3, RSAKeys: pool.Key})
	seen := map[uint32]string{}
	for i, name := range r.Readers() {
		yk, err := pivgo.Open(name)
		if err != nil {
			t.Fatalf("card %d: %v", i, err)
		}
		serial, err := yk.Serial()
		yk.Close()
		if err != nil {
			t.Fatal(err)
		}
		if serial != r.Cards()[i].Serial() {
			t.Fatalf("reader %q answers serial %d, want card %d's %d", name, serial, i, r.Cards()[i].Serial())
		}
		if other, dup := seen[serial]; dup {
			t.Fatalf("serial %d in readers %q and %q", serial, other, name)
		}
		seen[serial] = name
	}
	if len(seen) != 3 {
		t.Fatalf("%d distinct serials, want 3", len(seen))
	}
	// Different state per card: block card 1's PIN, card 2 is untouched.
	yk, _ := pivgo.Open(r.Readers()[1])
	for i := 0; i < 3; i++ {
		yk.VerifyPIN("000000")
	}
	yk.Close()
	yk, _ = pivgo.Open(r.Readers()[2])
	if n, err := yk.Retries(); err != nil || n != 3 {
		t.Fatalf("card 2 retries %d (%v) after blocking card 1", n, err)
	}
	yk.Close()

}

// TestRealGenerationAndSecondRig starts a rig after the others have
// closed (same process, same socket path) and generates a real RSA-2048
// key on it.
func TestRealGenerationAndSecondRig(t *testing.T) {
	r := rigtest.StartForTest(t, 1)
	yk, err := pivgo.Open(r.Readers()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer yk.Close()
	pub, err := yk.GenerateKey(pivgo.DefaultManagementKey, pivgo.SlotAuthentication, pivgo.Key{
		Algorithm: pivgo.AlgorithmRSA2048, PINPolicy: pivgo.PINPolicyNever, TouchPolicy: pivgo.TouchPolicyNever,
	})
	if err != nil {
		t.Fatal(err)
	}
	priv, err := yk.PrivateKey(pivgo.SlotAuthentication, pub, pivgo.KeyAuth{})
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("virtual"))
	sig, err := priv.(crypto.Signer).Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, digest[:], sig); err != nil {
		t.Fatal(err)
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// selfIssued returns a certificate for pub from a throwaway CA.
func selfIssued(t *testing.T, pub *rsa.PublicKey) *x509.Certificate {
	t.Helper()
	ca, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "custodian drill key"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, ca)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestStartRefusesMissingComponentsAndASecondRig(t *testing.T) {
	_, err := rig.Start(context.Background(), rig.Options{PCSCD: "/nonexistent/pcscd"})
	if err == nil || !strings.Contains(err.Error(), "Debian package pcscd") {
		t.Fatalf("Start without pcscd: %v, want an error naming the package", err)
	}
	_, err = rig.Start(context.Background(), rig.Options{Cards: 9})
	if err == nil {
		t.Fatal("Start with 9 cards succeeded")
	}
	r := rigtest.StartForTestWith(t, rig.Options{Cards: 1, RSAKeys: pool.Key})
	if _, err := rig.Start(context.Background(), rig.Options{}); err == nil || !strings.Contains(err.Error(), "another rig") {
		t.Fatalf("second rig in the process: %v", err)
	}
	if env := r.Env(); len(env) != 1 || env[0] != rig.EnvSocket+"="+r.SocketPath() {
		t.Fatalf("Env() = %q", env)
	}
	if got := os.Getenv(rig.EnvSocket); got != r.SocketPath() {
		t.Fatalf("%s = %q in the process, want %q", rig.EnvSocket, got, r.SocketPath())
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := os.Stat(r.SocketPath()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the socket is still there after Close: %v", err)
	}
}
