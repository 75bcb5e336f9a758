package cli

import (
	"crypto/rsa"
	"crypto/x509"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/sgx"
)

// exchangeKeyFlags are the attestation flags sd exchange-key and sd
// restore-blob share.
type exchangeKeyFlags struct {
	collateral, at, accept *string
	known                  stringList
}

func addExchangeKeyFlags(fs *flag.FlagSet, withException bool) *exchangeKeyFlags {
	f := &exchangeKeyFlags{
		collateral: fs.String("collateral", "", "a folder with Intel's TCB collateral (tcb-info.json, qe-identity.json, tcb-signing-chain.pem, optional CRLs)"),
		at:         fs.String("at", "", "check validity as of this time (RFC 3339, e.g. 2025-04-23T00:00:00Z) instead of now; recorded in the output"),
	}
	fs.Var(&f.known, "known-identities", "an earlier ceremony's transcript or a plan file listing enclave identities (repeat)")
	if withException {
		f.accept = fs.String("accept-unattested-exchange-key", "", `a witnessed exception for an exchange key whose attestation fails: "REASON; approved by NAME"`)
	}
	return f
}

// policy turns the flags into an exchange-key policy (bad values: exit 2).
func (f *exchangeKeyFlags) policy(mode ceremony.Mode, sdFile *sd.File) (ceremony.ExchangeKeyPolicy, error) {
	p := ceremony.ExchangeKeyPolicy{Mode: mode, SD: sdFile}
	if *f.at != "" {
		at, err := time.Parse(time.RFC3339, *f.at)
		if err != nil {
			return p, usageErrorf("--at %q is not an RFC 3339 time such as 2025-04-23T00:00:00Z", *f.at)
		}
		p.At = at
	}
	if *f.collateral != "" {
		c, err := sgx.LoadCollateral(*f.collateral)
		if err != nil {
			return p, usageErrorf("--collateral: %v", err)
		}
		p.Collateral = c
	}
	for _, path := range f.known {
		b, err := readInput("--known-identities", path)
		if err != nil {
			return p, err
		}
		ids, err := ceremony.IdentitiesFrom(path, b)
		if err != nil {
			return p, usageErrorf("--known-identities: %v", err)
		}
		p.Earlier = append(p.Earlier, ids...)
	}
	if f.accept != nil && *f.accept != "" {
		e, err := ceremony.ParseWitnessedException(*f.accept)
		if err != nil {
			return p, usageErrorf("--accept-unattested-exchange-key: %v", err)
		}
		p.Exception = e
	}
	return p, nil
}

// readExchangeCertificate reads the exchange key's certificate; a file that
// is not one, or whose key is not RSA, is not an exchange key (exit 2).
func readExchangeCertificate(path string) (*x509.Certificate, string, []byte, error) {
	data, err := readInput("--sd-exchange-key", path)
	if err != nil {
		return nil, "", nil, err
	}
	cert, err := exchangeCertificate(path, data)
	if err != nil {
		return nil, "", nil, err
	}
	_, form, _ := sd.ReadExchangeCertificate(data)
	return cert, form, data, nil
}

// exchangeCertificate parses the exchange key's certificate without judging
// its size (the attestation check names a key that is too small).
func exchangeCertificate(path string, data []byte) (*x509.Certificate, error) {
	cert, _, err := sd.ReadExchangeCertificate(data)
	if err != nil {
		return nil, usageErrorf("%s: %v", path, err)
	}
	if _, ok := cert.PublicKey.(*rsa.PublicKey); !ok {
		_, err := sd.ParseExchangeKey(data)
		return nil, usageErrorf("%s: %v", path, err)
	}
	return cert, nil
}

func cmdSDExchangeKey(env *Env, args []string) error {
	fs := newFlags(env, "sd exchange-key")
	exPath := fs.String("sd-exchange-key", "", "the new HSM's exchange key (PEM, DER or JSON, from init-recovery)")
	drill := fs.Bool("drill", false, "also accept the DRILL attestation root (drill HSM keys); never for production")
	flags := addExchangeKeyFlags(fs, false)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q", fs.Arg(0))
	}
	cert, form, _, err := readExchangeCertificate(*exPath)
	if err != nil {
		return err
	}
	mode := ceremony.Production
	if *drill {
		mode = ceremony.Drill
	}
	p, err := flags.policy(mode, nil)
	if err != nil {
		return err
	}
	check, refused := ceremony.CheckExchangeKey(cert, p)
	fp := fingerprint.Of(cert.Raw)
	fmt.Fprintf(env.Stdout, "exchange key: %s (%s)\n  SHA-256: %s\n  words: %s\n", *exPath, form, fp.GroupedHex(), fp.WordString())
	printExchangeKeyCheck(env, check)
	if r := check.Result; r.Verdict != sgx.Unattested && r.Verdict != sgx.Malformed && p.Collateral == nil {
		fmt.Fprintln(env.Stdout, "to evaluate the TCB status, the online operator downloads (then --collateral FOLDER):")
		for _, d := range sgx.CollateralDownloads(&r.Facts) {
			fmt.Fprintln(env.Stdout, "  "+d)
		}
	}
	if refused != nil {
		return failuref("exchange key %s is NOT accepted: %s", *exPath, check.Sentence())
	}
	return nil
}

func printExchangeKeyCheck(env *Env, c *ceremony.ExchangeKeyCheck) {
	for _, l := range c.Lines() {
		fmt.Fprintln(env.Stdout, "  "+strings.ReplaceAll(l, "\n", "\n  "))
	}
}
