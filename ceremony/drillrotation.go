package ceremony

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/custodian-hsm/custodian/crypto/token"
)

// NewRotation starts the drill's rotation once the activation was signed
// off: a new set of as many custodians (the drill tokens after the
// activation's) replaces the activation's. Its sign-off closes the drill's
// transcript.
func (d *DrillRun) NewRotation() (*Rotation, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.cfg.Rotation {
		return nil, errors.New("this drill was not set up as a rotation drill")
	}
	if d.act == nil || d.act.Outcome() == nil || d.act.Outcome().Ending != SignedOff {
		return nil, errors.New("the drill's rotation starts after the activation is signed off")
	}
	if d.recovery != nil || d.rotation != nil {
		return nil, errors.New("this drill's recovery or rotation has already started")
	}
	pkg := d.act.Package()
	data, err := os.ReadFile(filepath.Join(pkg.Dir, Drill.FileName("manifest.json")))
	if err != nil {
		return nil, err
	}
	old, err := ParseManifest(data)
	if err != nil {
		return nil, err
	}
	r, err := NewRotation(ActivationConfig{Mode: Drill, HSMName: "drill-hsm", CeremonyID: d.ID + "-rotation",
		Custodians: d.cfg.Custodians, Quorum: d.cfg.Quorum, Witness: DrillWitness, Tool: "custodian drill"}, old, d.Session.Tokens.Manager(), d.rec)
	if err != nil {
		return nil, err
	}
	d.rotation = r
	return r, nil
}

// NewTokenIndex is the drill token of the rotation's new custodian i.
func (d *DrillRun) NewTokenIndex(i int) int { return d.cfg.Custodians + i }

// OperatorRedownload plays the operator at the rotation: the drill HSM's
// security domain downloaded again for the new certificates.
func (d *DrillRun) OperatorRedownload() (string, []byte, error) {
	d.mu.Lock()
	r := d.rotation
	d.mu.Unlock()
	if r == nil {
		return "", nil, errors.New("the drill's rotation has not started")
	}
	return d.Session.OperatorRedownload(r)
}

// OldKeys are the activation's custodians' keys, a quorum of them, for
// the rotation's comparison of the old and new security domains.
func (d *DrillRun) OldKeys() []OldKey {
	var keys []OldKey
	for i := 0; i < d.cfg.Quorum; i++ {
		keys = append(keys, OldKey{Name: fmt.Sprintf("Custodian %d", i+1), Ref: d.Session.Tokens.Ref(i), Opts: d.Session.Tokens.Options(i)})
	}
	return keys
}

// scriptRotation is the rotation drill after the activation: the new set
// enrolls, the operator downloads the SD again, every new custodian opens
// their share, both domains are compared, the new quorum proven, the old
// keys retired and the rotation signed off.
func (d *DrillRun) scriptRotation(ctx context.Context, report *DrillReport, oldName string, oldSD []byte) error {
	cfg, tokens := d.cfg, d.Session.Tokens
	r, err := d.NewRotation()
	if err != nil {
		return err
	}
	for i := 0; i < cfg.Custodians; i++ {
		d.progress(fmt.Sprintf("rotation: enrolling new custodian %d of %d", i+1, cfg.Custodians))
		t := d.NewTokenIndex(i)
		if _, err := r.Enroll(ctx, fmt.Sprintf("New custodian %d", i+1), tokens.Ref(t), token.EnrollRequest{Bits: cfg.Bits}, tokens.Options(t)); err != nil {
			return err
		}
	}
	pkg, err := r.WritePackage(filepath.Join(d.workDir(), "DRILL-rotation-operator-package"))
	if err != nil {
		return err
	}
	report.Files = append(report.Files, pkg.Dir)
	d.progress("rotation: the drill HSM's security domain is downloaded again for the new certificates")
	name, data, err := d.OperatorRedownload()
	if err != nil {
		return err
	}
	report.Files = append(report.Files, filepath.Join(d.workDir(), name))
	if _, err := r.LoadSD(name, data); err != nil {
		return err
	}
	for i := 0; i < cfg.Custodians; i++ {
		d.progress(fmt.Sprintf("rotation: new custodian %d opens their share", i+1))
		t := d.NewTokenIndex(i)
		if err := r.SelfTest(ctx, i, tokens.Options(t)); err != nil {
			return err
		}
	}
	d.progress("rotation: comparing the old and the new security domains")
	c, err := r.CompareWithOld(ctx, oldName, oldSD, d.OldKeys())
	if err != nil {
		return err
	}
	report.say("rotation: %s", c)
	if err := r.ProveQuorum(); err != nil {
		return err
	}
	report.say("rotation: %d new custodians opened their shares; the new quorum of %d recovers the security domain", cfg.Custodians, cfg.Quorum)
	if !c.Same() {
		return fmt.Errorf("the rotated security domain differs from the old one: %s", c)
	}
	for i := range r.OldCustodians() {
		if err := r.Retire(i, DestructionMethods[0], DrillWitness); err != nil {
			return err
		}
	}
	report.say("rotation: %d old keys retired with destruction records", len(r.OldCustodians()))
	report.Accepted = true
	return r.SignOff(DrillWitness, true, "")
}

// IsRotation reports whether the drill was set up as a rotation drill
// (a front-end then goes on to NewRotation after the activation).
func (d *DrillRun) IsRotation() bool { return d.cfg.Rotation }

// Custodians and Quorum are the drill's N and M.
func (d *DrillRun) Custodians() int { return d.cfg.Custodians }

// Quorum is the drill's M.
func (d *DrillRun) Quorum() int { return d.cfg.Quorum }
