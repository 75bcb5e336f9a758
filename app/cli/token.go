package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// cmdSDCheckShare lets a custodian open their own share alone, without the
// quorum: it proves the token, the PIN and the share work. Nothing secret
// is printed. The admission policy applies: in production a drill token is
// refused and a software key file is used with a warning.
func cmdSDCheckShare(env *Env, args []string) error {
	fs := newFlags(env, "sd check-share")
	sdPath := fs.String("sd-file", "", "security domain file")
	ref := fs.String("key", "", "your key reference: yubikey:…, pkcs11:… or file:PATH")
	kf := addKeyFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *ref == "" {
		return usageErrorf("--key is required")
	}
	f, err := readSDFile(*sdPath)
	if err != nil {
		return err
	}
	m, err := kf.tokens(env, kf.mode(), "")
	if err != nil {
		return err
	}
	key, adm, err := ceremony.AdmissionPolicy{Mode: kf.mode()}.OpenKey(context.Background(), m, *ref, token.OpenOptions{PIN: pinPrompt(env)})
	if err != nil {
		return keyError(0, *ref, err)
	}
	defer key.Close()
	if adm.Warning != "" {
		fmt.Fprintf(env.Stdout, "WARNING: %s\n", adm.Warning)
	}
	share, err := sd.OpenShare(f, key)
	if err != nil {
		if errors.Is(err, sd.ErrNoShare) {
			return failuref("%v", err)
		}
		return failuref("your share does not open: %v", err)
	}
	x := share.X
	share.Wipe()
	fp := fingerprint.Of(key.Certificate().Raw)
	fmt.Fprintf(env.Stdout, "share x=%d of %d opens and is well-formed (quorum %d)\n", x, len(f.SharedKeys.EncShares), f.SharedKeys.Required)
	fmt.Fprintf(env.Stdout, "certificate %s\n  SHA-256 %s\n  words   %s\n", key.Certificate().Subject.CommonName, fp.GroupedHex(), fp.WordString())
	fmt.Fprintf(env.Stdout, "decrypted with: %s\n", key.DecryptPath())
	fmt.Fprintf(env.Stdout, "key %s\n", adm.Summary())
	return nil
}

// cmdTokenEnroll generates a custodian key on a token and exports its
// certificate, under the admission policy: production keys only on
// hardware, a PKCS#11 key (or a YubiKey that cannot attest) only with a
// witnessed --accept-unattested-key.
func cmdTokenEnroll(env *Env, args []string) error {
	fs := newFlags(env, "token enroll")
	ref := fs.String("token", "", "the token: yubikey:serial=…, pkcs11:token=…;serial=…")
	name := fs.String("name", "", "the custodian's name (the certificate's CN)")
	ceremonyID := fs.String("ceremony", "", "the ceremony identifier recorded in the certificate")
	out := fs.String("out", "", "where to write the certificate (.cer, PEM)")
	bits := fs.Int("bits", 2048, "key size: 2048, 3072 or 4096 (YubiKey 3072/4096 need firmware 5.7)")
	slot := fs.String("slot", "9d", "PIV slot: 9d or a retired slot 82–95")
	touch := fs.String("touch", "never", "PIV touch policy: never, always or cached")
	accept := fs.String("accept-unattested-key", "", "witnessed exception for a key whose origin cannot be verified (PKCS#11, a YubiKey that cannot attest): \"REASON; approved by NAME\"")
	kf := addKeyFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *ref == "" || *name == "" {
		return usageErrorf("--token and --name are required")
	}
	if err := refuseExisting("--out", *out); err != nil {
		return err
	}
	var ex *ceremony.KeyException
	if *accept != "" {
		var err error
		if ex, err = ceremony.ParseKeyException(*accept); err != nil {
			return usageErrorf("--accept-unattested-key: %v", err)
		}
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
	m, err := kf.tokens(env, kf.mode(), "")
	if err != nil {
		return err
	}
	enr, adm, err := ceremony.AdmissionPolicy{Mode: kf.mode(), Exception: ex}.Enroll(context.Background(), m, *ref, req, token.OpenOptions{PIN: pinPrompt(env),
		Touch: func(tok token.Info) { fmt.Fprintf(env.Stderr, "touch %s now\n", tok) }})
	if err != nil {
		return refError("enrolling on "+*ref, err)
	}
	if err := safefile.Write(*out, token.CertificatePEM(enr.Certificate)); err != nil {
		return failuref("writing %s: %v", *out, err)
	}
	fp := fingerprint.Of(enr.Certificate.Raw)
	fmt.Fprintf(env.Stdout, "key %s generated on %s\ncertificate written to %s\n  SHA-256 %s\n  words   %s\n", enr.Ref, enr.Token, *out, fp.GroupedHex(), fp.WordString())
	printAttestation(env, enr.Attestation)
	fmt.Fprintf(env.Stdout, "key %s\n", adm.Summary())
	if adm.Exception != nil {
		fmt.Fprintf(env.Stdout, "EXCEPTION: %s (witness: %s) — record it in the ceremony transcript\n", adm.Exception.Reason, adm.Exception.ApprovedBy)
	}
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
		return failuref("the key's attestation is %s", att.Status)
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
	infos, errs := m.List(context.Background())
	for _, err := range errs {
		fmt.Fprintln(env.Stderr, "note:", err)
	}
	if len(infos) == 0 {
		fmt.Fprintln(env.Stdout, "no tokens found: insert a YubiKey or install your token's PKCS#11 module (or name it with --pkcs11-module)")
		return nil
	}
	for _, in := range infos {
		mark := "production"
		if (ceremony.KeyFacts{Ref: in.Ref, Token: in}).Class() == ceremony.DrillKey {
			mark = "drill"
		}
		fmt.Fprintf(env.Stdout, "[%s] %s\n  ref: %s\n", mark, in, in.Ref)
		if mp := in.Ref.Query["module-path"]; mp != "" {
			fmt.Fprintf(env.Stdout, "  module: %s\n", mp)
		}
		if h, err := m.Health(context.Background(), in.Ref.String(), token.OpenOptions{}); err == nil {
			fmt.Fprintf(env.Stdout, "  PIN retries: %d  default PIN: %s  default PUK: %s  default management key: %s\n", h.PINRetries, h.DefaultPIN, h.DefaultPUK, h.DefaultManagementKey)
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
