package gui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/internal/testvectors"
)

// The QR screen animates a real file's frames and stops when the person
// leaves the screen.
func TestQRScreenAnimatesAndStopsOnLeave(t *testing.T) {
	h := newHarness(t)
	h.locked(func() { h.shell.qrScreen() })
	sdFile := filepath.Join(t.TempDir(), "sd.json")
	os.WriteFile(sdFile, testvectors.Read(t, "sd-3of2", "sd.json"), 0o644)
	h.typeInto("file to show as QR codes (certificate, exchange key, SD file, blob, package)", sdFile)
	h.tap("Show")
	h.waitShows("frame 1 of")
	h.waitShows("frame 2 of")
	if !h.shows("security domain file") {
		t.Error("the screen does not say what is being sent")
	}
	var counter *widget.Label
	h.locked(func() {
		for _, o := range h.all() {
			if l, ok := o.(*widget.Label); ok && strings.HasPrefix(l.Text, "frame ") {
				counter = l
			}
		}
	})
	if counter == nil {
		t.Fatal("no frame counter")
	}
	h.locked(func() { h.shell.home() })
	var before string
	h.locked(func() { before = counter.Text })
	time.Sleep(600 * time.Millisecond)
	var after string
	h.locked(func() { after = counter.Text })
	if before != after {
		t.Errorf("the animation goes on after leaving the screen: %q then %q", before, after)
	}
}
