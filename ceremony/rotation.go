package ceremony

import (
	"errors"
	"fmt"
	"strings"

	"github.com/custodian-hsm/custodian/crypto/token"
)

// Rotation replaces the custodian set, following Microsoft's procedure:
// enroll the new set, have the operator download the security domain again
// with the new certificates, verify it and run the share self-tests (all
// of which is an Activation), and only then retire the old keys, each with
// a destruction record signed by a witness.
type Rotation struct {
	*Activation
	old     []ManifestCustodian
	retired map[int]bool
}

// DestructionMethods are the ways an old custodian key can be retired.
var DestructionMethods = []string{
	"key deleted from the token (PIV slot or PKCS#11 object), witnessed",
	"token reset to factory state, witnessed",
	"token physically destroyed, witnessed",
}

// NewRotation starts a rotation away from the custodians of an earlier
// activation's manifest.
func NewRotation(cfg ActivationConfig, old *Manifest, tokens *token.Manager, rec Recorder) (*Rotation, error) {
	if old == nil || len(old.Custodians) == 0 {
		return nil, errors.New("a rotation starts from the previous activation's manifest")
	}
	if old.HSMName != cfg.HSMName {
		return nil, fmt.Errorf("the previous manifest is for HSM %q, this rotation for %q", old.HSMName, cfg.HSMName)
	}
	if err := rec.Record(Event{Step: "rotation.start", Actor: Actor{RoleWitness, cfg.Witness},
		Decision: fmt.Sprintf("%s rotation of %s's custodians: %d old (ceremony %s) → %d new, quorum %d", cfg.Mode, cfg.HSMName, len(old.Custodians), old.CeremonyID, cfg.Custodians, cfg.Quorum)}); err != nil {
		return nil, err
	}
	a, err := NewActivation(cfg, tokens, rec)
	if err != nil {
		return nil, err
	}
	return &Rotation{Activation: a, old: old.Custodians, retired: map[int]bool{}}, nil
}

// OldCustodians lists the custodians being replaced.
func (r *Rotation) OldCustodians() []ManifestCustodian {
	return append([]ManifestCustodian(nil), r.old...)
}

// Pending lists the old custodians whose keys are not retired yet.
func (r *Rotation) Pending() []ManifestCustodian {
	r.mu.Lock()
	defer r.mu.Unlock()
	var p []ManifestCustodian
	for i, c := range r.old {
		if !r.retired[i] {
			p = append(p, c)
		}
	}
	return p
}

// Retire records the destruction of old custodian i's key. It is refused
// until the new security domain has been verified and its quorum proven:
// retiring first could leave the HSM with no recoverable security domain.
func (r *Rotation) Retire(i int, method, witness string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.step != ActDone {
		return errors.New("old keys are retired only after the new security domain is verified and its quorum proven")
	}
	if i < 0 || i >= len(r.old) {
		return fmt.Errorf("there is no old custodian %d", i+1)
	}
	if r.retired[i] {
		return fmt.Errorf("%s's old key is already retired", r.old[i].Name)
	}
	if strings.TrimSpace(method) == "" || strings.TrimSpace(witness) == "" {
		return errors.New("a destruction record needs the method and the witness")
	}
	c := r.old[i]
	if err := r.record(Event{Step: "rotation.retire", Actor: Actor{RoleWitness, witness},
		Inputs:   []FileRef{{Name: c.CertificateFile, SHA256: c.CertificateSHA256}},
		Decision: fmt.Sprintf("old custodian key of %s (share x=%d, %s %s) retired: %s", c.Name, c.ShareX, c.TokenKind, c.TokenSerial, method)}); err != nil {
		return err
	}
	r.retired[i] = true
	return nil
}
