// Package hardwarepkcs11 stands in for a PKCS#11 hardware token, which
// tests do not have: a real PKCS#11 provider (over SoftHSM) whose tokens
// and enrollments are reported without their drill mark, so that
// production's admission policy treats them as hardware. Key generation,
// attributes and attestation claims stay the module's own.
//
// It is test-only infrastructure: it exists to pass a drill module off as
// hardware, and must never be linked into the production binary.
package hardwarepkcs11

import (
	"context"

	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/crypto/token/pkcs11"
)

// Provider is a PKCS#11 provider with the drill mark removed from what it
// describes and enrolls.
type Provider struct{ *pkcs11.Provider }

// New wraps p.
func New(p *pkcs11.Provider) Provider { return Provider{p} }

// Describe is the module's description of the token, not marked drill.
func (h Provider) Describe(ctx context.Context, ref *token.URI) (token.Info, error) {
	i, err := h.Provider.Describe(ctx, ref)
	i.Drill = false
	return i, err
}

// Enroll is the module's enrollment, its token not marked drill.
func (h Provider) Enroll(ctx context.Context, ref *token.URI, req token.EnrollRequest, opts token.OpenOptions) (*token.Enrollment, error) {
	e, err := h.Provider.Enroll(ctx, ref, req, opts)
	if e != nil {
		e.Token.Drill = false
	}
	return e, err
}
