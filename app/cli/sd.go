package cli

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
	"github.com/custodian-hsm/custodian/crypto/sd"
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

func readCertificates(paths []string) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for _, p := range paths {
		b, err := readInput("--cert", p)
		if err != nil {
			return nil, err
		}
		c, err := sd.ParseCertificate(b)
		if err != nil {
			return nil, usageErrorf("%s: %v", p, err)
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
	certs, err := readCertificates(certPaths)
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
	certs, err := readCertificates(certPaths)
	if err != nil {
		return err
	}
	body, err := sd.BuildDownloadRequest(certs, *quorum)
	if err != nil {
		return badInput(err)
	}
	if err := safefile.Write(*out, body); err != nil {
		return failuref("writing %s: %v", *out, err)
	}
	fmt.Fprintf(env.Stdout, "wrote %s: download request for %d certificates, quorum %d (SHA-256 %s)\n",
		*out, len(certs), *quorum, fingerprint.Of(body).Hex())
	return nil
}

func cmdSDRestoreBlob(env *Env, args []string) error {
	fs := newFlags(env, "sd restore-blob")
	sdPath := fs.String("sd-file", "", "security domain file downloaded at activation")
	exPath := fs.String("sd-exchange-key", "", "the new HSM's exchange key (PEM, DER or JSON, from init-recovery)")
	var refs stringList
	fs.Var(&refs, "key", "a custodian key reference: yubikey:…, pkcs11:… or file:PATH (repeat; at least the quorum)")
	out := fs.String("out", "", "where to write the restore blob")
	exFlags := addExchangeKeyFlags(fs, true)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := refuseExisting("--out", *out); err != nil {
		return err
	}
	f, err := readSDFile(*sdPath)
	if err != nil {
		return err
	}
	exchange, err := admitExchangeKey(env, *exPath, exFlags, f, ceremony.Production)
	if err != nil {
		return err
	}
	if len(refs) == 0 {
		return usageErrorf("no --key given: the security domain needs %d custodian keys", f.SharedKeys.Required)
	}
	fp := fingerprint.Of(exchange.Certificate.Raw)
	fmt.Fprintf(env.Stderr, "exchange key SHA-256: %s\n  words: %s\n  compare with what the HSM returned before uploading the blob\n", fp.GroupedHex(), fp.WordString())
	blob, err := ceremony.RestoreBlob(context.Background(), ceremony.Tokens(), f, exchange, refs,
		token.OpenOptions{PIN: pinPrompt(env)}, rand.Reader, func(line string) { fmt.Fprintln(env.Stderr, line) })
	if err != nil {
		var ke *ceremony.KeyError
		if errors.As(err, &ke) {
			return keyError(ke.Index, ke.Ref, ke.Err)
		}
		return failuref("%v", err)
	}
	if err := safefile.Write(*out, blob, safefile.WithProgress(progressTo(env, *out))); err != nil {
		return failuref("writing %s: %v", *out, err)
	}
	fmt.Fprintf(env.Stdout, "wrote %s: restore blob for exchange key %s (%d EncData items, blob SHA-256 %s)\n",
		*out, fp.Hex(), len(f.EncData.Data), fingerprint.Of(blob).Hex())
	fmt.Fprintf(env.Stdout, "upload it with: az keyvault security-domain upload --hsm-name HSM --sd-file %s --restore-blob\n", *out)
	return nil
}

// keyError classifies a failure to open a key: a bad reference is bad
// input, a wrong PIN or a missing token is a failed operation.
func keyError(i int, ref string, err error) error {
	var pinErr *token.PINError
	if errors.As(err, &pinErr) {
		return failuref("key %d (%s): %v", i+1, ref, err)
	}
	var uriErr *token.URIError
	if errors.As(err, &uriErr) {
		return usageErrorf("key %d: %v", i+1, err)
	}
	return failuref("key %d (%s): %v", i+1, ref, err)
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
