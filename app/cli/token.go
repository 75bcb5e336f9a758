package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// cmdSDCheckShare lets a custodian open their own share alone, without the
// quorum: it proves the token, the PIN and the share work. Nothing secret
// is printed; the run is recorded in a transcript (in the current folder
// unless --transcript says where).
func cmdSDCheckShare(env *Env, args []string) error {
	fs := newFlags(env, "sd check-share")
	sdPath := fs.String("sd-file", "", "security domain file")
	ref := fs.String("key", "", "your key reference: yubikey:…, pkcs11:… or file:PATH")
	transcriptPath := fs.String("transcript", "", "where to write the transcript (default: a new file in the current folder)")
	kf := addKeyFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *ref == "" {
		return usageErrorf("--key is required")
	}
	if _, err := token.ParseURI(*ref); err != nil {
		return usageErrorf("--key: %v", err)
	}
	data, err := readInput("--sd-file", *sdPath)
	if err != nil {
		return err
	}
	if _, err := sd.ParseFile(data); err != nil {
		return usageErrorf("%s: %v", *sdPath, err)
	}
	mode := kf.mode()
	plan, err := planTranscript(*transcriptPath, ".", mode, "sd check-share")
	if err != nil {
		return err
	}
	tokens, err := kf.tokens(env, mode, "")
	if err != nil {
		return err
	}
	rec, err := plan.open("share-check", "")
	if err != nil {
		return err
	}
	c := ceremony.NewShareCheck(mode, tokens, rec)
	stop := interruptible(env, c.Lifecycle)
	defer stop()
	var res *ceremony.ShareCheckResult
	err = withLastTry(env, c.Lifecycle, "the custodian", func(opts token.OpenOptions) (err error) {
		res, err = c.Check(context.Background(), filepath.Base(*sdPath), data, *ref, opts)
		return err
	})
	if err != nil {
		c.Fail(err)
		printOutcome(env, c.Outcome())
		if errors.Is(err, sd.ErrNoShare) {
			return failuref("%v", err)
		}
		if ceremony.Blocked(err) != nil || ceremony.LastTry(err) != nil || refused(err) {
			return keyError(0, *ref, err)
		}
		var ee *exitError
		if errors.As(err, &ee) {
			return err
		}
		return failuref("your share does not open: %v", err)
	}
	if res.Admission.Warning != "" {
		fmt.Fprintf(env.Stdout, "WARNING: %s (recorded in the transcript)\n", res.Admission.Warning)
	}
	fp, _ := fingerprint.FromHex(res.Certificate.SHA256)
	fmt.Fprintf(env.Stdout, "share x=%d of %d opens and is well-formed (quorum %d)\n", res.ShareX, res.Shares, res.Quorum)
	fmt.Fprintf(env.Stdout, "certificate %s\n  SHA-256 %s\n  words   %s\n", res.Subject, fp.GroupedHex(), fp.WordString())
	fmt.Fprintf(env.Stdout, "decrypted with: %s\n", res.DecryptPath)
	printTranscript(env, c.Outcome())
	return nil
}

// cmdTokenEnroll generates a custodian key on a token and exports its
// certificate; the enrollment is recorded in a transcript next to it.
func cmdTokenEnroll(env *Env, args []string) error {
	fs := newFlags(env, "token enroll")
	ref := fs.String("token", "", "the token: yubikey:serial=…, pkcs11:token=…?module-path=…")
	name := fs.String("name", "", "the custodian's name (the certificate's CN)")
	ceremonyID := fs.String("ceremony", "", "the ceremony identifier recorded in the certificate")
	out := fs.String("out", "", "where to write the certificate (.cer, PEM)")
	bits := fs.Int("bits", 2048, "key size: 2048, 3072 or 4096 (YubiKey 3072/4096 need firmware 5.7)")
	slot := fs.String("slot", "9d", "PIV slot: 9d or a retired slot 82–95")
	touch := fs.String("touch", "never", "PIV touch policy: never, always or cached")
	transcriptPath := fs.String("transcript", "", "where to write the transcript (default: a new file next to --out)")
	accept := fs.String("accept-unattested-key", "", "witnessed exception for a key whose origin cannot be verified (a PKCS#11 key, a YubiKey that cannot attest): \"REASON; approved by NAME\"")
	kf := addKeyFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *ref == "" || *name == "" {
		return usageErrorf("--token and --name are required")
	}
	var ex *ceremony.WitnessedException
	if *accept != "" {
		var err error
		if ex, err = ceremony.ParseWitnessedException(*accept); err != nil {
			return usageErrorf("--accept-unattested-key: %v", err)
		}
	}
	if _, err := token.ParseURI(*ref); err != nil {
		return usageErrorf("--token: %v", err)
	}
	if err := refuseExisting("--out", *out); err != nil {
		return err
	}
	tp, err := token.ParseTouchPolicy(*touch)
	if err != nil {
		return usageErrorf("%v", err)
	}
	req := token.EnrollRequest{Name: *name, CeremonyID: *ceremonyID, Bits: *bits, Slot: *slot, Touch: tp,
		Progress: func(stage string) { fmt.Fprintln(env.Stderr, "enroll:", stage) }}
	if err := req.Validate(); err != nil {
		return usageErrorf("%v", err)
	}
	mode := kf.mode()
	plan, err := planTranscript(*transcriptPath, filepath.Dir(*out), mode, "token enroll")
	if err != nil {
		return err
	}
	tokens, err := kf.tokens(env, mode, "")
	if err != nil {
		return err
	}
	rec, err := plan.open("enrollment", "")
	if err != nil {
		return err
	}
	id := *ceremonyID
	if id == "" {
		id = plan.id()
	}
	e := ceremony.NewEnrollment(mode, id, tokens, rec)
	stop := interruptible(env, e.Lifecycle)
	defer stop()
	return enrollAndWrite(env, e, *name, *ref, *out, req, ex)
}

func enrollAndWrite(env *Env, e *ceremony.Enrollment, name, ref, out string, req token.EnrollRequest, ex *ceremony.WitnessedException) error {
	var enr *token.Enrollment
	var adm *ceremony.Admission
	err := withLastTry(env, e.Lifecycle, name, func(opts token.OpenOptions) (err error) {
		opts.Touch = func(tok token.Info) { fmt.Fprintf(env.Stderr, "touch %s now\n", tok) }
		enr, adm, err = e.EnrollWithException(context.Background(), name, ref, req, opts, ex)
		return err
	})
	if err != nil {
		e.Fail(err)
		printOutcome(env, e.Outcome())
		if pe := ceremony.Blocked(err); pe != nil {
			return failuref("%v", &ceremony.BlockedError{Custodian: name, Err: pe})
		}
		var ee *exitError
		if errors.As(err, &ee) {
			return err
		}
		if refused(err) {
			return refError("enrolling on "+token.Redact(ref), err)
		}
		return failuref("enrollment failed: %v", err)
	}
	pem := token.CertificatePEM(enr.Certificate)
	if err := safefile.Write(out, pem); err != nil {
		e.Fail(err)
		return writeFailed(out, err)
	}
	o, err := e.Written(ceremony.RefOf(filepath.Base(out), pem))
	if err != nil {
		return failuref("closing the transcript: %v", err)
	}
	fp := fingerprint.Of(enr.Certificate.Raw)
	fmt.Fprintf(env.Stdout, "key %s generated on %s\ncertificate written to %s\n  SHA-256 %s\n  words   %s\n", enr.Ref, enr.Token, out, fp.GroupedHex(), fp.WordString())
	printAttestation(env, enr.Attestation)
	fmt.Fprintf(env.Stdout, "key %s\n", adm.Summary())
	if adm.Exception != nil {
		fmt.Fprintf(env.Stdout, "EXCEPTION: %s (witness: %s), recorded in the transcript\n", adm.Exception.Reason, adm.Exception.ApprovedBy)
	}
	printTranscript(env, o)
	return nil
}

// cmdTokenAttest prints the evidence that a key was generated on its token.
func cmdTokenAttest(env *Env, args []string) error {
	fs := newFlags(env, "token attest")
	ref := fs.String("key", "", "the key reference")
	kf := addKeyFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *ref == "" {
		return usageErrorf("--key is required")
	}
	m, err := kf.tokens(env, kf.mode(), "")
	if err != nil {
		return err
	}
	key, _, err := ceremony.AdmissionPolicy{Mode: kf.mode()}.OpenKey(context.Background(), m, *ref, token.OpenOptions{PIN: pinPrompt(env)})
	if err != nil {
		return keyError(0, *ref, err)
	}
	defer key.Close()
	att, err := key.Attest(context.Background())
	if err != nil {
		return failuref("attestation failed: %v", err)
	}
	printAttestation(env, att)
	if att.Status != token.AttestVerified {
		return failuref("the key's attestation is %s: %s", att.Status, unverifiedReason(att))
	}
	return nil
}

func printAttestation(env *Env, att *token.Attestation) {
	if att == nil {
		return
	}
	fmt.Fprintf(env.Stdout, "attestation (%s): %s\n", att.Kind, att.Status)
	for _, f := range att.Facts {
		fmt.Fprintf(env.Stdout, "  %s: %s\n", f.Name, f.Value)
	}
}

// cmdTokenList lists every token this mode can see, each marked drill or
// production, with its health. A backend that fails (no pcscd, a refused
// module) is reported without hiding others.
func cmdTokenList(env *Env, args []string) error {
	fs := newFlags(env, "token list")
	kf := addKeyFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	m, err := kf.tokens(env, kf.mode(), "")
	if err != nil {
		return err
	}
	choices, errs := ceremony.ListTokenChoices(context.Background(), m)
	for _, err := range errs {
		fmt.Fprintln(env.Stderr, "note:", err)
	}
	if len(choices) == 0 {
		fmt.Fprintln(env.Stdout, "no tokens found: insert a YubiKey or install your token's PKCS#11 module (or name it with --pkcs11-module)")
		return nil
	}
	// The same rows the GUI's token pickers show.
	for _, c := range choices {
		mark := "production"
		if c.Drill {
			mark = "drill"
		}
		fmt.Fprintf(env.Stdout, "[%s] %s\n  %s\n  ref: %s\n", mark, c.Title(), c.Detail(), c.Ref)
		if mp := c.Info.Ref.Query["module-path"]; mp != "" {
			fmt.Fprintf(env.Stdout, "  module: %s\n", mp)
		}
		if h := c.Health; h != nil {
			fmt.Fprintf(env.Stdout, "  PUK tries left: %s  default PIN: %s  default PUK: %s  default management key: %s\n", c.PUKTries, h.DefaultPIN, h.DefaultPUK, h.DefaultManagementKey)
			if len(h.FreeSlots) > 0 {
				fmt.Fprintf(env.Stdout, "  free slots: %v\n", h.FreeSlots)
			}
			for _, w := range h.Warnings {
				fmt.Fprintf(env.Stdout, "  warning: %s\n", w)
			}
		}
	}
	return nil
}

// unverifiedReason says why a key has no verified attestation, in terms of
// what the key is: a software key has none to verify.
func unverifiedReason(att *token.Attestation) string {
	switch att.Kind {
	case token.KindSoftware:
		return "this is a software key (a file): it has no attestation, because nothing vouches that it was made on a token; use software keys for drills only"
	case token.KindPKCS11:
		return "the PKCS#11 token gave no verifiable attestation: only its key attributes are shown above (CKA_LOCAL, CKA_EXTRACTABLE): nothing proves the key was generated on the token"
	}
	return fmt.Sprintf("the %s key's attestation did not verify: see the facts above; do not use this key in a production ceremony", att.Kind)
}
