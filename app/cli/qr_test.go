package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A transcript goes out as QR frames and comes back from the PNGs (in
// reverse order, half of them skipped) byte for byte; neither side
// overwrites anything.
func TestQREncodeDecode(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "notes.txt")
	data := bytes.Repeat([]byte("custodian qr transfer line\n"), 150) // ~4 KB
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut}
	frames := filepath.Join(dir, "frames")
	if err := Run(env, []string{"qr", "encode", "--in", in, "--out-dir", frames, "--kind", "other"}); err != nil {
		t.Fatalf("encode: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "frames for") {
		t.Errorf("encode output: %s", out.String())
	}
	err := Run(env, []string{"qr", "encode", "--in", in, "--out-dir", frames})
	if ExitCode(err) != 2 {
		t.Errorf("encode into a non-empty directory: %v (exit %d), want exit 2", err, ExitCode(err))
	}

	pngs, _ := filepath.Glob(filepath.Join(frames, "frame-*.png"))
	var picked []string
	for i := len(pngs) - 1; i >= 0; i-- {
		if i%4 != 0 {
			picked = append(picked, pngs[i])
		}
	}
	got := filepath.Join(dir, "received.txt")
	out.Reset()
	if err := Run(env, append([]string{"qr", "decode", "--out", got}, picked...)); err != nil {
		t.Fatalf("decode: %v\n%s", err, errOut.String())
	}
	back, err := os.ReadFile(got)
	if err != nil || !bytes.Equal(back, data) {
		t.Fatalf("received file differs: %v", err)
	}
	if !strings.Contains(out.String(), "SHA-256 ") || !strings.Contains(out.String(), "notes.txt") {
		t.Errorf("decode output: %s", out.String())
	}
	err = Run(env, append([]string{"qr", "decode", "--out", got}, picked...))
	if ExitCode(err) != 2 {
		t.Errorf("decode onto an existing file: %v, want exit 2", err)
	}
	// Images of something else: exit 1 with a clear message.
	err = Run(env, []string{"qr", "decode", "--out", filepath.Join(dir, "x"), filepath.Join(frames, "parts.txt")})
	if ExitCode(err) != 1 || !strings.Contains(err.Error(), "scan more") {
		t.Errorf("no codes: %v", err)
	}
}
