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
// recovery's exchange-key confirmation, and writes one distinct, non-blank
// PNG per screen. (make screenshots runs the same tour in the real binary
// under Xvfb.)
func TestScreenshotTourWritesEveryScreen(t *testing.T) {
	h := newHarness(t)
	dir := filepath.Join(t.TempDir(), "shots")
	if err := h.shell.screenshotTour(dir); err != nil {
		t.Fatal(err)
	}
	want := []string{"01-home.png", "02-drill-setup.png", "03-activation-setup.png",
		"04-drill-activation-enroll.png", "05-recovery-setup.png", "06-drill-recovery-confirm.png"}
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
	if !h.shows("Recovery — confirm the exchange key") || !h.shows(drillBanner) {
		t.Errorf("the tour did not end on the drill's exchange-key confirmation:\n%s", h.describe())
	}
	// A second tour into the same folder refuses rather than overwrites.
	if err := h.shell.screenshotTour(dir); err == nil {
		t.Error("a second tour overwrote the screenshot folder")
	}
}
