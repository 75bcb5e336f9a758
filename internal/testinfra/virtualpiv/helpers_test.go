package virtualpiv_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"fmt"
	"math/big"
	"sync"
	"testing"

	"github.com/custodian-hsm/custodian/internal/testinfra/virtualpiv"
)

// exchange sends one command as piv-go does: data longer than 255 bytes
// in a chain (CLA 10), then GET RESPONSE while the card answers 61xx. It
// returns the joined data and the final status word.
func exchange(t testing.TB, c *virtualpiv.Card, ins, p1, p2 byte, data []byte) ([]byte, uint16) {
	t.Helper()
	for len(data) > 255 {
		resp := c.Transmit(append([]byte{0x10, ins, p1, p2, 0xFF}, data[:255]...))
		if sw := status(resp); sw != 0x9000 {
			return nil, sw
		}
		if len(resp) != 2 {
			t.Fatalf("a chained link answered data %x", resp)
		}
		data = data[255:]
	}
	cmd := []byte{0x00, ins, p1, p2}
	if len(data) > 0 {
		cmd = append(cmd, byte(len(data)))
		cmd = append(cmd, data...)
	}
	resp := c.Transmit(cmd)
	out := append([]byte(nil), resp[:len(resp)-2]...)
	sw := status(resp)
	for rounds := 0; sw&0xFF00 == 0x6100; rounds++ {
		if rounds > 100 {
			t.Fatal("the card keeps answering 61xx")
		}
		resp = c.Transmit([]byte{0x00, 0xC0, 0x00, 0x00, 0x00})
		out = append(out, resp[:len(resp)-2]...)
		sw = status(resp)
	}
	return out, sw
}

func status(resp []byte) uint16 {
	return uint16(resp[len(resp)-2])<<8 | uint16(resp[len(resp)-1])
}

// must runs a command that has to succeed.
func must(t testing.TB, c *virtualpiv.Card, ins, p1, p2 byte, data []byte) []byte {
	t.Helper()
	out, sw := exchange(t, c, ins, p1, p2, data)
	if sw != 0x9000 {
		t.Fatalf("INS %02X P1 %02X P2 %02X: status %04X, want 9000", ins, p1, p2, sw)
	}
	return out
}

func wantSW(t testing.TB, what string, got, want uint16) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: status %04X, want %04X", what, got, want)
	}
}

func padPIN(pin string) []byte {
	b := bytes.Repeat([]byte{0xFF}, 8)
	copy(b, pin)
	return b
}

func selectPIV(t testing.TB, c *virtualpiv.Card) {
	t.Helper()
	must(t, c, 0xA4, 0x04, 0x00, []byte{0xA0, 0x00, 0x00, 0x03, 0x08})
}

func verifyPIN(t testing.TB, c *virtualpiv.Card, pin string) uint16 {
	t.Helper()
	_, sw := exchange(t, c, 0x20, 0x00, 0x80, padPIN(pin))
	return sw
}

// tlv encodes one BER-TLV element (tags up to two bytes).
func tlv(tag int, v []byte) []byte {
	var b []byte
	if tag > 0xFF {
		b = append(b, byte(tag>>8))
	}
	b = append(b, byte(tag))
	switch n := len(v); {
	case n < 0x80:
		b = append(b, byte(n))
	case n < 0x100:
		b = append(b, 0x81, byte(n))
	default:
		b = append(b, 0x82, byte(n>>8), byte(n))
	}
	return append(b, v...)
}

// value unwraps one element with the expected (possibly two-byte) tag.
func value(t testing.TB, b []byte, tag int) []byte {
	t.Helper()
	var raw asn1.RawValue
	rest, err := asn1.Unmarshal(b, &raw)
	if err != nil {
		t.Fatalf("parsing %x: %v", b, err)
	}
	if len(rest) != 0 {
		t.Fatalf("%d bytes after the TLV", len(rest))
	}
	got := raw.FullBytes[0]
	if tag > 0xFF {
		got16 := int(raw.FullBytes[0])<<8 | int(raw.FullBytes[1])
		if got16 != tag {
			t.Fatalf("tag %04X, want %04X", got16, tag)
		}
	} else if int(got) != tag {
		t.Fatalf("tag %02X, want %02X", got, tag)
	}
	return raw.Bytes
}

// authenticate runs mutual authentication with the management key, as
// piv-go does, and returns the final status word.
func authenticate(t testing.TB, c *virtualpiv.Card, alg byte, key []byte) uint16 {
	t.Helper()
	var block cipher.Block
	var err error
	if alg == virtualpiv.Alg3DES {
		block, err = des.NewTripleDESCipher(key)
	} else {
		block, err = aes.NewCipher(key)
	}
	if err != nil {
		t.Fatal(err)
	}
	n := block.BlockSize()
	resp, sw := exchange(t, c, 0x87, alg, 0x9B, []byte{0x7C, 0x02, 0x80, 0x00})
	if sw != 0x9000 {
		return sw
	}
	enc := value(t, value(t, resp, 0x7C), 0x80)
	if len(enc) != n {
		t.Fatalf("witness of %d bytes, want %d", len(enc), n)
	}
	witness := make([]byte, n)
	block.Decrypt(witness, enc)
	challenge := make([]byte, n)
	rand.Read(challenge)
	data := tlv(0x7C, append(tlv(0x80, witness), tlv(0x81, challenge)...))
	resp, sw = exchange(t, c, 0x87, alg, 0x9B, data)
	if sw != 0x9000 {
		return sw
	}
	got := value(t, value(t, resp, 0x7C), 0x82)
	want := make([]byte, n)
	block.Encrypt(want, challenge)
	if !bytes.Equal(got, want) {
		t.Fatal("the card's response to our challenge is wrong: it does not hold the key we authenticated with")
	}
	return sw
}

// metadata returns GET METADATA's fields by tag.
func metadata(t testing.TB, c *virtualpiv.Card, ref byte) (map[byte][]byte, uint16) {
	t.Helper()
	resp, sw := exchange(t, c, 0xF7, 0x00, ref, nil)
	if sw != 0x9000 {
		return nil, sw
	}
	m := map[byte][]byte{}
	for len(resp) > 0 {
		if len(resp) < 2 {
			t.Fatalf("metadata truncated")
		}
		tag, n, off := resp[0], int(resp[1]), 2
		if n == 0x81 {
			n, off = int(resp[2]), 3
		} else if n == 0x82 {
			n, off = int(resp[2])<<8|int(resp[3]), 4
		}
		m[tag] = resp[off : off+n]
		resp = resp[off+n:]
	}
	return m, sw
}

// generate creates a key in a slot and returns the 7F49 content.
func generate(t testing.TB, c *virtualpiv.Card, slot, alg, pin, touch byte) []byte {
	t.Helper()
	data := tlv(0xAC, []byte{0x80, 0x01, alg, 0xAA, 0x01, pin, 0xAB, 0x01, touch})
	return value(t, must(t, c, 0x47, 0x00, slot, data), 0x7F49)
}

func rsaPublic(t testing.TB, tmpl []byte) *rsa.PublicKey {
	t.Helper()
	var n, e asn1.RawValue
	rest, err := asn1.Unmarshal(tmpl, &n)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := asn1.Unmarshal(rest, &e); err != nil {
		t.Fatal(err)
	}
	if n.Tag != 1 || e.Tag != 2 {
		t.Fatalf("public key template has tags %d, %d; want 81, 82", n.Tag, e.Tag)
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n.Bytes), E: int(new(big.Int).SetBytes(e.Bytes).Int64())}
}

// rawRSA asks the card for input^d mod n with the slot's key.
func rawRSA(t testing.TB, c *virtualpiv.Card, slot, alg byte, input []byte) ([]byte, uint16) {
	t.Helper()
	data := tlv(0x7C, append([]byte{0x82, 0x00}, tlv(0x81, input)...))
	resp, sw := exchange(t, c, 0x87, alg, slot, data)
	if sw != 0x9000 {
		return nil, sw
	}
	return value(t, value(t, resp, 0x7C), 0x82), sw
}

// Pre-generated keys shared by the tests, so that only a few tests wait
// for RSA generation.
var (
	poolOnce sync.Once
	pool     *virtualpiv.KeyPool
)

func testPool() *virtualpiv.KeyPool {
	poolOnce.Do(func() {
		pool = virtualpiv.NewKeyPool()
		pool.Warm(2048, 8)
	})
	return pool
}

func newCard(t testing.TB, opts virtualpiv.Options) *virtualpiv.Card {
	t.Helper()
	if opts.RSAKeys == nil {
		opts.RSAKeys = testPool().Key
	}
	c, err := virtualpiv.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	selectPIV(t, c)
	return c
}

var _ = fmt.Sprintf
