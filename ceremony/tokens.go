package ceremony

import (
	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/crypto/token/piv"
	"github.com/custodian-hsm/custodian/crypto/token/pkcs11"
	"github.com/custodian-hsm/custodian/crypto/token/soft"
)

// Tokens returns the token manager for ceremonies on real hardware:
// YubiKeys (verified against Yubico's attestation roots), PKCS#11 tokens,
// and key files (for people moving away from keys on disk; activation
// refuses them in production).
func Tokens() *token.Manager {
	return token.NewManager(
		piv.New(piv.Options{}),
		pkcs11.New(pkcs11.Options{}),
		soft.New(),
	)
}
