package gui

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/crypto/drillhsm"
)

// drillBanner is what every drill screen says at the top.
const drillBanner = "DRILL — REHEARSAL ONLY"

// startDrill goes from Home to the first enrollment of a 2-of-3 drill with
// software keys, using act to press buttons.
func (h *harness) startDrill(act func(string)) {
	h.t.Helper()
	act("Start drill")
	h.waitShows("Drill — set-up")
	act("Start the drill")
	h.waitShows("Activation — custodian 1 of 3")
}

// enrollAll enrolls the three drill custodians, each on a cleared screen.
func (h *harness) enrollAll(act func(string)) {
	h.t.Helper()
	for k := 1; k <= 3; k++ {
		if !h.shows(drillBanner) || !h.shows("DRILL") {
			h.t.Fatalf("enrollment screen %d does not say DRILL", k)
		}
		act("Generate the key on the token")
		h.waitShows("Custodian enrolled")
		act("OK")
	}
	h.waitShows("Activation — operator package")
}

// walkDrill runs a complete 2-of-3 drill on the GUI with act pressing
// every button: activation with three software custodians, the SD
// verified, each share self-tested, the quorum proven, the recovery with
// two custodians, and the blob uploaded to the drill HSM.
func walkDrill(t *testing.T, h *harness, do func(string)) {
	// Every screen and dialog on the way fits the smallest window.
	h.locked(func() { h.win.Resize(minimumSize) })
	act := func(label string) {
		h.t.Helper()
		h.waitFor(fmt.Sprintf("button %q", label), func() bool { return h.button(label) != nil })
		h.assertFits(minimumSize)
		do(label)
	}
	h.startDrill(act)
	h.enrollAll(act)

	act("Write the operator package")
	h.waitShows("Operator package written")
	act("OK")
	h.waitShows("Activation — verify the security domain")

	act("Operator: activate the drill HSM")
	h.waitShows("Activation — share self-tests")
	for k := 1; k <= 3; k++ {
		act(fmt.Sprintf("Custodian %d of 3 — Custodian %d: insert your token", k, k))
		if k < 3 {
			h.waitShows(fmt.Sprintf("Custodian %d of 3 — Custodian %d: share opened", k, k))
		}
	}
	h.waitShows("Activation — prove the quorum")
	act("Prove the quorum recovers")
	h.waitShows("Activation — complete")
	act("Witness sign-off")
	act("Sign off")

	h.waitShows("Recovery — load the files")
	if !h.shows(drillBanner) {
		t.Fatal("the drill's recovery does not say DRILL")
	}
	act("Operator: start recovery on the drill HSM")
	h.waitShows("Recovery — confirm the exchange key")
	h.waitShows("DRILL attestation") // the drill rehearses the verdict too
	act("It matches what the HSM returned")
	for k := 1; k <= 2; k++ {
		h.waitShows(fmt.Sprintf("Recovery — custodian %d", k))
		act("Open my share on my token")
		h.waitShows("Share opened")
		act("OK")
	}
	h.waitShows("2 of 2 shares")
	act("Build the restore blob")
	h.waitShows("Recovery — export the restore blob")
	act("Write the restore blob")
	h.waitShows("Recovery — complete")
	act("Operator: upload the blob to the drill HSM")
	h.waitShows("DRILL PASSED — the drill HSM accepted the restore blob")
	act("Witness sign-off")
	act("Sign off")
	h.waitShows("Recovery — closed")
	h.waitShows("Final digest of the transcript")
	act("Back to Home")
	h.waitShows("Start drill")
}

func TestDrillWalkthroughByTapping(t *testing.T) {
	h := newHarness(t)
	walkDrill(t, h, h.tap)

	// The drill left its files, all named DRILL, in the work folder.
	drills, _ := filepath.Glob(filepath.Join(h.shell.workDir, "DRILL-*"))
	if len(drills) != 1 {
		t.Fatalf("want one drill folder in the work folder, found %v", drills)
	}
	for _, want := range []string{"DRILL-operator-package", "DRILL-restore"} {
		if _, err := os.Stat(filepath.Join(drills[0], want)); err != nil {
			t.Errorf("the drill did not write %s: %v", want, err)
		}
	}
}

// Every wizard can be driven with Tab and Space alone.
func TestDrillWalkthroughByKeyboard(t *testing.T) {
	h := newHarness(t)
	walkDrill(t, h, h.press)
}

// A damaged SD file typed in by path is rejected, the reason is shown and
// the ceremony stays at the SD step; the genuine file then goes through.
func TestDrillRejectsTamperedSDFile(t *testing.T) {
	h := newHarness(t)
	h.startDrill(h.tap)
	h.enrollAll(h.tap)
	h.tap("Write the operator package")
	h.dismissDialogs()
	h.waitShows("Activation — verify the security domain")

	// Play the operator outside the GUI to get the file the HSM returns,
	// then damage one byte of a share the way a bad USB stick would.
	var aw *activationWizard
	h.waitFor("the drill's activation", func() bool { aw = currentActivation(h); return aw != nil })
	name, sdBytes, err := aw.session.OperatorActivate(aw.a, drillhsm.ActivateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The quorum raised from 2 to 3: the shares still open, but the file
	// is not what this ceremony asked for.
	tampered := bytes.Replace(sdBytes, []byte(`"required":2`), []byte(`"required":3`), 1)
	if bytes.Equal(tampered, sdBytes) {
		t.Fatalf("the drill SD has no \"required\":2 member to tamper with")
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "damaged-"+name)
	if err := os.WriteFile(bad, tampered, 0o600); err != nil {
		t.Fatal(err)
	}

	h.typeInto("path of the security domain file", bad)
	h.tap("Verify the security domain")
	h.waitShows("The security domain was REJECTED")
	if aw.a.Step() != ceremony.ActAwaitSD {
		t.Fatalf("after a damaged SD the activation is at %q, want it still waiting for the SD", aw.a.Step())
	}
	if !h.shows("Activation — verify the security domain") {
		t.Fatal("the SD screen was left after a rejected file")
	}

	// A file that is not there is a clear message, not a crash.
	h.typeInto("path of the security domain file", filepath.Join(dir, "missing.json"))
	h.tap("Verify the security domain")
	h.waitShows("missing.json")

	// The genuine file, from the same path entry, is accepted.
	good := filepath.Join(dir, name)
	if err := os.WriteFile(good, sdBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	h.typeInto("path of the security domain file", good)
	h.tap("Verify the security domain")
	h.waitShows("Activation — share self-tests")
}

// Cancelling asks first, then wipes the ceremony and returns Home.
func TestDrillCancelReturnsHome(t *testing.T) {
	h := newHarness(t)
	h.startDrill(h.tap)
	h.tap("Generate the key on the token")
	h.waitShows("Custodian enrolled")
	h.dismissDialogs()
	h.waitShows("Activation — custodian 2 of 3")
	var aw *activationWizard
	h.waitFor("the drill's activation", func() bool { aw = currentActivation(h); return aw != nil })

	// "No" keeps the ceremony where it was.
	h.tap("Cancel ceremony")
	h.waitShows("Cancel the ceremony?")
	h.tap("No")
	if aw.a.Step() != ceremony.ActEnroll || !h.shows("Activation — custodian 2 of 3") {
		t.Fatalf("declining the cancel left the ceremony at %q", aw.a.Step())
	}

	h.tap("Cancel ceremony")
	h.waitShows("Cancel the ceremony?")
	h.tap("Yes")
	h.waitShows("Start drill")
	if aw.a.Step() != ceremony.ActCancelled {
		t.Fatalf("after cancelling, the ceremony is at %q", aw.a.Step())
	}
}

// currentActivation is the activation wizard on screen, if any.
func currentActivation(h *harness) (aw *activationWizard) {
	h.locked(func() { aw, _ = h.shell.wizard.(*activationWizard) })
	return aw
}
