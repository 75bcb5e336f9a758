package gui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// A real build's identity: 64 hex digits and 32 words.
var longIdentity = Identity{
	Version: "v0.1.0 (3f2a9c1d7e4b, modified) go1.26.8",
	SHA256:  "f3903d664f41d2f2c80c09a31b1f5077d02008ea51d30cc87b065d6c739b29f8",
	Words: "wolf math figs inky · glow flap tied whiz · soap barn axis omit · claw cost good kept · " +
		"taxi crux away wand · gray time barn soap · king atom hill jazz · junk need diet yoga",
}

// The status bar takes two lines at the foot of a 1024×768 window, with
// the short hash and the first words; Details (and Ctrl+I) show the whole
// hash, every word and every air-gap finding.
func TestStatusBarIsCompactWithDetailsOnDemand(t *testing.T) {
	for _, drill := range []bool{false, true} {
		h := newHarness(t)
		h.locked(func() {
			h.win.Resize(minimumSize)
			h.shell.id = longIdentity
			h.shell.id.DrillBuild = drill
			h.shell.home()
		})
		h.waitShows("binary SHA-256 f3903d66…739b29f8")
		if !h.shows("wolf math figs inky …") {
			t.Errorf("the status bar does not show the first words:\n%s", h.describe())
		}
		if h.shows("glow flap tied whiz") {
			t.Error("the status bar shows all the words")
		}
		h.locked(func() {
			var hash *widget.Label
			for _, o := range h.all() {
				if l, ok := o.(*widget.Label); ok && strings.HasPrefix(l.Text, "binary SHA-256") {
					hash = l
				}
			}
			top := fyne.CurrentApp().Driver().AbsolutePositionForObject(hash).Y
			if taken := h.canvas().Size().Height - top; taken > 100 {
				t.Errorf("drill build %v: the status bar takes %.0f px of 768", drill, taken)
			}
		})
		h.assertFits(minimumSize)
		// On a screen of the shell, which shows the shell's own self-check.
		h.tap("Start drill")
		h.waitShows("Drill — set-up")
		for _, open := range []func(){func() { h.tap("Details") }, func() { h.shortcut(fyne.KeyI) }} {
			open()
			h.waitShows("This build and this machine")
			for _, want := range []string{longIdentity.SHA256, longIdentity.Words, "eth0 (test finding)", longIdentity.Version} {
				if !h.shows(want) {
					t.Errorf("the details do not show %q:\n%s", want, h.describe())
				}
			}
			if got := h.shows("test tools inside"); got != drill {
				t.Errorf("drill build %v: the details say DRILL BUILD: %v", drill, got)
			}
			h.assertFits(minimumSize)
			h.tap("Close")
			h.waitFor("the details to close", func() bool { return !h.shows("This build and this machine") })
		}
	}
}
