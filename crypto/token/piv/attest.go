package piv

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"strconv"

	"github.com/custodian-hsm/custodian/crypto/token"
	pivgo "github.com/go-piv/piv-go/v2/piv"
)

// Yubico's attestation extensions (developers.yubico.com, "PIV
// attestation"): firmware version, serial number, PIN/touch policy, form
// factor.
var (
	oidYubicoFirmware   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 3}
	oidYubicoSerial     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 7}
	oidYubicoFormFactor = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 9}
)

// attest gets the slot's attestation certificate (signed on the card by
// the YubiKey's F9 attestation key) and the F9 certificate (signed by
// Yubico, or by the test root for the virtual card), checks the chain
// against the provider's roots and checks that the attested key is the
// certificate's key.
//
// The result's Status is what the admission policy branches on:
// AttestVerified when the chain reaches the roots and names this serial
// and slot; AttestRejected when it chains elsewhere (the virtual card's
// test root in production) or names another serial or slot;
// AttestUnavailable when the YubiKey cannot attest (firmware before 4.3,
// no attestation certificate), with the reason in the facts. An attested
// key that differs from the certificate's is an error, because then the
// certificate cannot be trusted at all.
func (p *Provider) attest(yk *pivgo.YubiKey, c card, slot pivgo.Slot, cert *x509.Certificate) (*token.Attestation, error) {
	if !c.fw.atLeast(4, 3, 0) {
		return unavailable(fmt.Sprintf("firmware %s cannot attest keys (attestation needs 4.3 or later)", c.fw)), nil
	}
	f9, err := yk.AttestationCertificate()
	if err != nil {
		return unavailable(fmt.Sprintf("the attestation certificate (F9) cannot be read: %v", err)), nil
	}
	slotCert, err := yk.Attest(slot)
	if err != nil {
		return nil, fmt.Errorf("attesting slot %s of %s: %w", slot, c.info, err)
	}
	if !token.SamePublicKey(cert, rsaPublic(slotCert)) {
		return nil, fmt.Errorf("%s attests a different key in slot %s than the certificate stored there: refusing the certificate", c.info, slot)
	}
	att := &token.Attestation{Kind: token.KindYubiKey, Chain: []*x509.Certificate{slotCert, f9}}
	att.Facts = append(att.Facts, token.Fact{Name: "attested key", Value: "equals the certificate's public key"})
	att.Facts = append(att.Facts, attestationFacts(slotCert)...)

	verr := p.verifyChain(f9, slotCert, c, slot)
	switch {
	case verr == nil:
		att.Status, att.Verified = token.AttestVerified, true
		att.Facts = append(att.Facts, token.Fact{Name: "chain", Value: "verified to " + p.rootsName()})
	default:
		att.Status = token.AttestRejected
		att.Facts = append(att.Facts, token.Fact{Name: "chain", Value: "NOT verified: " + verr.Error()})
	}
	return att, nil
}

// unavailable is the attestation of a YubiKey that cannot attest: the
// ceremony admits its key only with a witnessed exception.
func unavailable(reason string) *token.Attestation {
	return &token.Attestation{Kind: token.KindYubiKey, Status: token.AttestUnavailable,
		Facts: []token.Fact{{Name: "attestation", Value: "not available: " + reason}}}
}

func rsaPublic(c *x509.Certificate) *rsa.PublicKey {
	pub, _ := c.PublicKey.(*rsa.PublicKey)
	return pub
}

func (p *Provider) rootsName() string {
	if p.opts.AttestationRoots == nil {
		return "Yubico's PIV attestation roots"
	}
	return "the configured attestation roots (not Yubico's)"
}

// verifyChain checks the chain with piv-go's verifier and that what it
// attests is this YubiKey and this slot.
func (p *Provider) verifyChain(f9, slotCert *x509.Certificate, c card, slot pivgo.Slot) error {
	v := pivgo.Verifier{Roots: p.opts.AttestationRoots}
	// piv-go may adjust the F9 certificate's basic constraints (old
	// YubiKey 4 certificates lack them); give it a copy.
	f9c := *f9
	a, err := v.Verify(&f9c, slotCert)
	if err != nil {
		return err
	}
	if a.Serial != c.serial {
		return fmt.Errorf("the attestation names serial %d, the YubiKey is %d", a.Serial, c.serial)
	}
	if a.Slot != (pivgo.Slot{}) && a.Slot.Key != slot.Key {
		return fmt.Errorf("the attestation is for slot %s, not %s", a.Slot, slot)
	}
	if a.Slot == (pivgo.Slot{}) {
		return errors.New("the attestation does not name its slot")
	}
	return nil
}

// attestationFacts lists what the slot attestation certificate states,
// in a stable order.
func attestationFacts(slotCert *x509.Certificate) []token.Fact {
	var facts []token.Fact
	var fw, serial, ff string
	for _, e := range slotCert.Extensions {
		switch {
		case e.Id.Equal(oidYubicoSerial):
			var n int64
			if _, err := asn1.Unmarshal(e.Value, &n); err == nil {
				serial = strconv.FormatInt(n, 10)
			}
		case e.Id.Equal(oidYubicoFirmware) && len(e.Value) == 3:
			fw = fmt.Sprintf("%d.%d.%d", e.Value[0], e.Value[1], e.Value[2])
		case e.Id.Equal(oidYubicoFormFactor) && len(e.Value) == 1:
			ff = pivgo.Formfactor(e.Value[0]).String()
		}
	}
	add := func(name, value string) {
		if value != "" {
			facts = append(facts, token.Fact{Name: name, Value: value})
		}
	}
	add("serial", serial)
	add("firmware", fw)
	add("form factor", ff)
	add("slot", slotCert.Subject.CommonName)
	if pol, ok := attestedPolicies(slotCert); ok {
		add("PIN policy", pinPolicyName(pol.pin))
		add("touch policy", touchPolicyName(pol.touch))
	}
	add("key origin", "generated on the YubiKey (only generated keys can be attested)")
	return facts
}

func pinPolicyName(p pivgo.PINPolicy) string {
	switch p {
	case pivgo.PINPolicyNever:
		return "never"
	case pivgo.PINPolicyOnce:
		return "once"
	case pivgo.PINPolicyAlways:
		return "always"
	}
	return "unknown"
}

func touchPolicyName(t pivgo.TouchPolicy) string {
	switch t {
	case pivgo.TouchPolicyNever:
		return "never"
	case pivgo.TouchPolicyAlways:
		return "always"
	case pivgo.TouchPolicyCached:
		return "cached"
	}
	return "unknown"
}
