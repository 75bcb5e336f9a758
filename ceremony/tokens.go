package ceremony

import (
	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/crypto/token/piv"
	"github.com/custodian-hsm/custodian/crypto/token/pkcs11"
	"github.com/custodian-hsm/custodian/crypto/token/soft"
)

// TokenConfig is fixed when Custodian starts: the mode, and the PKCS#11
// modules named with --pkcs11-module (added to the system's well-known
// modules and those listed in pkcs11.DefaultConfigFile).
type TokenConfig struct {
	Mode          Mode
	PKCS11Modules []string
}

// TokensFor returns the token manager for a mode. A production manager
// never loads SoftHSM or $CUSTODIAN_PKCS11_MODULE; a drill manager does.
// YubiKeys are verified against Yubico's attestation roots in both. The
// returned errors name configured modules that were refused (writable,
// not root-owned, on removable media, SoftHSM in production): a front-end
// shows them, and the references that name such a module are refused.
func TokensFor(cfg TokenConfig) (*token.Manager, []error) {
	p11 := pkcs11.New(pkcs11.Options{Modules: cfg.PKCS11Modules, Drill: cfg.Mode == Drill})
	return token.NewManager(piv.New(piv.Options{}), p11, soft.New()), p11.Problems()
}

// Tokens returns the production token manager over the system's
// well-known PKCS#11 modules: YubiKeys (verified against Yubico's
// attestation roots), PKCS#11 hardware tokens, and key files (for people
// moving away from keys on disk; the admission policy refuses them for
// new keys).
func Tokens() *token.Manager {
	m, _ := TokensFor(TokenConfig{Mode: Production})
	return m
}
