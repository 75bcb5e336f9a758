package ceremony

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/custodian-hsm/custodian/crypto/drillhsm"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
	"github.com/custodian-hsm/custodian/crypto/jwe"
	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/token"
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
	// Dir is created for the drill's files; it must not exist.
	Dir string
	// Bits is the custodian key size (2048 default).
	Bits int
	// Items is the number of EncData items the drill HSM makes (default
	// three, as a live HSM).
	Items  int
	Faults Faults
	// Progress is told each step, for a front-end's progress display.
	Progress func(step string)
	// Recorder receives the record (default: kept in memory).
	Recorder Recorder
}

// DrillReport is what a drill shows at the end.
type DrillReport struct {
	Dir      string
	Accepted bool
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
	if r.Accepted {
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

// RunDrill runs a complete drill: activation against the drill HSM with
// share self-tests and the quorum proof, then a recovery, then the drill
// HSM's upload check. The returned error is nil only when the drill HSM
// accepted the restored blob.
func RunDrill(ctx context.Context, cfg DrillConfig) (*DrillReport, error) {
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
	progress := func(s string) {
		if cfg.Progress != nil {
			cfg.Progress(s)
		}
	}
	report := &DrillReport{Dir: cfg.Dir}
	progress("provisioning drill tokens")
	session, err := NewDrillSession(cfg.Dir, cfg.Tokens, cfg.Custodians)
	if err != nil {
		return report, err
	}
	defer session.Close()
	rec := cfg.Recorder
	if rec == nil {
		tr, err := OpenTranscript(cfg.Dir, Drill, "drill", "DRILL-"+filepath.Base(cfg.Dir), "drill-hsm")
		if err != nil {
			return report, err
		}
		report.Transcript = tr.Path()
		defer func() {
			if digest, err := tr.Close(); err == nil {
				report.Digest = digest
			}
		}()
		rec = tr
	}
	tokens := session.Tokens
	report.say("tokens: %d × %s", cfg.Custodians, cfg.Tokens)

	// Activation.
	act, err := NewActivation(ActivationConfig{Mode: Drill, HSMName: "drill-hsm", CeremonyID: "DRILL-" + filepath.Base(cfg.Dir),
		Custodians: cfg.Custodians, Quorum: cfg.Quorum, Witness: "Drill witness", Tool: "custodian drill"}, tokens.Manager(), rec)
	if err != nil {
		return report, err
	}
	for i := 0; i < cfg.Custodians; i++ {
		progress(fmt.Sprintf("enrolling custodian %d of %d", i+1, cfg.Custodians))
		if _, err := act.Enroll(ctx, fmt.Sprintf("Custodian %d", i+1), tokens.Ref(i), token.EnrollRequest{Bits: cfg.Bits}, tokens.Options(i)); err != nil {
			return report, err
		}
	}
	report.say("activation: %d custodians enrolled with %d-bit keys", cfg.Custodians, cfg.Bits)
	pkg, err := act.WritePackage(filepath.Join(cfg.Dir, "DRILL-operator-package"))
	if err != nil {
		return report, err
	}
	report.Files = append(report.Files, pkg.Dir)

	progress("the drill HSM activates")
	sdName, sdBytes, err := session.OperatorActivate(act, drillhsm.ActivateOptions{Items: cfg.Items})
	if err != nil {
		return report, err
	}
	report.Files = append(report.Files, filepath.Join(cfg.Dir, sdName))
	if _, err := act.LoadSD(sdName, sdBytes); err != nil {
		return report, err
	}
	report.say("security domain verified: one share per custodian, quorum %d", cfg.Quorum)

	lost := -1
	if cfg.Faults.LostToken {
		lost = cfg.Custodians - 1
	}
	for i := 0; i < cfg.Custodians; i++ {
		if i == lost {
			if err := act.SkipSelfTest(i, "token lost (fault drill)", "Drill witness"); err != nil {
				return report, err
			}
			report.say("fault: custodian %d's token is lost — self-test skipped as an approved exception", i+1)
			continue
		}
		progress(fmt.Sprintf("custodian %d opens their share", i+1))
		if cfg.Faults.WrongPIN && i == 0 && cfg.Tokens != SoftTokens {
			err := act.SelfTest(ctx, i, tokens.WrongPIN(i))
			var pinErr *token.PINError
			if !errors.As(err, &pinErr) {
				return report, fmt.Errorf("wrong-PIN drill: expected a PIN error, got %v", err)
			}
			report.say("fault: custodian 1 typed a wrong PIN — refused: %v", pinErr)
			if err := act.RecordException("custodian 1 typed a wrong PIN once", "Drill witness"); err != nil {
				return report, err
			}
		}
		if err := act.SelfTest(ctx, i, tokens.Options(i)); err != nil {
			return report, err
		}
	}
	if err := act.ProveQuorum(); err != nil {
		return report, err
	}
	report.say("share self-tests passed; the quorum recovers the security domain")

	// Recovery.
	progress("the drill HSM makes an exchange key")
	exName, exBytes, err := session.OperatorInitRecovery()
	if err != nil {
		return report, err
	}
	report.Files = append(report.Files, filepath.Join(cfg.Dir, exName))
	r, err := NewRecovery(RecoveryConfig{Mode: Drill, HSMName: "drill-hsm", CeremonyID: "DRILL-" + filepath.Base(cfg.Dir) + "-recovery", Witness: "Drill witness"}, tokens.Manager(), rec)
	if err != nil {
		return report, err
	}
	recoverySD := sdBytes
	if cfg.Faults.CorruptShare {
		if recoverySD, err = corruptShare(sdBytes, 0); err != nil {
			return report, err
		}
	}
	if _, err := r.LoadSD(sdName, recoverySD); err != nil {
		return report, err
	}
	if _, err := r.LoadExchangeKey(exName, exBytes); err != nil {
		return report, err
	}
	if err := r.ConfirmExchangeKey("Drill operator", true); err != nil {
		return report, err
	}
	// Call custodians until the quorum, plus one more when available so
	// that two quorums are cross-checked.
	want := cfg.Quorum
	available := cfg.Custodians
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
		progress(fmt.Sprintf("recovery: custodian %d opens their share (%d of %d)", i+1, opened+1, cfg.Quorum))
		_, err := r.OpenShare(ctx, fmt.Sprintf("Custodian %d", i+1), tokens.Ref(i), tokens.Options(i))
		if err != nil {
			if cfg.Faults.CorruptShare && i == 0 {
				report.say("fault: custodian 1's share is corrupted — named and refused: %v", firstLine(err))
				if err := r.SkipCustodian("Custodian 1", "share corrupted in this copy of the security domain (fault drill)", "Drill witness"); err != nil {
					return report, err
				}
				continue
			}
			return report, err
		}
		opened++
	}
	progress("building the restore blob")
	blob, err := r.BuildBlob(rand.Reader)
	if err != nil {
		return report, err
	}
	blobPath, err := r.Export(filepath.Join(cfg.Dir, "DRILL-restore"))
	if err != nil {
		return report, err
	}
	report.Files = append(report.Files, blobPath)
	report.say("recovery: %d custodians opened their shares; restore blob written", opened)

	progress("the drill HSM checks the upload")
	res, err := session.OperatorUpload(blob)
	if err != nil {
		return report, fmt.Errorf("the drill HSM rejected the restore blob: %w", err)
	}
	report.Accepted = res.Restored
	if !res.Restored {
		return report, fmt.Errorf("the drill HSM did not restore: %s", res)
	}
	report.say("upload: %s", res)
	return report, nil
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
