package ceremony

import (
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/ceremony/airgap"
)

// The transcript says the air-gap findings were shown only when they were.
func TestRecordAirGapSaysHowTheFindingsReachedTheWitness(t *testing.T) {
	report := &airgap.Report{Findings: []airgap.Finding{{Check: "root", Severity: airgap.Warning, Message: "running as root"}}}
	for shown, want := range map[AirGapShown]string{
		AirGapNotConfirmed: "NOT confirmed as seen by the witness",
		AirGapAcknowledged: "shown to and acknowledged by witness Wendy",
		AirGapPrinted:      "printed on the terminal for witness Wendy",
	} {
		var got Event
		if _, err := recordAirGap(func(e Event) error { got = e; return nil }, Production, "Wendy", report, shown); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(got.Decision, want) {
			t.Errorf("shown=%d: decision %q, want %q", shown, got.Decision, want)
		}
	}
}
