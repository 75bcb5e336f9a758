package fingerprint

import (
	"strings"
	"testing"
)

func TestFingerprintForms(t *testing.T) {
	f := Of([]byte("abc"))
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if f.Hex() != want {
		t.Fatalf("Hex = %s", f.Hex())
	}
	if g := f.GroupedHex(); !strings.HasPrefix(g, "ba78 16bf 8f01") || len(strings.Fields(g)) != 16 {
		t.Errorf("GroupedHex = %q", g)
	}
	w := f.Words()
	if len(w) != 32 || w[0] != "road" { // 0xba
		t.Errorf("Words = %v", w)
	}
	if ws := f.WordString(); len(strings.Split(ws, " · ")) != 8 {
		t.Errorf("WordString = %q", ws)
	}
	back, ok := FromHex(f.GroupedHex())
	if !ok || back != f {
		t.Error("FromHex does not read GroupedHex back")
	}
	if _, ok := FromHex("abcd"); ok {
		t.Error("FromHex accepted a short digest")
	}
}

func TestParseAcceptsWhatTheScreenAndPaperShow(t *testing.T) {
	f := Of([]byte("the record"))
	pdfWords := strings.ReplaceAll(f.WordString(), " · ", " / ")
	for _, s := range []string{f.Hex(), f.GroupedHex(), strings.ToUpper(f.GroupedHex()), f.WordString(), pdfWords, strings.Join(f.Words(), "-")} {
		got, err := Parse(s)
		if err != nil || got != f {
			t.Errorf("Parse(%q) = %x, %v", s, got, err)
		}
	}
	w := f.Words()
	w[5] = "zzzz"
	for s, want := range map[string]string{
		f.Hex()[:62]:              "62 hex digits",
		strings.Join(w, " "):      `word 6 of the digest, "zzzz"`,
		strings.Join(w[:31], " "): "31 words",
		"":                        "empty",
	} {
		if _, err := Parse(s); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q): %v, want %q", s, err, want)
		}
	}
}
