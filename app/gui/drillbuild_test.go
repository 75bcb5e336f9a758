package gui

import (
	"slices"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/ceremony"
)

// The drill build says DRILL BUILD in the status bar of every screen; the
// production build never does.
func TestStatusBarSaysDrillBuild(t *testing.T) {
	for _, drill := range []bool{false, true} {
		h := newHarness(t)
		fyne.DoAndWait(func() {
			h.locked(func() {
				h.shell.id.DrillBuild = drill
				h.shell.home()
			})
		})
		if got := h.shows("DRILL BUILD"); got != drill {
			t.Errorf("DrillBuild=%v: Home shows DRILL BUILD: %v", drill, got)
		}
		h.tap("Start drill")
		h.waitShows("Drill — set-up")
		if got := h.shows("DRILL BUILD"); got != drill {
			t.Errorf("DrillBuild=%v: the drill set-up shows DRILL BUILD: %v", drill, got)
		}
	}
}

// The drill set-up offers exactly the drill token kinds of this build and,
// in the production build, says that virtual YubiKeys need the drill build.
func TestDrillSetupOffersThisBuildsTokens(t *testing.T) {
	h := newHarness(t)
	h.tap("Start drill")
	h.waitShows("Drill — set-up")
	var offered []string
	h.locked(func() {
		for _, o := range h.all() {
			if r, ok := o.(*widget.RadioGroup); ok {
				offered = r.Options
			}
		}
	})
	var want []string
	for _, k := range ceremony.DrillTokenKinds() {
		want = append(want, string(k))
	}
	if !slices.Equal(offered, want) {
		t.Errorf("the drill set-up offers %v, want %v", offered, want)
	}
	vcard := slices.Contains(offered, string(ceremony.VCardTokens))
	if vcard != wantVirtualYubiKeys {
		t.Errorf("virtual YubiKeys offered: %v, want %v in this build", vcard, wantVirtualYubiKeys)
	}
	if hint := h.shows("drill build only"); hint == vcard {
		t.Errorf("virtual YubiKeys offered: %v, drill-build hint shown: %v", vcard, hint)
	}
}
