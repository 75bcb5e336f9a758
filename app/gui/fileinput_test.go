package gui

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/ceremony/transfer/qr"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
	"github.com/custodian-hsm/custodian/internal/testvectors"
)

// A file that comes in as QR code images is decoded in the step that
// needs it, and the step says what it is with its SHA-256 and words.
func TestFileInputDecodesQRImagesAndDescribesTheFile(t *testing.T) {
	data, err := os.ReadFile(testvectors.Path(t, "sd-3of2", "sd.json"))
	if err != nil {
		t.Fatal(err)
	}
	f, _, err := qr.FileFor("sd.json", data)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "frames")
	if _, err := qr.WriteDir(dir, f, qr.Options{}); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t)
	var in *fileInput
	h.locked(func() {
		in = h.shell.newFileInput("file")
		in.decodeFolder(dir)
	})
	fp := fingerprint.Of(data)
	h.waitFor("the QR file", func() (ok bool) {
		h.locked(func() { ok = strings.Contains(in.about.Text, fp.GroupedHex()) })
		return ok
	})
	h.locked(func() {
		if !strings.Contains(in.about.Text, "security domain") || !strings.Contains(in.about.Text, fp.WordString()) {
			t.Errorf("the step says: %q", in.about.Text)
		}
		name, got, err := in.Read()
		if err != nil || name != "sd.json" || !bytes.Equal(got, data) {
			t.Errorf("Read: %q %d bytes %v", name, len(got), err)
		}
		// Typing a path over it goes back to reading paths.
		in.Path.SetText(filepath.Join(t.TempDir(), "missing.json"))
		if _, _, err := in.Read(); err == nil {
			t.Error("a missing typed path was read")
		}
	})
}

// A file read from a medium whose SHA256SUMS disagrees is refused.
func TestFileInputRefusesAFileThatFailsItsSHA256SUMS(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "sd.json"), []byte(`{"not":"what was written"}`), 0o600)
	os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(strings.Repeat("0", 64)+"  sd.json\n"), 0o600)
	h := newHarness(t)
	var in *fileInput
	h.locked(func() {
		in = h.shell.newFileInput("file")
		in.checkOnMedium(filepath.Join(dir, "sd.json"))
	})
	h.waitFor("the refusal", func() (ok bool) {
		h.locked(func() { ok = strings.Contains(in.about.Text, "Not taken from the medium") })
		return ok
	})
	h.locked(func() {
		if in.Path.Text != "" {
			t.Errorf("the refused file was taken: %q", in.Path.Text)
		}
	})
}
