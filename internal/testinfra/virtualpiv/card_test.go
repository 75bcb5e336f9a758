package virtualpiv_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"math/big"
	"testing"

	"github.com/custodian-hsm/custodian/internal/testinfra/virtualpiv"
	pivgo "github.com/go-piv/piv-go/v2/piv"
)

func TestSelectVersionSerial(t *testing.T) {
	c, err := virtualpiv.New(virtualpiv.Options{Serial: 31337001})
	if err != nil {
		t.Fatal(err)
	}
	_, sw := exchange(t, c, 0xFD, 0, 0, nil)
	wantSW(t, "GET VERSION before any SELECT", sw, 0x6D00)
	_, sw = exchange(t, c, 0xA4, 0x04, 0x00, []byte{0xA0, 0x00, 0x00, 0x06, 0x47})
	wantSW(t, "SELECT of an unknown application", sw, 0x6A82)

	apt := must(t, c, 0xA4, 0x04, 0x00, []byte{0xA0, 0x00, 0x00, 0x03, 0x08})
	if apt[0] != 0x61 {
		t.Fatalf("SELECT PIV answered %x, want an application property template (61)", apt)
	}
	if v := must(t, c, 0xFD, 0, 0, nil); !bytes.Equal(v, []byte{5, 7, 1}) {
		t.Fatalf("GET VERSION = %x, want 050701", v)
	}
	if s := must(t, c, 0xF8, 0, 0, nil); binary.BigEndian.Uint32(s) != 31337001 {
		t.Fatalf("GET SERIAL = %x, want 31337001", s)
	}
	_, sw = exchange(t, c, 0x42, 0, 0, nil)
	wantSW(t, "an unknown instruction", sw, 0x6D00)
	wantSW(t, "CLA 80", status(c.Transmit([]byte{0x80, 0xFD, 0, 0})), 0x6E00)
	wantSW(t, "a truncated APDU", status(c.Transmit([]byte{0x00, 0xFD})), 0x6700)
	wantSW(t, "Lc longer than the data", status(c.Transmit([]byte{0x00, 0x20, 0x00, 0x80, 0x08, 0x31})), 0x6700)

	// The OTP application gives the serial to firmware before 5.
	must(t, c, 0xA4, 0x04, 0x00, []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x20, 0x01, 0x01})
	if s := must(t, c, 0x01, 0x10, 0x00, nil); binary.BigEndian.Uint32(s) != 31337001 {
		t.Fatalf("OTP serial = %x", s)
	}
	_, sw = exchange(t, c, 0xFD, 0, 0, nil)
	wantSW(t, "a PIV instruction while the OTP application is selected", sw, 0x6D00)
}

func TestPINCountsDownBlocksAndPUKUnblocks(t *testing.T) {
	c := newCard(t, virtualpiv.Options{})
	_, sw := exchange(t, c, 0x20, 0x00, 0x80, nil)
	wantSW(t, "empty VERIFY on a fresh card", sw, 0x63C3)
	wantSW(t, "wrong PIN 1", verifyPIN(t, c, "654321"), 0x63C2)
	wantSW(t, "wrong PIN 2", verifyPIN(t, c, "654321"), 0x63C1)
	md, _ := metadata(t, c, 0x80)
	if !bytes.Equal(md[0x06], []byte{3, 1}) || !bytes.Equal(md[0x05], []byte{1}) || !bytes.Equal(md[0x01], []byte{0xFF}) {
		t.Fatalf("PIN metadata %x: want retries 03 01, default 01, algorithm FF", md)
	}
	wantSW(t, "right PIN resets the counter", verifyPIN(t, c, "123456"), 0x9000)
	_, sw = exchange(t, c, 0x20, 0x00, 0x80, nil)
	wantSW(t, "empty VERIFY once verified", sw, 0x9000)
	_, sw = exchange(t, c, 0x20, 0xFF, 0x80, nil)
	wantSW(t, "VERIFY P1 FF", sw, 0x9000)
	_, sw = exchange(t, c, 0x20, 0x00, 0x80, nil)
	wantSW(t, "empty VERIFY after P1 FF", sw, 0x63C3)

	for i, want := range []uint16{0x63C2, 0x63C1, 0x6983} {
		wantSW(t, "wrong PIN", verifyPIN(t, c, "000000"), want)
		_ = i
	}
	wantSW(t, "right PIN once blocked", verifyPIN(t, c, "123456"), 0x6983)
	_, sw = exchange(t, c, 0x20, 0x00, 0x80, nil)
	wantSW(t, "empty VERIFY once blocked", sw, 0x6983)
	md, _ = metadata(t, c, 0x80)
	if !bytes.Equal(md[0x06], []byte{3, 0}) {
		t.Fatalf("PIN retries in metadata %x, want 03 00", md[0x06])
	}

	_, sw = exchange(t, c, 0x2C, 0x00, 0x80, append(padPIN("87654321"), padPIN("24681357")...))
	wantSW(t, "unblock with a wrong PUK", sw, 0x63C2)
	_, sw = exchange(t, c, 0x2C, 0x00, 0x80, append(padPIN("12345678"), padPIN("2468")...))
	wantSW(t, "unblock to a 4-digit PIN", sw, 0x6A80)
	must(t, c, 0x2C, 0x00, 0x80, append(padPIN("12345678"), padPIN("24681357")...))
	wantSW(t, "the new PIN", verifyPIN(t, c, "24681357"), 0x9000)
	md, _ = metadata(t, c, 0x80)
	if !bytes.Equal(md[0x05], []byte{0}) || !bytes.Equal(md[0x06], []byte{3, 3}) {
		t.Fatalf("PIN metadata after unblock %x: want not default, retries 03 03", md)
	}
	md, _ = metadata(t, c, 0x81)
	if !bytes.Equal(md[0x06], []byte{3, 3}) {
		t.Fatalf("PUK retries %x after a wrong then a right PUK, want 03 03", md[0x06])
	}

	// Selecting the application again forgets the verification.
	selectPIV(t, c)
	_, sw = exchange(t, c, 0x20, 0x00, 0x80, nil)
	wantSW(t, "empty VERIFY after SELECT", sw, 0x63C3)
	c.PowerOff()
	selectPIV(t, c)
	wantSW(t, "the PIN survives power off", verifyPIN(t, c, "24681357"), 0x9000)
}

func TestChangePINAndPUK(t *testing.T) {
	c := newCard(t, virtualpiv.Options{})
	_, sw := exchange(t, c, 0x24, 0x00, 0x80, append(padPIN("123456"), padPIN("12345")...))
	wantSW(t, "a 5-digit new PIN", sw, 0x6A80)
	_, sw = exchange(t, c, 0x20, 0x00, 0x80, nil)
	wantSW(t, "a refused format spends no retry", sw, 0x63C3)
	_, sw = exchange(t, c, 0x24, 0x00, 0x80, append(padPIN("999999"), padPIN("11223344")...))
	wantSW(t, "change with a wrong PIN", sw, 0x63C2)
	must(t, c, 0x24, 0x00, 0x80, append(padPIN("123456"), padPIN("11223344")...))
	wantSW(t, "old PIN after change", verifyPIN(t, c, "123456"), 0x63C2)
	wantSW(t, "new PIN", verifyPIN(t, c, "11223344"), 0x9000)

	must(t, c, 0x24, 0x00, 0x81, append(padPIN("12345678"), padPIN("87654321")...))
	for _, want := range []uint16{0x63C2, 0x63C1, 0x6983, 0x6983} {
		_, sw = exchange(t, c, 0x24, 0x00, 0x81, append(padPIN("12345678"), padPIN("12345678")...))
		wantSW(t, "changing the PUK with the old PUK", sw, want)
	}
	_, sw = exchange(t, c, 0x2C, 0x00, 0x80, append(padPIN("87654321"), padPIN("24681357")...))
	wantSW(t, "unblock with a blocked PUK", sw, 0x6983)
}

func TestResetOnlyWhenPINAndPUKBlocked(t *testing.T) {
	c := newCard(t, virtualpiv.Options{})
	wantSW(t, "management key", authenticate(t, c, virtualpiv.AlgAES192, virtualpiv.DefaultManagementKey), 0x9000)
	generate(t, c, 0x9D, virtualpiv.AlgECCP256, virtualpiv.PINPolicyOnce, virtualpiv.TouchPolicyNever)
	_, sw := exchange(t, c, 0xFB, 0, 0, nil)
	wantSW(t, "RESET with PIN and PUK usable", sw, 0x6985)
	for i := 0; i < 3; i++ {
		verifyPIN(t, c, "000000")
	}
	_, sw = exchange(t, c, 0xFB, 0, 0, nil)
	wantSW(t, "RESET with only the PIN blocked", sw, 0x6985)
	for i := 0; i < 3; i++ {
		exchange(t, c, 0x24, 0x00, 0x81, append(padPIN("00000000"), padPIN("00000000")...))
	}
	must(t, c, 0xFB, 0, 0, nil)
	wantSW(t, "factory PIN after reset", verifyPIN(t, c, "123456"), 0x9000)
	_, sw = metadata(t, c, 0x9D)
	wantSW(t, "slot 9D after reset", sw, 0x6A88)
	if _, sw := exchange(t, c, 0xCB, 0x3F, 0xFF, []byte{0x5C, 0x03, 0x5F, 0xFF, 0x01}); sw != 0x9000 {
		t.Fatalf("the attestation certificate is gone after reset (%04X); a YubiKey keeps it", sw)
	}
}

// ykman piv reset, APDU by APDU (yubikit's PivSession.reset): VERIFY
// with an empty PIN until the PIN is blocked, then RESET RETRY COUNTER
// with an empty PUK and an empty new PIN until the PUK is blocked, then
// RESET. A YubiKey checks the PUK before the new PIN's format, so the
// empty new PIN does not stop the PUK from counting down.
func TestYkmanResetSequence(t *testing.T) {
	c := newCard(t, virtualpiv.Options{})
	must(t, c, 0x24, 0x00, 0x80, append(padPIN("123456"), padPIN("24681357")...))
	empty := padPIN("")
	for _, want := range []uint16{0x63C2, 0x63C1, 0x6983} {
		_, sw := exchange(t, c, 0x20, 0x00, 0x80, empty)
		wantSW(t, "VERIFY with an empty PIN", sw, want)
	}
	for _, want := range []uint16{0x63C2, 0x63C1, 0x6983, 0x6983} {
		_, sw := exchange(t, c, 0x2C, 0x00, 0x80, append(empty, empty...))
		wantSW(t, "RESET RETRY COUNTER with an empty PUK and an empty new PIN", sw, want)
	}
	must(t, c, 0xFB, 0, 0, nil)
	wantSW(t, "factory PIN after ykman's reset", verifyPIN(t, c, "123456"), 0x9000)
}

// CHANGE REFERENCE DATA checks the current PIN or PUK before the new
// value's format: a wrong current value with a malformed new one counts
// down; a right one with a malformed new one is refused (6A80) and
// changes nothing.
func TestChangeReferenceChecksTheCurrentValueFirst(t *testing.T) {
	c := newCard(t, virtualpiv.Options{})
	for _, ref := range []struct {
		p2           byte
		right, wrong string
	}{{0x80, "123456", "999999"}, {0x81, "12345678", "99999999"}} {
		_, sw := exchange(t, c, 0x24, 0x00, ref.p2, append(padPIN(ref.wrong), padPIN("")...))
		wantSW(t, "a wrong current value and an empty new one", sw, 0x63C2)
		_, sw = exchange(t, c, 0x24, 0x00, ref.p2, append(padPIN(ref.right), padPIN("123")...))
		wantSW(t, "the right current value and a 3-digit new one", sw, 0x6A80)
		must(t, c, 0x24, 0x00, ref.p2, append(padPIN(ref.right), padPIN("55667788")...))
	}
	wantSW(t, "the changed PIN", verifyPIN(t, c, "55667788"), 0x9000)
}

func TestManagementKeyAES192And3DES(t *testing.T) {
	c := newCard(t, virtualpiv.Options{})
	md, _ := metadata(t, c, 0x9B)
	if !bytes.Equal(md[0x01], []byte{virtualpiv.AlgAES192}) || !bytes.Equal(md[0x05], []byte{1}) {
		t.Fatalf("management key metadata %x: want AES-192 (0A), default", md)
	}
	_, sw := exchange(t, c, 0x47, 0x00, 0x9A, tlv(0xAC, []byte{0x80, 0x01, virtualpiv.AlgECCP256}))
	wantSW(t, "GENERATE without the management key", sw, 0x6982)

	wrong := bytes.Repeat([]byte{0x42}, 24)
	wantSW(t, "a wrong AES-192 key", authenticate(t, c, virtualpiv.AlgAES192, wrong), 0x6982)
	wantSW(t, "3DES while the card has AES-192", authenticate(t, c, virtualpiv.Alg3DES, virtualpiv.DefaultManagementKey), 0x6A80)
	wantSW(t, "default AES-192 key", authenticate(t, c, virtualpiv.AlgAES192, virtualpiv.DefaultManagementKey), 0x9000)

	// Switch to a 3DES key, as on older firmware.
	key3 := []byte("0123456789abcdefABCDEFGH")
	must(t, c, 0xFF, 0xFF, 0xFF, append([]byte{virtualpiv.Alg3DES, 0x9B, 24}, key3...))
	md, _ = metadata(t, c, 0x9B)
	if !bytes.Equal(md[0x01], []byte{virtualpiv.Alg3DES}) || !bytes.Equal(md[0x05], []byte{0}) {
		t.Fatalf("management key metadata %x after SET MANAGEMENT KEY: want 3DES, not default", md)
	}
	selectPIV(t, c)
	_, sw = exchange(t, c, 0xFF, 0xFF, 0xFF, append([]byte{virtualpiv.AlgAES192, 0x9B, 24}, wrong...))
	wantSW(t, "SET MANAGEMENT KEY after SELECT", sw, 0x6982)
	wantSW(t, "the old key", authenticate(t, c, virtualpiv.AlgAES192, virtualpiv.DefaultManagementKey), 0x6A80)
	wantSW(t, "the new 3DES key", authenticate(t, c, virtualpiv.Alg3DES, key3), 0x9000)
	generate(t, c, 0x9A, virtualpiv.AlgECCP256, 0, 0)

	legacy := newCard(t, virtualpiv.Options{LegacyManagementKey: true})
	wantSW(t, "legacy default 3DES key", authenticate(t, legacy, virtualpiv.Alg3DES, virtualpiv.DefaultManagementKey), 0x9000)

	// Mutual authentication step 2 without step 1.
	_, sw = exchange(t, c, 0x87, virtualpiv.Alg3DES, 0x9B, tlv(0x7C, append(tlv(0x80, make([]byte, 8)), tlv(0x81, make([]byte, 8))...)))
	wantSW(t, "a witness the card never sent", sw, 0x6985)
}

func TestManagementKeyTouch(t *testing.T) {
	var touches int
	c := newCard(t, virtualpiv.Options{Touch: func(r virtualpiv.TouchRequest) bool { touches++; return r.Slot == 0x9B }})
	wantSW(t, "default key", authenticate(t, c, virtualpiv.AlgAES192, virtualpiv.DefaultManagementKey), 0x9000)
	key := bytes.Repeat([]byte{7}, 32)
	must(t, c, 0xFF, 0xFF, 0xFE, append([]byte{virtualpiv.AlgAES256, 0x9B, 32}, key...))
	wantSW(t, "AES-256 key with touch", authenticate(t, c, virtualpiv.AlgAES256, key), 0x9000)
	if touches != 1 {
		t.Fatalf("touch asked %d times, want 1", touches)
	}
}

func TestGenerateRSAAndRawOperation(t *testing.T) {
	// A known key through the key source, so that the card's answer can be
	// compared with math/big.
	known, err := testPool().Key(2048)
	if err != nil {
		t.Fatal(err)
	}
	c := newCard(t, virtualpiv.Options{RSAKeys: func(bits int) (*rsa.PrivateKey, error) { return known, nil }})
	wantSW(t, "management key", authenticate(t, c, virtualpiv.AlgAES192, virtualpiv.DefaultManagementKey), 0x9000)
	pub := rsaPublic(t, generate(t, c, 0x9D, virtualpiv.AlgRSA2048, virtualpiv.PINPolicyOnce, virtualpiv.TouchPolicyNever))
	if !pub.Equal(&known.PublicKey) {
		t.Fatal("GENERATE returned a public key other than the one generated")
	}
	md, _ := metadata(t, c, 0x9D)
	if !bytes.Equal(md[0x01], []byte{virtualpiv.AlgRSA2048}) || !bytes.Equal(md[0x02], []byte{0x02, 0x01}) || !bytes.Equal(md[0x03], []byte{0x01}) {
		t.Fatalf("slot metadata %x: want RSA-2048, policy once/never, generated", md)
	}

	m := make([]byte, 256)
	rand.Read(m[1:])
	cipher := new(big.Int).Exp(new(big.Int).SetBytes(m), big.NewInt(int64(pub.E)), pub.N).FillBytes(make([]byte, 256))
	_, sw := rawRSA(t, c, 0x9D, virtualpiv.AlgRSA2048, cipher)
	wantSW(t, "raw RSA without the PIN (policy once)", sw, 0x6982)
	wantSW(t, "PIN", verifyPIN(t, c, "123456"), 0x9000)
	out, sw := rawRSA(t, c, 0x9D, virtualpiv.AlgRSA2048, cipher)
	wantSW(t, "raw RSA", sw, 0x9000)
	want := new(big.Int).Exp(new(big.Int).SetBytes(cipher), known.D, known.N).FillBytes(make([]byte, 256))
	if !bytes.Equal(out, want) || !bytes.Equal(out, m) {
		t.Fatal("raw RSA result differs from c^d mod n computed with math/big")
	}
	// Once means once per session: a second operation needs no PIN.
	if _, sw := rawRSA(t, c, 0x9D, virtualpiv.AlgRSA2048, cipher); sw != 0x9000 {
		t.Fatalf("second raw RSA with policy once: %04X", sw)
	}

	// An OAEP ciphertext comes back still padded: the card does no padding.
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, []byte("share"), nil)
	if err != nil {
		t.Fatal(err)
	}
	em, sw := rawRSA(t, c, 0x9D, virtualpiv.AlgRSA2048, ct)
	wantSW(t, "raw RSA of an OAEP ciphertext", sw, 0x9000)
	if em[0] != 0x00 || len(em) != 256 {
		t.Fatalf("encoded message %x… is not an OAEP block", em[:4])
	}

	_, sw = rawRSA(t, c, 0x9D, virtualpiv.AlgRSA2048, cipher[1:])
	wantSW(t, "input one byte short", sw, 0x6A80)
	_, sw = rawRSA(t, c, 0x9D, virtualpiv.AlgRSA2048, bytes.Repeat([]byte{0xFF}, 256))
	wantSW(t, "input above the modulus", sw, 0x6A80)
	_, sw = rawRSA(t, c, 0x9D, virtualpiv.AlgRSA3072, make([]byte, 384))
	wantSW(t, "wrong algorithm for the slot", sw, 0x6A80)
	_, sw = rawRSA(t, c, 0x9A, virtualpiv.AlgRSA2048, cipher)
	wantSW(t, "empty slot", sw, 0x6A80)
}

func TestRealRSA2048Generation(t *testing.T) {
	c, err := virtualpiv.New(virtualpiv.Options{}) // default: real generation
	if err != nil {
		t.Fatal(err)
	}
	selectPIV(t, c)
	wantSW(t, "management key", authenticate(t, c, virtualpiv.AlgAES192, virtualpiv.DefaultManagementKey), 0x9000)
	pub := rsaPublic(t, generate(t, c, 0x82, virtualpiv.AlgRSA2048, virtualpiv.PINPolicyNever, virtualpiv.TouchPolicyNever))
	if pub.N.BitLen() != 2048 || pub.E != 65537 {
		t.Fatalf("generated key: %d bits, e=%d", pub.N.BitLen(), pub.E)
	}
	// PKCS#1 v1.5 signature made with raw RSA verifies with the public key.
	digest := sha256.Sum256([]byte("drill"))
	prefix := []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	em := append([]byte{0x00, 0x01}, bytes.Repeat([]byte{0xFF}, 256-3-len(prefix)-32)...)
	em = append(append(append(em, 0x00), prefix...), digest[:]...)
	sig, sw := rawRSA(t, c, 0x82, virtualpiv.AlgRSA2048, em)
	wantSW(t, "raw RSA with policy never and no PIN", sw, 0x9000)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		t.Fatalf("signature made on the card does not verify: %v", err)
	}
}

func TestPINPolicyAlwaysAndTouch(t *testing.T) {
	var asked []virtualpiv.TouchRequest
	allow := true
	c := newCard(t, virtualpiv.Options{Touch: func(r virtualpiv.TouchRequest) bool {
		asked = append(asked, r)
		return allow
	}})
	wantSW(t, "management key", authenticate(t, c, virtualpiv.AlgAES192, virtualpiv.DefaultManagementKey), 0x9000)
	pub := rsaPublic(t, generate(t, c, 0x9C, virtualpiv.AlgRSA2048, virtualpiv.PINPolicyAlways, virtualpiv.TouchPolicyAlways))
	in := new(big.Int).Exp(big.NewInt(12345), big.NewInt(int64(pub.E)), pub.N).FillBytes(make([]byte, 256))

	wantSW(t, "PIN", verifyPIN(t, c, "123456"), 0x9000)
	if _, sw := rawRSA(t, c, 0x9C, virtualpiv.AlgRSA2048, in); sw != 0x9000 {
		t.Fatalf("operation right after VERIFY: %04X", sw)
	}
	_, sw := rawRSA(t, c, 0x9C, virtualpiv.AlgRSA2048, in)
	wantSW(t, "second operation without VERIFY (policy always)", sw, 0x6982)
	verifyPIN(t, c, "123456")
	must(t, c, 0xFD, 0, 0, nil)
	_, sw = rawRSA(t, c, 0x9C, virtualpiv.AlgRSA2048, in)
	wantSW(t, "operation with another command after VERIFY", sw, 0x6982)
	if len(asked) != 1 || asked[0].Slot != 0x9C || asked[0].Policy != virtualpiv.TouchPolicyAlways || asked[0].Serial != c.Serial() {
		t.Fatalf("touch requests %+v, want one for slot 9C", asked)
	}
	allow = false
	verifyPIN(t, c, "123456")
	_, sw = rawRSA(t, c, 0x9C, virtualpiv.AlgRSA2048, in)
	wantSW(t, "touch refused", sw, 0x6982)

	// Cached touch: one touch covers the next operations (fresh card, so
	// that no earlier touch is cached).
	allow = true
	asked = nil
	c = newCard(t, virtualpiv.Options{Touch: func(r virtualpiv.TouchRequest) bool {
		asked = append(asked, r)
		return allow
	}})
	wantSW(t, "management key", authenticate(t, c, virtualpiv.AlgAES192, virtualpiv.DefaultManagementKey), 0x9000)
	generate(t, c, 0x9E, virtualpiv.AlgECCP256, virtualpiv.PINPolicyNever, virtualpiv.TouchPolicyCached)
	digest := sha256.Sum256([]byte("x"))
	for i := 0; i < 3; i++ {
		must(t, c, 0x87, virtualpiv.AlgECCP256, 0x9E, tlv(0x7C, append([]byte{0x82, 0x00}, tlv(0x81, digest[:])...)))
	}
	if len(asked) != 1 || asked[0].Policy != virtualpiv.TouchPolicyCached {
		t.Fatalf("cached touch asked %d times, want 1", len(asked))
	}
}

func TestECCP256SignAndECDH(t *testing.T) {
	c := newCard(t, virtualpiv.Options{})
	wantSW(t, "management key", authenticate(t, c, virtualpiv.AlgAES192, virtualpiv.DefaultManagementKey), 0x9000)
	point := value(t, generate(t, c, 0x9A, virtualpiv.AlgECCP256, virtualpiv.PINPolicyNever, virtualpiv.TouchPolicyNever), 0x86)
	x, y := elliptic.Unmarshal(elliptic.P256(), point) //nolint:staticcheck // test decoding only
	if x == nil {
		t.Fatal("the public point is not on P-256")
	}
	pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: x, Y: y}
	digest := sha256.Sum256([]byte("attest me"))
	resp := must(t, c, 0x87, virtualpiv.AlgECCP256, 0x9A, tlv(0x7C, append([]byte{0x82, 0x00}, tlv(0x81, digest[:])...)))
	sig := value(t, value(t, resp, 0x7C), 0x82)
	if !ecdsa.VerifyASN1(pub, digest[:], sig) {
		t.Fatal("ECDSA signature from the card does not verify")
	}
	peer, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	peerECDH, _ := peer.ECDH()
	resp = must(t, c, 0x87, virtualpiv.AlgECCP256, 0x9A, tlv(0x7C, append([]byte{0x82, 0x00}, tlv(0x85, peerECDH.PublicKey().Bytes())...)))
	shared := value(t, value(t, resp, 0x7C), 0x82)
	cardPub, _ := pub.ECDH()
	want, _ := peerECDH.ECDH(cardPub)
	if !bytes.Equal(shared, want) {
		t.Fatal("ECDH result differs")
	}
}

func TestChainingAndGetResponse(t *testing.T) {
	c := newCard(t, virtualpiv.Options{})
	wantSW(t, "GET RESPONSE with nothing pending", status(c.Transmit([]byte{0x00, 0xC0, 0, 0, 0})), 0x6985)
	wantSW(t, "management key", authenticate(t, c, virtualpiv.AlgAES192, virtualpiv.DefaultManagementKey), 0x9000)

	// A 1000-byte object goes in four chained links and comes back in
	// four responses.
	obj := make([]byte, 1000)
	rand.Read(obj)
	put := append([]byte{0x5C, 0x03, 0x5F, 0xC1, 0x0D}, tlv(0x53, obj)...)
	must(t, c, 0xDB, 0x3F, 0xFF, put)
	resp := c.Transmit([]byte{0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x0D})
	// 53 82 03 E8 + 1000 bytes = 1004 bytes: 256 now, 748 announced as 6100.
	if len(resp) != 258 || status(resp) != 0x6100 {
		t.Fatalf("first response: %d bytes, status %04X", len(resp), status(resp))
	}
	got, sw := exchange(t, c, 0xCB, 0x3F, 0xFF, []byte{0x5C, 0x03, 0x5F, 0xC1, 0x0D})
	wantSW(t, "GET DATA of 1000 bytes", sw, 0x9000)
	if !bytes.Equal(value(t, got, 0x53), obj) {
		t.Fatal("object read back differs")
	}

	// Le smaller than the data: Le bytes, then 61xx with the rest.
	resp = c.Transmit([]byte{0x00, 0xF8, 0, 0, 0x02})
	if len(resp) != 4 || status(resp) != 0x6102 {
		t.Fatalf("GET SERIAL with Le 2: %x, want 2 bytes and 6102", resp)
	}
	resp = c.Transmit([]byte{0x00, 0xC0, 0, 0, 0x02})
	if len(resp) != 4 || status(resp) != 0x9000 {
		t.Fatalf("GET RESPONSE: %x", resp)
	}

	// A chain interrupted by another command.
	wantSW(t, "first link", status(c.Transmit(append([]byte{0x10, 0xDB, 0x3F, 0xFF, 0x05}, 0x5C, 0x03, 0x5F, 0xC1, 0x0E))), 0x9000)
	wantSW(t, "other command in the chain", status(c.Transmit([]byte{0x00, 0xFD, 0, 0})), 0x6883)
	must(t, c, 0xFD, 0, 0, nil)

	// Extended-length APDUs are understood too.
	ext := []byte{0x00, 0x20, 0x00, 0x80, 0x00, 0x00, 0x08}
	ext = append(ext, padPIN("123456")...)
	wantSW(t, "extended VERIFY", status(c.Transmit(ext)), 0x9000)
}

func TestDataObjects(t *testing.T) {
	c := newCard(t, virtualpiv.Options{})
	get := func(tag ...byte) ([]byte, uint16) {
		return exchange(t, c, 0xCB, 0x3F, 0xFF, append([]byte{0x5C, byte(len(tag))}, tag...))
	}
	_, sw := get(0x5F, 0xC1, 0x0A)
	wantSW(t, "GET DATA of an empty certificate slot", sw, 0x6A82)
	disc, sw := get(0x7E)
	wantSW(t, "discovery object", sw, 0x9000)
	if disc[0] != 0x7E {
		t.Fatalf("discovery object %x", disc)
	}
	// piv-go's PIN-protected management key: 88 { 89 key }.
	put := append([]byte{0x5C, 0x03, 0x5F, 0xC1, 0x09}, tlv(0x53, append([]byte{0x88, 0x1A, 0x89, 0x18}, bytes.Repeat([]byte{9}, 24)...))...)
	_, sw = exchange(t, c, 0xDB, 0x3F, 0xFF, put)
	wantSW(t, "PUT DATA without the management key", sw, 0x6982)
	wantSW(t, "management key", authenticate(t, c, virtualpiv.AlgAES192, virtualpiv.DefaultManagementKey), 0x9000)
	must(t, c, 0xDB, 0x3F, 0xFF, put)
	_, sw = get(0x5F, 0xC1, 0x09)
	wantSW(t, "printed object without the PIN", sw, 0x6982)
	verifyPIN(t, c, "123456")
	got, sw := get(0x5F, 0xC1, 0x09)
	wantSW(t, "printed object with the PIN", sw, 0x9000)
	if !bytes.Equal(got, put[5:]) {
		t.Fatalf("printed object %x, want %x", got, put[5:])
	}
	big := append([]byte{0x5C, 0x03, 0x5F, 0xC1, 0x05}, tlv(0x53, make([]byte, 3053))...)
	_, sw = exchange(t, c, 0xDB, 0x3F, 0xFF, big)
	wantSW(t, "an object of 3053 bytes", sw, 0x6A84)
	_, sw = exchange(t, c, 0xDB, 0x3F, 0xFF, append([]byte{0x5C, 0x01, 0x7E}, tlv(0x53, []byte{1})...))
	wantSW(t, "PUT DATA of the discovery object", sw, 0x6A80)
	must(t, c, 0xDB, 0x3F, 0xFF, append([]byte{0x5C, 0x03, 0x5F, 0xC1, 0x09}, 0x53, 0x00))
	_, sw = get(0x5F, 0xC1, 0x09)
	wantSW(t, "deleted object", sw, 0x6A82)
}

func TestAttestationChainsToTheTestRoot(t *testing.T) {
	auth, err := virtualpiv.NewAuthority()
	if err != nil {
		t.Fatal(err)
	}
	c := newCard(t, virtualpiv.Options{Authority: auth, Serial: 20260001, FormFactor: pivgo.FormfactorUSBCKeychain})
	_, sw := exchange(t, c, 0xF9, 0x9D, 0x00, nil)
	wantSW(t, "ATTEST of an empty slot", sw, 0x6A80)
	wantSW(t, "management key", authenticate(t, c, virtualpiv.AlgAES192, virtualpiv.DefaultManagementKey), 0x9000)
	pub := rsaPublic(t, generate(t, c, 0x9D, virtualpiv.AlgRSA2048, virtualpiv.PINPolicyOnce, virtualpiv.TouchPolicyCached))

	slotCert, err := x509.ParseCertificate(must(t, c, 0xF9, 0x9D, 0x00, nil))
	if err != nil {
		t.Fatalf("ATTEST answer: %v", err)
	}
	obj := must(t, c, 0xCB, 0x3F, 0xFF, []byte{0x5C, 0x03, 0x5F, 0xFF, 0x01})
	deviceCert, err := x509.ParseCertificate(value(t, value(t, obj, 0x53)[:len(value(t, obj, 0x53))-5], 0x70))
	if err != nil {
		t.Fatalf("attestation certificate (5FFF01): %v", err)
	}
	v := pivgo.Verifier{Roots: auth.Pool()}
	a, err := v.Verify(deviceCert, slotCert)
	if err != nil {
		t.Fatalf("piv-go does not accept the attestation with the test root: %v", err)
	}
	want := pivgo.Attestation{
		Version: pivgo.Version{Major: 5, Minor: 7, Patch: 1}, Serial: 20260001,
		Formfactor: pivgo.FormfactorUSBCKeychain, PINPolicy: pivgo.PINPolicyOnce,
		TouchPolicy: pivgo.TouchPolicyCached, Slot: pivgo.SlotKeyManagement,
	}
	if *a != want {
		t.Fatalf("attestation %+v, want %+v", *a, want)
	}
	if !pub.Equal(slotCert.PublicKey) {
		t.Fatal("the attested public key is not the generated one")
	}

	// Yubico's roots (piv-go's default) must not accept a virtual card.
	if _, err := pivgo.Verify(deviceCert, slotCert); err == nil {
		t.Fatal("a virtual card's attestation verified against Yubico's roots")
	}
	// Another test root does not either.
	other, _ := virtualpiv.NewAuthority()
	if _, err := (&pivgo.Verifier{Roots: other.Pool()}).Verify(deviceCert, slotCert); err == nil {
		t.Fatal("attestation verified against an unrelated root")
	}

	// Imported keys cannot be attested.
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	scalar := k.D.FillBytes(make([]byte, 32))
	must(t, c, 0xFE, virtualpiv.AlgECCP256, 0x9E, append(tlv(0x06, scalar), 0xAA, 0x01, 0x01, 0xAB, 0x01, 0x01))
	_, sw = exchange(t, c, 0xF9, 0x9E, 0x00, nil)
	wantSW(t, "ATTEST of an imported key", sw, 0x6A80)
	md, _ := metadata(t, c, 0x9E)
	if !bytes.Equal(md[0x03], []byte{0x02}) {
		t.Fatalf("origin of an imported key %x, want 02", md[0x03])
	}
}
