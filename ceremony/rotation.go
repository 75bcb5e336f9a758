package ceremony

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/token"
)

// Rotation replaces the custodian set, following Microsoft's procedure:
// enroll the new set, have the operator download the security domain again
// with the new certificates, verify it and run the share self-tests (all
// of which is an Activation), and only then retire the old keys, each with
// a destruction record signed by a witness.
type Rotation struct {
	*Activation
	old         []ManifestCustodian
	oldManifest Manifest
	retired     map[int]bool
	compared    *DomainComparison
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
	if err := CheckManifestMode("the previous manifest", old, cfg.Mode); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := newLifecycle("rotation", cfg.Mode, rec)
	if err := l.record(Event{Step: "rotation.start", Actor: Actor{RoleWitness, cfg.Witness},
		Decision: fmt.Sprintf("%s rotation of %s's custodians: %d old (ceremony %s) → %d new, quorum %d", cfg.Mode, cfg.HSMName, len(old.Custodians), old.CeremonyID, cfg.Custodians, cfg.Quorum)}); err != nil {
		return nil, err
	}
	a, err := newActivation(cfg, tokens, l)
	if err != nil {
		return nil, err
	}
	return &Rotation{Activation: a, old: old.Custodians, oldManifest: *old, retired: map[int]bool{}}, nil
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
// until the new security domain has been verified and its quorum proven,
// and when the comparison found the two domains different: retiring then
// could leave the HSM with no recoverable security domain.
func (r *Rotation) Retire(i int, method, witness string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.step != ActDone {
		return errors.New("old keys are retired only after the new security domain is verified and its quorum proven")
	}
	if i < 0 || i >= len(r.old) {
		return fmt.Errorf("there is no old custodian %d", i+1)
	}
	if r.compared != nil && !r.compared.Same() {
		// The old keys may be all that opens the HSM's real domain.
		return fmt.Errorf("the old and the new security domains differ (%s): do not retire the old keys", r.compared)
	}
	if r.retired[i] {
		return fmt.Errorf("%s's old key is already retired", r.old[i].Name)
	}
	e, err := retireEvent(r.old[i], method, witness)
	if err != nil {
		return err
	}
	if err := r.record(e); err != nil {
		return err
	}
	r.retired[i] = true
	return nil
}

// OldKey is an old custodian's key, to open their share of the old
// security domain for the comparison.
type OldKey struct {
	Name string
	Ref  string
	Opts token.OpenOptions
}

// OldKeyError is CompareWithOld failing to open keys[Index]'s old share.
// A front-end branches on it: when LastTry(err) is set, it asks Name,
// records the confirmation and compares again with that key's
// AllowLastRetry set; when Blocked(err) is set, it says how to unblock.
type OldKeyError struct {
	Index int
	Name  string
	Err   error
}

func (e *OldKeyError) Error() string { return fmt.Sprintf("old custodian %s: %v", e.Name, e.Err) }

func (e *OldKeyError) Unwrap() error { return e.Err }

// DomainComparison is what comparing the old and the new security domains
// found. The service may re-encrypt items between downloads, so different
// ciphertexts are reported, not failed; what matters is that both
// recover the same master key and the same item contents.
type DomainComparison struct {
	SameMasterKey bool
	SameItems     bool // same tags, same contents, same order
	Findings      []string
}

// Same reports whether both domains hold the same keys.
func (c *DomainComparison) Same() bool { return c.SameMasterKey && c.SameItems }

func (c *DomainComparison) String() string { return strings.Join(c.Findings, "; ") }

// CompareWithOld opens an old quorum's shares of the old security domain
// (oldSD, as downloaded at the earlier activation), rebuilds both domains
// — the new one from the shares the new custodians opened in their
// self-tests — and compares them. It runs after every self-test and
// before ProveQuorum; everything rebuilt is wiped before it returns, and
// the old shares with it. The findings are recorded.
func (r *Rotation) CompareWithOld(ctx context.Context, oldName string, oldSD []byte, keys []OldKey) (*DomainComparison, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.need(ActProve); err != nil {
		return nil, err
	}
	oldFile, err := sd.ParseFile(oldSD)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", oldName, err)
	}
	var oldShares []*sd.Share
	defer func() {
		for _, s := range oldShares {
			s.Wipe()
		}
	}()
	for i, k := range keys {
		share, _, _, err := openShare(ctx, AdmissionPolicy{Mode: r.cfg.Mode}, r.tokens, oldFile, k.Ref, nil, k.Opts)
		if err != nil {
			_ = r.record(Event{Step: "rotation.compare.share-failed", Actor: Actor{RoleCustodian, k.Name}, Inputs: []FileRef{RefOf(oldName, oldSD)}, Message: err.Error()})
			return nil, &OldKeyError{Index: i, Name: k.Name, Err: err}
		}
		if err := r.hold(share, "old share of "+k.Name); err != nil {
			return nil, err
		}
		oldShares = append(oldShares, share)
	}
	var c *DomainComparison
	err = r.using(func() (err error) {
		c, err = compareDomains(oldFile, oldShares, r.sdFile, r.openedShares())
		return err
	})
	if err != nil {
		_ = r.record(Event{Step: "rotation.compare.failed", Actor: System, Inputs: []FileRef{RefOf(oldName, oldSD), r.sdRef}, Message: err.Error()})
		return nil, err
	}
	if err := r.record(Event{Step: "rotation.compare", Actor: System, Inputs: []FileRef{RefOf(oldName, oldSD), r.sdRef},
		Decision: map[bool]string{true: "the old and the new security domains hold the same keys", false: "the old and the new security domains DIFFER"}[c.Same()],
		Message:  c.String()}); err != nil {
		return nil, err
	}
	r.compared = c
	return c, nil
}

func (a *Activation) openedShares() []*sd.Share {
	var s []*sd.Share
	for i := range a.custodians {
		if sh, ok := a.opened[i]; ok {
			s = append(s, sh)
		}
	}
	return s
}

func compareDomains(oldFile *sd.File, oldShares []*sd.Share, newFile *sd.File, newShares []*sd.Share) (*DomainComparison, error) {
	oldRec, err := sd.Recover(oldFile, oldShares)
	if err != nil {
		return nil, fmt.Errorf("the old quorum does not rebuild the old security domain: %w", err)
	}
	defer oldRec.Wipe()
	newRec, err := sd.Recover(newFile, newShares)
	if err != nil {
		return nil, fmt.Errorf("the new quorum does not rebuild the new security domain: %w", err)
	}
	defer newRec.Wipe()
	c := &DomainComparison{SameMasterKey: bytes.Equal(oldRec.MasterKey(), newRec.MasterKey()), SameItems: true}
	if c.SameMasterKey {
		c.Findings = append(c.Findings, "same master key")
	} else {
		c.Findings = append(c.Findings, "the master keys DIFFER: the new file is not a download of the same HSM's security domain")
	}
	oldTags, newTags := oldRec.Tags(), newRec.Tags()
	if len(oldTags) != len(newTags) {
		c.SameItems = false
		c.Findings = append(c.Findings, fmt.Sprintf("%d items in the old security domain, %d in the new", len(oldTags), len(newTags)))
	}
	reencrypted := 0
	for i := 0; i < len(oldTags) && i < len(newTags); i++ {
		switch {
		case oldTags[i] != newTags[i]:
			c.SameItems = false
			c.Findings = append(c.Findings, fmt.Sprintf("item %d is %q in the old, %q in the new", i+1, oldTags[i], newTags[i]))
		case !bytes.Equal(oldRec.Items()[i], newRec.Items()[i]):
			c.SameItems = false
			c.Findings = append(c.Findings, fmt.Sprintf("item %d (%s) has other contents", i+1, oldTags[i]))
		case oldFile.EncData.Data[i].CompactJWE != newFile.EncData.Data[i].CompactJWE:
			reencrypted++
		}
	}
	if c.SameItems {
		c.Findings = append(c.Findings, fmt.Sprintf("the same %d items with the same contents", len(newTags)))
	}
	if reencrypted > 0 {
		c.Findings = append(c.Findings, fmt.Sprintf("%d item(s) were re-encrypted by the service between the downloads (same contents)", reencrypted))
	}
	return c, nil
}

// Compared is the comparison's result (nil if none was made).
func (r *Rotation) Compared() *DomainComparison {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.compared
}

// ToRetire lists what is retired once the rotation is signed off: the
// old custodians' tokens (with their keys) and the old files.
func (r *Rotation) ToRetire() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var list []string
	for i, c := range r.old {
		state := "to retire"
		if r.retired[i] {
			state = "retired"
		}
		tok := c.TokenKind + " token"
		if c.TokenSerial != "" {
			tok += " " + c.TokenSerial
		}
		list = append(list, fmt.Sprintf("old key of %s (share x=%d): %s, certificate %s (SHA-256 %s) — %s", c.Name, c.ShareX, tok, c.CertificateFile, c.CertificateSHA256, state))
	}
	m := r.oldManifest
	list = append(list, fmt.Sprintf("the old security domain file %s of ceremony %s: it opens with the old keys only — destroy every copy once the new one is verified", m.SDFileName, m.CeremonyID),
		fmt.Sprintf("the old operator package of ceremony %s (certificates and manifest): superseded", m.CeremonyID))
	return list
}

// SignOff records what is to be retired, then the witness's sign-off,
// and ends the rotation.
func (r *Rotation) SignOff(witness string, agree bool, note string) error {
	if step := r.Step(); step != ActDone {
		return &StepError{Workflow: "rotation", Want: string(ActDone), Have: string(step)}
	}
	list := r.ToRetire()
	if err := r.record(Event{Step: "rotation.to-retire", Actor: System, Message: strings.Join(list, "; ")}); err != nil {
		return err
	}
	return r.Activation.SignOff(witness, agree, note)
}
