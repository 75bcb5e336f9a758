// Package pkcs11 serves "pkcs11:" references (RFC 7512): custodian keys
// generated on PKCS#11 tokens — HSMs, smart cards through OpenSC, and
// SoftHSM2 for drills.
//
// Which modules may be loaded is configuration fixed at start (see
// modules.go): well-known system modules, modules named with
// --pkcs11-module and the root-owned DefaultConfigFile, each checked
// before dlopen. It must never load a module a reference or a custodian's
// USB stick names, and a production provider never loads SoftHSM.
//
// Key generation, the self-signature, the certificate object and on-token
// decryption go through github.com/ThalesGroup/crypto11. Listing tokens,
// reading their flags and key attributes, and the raw-RSA fallback use
// github.com/miekg/pkcs11 on the same module, because crypto11 does not
// expose them.
//
// Why a fallback: Debian 12's SoftHSM2 (2.6.1) rejects CKM_RSA_PKCS_OAEP
// with SHA-256 (CKR_ARGUMENTS_BAD), and other tokens lack OAEP-SHA256 too.
// When the token refuses OAEP, Custodian asks it for raw RSA
// (CKM_RSA_X_509) and decodes OAEP itself with crypto/oaep, in constant
// time. The private key still never leaves the token; Key.DecryptPath
// records which path was used.
//
// crypto11 takes the PIN as a Go string, which cannot be wiped; Custodian
// wipes its own copies and keeps the crypto11 context only while a key is
// open.
package pkcs11

import (
	"errors"
	"fmt"
	"sync"

	p11 "github.com/miekg/pkcs11"
)

// mu serialises everything this package does with modules: crypto11
// finalises a module when its last context closes, which must not happen
// in the middle of one of our sessions.
var mu sync.Mutex

var modules = map[string]*p11.Ctx{}

// inUse counts the crypto11 contexts open on each module. crypto11
// initialises a module itself and refuses one that is already initialised,
// so our handle is finalised before crypto11 takes the module, and is
// re-initialised (which also makes SoftHSM rescan its tokens) only while
// crypto11 holds nothing.
var inUse = map[string]int{}

// module returns an initialised handle on a module. Handles are kept for
// the life of the process; when no crypto11 context is open the module is
// re-initialised, so that tokens created since are seen.
func module(path string) (*p11.Ctx, error) {
	ctx, ok := modules[path]
	if !ok {
		// Checked again right before dlopen: the list was checked at
		// start, and the file must still be what was checked.
		resolved, err := CheckModule(path)
		if err != nil {
			return nil, err
		}
		if resolved != path {
			return nil, &ModuleError{Path: path, Reason: "it now resolves to " + resolved + ", not the file checked at start"}
		}
		ctx = p11.New(path)
		if ctx == nil {
			return nil, fmt.Errorf("PKCS#11 module %s could not be loaded", path)
		}
		modules[path] = ctx
	}
	if inUse[path] == 0 {
		_ = ctx.Finalize()
	}
	if err := ctx.Initialize(); err != nil && !isCKR(err, p11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		return nil, fmt.Errorf("initialising PKCS#11 module %s: %w", path, err)
	}
	return ctx, nil
}

func isCKR(err error, code uint) bool {
	var e p11.Error
	return errors.As(err, &e) && uint(e) == code
}

// idle finalises every module no crypto11 context holds. A module that
// stays initialised may keep PC/SC connections to cards (ykcs11 does),
// and then piv-go cannot open a YubiKey exclusively; so after listing or
// describing, nothing is left open. Callers hold mu.
func idle() {
	for path, ctx := range modules {
		if inUse[path] == 0 {
			_ = ctx.Finalize()
		}
	}
}

// release finalises our handle on a module so that crypto11 can initialise
// it; callers hold mu and are about to open a crypto11 context.
func release(path string) {
	if ctx, ok := modules[path]; ok && inUse[path] == 0 {
		_ = ctx.Finalize()
	}
}
