package ceremony

import (
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/custodian-hsm/custodian/ceremony/transcript"
	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/token"
)

// Adopt takes into the ceremony a custodian enrolled earlier, by their
// certificate — for the command line, where `custodian token enroll`
// enrolls each custodian in a command (and transcript) of its own. The
// same checks as Enroll apply: one key and one name per custodian.
func (a *Activation) Adopt(name, keyRef string, cert *x509.Certificate) (*Custodian, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.need(ActEnroll); err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, errors.New("the custodian's name is required")
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%s's certificate holds a %T key; custodian keys are RSA", name, cert.PublicKey)
	}
	for _, c := range a.custodians {
		if strings.EqualFold(c.Name, name) {
			return nil, fmt.Errorf("%s is already custodian %d: each custodian holds one share", name, c.Index+1)
		}
		if token.SamePublicKey(c.Certificate, pub) {
			return nil, fmt.Errorf("%s's key is already %s's: every custodian needs their own key", name, c.Name)
		}
	}
	c := &Custodian{Index: len(a.custodians), Name: name, KeyRef: keyRef, Token: tokenInfoOf(keyRef), Certificate: cert}
	if keyRef == "" {
		c.Token = token.Info{}
	}
	msg := fmt.Sprintf("custodian %d of %d, enrolled earlier (custodian token enroll), joins by certificate SHA-256 %s", c.Index+1, a.cfg.Custodians, c.CertificateSHA256())
	// What Azure does not check but the record should show (an expired
	// or CA certificate made outside Custodian).
	for _, n := range sd.CustodianCertificateNotes(cert, time.Now()) {
		msg += "; note: " + n.Sentence
	}
	if err := a.record(Event{Step: "activation.enroll.adopted", Actor: Actor{RoleCustodian, name},
		Inputs: []FileRef{RefOf(c.CertificateFileName(a.cfg.Mode), cert.Raw)}, Message: msg}); err != nil {
		return nil, err
	}
	a.custodians = append(a.custodians, c)
	if len(a.custodians) == a.cfg.Custodians {
		a.moveTo(ActPackage)
	}
	return c, nil
}

// EndCompleted ends a command-line run that did its work (no witness
// signs at a terminal): the transcript is closed "completed".
func (l *Lifecycle) EndCompleted(summary string) (*Outcome, error) {
	return l.complete(summary)
}

// Retirement records the destruction of old custodian keys after a
// rotation, in a run of its own (`custodian rotation retire`). It refuses
// to start unless the rotation's check transcript verifies and shows the
// new security domain proven for the same HSM, from the same old
// ceremony: retiring first could leave the HSM unrecoverable.
type Retirement struct {
	*Lifecycle
	old     Manifest
	retired map[int]bool
}

// NewRetirement checks the rotation's check transcript and starts the
// retirement.
func NewRetirement(mode Mode, old *Manifest, check *transcript.Verification, rec Recorder) (*Retirement, error) {
	if err := rotationProven(old, check); err != nil {
		return nil, err
	}
	r := &Retirement{Lifecycle: newLifecycle("rotation", mode, rec), old: *old, retired: map[int]bool{}}
	c := check.Ceremony()
	if err := r.record(Event{Step: "rotation.retirement.start", Actor: System,
		Inputs:  []FileRef{{Name: "rotation check transcript of ceremony " + c.ID, SHA256: check.Final}},
		Message: fmt.Sprintf("the rotation of %s away from ceremony %s was checked and its new quorum proven (final digest %s)", old.HSMName, old.CeremonyID, check.Final)}); err != nil {
		return nil, err
	}
	return r, nil
}

func rotationProven(old *Manifest, check *transcript.Verification) error {
	if check == nil || !check.OK() {
		return errors.New("the rotation's check transcript does not verify: old keys are retired only after a verified check")
	}
	c := check.Ceremony()
	if c == nil || c.Kind != "rotation" || c.HSM != old.HSMName {
		return fmt.Errorf("the check transcript is not a rotation of %s", old.HSMName)
	}
	started, proven := false, false
	for _, e := range check.Entries {
		started = started || e.Step == "rotation.start" && strings.Contains(e.Decision, "(ceremony "+old.CeremonyID+")")
		proven = proven || e.Step == "activation.quorum.proven"
	}
	if !started || !proven {
		return fmt.Errorf("the check transcript does not show a rotation away from ceremony %s whose new quorum was proven", old.CeremonyID)
	}
	return nil
}

// Retire records the destruction of old custodian i's key.
func (r *Retirement) Retire(i int, method, witness string) error {
	if i < 0 || i >= len(r.old.Custodians) {
		return fmt.Errorf("there is no old custodian %d", i+1)
	}
	if r.retired[i] {
		return fmt.Errorf("%s's old key is already retired", r.old.Custodians[i].Name)
	}
	e, err := retireEvent(r.old.Custodians[i], method, witness)
	if err != nil {
		return err
	}
	if err := r.record(e); err != nil {
		return err
	}
	r.retired[i] = true
	return nil
}

// Find returns the old custodian named name.
func (r *Retirement) Find(name string) (int, bool) {
	for i, c := range r.old.Custodians {
		if strings.EqualFold(c.Name, name) {
			return i, true
		}
	}
	return -1, false
}

// PackageWrittenEarlier records that the operator package was written by
// an earlier command (`custodian rotation package`) and moves on to wait
// for the security domain file.
func (a *Activation) PackageWrittenEarlier(note string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.need(ActPackage); err != nil {
		return err
	}
	if err := a.record(Event{Step: "activation.operator-package.earlier", Actor: System, Message: "the operator package was written by an earlier command: " + note}); err != nil {
		return err
	}
	a.moveTo(ActAwaitSD)
	return nil
}

// retireEvent is the destruction record of an old custodian's key.
func retireEvent(c ManifestCustodian, method, witness string) (Event, error) {
	if strings.TrimSpace(method) == "" || strings.TrimSpace(witness) == "" {
		return Event{}, errors.New("a destruction record needs the method and the witness")
	}
	return Event{Step: "rotation.retire", Actor: Actor{RoleWitness, witness},
		Inputs:   []FileRef{{Name: c.CertificateFile, SHA256: c.CertificateSHA256}},
		Decision: fmt.Sprintf("old custodian key of %s (share x=%d, %s %s) retired: %s", c.Name, c.ShareX, c.TokenKind, c.TokenSerial, method)}, nil
}
