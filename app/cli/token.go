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
// is printed.
func cmdSDCheckShare(env *Env, args []string) error {
	fs := newFlags(env, "sd check-share")
	sdPath := fs.String("sd-file", "", "security domain file")
	ref := fs.String("key", "", "your key reference: yubikey:…, pkcs11:… or file:PATH")
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
	key, err := ceremony.Tokens().OpenKey(context.Background(), *ref, token.OpenOptions{PIN: pinPrompt(env)})
	if err != nil {
		return keyError(0, *ref, err)
	}
	defer key.Close()
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
	return nil
}

// cmdTokenEnroll generates a custodian key on a token and exports its
// certificate.
func cmdTokenEnroll(env *Env, args []string) error {
	fs := newFlags(env, "token enroll")
	ref := fs.String("token", "", "the token: yubikey:serial=…, pkcs11:token=…?module-path=…")
	name := fs.String("name", "", "the custodian's name (the certificate's CN)")
	ceremonyID := fs.String("ceremony", "", "the ceremony identifier recorded in the certificate")
	out := fs.String("out", "", "where to write the certificate (.cer, PEM)")
	bits := fs.Int("bits", 2048, "key size: 2048, 3072 or 4096 (YubiKey 3072/4096 need firmware 5.7)")
	slot := fs.String("slot", "9d", "PIV slot: 9d or a retired slot 82–95")
	touch := fs.String("touch", "never", "PIV touch policy: never, always or cached")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *ref == "" || *name == "" {
		return usageErrorf("--token and --name are required")
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
	enr, err := ceremony.Tokens().Enroll(context.Background(), *ref, req, token.OpenOptions{PIN: pinPrompt(env),
		Touch: func(tok token.Info) { fmt.Fprintf(env.Stderr, "touch %s now\n", tok) }})
	if err != nil {
		return failuref("enrollment failed: %v", err)
	}
	if err := safefile.Write(*out, token.CertificatePEM(enr.Certificate)); err != nil {
		return failuref("writing %s: %v", *out, err)
	}
	fp := fingerprint.Of(enr.Certificate.Raw)
	fmt.Fprintf(env.Stdout, "key %s generated on %s\ncertificate written to %s\n  SHA-256 %s\n  words   %s\n", enr.Ref, enr.Token, *out, fp.GroupedHex(), fp.WordString())
	printAttestation(env, enr.Attestation)
	return nil
}

// cmdTokenAttest prints the evidence that a key was generated on its token.
func cmdTokenAttest(env *Env, args []string) error {
	fs := newFlags(env, "token attest")
	ref := fs.String("key", "", "the key reference")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *ref == "" {
		return usageErrorf("--key is required")
	}
	key, err := ceremony.Tokens().OpenKey(context.Background(), *ref, token.OpenOptions{PIN: pinPrompt(env)})
	if err != nil {
		return keyError(0, *ref, err)
	}
	defer key.Close()
	att, err := key.Attest(context.Background())
	if err != nil {
		return failuref("attestation failed: %v", err)
	}
	printAttestation(env, att)
	if !att.Verified {
		return failuref("the key's attestation could not be verified")
	}
	return nil
}

func printAttestation(env *Env, att *token.Attestation) {
	if att == nil {
		return
	}
	fmt.Fprintf(env.Stdout, "attestation (%s): verified=%v\n", att.Kind, att.Verified)
	for _, f := range att.Facts {
		fmt.Fprintf(env.Stdout, "  %s: %s\n", f.Name, f.Value)
	}
}

// cmdTokenList lists every token present, with its health. A backend that
// fails (no pcscd, no PKCS#11 module) is reported without hiding others.
func cmdTokenList(env *Env, args []string) error {
	fs := newFlags(env, "token list")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	choices, errs := ceremony.ListTokenChoices(context.Background(), ceremony.Tokens())
	for _, err := range errs {
		fmt.Fprintln(env.Stderr, "note:", err)
	}
	if len(choices) == 0 {
		fmt.Fprintln(env.Stdout, "no tokens found: insert a YubiKey or configure a PKCS#11 module (CUSTODIAN_PKCS11_MODULE)")
		return nil
	}
	// The same rows the GUI's token pickers show.
	for _, c := range choices {
		fmt.Fprintf(env.Stdout, "%s\n  %s\n  ref: %s\n", c.Title(), c.Detail(), c.Ref)
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
