package gui

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/crypto/token/pkcs11/softhsm"
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

// A SoftHSM drill points the process at its own SoftHSM while it runs;
// going Home ends the drill and puts the configuration back, so that a
// production ceremony in the same window sees no drill token.
func TestGoingHomeEndsTheDrillsEnvironment(t *testing.T) {
	if _, err := softhsm.Module(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("SoftHSM2 missing under CI: %v", err)
		}
		t.Skip(err)
	}
	machine := filepath.Join(t.TempDir(), "softhsm2.conf")
	t.Setenv(softhsm.EnvConf, machine)
	h := newHarness(t)
	h.tap("Start drill")
	h.waitShows("Drill — set-up")
	h.locked(func() {
		for _, o := range h.all() {
			if r, ok := o.(*widget.RadioGroup); ok {
				r.SetSelected(string(ceremony.SoftHSMTokens))
			}
		}
	})
	h.tap("Start the drill")
	h.waitShows("Activation — custodian 1 of 3")
	if got := os.Getenv(softhsm.EnvConf); got == machine {
		t.Fatalf("the SoftHSM drill runs with the machine's configuration %s", got)
	}
	h.tap("Home")
	h.tap("End the ceremony")
	h.waitShows("Start drill")
	if got := os.Getenv(softhsm.EnvConf); got != machine {
		t.Errorf("after the drill %s=%q, want the machine's %q back", softhsm.EnvConf, got, machine)
	}
}
