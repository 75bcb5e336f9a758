package piv

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/custodian-hsm/custodian/crypto/jwe"
	"github.com/custodian-hsm/custodian/crypto/token"
	pivgo "github.com/go-piv/piv-go/v2/piv"
)

// env is a set of YubiKeys the suite runs on: virtual cards behind a
// private pcscd, or one real YubiKey (see the package comment).
type env struct {
	p *Provider
	// refs reference each card by serial.
	refs []*token.URI
	// virtual is true for the virtual cards (Drill expected).
	virtual bool
}

// Credentials the suite sets on every card.
var (
	testPIN = []byte("24681357")
	testPUK = []byte("97531864")
)

func pinFunc(pin []byte) token.PINFunc {
	return func(ctx context.Context, req token.PINRequest) ([]byte, error) {
		return append([]byte(nil), pin...), nil
	}
}

// reset returns card i to factory state (PIV application reset).
func (e *env) reset(t *testing.T, i int) {
	t.Helper()
	c, err := e.p.find(context.Background(), e.refs[i])
	if err != nil {
		t.Fatal(err)
	}
	yk, err := pivgo.Open(c.reader)
	if err != nil {
		t.Fatal(err)
	}
	defer yk.Close()
	if err := yk.Reset(); err != nil {
		t.Fatalf("resetting the PIV application of %s: %v", c.info, err)
	}
}

// prepare resets card i and replaces its factory credentials.
func (e *env) prepare(t *testing.T, i int) {
	t.Helper()
	e.reset(t, i)
	ctx := context.Background()
	if err := e.p.ChangePIN(ctx, e.refs[i], defaultPIN, testPIN, false); err != nil {
		t.Fatalf("ChangePIN: %v", err)
	}
	if err := e.p.ChangePUK(ctx, e.refs[i], defaultPUK, testPUK, false); err != nil {
		t.Fatalf("ChangePUK: %v", err)
	}
	if err := e.p.SetRandomManagementKey(ctx, e.refs[i], token.OpenOptions{PIN: pinFunc(testPIN)}); err != nil {
		t.Fatalf("SetRandomManagementKey: %v", err)
	}
}

func (e *env) enroll(t *testing.T, i int, req token.EnrollRequest) *token.Enrollment {
	t.Helper()
	en, err := e.p.Enroll(context.Background(), e.refs[i], req, token.OpenOptions{PIN: pinFunc(testPIN)})
	if err != nil {
		t.Fatalf("Enroll: %v", err)
	}
	return en
}

func (e *env) open(t *testing.T, ref *token.URI, opts token.OpenOptions) token.Key {
	t.Helper()
	k, err := e.p.OpenKey(context.Background(), ref, opts)
	if err != nil {
		t.Fatalf("OpenKey %s: %v", ref, err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

// runSuite runs every card test on e. Each subtest resets the cards it
// uses, so they do not depend on each other.
func runSuite(t *testing.T, e *env) {
	t.Run("List", func(t *testing.T) { testList(t, e) })
	t.Run("FactoryHealth", func(t *testing.T) { testFactoryHealth(t, e) })
	t.Run("EnrollNeedsChangedCredentials", func(t *testing.T) { testEnrollNeedsChangedCredentials(t, e) })
	t.Run("DecryptOAEPAndPKCS1", func(t *testing.T) { testDecrypt(t, e) })
	t.Run("WrongPINCountsDownAndBlocks", func(t *testing.T) { testWrongPIN(t, e) })
	t.Run("TouchAndRetiredSlot", func(t *testing.T) { testTouchAndRetiredSlot(t, e) })
	t.Run("LargeKeys", func(t *testing.T) { testLargeKeys(t, e) })
	t.Run("Recovery", func(t *testing.T) { testRecovery(t, e) })
}

func testList(t *testing.T, e *env) {
	infos, err := e.p.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range e.refs {
		var found *token.Info
		for i := range infos {
			if infos[i].Serial == ref.Get("serial") {
				found = &infos[i]
			}
		}
		if found == nil {
			t.Fatalf("List %v lacks serial %s", infos, ref.Get("serial"))
		}
		if found.Kind != token.KindYubiKey || found.Ref.String() != "yubikey:serial="+ref.Get("serial") || found.Firmware == "" {
			t.Errorf("info %+v", *found)
		}
		if e.virtual && (!found.Drill || found.Model != "virtual YubiKey, DRILL") {
			t.Errorf("virtual card not marked as a drill: %+v", *found)
		}
		if !e.virtual && (found.Drill || !strings.HasPrefix(found.Model, "YubiKey")) {
			t.Errorf("real YubiKey listed as %+v", *found)
		}
	}
}

func testFactoryHealth(t *testing.T, e *env) {
	e.reset(t, 0)
	h, err := e.p.Health(context.Background(), e.refs[0], token.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h.PINRetries != 3 || h.PUKRetries != 3 {
		t.Errorf("retries PIN %d PUK %d, want 3 and 3", h.PINRetries, h.PUKRetries)
	}
	if h.DefaultPIN != token.Yes || h.DefaultPUK != token.Yes || h.DefaultManagementKey != token.Yes {
		t.Errorf("defaults %v %v %v, want all yes", h.DefaultPIN, h.DefaultPUK, h.DefaultManagementKey)
	}
	if len(h.FreeSlots) != 24 {
		t.Errorf("free slots %v, want all 24", h.FreeSlots)
	}
	if !strings.Contains(strings.Join(h.Warnings, "\n"), "factory default PIN, PUK, management key") {
		t.Errorf("warnings %q do not name the defaults", h.Warnings)
	}
}

func testEnrollNeedsChangedCredentials(t *testing.T, e *env) {
	ctx := context.Background()
	ref := e.refs[0]
	e.reset(t, 0)
	req := token.EnrollRequest{Name: "Alice Custodian", CeremonyID: "drill-2026-11"}
	opts := token.OpenOptions{PIN: pinFunc(defaultPIN)}

	_, err := e.p.Enroll(ctx, ref, req, opts)
	var de *DefaultCredentialsError
	if !errors.As(err, &de) || !de.PIN || !de.PUK || !de.ManagementKey {
		t.Fatalf("Enroll on a factory card: %v, want a DefaultCredentialsError naming all three", err)
	}
	if err := e.p.ChangePIN(ctx, ref, defaultPIN, testPIN, false); err != nil {
		t.Fatal(err)
	}
	if err := e.p.ChangePUK(ctx, ref, defaultPUK, testPUK, false); err != nil {
		t.Fatal(err)
	}
	_, err = e.p.Enroll(ctx, ref, req, token.OpenOptions{PIN: pinFunc(testPIN)})
	if !errors.As(err, &de) || de.PIN || de.PUK || !de.ManagementKey || !strings.Contains(err.Error(), "management key") {
		t.Fatalf("Enroll with the default management key: %v", err)
	}
	if err := e.p.SetRandomManagementKey(ctx, ref, token.OpenOptions{PIN: pinFunc(testPIN)}); err != nil {
		t.Fatal(err)
	}
	h, err := e.p.Health(ctx, ref, token.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h.DefaultPIN != token.No || h.DefaultPUK != token.No || h.DefaultManagementKey != token.No {
		t.Fatalf("after the changes, defaults %v %v %v", h.DefaultPIN, h.DefaultPUK, h.DefaultManagementKey)
	}
	// The management key is now only reachable through the PIN.
	c, _ := e.p.find(ctx, ref)
	yk, err := pivgo.Open(c.reader)
	if err != nil {
		t.Fatal(err)
	}
	md, err := yk.Metadata(string(testPIN))
	yk.Close()
	if err != nil || md.ManagementKey == nil || len(*md.ManagementKey) != 24 || bytes.Equal(*md.ManagementKey, pivgo.DefaultManagementKey) {
		t.Fatalf("PIN-protected management key: %v %v", md, err)
	}

	var stages []string
	req.Progress = func(s string) { stages = append(stages, s) }
	en, err := e.p.Enroll(ctx, ref, req, token.OpenOptions{PIN: pinFunc(testPIN)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := en.Ref.String(), "yubikey:serial="+ref.Get("serial")+";slot=9d"; got != want {
		t.Errorf("Ref %s, want %s", got, want)
	}
	if en.Certificate.Subject.CommonName != "Alice Custodian" || en.Certificate.Subject.OrganizationalUnit[0] != "drill-2026-11" {
		t.Errorf("subject %s", en.Certificate.Subject)
	}
	if pub := en.Certificate.PublicKey.(*rsa.PublicKey); pub.N.BitLen() != 2048 {
		t.Errorf("key of %d bits", pub.N.BitLen())
	}
	if en.Token.Serial != ref.Get("serial") || en.Token.Kind != token.KindYubiKey {
		t.Errorf("enrollment token %+v", en.Token)
	}
	if len(stages) < 4 {
		t.Errorf("progress stages %q", stages)
	}
	checkAttestation(t, e, en.Attestation, ref.Get("serial"), "9d", "once", "never")

	// The key opens, its certificate is the enrolled one, and it attests again.
	k := e.open(t, en.Ref, token.OpenOptions{PIN: pinFunc(testPIN)})
	if !bytes.Equal(k.Certificate().Raw, en.Certificate.Raw) {
		t.Error("OpenKey returns another certificate")
	}
	att, err := k.Attest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkAttestation(t, e, att, ref.Get("serial"), "9d", "once", "never")

	// Never overwrite a key.
	_, err = e.p.Enroll(ctx, ref, req, token.OpenOptions{PIN: pinFunc(testPIN)})
	if err == nil || !strings.Contains(err.Error(), "already holds a key") {
		t.Fatalf("second Enroll into 9d: %v", err)
	}
	h, _ = e.p.Health(ctx, ref, token.OpenOptions{})
	for _, s := range h.FreeSlots {
		if s == "9d" {
			t.Error("9d still listed as free")
		}
	}

	// With Yubico's roots, a virtual card's attestation must not verify.
	if e.virtual {
		yubico := New(Options{})
		k2, err := yubico.OpenKey(ctx, en.Ref, token.OpenOptions{PIN: pinFunc(testPIN)})
		if err != nil {
			t.Fatal(err)
		}
		defer k2.Close()
		att, err := k2.Attest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if att.Verified || att.Status != token.AttestRejected {
			t.Fatalf("the virtual card's attestation against Yubico's roots: status %v, verified %v; want rejected", att.Status, att.Verified)
		}
		if !strings.Contains(factsString(att), "chain=NOT verified") {
			t.Errorf("facts %s do not say the chain failed", factsString(att))
		}
	}
}

func factsString(a *token.Attestation) string {
	var s []string
	for _, f := range a.Facts {
		s = append(s, f.Name+"="+f.Value)
	}
	return strings.Join(s, "; ")
}

func checkAttestation(t *testing.T, e *env, a *token.Attestation, serial, slot, pinPolicy, touch string) {
	t.Helper()
	if a == nil {
		t.Fatal("no attestation")
	}
	if !a.Verified || len(a.Chain) != 2 {
		t.Fatalf("attestation not verified (%d certificates): %s", len(a.Chain), factsString(a))
	}
	facts := factsString(a)
	for _, want := range []string{"attested key=equals the certificate's public key", "serial=" + serial, "PIN policy=" + pinPolicy, "touch policy=" + touch, "chain=verified", "slot=YubiKey PIV Attestation " + slot} {
		if !strings.Contains(facts, want) {
			t.Errorf("facts %s lack %q", facts, want)
		}
	}
}

func testDecrypt(t *testing.T, e *env) {
	e.prepare(t, 0)
	en := e.enroll(t, 0, token.EnrollRequest{Name: "Bob"})
	pub := en.Certificate.PublicKey.(*rsa.PublicKey)
	k := e.open(t, en.Ref, token.OpenOptions{PIN: pinFunc(testPIN)})

	cek := make([]byte, 64)
	rand.Read(cek)
	oaep256, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, cek, nil)
	oaep1, _ := rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, cek, nil)
	pkcs1, _ := rsa.EncryptPKCS1v15(rand.Reader, pub, cek)
	for _, c := range []struct {
		alg string
		ek  []byte
	}{{"RSA-OAEP-256", oaep256}, {"RSA-OAEP", oaep1}, {"RSA1_5", pkcs1}} {
		got, err := k.DecryptKey(c.alg, c.ek)
		if err != nil {
			t.Fatalf("%s: %v", c.alg, err)
		}
		if !bytes.Equal(got, cek) {
			t.Fatalf("%s: wrong CEK", c.alg)
		}
	}
	if k.DecryptPath() != DecryptPath {
		t.Errorf("DecryptPath %q", k.DecryptPath())
	}
	// The wrong padding is an error, never garbage.
	if got, err := k.DecryptKey("RSA-OAEP", oaep256); err == nil {
		t.Fatalf("an RSA-OAEP-256 ciphertext opened as RSA-OAEP: %x", got)
	}
	// A share of the security-domain kind, through crypto/jwe.
	share := bytes.Repeat([]byte{0x01, 0x02}, 32)
	compact, err := jwe.EncryptRSAOAEP256(pub, "share", share, nil)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := jwe.Parse(compact)
	if err != nil {
		t.Fatal(err)
	}
	got, err := obj.Decrypt(k)
	if err != nil || !bytes.Equal(got, share) {
		t.Fatalf("JWE share: %x, %v", got, err)
	}
	// A ciphertext for another key does not decrypt.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	foreign, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, &other.PublicKey, cek, nil)
	if _, err := k.DecryptKey("RSA-OAEP-256", foreign); err == nil {
		t.Fatal("a ciphertext for another key decrypted")
	}
}

func testWrongPIN(t *testing.T, e *env) {
	ctx := context.Background()
	e.prepare(t, 0)
	en := e.enroll(t, 0, token.EnrollRequest{Name: "Carol"})
	wrong := []byte("11112222")
	var pe *token.PINError

	for _, left := range []int{2, 1} {
		_, err := e.p.OpenKey(ctx, en.Ref, token.OpenOptions{PIN: pinFunc(wrong)})
		if !errors.As(err, &pe) || pe.RetriesLeft != left || pe.Blocked || pe.LastRetry {
			t.Fatalf("wrong PIN: %v, want %d retries left", err, left)
		}
	}
	// One retry left: refuse without trying, and without asking.
	asked := false
	_, err := e.p.OpenKey(ctx, en.Ref, token.OpenOptions{PIN: func(context.Context, token.PINRequest) ([]byte, error) {
		asked = true
		return append([]byte(nil), testPIN...), nil
	}})
	if !errors.As(err, &pe) || !pe.LastRetry || asked {
		t.Fatalf("one retry left: %v (asked %v), want LastRetry without asking", err, asked)
	}
	if h, _ := e.p.Health(ctx, en.Ref, token.OpenOptions{}); h.PINRetries != 1 {
		t.Fatalf("the refusal spent a retry: %d left", h.PINRetries)
	}
	// Allowed to try: wrong again blocks it.
	_, err = e.p.OpenKey(ctx, en.Ref, token.OpenOptions{PIN: pinFunc(wrong), AllowLastRetry: true})
	if !errors.As(err, &pe) || !pe.Blocked {
		t.Fatalf("last wrong PIN: %v, want Blocked", err)
	}
	// Blocked: even the right PIN is not tried.
	_, err = e.p.OpenKey(ctx, en.Ref, token.OpenOptions{PIN: pinFunc(testPIN), AllowLastRetry: true})
	if !errors.As(err, &pe) || !pe.Blocked {
		t.Fatalf("blocked PIN: %v", err)
	}
	h, err := e.p.Health(ctx, en.Ref, token.OpenOptions{})
	if err != nil || h.PINRetries != 0 || !strings.Contains(strings.Join(h.Warnings, "\n"), "PIN is blocked") {
		t.Fatalf("health of a blocked PIN: %+v %v", h, err)
	}
	// A wrong PUK counts down too; the right one unblocks.
	err = e.p.Unblock(ctx, en.Ref, []byte("00000000"), testPIN, false)
	if !errors.As(err, &pe) || pe.What != "PUK" || pe.RetriesLeft != 2 {
		t.Fatalf("wrong PUK: %v", err)
	}
	if err := e.p.Unblock(ctx, en.Ref, testPUK, testPIN, false); err != nil {
		t.Fatalf("Unblock: %v", err)
	}
	k := e.open(t, en.Ref, token.OpenOptions{PIN: pinFunc(testPIN)})
	cek := bytes.Repeat([]byte{7}, 64)
	ek, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, k.Public(), cek, nil)
	if got, err := k.DecryptKey("RSA-OAEP-256", ek); err != nil || !bytes.Equal(got, cek) {
		t.Fatalf("after Unblock: %v", err)
	}
	// Closing wipes the cached PIN: the key no longer decrypts.
	k.Close()
	if _, err := k.DecryptKey("RSA-OAEP-256", ek); err == nil {
		t.Fatal("a closed key decrypted")
	}
}

func testTouchAndRetiredSlot(t *testing.T, e *env) {
	e.prepare(t, 0)
	var touches atomic.Int32
	touch := func(token.Info) { touches.Add(1) }
	en, err := e.p.Enroll(context.Background(), e.refs[0], token.EnrollRequest{Name: "Dan", Slot: "83", Touch: token.TouchCached},
		token.OpenOptions{PIN: pinFunc(testPIN), Touch: touch})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(en.Ref.String(), ";slot=83") {
		t.Errorf("Ref %s", en.Ref)
	}
	checkAttestation(t, e, en.Attestation, e.refs[0].Get("serial"), "83", "once", "cached")
	before := touches.Load()
	k := e.open(t, en.Ref, token.OpenOptions{PIN: pinFunc(testPIN), Touch: touch})
	cek := bytes.Repeat([]byte{9}, 64)
	ek, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, k.Public(), cek, nil)
	if got, err := k.DecryptKey("RSA-OAEP-256", ek); err != nil || !bytes.Equal(got, cek) {
		t.Fatalf("decrypt with touch: %v", err)
	}
	if touches.Load() != before+1 {
		t.Errorf("touch callback called %d times for one decryption", touches.Load()-before)
	}
	// 9d is still free and is the default of a reference without a slot.
	_, err = e.p.OpenKey(context.Background(), e.refs[0], token.OpenOptions{PIN: pinFunc(testPIN)})
	if !errors.Is(err, token.ErrNotFound) {
		t.Errorf("OpenKey of the empty 9d: %v", err)
	}
}

func testLargeKeys(t *testing.T, e *env) {
	c, err := e.p.find(context.Background(), e.refs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !c.fw.atLeast(5, 7, 0) {
		t.Skipf("firmware %s has no RSA-3072/4096", c.fw)
	}
	e.prepare(t, 0)
	for i, bits := range []int{3072, 4096} {
		slot := []string{"84", "85"}[i]
		en := e.enroll(t, 0, token.EnrollRequest{Name: "Erin", Bits: bits, Slot: slot})
		k := e.open(t, en.Ref, token.OpenOptions{PIN: pinFunc(testPIN)})
		if k.Public().N.BitLen() != bits {
			t.Fatalf("%d-bit key", k.Public().N.BitLen())
		}
		cek := bytes.Repeat([]byte{byte(bits)}, 64)
		ek, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, k.Public(), cek, nil)
		if got, err := k.DecryptKey("RSA-OAEP-256", ek); err != nil || !bytes.Equal(got, cek) {
			t.Fatalf("RSA-%d decrypt: %v", bits, err)
		}
	}
}
