package piv

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/subtle"
	"fmt"
	"strings"
	"time"

	"github.com/custodian-hsm/custodian/crypto/token"
	pivgo "github.com/go-piv/piv-go/v2/piv"
)

// Enroll generates a custodian key on the YubiKey: RSA-2048 by default
// (3072 and 4096 need firmware 5.7), in slot 9d or a retired slot 82–95,
// PIN policy "once", the requested touch policy. The card signs the
// self-signed certificate, which is stored in the slot, and the slot is
// attested.
//
// Enroll refuses, with a *DefaultCredentialsError, a YubiKey whose PIN,
// PUK or management key is still the factory default, and refuses a slot
// that already holds a key: a custodian key is never overwritten.
func (p *Provider) Enroll(ctx context.Context, ref *token.URI, req token.EnrollRequest, opts token.OpenOptions) (*token.Enrollment, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	slot, err := slotFor(req.Slot)
	if err != nil {
		return nil, err
	}
	if slot.Key != 0x9d && (slot.Key < 0x82 || slot.Key > 0x95) {
		return nil, fmt.Errorf("slot %s is not a key-management slot: custodian keys go in 9d or a retired slot 82–95", req.Slot)
	}
	c, err := p.find(ctx, ref)
	if err != nil {
		return nil, err
	}
	alg, err := algorithmFor(c, req.Bits)
	if err != nil {
		return nil, err
	}
	touch := map[token.TouchPolicy]pivgo.TouchPolicy{
		token.TouchNever: pivgo.TouchPolicyNever, token.TouchAlways: pivgo.TouchPolicyAlways, token.TouchCached: pivgo.TouchPolicyCached,
	}[req.Touch]
	if touch != pivgo.TouchPolicyNever && !c.fw.atLeast(4, 0, 0) {
		return nil, fmt.Errorf("%s: touch policies need firmware 4 or later: %w", c.info, token.ErrUnsupported)
	}

	// Credential hygiene, read without a PIN and without spending a retry.
	req.Report("checking the YubiKey's PIN, PUK and management key")
	cr, err := p.readCredentials(c)
	if err != nil {
		return nil, err
	}
	if d := cr.defaults(); len(d) > 0 {
		return nil, &DefaultCredentialsError{Token: c.info, PIN: cr.defaultPIN == token.Yes, PUK: cr.defaultPUK == token.Yes, ManagementKey: cr.defaultMgmt == token.Yes}
	}
	pin, err := p.askPIN(ctx, c, opts, fmt.Sprintf("generate the custodian key of %s in slot %s", req.Name, req.Slot))
	if err != nil {
		return nil, err
	}
	defer token.WipeBytes(pin)
	if cr.defaultPIN == token.Unknown && subtle.ConstantTimeCompare(pin, defaultPIN) == 1 {
		return nil, &DefaultCredentialsError{Token: c.info, PIN: true}
	}

	yk, err := p.open(c)
	if err != nil {
		return nil, err
	}
	defer yk.Close()
	if used, err := slotUsed(yk, c.fw, slot); err != nil {
		return nil, fmt.Errorf("checking slot %s of %s: %w", req.Slot, c.info, err)
	} else if used {
		free, _ := freeSlots(yk, c.fw)
		return nil, fmt.Errorf("slot %s of %s already holds a key; Custodian never overwrites a key (free key-management slots: %s)", req.Slot, c.info, freeKeyManagementSlots(free))
	}
	mgmt, _, isDefault, err := p.managementKeyFor(ctx, yk, c, pin, cr.defaultMgmt)
	if err != nil {
		return nil, err
	}
	defer token.WipeBytes(mgmt)
	if isDefault || bytes.Equal(mgmt, pivgo.DefaultManagementKey) {
		return nil, &DefaultCredentialsError{Token: c.info, ManagementKey: true}
	}

	req.Report(fmt.Sprintf("generating an RSA-%d key pair on the YubiKey in slot %s (this can take a minute)", req.Bits, req.Slot))
	pubAny, err := yk.GenerateKey(mgmt, slot, pivgo.Key{Algorithm: alg, PINPolicy: pivgo.PINPolicyOnce, TouchPolicy: touch})
	if err != nil {
		return nil, fmt.Errorf("generating the key on %s: %w", c.info, err)
	}
	pub, ok := pubAny.(*rsa.PublicKey)
	if !ok || pub.N.BitLen() != req.Bits {
		return nil, fmt.Errorf("%s generated a %T key instead of RSA-%d", c.info, pubAny, req.Bits)
	}
	priv, err := yk.PrivateKey(slot, pub, pivgo.KeyAuth{PIN: pinString(pin), PINPolicy: pivgo.PINPolicyOnce})
	if err != nil {
		return nil, fmt.Errorf("using the new key on %s: %w", c.info, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("piv-go's key for slot %s cannot sign", req.Slot)
	}
	if touch != pivgo.TouchPolicyNever && opts.Touch != nil {
		opts.Touch(c.info)
	}
	req.Report("signing the self-signed certificate on the YubiKey")
	cert, err := token.SelfSignCertificate(signer, req, time.Now(), nil)
	if err != nil {
		return nil, err
	}
	req.Report("storing the certificate on the YubiKey")
	if err := yk.SetCertificate(mgmt, slot, cert); err != nil {
		return nil, fmt.Errorf("storing the certificate in slot %s of %s: %w", req.Slot, c.info, err)
	}
	back, err := yk.Certificate(slot)
	if err != nil || !bytes.Equal(back.Raw, cert.Raw) {
		return nil, fmt.Errorf("the certificate in slot %s of %s does not read back as written (%v)", req.Slot, c.info, err)
	}
	req.Report("attesting the key")
	att, err := p.attest(yk, c, slot, cert)
	if err != nil {
		return nil, err
	}
	return &token.Enrollment{
		Ref:         c.info.Ref.With("slot", fmt.Sprintf("%02x", slot.Key)),
		Token:       c.info,
		Certificate: cert,
		Attestation: att,
	}, nil
}

// algorithmFor picks the RSA algorithm for a key size and checks the
// firmware can generate it.
func algorithmFor(c card, bits int) (pivgo.Algorithm, error) {
	switch bits {
	case 2048:
		return pivgo.AlgorithmRSA2048, nil
	case 3072, 4096:
		if !c.fw.atLeast(5, 7, 0) {
			return 0, fmt.Errorf("%s (firmware %s) cannot generate RSA-%d keys: that needs firmware 5.7 or later; use 2048 bits: %w", c.info, c.fw, bits, token.ErrUnsupported)
		}
		if bits == 3072 {
			return pivgo.AlgorithmRSA3072, nil
		}
		return pivgo.AlgorithmRSA4096, nil
	}
	return 0, fmt.Errorf("RSA-%d is not 2048, 3072 or 4096 bits: %w", bits, token.ErrUnsupported)
}

func freeKeyManagementSlots(free []string) string {
	var out []string
	for _, s := range free {
		if containsKeyManagementSlot([]string{s}) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}
