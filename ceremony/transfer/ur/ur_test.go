package ur

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// The reference decoder test: 32767 bytes, 1000-byte fragments, the first
// part numbered 101, fed until complete.
func TestFountainDecoderReference(t *testing.T) {
	msg := makeMessage(32767)
	enc, err := newFountainEncoder(msg, 1000, 10, 100)
	if err != nil {
		t.Fatal(err)
	}
	var d fountainDecoder
	for i := 0; d.message == nil; i++ {
		if i > 200 {
			t.Fatal("not complete after 200 parts")
		}
		if err := d.receive(enc.nextPart()); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(d.message, msg) {
		t.Fatal("decoded message differs")
	}
}

func fileFixture(n int) File {
	return File{Kind: KindSDFile, Name: "SecurityDomain.json", Data: makeMessage(n)}
}

// Parts arrive shuffled, a quarter of them lost, some twice; the file still
// comes through intact, and progress only moves forward.
func TestDecoderShuffledLossyDuplicated(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{1, 100, 1000, 16 << 10, 64 << 10} {
		f := fileFixture(size)
		u, err := FileUR(f)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := NewEncoder(u, 300)
		if err != nil {
			t.Fatal(err)
		}
		n := 3*enc.SeqLen() + 10
		parts := make([]string, n)
		for i := range parts {
			parts[i] = enc.NextPart()
		}
		rng.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
		parts = parts[:len(parts)*3/4]
		d := NewDecoder(TypeFile)
		last := -1.0
		for i, p := range parts {
			if err := d.Receive(p); err != nil {
				t.Fatalf("size %d part %d: %v", size, i, err)
			}
			if i%3 == 0 { // duplicates are ignored
				if err := d.Receive(strings.ToUpper(p)); err != nil {
					t.Fatalf("duplicate: %v", err)
				}
			}
			pr := d.Progress()
			if pr.Estimate < last {
				t.Fatalf("progress went back from %v to %v", last, pr.Estimate)
			}
			last = pr.Estimate
			if d.Complete() {
				break
			}
		}
		if !d.Complete() {
			t.Fatalf("size %d: incomplete after %d parts: %s", size, len(parts), d.Progress())
		}
		got, err := d.Result()
		if err != nil {
			t.Fatal(err)
		}
		back, err := FileFromUR(got)
		if err != nil {
			t.Fatal(err)
		}
		if back.Kind != f.Kind || back.Name != f.Name || !bytes.Equal(back.Data, f.Data) {
			t.Fatalf("size %d: file differs after transfer", size)
		}
	}
}

func TestDecoderRefusesForeignAndDamagedParts(t *testing.T) {
	u, _ := FileUR(fileFixture(2000))
	enc, _ := NewEncoder(u, 200)
	p1 := enc.NextPart()

	d := NewDecoder(TypeFile)
	if err := d.Receive("https://example.com/"); !errors.Is(err, ErrNotUR) {
		t.Errorf("a URL: %v, want ErrNotUR", err)
	}
	var wt *WrongTypeError
	if err := d.Receive("ur:bytes/hdeymejtswhhylkepmykhhtsytsnoyoyaxaedsuttydmmhhpktpmsrjtgwdpfnsboxgwlbaawzuefywkdplrsrjynbvygabwjldapfcsdwkbrkch"); !errors.As(err, &wt) {
		t.Errorf("a bytes UR: %v, want WrongTypeError", err)
	}
	var mal *MalformedError
	damaged := p1[:len(p1)-6] + "aeaeae"
	if err := d.Receive(damaged); !errors.As(err, &mal) {
		t.Errorf("damaged body: %v, want MalformedError", err)
	}
	if err := d.Receive("ur:custodian-file/x-9/aeae"); !errors.As(err, &mal) {
		t.Errorf("bad sequence: %v, want MalformedError", err)
	}
	if err := d.Receive(strings.Replace(p1, "/1-", "/2-", 1)); !errors.As(err, &mal) {
		t.Errorf("relabelled part: %v, want MalformedError", err)
	}
	if err := d.Receive(p1); err != nil {
		t.Fatal(err)
	}
	other, _ := FileUR(File{Kind: KindOther, Name: "x", Data: makeMessage(3000)})
	oenc, _ := NewEncoder(other, 200)
	if err := d.Receive(oenc.NextPart()); !errors.Is(err, ErrInconsistent) {
		t.Errorf("part of another file: %v, want ErrInconsistent", err)
	}
	if _, err := d.Result(); err == nil {
		t.Error("Result before completion succeeded")
	}
}

func TestDecoderDetectsBadChecksum(t *testing.T) {
	msg := makeMessage(500)
	enc, _ := newFountainEncoder(msg, 100, 10, 0)
	var d fountainDecoder
	var err error
	for i := 0; i < enc.seqLen(); i++ {
		p := enc.nextPart()
		if i == 2 {
			p.data[0] ^= 1 // a flipped bit the QR layer did not catch
		}
		err = d.receive(p)
	}
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("got %v, want ErrChecksum", err)
	}
}

func TestEnvelope(t *testing.T) {
	f := File{Kind: KindCertificate, Name: "alice.pem", Data: []byte("-----BEGIN CERTIFICATE-----\n")}
	b, err := MarshalFile(f)
	if err != nil {
		t.Fatal(err)
	}
	// a3 01 6b "certificate" 02 69 "alice.pem" 03 58 1c ...
	if !bytes.HasPrefix(b, append([]byte{0xa3, 0x01, 0x6b}, "certificate"...)) {
		t.Fatalf("envelope starts % x", b[:16])
	}
	back, err := UnmarshalFile(b)
	if err != nil || back.Name != f.Name || back.Kind != f.Kind || !bytes.Equal(back.Data, f.Data) {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	for name, bad := range map[string][]byte{
		"trailing byte": append(append([]byte(nil), b...), 0),
		"truncated":     b[:len(b)-1],
		"keys swapped":  append([]byte{0xa3, 0x02}, b[2:]...),
	} {
		if _, err := UnmarshalFile(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for _, f := range []File{
		{Kind: "secret", Name: "x", Data: nil},
		{Kind: KindOther, Name: "../etc/passwd"},
		{Kind: KindOther, Name: ""},
		{Kind: KindOther, Name: "big", Data: make([]byte, MaxPayload+1)},
	} {
		if _, err := MarshalFile(f); err == nil {
			t.Errorf("MarshalFile(%q, %q) accepted", f.Kind, f.Name)
		}
	}
}

func TestNonMinimalCBORRefused(t *testing.T) {
	// seqNum 1 written with a one-byte extension instead of inline.
	b := []byte{0x85, 0x18, 0x01, 0x01, 0x01, 0x01, 0x41, 0x00}
	if _, err := parsePart(b); err == nil {
		t.Fatal("non-minimal head accepted")
	}
}

// The envelope has one accepted encoding: every other spelling of the
// same content, and every extra, is refused.
func TestEnvelopeCBORStrictness(t *testing.T) {
	good, err := MarshalFile(File{Kind: KindOther, Name: "a", Data: []byte{1}})
	if err != nil {
		t.Fatal(err)
	}
	// {1: "other", 2: "a", 3: h'01'}
	if want := []byte{0xa3, 0x01, 0x65, 'o', 't', 'h', 'e', 'r', 0x02, 0x61, 'a', 0x03, 0x41, 0x01}; !bytes.Equal(good, want) {
		t.Fatalf("envelope % x, want % x", good, want)
	}
	if f, err := UnmarshalFile(good); err != nil || f.Name != "a" {
		t.Fatalf("round trip: %v", err)
	}
	for name, b := range map[string][]byte{
		"duplicate key":  {0xa3, 0x01, 0x65, 'o', 't', 'h', 'e', 'r', 0x01, 0x61, 'a', 0x03, 0x41, 0x01},
		"keys reordered": {0xa3, 0x02, 0x61, 'a', 0x01, 0x65, 'o', 't', 'h', 'e', 'r', 0x03, 0x41, 0x01},
		"extra key":      {0xa4, 0x01, 0x65, 'o', 't', 'h', 'e', 'r', 0x02, 0x61, 'a', 0x03, 0x41, 0x01, 0x04, 0x00},
		"indefinite map": {0xbf, 0x01, 0x65, 'o', 't', 'h', 'e', 'r', 0x02, 0x61, 'a', 0x03, 0x41, 0x01, 0xff},
		"tagged":         {0xc0, 0xa3, 0x01, 0x65, 'o', 't', 'h', 'e', 'r', 0x02, 0x61, 'a', 0x03, 0x41, 0x01},
		"bytes as name":  {0xa3, 0x01, 0x65, 'o', 't', 'h', 'e', 'r', 0x02, 0x41, 'a', 0x03, 0x41, 0x01},
		"bad UTF-8 name": {0xa3, 0x01, 0x65, 'o', 't', 'h', 'e', 'r', 0x02, 0x61, 0xff, 0x03, 0x41, 0x01},
		"trailing byte":  append(append([]byte{}, good...), 0x00),
		"missing key":    {0xa2, 0x01, 0x65, 'o', 't', 'h', 'e', 'r', 0x03, 0x41, 0x01},
		"long length":    {0xa3, 0x01, 0x78, 0x05, 'o', 't', 'h', 'e', 'r', 0x02, 0x61, 'a', 0x03, 0x41, 0x01},
		"deep nesting":   {0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x00},
	} {
		if _, err := UnmarshalFile(b); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}
