package gui

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/ceremony/transcript"
)

// setUpDrill sets the drill set-up's N and M and ticks the rotation
// option, as a person does with the selects and the check box.
func (h *harness) setUpDrill(n, m int, rotation bool) {
	h.t.Helper()
	h.tap("Start drill")
	h.waitShows("Drill — set-up")
	h.locked(func() {
		var selects []*widget.Select
		for _, o := range h.all() {
			switch v := o.(type) {
			case *widget.Select:
				selects = append(selects, v)
			case *widget.Check:
				if strings.HasPrefix(v.Text, "Rotate custodians afterwards") && rotation {
					test.Tap(v)
				}
			}
		}
		if len(selects) != 2 {
			h.t.Fatalf("the drill set-up has %d selects, want N and M", len(selects))
		}
		selects[0].SetSelected(fmt.Sprint(n))
		selects[1].SetSelected(fmt.Sprint(m))
	})
}

// enrollAllOf enrolls n custodians on the screens titled title k of n.
func (h *harness) enrollAllOf(act func(string), title string, n int) {
	h.t.Helper()
	for k := 1; k <= n; k++ {
		h.waitShows(fmt.Sprintf("%s %d of %d", title, k, n))
		act("Generate the key on the token")
		h.waitShows("Custodian enrolled")
		act("OK")
	}
}

// selfTestAll has the n custodians named role k open their shares.
func (h *harness) selfTestAll(act func(string), role string, n int) {
	h.t.Helper()
	for k := 1; k <= n; k++ {
		act(fmt.Sprintf("Custodian %d of %d — %s %d: insert your token", k, n, role, k))
		if k < n {
			h.waitShows(fmt.Sprintf("Custodian %d of %d — %s %d: share opened", k, n, role, k))
		}
	}
}

// A 3-of-5 rotation drill on the GUI: five custodians activate the drill
// HSM, five new ones enroll, the domain is downloaded again for them,
// each opens their share, the old quorum's domain is compared with the
// new, the new quorum proven, the five old keys retired and the rotation
// signed off. The transcript verifies and ends in the sign-off, listing
// what to retire.
func TestGUIRotationDrill3of5(t *testing.T) { walkRotationDrill(t, (*harness).tap) }

// The same rotation drill with Tab and Space alone.
func TestGUIRotationDrillByKeyboard(t *testing.T) { walkRotationDrill(t, (*harness).press) }

func walkRotationDrill(t *testing.T, with func(*harness, string)) {
	h := newHarness(t)
	act := func(label string) { h.t.Helper(); with(h, label) }
	// Every rotation screen fits the smallest window.
	h.locked(func() { h.win.Resize(minimumSize) })
	h.setUpDrill(5, 3, true)
	h.assertFits(minimumSize)
	act("Start the drill")
	h.enrollAllOf(act, "Activation — custodian", 5)
	h.waitShows("Activation — operator package")
	act("Write the operator package")
	h.waitShows("Operator package written")
	act("OK")
	act("Operator: activate the drill HSM")
	h.waitShows("Activation — share self-tests")
	h.selfTestAll(act, "Custodian", 5)
	act("Prove the quorum recovers")
	h.waitShows("Activation — complete")
	act("Witness sign-off")
	act("Sign off")

	h.enrollAllOf(act, "Rotation — new custodian", 5)
	h.waitShows("Rotation — operator package")
	if !h.shows(drillBanner) {
		t.Fatal("the drill's rotation does not say DRILL")
	}
	act("Write the operator package")
	h.waitShows("Operator package written")
	act("OK")
	h.waitShows("Rotation — verify the new security domain")
	h.waitShows("az keyvault security-domain download") // the operator's instructions
	h.assertFits(minimumSize)
	act("Operator: download the drill HSM's security domain again")
	h.waitShows("Rotation — share self-tests")
	h.selfTestAll(act, "New custodian", 5)
	h.waitShows("Rotation — compare and prove the new quorum")
	h.assertFits(minimumSize)
	act("Compare with the old security domain")
	h.waitShows("SAME KEYS")
	h.assertFits(minimumSize)
	act("Prove the new quorum recovers")
	h.waitShows("Rotation — retire the old keys")
	h.waitShows("old key of Custodian 5")
	h.assertFits(minimumSize)
	for k := 1; k <= 5; k++ {
		act(fmt.Sprintf("Retire the old key of Custodian %d", k))
		act("Record the destruction")
		h.waitFor(fmt.Sprintf("custodian %d's key retired", k), func() bool {
			return h.button(fmt.Sprintf("Retire the old key of Custodian %d", k)) == nil
		})
	}
	act("Witness sign-off")
	act("Sign off")
	h.waitShows("Rotation — closed")
	h.waitShows("Final digest of the transcript")
	h.assertFits(minimumSize)

	v := drillTranscript(t, h)
	if v.Ending() != "signed off" {
		t.Fatalf("the rotation drill ends %q", v.Ending())
	}
	steps := map[string]int{}
	var compare, toRetire string
	for _, e := range v.Entries {
		steps[e.Step]++
		switch e.Step {
		case "rotation.compare":
			compare = e.Decision
		case "rotation.to-retire":
			toRetire = e.Message
		}
	}
	if steps["activation.quorum.proven"] != 2 || steps["rotation.retire"] != 5 || steps["transcript.close"] != 1 {
		t.Errorf("transcript steps: %v", steps)
	}
	if compare != "the old and the new security domains hold the same keys" {
		t.Errorf("the comparison recorded %q", compare)
	}
	if !strings.Contains(toRetire, "old key of Custodian 5") || !strings.Contains(toRetire, "retired") || !strings.Contains(toRetire, "old security domain file") {
		t.Errorf("the record of what to retire: %q", toRetire)
	}
	last := v.Entries[len(v.Entries)-1]
	if last.Step != "transcript.close" || v.Entries[len(v.Entries)-2].Step != "rotation.sign-off" {
		t.Errorf("the transcript ends %q after %q", last.Step, v.Entries[len(v.Entries)-2].Step)
	}
	act("Back to Home")
	h.waitShows("Start rotation")
}

// writeManifest writes an operator manifest of the given mode.
func writeManifest(t *testing.T, dir string, mode ceremony.Mode) string {
	t.Helper()
	m := ceremony.Manifest{Kind: ceremony.ManifestKind, Mode: mode.String(), CeremonyID: "contoso-hsm-2026-01", HSMName: "contoso-hsm", Quorum: 2,
		SDFileName: mode.FileName("contoso-hsm-SD.json"), Custodians: []ceremony.ManifestCustodian{
			{Index: 0, ShareX: 1, Name: "Alice", CertificateFile: mode.FileName("custodian-1.cer"), TokenKind: "yubikey"}}}
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, mode.FileName("manifest.json"))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A production rotation refuses a drill's manifest at set-up, saying so,
// and writes nothing; a production manifest goes on to the air-gap check.
func TestProductionRotationRefusesADrillFile(t *testing.T) {
	h := newHarness(t)
	files := t.TempDir()
	h.tap("Start rotation")
	h.waitShows("Rotation — set-up")
	if !h.shows("PRODUCTION") {
		t.Fatal("the rotation set-up does not say PRODUCTION")
	}
	h.locked(func() { h.win.Resize(minimumSize) })
	h.assertFits(minimumSize)
	h.typeInto("manifest.json of the old operator package", writeManifest(t, files, ceremony.Drill))
	h.typeInto("ceremony identifier", "contoso-hsm-rotation-2027")
	h.typeInto("witness's full name", "Wendy Witness")
	h.tap("I have read the guard rails — start the rotation")
	h.waitShows("DRILL-manifest.json is a DRILL file")
	if entries, _ := os.ReadDir(h.shell.workDir); len(entries) != 0 {
		t.Errorf("a refused rotation set-up wrote %v", entries)
	}
	if !h.shows("Rotation — set-up") {
		t.Fatal("the refused set-up left the set-up screen")
	}

	h.typeInto("manifest.json of the old operator package", writeManifest(t, files, ceremony.Production))
	h.tap("I have read the guard rails — start the rotation")
	h.waitShows("test finding") // the air-gap check comes next
	if h.shows("is a DRILL file") {
		t.Error("the production manifest was refused as a drill file")
	}
	h.tap("Witness: I have read the findings")
	h.waitShows("Rotation — new custodian 1 of 3")
	if !h.shows("PRODUCTION") || h.shows("DRILL —") {
		t.Fatal("a production rotation does not say PRODUCTION")
	}

	// Leaving asks, then closes the rotation's transcript as abandoned.
	h.tap("Home")
	h.waitShows("End this ceremony?")
	h.tap("End the ceremony")
	h.waitShows("Start rotation")
	matches, _ := filepath.Glob(filepath.Join(h.shell.workDir, "*rotation-transcript.jsonl"))
	if len(matches) != 1 {
		t.Fatalf("production rotation transcripts: %v", matches)
	}
	v, err := transcript.VerifyFile(matches[0])
	if err != nil || !v.OK() || v.Ending() != "abandoned" || strings.HasPrefix(filepath.Base(matches[0]), "DRILL-") {
		t.Errorf("the abandoned rotation's transcript %s: %v, ending %q", matches[0], err, v.Ending())
	}
}

// Home during the drill's rotation, after a new custodian opened their
// share, abandons the drill through DrillRun: the rotation's share is
// wiped and the drill's one transcript closed "abandoned".
func TestGUIRotationDrillLeftWithHomeIsAbandoned(t *testing.T) {
	h := newHarness(t)
	h.setUpDrill(3, 2, true)
	h.tap("Start the drill")
	h.enrollAllOf(h.tap, "Activation — custodian", 3)
	h.tap("Write the operator package")
	h.waitShows("Operator package written")
	h.tap("OK")
	h.tap("Operator: activate the drill HSM")
	h.waitShows("Activation — share self-tests")
	h.selfTestAll(h.tap, "Custodian", 3)
	h.tap("Prove the quorum recovers")
	h.tap("Witness sign-off")
	h.tap("Sign off")
	h.enrollAllOf(h.tap, "Rotation — new custodian", 3)
	h.tap("Write the operator package")
	h.waitShows("Operator package written")
	h.tap("OK")
	h.tap("Operator: download the drill HSM's security domain again")
	h.waitShows("Rotation — share self-tests")
	var rw *activationWizard
	h.waitFor("the rotation's wizard", func() bool { rw = currentActivation(h); return rw != nil && rw.kind == "Rotation" })
	var mu sync.Mutex
	var wiped []string
	rw.a.WipeHook(func(label string) { mu.Lock(); wiped = append(wiped, label); mu.Unlock() })
	h.tap("Custodian 1 of 3 — New custodian 1: insert your token")
	h.waitShows("Custodian 1 of 3 — New custodian 1: share opened")

	h.tap("Home")
	h.waitShows("End this ceremony?")
	h.tap("End the ceremony")
	h.waitShows("Start rotation")
	v := drillTranscript(t, h)
	last := v.Entries[len(v.Entries)-1]
	mu.Lock()
	defer mu.Unlock()
	if v.Ending() != "abandoned" || !strings.Contains(last.Message, "Home") || strings.Join(wiped, ",") != "share of New custodian 1" || len(rw.a.Held()) != 0 {
		t.Errorf("rotation drill left with Home: ending %q (%s), wiped %v, held %v", v.Ending(), last.Message, wiped, rw.a.Held())
	}
}
