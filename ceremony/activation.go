package ceremony

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/custodian-hsm/custodian/ceremony/airgap"
	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/token"
)

// ActivationStep is where an activation ceremony stands.
type ActivationStep string

// Activation steps, in order.
const (
	ActSetup     ActivationStep = "setup"     // choose N, M; read the guard rails
	ActEnroll    ActivationStep = "enroll"    // one custodian at a time
	ActPackage   ActivationStep = "package"   // write the operator package
	ActAwaitSD   ActivationStep = "await-sd"  // the operator activates and brings the SD back
	ActSelfTest  ActivationStep = "self-test" // each custodian opens their own share
	ActProve     ActivationStep = "prove"     // the quorum recovers the SD
	ActDone      ActivationStep = "done"      // everything secret wiped
	ActCancelled ActivationStep = "cancelled" // wiped; nothing more can happen
)

// ActivationConfig is decided at set-up.
type ActivationConfig struct {
	Mode       Mode
	HSMName    string
	CeremonyID string
	Custodians int // N, 3..10
	Quorum     int // M, 2..N
	// Witness confirms the set-up and signs off the record.
	Witness string
	// Tool is the tool's identity line for manifests.
	Tool string
	// AirGap is the air-gap self-check shown at set-up (nil: run it now).
	AirGap *airgap.Report
	// AirGapShown says how AirGap's findings reached the witness.
	AirGapShown AirGapShown
}

// Activation is the activation ceremony: enroll N custodians, hand the
// certificates to the operator, take the SD back and prove it recovers.
type Activation struct {
	*Lifecycle
	mu         sync.Mutex
	cfg        ActivationConfig
	tokens     *token.Manager
	step       ActivationStep
	custodians []*Custodian
	pkg        *OperatorPackage
	sdFile     *sd.File
	sdRef      FileRef
	opened     map[int]*sd.Share // custodian index → share, kept for the quorum proof
	selfTested map[int]bool
	skipped    map[int]Exception
}

// NewActivation validates the set-up and records it. The guard rails must
// have been shown (GuardRails) before calling it.
func NewActivation(cfg ActivationConfig, tokens *token.Manager, rec Recorder) (*Activation, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return newActivation(cfg, tokens, newLifecycle("activation", cfg.Mode, rec))
}

// newActivation starts an activation on a lifecycle (a rotation's own).
func newActivation(cfg ActivationConfig, tokens *token.Manager, l *Lifecycle) (*Activation, error) {
	a := &Activation{Lifecycle: l, cfg: cfg, tokens: tokens,
		opened: map[int]*sd.Share{}, selfTested: map[int]bool{}, skipped: map[int]Exception{}}
	a.moveTo(ActSetup)
	var rails []string
	for _, g := range GuardRails(cfg.Custodians, cfg.Quorum) {
		rails = append(rails, g.Severity.String()+": "+g.Message)
	}
	if err := a.record(Event{
		Step: "activation.setup", Actor: Actor{RoleWitness, cfg.Witness},
		Decision: fmt.Sprintf("%s activation of %s: %d custodians, quorum %d", cfg.Mode, cfg.HSMName, cfg.Custodians, cfg.Quorum),
		Message:  "guard rails shown: " + strings.Join(rails, "; "),
	}); err != nil {
		return nil, err
	}
	if _, err := recordAirGap(a.record, cfg.Mode, cfg.Witness, cfg.AirGap, cfg.AirGapShown); err != nil {
		return nil, err
	}
	a.moveTo(ActEnroll)
	return a, nil
}

// moveTo moves the ceremony to step s.
func (a *Activation) moveTo(s ActivationStep) {
	a.step = s
	a.Lifecycle.moveTo(string(s))
}

func (a *Activation) need(s ActivationStep) error {
	if err := a.check(); err != nil {
		return err
	}
	if a.step != s {
		return &StepError{Workflow: "activation", Want: string(s), Have: string(a.step)}
	}
	return nil
}

// Step returns the current step; ActCancelled once the ceremony was
// cancelled or abandoned.
func (a *Activation) Step() ActivationStep {
	if o := a.Outcome(); o != nil && o.Ending != SignedOff {
		return ActCancelled
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.step
}

// Config returns the set-up.
func (a *Activation) Config() ActivationConfig { return a.cfg }

// Custodians returns the enrolled custodians so far.
func (a *Activation) Custodians() []*Custodian {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*Custodian(nil), a.custodians...)
}

// NextCustodian is the 1-based number of the custodian to enroll next, for
// "Custodian 2 of 3" prompts.
func (a *Activation) NextCustodian() (k, n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.custodians) + 1, a.cfg.Custodians
}

// Enroll generates the next custodian's key on their token, with the
// certificate and attestation, and records it. A failed enrollment can be
// retried with the same or another token.
func (a *Activation) Enroll(ctx context.Context, name, tokenRef string, req token.EnrollRequest, opts token.OpenOptions) (*Custodian, error) {
	return a.EnrollWithException(ctx, name, tokenRef, req, opts, nil)
}

// EnrollWithException is Enroll with a witnessed exception for a key whose
// origin cannot be verified (a PKCS#11 key, a YubiKey that cannot attest):
// the admission policy decides whether the key needs it, and the
// transcript names the exception and its witness.
func (a *Activation) EnrollWithException(ctx context.Context, name, tokenRef string, req token.EnrollRequest, opts token.OpenOptions, ex *WitnessedException) (*Custodian, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.need(ActEnroll); err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, errors.New("the custodian's name is required")
	}
	for _, c := range a.custodians {
		if strings.EqualFold(c.Name, name) {
			return nil, fmt.Errorf("%s is already enrolled as custodian %d: each custodian holds one share", name, c.Index+1)
		}
	}
	req.Name = name
	req.CeremonyID = a.cfg.CeremonyID
	enr, adm, err := AdmissionPolicy{Mode: a.cfg.Mode, Exception: ex}.Enroll(ctx, a.tokens, tokenRef, req, opts)
	if err != nil {
		if IsAdmissionError(err) {
			_ = a.record(Event{Step: "activation.enroll.refused", Actor: System, Message: fmt.Sprintf("%s's key: %v", name, err)})
		}
		return nil, fmt.Errorf("enrolling %s: %w", name, err)
	}
	newPub, ok := enr.Certificate.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("the token made a %T key for %s; custodian keys are RSA", enr.Certificate.PublicKey, name)
	}
	for _, c := range a.custodians {
		if token.SamePublicKey(c.Certificate, newPub) {
			return nil, fmt.Errorf("this key is already enrolled for %s: every custodian needs their own key", c.Name)
		}
	}
	tokInfo := enr.Token
	if tokInfo.Kind == "" {
		tokInfo = token.Info{Kind: token.KindOf(enr.Ref), Serial: enr.Ref.Get("serial"), Label: enr.Ref.Get("token"), Ref: enr.Ref}
	}
	c := &Custodian{Index: len(a.custodians), Name: name, KeyRef: enr.Ref.String(), Token: tokInfo,
		Certificate: enr.Certificate, Attestation: enr.Attestation}
	facts := ""
	if enr.Attestation != nil {
		var f []string
		for _, x := range enr.Attestation.Facts {
			f = append(f, x.Name+"="+x.Value)
		}
		facts = strings.Join(f, ", ")
	}
	ev := Event{
		Step: "activation.enroll", Actor: Actor{RoleCustodian, name},
		Outputs: []FileRef{RefOf(c.CertificateFileName(a.cfg.Mode), c.Certificate.Raw)},
		Tokens:  []token.Info{tokInfo},
		Message: fmt.Sprintf("custodian %d of %d enrolled: key %s; %s; %s", c.Index+1, a.cfg.Custodians, c.KeyRef, adm.Summary(), facts),
	}
	if adm.Exception != nil {
		ev.Exception = &Exception{What: fmt.Sprintf("%s's key admitted without a verified attestation: %s", name, adm.Exception.Reason), ApprovedBy: adm.Exception.ApprovedBy}
	}
	if err := a.record(ev); err != nil {
		return nil, err
	}
	a.custodians = append(a.custodians, c)
	if len(a.custodians) == a.cfg.Custodians {
		a.moveTo(ActPackage)
	}
	return c, nil
}

// WritePackage writes the operator package into dir (a new folder) and
// records each file's fingerprint.
func (a *Activation) WritePackage(dir string) (*OperatorPackage, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.need(ActPackage); err != nil {
		return nil, err
	}
	pkg, err := WriteOperatorPackage(dir, a.cfg.Mode, a.cfg.CeremonyID, a.cfg.HSMName, a.cfg.Quorum, a.custodians, a.cfg.Tool)
	if err != nil {
		return nil, err
	}
	var outs []FileRef
	for _, name := range pkg.Files {
		outs = append(outs, fileRefOnDisk(dir, name))
	}
	if err := a.record(Event{Step: "activation.operator-package", Actor: System, Outputs: outs,
		Message: fmt.Sprintf("operator package for %s written to %s", a.cfg.HSMName, dir)}); err != nil {
		return nil, err
	}
	a.pkg = pkg
	a.moveTo(ActAwaitSD)
	return pkg, nil
}

// Package returns the operator package once written.
func (a *Activation) Package() *OperatorPackage {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pkg
}

// LoadSD takes the security domain file the HSM returned and verifies it
// against the enrolled certificates and the quorum: structure, required =
// M, one share per certificate and nothing else. A failing file leaves the
// ceremony waiting for a correct one.
func (a *Activation) LoadSD(name string, data []byte) (*sd.Report, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.need(ActAwaitSD); err != nil {
		return nil, err
	}
	ref := RefOf(name, data)
	f, err := sd.ParseFile(data)
	if err != nil {
		_ = a.record(Event{Step: "activation.sd.rejected", Actor: System, Inputs: []FileRef{ref}, Message: err.Error()})
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	report := sd.Verify(f, a.certificates(), a.cfg.Quorum)
	if !report.OK() {
		_ = a.record(Event{Step: "activation.sd.rejected", Actor: System, Inputs: []FileRef{ref}, Message: oneLine(report.String())})
		return report, fmt.Errorf("%s does not match this ceremony: %s", name, oneLine(report.String()))
	}
	if err := a.record(Event{Step: "activation.sd.verified", Actor: System, Inputs: []FileRef{ref},
		Message: fmt.Sprintf("security domain structure verified: %d shares, one per enrolled certificate; required = %d", len(f.SharedKeys.EncShares), f.SharedKeys.Required)}); err != nil {
		return nil, err
	}
	a.sdFile, a.sdRef = f, ref
	a.moveTo(ActSelfTest)
	return report, nil
}

func (a *Activation) certificates() []*x509.Certificate {
	certs := make([]*x509.Certificate, len(a.custodians))
	for i, c := range a.custodians {
		certs[i] = c.Certificate
	}
	return certs
}

// SelfTestStatus tells which custodians have opened their share.
func (a *Activation) SelfTestStatus() (tested, skipped []int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range a.custodians {
		if a.selfTested[i] {
			tested = append(tested, i)
		}
		if _, ok := a.skipped[i]; ok {
			skipped = append(skipped, i)
		}
	}
	return tested, skipped
}

// SelfTest has custodian i open their own share on their token: the share
// decrypts and is well-formed. The share is kept in locked memory for the
// quorum proof and wiped when the ceremony ends.
func (a *Activation) SelfTest(ctx context.Context, i int, opts token.OpenOptions) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.need(ActSelfTest); err != nil {
		return err
	}
	if i < 0 || i >= len(a.custodians) {
		return fmt.Errorf("there is no custodian %d", i+1)
	}
	c := a.custodians[i]
	if a.selfTested[i] {
		return fmt.Errorf("%s has already opened their share", c.Name)
	}
	share, path, adm, err := openShare(ctx, AdmissionPolicy{Mode: a.cfg.Mode}, a.tokens, a.sdFile, c.KeyRef, c.Certificate, opts)
	if err != nil {
		_ = a.record(Event{Step: "activation.self-test.failed", Actor: Actor{RoleCustodian, c.Name}, Tokens: []token.Info{c.Token}, Message: err.Error()})
		return fmt.Errorf("%s: %w", c.Name, err)
	}
	if err := a.record(Event{Step: "activation.self-test", Actor: Actor{RoleCustodian, c.Name}, Inputs: []FileRef{a.sdRef}, Tokens: []token.Info{c.Token},
		Message: fmt.Sprintf("share x=%d of %d opens on the token and is well-formed (%s); %s", share.X, len(a.custodians), path, adm.Summary())}); err != nil {
		share.Wipe()
		return err
	}
	if err := a.hold(share, "share of "+c.Name); err != nil {
		return err
	}
	a.opened[i] = share
	a.selfTested[i] = true
	a.advanceSelfTest()
	return nil
}

// SkipSelfTest records that custodian i could not open their share at this
// ceremony (absent, token not at hand) — an exception a witness approves.
func (a *Activation) SkipSelfTest(i int, reason, approvedBy string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.need(ActSelfTest); err != nil {
		return err
	}
	if i < 0 || i >= len(a.custodians) {
		return fmt.Errorf("there is no custodian %d", i+1)
	}
	if strings.TrimSpace(reason) == "" || strings.TrimSpace(approvedBy) == "" {
		return errors.New("skipping a custodian's self-test is an exception: say why and who approved it")
	}
	c := a.custodians[i]
	ex := Exception{What: fmt.Sprintf("%s did not open their share at activation: %s", c.Name, reason), ApprovedBy: approvedBy}
	if err := a.record(Event{Step: "activation.self-test.skipped", Actor: Actor{RoleWitness, approvedBy}, Exception: &ex}); err != nil {
		return err
	}
	a.skipped[i] = ex
	a.advanceSelfTest()
	return nil
}

func (a *Activation) advanceSelfTest() {
	if len(a.selfTested)+len(a.skipped) == len(a.custodians) {
		a.moveTo(ActProve)
	}
}

// ProveQuorum rebuilds the security domain from the opened shares and
// authenticates every EncData item. With more than M shares opened it
// cross-checks two different M-subsets, which names a bad share. All
// shares and the master key are wiped afterwards, whatever the result.
func (a *Activation) ProveQuorum() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.need(ActProve); err != nil {
		return err
	}
	defer a.wipe()
	if len(a.opened) < a.cfg.Quorum {
		err := fmt.Errorf("only %d custodians opened their share and the quorum is %d: the recovery could not be proven; this security domain is NOT verified", len(a.opened), a.cfg.Quorum)
		_ = a.record(Event{Step: "activation.quorum.unproven", Actor: System, Message: err.Error()})
		a.moveTo(ActDone)
		return err
	}
	shares := make([]*sd.Share, 0, len(a.opened))
	for i := range a.custodians {
		if s, ok := a.opened[i]; ok {
			shares = append(shares, s)
		}
	}
	var rebuildErr error
	if err := a.using(func() error {
		rec, err := sd.Recover(a.sdFile, shares)
		if err == nil {
			rec.Wipe()
		}
		rebuildErr = err
		return nil
	}); err != nil {
		return err
	}
	if rebuildErr != nil {
		_ = a.record(Event{Step: "activation.quorum.failed", Actor: System, Inputs: []FileRef{a.sdRef}, Message: rebuildErr.Error()})
		a.moveTo(ActDone)
		return fmt.Errorf("the quorum does not recover the security domain: %w", rebuildErr)
	}
	cross := "one quorum"
	if len(shares) > a.cfg.Quorum {
		cross = "two different quorums, which agree"
	}
	if err := a.record(Event{Step: "activation.quorum.proven", Actor: System, Inputs: []FileRef{a.sdRef},
		Message: fmt.Sprintf("%d shares recover the security domain (%s); every EncData item authenticates", len(shares), cross)}); err != nil {
		return err
	}
	a.moveTo(ActDone)
	return nil
}

// SignOff records a witness's sign-off (or refusal) at the end and ends
// the ceremony: the transcript is closed "signed off" (see Outcome for
// the final digest).
func (a *Activation) SignOff(witness string, agree bool, note string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.need(ActDone); err != nil {
		return err
	}
	return a.signOff(witness, agree, note)
}

func (a *Activation) wipe() {
	a.wipeAll()
	clear(a.opened)
}
