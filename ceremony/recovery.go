package ceremony

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/template"

	"github.com/custodian-hsm/custodian/ceremony/airgap"
	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// RecoveryStep is where a recovery ceremony stands.
type RecoveryStep string

// Recovery steps, in order.
const (
	RecLoad       RecoveryStep = "load"       // the SD file and the exchange key
	RecConfirm    RecoveryStep = "confirm"    // the operator confirms the exchange key's fingerprint
	RecCustodians RecoveryStep = "custodians" // custodians open their shares, one at a time
	RecExport     RecoveryStep = "export"     // the restore blob is built; write it out
	RecDone       RecoveryStep = "done"
	RecCancelled  RecoveryStep = "cancelled"
)

// RecoveryConfig is decided at set-up.
type RecoveryConfig struct {
	Mode       Mode
	HSMName    string
	CeremonyID string
	Witness    string
	// AirGap is the air-gap self-check shown at set-up (nil: run it now).
	AirGap *airgap.Report
	// AirGapShown says how AirGap's findings reached the witness.
	AirGapShown AirGapShown
	// DrillKeysOnly: the drill was inferred from the exchange key, not
	// chosen (see AdmissionPolicy.DrillKeysOnly).
	DrillKeysOnly bool
}

// RecoveryCustodian is a custodian who opened their share.
type RecoveryCustodian struct {
	Name        string
	Token       token.Info
	ShareX      int
	DecryptPath string
	// Warning is the admission policy's warning about the key (a software
	// key file), which the front-end shows and the witness acknowledges.
	Warning string
}

// Recovery is the recovery ceremony: a quorum of custodians open their
// shares on their tokens, Custodian rebuilds the security domain and
// writes the restore blob for the new HSM's exchange key.
type Recovery struct {
	*Lifecycle
	mu       sync.Mutex
	cfg      RecoveryConfig
	tokens   *token.Manager
	step     RecoveryStep
	sdFile   *sd.File
	sdRef    FileRef
	exchange *sd.ExchangeKey
	exRef    FileRef
	exPolicy ExchangeKeyPolicy // see exchangekey.go
	exCheck  *ExchangeKeyCheck
	shares   []*sd.Share
	people   []RecoveryCustodian
	skipped  []Exception
	blob     []byte
	exported *Export
}

// Export is what the recovery's last screen shows: where the blob is, its
// size and SHA-256, how to check the folder and how to upload it.
type Export struct {
	Dir, Blob        string
	Size             int
	SHA256           string
	Checksums        string // the folder's SHA256SUMS
	CheckCommand     string // run from the folder's parent
	UploadAz         string // run from inside the folder
	UploadPowerShell string
}

// Exported describes the written export (nil before Export).
func (r *Recovery) Exported() *Export {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.exported
}

// NewRecovery starts a recovery ceremony.
func NewRecovery(cfg RecoveryConfig, tokens *token.Manager, rec Recorder) (*Recovery, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Recovery{Lifecycle: newLifecycle("recovery", cfg.Mode, rec), cfg: cfg, tokens: tokens}
	r.moveTo(RecLoad)
	if err := r.record(Event{Step: "recovery.setup", Actor: Actor{RoleWitness, cfg.Witness},
		Decision: fmt.Sprintf("%s recovery of %s", cfg.Mode, cfg.HSMName)}); err != nil {
		return nil, err
	}
	if _, err := recordAirGap(r.record, cfg.Mode, cfg.Witness, cfg.AirGap, cfg.AirGapShown); err != nil {
		return nil, err
	}
	return r, nil
}

// moveTo moves the ceremony to step s.
func (r *Recovery) moveTo(s RecoveryStep) {
	r.step = s
	r.Lifecycle.moveTo(string(s))
}

func (r *Recovery) need(s RecoveryStep) error {
	if err := r.check(); err != nil {
		return err
	}
	if r.step != s {
		return &StepError{Workflow: "recovery", Want: string(s), Have: string(r.step)}
	}
	return nil
}

// Step returns the current step.
func (r *Recovery) Step() RecoveryStep {
	if o := r.Outcome(); o != nil && o.Ending != SignedOff {
		return RecCancelled
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.step
}

// LoadSD reads the security domain file downloaded at activation.
func (r *Recovery) LoadSD(name string, data []byte) (*sd.File, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.need(RecLoad); err != nil {
		return nil, err
	}
	f, err := sd.ParseFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if rep := sd.Verify(f, nil, 0); !rep.OK() {
		return nil, fmt.Errorf("%s: %s", name, oneLine(rep.String()))
	}
	r.sdFile, r.sdRef = f, RefOf(name, data)
	if err := r.record(Event{Step: "recovery.sd.loaded", Actor: System, Inputs: []FileRef{r.sdRef},
		Message: fmt.Sprintf("security domain: %d shares, quorum %d, %d EncData items", len(f.SharedKeys.EncShares), f.SharedKeys.Required, len(f.EncData.Data))}); err != nil {
		return nil, err
	}
	r.advanceLoad()
	return f, nil
}

// LoadExchangeKey reads the new HSM's exchange key (PEM, DER or JSON) and
// returns it; show its fingerprint (hex and words) to the operator.
func (r *Recovery) LoadExchangeKey(name string, data []byte) (*sd.ExchangeKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.need(RecLoad); err != nil {
		return nil, err
	}
	ex, err := r.readExchangeKey(name, data) // attestation and policy: exchangekey.go
	if err != nil {
		return nil, err
	}
	r.exchange = ex
	r.exRef = RefOf(name, data)
	certRef := RefOf("exchange key certificate", ex.Certificate.Raw)
	if err := r.record(Event{Step: "recovery.exchange-key.loaded", Actor: System, Inputs: []FileRef{r.exRef},
		Message: fmt.Sprintf("exchange key certificate SHA-256 %s, subject %q", certRef.SHA256, ex.Certificate.Subject.String())}); err != nil {
		return nil, err
	}
	r.advanceLoad()
	return ex, nil
}

func (r *Recovery) advanceLoad() {
	if r.sdFile != nil && r.exchange != nil {
		r.moveTo(RecConfirm)
	}
}

// ExchangeKey returns the loaded exchange key.
func (r *Recovery) ExchangeKey() *sd.ExchangeKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.exchange
}

// ConfirmExchangeKey records that the online operator read the exchange
// key's fingerprint back from the HSM's answer and it matched. Without it
// a blob could be wrapped to an attacker's key.
func (r *Recovery) ConfirmExchangeKey(operator string, matched bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.need(RecConfirm); err != nil {
		return err
	}
	if strings.TrimSpace(operator) == "" {
		return errors.New("name the operator who compared the fingerprint")
	}
	if err := r.recheckExchangeKey(); err != nil {
		return err
	}
	if !matched {
		_ = r.record(Event{Step: "recovery.exchange-key.mismatch", Actor: Actor{RoleOperator, operator},
			Decision: "the exchange key fingerprint does NOT match what the HSM returned"})
		return errors.New("the exchange key does not match what the HSM returned: do not continue; download it again with init-recovery")
	}
	if err := r.record(Event{Step: "recovery.exchange-key.confirmed", Actor: Actor{RoleOperator, operator},
		Decision: "the exchange key fingerprint matches what the HSM returned"}); err != nil {
		return err
	}
	r.moveTo(RecCustodians)
	return nil
}

// Progress is k shares opened of the quorum M.
func (r *Recovery) Progress() (k, m int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sdFile == nil {
		return 0, 0
	}
	return len(r.shares), r.sdFile.SharedKeys.Required
}

// Custodians lists who has opened a share so far.
func (r *Recovery) Custodians() []RecoveryCustodian {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]RecoveryCustodian(nil), r.people...)
}

// OpenShare has the next custodian open their share on their token. A
// custodian (or a share) already used is refused; a share that fails to
// decrypt or validate is an error naming the custodian, and another
// custodian can be called.
func (r *Recovery) OpenShare(ctx context.Context, name, keyRef string, opts token.OpenOptions) (*RecoveryCustodian, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.need(RecCustodians); err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, errors.New("the custodian's name is required")
	}
	for _, p := range r.people {
		if strings.EqualFold(p.Name, name) {
			return nil, fmt.Errorf("%s has already opened their share (x=%d)", name, p.ShareX)
		}
	}
	share, path, adm, err := openShare(ctx, AdmissionPolicy{Mode: r.cfg.Mode, DrillKeysOnly: r.cfg.DrillKeysOnly}, r.tokens, r.sdFile, keyRef, nil, opts)
	if err != nil {
		_ = r.record(Event{Step: "recovery.share.failed", Actor: Actor{RoleCustodian, name}, Message: err.Error()})
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	for _, p := range r.people {
		if p.ShareX == share.X {
			share.Wipe()
			return nil, fmt.Errorf("%s's token opens share x=%d, which %s already opened: the same key cannot count twice", name, p.ShareX, p.Name)
		}
	}
	tok := adm.Facts.Token
	rc := RecoveryCustodian{Name: name, Token: tok, ShareX: share.X, DecryptPath: path, Warning: adm.Warning}
	k, m := len(r.shares)+1, r.sdFile.SharedKeys.Required
	if err := r.record(Event{Step: "recovery.share.opened", Actor: Actor{RoleCustodian, name}, Inputs: []FileRef{r.sdRef}, Tokens: []token.Info{tok},
		Message: fmt.Sprintf("share x=%d opens and is well-formed (%s); %d opened, quorum %d; %s", share.X, path, k, m, adm.Summary())}); err != nil {
		share.Wipe()
		return nil, err
	}
	if err := r.hold(share, fmt.Sprintf("share x=%d of %s", share.X, name)); err != nil {
		return nil, err
	}
	r.shares = append(r.shares, share)
	r.people = append(r.people, rc)
	return &rc, nil
}

// SkipCustodian records that a called custodian could not open their
// share (their token failed, they are absent) and another will be called.
func (r *Recovery) SkipCustodian(name, reason, approvedBy string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.need(RecCustodians); err != nil {
		return err
	}
	if strings.TrimSpace(reason) == "" || strings.TrimSpace(approvedBy) == "" {
		return errors.New("skipping a custodian is an exception: say why and who approved it")
	}
	ex := Exception{What: fmt.Sprintf("custodian %s skipped: %s", name, reason), ApprovedBy: approvedBy}
	if err := r.record(Event{Step: "recovery.custodian.skipped", Actor: Actor{RoleWitness, approvedBy}, Exception: &ex}); err != nil {
		return err
	}
	r.skipped = append(r.skipped, ex)
	return nil
}

// BuildBlob rebuilds the security domain from the opened shares (with more
// than M, two M-subsets are cross-checked and a bad share is named) and
// wraps it to the exchange key. Shares and the master key are wiped as
// soon as the blob exists.
func (r *Recovery) BuildBlob(random io.Reader) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.need(RecCustodians); err != nil {
		return nil, err
	}
	if m := r.sdFile.SharedKeys.Required; len(r.shares) < m {
		return nil, fmt.Errorf("%d of %d shares opened: call %d more custodians", len(r.shares), m, m-len(r.shares))
	}
	var blob []byte
	var rebuildErr error
	if err := r.using(func() error {
		rec, err := sd.Recover(r.sdFile, r.shares)
		if err != nil {
			rebuildErr = err
			return nil
		}
		blob, err = sd.BuildRestoreBlob(rec, r.exchange, random)
		rec.Wipe()
		return err
	}); err != nil {
		return nil, err
	}
	if rebuildErr != nil {
		_ = r.record(Event{Step: "recovery.rebuild.failed", Actor: System, Message: rebuildErr.Error()})
		return nil, rebuildErr
	}
	r.wipe()
	cross := ""
	if len(r.people) > r.sdFile.SharedKeys.Required {
		cross = "; two different quorums cross-checked"
	}
	if err := r.record(Event{Step: "recovery.blob.built", Actor: System, Outputs: []FileRef{RefOf("restore blob", blob)},
		Message: fmt.Sprintf("security domain rebuilt from %d shares%s, every EncData item authenticated; restore blob wrapped to exchange key %s", len(r.people), cross, r.exRef.SHA256)}); err != nil {
		return nil, err
	}
	r.blob = blob
	r.moveTo(RecExport)
	return blob, nil
}

var uploadTemplate = template.Must(template.New("upload").Parse(`{{if .Drill}}*** DRILL — REHEARSAL ONLY — DO NOT UPLOAD TO A REAL HSM ***

{{end}}Custodian restore blob — ceremony {{.CeremonyID}}
Managed HSM: {{.HSMName}}
Restore blob: {{.Blob}}   SHA-256 {{.SHA256}}

Check the files first, from the folder that holds this one:
  {{.Check}}
(every line must end in OK), then upload the blob with ONE of:

Azure CLI:
  az keyvault security-domain upload --hsm-name {{.HSMName}} --sd-file {{.Blob}} --restore-blob
  az keyvault security-domain wait --hsm-name {{.HSMName}}

Azure PowerShell:
  Import-AzKeyVaultSecurityDomain -Name {{.HSMName}} -SecurityDomainPath "{{.Blob}}" -ImportRestoredBlob

The blob is wrapped to the exchange key whose certificate SHA-256 is
  {{.Exchange}}
It can be uploaded only to the HSM that issued that exchange key.
Exchange key attestation: {{.Attestation}}
{{with .Collateral}}
The HSM platform's TCB status was not evaluated. To evaluate it, download
from Intel into one folder and bring it to the offline machine (--collateral):
{{range .}}  {{.}}
{{end}}{{end}}`))

// Export writes the restore blob and upload instructions into dir (a new
// folder) and returns the blob's path.
func (r *Recovery) Export(dir string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.need(RecExport); err != nil {
		return "", err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("%s already exists: the restore blob goes into a new folder", dir)
		}
		return "", err
	}
	blobName := r.cfg.Mode.FileName(r.cfg.HSMName + "-restore-blob.json")
	blobPath := filepath.Join(dir, blobName)
	if err := safefile.Write(blobPath, r.blob, safefile.Private()); err != nil {
		return "", err
	}
	var text bytes.Buffer
	exSum := RefOf("", r.exchange.Certificate.Raw).SHA256
	sumsName := r.cfg.Mode.FileName(ChecksumFile)
	check := ChecksumCommand(filepath.Base(dir), sumsName)
	if err := uploadTemplate.Execute(&text, map[string]any{"Drill": r.cfg.Mode == Drill, "CeremonyID": r.cfg.CeremonyID, "HSMName": r.cfg.HSMName,
		"Blob": blobName, "SHA256": RefOf(blobName, r.blob).SHA256, "Exchange": exSum, "Check": check,
		"Attestation": r.exCheck.Sentence(), "Collateral": r.exCheck.CollateralDownloads()}); err != nil {
		return "", err
	}
	instrName := r.cfg.Mode.FileName("UPLOAD-INSTRUCTIONS.txt")
	if err := safefile.Write(filepath.Join(dir, instrName), text.Bytes()); err != nil {
		return "", err
	}
	sums, err := WriteChecksums(dir, r.cfg.Mode, []string{blobName, instrName})
	if err != nil {
		return "", err
	}
	if err := r.record(Event{Step: "recovery.export", Actor: System,
		Outputs: []FileRef{RefOf(blobName, r.blob), fileRefOnDisk(dir, instrName), sums},
		Message: "restore blob, upload instructions and " + sumsName + " written to " + dir}); err != nil {
		return "", err
	}
	r.exported = &Export{Dir: dir, Blob: blobPath, Size: len(r.blob), SHA256: RefOf(blobName, r.blob).SHA256,
		Checksums: filepath.Join(dir, sumsName), CheckCommand: check,
		UploadAz:         fmt.Sprintf("az keyvault security-domain upload --hsm-name %s --sd-file %s --restore-blob", r.cfg.HSMName, blobName),
		UploadPowerShell: fmt.Sprintf("Import-AzKeyVaultSecurityDomain -Name %s -SecurityDomainPath \"%s\" -ImportRestoredBlob", r.cfg.HSMName, blobName)}
	r.moveTo(RecDone)
	return blobPath, nil
}

// SignOff records a witness's sign-off (or refusal) once the blob is
// written and ends the ceremony: the transcript is closed "signed off"
// (see Outcome for the final digest).
func (r *Recovery) SignOff(witness string, agree bool, note string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.need(RecDone); err != nil {
		return err
	}
	return r.signOff(witness, agree, note)
}

func (r *Recovery) wipe() {
	r.wipeAll()
	r.shares = nil
}
