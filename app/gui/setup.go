package gui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/ceremony"
)

// activationSetup is the production activation set-up: the HSM, the
// ceremony's identity, N and M with their guard rails, and the witness.
func (s *shell) activationSetup() {
	hsm := widget.NewEntry()
	hsm.SetPlaceHolder("Managed HSM name, e.g. contoso-hsm")
	id := widget.NewEntry()
	id.SetPlaceHolder("ceremony identifier, e.g. contoso-hsm-2026-11-23")
	witness := widget.NewEntry()
	witness.SetPlaceHolder("witness's full name")
	n, m, rails := quorumPicker()
	status := widget.NewLabel("")
	status.Wrapping = fyne.TextWrapWord
	start := widget.NewButtonWithIcon("I have read the guard rails — start", theme.ConfirmIcon(), func() {
		s.airGapGate(witness.Text, func(gap airGapVerdict) {
			tokens := s.productionTokens()
			cfg := ceremony.ActivationConfig{Mode: ceremony.Production, HSMName: hsm.Text, CeremonyID: id.Text,
				Custodians: atoi(n.Selected), Quorum: atoi(m.Selected), Witness: witness.Text}
			gap.apply(&cfg.AirGap, &cfg.AirGapShown)
			// Validated before the transcript is created: a typo leaves nothing behind.
			a, err := ceremony.StartActivation(s.workDir, cfg, tokens)
			if err == nil {
				err = recordAirGapException(gap, witness.Text, a.RecordException)
			}
			if err != nil {
				status.SetText(err.Error())
				return
			}
			(&activationWizard{s: s, a: a, tokens: tokens}).render()
		})
	})
	start.Importance = widget.HighImportance
	s.show(ceremony.Production, "Activation — set-up", container.NewVBox(
		widget.NewForm(widget.NewFormItem("HSM", hsm), widget.NewFormItem("Ceremony", id), widget.NewFormItem("Witness", witness),
			widget.NewFormItem("Custodians (N)", n), widget.NewFormItem("Quorum (M)", m)),
		widget.NewCard("Guard rails", "read these aloud before starting", rails), start, status))
}

// recoverySetup is the production recovery set-up.
func (s *shell) recoverySetup() {
	hsm := widget.NewEntry()
	hsm.SetPlaceHolder("Managed HSM name")
	id := widget.NewEntry()
	id.SetPlaceHolder("ceremony identifier")
	witness := widget.NewEntry()
	witness.SetPlaceHolder("witness's full name")
	status := widget.NewLabel("")
	status.Wrapping = fyne.TextWrapWord
	start := widget.NewButtonWithIcon("Start the recovery", theme.ConfirmIcon(), func() {
		s.airGapGate(witness.Text, func(gap airGapVerdict) {
			cfg := ceremony.RecoveryConfig{Mode: ceremony.Production, HSMName: hsm.Text, CeremonyID: id.Text, Witness: witness.Text}
			gap.apply(&cfg.AirGap, &cfg.AirGapShown)
			// Validated before the transcript is created: a typo leaves nothing behind.
			r, err := ceremony.StartRecovery(s.workDir, cfg, s.productionTokens())
			if err == nil {
				err = recordAirGapException(gap, witness.Text, r.RecordException)
			}
			if err != nil {
				status.SetText(err.Error())
				return
			}
			(&recoveryWizard{s: s, r: r, cfg: cfg}).render()
		})
	})
	start.Importance = widget.HighImportance
	s.show(ceremony.Production, "Recovery — set-up", container.NewVBox(
		widget.NewForm(widget.NewFormItem("HSM", hsm), widget.NewFormItem("Ceremony", id), widget.NewFormItem("Witness", witness)),
		start, status))
}
