//go:build drillbuild

package gui

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// The screenshot tour visits every main screen, drives a real drill to the
// recovery's end screen, the Tokens screen, the token picker, the air-gap, PIN, last-try, blocked-PIN and PUK-unblock dialogs, and writes one distinct, non-blank
// PNG per screen. (make screenshots runs the same tour in the real binary
// under Xvfb.)
func TestScreenshotTourWritesEveryScreen(t *testing.T) {
	h := newHarness(t)
	dir := filepath.Join(t.TempDir(), "shots")
	if err := h.shell.screenshotTour(dir); err != nil {
		t.Fatal(err)
	}
	want := []string{"01-home.png", "02-drill-setup.png", "03-activation-setup.png",
		"04-drill-activation-enroll.png", "05-recovery-setup.png", "06-drill-recovery-confirm.png",
		"07-drill-recovery-end.png", "08-transcripts.png", "09-tokens.png", "10-token-picker.png", "11-airgap-dialog.png",
		"12-pin-dialog.png", "13-home-1280x800.png",
		"16-last-pin-try-dialog.png", "17-pin-blocked-dialog.png", "18-unblock-dialog.png"}
	seen := map[string]string{}
	for _, name := range want {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("the tour did not write %s: %v", name, err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s is not a PNG: %v", name, err)
		}
		if blank(img) {
			t.Errorf("%s is blank", name)
		}
		if other, dup := seen[string(data)]; dup {
			t.Errorf("%s is the same picture as %s", name, other)
		}
		seen[string(data)] = name
	}
	if !h.shows("Start drill") {
		t.Errorf("the tour did not end on Home:\n%s", h.describe())
	}
	// A second tour into the same folder refuses rather than overwrites.
	if err := h.shell.screenshotTour(dir); err == nil {
		t.Error("a second tour overwrote the screenshot folder")
	}
}
