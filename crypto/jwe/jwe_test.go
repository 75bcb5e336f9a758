package jwe

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var b64 = base64.RawURLEncoding

// TestRFC7518AppendixB3 is the published known answer for
// AES_256_CBC_HMAC_SHA_512.
func TestRFC7518AppendixB3(t *testing.T) {
	k := unhex(t, `
		00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f
		20 21 22 23 24 25 26 27 28 29 2a 2b 2c 2d 2e 2f 30 31 32 33 34 35 36 37 38 39 3a 3b 3c 3d 3e 3f`)
	p := []byte("A cipher system must not be required to be secret, and it must be able to fall into the hands of the enemy without inconvenience")
	iv := unhex(t, "1a f3 8c 2d c2 b9 6f fd d8 66 94 09 23 41 bc 04")
	a := []byte("The second principle of Auguste Kerckhoffs")
	wantE := unhex(t, `
		4a ff aa ad b7 8c 31 c5 da 4b 1b 59 0d 10 ff bd 3d d8 d5 d3 02 42 35 26 91 2d a0 37 ec bc c7 bd
		82 2c 30 1d d6 7c 37 3b cc b5 84 ad 3e 92 79 c2 e6 d1 2a 13 74 b7 7f 07 75 53 df 82 94 10 44 6b
		36 eb d9 70 66 29 6a e6 42 7e a7 5c 2e 08 46 a1 1a 09 cc f5 37 0d c8 0b fe cb ad 28 c7 3f 09 b3
		a3 b7 5e 66 2a 25 94 41 0a e4 96 b2 e2 e6 60 9e 31 e6 e0 2c c8 37 f0 53 d2 1f 37 ff 4f 51 95 0b
		be 26 38 d0 9d d7 a4 93 09 30 80 6d 07 03 b1 f6`)
	wantT := unhex(t, `
		4d d3 b4 c0 88 a7 f4 5c 21 68 39 64 5b 20 12 bf 2e 62 69 a8 c5 6a 81 6d bc 1b 26 77 61 95 5b c5`)
	if len(p) != 128 {
		t.Fatalf("plaintext is %d bytes, RFC says 128", len(p))
	}
	e, tag, err := SealA256CBCHS512(k, iv, a, p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e, wantE) {
		t.Errorf("E = %x\nwant %x", e, wantE)
	}
	if !bytes.Equal(tag, wantT) {
		t.Errorf("T = %x\nwant %x", tag, wantT)
	}
	got, err := OpenA256CBCHS512(k, iv, a, wantE, wantT)
	if err != nil || !bytes.Equal(got, p) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	bad := bytes.Clone(wantT)
	bad[31] ^= 1
	if _, err := OpenA256CBCHS512(k, iv, a, wantE, bad); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("flipped tag: %v", err)
	}
	if _, err := OpenA256CBCHS512(k, iv, a[:len(a)-1], wantE, wantT); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("shortened AAD: %v", err)
	}
}

type dirVector struct {
	CEKHex     string `json:"cek_hex"`
	IVHex      string `json:"iv_hex"`
	Plaintext  string `json:"plaintext"`
	HeaderJSON string `json:"header_json"`
	Compact    string `json:"compact"`
}

func TestDirVector(t *testing.T) {
	var file struct {
		Dir dirVector `json:"jwe_dir_a256cbc_hs512"`
	}
	if err := json.Unmarshal(readVector(t, "primitives.json"), &file); err != nil {
		t.Fatal(err)
	}
	v := file.Dir
	cek, iv := unhex(t, v.CEKHex), unhex(t, v.IVHex)
	got, err := EncryptDir(cek, "hsm_backup", []byte(v.Plaintext), bytes.NewReader(iv))
	if err != nil {
		t.Fatal(err)
	}
	if got != v.Compact {
		t.Fatalf("EncryptDir =\n%s\nwant\n%s", got, v.Compact)
	}
	o, err := Parse(v.Compact)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := b64.DecodeString(o.RawHeader); string(h) != v.HeaderJSON {
		t.Errorf("header %s, want %s", h, v.HeaderJSON)
	}
	if o.Header != (Header{Alg: AlgDir, Enc: EncA256CBCHS512, Kid: "hsm_backup"}) {
		t.Errorf("Header = %+v", o.Header)
	}
	pt, err := o.DecryptDir(cek)
	if err != nil || string(pt) != v.Plaintext {
		t.Fatalf("DecryptDir = %q, %v", pt, err)
	}
	if o.Compact() != v.Compact {
		t.Fatal("Compact does not reproduce the input")
	}
}

// TestHeaderMemberOrder pins the exact header text the writers produce.
func TestHeaderMemberOrder(t *testing.T) {
	cek := make([]byte, 64)
	cases := map[string]string{
		"hsm_backup": `{"alg":"dir","enc":"A256CBC-HS512","kid":"hsm_backup"}`,
		"":           `{"alg":"dir","enc":"A256CBC-HS512","kid":""}`,
		// Python json.dumps escapes (ensure_ascii), as the Azure CLI writes.
		`q"<>&\ü`:      `{"alg":"dir","enc":"A256CBC-HS512","kid":"q\"<>&\\\u00fc"}`,
		"日本😀":          `{"alg":"dir","enc":"A256CBC-HS512","kid":"\u65e5\u672c\ud83d\ude00"}`,
		"tab\tnl\n":    `{"alg":"dir","enc":"A256CBC-HS512","kid":"tab\tnl\n"}`,
		"partition_xy": `{"alg":"dir","enc":"A256CBC-HS512","kid":"partition_xy"}`,
	}
	for kid, want := range cases {
		s, err := EncryptDir(cek, kid, []byte("x"), nil)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := b64.DecodeString(strings.Split(s, ".")[0])
		if string(h) != want {
			t.Errorf("kid %q: header %s, want %s", kid, h, want)
		}
		o, err := Parse(s)
		if err != nil || o.Header.Kid != kid {
			t.Errorf("kid %q did not round-trip: %+v, %v", kid, o, err)
		}
	}
	if _, err := EncryptDir(cek, "bad\xff", []byte("x"), nil); err == nil {
		t.Error("invalid UTF-8 kid accepted")
	}

	k := testKey(t)
	s, err := EncryptRSAOAEP256(&k.PublicKey, "not used", []byte("k"), nil)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := b64.DecodeString(strings.Split(s, ".")[0])
	if want := `{"alg":"RSA-OAEP-256","enc":"A256CBC-HS512","kid":"not used"}`; string(h) != want {
		t.Errorf("RSA header %s, want %s", h, want)
	}
}

var (
	keyOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

func testKey(tb testing.TB) *rsa.PrivateKey {
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			tb.Fatal(err)
		}
		rsaKey = k
	})
	return rsaKey
}

func TestRoundTrip(t *testing.T) {
	k := testKey(t)
	cek := make([]byte, 64)
	rand.Read(cek)
	for n := 0; n <= 70; n++ {
		msg := make([]byte, n)
		rand.Read(msg)
		s, err := EncryptDir(cek, "tag", msg, nil)
		if err != nil {
			t.Fatal(err)
		}
		o, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		if want := (n/16 + 1) * 16; len(o.Ciphertext) != want {
			t.Fatalf("%d-byte plaintext: ciphertext %d bytes, want %d", n, len(o.Ciphertext), want)
		}
		got, err := o.DecryptDir(cek)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("dir, %d bytes: %x, %v", n, got, err)
		}
		if n%10 == 0 {
			s, err := EncryptRSAOAEP256(&k.PublicKey, "not used", msg, nil)
			if err != nil {
				t.Fatal(err)
			}
			o, err := Parse(s)
			if err != nil {
				t.Fatal(err)
			}
			got, err := o.Decrypt(RSAKeyDecrypter{k})
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("RSA, %d bytes: %x, %v", n, got, err)
			}
			if o.Compact() != s {
				t.Fatal("Compact does not reproduce the input")
			}
		}
	}
	// Two encryptions of the same data differ (fresh IV, fresh CEK).
	a, _ := EncryptDir(cek, "t", []byte("same"), nil)
	b, _ := EncryptDir(cek, "t", []byte("same"), nil)
	if a == b {
		t.Error("EncryptDir repeated its output: IV is not random")
	}
}

// rawKD plays a token that only does raw RSA: it returns c^d mod n without
// leading zeros and lets UnpadRawKey remove the padding.
type rawKD struct{ k *rsa.PrivateKey }

func (r rawKD) DecryptKey(alg string, ek []byte) ([]byte, error) {
	c := new(big.Int).SetBytes(ek)
	m := c.Exp(c, r.k.D, r.k.N)
	return UnpadRawKey(alg, m.Bytes(), r.k.Size())
}

// makeRSA builds an RSA JWE with a given alg the way other writers do, so
// the reader is tested against crypto/rsa rather than against our writer.
func makeRSA(t *testing.T, pub *rsa.PublicKey, alg string, plaintext []byte) string {
	t.Helper()
	cek := make([]byte, 64)
	rand.Read(cek)
	var ek []byte
	var err error
	switch alg {
	case AlgRSAOAEP256:
		ek, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, cek, nil)
	case AlgRSAOAEP:
		ek, err = rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, cek, nil)
	case AlgRSA15:
		ek, err = rsa.EncryptPKCS1v15(rand.Reader, pub, cek)
	}
	if err != nil {
		t.Fatal(err)
	}
	// Member order and spacing as some other writer might choose.
	header := b64.EncodeToString([]byte(`{"enc": "A256CBC-HS512", "kid": "6f1c1a5e-0000-4000-8000-000000000001", "alg": "` + alg + `", "x5t": "abc"}`))
	iv := make([]byte, 16)
	rand.Read(iv)
	ct, tag, err := SealA256CBCHS512(cek, iv, []byte(header), plaintext)
	if err != nil {
		t.Fatal(err)
	}
	return header + "." + b64.EncodeToString(ek) + "." + b64.EncodeToString(iv) + "." + b64.EncodeToString(ct) + "." + b64.EncodeToString(tag)
}

func TestReadRSAAlgs(t *testing.T) {
	k := testKey(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	share := []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	for _, alg := range []string{AlgRSAOAEP256, AlgRSAOAEP, AlgRSA15} {
		s := makeRSA(t, &k.PublicKey, alg, share)
		o, err := Parse(s)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if o.Header.Alg != alg || o.Header.Kid != "6f1c1a5e-0000-4000-8000-000000000001" {
			t.Fatalf("%s: header %+v", alg, o.Header)
		}
		for name, kd := range map[string]KeyDecrypter{"software": RSAKeyDecrypter{k}, "raw": rawKD{k}} {
			got, err := o.Decrypt(kd)
			if err != nil || !bytes.Equal(got, share) {
				t.Errorf("%s via %s decrypter: %q, %v", alg, name, got, err)
			}
		}
		// The wrong custodian key must fail, not return garbage. (For
		// RSA1_5 a wrong key may, rarely, pass the padding check and then
		// fail the tag; either way it is an error.)
		for name, kd := range map[string]KeyDecrypter{"software": RSAKeyDecrypter{other}, "raw": rawKD{other}} {
			if got, err := o.Decrypt(kd); err == nil {
				t.Errorf("%s via %s decrypter with the wrong key returned %q", alg, name, got)
			}
		}
	}
}

// cekDecrypter returns a fixed CEK and remembers it, to check wiping.
type cekDecrypter struct {
	cek []byte
	err error
}

func (c *cekDecrypter) DecryptKey(string, []byte) ([]byte, error) { return c.cek, c.err }

func TestDecryptChecks(t *testing.T) {
	k := testKey(t)
	s := makeRSA(t, &k.PublicKey, AlgRSAOAEP256, []byte("share"))
	o, _ := Parse(s)

	short := &cekDecrypter{cek: bytes.Repeat([]byte{1}, 32)}
	if _, err := o.Decrypt(short); err == nil || !strings.Contains(err.Error(), "32 bytes, want 64") {
		t.Errorf("32-byte CEK: %v", err)
	}
	wrong := &cekDecrypter{cek: bytes.Repeat([]byte{7}, 64)}
	if _, err := o.Decrypt(wrong); !errors.Is(err, ErrAuthentication) {
		t.Errorf("wrong CEK: %v", err)
	}
	if !bytes.Equal(wrong.cek, make([]byte, 64)) {
		t.Error("Decrypt did not wipe the CEK")
	}
	tokenErr := errors.New("token: PIN blocked")
	if _, err := o.Decrypt(&cekDecrypter{err: tokenErr}); !errors.Is(err, tokenErr) {
		t.Errorf("token error not wrapped: %v", err)
	}
	if _, err := o.Decrypt(nil); err == nil {
		t.Error("nil decrypter accepted")
	}
	if _, err := o.DecryptDir(make([]byte, 64)); err == nil || !strings.Contains(err.Error(), "needs alg \"dir\"") {
		t.Errorf("DecryptDir on an RSA JWE: %v", err)
	}
	d, _ := EncryptDir(make([]byte, 64), "t", []byte("x"), nil)
	od, _ := Parse(d)
	if _, err := od.Decrypt(RSAKeyDecrypter{k}); err == nil || !strings.Contains(err.Error(), "use DecryptDir") {
		t.Errorf("Decrypt on a dir JWE: %v", err)
	}
	if _, err := od.DecryptDir(make([]byte, 63)); err == nil {
		t.Error("63-byte CEK accepted")
	}
	if _, err := (RSAKeyDecrypter{k}).DecryptKey("RSA-OAEP-384", o.EncryptedKey); err == nil {
		t.Error("unknown alg accepted by RSAKeyDecrypter")
	}
	if _, err := (RSAKeyDecrypter{k}).DecryptKey(AlgRSAOAEP256, o.EncryptedKey[1:]); err == nil || !strings.Contains(err.Error(), "different key") {
		t.Errorf("short encrypted key: %v", err)
	}
	if _, err := UnpadRawKey("dir", nil, 256); err == nil {
		t.Error("UnpadRawKey accepted dir")
	}
	if _, err := EncryptRSAOAEP256(nil, "x", nil, nil); err == nil {
		t.Error("nil public key accepted")
	}
	if _, err := EncryptDir(make([]byte, 32), "x", nil, nil); err == nil {
		t.Error("32-byte CEK accepted by EncryptDir")
	}
	if _, err := EncryptDir(make([]byte, 64), "x", nil, bytes.NewReader(make([]byte, 5))); err == nil || !strings.Contains(err.Error(), "randomness") {
		t.Errorf("short random source: %v", err)
	}
}

func TestSmallRSAKeyRefused(t *testing.T) {
	// Only the size matters: the check comes before any RSA operation.
	n := new(big.Int).Lsh(big.NewInt(1), 1023)
	n.Add(n, big.NewInt(1))
	small := &rsa.PublicKey{N: n, E: 65537}
	if _, err := EncryptRSAOAEP256(small, "x", []byte("m"), nil); err == nil || !strings.Contains(err.Error(), "1024 bits") {
		t.Errorf("1024-bit key: %v", err)
	}
}

// TestPaddingAfterValidTag: an authenticated message with broken PKCS#7
// padding is a faulty sender, reported as such (not ErrAuthentication).
func TestPaddingAfterValidTag(t *testing.T) {
	cek := make([]byte, 64)
	rand.Read(cek)
	iv := make([]byte, 16)
	for _, last := range [][]byte{
		bytes.Repeat([]byte{0}, 16),                        // pad byte 0
		bytes.Repeat([]byte{17}, 16),                       // pad byte > 16
		append(bytes.Repeat([]byte{3}, 14), 1, 2),          // 2 but the byte before is 1
		append(bytes.Repeat([]byte{16}, 15), 0x0f),         // 15 but not all 15s
		append([]byte{9}, bytes.Repeat([]byte{16}, 15)...), // 16 but first is 9
	} {
		// Encrypt raw blocks (already "padded" wrongly) and MAC them.
		ct, _, err := SealA256CBCHS512(cek, iv, nil, last)
		if err != nil {
			t.Fatal(err)
		}
		ct = ct[:16] // drop the padding block Seal added
		tag := macA256CBCHS512(cek[:32], iv, nil, ct)
		_, err = OpenA256CBCHS512(cek, iv, nil, ct, tag)
		if err == nil || errors.Is(err, ErrAuthentication) || !strings.Contains(err.Error(), "padding") {
			t.Errorf("last block %x: %v", last, err)
		}
	}
	// Full padding block of 16s is valid and gives an empty plaintext.
	ct, tag, _ := SealA256CBCHS512(cek, iv, nil, nil)
	if pt, err := OpenA256CBCHS512(cek, iv, nil, ct, tag); err != nil || len(pt) != 0 {
		t.Errorf("empty plaintext: %x, %v", pt, err)
	}
	// Lengths are checked before anything else.
	for name, f := range map[string]func() error{
		"cek 32":  func() error { _, err := OpenA256CBCHS512(cek[:32], iv, nil, ct, tag); return err },
		"iv 12":   func() error { _, err := OpenA256CBCHS512(cek, iv[:12], nil, ct, tag); return err },
		"tag 16":  func() error { _, err := OpenA256CBCHS512(cek, iv, nil, ct, tag[:16]); return err },
		"ct 15":   func() error { _, err := OpenA256CBCHS512(cek, iv, nil, ct[:15], tag); return err },
		"ct 0":    func() error { _, err := OpenA256CBCHS512(cek, iv, nil, nil, tag); return err },
		"seal iv": func() error { _, _, err := SealA256CBCHS512(cek, iv[:8], nil, nil); return err },
	} {
		if err := f(); err == nil || errors.Is(err, ErrAuthentication) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestFlippedBits flips every bit of every decoded part of a dir JWE (and a
// sample of an RSA JWE's encrypted key) and checks that decryption fails
// with the error specific to that part.
func TestFlippedBits(t *testing.T) {
	cek := make([]byte, 64)
	rand.Read(cek)
	k := testKey(t)
	dir, _ := EncryptDir(cek, "hsm_backup", []byte("security domain payload, two blocks"), nil)
	rsaJWE, _ := EncryptRSAOAEP256(&k.PublicKey, "not used", []byte("share bytes"), nil)

	mutate := func(s string, part, byteIdx, bit int) string {
		parts := strings.Split(s, ".")
		b, _ := b64.DecodeString(parts[part])
		b[byteIdx] ^= 1 << bit
		parts[part] = b64.EncodeToString(b)
		return strings.Join(parts, ".")
	}
	decrypt := func(s string) error {
		o, err := Parse(s)
		if err != nil {
			return err
		}
		if o.Header.Alg == AlgDir {
			_, err = o.DecryptDir(cek)
		} else {
			_, err = o.Decrypt(RSAKeyDecrypter{k})
		}
		return err
	}
	for _, tc := range []struct {
		name string
		jwe  string
	}{{"dir", dir}, {"RSA", rsaJWE}} {
		parts := strings.Split(tc.jwe, ".")
		for part := 0; part < 5; part++ {
			raw, _ := b64.DecodeString(parts[part])
			for i := range raw {
				if part == 1 && i%16 != 0 {
					continue // RSA decryptions are slow; sample the encrypted key
				}
				for bit := 0; bit < 8; bit++ {
					err := decrypt(mutate(tc.jwe, part, i, bit))
					var fe *FormatError
					switch part {
					case 0: // header: unparseable, or changed AAD
						if !(errors.As(err, &fe) && fe.Part == "protected header") && !errors.Is(err, ErrAuthentication) {
							t.Fatalf("%s header byte %d bit %d: %v", tc.name, i, bit, err)
						}
					case 1: // encrypted key: the key decryption fails
						if err == nil || !strings.Contains(err.Error(), "decrypting the content key") {
							t.Fatalf("%s encrypted key byte %d bit %d: %v", tc.name, i, bit, err)
						}
					default:
						if !errors.Is(err, ErrAuthentication) {
							t.Fatalf("%s %s byte %d bit %d: %v", tc.name, partNames[part], i, bit, err)
						}
					}
				}
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	cek := make([]byte, 64)
	good, _ := EncryptDir(cek, "t", []byte("hello"), nil)
	p := strings.Split(good, ".")
	join := func(parts ...string) string { return strings.Join(parts, ".") }
	hdr := func(json string) string { return b64.EncodeToString([]byte(json)) }
	rsaKey := b64.EncodeToString(make([]byte, 256))
	cases := []struct {
		name, jwe, part, reason string
	}{
		{"four parts", join(p[0], p[1], p[2], p[3]), "compact serialization", "4 dot-separated parts"},
		{"six parts", good + ".", "compact serialization", "6 dot-separated parts"},
		{"empty", "", "compact serialization", "1 dot-separated"},
		{"JSON serialization", `{"protected":"x"}`, "compact serialization", "1 dot-separated"},
		{"padding", join(p[0], p[1], p[2]+"==", p[3], p[4]), "IV", "padding"},
		{"standard base64", join(p[0], p[1], p[2], p[3], "+"+p[4][1:]), "tag", "standard base64"},
		{"newline", join(p[0], p[1], p[2], p[3][:4]+"\n"+p[3][4:], p[4]), "ciphertext", `'\n'`},
		{"space", join(" "+p[0], p[1], p[2], p[3], p[4]), "protected header", "' '"},
		{"length 4n+1", join(p[0], p[1], p[2]+"AAA", p[3], p[4]), "IV", "length"},
		{"non-canonical tail", join(p[0], p[1], p[2][:21]+"x", p[3], p[4]), "IV", "canonical"},
		{"empty header", join("", p[1], p[2], p[3], p[4]), "protected header", "empty"},
		{"header not JSON", join(hdr("alg=dir"), p[1], p[2], p[3], p[4]), "protected header", "not a JSON object"},
		{"header array", join(hdr(`["alg"]`), p[1], p[2], p[3], p[4]), "protected header", "not a JSON object"},
		{"header trailing", join(hdr(`{"alg":"dir","enc":"A256CBC-HS512"} x`), p[1], p[2], p[3], p[4]), "protected header", ""},
		{"header truncated", join(hdr(`{"alg":"dir","enc":"A256CBC-HS512"`), p[1], p[2], p[3], p[4]), "protected header", "not valid JSON"},
		{"duplicate alg", join(hdr(`{"alg":"dir","enc":"A256CBC-HS512","alg":"RSA1_5"}`), p[1], p[2], p[3], p[4]), "protected header", `"alg" twice`},
		{"escaped duplicate", join(hdr(`{"alg":"dir","enc":"A256CBC-HS512","\u0061lg":"dir"}`), p[1], p[2], p[3], p[4]), "protected header", `"alg" twice`},
		{"alg number", join(hdr(`{"alg":1,"enc":"A256CBC-HS512"}`), p[1], p[2], p[3], p[4]), "protected header", `"alg" is not a string`},
		{"kid object", join(hdr(`{"alg":"dir","enc":"A256CBC-HS512","kid":{}}`), p[1], p[2], p[3], p[4]), "protected header", `"kid" is not a string`},
		{"no alg", join(hdr(`{"enc":"A256CBC-HS512"}`), p[1], p[2], p[3], p[4]), "protected header", `no "alg"`},
		{"no enc", join(hdr(`{"alg":"dir"}`), p[1], p[2], p[3], p[4]), "protected header", `no "enc"`},
		{"ALG upper case", join(hdr(`{"ALG":"dir","enc":"A256CBC-HS512"}`), p[1], p[2], p[3], p[4]), "protected header", `no "alg"`},
		{"enc GCM", join(hdr(`{"alg":"dir","enc":"A256GCM"}`), p[1], p[2], p[3], p[4]), "protected header", `unsupported enc "A256GCM"`},
		{"alg unknown", join(hdr(`{"alg":"ECDH-ES","enc":"A256CBC-HS512"}`), p[1], p[2], p[3], p[4]), "protected header", `unsupported alg "ECDH-ES"`},
		{"zip", join(hdr(`{"alg":"dir","enc":"A256CBC-HS512","zip":"DEF"}`), p[1], p[2], p[3], p[4]), "protected header", "zip"},
		{"crit", join(hdr(`{"alg":"dir","enc":"A256CBC-HS512","crit":["x"],"x":1}`), p[1], p[2], p[3], p[4]), "protected header", "crit"},
		{"invalid UTF-8", join(b64.EncodeToString([]byte("{\"alg\":\"dir\",\"enc\":\"A256CBC-HS512\",\"kid\":\"\xff\"}")), p[1], p[2], p[3], p[4]), "protected header", "UTF-8"},
		{"dir with key", join(p[0], rsaKey, p[2], p[3], p[4]), "encrypted key", "must be empty"},
		{"RSA without key", join(hdr(`{"alg":"RSA-OAEP-256","enc":"A256CBC-HS512"}`), "", p[2], p[3], p[4]), "encrypted key", "is empty"},
		{"RSA huge key", join(hdr(`{"alg":"RSA-OAEP-256","enc":"A256CBC-HS512"}`), b64.EncodeToString(make([]byte, 4096)), p[2], p[3], p[4]), "encrypted key", "exceeds"},
		{"IV 12 bytes", join(p[0], p[1], b64.EncodeToString(make([]byte, 12)), p[3], p[4]), "IV", "12 bytes, want 16"},
		{"IV empty", join(p[0], p[1], "", p[3], p[4]), "IV", "0 bytes"},
		{"ciphertext empty", join(p[0], p[1], p[2], "", p[4]), "ciphertext", "0 bytes"},
		{"ciphertext 17", join(p[0], p[1], p[2], b64.EncodeToString(make([]byte, 17)), p[4]), "ciphertext", "17 bytes"},
		{"tag 16", join(p[0], p[1], p[2], p[3], b64.EncodeToString(make([]byte, 16))), "tag", "16 bytes, want 32"},
		{"tag 64", join(p[0], p[1], p[2], p[3], b64.EncodeToString(make([]byte, 64))), "tag", "64 bytes, want 32"},
		{"too long", strings.Repeat("A", MaxCompactLength+1), "compact serialization", "exceeds"},
		{"header too long", join(hdr(`{"alg":"dir","enc":"A256CBC-HS512","x":"`+strings.Repeat("a", MaxHeaderLength)+`"}`), p[1], p[2], p[3], p[4]), "protected header", "exceeds"},
	}
	for _, c := range cases {
		o, err := Parse(c.jwe)
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Errorf("%s: got (%v, %v), want a *FormatError", c.name, o, err)
			continue
		}
		if fe.Part != c.part || !strings.Contains(fe.Reason, c.reason) {
			t.Errorf("%s: got part %q reason %q, want part %q reason ~%q", c.name, fe.Part, fe.Reason, c.part, c.reason)
		}
	}
	// Tolerated: unknown members, any member order, whitespace inside JSON.
	tolerant := join(hdr(` { "kid" : "x", "typ":"JWE", "enc":"A256CBC-HS512", "alg":"dir" } `), p[1], p[2], p[3], p[4])
	o, err := Parse(tolerant)
	if err != nil || o.Header != (Header{Alg: AlgDir, Enc: EncA256CBCHS512, Kid: "x"}) {
		t.Errorf("tolerant header: %+v, %v", o, err)
	}
	if o.Compact() != tolerant {
		t.Error("Compact changed a tolerated header")
	}
}

// FuzzParse: Parse never panics, and what it accepts re-serializes to the
// identical string (one encoding per object) and survives decryption
// attempts without panicking.
func FuzzParse(f *testing.F) {
	cek := make([]byte, 64)
	dir, _ := EncryptDir(cek, "hsm_backup", []byte("fuzz"), nil)
	f.Add(dir)
	f.Add("eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2Q0JDLUhTNTEyIiwia2lkIjoiaHNtX2JhY2t1cCJ9..AAECAwQFBgcICQoLDA0ODw.sP-P7nWpBWTMY4a8y_LL1Lk2VxGjRL0QPpsK47q7dDI.SOefSfXnco91HJnlDeXXU1ji_0PhraQNZY87FUkv6o0")
	f.Add("eyJhbGciOiJSU0EtT0FFUC0yNTYiLCJlbmMiOiJBMjU2Q0JDLUhTNTEyIn0.AAAA.AAECAwQFBgcICQoLDA0ODw.AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("....")
	f.Add("a.b.c.d.e")
	f.Add("e30.AA.AA.AA.AA")
	f.Fuzz(func(t *testing.T, s string) {
		o, err := Parse(s)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse error is not a *FormatError: %v", err)
			}
			return
		}
		if o.Compact() != s {
			t.Fatalf("Compact() = %q, input %q", o.Compact(), s)
		}
		if o.Header.Alg == AlgDir {
			o.DecryptDir(cek)
		} else {
			o.Decrypt(&cekDecrypter{cek: make([]byte, 64)})
		}
	})
}

func BenchmarkOpen4K(b *testing.B) {
	cek := make([]byte, 64)
	iv := make([]byte, 16)
	pt := make([]byte, 4096)
	ct, tag, _ := SealA256CBCHS512(cek, iv, []byte("header"), pt)
	for b.Loop() {
		if _, err := OpenA256CBCHS512(cek, iv, []byte("header"), ct, tag); err != nil {
			b.Fatal(err)
		}
	}
}
