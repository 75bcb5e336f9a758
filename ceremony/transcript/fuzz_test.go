package transcript

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The transcript reader takes files from outside (a stick, a mail): it
// must never panic, and a transcript it passes must verify again.
func FuzzVerify(f *testing.F) {
	path := filepath.Join(f.TempDir(), "t.jsonl")
	w, err := Create(path, Opening{Ceremony: Ceremony{ID: "C-1", Kind: "activation", Mode: "DRILL", HSM: "h"}, Tool: Tool{Version: "v1", SHA256: "ab"}})
	if err != nil {
		f.Fatal(err)
	}
	if err := w.Append(Entry{Step: "activation.setup", Actor: &Actor{Role: "witness", Name: "W"}}); err != nil {
		f.Fatal(err)
	}
	if _, err := w.Close(); err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	first, _, _ := bytes.Cut(b, []byte("\n"))
	f.Add(append(first, '\n')) // small seed: the opening entry alone
	f.Add(b)                   // a whole (three-entry) transcript
	f.Add([]byte("{\"seq\":0}\n"))
	f.Add([]byte("\xef\xbb\xbf{}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Verify(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("Verify returned an error for in-memory input: %v", err)
		}
		if v.OK() {
			again, _ := Verify(bytes.NewReader(data))
			if !again.OK() || again.Final != v.Final {
				t.Fatal("verification is not deterministic")
			}
		}
		_ = v.Summary()
	})
}
