package ceremony

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/custodian-hsm/custodian/crypto/drillhsm"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
	"github.com/custodian-hsm/custodian/crypto/jwe"
	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// Faults are the things a fault drill makes go wrong, so that people
// rehearse what to do when they happen.
type Faults struct {
	// LostToken: the last custodian's token is lost after activation; the
	// self-test and the recovery go on without it.
	LostToken bool
	// WrongPIN: the first custodian types a wrong PIN once.
	WrongPIN bool
	// CorruptShare: the first custodian's share in the security domain
	// copy used at recovery is corrupted; Custodian must name it and the
	// ceremony calls another custodian.
	CorruptShare bool
}

// Any reports whether any fault is on.
func (f Faults) Any() bool { return f.LostToken || f.WrongPIN || f.CorruptShare }

// DrillConfig configures a complete drill.
type DrillConfig struct {
	Custodians int
	Quorum     int
	Tokens     TokenKind
	// Dir is where the drill's files end up; it must not exist (or, when
	// Staged, be an empty folder).
	Dir string
	// Staged runs the drill in a hidden staging folder next to Dir
	// (.NAME.staging-PID-*), moved to Dir when the drill is signed off and
	// removed when it is not (see DrillRun.Close). RunDrill always stages.
	// Unstaged (the GUI's drill, whose end screen shows the closed
	// transcript of a cancelled drill), Dir is made at once and kept.
	Staged bool
	// Bits is the custodian key size (2048 default).
	Bits int
	// Items is the number of EncData items the drill HSM makes (default
	// three, as a live HSM).
	Items  int
	Faults Faults
	// Rotation drills a custodian rotation instead of a recovery: after
	// the activation a new set of as many custodians enrolls, the drill
	// HSM's security domain is downloaded again for them, checked like an
	// activation and compared with the old one, and the old keys retired.
	Rotation bool
	// Started is told the drill once it has started, so that a front-end
	// can abandon it (DrillRun.Abandon) from elsewhere, on SIGINT or when
	// its window closes.
	Started func(*DrillRun)
	// Progress is told each step, for a front-end's progress display.
	Progress func(step string)
	// Recorder receives the record (default: kept in memory).
	Recorder Recorder
}

// DrillReport is what a drill shows at the end.
type DrillReport struct {
	Dir string
	// Accepted: the drill HSM accepted the restored blob (a recovery
	// drill) or the rotated domain matched the old one (Rotation).
	Accepted bool
	Rotation bool
	// Transcript is the drill's transcript and Digest its final digest
	// (once the drill has ended).
	Transcript string
	Digest     string
	Lines      []string
	Files      []string
}

func (r *DrillReport) say(format string, args ...any) {
	r.Lines = append(r.Lines, fmt.Sprintf(format, args...))
}

// String is the one-screen report.
func (r *DrillReport) String() string {
	var b strings.Builder
	b.WriteString("DRILL — rehearsal with a simulated HSM; nothing here is production\n")
	for _, l := range r.Lines {
		b.WriteString("  " + l + "\n")
	}
	if r.Transcript != "" {
		fmt.Fprintf(&b, "  transcript: %s\n", r.Transcript)
	}
	if r.Digest != "" {
		fp, _ := fingerprint.FromHex(r.Digest)
		fmt.Fprintf(&b, "  final digest: %s\n                %s\n", fp.GroupedHex(), fp.WordString())
	}
	if r.Accepted && r.Rotation {
		b.WriteString("RESULT: the rotated security domain holds the same keys and the new quorum recovers it — the rotation works end to end\n")
	} else if r.Accepted {
		b.WriteString("RESULT: the drill HSM accepted the restore blob — the procedure works end to end\n")
	} else {
		b.WriteString("RESULT: FAILED — see above\n")
	}
	return b.String()
}

// DrillProvisioners maps token kinds to their provisioners. SoftHSM and
// virtual-card provisioning register themselves here from drilltokens_*.go.
var drillProvisioners = map[TokenKind]func(dir string, n int) (DrillTokens, error){
	SoftTokens: func(dir string, n int) (DrillTokens, error) { return newSoftDrillTokens(dir), nil },
}

// DrillRun is one drill: the drill session (the simulated HSM playing the
// operator, the drill tokens) and the drill's transcript, driving the same
// workflows as a real ceremony in the one order a drill has: activation,
// the operator activates the HSM, recovery, the operator uploads the blob.
//
// RunDrill drives it by itself; the GUI drives the same workflows through
// its wizards and calls the operator's steps here. The activation is a
// Part of the drill: its sign-off leaves the transcript open for the
// recovery, whose sign-off closes it. Cancelling or abandoning either one
// ends the drill and closes the transcript.
type DrillRun struct {
	cfg     DrillConfig
	Session *DrillSession
	// ID is the drill's ceremony identifier.
	ID string

	mu       sync.Mutex
	rec      Recorder
	act      *Activation
	recovery *Recovery
	rotation *Rotation
	sdName   string
	sdBytes  []byte
	ended    *Outcome // set when the transcript was closed between parts

	// stage is the folder the drill runs in; kept is set once it was
	// moved to cfg.Dir, settled once Close decided.
	stage   *safefile.Staged
	kept    bool
	settled bool
	// keptTranscript is where the closed transcript of a drill that did
	// not complete was kept when its folder was removed.
	keptTranscript string
}

// StartDrill checks a drill's configuration, creates its staging folder,
// the drill HSM, the drill tokens and the transcript. Nothing is created
// when the configuration is refused, and nothing is left when a step of
// the start fails. A staging folder that an earlier, interrupted drill
// left for the same Dir is removed first (reported through
// safefile.Notice).
func StartDrill(cfg DrillConfig) (*DrillRun, error) {
	if err := CheckQuorum(cfg.Custodians, cfg.Quorum); err != nil {
		return nil, err
	}
	if (cfg.Faults.LostToken || cfg.Faults.CorruptShare) && cfg.Custodians < cfg.Quorum+1 {
		return nil, errors.New("a lost-token or corrupted-share drill needs at least one custodian more than the quorum")
	}
	if cfg.Faults.LostToken && cfg.Faults.CorruptShare && cfg.Custodians < cfg.Quorum+2 {
		return nil, errors.New("losing a token and corrupting a share together needs two custodians more than the quorum")
	}
	if cfg.Bits == 0 {
		cfg.Bits = 2048
	}
	// Checked before anything is created: a refused drill leaves no folder.
	if cfg.Bits != 2048 && cfg.Bits != 3072 && cfg.Bits != 4096 {
		return nil, fmt.Errorf("a %d-bit custodian key is not allowed: use 2048, 3072 or 4096", cfg.Bits)
	}
	if cfg.Items < 0 || cfg.Items > 16 {
		return nil, fmt.Errorf("a drill security domain has 1 to 16 items; %d asked", cfg.Items)
	}
	if cfg.Rotation && cfg.Faults.Any() {
		return nil, errors.New("a rotation drill runs without faults: drill the faults with a recovery drill")
	}
	if !cfg.Staged {
		return startDrillIn(cfg, nil)
	}
	stage, err := safefile.Stage(cfg.Dir)
	if errors.Is(err, safefile.ErrExists) {
		return nil, &DrillDirExistsError{Dir: cfg.Dir}
	}
	if err != nil {
		return nil, fmt.Errorf("creating the drill folder: %w", err)
	}
	// Drill keys and security domains are in it: owner only, as before.
	stage.Private()
	d, err := startDrillIn(cfg, stage)
	if err != nil {
		stage.Abort()
	}
	return d, err
}

// startDrillIn provisions the drill in its staging folder, or (stage nil)
// in cfg.Dir, made here.
func startDrillIn(cfg DrillConfig, stage *safefile.Staged) (*DrillRun, error) {
	// A folder named DRILL-… (the GUI's) is not prefixed twice.
	d := &DrillRun{cfg: cfg, ID: Drill.FileName(filepath.Base(cfg.Dir)), stage: stage}
	d.progress("provisioning drill tokens")
	n := cfg.Custodians
	if cfg.Rotation {
		n *= 2 // the old set, then the new one
	}
	var session *DrillSession
	var err error
	if stage == nil {
		session, err = NewDrillSession(cfg.Dir, cfg.Tokens, n)
	} else {
		kind, provision, perr := drillProvisioner(cfg.Tokens)
		if perr != nil {
			return nil, perr
		}
		session, err = newDrillSessionIn(stage.Path(), provision, kind, n)
	}
	if err != nil {
		return nil, err
	}
	d.Session = session
	d.rec = cfg.Recorder
	if d.rec == nil {
		tr, err := OpenTranscript(d.workDir(), Drill, "drill", d.ID, "drill-hsm")
		if err != nil {
			session.Close()
			return nil, err
		}
		d.rec = tr
	}
	return d, nil
}

// workDir is where the drill writes while it runs.
func (d *DrillRun) workDir() string {
	if d.stage == nil {
		return d.cfg.Dir
	}
	return d.stage.Path()
}

// DrillDirExistsError refuses a drill whose folder already holds files
// (nothing was created). It matches safefile.ErrExists.
type DrillDirExistsError struct{ Dir string }

func (e *DrillDirExistsError) Error() string {
	return fmt.Sprintf("the drill folder %s already exists and is not empty: choose a new folder", e.Dir)
}

func (e *DrillDirExistsError) Unwrap() error { return safefile.ErrExists }

// Dir is the folder the drill's files are in: the staging folder while
// the drill runs (and after Close removed it), DrillConfig.Dir once Close
// has moved it there.
func (d *DrillRun) Dir() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.kept || d.stage == nil {
		return d.cfg.Dir
	}
	return d.stage.Path()
}

// Kept reports whether the drill's folder is at DrillConfig.Dir: always
// for an unstaged drill; for a staged one once Close moved it there (the
// drill was signed off), false before and when it was removed.
func (d *DrillRun) Kept() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.kept || d.stage == nil
}

// FinalPath is where a path inside the staging folder is once the drill's
// folder is in place; other paths are returned unchanged.
func (d *DrillRun) FinalPath(p string) string {
	if d.stage == nil {
		return p
	}
	rel, err := filepath.Rel(d.stage.Path(), p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return p
	}
	return filepath.Join(d.cfg.Dir, rel)
}

func (d *DrillRun) progress(s string) {
	if d.cfg.Progress != nil {
		d.cfg.Progress(s)
	}
}

// Tokens are the drill's tokens.
func (d *DrillRun) Tokens() DrillTokens { return d.Session.Tokens }

// Transcript is the drill's transcript file ("" with a memory recorder).
func (d *DrillRun) Transcript() string {
	if p, ok := d.rec.(interface{ Path() string }); ok {
		if d.Kept() {
			return d.FinalPath(p.Path())
		}
		return p.Path()
	}
	return ""
}

// NewActivation starts the drill's activation.
func (d *DrillRun) NewActivation() (*Activation, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.act != nil {
		return nil, errors.New("this drill's activation has already started")
	}
	a, err := NewActivation(ActivationConfig{Mode: Drill, HSMName: "drill-hsm", CeremonyID: d.ID,
		Custodians: d.cfg.Custodians, Quorum: d.cfg.Quorum, Witness: DrillWitness, Tool: "custodian drill"}, d.Session.Tokens.Manager(), Part(d.rec))
	if err != nil {
		return nil, err
	}
	d.act = a
	return a, nil
}

// DrillWitness and DrillOperator are the people a drill plays.
const (
	DrillWitness  = "Drill witness"
	DrillOperator = "Drill operator"
)

// OperatorActivate plays the operator: the drill HSM is activated with the
// operator package's certificates; the security domain file is written to
// the drill folder and returned, to be loaded into the activation.
func (d *DrillRun) OperatorActivate() (string, []byte, error) {
	d.mu.Lock()
	a := d.act
	d.mu.Unlock()
	if a == nil {
		return "", nil, errors.New("the drill's activation has not started")
	}
	name, data, err := d.Session.OperatorActivate(a, drillhsm.ActivateOptions{Items: d.cfg.Items})
	if err != nil {
		return "", nil, err
	}
	d.mu.Lock()
	d.sdName, d.sdBytes = name, data
	d.mu.Unlock()
	return name, data, nil
}

// SecurityDomain is the file the drill HSM returned at activation.
func (d *DrillRun) SecurityDomain() (string, []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sdName, d.sdBytes
}

// NewRecovery starts the drill's recovery, once the activation was signed
// off. Its sign-off closes the drill's transcript.
func (d *DrillRun) NewRecovery() (*Recovery, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.act == nil || d.act.Outcome() == nil || d.act.Outcome().Ending != SignedOff {
		return nil, errors.New("the drill's recovery starts after the activation is signed off")
	}
	if d.recovery != nil || d.rotation != nil {
		return nil, errors.New("this drill's recovery or rotation has already started")
	}
	r, err := NewRecovery(RecoveryConfig{Mode: Drill, HSMName: "drill-hsm", CeremonyID: d.ID + "-recovery", Witness: DrillWitness}, d.Session.Tokens.Manager(), d.rec)
	if err != nil {
		return nil, err
	}
	d.recovery = r
	return r, nil
}

// OperatorInitRecovery plays the operator: the drill HSM makes an exchange
// key, written to the drill folder.
func (d *DrillRun) OperatorInitRecovery() (string, []byte, error) {
	return d.Session.OperatorInitRecovery()
}

// OperatorUpload plays the operator uploading the restore blob; the drill
// HSM's verdict is recorded in the recovery's transcript (before the
// witness signs off).
func (d *DrillRun) OperatorUpload(blob []byte) (*drillhsm.UploadResult, error) {
	d.mu.Lock()
	r := d.recovery
	d.mu.Unlock()
	res, err := d.Session.OperatorUpload(blob)
	msg := ""
	switch {
	case err != nil:
		msg = "the drill HSM rejected the restore blob: " + err.Error()
	case res.Restored:
		msg = "the drill HSM accepted the restore blob: " + res.String()
	default:
		msg = "the drill HSM did not restore: " + res.String()
	}
	if r != nil {
		if rerr := r.record(Event{Step: "drill.upload", Actor: Actor{RoleOperator, DrillOperator}, Inputs: []FileRef{RefOf("restore blob", blob)}, Message: msg}); rerr != nil && err == nil {
			err = rerr
		}
	}
	return res, err
}

// Current is the running workflow's lifecycle, nil between workflows or
// once the drill has ended: what Home and the window's close button end.
func (d *DrillRun) Current() *Lifecycle {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.recovery != nil && !d.recovery.Ended() {
		return d.recovery.Lifecycle
	}
	if d.rotation != nil && !d.rotation.Ended() {
		return d.rotation.Lifecycle
	}
	if d.act != nil && !d.act.Ended() {
		return d.act.Lifecycle
	}
	return nil
}

// Outcome is how the drill ended, nil while it runs.
func (d *DrillRun) Outcome() *Outcome {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ended != nil {
		return d.ended
	}
	if d.recovery != nil && d.recovery.Ended() {
		return d.recovery.Outcome()
	}
	if d.rotation != nil && d.rotation.Ended() {
		return d.rotation.Outcome()
	}
	if d.act != nil {
		if o := d.act.Outcome(); o != nil && o.Ending != SignedOff {
			return o
		}
	}
	return nil
}

// Abandon ends the drill where it stands (Home, window closed, process
// interrupted): the running workflow is abandoned, wiping what it holds;
// between workflows the transcript is closed "abandoned".
func (d *DrillRun) Abandon(why string) (*Outcome, error) {
	return d.stop(func(l *Lifecycle) (*Outcome, error) { return l.Abandon(why) }, Closing{Ending: Abandoned, Actor: System, Reason: why})
}

// Fail ends the drill because a step failed: the running workflow is
// cancelled by Custodian, saying why.
func (d *DrillRun) Fail(cause error) (*Outcome, error) {
	reason := "the drill stopped: " + oneLine(cause.Error())
	return d.stop(func(l *Lifecycle) (*Outcome, error) {
		return l.finish(Cancelled, System, reason, "cancelled")
	}, Closing{Ending: Cancelled, Actor: System, Reason: reason})
}

func (d *DrillRun) stop(end func(*Lifecycle) (*Outcome, error), between Closing) (*Outcome, error) {
	if o := d.Outcome(); o != nil {
		return o, nil
	}
	if l := d.Current(); l != nil {
		return end(l)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	digest, err := d.rec.Close(between)
	d.ended = &Outcome{Ending: between.Ending, By: between.Actor, Reason: between.Reason, Digest: digest, Err: err}
	if p, ok := d.rec.(interface{ Path() string }); ok {
		d.ended.Transcript = p.Path()
	}
	return d.ended, err
}

// Close ends a drill still running as abandoned ("the drill was closed"),
// releases the drill tokens and settles the drill's folder: a drill
// signed off is moved from its staging folder to DrillConfig.Dir whole; a
// drill that failed, was cancelled or abandoned is removed with its
// staging folder, so that nothing is left under the final name. Calling
// it again does nothing more.
func (d *DrillRun) Close() error {
	_, err := d.Abandon("the drill was closed before it ended")
	if cerr := d.Session.Close(); err == nil {
		err = cerr
	}
	if serr := d.settle(); err == nil {
		err = serr
	}
	return err
}

// settle moves the staging folder into place or removes it.
func (d *DrillRun) settle() error {
	o := d.Outcome()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.settled || d.stage == nil {
		return nil
	}
	d.settled = true
	if o == nil || o.Ending != SignedOff || o.Err != nil {
		// The files of a drill that did not complete go, but its record
		// stays: the closed transcript says how the drill ended.
		var kerr error
		if o != nil && o.Transcript != "" {
			d.keptTranscript, kerr = keepTranscript(o.Transcript, d.cfg.Dir, o.Ending)
		}
		d.stage.Abort()
		return kerr
	}
	if err := d.stage.Commit(); err != nil {
		return fmt.Errorf("moving the drill folder into place: %v; nothing was left", err)
	}
	d.kept = true
	return nil
}

// keepTranscript links the closed transcript at path (inside the
// staging folder) next to the drill's destination dir, as
// DIR-ENDING-transcript.jsonl, never over an existing file; a hard link
// keeps it whole when the staging folder is removed.
func keepTranscript(path, dir string, ending Ending) (string, error) {
	base := dir + "-" + strings.ReplaceAll(ending.String(), " ", "-") + "-transcript"
	for i := 1; i <= 100; i++ {
		dst := base + ".jsonl"
		if i > 1 {
			dst = fmt.Sprintf("%s-%d.jsonl", base, i)
		}
		err := os.Link(path, dst)
		if err == nil {
			if err := safefile.SyncDir(filepath.Dir(dst)); err != nil {
				return dst, fmt.Errorf("keeping the drill's transcript at %s: %v", dst, err)
			}
			return dst, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("keeping the drill's transcript next to %s: %v", dir, err)
		}
	}
	return "", fmt.Errorf("keeping the drill's transcript: %s and 99 numbered names exist already", base+".jsonl")
}

// RunDrill runs a complete drill: activation against the drill HSM with
// share self-tests and the quorum proof, then a recovery, then the drill
// HSM's upload check; the drill witness signs each off. The returned error
// is nil only when the drill HSM accepted the restored blob; on every path
// the transcript is closed, saying how the drill ended.
func RunDrill(ctx context.Context, cfg DrillConfig) (*DrillReport, error) {
	report := &DrillReport{Dir: cfg.Dir, Rotation: cfg.Rotation}
	cfg.Staged = true
	d, err := StartDrill(cfg)
	if err != nil {
		return report, err
	}
	if cfg.Started != nil {
		cfg.Started(d)
	}
	err = d.script(ctx, report)
	if err != nil {
		d.Fail(err)
	}
	if o := d.Outcome(); o != nil {
		report.Digest = o.Digest
		report.say("ended: %s", o.Ending)
		if err == nil && o.Err != nil {
			err = o.Err
		}
	}
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	d.settleReport(report)
	return report, err
}

// settleReport names the files where Close left them: in DrillConfig.Dir
// when the drill was kept, none when its folder was removed.
func (d *DrillRun) settleReport(report *DrillReport) {
	if !d.Kept() {
		report.Files, report.Transcript = nil, d.keptTranscript
		if d.keptTranscript != "" {
			report.say("the drill did not complete: its folder was removed, nothing is left in %s; its closed transcript is kept at %s", d.cfg.Dir, d.keptTranscript)
		} else {
			report.say("the drill did not complete: its folder was removed, nothing is left in %s", d.cfg.Dir)
		}
		return
	}
	for i, f := range report.Files {
		report.Files[i] = d.FinalPath(f)
	}
	report.Transcript = d.Transcript()
}

// script is the drill, step by step, as RunDrill plays it.
func (d *DrillRun) script(ctx context.Context, report *DrillReport) error {
	report.say("tokens: %d × %s", d.cfg.Custodians, d.cfg.Tokens)
	sdName, sdBytes, lost, err := d.scriptActivation(ctx, report)
	if err != nil {
		return err
	}
	if d.cfg.Rotation {
		return d.scriptRotation(ctx, report, sdName, sdBytes)
	}
	r, blob, err := d.scriptRecovery(ctx, report, sdName, sdBytes, lost)
	if err != nil {
		return err
	}
	d.progress("the drill HSM checks the upload")
	res, err := d.OperatorUpload(blob)
	if err != nil {
		return fmt.Errorf("the drill HSM rejected the restore blob: %w", err)
	}
	report.Accepted = res.Restored
	if !res.Restored {
		return fmt.Errorf("the drill HSM did not restore: %s", res)
	}
	report.say("upload: %s", res)
	return r.SignOff(DrillWitness, true, "")
}

// scriptActivation enrolls, verifies the SD, self-tests (with the
// faults), proves the quorum and signs off; it returns the SD and the
// lost custodian (-1: none).
func (d *DrillRun) scriptActivation(ctx context.Context, report *DrillReport) (string, []byte, int, error) {
	cfg, tokens := d.cfg, d.Session.Tokens
	act, err := d.NewActivation()
	if err != nil {
		return "", nil, -1, err
	}
	for i := 0; i < cfg.Custodians; i++ {
		d.progress(fmt.Sprintf("enrolling custodian %d of %d", i+1, cfg.Custodians))
		if _, err := act.Enroll(ctx, fmt.Sprintf("Custodian %d", i+1), tokens.Ref(i), token.EnrollRequest{Bits: cfg.Bits}, tokens.Options(i)); err != nil {
			return "", nil, -1, err
		}
	}
	report.say("activation: %d custodians enrolled with %d-bit keys", cfg.Custodians, cfg.Bits)
	pkg, err := act.WritePackage(filepath.Join(d.workDir(), "DRILL-operator-package"))
	if err != nil {
		return "", nil, -1, err
	}
	report.Files = append(report.Files, pkg.Dir)
	d.progress("the drill HSM activates")
	sdName, sdBytes, err := d.OperatorActivate()
	if err != nil {
		return "", nil, -1, err
	}
	report.Files = append(report.Files, filepath.Join(d.workDir(), sdName))
	if _, err := act.LoadSD(sdName, sdBytes); err != nil {
		return "", nil, -1, err
	}
	report.say("security domain verified: one share per custodian, quorum %d", cfg.Quorum)
	lost := -1
	if cfg.Faults.LostToken {
		lost = cfg.Custodians - 1
	}
	if err := d.scriptSelfTests(ctx, act, report, lost); err != nil {
		return "", nil, -1, err
	}
	if err := act.ProveQuorum(); err != nil {
		return "", nil, -1, err
	}
	report.say("share self-tests passed; the quorum recovers the security domain")
	return sdName, sdBytes, lost, act.SignOff(DrillWitness, true, "")
}

func (d *DrillRun) scriptSelfTests(ctx context.Context, act *Activation, report *DrillReport, lost int) error {
	cfg, tokens := d.cfg, d.Session.Tokens
	for i := 0; i < cfg.Custodians; i++ {
		if i == lost {
			if err := act.SkipSelfTest(i, "token lost (fault drill)", DrillWitness); err != nil {
				return err
			}
			report.say("fault: custodian %d's token is lost — self-test skipped as an approved exception", i+1)
			continue
		}
		d.progress(fmt.Sprintf("custodian %d opens their share", i+1))
		if cfg.Faults.WrongPIN && i == 0 && cfg.Tokens != SoftTokens {
			err := act.SelfTest(ctx, i, tokens.WrongPIN(i))
			var pinErr *token.PINError
			if !errors.As(err, &pinErr) {
				return fmt.Errorf("wrong-PIN drill: expected a PIN error, got %v", err)
			}
			report.say("fault: custodian 1 typed a wrong PIN — refused: %v", pinErr)
			if err := act.RecordException("custodian 1 typed a wrong PIN once", DrillWitness); err != nil {
				return err
			}
		}
		if err := act.SelfTest(ctx, i, tokens.Options(i)); err != nil {
			return err
		}
	}
	return nil
}

// scriptRecovery has a quorum (plus one when available, so that two
// quorums are cross-checked) open their shares and builds and exports the
// blob.
func (d *DrillRun) scriptRecovery(ctx context.Context, report *DrillReport, sdName string, sdBytes []byte, lost int) (*Recovery, []byte, error) {
	cfg, tokens := d.cfg, d.Session.Tokens
	d.progress("the drill HSM makes an exchange key")
	exName, exBytes, err := d.OperatorInitRecovery()
	if err != nil {
		return nil, nil, err
	}
	report.Files = append(report.Files, filepath.Join(d.workDir(), exName))
	r, err := d.NewRecovery()
	if err != nil {
		return nil, nil, err
	}
	recoverySD := sdBytes
	if cfg.Faults.CorruptShare {
		if recoverySD, err = corruptShare(sdBytes, 0); err != nil {
			return nil, nil, err
		}
	}
	if _, err := r.LoadSD(sdName, recoverySD); err != nil {
		return nil, nil, err
	}
	if _, err := r.LoadExchangeKey(exName, exBytes); err != nil {
		return nil, nil, err
	}
	if err := r.ConfirmExchangeKey(DrillOperator, true); err != nil {
		return nil, nil, err
	}
	want, available := cfg.Quorum, cfg.Custodians
	if lost >= 0 {
		available--
	}
	if cfg.Faults.CorruptShare {
		available--
	}
	if available > want {
		want++
	}
	opened := 0
	for i := 0; i < cfg.Custodians && opened < want; i++ {
		if i == lost {
			continue
		}
		// Counted against what is asked for (the quorum, plus one to
		// cross-check when available), never "3 of 2".
		step := fmt.Sprintf("share %d of %d", opened+1, want)
		if opened >= cfg.Quorum {
			step = fmt.Sprintf("share %d of %d, beyond the quorum of %d to cross-check", opened+1, want, cfg.Quorum)
		}
		d.progress(fmt.Sprintf("recovery: custodian %d opens their share (%s)", i+1, step))
		if _, err := r.OpenShare(ctx, fmt.Sprintf("Custodian %d", i+1), tokens.Ref(i), tokens.Options(i)); err != nil {
			if cfg.Faults.CorruptShare && i == 0 {
				report.say("fault: custodian 1's share is corrupted — named and refused: %v", firstLine(err))
				if err := r.SkipCustodian("Custodian 1", "share corrupted in this copy of the security domain (fault drill)", DrillWitness); err != nil {
					return nil, nil, err
				}
				continue
			}
			return nil, nil, err
		}
		opened++
	}
	d.progress("building the restore blob")
	blob, err := r.BuildBlob(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	blobPath, err := r.Export(filepath.Join(d.workDir(), "DRILL-restore"))
	if err != nil {
		return nil, nil, err
	}
	report.Files = append(report.Files, blobPath)
	report.say("recovery: %d custodians opened their shares; restore blob written", opened)
	return r, blob, nil
}

// corruptShare flips one bit in the ciphertext of share i of an SD file,
// as a damaged copy would.
func corruptShare(sdBytes []byte, i int) ([]byte, error) {
	f, err := sd.ParseFile(sdBytes)
	if err != nil {
		return nil, err
	}
	o, err := jwe.Parse(f.SharedKeys.EncShares[i].EncKey)
	if err != nil {
		return nil, err
	}
	o.Ciphertext[len(o.Ciphertext)/2] ^= 0x01
	f.SharedKeys.EncShares[i].EncKey = o.Compact()
	return f.Marshal(), nil
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// DrillTokenKinds lists the drill token kinds this build can provision,
// software keys first.
func DrillTokenKinds() []TokenKind {
	var kinds []TokenKind
	for _, k := range []TokenKind{SoftTokens, SoftHSMTokens, VCardTokens} {
		if _, ok := drillProvisioners[k]; ok {
			kinds = append(kinds, k)
		}
	}
	return kinds
}
