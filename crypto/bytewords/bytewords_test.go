package bytewords

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

// The published vector of the UR reference implementation: the bytes
// 00 01 02 80 FF with their CRC-32.
func TestPublishedVector(t *testing.T) {
	in := []byte{0, 1, 2, 128, 255}
	for style, want := range map[Style]string{
		Standard: "able acid also lava zoom jade need echo taxi",
		URI:      "able-acid-also-lava-zoom-jade-need-echo-taxi",
		Minimal:  "aeadaolazmjendeoti",
	} {
		if got := Encode(style, in); got != want {
			t.Errorf("Encode(%d) = %q, want %q", style, got, want)
		}
		back, err := Decode(style, strings.ToUpper(want))
		if err != nil || !bytes.Equal(back, in) {
			t.Errorf("Decode(%d) = %x, %v", style, back, err)
		}
	}
}

func TestWordListIsTheStandardOne(t *testing.T) {
	if len(words) != 1024 {
		t.Fatalf("%d letters, want 256 four-letter words", len(words))
	}
	firstLast, first3, last3 := map[string]bool{}, map[string]bool{}, map[string]bool{}
	prev := ""
	for i := 0; i < 256; i++ {
		w := Word(byte(i))
		if w <= prev {
			t.Errorf("word %d %q is not in alphabetical order after %q", i, w, prev)
		}
		prev = w
		for set, key := range map[*map[string]bool]string{&firstLast: w[:1] + w[3:], &first3: w[:3], &last3: w[1:]} {
			if (*set)[key] {
				t.Errorf("%q is not unique in word %q", key, w)
			}
			(*set)[key] = true
		}
	}
	if Word(0) != "able" || Word(0x85) != "limp" || Word(0xff) != "zoom" {
		t.Error("table misaligned")
	}
}

func TestRoundTripsAndChecksum(t *testing.T) {
	for n := 0; n < 100; n++ {
		data := make([]byte, n)
		rand.Read(data)
		for _, style := range []Style{Standard, URI, Minimal} {
			back, err := Decode(style, Encode(style, data))
			if err != nil || !bytes.Equal(back, data) {
				t.Fatalf("round trip of %d bytes in style %d: %v", n, style, err)
			}
		}
	}
	enc := Encode(Standard, []byte("fingerprint"))
	damaged := strings.Replace(enc, strings.Fields(enc)[2], "zoom", 1)
	if _, err := Decode(Standard, damaged); !errors.Is(err, ErrChecksum) {
		t.Errorf("a misread word passed the checksum: %v", err)
	}
	for _, bad := range []string{"able acid", "able acid also lava zoom jade need echo taxo", "aea"} {
		if _, err := Decode(Standard, bad); err == nil {
			t.Errorf("Decode(%q) accepted", bad)
		}
	}
}
