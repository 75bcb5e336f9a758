package gui

import (
	"errors"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/ceremony/airgap"
)

// airGapVerdict is what the witness did with the air-gap findings.
type airGapVerdict struct {
	report *airgap.Report
	shown  ceremony.AirGapShown
	// exception is the witness's reason for going on, to be recorded as
	// an exception once the ceremony's transcript is open ("" for none).
	exception string
}

// apply fills a ceremony configuration's air-gap fields.
func (v airGapVerdict) apply(report **airgap.Report, shown *ceremony.AirGapShown) {
	*report, *shown = v.report, v.shown
}

// checkAirGap runs the self-check (tests give the shell a fixed one).
func (s *shell) checkAirGap() *airgap.Report {
	if s.airGap != nil {
		return s.airGap()
	}
	return airgap.Live().Check()
}

// airGapGate puts the air-gap findings in front of the witness at the
// start of a production ceremony. The ceremony starts (proceed) only once
// the witness has acknowledged them, or acknowledged them and recorded why
// the ceremony goes on regardless; Back starts nothing. A clean machine
// goes straight on.
func (s *shell) airGapGate(witness string, proceed func(airGapVerdict)) {
	report := s.checkAirGap()
	if report.Clean() {
		proceed(airGapVerdict{report: report, shown: ceremony.AirGapAcknowledged})
		return
	}
	var lines []string
	for _, f := range report.Warnings() {
		lines = append(lines, "⚠ "+f.Check+": "+f.Message)
	}
	findings := widget.NewLabel(strings.Join(lines, "\n"))
	findings.Wrapping = fyne.TextWrapWord
	who := strings.TrimSpace(witness)
	if who == "" {
		who = "the witness"
	}
	intro := widget.NewLabel("This machine is not fully air-gapped. " + who + " reads these findings before the ceremony starts; the transcript records that they were shown and acknowledged.")
	intro.Wrapping = fyne.TextWrapWord
	why := widget.NewMultiLineEntry()
	why.SetPlaceHolder("exception: why the ceremony goes on regardless (optional)")
	var d dialog.Dialog
	ack := widget.NewButtonWithIcon("Witness: I have read the findings — start", theme.ConfirmIcon(), func() {
		d.Hide()
		proceed(airGapVerdict{report: report, shown: ceremony.AirGapAcknowledged, exception: strings.TrimSpace(why.Text)})
	})
	ack.Importance = widget.HighImportance
	back := widget.NewButtonWithIcon("Back", theme.CancelIcon(), func() { d.Hide() })
	body := container.NewVBox(intro, findings, why, container.NewHBox(ack, back))
	d = dialog.NewCustomWithoutButtons("Air-gap findings — witness, read these", body, s.win)
	d.Resize(fyne.NewSize(max(dialogWidth+160, d.MinSize().Width), d.MinSize().Height))
	d.Show()
	s.focusSoon(ack)
}

// recordAirGapException records the witness's reason, when given, as an
// exception in the ceremony just started.
func recordAirGapException(v airGapVerdict, witness string, record func(what, approvedBy string) error) error {
	if v.exception == "" {
		return nil
	}
	if err := record("air-gap findings accepted: "+v.exception, witness); err != nil {
		return errors.Join(errors.New("recording the air-gap exception"), err)
	}
	return nil
}
