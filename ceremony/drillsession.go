package ceremony

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/custodian-hsm/custodian/crypto/drillhsm"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// DrillSession stands in for the online half of a ceremony during a drill:
// the drill HSM plays the Managed HSM and the operator, so the same
// activation and recovery workflows (and the same GUI wizards) run end to
// end on one offline machine.
type DrillSession struct {
	Dir    string
	HSM    *drillhsm.HSM
	Tokens DrillTokens
	Kind   TokenKind
}

// NewDrillSession creates the drill folder (it must not exist), the drill
// HSM inside it and one drill token per custodian.
func NewDrillSession(dir string, kind TokenKind, custodians int) (*DrillSession, error) {
	kind, provision, err := drillProvisioner(kind)
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the drill folder: %w (choose a new folder)", err)
	}
	return newDrillSessionIn(dir, provision, kind, custodians)
}

// newDrillSessionIn fills dir, an existing empty folder (StartDrill's
// staging folder), with the drill HSM and the drill tokens.
func newDrillSessionIn(dir string, provision func(string, int) (DrillTokens, error), kind TokenKind, custodians int) (*DrillSession, error) {
	hsm, err := drillhsm.Create(filepath.Join(dir, "DRILL-hsm"))
	if err != nil {
		return nil, err
	}
	tokens, err := provision(dir, custodians)
	if err != nil {
		return nil, fmt.Errorf("provisioning %s drill tokens: %w", kind, err)
	}
	return &DrillSession{Dir: dir, HSM: hsm, Tokens: tokens, Kind: kind}, nil
}

// drillProvisioner finds the provisioner of a drill token kind ("": soft).
func drillProvisioner(kind TokenKind) (TokenKind, func(string, int) (DrillTokens, error), error) {
	if kind == "" {
		kind = SoftTokens
	}
	provision, ok := drillProvisioners[kind]
	if !ok && kind == VCardTokens {
		return kind, nil, ErrNeedsDrillBuild
	}
	if !ok {
		return kind, nil, fmt.Errorf("drill tokens %q are not available in this build (available: %v)", kind, DrillTokenKinds())
	}
	return kind, provision, nil
}

// OperatorActivate plays the operator at activation: the drill HSM is
// activated with the operator package's certificates and its security
// domain file is written to the drill folder. It returns the file's name
// and bytes, to be loaded into the activation as if they came back on a
// USB stick.
func (s *DrillSession) OperatorActivate(a *Activation, opts drillhsm.ActivateOptions) (string, []byte, error) {
	pkg := a.Package()
	if pkg == nil {
		return "", nil, fmt.Errorf("the operator package has not been written yet")
	}
	a.mu.Lock()
	certs := a.certificates()
	a.mu.Unlock()
	sdBytes, err := s.HSM.Activate(certs, a.cfg.Quorum, opts)
	if err != nil {
		return "", nil, err
	}
	name := pkg.Manifest.SDFileName
	if err := safefile.Write(filepath.Join(s.Dir, name), sdBytes, safefile.Private()); err != nil {
		return "", nil, err
	}
	return name, sdBytes, nil
}

// OperatorInitRecovery plays the operator at recovery: the drill HSM makes
// an exchange key, written to the drill folder the way az writes it.
func (s *DrillSession) OperatorInitRecovery() (string, []byte, error) {
	exBytes, err := s.HSM.InitRecovery()
	if err != nil {
		return "", nil, err
	}
	name := "DRILL-exchange-key.cer"
	path := filepath.Join(s.Dir, name)
	for i := 2; ; i++ {
		if _, err := os.Lstat(path); os.IsNotExist(err) {
			break
		}
		name = fmt.Sprintf("DRILL-exchange-key-%d.cer", i)
		path = filepath.Join(s.Dir, name)
	}
	if err := safefile.Write(path, exBytes); err != nil {
		return "", nil, err
	}
	return name, exBytes, nil
}

// OperatorUpload plays the operator uploading the restore blob; the drill
// HSM says whether it restores exactly the activated contents.
func (s *DrillSession) OperatorUpload(blob []byte) (*drillhsm.UploadResult, error) {
	return s.HSM.Upload(blob)
}

// Close releases the drill tokens (stops pcscd or SoftHSM configuration).
func (s *DrillSession) Close() error {
	s.HSM.Forget()
	return s.Tokens.Close()
}

// OperatorRedownload plays the operator at a rotation: the drill HSM's
// security domain is downloaded again for the rotation's new certificates
// and written to the drill folder under a new name.
func (s *DrillSession) OperatorRedownload(r *Rotation) (string, []byte, error) {
	if r.Package() == nil {
		return "", nil, fmt.Errorf("the rotation's operator package has not been written yet")
	}
	r.mu.Lock()
	certs := r.certificates()
	quorum := r.cfg.Quorum
	r.mu.Unlock()
	sdBytes, err := s.HSM.Redownload(certs, quorum)
	if err != nil {
		return "", nil, err
	}
	name := Drill.FileName(r.cfg.HSMName + "-SD-rotated.json")
	for i := 2; ; i++ {
		if _, err := os.Lstat(filepath.Join(s.Dir, name)); os.IsNotExist(err) {
			break
		}
		name = Drill.FileName(fmt.Sprintf("%s-SD-rotated-%d.json", r.cfg.HSMName, i))
	}
	if err := safefile.Write(filepath.Join(s.Dir, name), sdBytes); err != nil {
		return "", nil, err
	}
	return name, sdBytes, nil
}
