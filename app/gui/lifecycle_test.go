package gui

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/custodian-hsm/custodian/ceremony/airgap"
	"github.com/custodian-hsm/custodian/ceremony/transcript"
)

// drillTranscript verifies the one drill transcript in the work folder
// and returns how it ended and its last entries.
func drillTranscript(t *testing.T, h *harness) *transcript.Verification {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(h.shell.workDir, "DRILL-*", "*transcript.jsonl"))
	if len(matches) != 1 {
		t.Fatalf("drill transcripts: %v", matches)
	}
	v, err := transcript.VerifyFile(matches[0])
	if err != nil || !v.OK() {
		t.Fatalf("the drill transcript does not verify: %s %v", v.Summary(), err)
	}
	return v
}

// toSelfTests walks a drill to the share self-tests and opens the first
// custodian's share; wiped collects what the activation wipes.
func toSelfTests(t *testing.T, h *harness) (*activationWizard, func() []string) {
	h.startDrill(h.tap)
	h.enrollAll(h.tap)
	h.tap("Write the operator package")
	h.dismissDialogs()
	h.waitShows("Activation — verify the security domain")
	var aw *activationWizard
	h.waitFor("the drill's activation", func() bool { aw = currentActivation(h); return aw != nil })
	var mu sync.Mutex
	var wiped []string
	aw.a.WipeHook(func(label string) { mu.Lock(); wiped = append(wiped, label); mu.Unlock() })
	h.tap("Operator: activate the drill HSM")
	h.waitShows("Activation — share self-tests")
	h.tap(fmt.Sprintf("Custodian %d of 3 — Custodian %d: insert your token", 1, 1))
	h.waitShows("Custodian 1 of 3 — Custodian 1: share opened")
	if held := aw.a.Held(); len(held) != 1 {
		t.Fatalf("after one self-test the activation holds %v", held)
	}
	return aw, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), wiped...) }
}

func TestGUIDrillCompletedClosesItsTranscript(t *testing.T) {
	h := newHarness(t)
	walkDrill(t, h, h.tap)
	if v := drillTranscript(t, h); v.Ending() != "signed off" {
		t.Errorf("a completed drill ends %q", v.Ending())
	}
}

func TestGUIDrillCancelledClosesItsTranscript(t *testing.T) {
	h := newHarness(t)
	aw, wiped := toSelfTests(t, h)
	h.tap("Cancel ceremony")
	h.waitShows("Cancel the ceremony?")
	h.tap("Yes")
	h.waitShows("Start drill")
	v := drillTranscript(t, h)
	if v.Ending() != "cancelled" || strings.Join(wiped(), ",") != "share of Custodian 1" || len(aw.a.Held()) != 0 {
		t.Errorf("cancelled drill: ending %q, wiped %v", v.Ending(), wiped())
	}
}

func TestGUIDrillLeftWithHomeIsAbandoned(t *testing.T) {
	h := newHarness(t)
	aw, wiped := toSelfTests(t, h)
	h.tap("Home")
	h.waitShows("End this ceremony?")
	h.tap("End the ceremony")
	h.waitShows("Start drill")
	v := drillTranscript(t, h)
	last := v.Entries[len(v.Entries)-1]
	if v.Ending() != "abandoned" || !strings.Contains(last.Message, "Home") || strings.Join(wiped(), ",") != "share of Custodian 1" || len(aw.a.Held()) != 0 {
		t.Errorf("drill left with Home: ending %q (%s), wiped %v", v.Ending(), last.Message, wiped())
	}
}

// closeButtonWindow is the test window with a close button: the desktop
// driver, when the window's close button is pressed, calls the close
// intercept the app installed, or closes the window when there is none.
// Fyne's test window stores the intercept but its Close skips it, so the
// button is played here exactly as the driver plays it.
type closeButtonWindow struct {
	fyne.Window
	intercept func()
}

func (w *closeButtonWindow) SetCloseIntercept(f func()) {
	w.intercept = f
	w.Window.SetCloseIntercept(f)
}

func (w *closeButtonWindow) pressClose() {
	if w.intercept != nil {
		w.intercept()
		return
	}
	w.Close()
}

// newCloseButtonHarness is newHarness on a window with a close button,
// the close intercept installed by the shell as Run installs it.
func newCloseButtonHarness(t *testing.T) (*harness, *closeButtonWindow) {
	t.Helper()
	a := test.NewTempApp(t)
	w := &closeButtonWindow{Window: test.NewWindow(nil)}
	t.Cleanup(w.Window.Close)
	s := newShell(a, w, testIdentity, Options{WorkDir: t.TempDir()})
	s.uiLock = new(sync.Mutex)
	s.airGap = func() *airgap.Report { return testAirGap }
	w.Resize(fyne.NewSize(1280, 800))
	s.installCloseIntercept()
	s.installShortcuts()
	s.home()
	return &harness{t: t, app: a, win: w, shell: s}, w
}

// The window's close button during a drill asks first (Stay keeps the
// drill as it was); ending it there abandons the drill through DrillRun:
// the shares are wiped and the transcript closed "abandoned".
func TestGUIDrillWindowCloseIsAbandoned(t *testing.T) {
	h, win := newCloseButtonHarness(t)
	aw, wiped := toSelfTests(t, h)
	h.locked(win.pressClose)
	h.waitShows("End this ceremony?")
	h.tap("Stay")
	h.waitFor("the question to go", func() bool { return !h.shows("End this ceremony?") })
	if aw.a.Ended() || len(aw.a.Held()) != 1 || len(wiped()) != 0 {
		t.Fatalf("Stay ended the drill or wiped its share: ended %v, held %v, wiped %v", aw.a.Ended(), aw.a.Held(), wiped())
	}
	h.locked(win.pressClose)
	h.waitShows("End this ceremony?")
	h.tap("End the ceremony")
	h.waitFor("the ceremony to end", func() bool { return aw.a.Ended() })
	v := drillTranscript(t, h)
	last := v.Entries[len(v.Entries)-1]
	if v.Ending() != "abandoned" || !strings.Contains(last.Message, "window was closed") || strings.Join(wiped(), ",") != "share of Custodian 1" || len(aw.a.Held()) != 0 {
		t.Errorf("drill closed with the window: ending %q (%s), wiped %v", v.Ending(), last.Message, wiped())
	}
}

// Outside a ceremony the close button closes the window at once.
func TestWindowCloseOnHomeAsksNothing(t *testing.T) {
	h, win := newCloseButtonHarness(t)
	h.locked(win.pressClose)
	if h.shows("End this ceremony?") {
		t.Fatal("closing the window on Home asked to end a ceremony")
	}
}
