package gui

import (
	"image/color"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/crypto/token"
)

// Snapshots of the main screens live in testdata/: markup for every
// screen (what is on it and where), images for Home and the drill set-up
// in the light and dark themes. When a screen changes on purpose, run the
// tests, look at testdata/failed/, and copy the new files over the old.

// The air-gap self-check in the status bar describes the machine the
// tests run on (network up, running as root…), so snapshots show a fixed
// line in its place.
const maskedAirGap = "✔ air gap: (machine-specific line masked in snapshots)"

func (h *harness) maskMachineSpecific() {
	for _, o := range h.all() {
		if l, ok := o.(*widget.Label); ok && (strings.HasPrefix(l.Text, "⚠ ") || strings.HasPrefix(l.Text, "✔ ")) && strings.Contains(l.Text, "air gap") {
			l.SetText(maskedAirGap)
		}
	}
}

// screen is one of the main screens and how to reach it from Home.
type screen struct {
	name  string
	title string
	reach func(h *harness)
}

func mainScreens(t *testing.T) []screen {
	return []screen{
		{"home", "Start drill", func(h *harness) {}},
		{drillSetupSnapshot, "Drill — set-up", func(h *harness) { h.tap("Start drill") }},
		{"activation-setup", "Activation — set-up", func(h *harness) { h.tap("Start activation") }},
		{"recovery-setup", "Recovery — set-up", func(h *harness) { h.tap("Start recovery") }},
		{"recovery-confirm", "Recovery — confirm the exchange key", func(h *harness) { h.startProductionRecovery() }},
		{"pin-dialog", "Enter PIN", func(h *harness) {
			askPIN(t.Context(), h, token.PINRequest{Token: yubikey, What: "PIN", Reason: "open the share of custodian Alice", RetriesLeft: 3})
		}},
	}
}

func TestMainScreensMarkup(t *testing.T) {
	for _, sc := range mainScreens(t) {
		t.Run(sc.name, func(t *testing.T) {
			h := newHarness(t)
			sc.reach(h)
			h.waitShows(sc.title)
			h.settle()
			h.locked(func() {
				h.maskMachineSpecific()
				test.AssertRendersToMarkup(t, sc.name+".xml", h.canvas())
			})
		})
	}
}

// Every main screen fits a 1024×768 window (and so 1280×800) without
// being cut off sideways or growing the window (taller content scrolls).
func TestMainScreensFit1024x768(t *testing.T) {
	screens := append(mainScreens(t),
		screen{"tokens", "Tokens", func(h *harness) { h.locked(h.shell.tokensScreen) }},
		screen{"verify", "Verify a file", func(h *harness) { h.locked(h.shell.verifyScreen) }},
		screen{"transfer", "Transfer", func(h *harness) { h.locked(h.shell.transferScreen) }},
		screen{"transcripts", "Transcripts", func(h *harness) { h.locked(h.shell.transcriptsScreen) }},
		screen{"exception-dialog", "what deviated", func(h *harness) {
			h.startDrill(h.tap)
			h.tap("Record an exception")
		}},
	)
	for _, sc := range screens {
		t.Run(sc.name, func(t *testing.T) {
			h := newHarness(t)
			h.locked(func() { h.win.Resize(minimumSize) })
			sc.reach(h)
			h.waitShows(sc.title)
			h.settle()
			h.assertFits(minimumSize)
		})
	}
}

// assertFits fails the test when the screen or its top dialog needs more
// than size, or the window grew past it.
func (h *harness) assertFits(size fyne.Size) {
	h.t.Helper()
	h.locked(func() {
		if min := h.canvas().Content().MinSize(); min.Width > size.Width || min.Height > size.Height {
			h.t.Errorf("the screen needs %v; it does not fit %v:\n%s", min, size, h.describeLocked())
		}
		if top := h.canvas().Overlays().Top(); top != nil {
			if m := top.MinSize(); m.Width > size.Width || m.Height > size.Height {
				h.t.Errorf("the dialog needs %v; it does not fit %v", m, size)
			}
		}
		if got := h.canvas().Size(); got.Width > size.Width || got.Height > size.Height {
			h.t.Errorf("the window grew to %v", got)
		}
	})
}

// variant forces the light or dark variant of Fyne's default theme.
type variant struct {
	fyne.Theme
	v fyne.ThemeVariant
}

func (t variant) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	return t.Theme.Color(n, t.v)
}

func TestMainScreensInLightAndDarkThemes(t *testing.T) {
	themes := map[string]fyne.ThemeVariant{"light": theme.VariantLight, "dark": theme.VariantDark}
	for tname, v := range themes {
		for _, sc := range mainScreens(t)[:2] {
			t.Run(tname+"/"+sc.name, func(t *testing.T) {
				h := newHarness(t)
				test.ApplyTheme(t, variant{theme.DefaultTheme(), v})
				sc.reach(h)
				h.waitShows(sc.title)
				h.settle()
				h.locked(func() {
					h.maskMachineSpecific()
					test.AssertImageMatches(t, sc.name+"-"+tname+".png", h.canvas().Capture())
				})
			})
		}
	}
}

// settle waits until a dialog being shown from a worker has its size and
// the screen renders the same twice in a row.
func (h *harness) settle() {
	h.t.Helper()
	last := ""
	h.waitFor("the screen to settle", func() bool {
		same := false
		h.locked(func() {
			if top := h.canvas().Overlays().Top(); top != nil && top.Size().IsZero() {
				return
			}
			if h.shell.focusPending.Load() != 0 {
				return
			}
			m := test.RenderToMarkup(h.canvas())
			same = m == last
			last = m
		})
		return same
	})
}
