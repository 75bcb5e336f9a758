//go:build drillbuild

package gui

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"fyne.io/fyne/v2"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/crypto/token"
)

// rotationTour takes the rotation's screens: the production set-up, and a
// 2-of-3 rotation drill's new-SD step, comparison and retirement, reached
// with the ceremony engine (what the wizards' buttons call).
func (s *shell) rotationTour(work string, snap func(string, func()) error) error {
	if err := snap("16-rotation-setup.png", s.rotationSetup); err != nil {
		return err
	}
	d, err := ceremony.StartDrill(ceremony.DrillConfig{Custodians: 3, Quorum: 2, Tokens: ceremony.SoftTokens, Dir: filepath.Join(work, "DRILL-rotation"), Rotation: true})
	if err != nil {
		return err
	}
	var aw *activationWizard
	fyne.DoAndWait(func() { s.startDrill(d); aw, _ = s.wizard.(*activationWizard) })
	if aw == nil {
		return errors.New("the rotation drill did not open its activation")
	}
	if err := tourActivate(aw, "Custodian", "DRILL-operator-package"); err != nil {
		return err
	}
	name, data, err := d.OperatorActivate()
	if err == nil {
		err = d.LoadSD(name, data)
	}
	if err == nil {
		err = tourSelfTestAndSignOff(aw)
	}
	if err != nil {
		return err
	}
	fyne.DoAndWait(aw.next)
	var rw *activationWizard
	fyne.DoAndWait(func() { rw, _ = s.wizard.(*activationWizard) })
	if rw == nil || rw.kind != "Rotation" {
		return errors.New("the drill did not go on to the rotation")
	}
	if err := tourActivate(rw, "New custodian", "DRILL-rotation-operator-package"); err != nil {
		return err
	}
	if err := snap("17-drill-rotation-new-sd.png", rw.render); err != nil {
		return err
	}
	if name, data, err = d.OperatorRedownload(); err == nil {
		err = d.LoadSD(name, data)
	}
	for i := range rw.a.Custodians() {
		if err == nil {
			err = rw.a.SelfTest(context.Background(), i, rw.openOptions(i))
		}
	}
	if err != nil {
		return err
	}
	if err := snap("18-drill-rotation-compare.png", rw.render); err != nil {
		return err
	}
	if err := rw.a.ProveQuorum(); err != nil {
		return err
	}
	return snap("19-drill-rotation-retire.png", rw.render)
}

// tourActivate enrolls every custodian of the wizard's activation and
// writes its operator package.
func tourActivate(aw *activationWizard, role, folder string) error {
	a := aw.a
	for k, _ := a.NextCustodian(); a.Step() == ceremony.ActEnroll; k, _ = a.NextCustodian() {
		if _, err := a.Enroll(context.Background(), fmt.Sprintf("%s %d", role, k), aw.session.Tokens.Ref(aw.offset+k-1), token.EnrollRequest{Bits: 2048}, aw.openOptions(k-1)); err != nil {
			return err
		}
	}
	_, err := a.WritePackage(filepath.Join(aw.session.Dir, folder))
	return err
}

// tourSelfTestAndSignOff opens every share, proves the quorum and signs
// the activation off.
func tourSelfTestAndSignOff(aw *activationWizard) error {
	a := aw.a
	for i := range a.Custodians() {
		if err := a.SelfTest(context.Background(), i, aw.openOptions(i)); err != nil {
			return err
		}
	}
	if err := a.ProveQuorum(); err != nil {
		return err
	}
	return a.SignOff(ceremony.DrillWitness, true, "")
}
