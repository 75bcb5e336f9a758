package cli

import (
	"errors"
	"flag"
	"fmt"
	"slices"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/crypto/token/pkcs11"
)

// keyFlags are the flags of every command that touches custodian keys:
// the mode, and the PKCS#11 modules allowed besides the system's. Both are
// fixed before any token is looked at.
type keyFlags struct {
	drill   *bool
	modules stringList
}

func addKeyFlags(fs *flag.FlagSet) *keyFlags {
	k := &keyFlags{}
	k.drill = fs.Bool("drill", false, "drill mode: only drill tokens (SoftHSM, virtual YubiKeys, drill keys) and software keys; hardware keys are refused")
	fs.Var(&k.modules, "pkcs11-module", "allow this PKCS#11 module besides the system's (repeatable; root-owned, not writable by others, not on removable media; also "+pkcs11.DefaultConfigFile+")")
	return k
}

func (k *keyFlags) mode() ceremony.Mode {
	if *k.drill {
		return ceremony.Drill
	}
	return ceremony.Production
}

// tokensFor makes the token manager; tests that need a PKCS#11 hardware
// token stand in for one here.
var tokensFor = ceremony.TokensFor

// tokens prints the mode as the first line of output and returns the
// token manager for it. A --pkcs11-module that fails its checks is bad
// usage; other refused modules (the configuration file's) are noted.
func (k *keyFlags) tokens(env *Env, mode ceremony.Mode, why string) (*token.Manager, error) {
	m, problems := tokensFor(ceremony.TokenConfig{Mode: mode, PKCS11Modules: k.modules})
	for _, p := range problems {
		var me *pkcs11.ModuleError
		if errors.As(p, &me) && slices.Contains(k.modules, me.Path) {
			return nil, usageErrorf("--pkcs11-module %s: %v", me.Path, p)
		}
	}
	line := "mode: PRODUCTION (hardware custodian keys; drill tokens refused)"
	if mode == ceremony.Drill {
		line = "mode: DRILL (rehearsal: drill tokens and software keys only; hardware keys refused)"
	}
	if why != "" {
		line += " — " + why
	}
	fmt.Fprintln(env.Stdout, line)
	for _, p := range problems {
		fmt.Fprintln(env.Stderr, "note:", p)
	}
	return m, nil
}

// refError classifies a failure to use a key: a bad or ambiguous
// reference, a module not allowed, or a key the admission policy refuses
// is bad input (nothing was tried); a wrong PIN, a missing token or a key
// generated and then refused is a failed operation.
func refError(what string, err error) error {
	var pinErr *token.PINError
	if errors.As(err, &pinErr) {
		return failuref("%s: %v", what, err)
	}
	var ae *ceremony.AdmissionError
	if errors.As(err, &ae) {
		if ae.Generated != nil {
			return failuref("%s: %v", what, err)
		}
		return usageErrorf("%s: %v", what, err)
	}
	var uriErr *token.URIError
	var me *pkcs11.ModuleError
	var amb *token.AmbiguousError
	if errors.As(err, &uriErr) || errors.As(err, &me) || errors.As(err, &amb) {
		return usageErrorf("%s: %v", what, err)
	}
	return failuref("%s: %v", what, err)
}

// refused reports a refusal that happened before any key was used: the
// admission policy, a module not allowed, an ambiguous reference.
func refused(err error) bool {
	var ae *ceremony.AdmissionError
	var me *pkcs11.ModuleError
	var amb *token.AmbiguousError
	return errors.As(err, &ae) || errors.As(err, &me) || errors.As(err, &amb)
}
