package gui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/ceremony"
)

// rotationSetup is the production rotation's set-up: the manifest of the
// operator package being replaced (it names the HSM and the old
// custodians), the ceremony's identity, the new N and M with their guard
// rails, and the witness. A drill's manifest is refused here, before
// anything is written.
func (s *shell) rotationSetup() {
	manifest := s.newFileInput("manifest.json of the old operator package")
	id := widget.NewEntry()
	id.SetPlaceHolder("ceremony identifier, e.g. contoso-hsm-rotation-2027-01-15")
	witness := widget.NewEntry()
	witness.SetPlaceHolder("witness's full name")
	n, m, rails := quorumPicker()
	status := widget.NewLabel("")
	status.Wrapping = fyne.TextWrapWord
	start := widget.NewButtonWithIcon("I have read the guard rails — start the rotation", theme.ConfirmIcon(), func() {
		status.SetText("")
		name, data, err := manifest.Read()
		var old *ceremony.Manifest
		if err == nil {
			old, err = ceremony.ParseManifest(data)
		}
		if err == nil {
			// Before the air-gap check: a drill's file is refused at once.
			err = ceremony.CheckManifestMode(name, old, ceremony.Production)
		}
		if err != nil {
			status.SetText(err.Error())
			return
		}
		s.airGapGate(witness.Text, func(gap airGapVerdict) {
			tokens := s.productionTokens()
			cfg := ceremony.ActivationConfig{Mode: ceremony.Production, HSMName: old.HSMName, CeremonyID: id.Text,
				Custodians: atoi(n.Selected), Quorum: atoi(m.Selected), Witness: witness.Text}
			gap.apply(&cfg.AirGap, &cfg.AirGapShown)
			// Validated before the transcript is created: a typo leaves nothing behind.
			r, err := ceremony.StartRotation(s.workDir, cfg, old, tokens)
			if err == nil {
				err = recordAirGapException(gap, witness.Text, r.RecordException)
			}
			if err != nil {
				status.SetText(err.Error())
				return
			}
			s.newRotationWizard(r, nil, tokens).render()
		})
	})
	start.Importance = widget.HighImportance
	intro := widget.NewLabel("A rotation replaces the custodian set: the new custodians enroll, the operator downloads the security domain again for their certificates, every new custodian opens their share and the new quorum rebuilds it — compared with the old domain when the old SD and an old quorum are here. Only then are the old keys retired.")
	intro.Wrapping = fyne.TextWrapWord
	s.show(ceremony.Production, "Rotation — set-up", container.NewVBox(intro,
		widget.NewForm(widget.NewFormItem("Old manifest", manifest.box), widget.NewFormItem("Ceremony", id), widget.NewFormItem("Witness", witness),
			widget.NewFormItem("New custodians (N)", n), widget.NewFormItem("New quorum (M)", m)),
		widget.NewCard("Guard rails", "read these aloud before starting", rails), start, status))
}
