package ceremony

import (
	"fmt"

	"github.com/custodian-hsm/custodian/crypto/token"
)

// ManifestMode is the mode an operator manifest was written in, as a
// typed Mode: the manifest's "mode" member is the one place the file says
// whether it is a drill's, and a rotation decides on this value, never on
// the file's name.
func (m *Manifest) ManifestMode() (Mode, error) {
	switch m.Mode {
	case Production.String():
		return Production, nil
	case Drill.String():
		return Drill, nil
	}
	return Production, fmt.Errorf("the manifest's mode is %q, neither %s nor %s", m.Mode, Production, Drill)
}

// ModeMismatchError refuses a file of the other mode: a drill's manifest
// in a production rotation, or a production one in a drill.
type ModeMismatchError struct {
	What      string // the file, as the person named it
	Want, Got Mode
}

func (e *ModeMismatchError) Error() string {
	if e.Got == Drill {
		return fmt.Sprintf("%s is a DRILL file: a %s ceremony never takes a drill's files — bring the manifest of the production activation being replaced", e.What, e.Want)
	}
	return fmt.Sprintf("%s is a %s file: a %s never takes production files", e.What, e.Got, e.Want)
}

// CheckManifestMode refuses a manifest written in another mode than mode.
func CheckManifestMode(what string, m *Manifest, mode Mode) error {
	got, err := m.ManifestMode()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if got != mode {
		return &ModeMismatchError{What: what, Want: mode, Got: got}
	}
	return nil
}

// StartRotation validates a rotation's set-up and the old manifest (same
// mode, a manifest of this HSM), then opens the rotation's transcript in
// dir and starts it. A refused set-up writes nothing.
func StartRotation(dir string, cfg ActivationConfig, old *Manifest, tokens *token.Manager) (*Rotation, error) {
	validate := func() error {
		if old == nil {
			return fmt.Errorf("a rotation starts from the manifest of the activation (or rotation) being replaced")
		}
		if err := CheckManifestMode("the old manifest", old, cfg.Mode); err != nil {
			return err
		}
		if old.HSMName != cfg.HSMName {
			return fmt.Errorf("the old manifest is for HSM %q, this rotation for %q", old.HSMName, cfg.HSMName)
		}
		return cfg.Validate()
	}
	rec, err := transcriptFor(dir, cfg.Mode, "rotation", cfg.CeremonyID, cfg.HSMName, validate)
	if err != nil {
		return nil, err
	}
	r, err := NewRotation(cfg, old, tokens, rec)
	if err != nil {
		rec.Close(Closing{Ending: Cancelled, Actor: System, Reason: "the set-up could not be recorded: " + oneLine(err.Error())})
		return nil, err
	}
	return r, nil
}

// OldManifest is the manifest of the activation (or rotation) being
// replaced.
func (r *Rotation) OldManifest() Manifest { return r.oldManifest }

// Retired reports whether old custodian i's key has been retired.
func (r *Rotation) Retired(i int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.retired[i]
}
