package cli

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/ceremony/airgap"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/sgx"
	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// readInput reads an input file with the SD size limit; a missing or
// oversized file is bad input (exit 2).
func readInput(what, path string) ([]byte, error) {
	if path == "" {
		return nil, usageErrorf("%s is required", what)
	}
	b, err := safefile.ReadLimited(path, sd.MaxFileSize)
	if err != nil {
		return nil, inputError(what, path, err)
	}
	return b, nil
}

// inputError reports a file that could not be read as bad input, naming
// the flag once and the path once.
func inputError(what, path string, err error) error {
	var ie *safefile.InputError
	if errors.As(err, &ie) {
		return usageErrorf("%s: %v", what, err)
	}
	return usageErrorf("%s %s: %v", what, path, err)
}

func readSDFile(path string) (*sd.File, error) {
	b, err := readInput("--sd-file", path)
	if err != nil {
		return nil, err
	}
	f, err := sd.ParseFile(b)
	if err != nil {
		return nil, usageErrorf("%s: %v", path, err)
	}
	return f, nil
}

// readCertificates reads custodian certificates and says, on stderr, what
// Azure does not check but the people at the ceremony should see (an
// expired or CA certificate: see sd.CustodianCertificateNotes). label names
// the inputs in messages: a flag ("--cert") or "certificate" for arguments.
func readCertificates(env *Env, label string, paths []string) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	now := time.Now()
	for _, p := range paths {
		b, err := readInput(label, p)
		if err != nil {
			return nil, err
		}
		c, err := sd.ParseCertificate(b)
		if err != nil {
			return nil, usageErrorf("%s: %v", p, err)
		}
		for _, n := range sd.CustodianCertificateNotes(c, now) {
			fmt.Fprintf(env.Stderr, "warning: %s %s (subject %q): %s\n", label, p, c.Subject.String(), n.Sentence)
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// refuseExisting fails early, before any token is touched, when an output
// file exists: Custodian never overwrites.
func refuseExisting(flagName, path string) error {
	if path == "" {
		return usageErrorf("%s is required", flagName)
	}
	if _, err := os.Lstat(path); err == nil {
		return usageErrorf("%s %s already exists: Custodian never overwrites a file; choose another name", flagName, path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return usageErrorf("%s %s: %v", flagName, path, err)
	}
	return nil
}

func cmdSDVerify(env *Env, args []string) error {
	fs := newFlags(env, "sd verify")
	sdPath := fs.String("sd-file", "", "security domain file as the HSM returned it")
	var certPaths stringList
	fs.Var(&certPaths, "cert", "an enrolled custodian certificate (repeat for each)")
	quorum := fs.Int("quorum", 0, "the quorum M chosen at activation")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q", fs.Arg(0))
	}
	f, err := readSDFile(*sdPath)
	if err != nil {
		return err
	}
	certs, err := readCertificates(env, "--cert", certPaths)
	if err != nil {
		return err
	}
	report := sd.Verify(f, certs, *quorum)
	fmt.Fprint(env.Stdout, report.String())
	if !report.OK() {
		return failuref("verification of %s failed: see the report above", *sdPath)
	}
	return nil
}

func cmdSDRequest(env *Env, args []string) error {
	fs := newFlags(env, "sd request")
	var certPaths stringList
	fs.Var(&certPaths, "cert", "a custodian certificate, in share order (repeat 3–10 times)")
	quorum := fs.Int("quorum", 0, "the quorum M (2 ≤ M ≤ number of certificates)")
	out := fs.String("out", "", "where to write the request body (JSON)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := refuseExisting("--out", *out); err != nil {
		return err
	}
	certs, err := readCertificates(env, "--cert", certPaths)
	if err != nil {
		return err
	}
	body, err := sd.BuildDownloadRequest(certs, *quorum)
	if err != nil {
		return badInput(err)
	}
	if err := safefile.Write(*out, body); err != nil {
		return writeFailed(*out, err)
	}
	fmt.Fprintf(env.Stdout, "wrote %s: download request for %d certificates, quorum %d (SHA-256 %s)\n",
		*out, len(certs), *quorum, fingerprint.Of(body).Hex())
	return nil
}

// restoreInput is everything restore-blob checks before any token is
// touched or any file written.
type restoreInput struct {
	mode       ceremony.Mode
	why        string // why the mode, when the exchange key decided it
	keys       *keyFlags
	sdName     string
	sdData     []byte
	quorum     int
	exName     string
	exData     []byte
	exchange   *sd.ExchangeKey
	refs       []string
	out        string
	hsmName    string
	witness    string
	transcript *runTranscript
	expected   *fingerprint.Fingerprint   // --exchange-key-sha256
	exPolicy   ceremony.ExchangeKeyPolicy // --accept-unattested-exchange-key, --collateral, --at, --known-identities
	exSummary  string                     // the attestation verdict, for stdout
}

func cmdSDRestoreBlob(env *Env, args []string) error {
	in, err := parseRestoreBlob(env, args)
	if err != nil {
		return err
	}
	tokens, err := in.keys.tokens(env, in.mode, in.why)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, in.exSummary)
	fp := fingerprint.Of(in.exchange.Certificate.Raw)
	fmt.Fprintf(env.Stderr, "%s restore blob\nexchange key certificate SHA-256: %s\n  words: %s\n", in.mode, fp.GroupedHex(), fp.WordString())
	operator, err := confirmExchangeKey(env, in, fp)
	if err != nil {
		return err
	}
	rec, err := in.transcript.open("recovery", in.hsmName)
	if err != nil {
		return err
	}
	// The air-gap findings go in front of the witness on the terminal,
	// and the transcript says they were printed.
	gap := airgap.Live().Check()
	if in.mode == ceremony.Production && !gap.Clean() {
		fmt.Fprintf(env.Stderr, "AIR GAP: %s\n", gap.Summary())
		for _, f := range gap.Warnings() {
			fmt.Fprintf(env.Stderr, "  ⚠ %s: %s\n", f.Check, f.Message)
		}
	}
	r, err := ceremony.NewRecovery(ceremony.RecoveryConfig{Mode: in.mode, DrillKeysOnly: in.why != "", HSMName: in.hsmName, CeremonyID: in.transcript.id(), Witness: in.witness,
		AirGap: gap, AirGapShown: ceremony.AirGapPrinted}, tokens, rec)
	if err != nil {
		rec.Close(ceremony.Closing{Ending: ceremony.Cancelled, Actor: ceremony.System, Reason: err.Error()})
		return failuref("%v", err)
	}
	if err := r.SetExchangeKeyPolicy(in.exPolicy); err != nil {
		o, _ := r.Fail(err)
		printOutcome(env, o)
		return failuref("%v", err)
	}
	stop := interruptible(env, r.Lifecycle)
	defer stop()
	if err := restoreSteps(env, r, in, operator); err != nil {
		o, _ := r.Fail(err)
		printOutcome(env, o)
		return err
	}
	o, err := r.Complete()
	if err != nil {
		return failuref("closing the transcript: %v", err)
	}
	return reportRestore(env, in, o, fp)
}

func parseRestoreBlob(env *Env, args []string) (*restoreInput, error) {
	fs := newFlags(env, "sd restore-blob")
	sdPath := fs.String("sd-file", "", "security domain file downloaded at activation")
	exPath := fs.String("sd-exchange-key", "", "the new HSM's exchange key (PEM, DER or JSON, from init-recovery)")
	var refs stringList
	fs.Var(&refs, "key", "a custodian key reference: yubikey:…, pkcs11:… or file:PATH (repeat; at least the quorum)")
	out := fs.String("out", "", "where to write the restore blob (SHA256SUMS is written next to it)")
	transcriptPath := fs.String("transcript", "", "where to write the transcript (default: a new file next to --out)")
	exSHA := fs.String("exchange-key-sha256", "", "the exchange key certificate's SHA-256 as the HSM returned it: confirms it without asking")
	hsmName := fs.String("hsm-name", "", "the Managed HSM's name, for the record and the upload command")
	witness := fs.String("witness", "", "the witness present, for the record")
	exFlags := addExchangeKeyFlags(fs, true)
	kf := addKeyFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, usageErrorf("unexpected argument %q", fs.Arg(0))
	}
	in := &restoreInput{mode: kf.mode(), keys: kf, out: *out, hsmName: *hsmName, witness: strings.TrimSpace(*witness), refs: refs}
	if err := refuseExisting("--out", *out); err != nil {
		return nil, err
	}
	if err := refuseExistingIn(filepath.Dir(*out), in.mode.FileName(ceremony.ChecksumFile), "it is written next to the blob"); err != nil {
		return nil, err
	}
	if in.hsmName == "" {
		in.hsmName = "hsm-name-not-given"
	}
	if in.witness == "" {
		in.witness = "none named on the command line"
	}
	if *exSHA != "" {
		f, err := fingerprint.Parse(*exSHA)
		if err != nil {
			return nil, usageErrorf("--exchange-key-sha256: %v", err)
		}
		in.expected = &f
	}
	// Every reference is checked before any file is read: a reference
	// carrying a PIN is refused as such, whatever else is wrong.
	for i, ref := range refs {
		if _, err := token.ParseURI(ref); err != nil {
			return nil, usageErrorf("key %d: %v", i+1, err)
		}
	}
	if len(refs) == 0 {
		return nil, usageErrorf("no --key given: name each custodian's key with --key (at least the quorum of the security domain)")
	}
	if err := in.readFiles(env, *sdPath, *exPath, exFlags); err != nil {
		return nil, err
	}
	if len(refs) < in.quorum {
		return nil, usageErrorf("%d --key given but the security domain needs %d: bring %d more custodians", len(refs), in.quorum, in.quorum-len(refs))
	}
	t, err := planTranscript(*transcriptPath, filepath.Dir(*out), in.mode, "sd restore-blob")
	if err != nil {
		return nil, err
	}
	in.transcript = t
	return in, nil
}

func (in *restoreInput) readFiles(env *Env, sdPath, exPath string, exFlags *exchangeKeyFlags) error {
	data, err := readInput("--sd-file", sdPath)
	if err != nil {
		return err
	}
	f, err := sd.ParseFile(data)
	if err != nil {
		return usageErrorf("%s: %v", sdPath, err)
	}
	in.sdName, in.sdData, in.quorum = filepath.Base(sdPath), data, f.SharedKeys.Required
	exData, err := readInput("--sd-exchange-key", exPath)
	if err != nil {
		return err
	}
	in.exName = filepath.Base(exPath)
	cert, _, err := sd.ReadExchangeCertificate(exData)
	if err != nil {
		return usageErrorf("%s: %v", exPath, err)
	}
	if _, ok := cert.PublicKey.(*rsa.PublicKey); !ok {
		return usageErrorf("%s: the exchange key certificate (subject %q) carries a %s key; Azure needs RSA: this is not an exchange key from init-recovery", exPath, cert.Subject.String(), cert.PublicKeyAlgorithm)
	}
	// The security domain cannot carry a mark (its format is Azure's); a
	// drill HSM's exchange key makes the recovery a drill. Anyone can make
	// such a key (the DRILL root is public), so a drill decided this way
	// opens only keys made for drills: never a production software key.
	if in.mode == ceremony.Production && drillExchangeCert(cert) {
		in.mode, in.why = ceremony.Drill, "the exchange key is a drill HSM's"
	}
	// The attestation first: a forged, stale or undersized exchange key
	// fails its check (exit 1) before anything else is looked at.
	if err := in.checkExchangeKey(env, exFlags, f, cert); err != nil {
		return err
	}
	exchange, err := sd.ParseExchangeKey(exData)
	if err != nil {
		return usageErrorf("%s: %v", exPath, err)
	}
	in.exName, in.exData, in.exchange = filepath.Base(exPath), exData, exchange
	return nil
}

// checkExchangeKey verifies the exchange key's attestation under the
// command's policy before anything is written or opened: a refused key
// ends the command with exit 1, leaving no file behind. The recovery
// checks it again under the same policy and records the verdict.
func (in *restoreInput) checkExchangeKey(env *Env, exFlags *exchangeKeyFlags, f *sd.File, cert *x509.Certificate) error {
	p, err := exFlags.policy(in.mode, f)
	if err != nil {
		return err
	}
	check, refused := ceremony.CheckExchangeKey(cert, p)
	fmt.Fprintln(env.Stderr, "exchange key attestation:")
	for _, l := range check.Lines() {
		fmt.Fprintln(env.Stderr, "  "+l)
	}
	if refused != nil {
		return failuref("%s: %v; no share was opened and nothing was written", in.exName, refused)
	}
	// Said on stdout after the mode line, which comes first.
	if check.Exception != nil {
		in.exSummary = fmt.Sprintf("EXCEPTION: exchange key accepted although its attestation fails (%s): %s", strings.Join(check.Problems, "; "), check.Exception)
	} else {
		in.exSummary = "exchange key attestation: " + check.Sentence()
	}
	p.SD = nil      // the recovery sets its own
	p.Prior = check // and reuses this verification rather than repeating it
	in.exPolicy = p
	return nil
}

// confirmExchangeKey has the exchange key's fingerprint confirmed before
// any share is opened: by --exchange-key-sha256, or by the operator at the
// terminal. A drill needs no confirmation. It returns who confirmed.
func confirmExchangeKey(env *Env, in *restoreInput, fp fingerprint.Fingerprint) (string, error) {
	if in.expected != nil {
		if *in.expected != fp {
			return "", failuref("the exchange key's SHA-256 is %s, not the %s given with --exchange-key-sha256: this is not the key the HSM returned; no share was opened and nothing was written", fp.Hex(), in.expected.Hex())
		}
		fmt.Fprintln(env.Stderr, "the exchange key matches --exchange-key-sha256")
		return "operator (--exchange-key-sha256)", nil
	}
	if in.mode == ceremony.Drill {
		return ceremony.DrillOperator + " (drill: no confirmation needed)", nil
	}
	if env.Ask == nil {
		return "", usageErrorf("the exchange key's fingerprint must be confirmed before any share is opened, and there is no terminal to ask on: give --exchange-key-sha256 HEX as the HSM returned it")
	}
	answer, err := env.Ask("Does this SHA-256 match the exchange key the HSM returned? Type yes to go on: ")
	if errors.Is(err, errNoTerminal) {
		return "", usageErrorf("the exchange key's fingerprint must be confirmed before any share is opened, and there is no terminal to ask on: give --exchange-key-sha256 HEX as the HSM returned it")
	}
	if err != nil {
		return "", failuref("%v", err)
	}
	if !strings.EqualFold(answer, "yes") {
		return "", failuref("the exchange key was not confirmed (answer %q): no share was opened and nothing was written; download it again with init-recovery", answer)
	}
	return "operator at the terminal", nil
}

// restoreSteps runs the recovery: load, confirm, open each key's share,
// rebuild and wrap, write the blob.
func restoreSteps(env *Env, r *ceremony.Recovery, in *restoreInput, operator string) error {
	if _, err := r.LoadSD(in.sdName, in.sdData); err != nil {
		return badInput(err)
	}
	if _, err := r.LoadExchangeKey(in.exName, in.exData); err != nil {
		var refused *ceremony.ExchangeKeyRefusedError
		if errors.As(err, &refused) {
			return failuref("%v; no share was opened", err)
		}
		return badInput(err)
	}
	if err := r.ConfirmExchangeKey(operator, true); err != nil {
		return failuref("%v", err)
	}
	ctx := context.Background()
	for i, ref := range in.refs {
		name := fmt.Sprintf("custodian with key %d", i+1)
		var c *ceremony.RecoveryCustodian
		err := withLastTry(env, r.Lifecycle, name, func(opts token.OpenOptions) (err error) {
			c, err = r.OpenShare(ctx, name, ref, opts)
			return err
		})
		if err != nil {
			return keyError(i, ref, err)
		}
		fmt.Fprintf(env.Stderr, "key %d (%s): share x=%d opens and is well-formed [%s]\n", i+1, token.Redact(ref), c.ShareX, c.DecryptPath)
		if c.Warning != "" {
			fmt.Fprintf(env.Stderr, "WARNING: key %d (%s): %s (recorded in the transcript)\n", i+1, token.Redact(ref), c.Warning)
		}
	}
	if _, err := r.BuildBlob(rand.Reader); err != nil {
		return failuref("%v", err)
	}
	if err := r.WriteBlobFile(in.out, safefile.WithProgress(progressTo(env, in.out))); err != nil {
		return writeFailed(in.out, err)
	}
	return nil
}

// reportRestore writes SHA256SUMS next to the blob (with the transcript
// when it lies there too) and tells the operator what to check and upload.
func reportRestore(env *Env, in *restoreInput, o *ceremony.Outcome, fp fingerprint.Fingerprint) error {
	dir := filepath.Dir(in.out)
	names := []string{filepath.Base(in.out)}
	if filepath.Dir(o.Transcript) == dir {
		names = append(names, filepath.Base(o.Transcript))
	}
	sums, err := ceremony.WriteChecksums(dir, in.mode, names)
	if err != nil {
		return failuref("writing %s: %v", ceremony.ChecksumFile, err)
	}
	blob, err := os.ReadFile(in.out)
	if err != nil {
		return failuref("reading %s back: %v", in.out, err)
	}
	fmt.Fprintf(env.Stdout, "wrote %s: restore blob for exchange key %s (%d bytes, blob SHA-256 %s)\n",
		in.out, fp.Hex(), len(blob), fingerprint.Of(blob).Hex())
	printTranscript(env, o)
	fmt.Fprintf(env.Stdout, "checksums in %s: check them with\n  %s\n", filepath.Join(dir, sums.Name), ceremony.ChecksumCommand(dir, sums.Name))
	hsm := in.hsmName
	if hsm == "hsm-name-not-given" {
		hsm = "HSM-NAME"
	}
	if in.mode == ceremony.Drill {
		fmt.Fprintln(env.Stdout, "DRILL — upload it to the drill HSM only: custodian drill hsm upload --hsm-dir DIR --blob "+in.out)
		return nil
	}
	fmt.Fprintf(env.Stdout, "upload it with: az keyvault security-domain upload --hsm-name %s --sd-file %s --restore-blob\n", hsm, in.out)
	fmt.Fprintf(env.Stdout, "           or: Import-AzKeyVaultSecurityDomain -Name %s -SecurityDomainPath \"%s\" -ImportRestoredBlob\n", hsm, in.out)
	return nil
}

// keyError classifies a failure to open a key: a bad reference is bad
// input, a wrong PIN or a missing token is a failed operation.
func keyError(i int, ref string, err error) error {
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	if pe := ceremony.Blocked(err); pe != nil {
		return failuref("key %d (%s): %v", i+1, token.Redact(ref), &ceremony.BlockedError{Custodian: fmt.Sprintf("the custodian with key %d", i+1), Err: pe})
	}
	return refError(fmt.Sprintf("key %d (%s)", i+1, token.Redact(ref)), err)
}

// drillExchangeKey reports whether an exchange key is a drill HSM's: its
// SGX attestation chains to the drill attestation root.
func drillExchangeCert(cert *x509.Certificate) bool {
	return sgx.Verify(cert, sgx.Options{Roots: []*sgx.Root{sgx.DrillRoot()}}).Drill()
}

// progressTo prints a progress line for large writes.
func progressTo(env *Env, name string) func(done, total int64) {
	return func(done, total int64) {
		if total > 1<<20 {
			fmt.Fprintf(env.Stderr, "\rwriting %s: %d%%", name, done*100/total)
			if done == total {
				fmt.Fprintln(env.Stderr)
			}
		}
	}
}
