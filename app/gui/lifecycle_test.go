package gui

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

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

// Closing the window asks the same question (shell.quit); ending the
// ceremony there abandons it. The app's Quit is not called here: the
// test app would end the test.
func TestGUIDrillWindowCloseIsAbandoned(t *testing.T) {
	h := newHarness(t)
	aw, wiped := toSelfTests(t, h)
	h.locked(func() { h.shell.confirmLeave("the window was closed", func() {}) })
	h.waitShows("End this ceremony?")
	h.tap("End the ceremony")
	h.waitFor("the ceremony to end", func() bool { return aw.a.Ended() })
	v := drillTranscript(t, h)
	last := v.Entries[len(v.Entries)-1]
	if v.Ending() != "abandoned" || !strings.Contains(last.Message, "window was closed") || strings.Join(wiped(), ",") != "share of Custodian 1" || len(aw.a.Held()) != 0 {
		t.Errorf("drill closed with the window: ending %q (%s), wiped %v", v.Ending(), last.Message, wiped())
	}
}
