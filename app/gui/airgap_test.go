package gui

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func (h *harness) transcripts() []string {
	m, _ := filepath.Glob(filepath.Join(h.shell.workDir, "*.jsonl"))
	m2, _ := filepath.Glob(filepath.Join(h.shell.workDir, "*", "*.jsonl"))
	return append(m, m2...)
}

func (h *harness) fillActivationSetup() {
	h.t.Helper()
	h.tap("Start activation")
	h.waitShows("Activation — set-up")
	h.typeInto("Managed HSM name", "contoso-hsm")
	h.typeInto("ceremony identifier", "contoso-hsm-airgap-test")
	h.typeInto("witness's full name", "Wendy Witness")
	h.tap("I have read the guard rails")
}

// A production ceremony starts only after the witness has seen the
// air-gap findings in a dialog; Back starts nothing, and the transcript
// says the findings were shown and acknowledged, with the exception the
// witness typed.
func TestAirGapFindingsAreShownToTheWitness(t *testing.T) {
	h := newHarness(t)
	h.fillActivationSetup()
	h.waitShows("eth0 (test finding)")
	if h.shows("Activation — custodian 1") {
		t.Fatal("the ceremony started before the witness saw the findings")
	}
	h.tap("Back")
	if got := h.transcripts(); len(got) != 0 {
		t.Fatalf("Back opened a transcript: %v", got)
	}
	h.tap("I have read the guard rails")
	h.waitShows("eth0 (test finding)")
	h.typeInto("exception: why the ceremony goes on", "the network cable is unplugged at the wall")
	h.tap("Witness: I have read the findings")
	h.waitShows("Activation — custodian 1 of 3")
	got := h.transcripts()
	if len(got) != 1 {
		t.Fatalf("transcripts: %v", got)
	}
	data, _ := os.ReadFile(got[0])
	for _, want := range []string{"1 finding(s) shown to and acknowledged by witness Wendy Witness",
		"air-gap findings accepted: the network cable is unplugged at the wall"} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("the transcript does not say %q:\n%s", want, data)
		}
	}
}
