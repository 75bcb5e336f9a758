package ceremony

import "errors"

// What a drill's front-end (the GUI's wizards) needs beyond the workflows
// DrillRun hands out, so that the GUI drives the one drill sequence and
// keeps no part of it.

// Config is the recovery's set-up.
func (r *Recovery) Config() RecoveryConfig { return r.cfg }

// LoadSD takes the security domain file at the drill's SD step — the
// activation's, or the rotation's re-download once the rotation runs — as
// it came back (from the drill HSM, or typed in by path to rehearse a
// file coming back on a USB stick). The activation's accepted file is the
// one the recovery and the rotation's comparison start from.
func (d *DrillRun) LoadSD(name string, data []byte) error {
	d.mu.Lock()
	act, rot := d.act, d.rotation
	d.mu.Unlock()
	if rot != nil {
		_, err := rot.LoadSD(name, data)
		return err
	}
	if act == nil {
		return errors.New("the drill's activation has not started")
	}
	if _, err := act.LoadSD(name, data); err != nil {
		return err
	}
	d.mu.Lock()
	d.sdName, d.sdBytes = name, append([]byte(nil), data...)
	d.mu.Unlock()
	return nil
}
