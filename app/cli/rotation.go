package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/ceremony/transcript"
	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/token"
)

// A rotation from the command line, one step per command, each with its
// transcript:
//
//	custodian token enroll …            each new custodian (as at activation)
//	custodian rotation package …        the operator package for the new certificates
//	custodian rotation check …          the re-downloaded SD: every new custodian opens
//	                                    their share, the new quorum rebuilds it, and
//	                                    (with the old SD and an old quorum) both compare
//	custodian rotation retire …         destruction records, after a verified check

// parseWithOldManifest parses a rotation step's command line and reads
// the manifest its --old-manifest names (the set being replaced).
func parseWithOldManifest(fs *flag.FlagSet, args []string, manifestPath *string) (*ceremony.Manifest, error) {
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	data, err := readInput("--old-manifest", *manifestPath)
	if err != nil {
		return nil, err
	}
	m, err := ceremony.ParseManifest(data)
	if err != nil {
		return nil, usageErrorf("%s: %v", *manifestPath, err)
	}
	return m, nil
}

func cmdRotationPackage(env *Env, args []string) error {
	fs := newFlags(env, "rotation package")
	manifestPath := fs.String("old-manifest", "", "the manifest of the activation (or rotation) being replaced")
	var certPaths stringList
	fs.Var(&certPaths, "cert", "a new custodian's certificate from `custodian token enroll`, in share order (repeat 3–10 times)")
	quorum := fs.Int("quorum", 0, "the new quorum M")
	outDir := fs.String("out-dir", "", "a new folder for the operator package")
	witness := fs.String("witness", "", "the witness present, for the record")
	transcriptPath := fs.String("transcript", "", "where to write the transcript (default: a new file next to --out-dir)")
	drill := fs.Bool("drill", false, "a drill rotation")
	old, err := parseWithOldManifest(fs, args, manifestPath)
	if err != nil {
		return err
	}
	certs, err := readCertificates(env, "--cert", certPaths)
	if err != nil {
		return err
	}
	if err := ceremony.CheckQuorum(len(certs), *quorum); err != nil {
		return usageErrorf("%v", err)
	}
	if err := refuseExisting("--out-dir", *outDir); err != nil {
		return err
	}
	mode := modeOf(*drill)
	plan, err := planTranscript(*transcriptPath, filepath.Dir(*outDir), mode, "rotation package")
	if err != nil {
		return err
	}
	r, err := startRotation(plan, old, len(certs), *quorum, *witness, nil)
	if err != nil {
		return err
	}
	defer interruptible(env, r.Lifecycle)()
	if err := adoptAll(r, certs, nil); err != nil {
		return endFailed(env, r.Lifecycle, err)
	}
	pkg, err := r.WritePackage(*outDir)
	if err != nil {
		return endFailed(env, r.Lifecycle, failuref("writing the operator package: %v", err))
	}
	o, err := r.EndCompleted("operator package written")
	if err != nil {
		return failuref("closing the transcript: %v", err)
	}
	fmt.Fprintf(env.Stdout, "rotation operator package for %s written to %s: %s\n", old.HSMName, pkg.Dir, strings.Join(pkg.Files, ", "))
	fmt.Fprintf(env.Stdout, "the operator downloads the security domain again for these certificates: see %s\n", filepath.Join(pkg.Dir, mode.FileName("INSTRUCTIONS.txt")))
	printTranscript(env, o)
	return nil
}

// startRotation opens the rotation's transcript and workflow. tokens is
// the mode's token manager (nil for the steps that open no key).
func startRotation(plan *runTranscript, old *ceremony.Manifest, n, m int, witness string, tokens *token.Manager) (*ceremony.Rotation, error) {
	if strings.TrimSpace(witness) == "" {
		witness = "none named on the command line"
	}
	cfg := ceremony.ActivationConfig{Mode: plan.mode, HSMName: old.HSMName, CeremonyID: plan.id(), Custodians: n, Quorum: m, Witness: witness, Tool: "custodian rotation"}
	if err := cfg.Validate(); err != nil {
		return nil, usageErrorf("%v", err)
	}
	rec, err := plan.open("rotation", old.HSMName)
	if err != nil {
		return nil, err
	}
	if tokens == nil {
		tokens = token.NewManager()
	}
	r, err := ceremony.NewRotation(cfg, old, tokens, rec)
	if err != nil {
		rec.Close(ceremony.Closing{Ending: ceremony.Cancelled, Actor: ceremony.System, Reason: err.Error()})
		return nil, failuref("%v", err)
	}
	return r, nil
}

func adoptAll(r *ceremony.Rotation, certs []*x509.Certificate, refs []string) error {
	for i, c := range certs {
		ref := ""
		if refs != nil {
			ref = refs[i]
		}
		name := c.Subject.CommonName
		if name == "" {
			name = "new custodian " + strconv.Itoa(i+1)
		}
		if _, err := r.Adopt(name, ref, c); err != nil {
			return badInput(err)
		}
	}
	return nil
}

// endFailed ends a workflow after a failed step and returns the error.
func endFailed(env *Env, l *ceremony.Lifecycle, err error) error {
	o, _ := l.Fail(err)
	printOutcome(env, o)
	return err
}

func cmdRotationCheck(env *Env, args []string) error {
	fs := newFlags(env, "rotation check")
	manifestPath := fs.String("old-manifest", "", "the manifest of the activation (or rotation) being replaced")
	sdPath := fs.String("sd-file", "", "the security domain downloaded again for the new certificates")
	var certPaths, refs, oldRefs stringList
	fs.Var(&certPaths, "cert", "a new custodian's certificate, in share order (repeat for every new custodian)")
	fs.Var(&refs, "key", "the new custodian's key, in the same order as --cert")
	oldSD := fs.String("old-sd", "", "the old security domain file, to compare the two domains (with --old-key)")
	fs.Var(&oldRefs, "old-key", "an old custodian's key (repeat: at least the old quorum) for the comparison")
	witness := fs.String("witness", "", "the witness present, for the record")
	transcriptPath := fs.String("transcript", "", "where to write the transcript (default: a new file next to --sd-file)")
	kf := addKeyFlags(fs) // --drill and --pkcs11-module, as every command that opens keys
	old, err := parseWithOldManifest(fs, args, manifestPath)
	if err != nil {
		return err
	}
	in, err := readRotationCheck(env, *sdPath, certPaths, refs, *oldSD, oldRefs)
	if err != nil {
		return err
	}
	mode := kf.mode()
	plan, err := planTranscript(*transcriptPath, filepath.Dir(*sdPath), mode, "rotation check")
	if err != nil {
		return err
	}
	tokens, err := kf.tokens(env, mode, "")
	if err != nil {
		return err
	}
	r, err := startRotation(plan, old, len(in.certs), in.file.SharedKeys.Required, *witness, tokens)
	if err != nil {
		return err
	}
	defer interruptible(env, r.Lifecycle)()
	c, err := rotationCheckSteps(env, r, in, filepath.Base(*sdPath))
	if err != nil {
		return endFailed(env, r.Lifecycle, err)
	}
	o, err := r.EndCompleted("the rotated security domain was checked and its new quorum proven")
	if err != nil {
		return failuref("closing the transcript: %v", err)
	}
	fmt.Fprintf(env.Stdout, "every new custodian opened their share; the new quorum of %d recovers the security domain\n", in.file.SharedKeys.Required)
	if c != nil {
		fmt.Fprintf(env.Stdout, "old and new security domains: %s\n", c)
	}
	fmt.Fprintln(env.Stdout, "to retire (custodian rotation retire --checked with this transcript):")
	for _, line := range r.ToRetire() {
		fmt.Fprintln(env.Stdout, "  "+line)
	}
	printTranscript(env, o)
	if c != nil && !c.Same() {
		return failuref("the old and the new security domains differ: %s — do not retire the old keys", c)
	}
	return nil
}

type rotationCheckInput struct {
	file       *sd.File
	data       []byte
	certs      []*x509.Certificate
	refs       []string
	oldName    string
	oldData    []byte
	oldRefs    []string
	oldQuorum  int
	compareOld bool
}

func readRotationCheck(env *Env, sdPath string, certPaths, refs []string, oldSD string, oldRefs []string) (*rotationCheckInput, error) {
	in := &rotationCheckInput{refs: refs, oldRefs: oldRefs}
	data, err := readInput("--sd-file", sdPath)
	if err != nil {
		return nil, err
	}
	if in.file, err = sd.ParseFile(data); err != nil {
		return nil, usageErrorf("%s: %v", sdPath, err)
	}
	in.data = data
	if in.certs, err = readCertificates(env, "--cert", certPaths); err != nil {
		return nil, err
	}
	if len(in.certs) == 0 || len(refs) != len(in.certs) {
		return nil, usageErrorf("give every new custodian's --cert and --key, in the same order (%d certificates, %d keys)", len(in.certs), len(refs))
	}
	for i, ref := range append(append([]string(nil), refs...), oldRefs...) {
		if _, err := token.ParseURI(ref); err != nil {
			return nil, usageErrorf("key %d: %v", i+1, err)
		}
	}
	if (oldSD == "") != (len(oldRefs) == 0) {
		return nil, usageErrorf("the comparison needs both --old-sd and an old quorum of --old-key")
	}
	if oldSD != "" {
		od, err := readInput("--old-sd", oldSD)
		if err != nil {
			return nil, err
		}
		of, err := sd.ParseFile(od)
		if err != nil {
			return nil, usageErrorf("%s: %v", oldSD, err)
		}
		if len(oldRefs) < of.SharedKeys.Required {
			return nil, usageErrorf("%d --old-key given but the old security domain needs %d", len(oldRefs), of.SharedKeys.Required)
		}
		in.oldName, in.oldData, in.compareOld = filepath.Base(oldSD), od, true
	}
	return in, nil
}

func rotationCheckSteps(env *Env, r *ceremony.Rotation, in *rotationCheckInput, sdName string) (*ceremony.DomainComparison, error) {
	if err := adoptAll(r, in.certs, in.refs); err != nil {
		return nil, err
	}
	if err := r.PackageWrittenEarlier("custodian rotation package"); err != nil {
		return nil, failuref("%v", err)
	}
	if _, err := r.LoadSD(sdName, in.data); err != nil {
		return nil, failuref("%v", err)
	}
	ctx := context.Background()
	for i := range in.certs {
		name := r.Custodians()[i].Name
		err := withLastTry(env, r.Lifecycle, name, func(opts token.OpenOptions) error { return r.SelfTest(ctx, i, opts) })
		if err != nil {
			return nil, keyError(i, in.refs[i], err)
		}
		fmt.Fprintf(env.Stderr, "%s opened their share\n", name)
	}
	var c *ceremony.DomainComparison
	if in.compareOld {
		var keys []ceremony.OldKey
		for i, ref := range in.oldRefs {
			keys = append(keys, ceremony.OldKey{Name: fmt.Sprintf("old custodian with key %d", i+1), Ref: ref, Opts: token.OpenOptions{PIN: pinPrompt(env), AllowLastRetry: false}})
		}
		var err error
		if c, err = compareWithOld(env, r, in, keys); err != nil {
			return nil, failuref("comparing with the old security domain: %v", err)
		}
	}
	if err := r.ProveQuorum(); err != nil {
		return nil, failuref("%v", err)
	}
	return c, nil
}

// compareWithOld runs the comparison; when an old custodian's token is
// down to its last PIN try, it asks them (confirmLastTry) and compares
// again with that try allowed. Each old key asks for its last try once.
func compareWithOld(env *Env, r *ceremony.Rotation, in *rotationCheckInput, keys []ceremony.OldKey) (*ceremony.DomainComparison, error) {
	for {
		c, err := r.CompareWithOld(context.Background(), in.oldName, in.oldData, keys)
		var oe *ceremony.OldKeyError
		pe := ceremony.LastTry(err)
		if pe == nil || !errors.As(err, &oe) || keys[oe.Index].Opts.AllowLastRetry {
			return c, err
		}
		if err := confirmLastTry(env, r.Lifecycle, oe.Name, pe); err != nil {
			return nil, err
		}
		keys[oe.Index].Opts.AllowLastRetry = true
	}
}

func cmdRotationRetire(env *Env, args []string) error {
	fs := newFlags(env, "rotation retire")
	manifestPath := fs.String("old-manifest", "", "the manifest of the activation (or rotation) replaced")
	checked := fs.String("checked", "", "the transcript of `custodian rotation check` that proved the new security domain")
	var names stringList
	fs.Var(&names, "custodian", "an old custodian whose key was destroyed (repeat)")
	method := fs.Int("method", 1, "how: 1 key deleted from the token, 2 token reset to factory state, 3 token physically destroyed (each witnessed)")
	witness := fs.String("witness", "", "the witness of the destruction")
	transcriptPath := fs.String("transcript", "", "where to write the transcript (default: a new file next to --checked)")
	drill := fs.Bool("drill", false, "a drill rotation")
	old, err := parseWithOldManifest(fs, args, manifestPath)
	if err != nil {
		return err
	}
	if len(names) == 0 || strings.TrimSpace(*witness) == "" {
		return usageErrorf("name each --custodian retired and the --witness of the destruction")
	}
	if err := intIn("--method", *method, 1, len(ceremony.DestructionMethods), "see --help"); err != nil {
		return err
	}
	if *checked == "" {
		return usageErrorf("--checked is required: old keys are retired only after `custodian rotation check` proved the new security domain")
	}
	v, err := transcript.VerifyFile(*checked)
	if err != nil {
		return usageErrorf("reading %s: %v", *checked, err)
	}
	mode := modeOf(*drill)
	plan, err := planTranscript(*transcriptPath, filepath.Dir(*checked), mode, "rotation retire")
	if err != nil {
		return err
	}
	rec, err := plan.open("rotation", old.HSMName)
	if err != nil {
		return err
	}
	ret, err := ceremony.NewRetirement(mode, old, v, rec)
	if err != nil {
		rec.Close(ceremony.Closing{Ending: ceremony.Cancelled, Actor: ceremony.System, Reason: err.Error()})
		return failuref("%v", err)
	}
	for _, n := range names {
		i, ok := ret.Find(n)
		if !ok {
			return endFailed(env, ret.Lifecycle, usageErrorf("%q is not an old custodian of ceremony %s", n, old.CeremonyID))
		}
		if err := ret.Retire(i, ceremony.DestructionMethods[*method-1], *witness); err != nil {
			return endFailed(env, ret.Lifecycle, failuref("%v", err))
		}
		fmt.Fprintf(env.Stdout, "retired: the old key of %s (%s)\n", old.Custodians[i].Name, ceremony.DestructionMethods[*method-1])
	}
	o, err := ret.EndCompleted(fmt.Sprintf("%d old key(s) retired", len(names)))
	if err != nil {
		return failuref("closing the transcript: %v", err)
	}
	printTranscript(env, o)
	return nil
}
