package oaep

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"math/big"
	"sync"
	"testing"
)

var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
)

// key returns one 2048-bit key shared by all tests (generation is slow).
func key(tb testing.TB) *rsa.PrivateKey {
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			tb.Fatal(err)
		}
		testKey = k
	})
	return testKey
}

// rawDecrypt is the RSA decryption primitive without padding, c^d mod n via
// the CRT, returned as the minimal big-endian bytes (no leading zeros) as
// some tokens do. It plays the token that only does raw RSA.
func rawDecrypt(k *rsa.PrivateKey, ciphertext []byte) []byte {
	c := new(big.Int).SetBytes(ciphertext)
	p, q := k.Primes[0], k.Primes[1]
	m1 := new(big.Int).Exp(c, k.Precomputed.Dp, p)
	m2 := new(big.Int).Exp(c, k.Precomputed.Dq, q)
	h := m1.Sub(m1, m2)
	h.Mul(h, k.Precomputed.Qinv)
	h.Mod(h, p)
	h.Mul(h, q)
	h.Add(h, m2)
	return h.Bytes()
}

// rawEncrypt is m^e mod n, k bytes long.
func rawEncrypt(k *rsa.PublicKey, em []byte) []byte {
	m := new(big.Int).SetBytes(em)
	c := m.Exp(m, big.NewInt(int64(k.E)), k.N)
	return c.FillBytes(make([]byte, k.Size()))
}

func TestAgainstCryptoRSA(t *testing.T) {
	k := key(t)
	size := k.Size()
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA1} {
		maxLen := size - 2*h.Size() - 2
		count := 0
		// Every message length 0..max, five times each (≈ 1000 per hash).
		for round := 0; round < 5; round++ {
			for n := 0; n <= maxLen; n++ {
				msg := make([]byte, n)
				rand.Read(msg)
				ct, err := rsa.EncryptOAEP(h.New(), rand.Reader, &k.PublicKey, msg, nil)
				if err != nil {
					t.Fatal(err)
				}
				raw := rawDecrypt(k, ct)
				got, err := DecodeSize(h, raw, size, nil)
				if err != nil {
					t.Fatalf("%v, %d-byte message: %v", h, n, err)
				}
				if !bytes.Equal(got, msg) {
					t.Fatalf("%v, %d-byte message: decoded %x, want %x", h, n, got, msg)
				}
				// The other hash must not accept it.
				other := crypto.SHA1
				if h == crypto.SHA1 {
					other = crypto.SHA256
				}
				if _, err := DecodeSize(other, raw, size, nil); err != ErrDecryption {
					t.Fatalf("%v ciphertext decoded with %v: err = %v", h, other, err)
				}
				count++
			}
		}
		t.Logf("%v: %d messages", h, count)
	}
}

func TestLabel(t *testing.T) {
	k := key(t)
	label := []byte("a label")
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &k.PublicKey, []byte("msg"), label)
	if err != nil {
		t.Fatal(err)
	}
	raw := rawDecrypt(k, ct)
	if got, err := DecodeSize(crypto.SHA256, raw, k.Size(), label); err != nil || string(got) != "msg" {
		t.Fatalf("with label: %q, %v", got, err)
	}
	if _, err := DecodeSize(crypto.SHA256, raw, k.Size(), nil); err != ErrDecryption {
		t.Fatalf("without label: %v", err)
	}
}

// encodeOAEP builds an EME-OAEP encoded message from an explicit DB and seed
// (RFC 8017 §7.1.1 steps 2.d–i), so tests can make precisely malformed ones.
func encodeOAEP(h crypto.Hash, y byte, seed, db []byte) []byte {
	db = append([]byte(nil), db...)
	seed = append([]byte(nil), seed...)
	mgf1XOR(db, h, seed)
	mgf1XOR(seed, h, db)
	return append(append([]byte{y}, seed...), db...)
}

func TestTestEncoderAgreesWithCryptoRSA(t *testing.T) {
	// Guards the malformed-input tests: a well-formed message built by
	// encodeOAEP must be accepted by crypto/rsa.
	k := key(t)
	lHash := sha256.Sum256(nil)
	db := append(append(lHash[:], make([]byte, k.Size()-2*32-2-5)...), 0x01, 'h', 'e', 'l', 'l', 'o')
	em := encodeOAEP(crypto.SHA256, 0, bytes.Repeat([]byte{7}, 32), db)
	got, err := rsa.DecryptOAEP(sha256.New(), nil, k, rawEncrypt(&k.PublicKey, em), nil)
	if err != nil || string(got) != "hello" {
		t.Fatalf("crypto/rsa: %q, %v", got, err)
	}
	if got, err := Decode(crypto.SHA256, em, nil); err != nil || string(got) != "hello" {
		t.Fatalf("Decode: %q, %v", got, err)
	}
}

func TestMalformed(t *testing.T) {
	const k = 256
	h := crypto.SHA256
	hLen := 32
	lHash := sha256.Sum256(nil)
	seed := bytes.Repeat([]byte{0x5a}, hLen)
	// build returns DB = lHash ‖ zeros ‖ 0x01 ‖ msg, with edits applied.
	build := func(edit func(db []byte)) []byte {
		msg := []byte("share")
		db := make([]byte, k-hLen-1)
		copy(db, lHash[:])
		db[len(db)-len(msg)-1] = 0x01
		copy(db[len(db)-len(msg):], msg)
		if edit != nil {
			edit(db)
		}
		return db
	}
	good := encodeOAEP(h, 0, seed, build(nil))
	if got, err := Decode(h, good, nil); err != nil || string(got) != "share" {
		t.Fatalf("well-formed: %q, %v", got, err)
	}

	cases := map[string][]byte{
		"first byte 0x01":          encodeOAEP(h, 0x01, seed, build(nil)),
		"first byte 0x80":          encodeOAEP(h, 0x80, seed, build(nil)),
		"bad lHash":                encodeOAEP(h, 0, seed, build(func(db []byte) { db[5] ^= 1 })),
		"bad lHash last byte":      encodeOAEP(h, 0, seed, build(func(db []byte) { db[hLen-1] ^= 0x80 })),
		"no 0x01 separator":        encodeOAEP(h, 0, seed, build(func(db []byte) { db[len(db)-6] = 0x00 })),
		"0x02 instead of 0x01":     encodeOAEP(h, 0, seed, build(func(db []byte) { db[len(db)-6] = 0x02 })),
		"non-zero byte in PS":      encodeOAEP(h, 0, seed, build(func(db []byte) { db[hLen+3] = 0x07 })),
		"all-zero DB":              encodeOAEP(h, 0, seed, make([]byte, k-hLen-1)),
		"lHash only, zeros after":  encodeOAEP(h, 0, seed, append(append([]byte(nil), lHash[:]...), make([]byte, k-2*hLen-1)...)),
		"all-zero EM":              make([]byte, k),
		"all-ones EM":              bytes.Repeat([]byte{0xff}, k),
		"too short for SHA-256":    good[:2*hLen+1],
		"empty":                    nil,
		"SHA-1 lHash with SHA-256": encodeOAEP(h, 0, seed, build(func(db []byte) { s := sha1.Sum(nil); copy(db, s[:]) })),
	}
	for name, em := range cases {
		if got, err := Decode(h, em, nil); err != ErrDecryption {
			t.Errorf("%s: got (%x, %v), want ErrDecryption", name, got, err)
		}
	}
	// The shortest valid layout: k = 2·hLen + 2, empty message right after lHash.
	minimal := encodeOAEP(h, 0, seed, append(append([]byte(nil), lHash[:]...), 0x01))
	if got, err := Decode(h, minimal, nil); err != nil || len(got) != 0 {
		t.Errorf("minimal encoding: %x, %v", got, err)
	}
	// Separator as the very last byte and the very first byte after lHash.
	last := encodeOAEP(h, 0, seed, build(func(db []byte) {
		clear(db[hLen:])
		db[len(db)-1] = 0x01
	}))
	if got, err := Decode(h, last, nil); err != nil || len(got) != 0 {
		t.Errorf("separator at the end: %x, %v", got, err)
	}
	// Decoding with the wrong hash.
	if _, err := Decode(crypto.SHA1, good, nil); err != ErrDecryption {
		t.Errorf("wrong hash: %v", err)
	}
	// Unsupported hash is a usage error, not ErrDecryption.
	if _, err := Decode(crypto.MD5, good, nil); err == nil || errors.Is(err, ErrDecryption) {
		t.Errorf("MD5: %v", err)
	}
	if _, err := Decode(0, good, nil); err == nil || errors.Is(err, ErrDecryption) {
		t.Errorf("hash 0: %v", err)
	}
	// DecodeSize: too long input, bad k.
	if _, err := DecodeSize(h, append([]byte{0}, good...), k, nil); err == nil || errors.Is(err, ErrDecryption) {
		t.Errorf("em longer than k: %v", err)
	}
	if _, err := DecodeSize(h, good, 0, nil); err == nil {
		t.Error("k = 0 accepted")
	}
	// An em one byte longer than the modulus (leading zero kept) is a
	// different layout and must fail rather than decode by accident.
	if _, err := Decode(h, append([]byte{0}, good...), nil); err != ErrDecryption {
		t.Errorf("257-byte em: %v", err)
	}
}

func TestLeftPad(t *testing.T) {
	got, err := LeftPad([]byte{1, 2}, 4)
	if err != nil || !bytes.Equal(got, []byte{0, 0, 1, 2}) {
		t.Fatalf("LeftPad = %x, %v", got, err)
	}
	if _, err := LeftPad([]byte{1, 2, 3}, 2); err == nil {
		t.Fatal("LeftPad accepted input longer than k")
	}
	if got, _ := LeftPad(nil, 3); !bytes.Equal(got, []byte{0, 0, 0}) {
		t.Fatalf("LeftPad(nil, 3) = %x", got)
	}
}

func TestPKCS1v15AgainstCryptoRSA(t *testing.T) {
	k := key(t)
	for n := 0; n <= k.Size()-11; n += 7 {
		msg := make([]byte, n)
		rand.Read(msg)
		ct, err := rsa.EncryptPKCS1v15(rand.Reader, &k.PublicKey, msg)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodePKCS1v15Size(rawDecrypt(k, ct), k.Size())
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("%d-byte message: %x, %v", n, got, err)
		}
	}
}

func TestPKCS1v15Malformed(t *testing.T) {
	const k = 256
	build := func(edit func(em []byte)) []byte {
		em := make([]byte, k)
		em[1] = 0x02
		for i := 2; i < k-6; i++ {
			em[i] = byte(i%250 + 1)
		}
		copy(em[k-5:], "share")
		if edit != nil {
			edit(em)
		}
		return em
	}
	if got, err := DecodePKCS1v15(build(nil)); err != nil || string(got) != "share" {
		t.Fatalf("well-formed: %q, %v", got, err)
	}
	cases := map[string][]byte{
		"first byte not zero":    build(func(em []byte) { em[0] = 1 }),
		"block type 1":           build(func(em []byte) { em[1] = 1 }),
		"no separator":           build(func(em []byte) { em[k-6] = 0x33 }),
		"PS of 7 bytes":          build(func(em []byte) { em[9] = 0 }),
		"PS empty":               build(func(em []byte) { em[2] = 0 }),
		"all zero":               make([]byte, k),
		"too short":              []byte{0, 2, 1, 1, 1, 1, 1, 1, 1, 1},
		"raw without leading 00": build(nil)[1:],
	}
	for name, em := range cases {
		if got, err := DecodePKCS1v15(em); err != ErrDecryption {
			t.Errorf("%s: got (%x, %v), want ErrDecryption", name, got, err)
		}
	}
	// PS of exactly 8 bytes is the minimum allowed.
	em := build(func(em []byte) { em[10] = 0 })
	if got, err := DecodePKCS1v15(em); err != nil || len(got) != k-11 {
		t.Errorf("PS of 8 bytes: %d bytes, %v", len(got), err)
	}
}

// FuzzDecode checks that arbitrary input never panics, that Decode only
// returns ErrDecryption on failure, and that what it accepts re-encodes to
// the same bytes (so it cannot accept two different encodings).
func FuzzDecode(f *testing.F) {
	lHash := sha256.Sum256(nil)
	db := append(append(lHash[:], make([]byte, 40)...), 0x01, 'x')
	f.Add(encodeOAEP(crypto.SHA256, 0, make([]byte, 32), db), true)
	f.Add(make([]byte, 66), true)
	f.Add(make([]byte, 42), false)
	f.Add(bytes.Repeat([]byte{0xff}, 128), false)
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, em []byte, use256 bool) {
		h := crypto.SHA1
		if use256 {
			h = crypto.SHA256
		}
		msg, err := Decode(h, em, nil)
		if err != nil {
			if err != ErrDecryption {
				t.Fatalf("unexpected error %v", err)
			}
		} else {
			// Recover the seed and check the layout directly.
			hLen := h.Size()
			seed := append([]byte(nil), em[1:1+hLen]...)
			dbm := append([]byte(nil), em[1+hLen:]...)
			mgf1XOR(seed, h, dbm)
			mgf1XOR(dbm, h, seed)
			lh := h.New()
			wantL := lh.Sum(nil)
			if em[0] != 0 || !bytes.Equal(dbm[:hLen], wantL) {
				t.Fatal("accepted a message with a bad Y or label hash")
			}
			rest := dbm[hLen:]
			i := bytes.IndexByte(rest, 1)
			if i < 0 || bytes.ContainsFunc(rest[:i], func(r rune) bool { return r != 0 }) || !bytes.Equal(rest[i+1:], msg) {
				t.Fatal("accepted a message with a bad PS/separator, or returned the wrong message")
			}
		}
		if _, err := DecodePKCS1v15(em); err != nil && err != ErrDecryption {
			t.Fatalf("PKCS1v15: unexpected error %v", err)
		}
	})
}

func BenchmarkDecodeSHA256(b *testing.B) {
	lHash := sha256.Sum256(nil)
	db := append(append(lHash[:], make([]byte, 256-2*32-2-64)...), 0x01)
	db = append(db, make([]byte, 64)...)
	em := encodeOAEP(crypto.SHA256, 0, make([]byte, 32), db)
	for b.Loop() {
		if _, err := Decode(crypto.SHA256, em, nil); err != nil {
			b.Fatal(err)
		}
	}
}
