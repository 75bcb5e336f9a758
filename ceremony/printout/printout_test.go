package printout

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/custodian-hsm/custodian/ceremony/transcript"
)

func sample(t *testing.T, witness string) *transcript.Verification {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.jsonl")
	clock := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	w, err := transcript.Create(path, transcript.Opening{
		Ceremony: transcript.Ceremony{ID: "contoso-2026-11", Kind: "activation", Mode: "DRILL", HSM: "contoso-hsm"},
		Tool:     transcript.Tool{Version: "v0.1.0", SHA256: "ab12", Words: "able acid"},
		Now:      func() time.Time { clock = clock.Add(time.Minute); return clock },
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Append(transcript.Entry{Step: "activation.setup", Actor: &transcript.Actor{Role: "witness", Name: witness}, Decision: "3 custodians, quorum 2"})
	w.Append(transcript.Entry{Step: "activation.enroll", Actor: &transcript.Actor{Role: "custodian", Name: "Alice"},
		Outputs: []transcript.File{{Name: "cert_0.cer", SHA256: "00ff"}}, Tokens: []transcript.Token{{Kind: "yubikey", Model: "YubiKey 5", Serial: "123"}}})
	w.Append(transcript.Entry{Step: "activation.self-test.skipped", Actor: &transcript.Actor{Role: "witness", Name: witness},
		Exception: &transcript.Exception{What: "Bob absent", ApprovedBy: witness}})
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	v, err := transcript.VerifyFile(path)
	if err != nil || !v.OK() {
		t.Fatal(err)
	}
	return v
}

func render(t *testing.T, v *transcript.Verification) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Render(v, &b, Options{}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestTheSameTranscriptRendersToTheSameBytes(t *testing.T) {
	a, b := render(t, sample(t, "Wendy")), render(t, sample(t, "Wendy"))
	if !bytes.Equal(a, b) {
		t.Fatal("two renderings of the same transcript differ")
	}
	if bytes.Equal(a, render(t, sample(t, "Walter"))) {
		t.Fatal("different transcripts render the same")
	}
	if !bytes.HasPrefix(a, []byte("%PDF-")) {
		t.Fatal("not a PDF")
	}
	v := sample(t, "Wendy")
	for _, want := range []string{"DRILL", "contoso-2026-11", "Final digest", v.Final[:4], "EXCEPTION: Bob absent", "do NOT agree", "initials"} {
		if !bytes.Contains(a, []byte(want)) {
			t.Errorf("the record lacks %q", want)
		}
	}
}

func TestAlteredTranscriptIsStamped(t *testing.T) {
	v := sample(t, "Wendy")
	v.Problems = append(v.Problems, transcript.Problem{Line: 3, Message: "entry 2 was edited"})
	out := render(t, v)
	if !bytes.Contains(out, []byte("FAILED VERIFICATION")) || !bytes.Contains(out, []byte("ALTERED: line 3")) {
		t.Error("an altered transcript is not stamped")
	}
}

// pdftoppm (poppler-utils, a test package) proves the file is a PDF a
// real reader renders.
func TestRendersInARealPDFReader(t *testing.T) {
	if _, err := exec.LookPath("pdftoppm"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pdftoppm missing under CI: make test-deps installs poppler-utils")
		}
		t.Skip("pdftoppm not installed")
	}
	dir := t.TempDir()
	pdf := filepath.Join(dir, "record.pdf")
	if err := os.WriteFile(pdf, render(t, sample(t, "Wendy")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftoppm", "-png", "-r", "50", pdf, filepath.Join(dir, "page")).CombinedOutput()
	if err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	if pages, _ := filepath.Glob(filepath.Join(dir, "page*.png")); len(pages) == 0 {
		t.Fatal("no page rendered")
	}
}
