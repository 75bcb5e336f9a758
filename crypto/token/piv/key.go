package piv

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"sync"

	"github.com/custodian-hsm/custodian/crypto/oaep"
	"github.com/custodian-hsm/custodian/crypto/token"
	pivgo "github.com/go-piv/piv-go/v2/piv"
)

// DecryptPath is how this backend decrypts, for the ceremony record.
const DecryptPath = "raw RSA on the YubiKey (GENERAL AUTHENTICATE), OAEP decoded in Custodian"

// Key is a custodian key in a YubiKey PIV slot.
type Key struct {
	p       *Provider
	c       card
	slot    pivgo.Slot
	slotID  byte
	ref     *token.URI
	cert    *x509.Certificate
	pub     *rsa.PublicKey
	pinPol  pivgo.PINPolicy
	touch   pivgo.TouchPolicy
	opts    token.OpenOptions
	mu      sync.Mutex
	pin     []byte // cached for the life of the key, wiped by Close
	closed  bool
	decrypt string
}

var _ token.Key = (*Key)(nil)

// OpenKey opens the key in the slot the reference names (default 9d) on
// the YubiKey it names by serial (which may be left out when only one
// YubiKey is plugged in). The certificate in the slot must carry the
// slot's public key. Unless the slot's PIN policy is "never", the PIN is
// asked for through opts.PIN and verified now — after checking the
// retries: a blocked PIN, or one retry left without opts.AllowLastRetry,
// is a *token.PINError without trying. The PIN is kept until Close,
// because each decryption runs in its own card transaction and presents
// it again.
func (p *Provider) OpenKey(ctx context.Context, ref *token.URI, opts token.OpenOptions) (token.Key, error) {
	c, err := p.find(ctx, ref)
	if err != nil {
		return nil, err
	}
	slotName := ref.Get("slot")
	if slotName == "" {
		slotName = "9d"
	}
	slot, err := slotFor(slotName)
	if err != nil {
		return nil, err
	}
	k := &Key{p: p, c: c, slot: slot, slotID: byte(slot.Key), opts: opts,
		ref: c.info.Ref.With("slot", fmt.Sprintf("%02x", slot.Key))}

	yk, err := p.open(c)
	if err != nil {
		return nil, err
	}
	err = k.readSlot(yk)
	yk.Close()
	if err != nil {
		return nil, err
	}
	if k.pinPol != pivgo.PINPolicyNever {
		pin, err := p.askPIN(ctx, c, opts, fmt.Sprintf("open the custodian key in slot %02x (%s)", slot.Key, k.cert.Subject.CommonName))
		if err != nil {
			return nil, err
		}
		k.pin = pin
	}
	return k, nil
}

// readSlot reads the slot's key (metadata on firmware 5.3+, else its
// attestation) and certificate, and checks they belong together.
func (k *Key) readSlot(yk *pivgo.YubiKey) error {
	info := k.c.info
	var pub *rsa.PublicKey
	k.pinPol, k.touch = pivgo.PINPolicyAlways, pivgo.TouchPolicyNever
	switch {
	case k.c.fw.atLeast(5, 3, 0):
		ki, err := yk.KeyInfo(k.slot)
		if errors.Is(err, pivgo.ErrNotFound) {
			return fmt.Errorf("slot %s of %s holds no key: %w", k.slot, info, token.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("reading slot %s of %s: %w", k.slot, info, err)
		}
		rp, ok := ki.PublicKey.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("slot %s of %s holds a %T key, not RSA: not a custodian key", k.slot, info, ki.PublicKey)
		}
		pub, k.pinPol, k.touch = rp, ki.PINPolicy, ki.TouchPolicy
	case k.c.fw.atLeast(4, 3, 0):
		att, err := yk.Attest(k.slot)
		if errors.Is(err, pivgo.ErrNotFound) {
			return fmt.Errorf("slot %s of %s holds no key: %w", k.slot, info, token.ErrNotFound)
		}
		if err == nil {
			rp, ok := att.PublicKey.(*rsa.PublicKey)
			if !ok {
				return fmt.Errorf("slot %s of %s holds a %T key, not RSA: not a custodian key", k.slot, info, att.PublicKey)
			}
			pub = rp
			if f, ok := attestedPolicies(att); ok {
				k.pinPol, k.touch = f.pin, f.touch
			}
		}
	}
	cert, err := yk.Certificate(k.slot)
	if errors.Is(err, pivgo.ErrNotFound) {
		return fmt.Errorf("slot %s of %s has no certificate: it was not enrolled by Custodian, or the certificate was deleted: %w", k.slot, info, token.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("reading the certificate in slot %s of %s: %w", k.slot, info, err)
	}
	cpub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("the certificate in slot %s of %s is not an RSA certificate", k.slot, info)
	}
	if pub != nil && !cpub.Equal(pub) {
		return fmt.Errorf("the certificate in slot %s of %s does not carry the slot's key: it belongs to another key, refusing to use it", k.slot, info)
	}
	if pub == nil {
		// Firmware before 4.3 cannot tell the slot's key; every
		// decryption checks the raw result against the certificate's key,
		// which catches a mismatch there.
		pub = cpub
	}
	if _, err := rsaAlgorithmID(pub.N.BitLen()); err != nil {
		return fmt.Errorf("slot %s of %s: %w", k.slot, info, err)
	}
	k.cert, k.pub = cert, pub
	return nil
}

type policies struct {
	pin   pivgo.PINPolicy
	touch pivgo.TouchPolicy
}

var oidYubicoPolicy = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 8}

// attestedPolicies reads the PIN and touch policy from a slot attestation
// certificate (extension 1.3.6.1.4.1.41482.3.8: two bytes).
func attestedPolicies(att *x509.Certificate) (policies, bool) {
	for _, e := range att.Extensions {
		if e.Id.Equal(oidYubicoPolicy) && len(e.Value) == 2 {
			pp := map[byte]pivgo.PINPolicy{1: pivgo.PINPolicyNever, 2: pivgo.PINPolicyOnce, 3: pivgo.PINPolicyAlways}
			tp := map[byte]pivgo.TouchPolicy{1: pivgo.TouchPolicyNever, 2: pivgo.TouchPolicyAlways, 3: pivgo.TouchPolicyCached}
			p, ok1 := pp[e.Value[0]]
			t, ok2 := tp[e.Value[1]]
			if ok1 && ok2 {
				return policies{p, t}, true
			}
		}
	}
	return policies{}, false
}

// Ref references the key: yubikey:serial=N;slot=9d.
func (k *Key) Ref() *token.URI { return k.ref }

// Token describes the YubiKey.
func (k *Key) Token() token.Info { return k.c.info }

// Certificate is the certificate in the key's slot.
func (k *Key) Certificate() *x509.Certificate { return k.cert }

// Public is the key's public half.
func (k *Key) Public() *rsa.PublicKey { return k.pub }

// DecryptPath says how DecryptKey works: raw RSA on the card, padding
// removed in Custodian ("" before the first decryption).
func (k *Key) DecryptPath() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.decrypt
}

// DecryptKey unwraps a JWE content-encryption key: the YubiKey computes
// c^d mod n (GENERAL AUTHENTICATE), Custodian checks the result against
// the public key and removes the RSA-OAEP-256, RSA-OAEP or RSA1_5 padding.
func (k *Key) DecryptKey(alg string, encryptedKey []byte) ([]byte, error) {
	var decode func(em []byte) ([]byte, error)
	switch alg {
	case "RSA-OAEP-256":
		decode = func(em []byte) ([]byte, error) { return oaep.Decode(crypto.SHA256, em, nil) }
	case "RSA-OAEP":
		decode = func(em []byte) ([]byte, error) { return oaep.Decode(crypto.SHA1, em, nil) }
	case "RSA1_5":
		decode = oaep.DecodePKCS1v15
	default:
		return nil, fmt.Errorf("JWE key algorithm %q is not RSA-OAEP-256, RSA-OAEP or RSA1_5: %w", alg, token.ErrUnsupported)
	}
	size := k.pub.Size()
	if len(encryptedKey) == 0 || len(encryptedKey) > size {
		return nil, fmt.Errorf("the encrypted key is %d bytes, but this RSA-%d key takes %d: it was not encrypted to this key", len(encryptedKey), k.pub.N.BitLen(), size)
	}
	c, err := oaep.LeftPad(encryptedKey, size)
	if err != nil {
		return nil, err
	}
	cInt := new(big.Int).SetBytes(c)
	if cInt.Cmp(k.pub.N) >= 0 {
		return nil, errors.New("the encrypted key is not smaller than this key's modulus: it was not encrypted to this key")
	}

	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, errors.New("the key is closed")
	}
	em, err := k.rawDecrypt(c)
	if err != nil {
		return nil, err
	}
	defer token.WipeBytes(em)
	// The card's answer must be the RSA preimage of c under the public key:
	// this catches a wrong key behind the certificate, or a faulty card,
	// before any padding is examined.
	m := new(big.Int).SetBytes(em)
	check := new(big.Int).Exp(m, big.NewInt(int64(k.pub.E)), k.pub.N)
	clear(m.Bits())
	if check.Cmp(cInt) != 0 {
		return nil, fmt.Errorf("%s returned a result that does not match the certificate's public key: the slot's key is not the certified one, or the card is faulty", k.c.info)
	}
	full, err := oaep.LeftPad(em, size)
	if err != nil {
		return nil, err
	}
	defer token.WipeBytes(full)
	cek, err := decode(full)
	if err != nil {
		return nil, fmt.Errorf("opening the %s encrypted key with %s: %w", alg, k.c.info, err)
	}
	k.decrypt = DecryptPath
	return cek, nil
}

// rawDecrypt runs one transaction: check the card is ours, present the
// PIN when the slot needs it, tell the front-end about a touch, and send
// GENERAL AUTHENTICATE.
func (k *Key) rawDecrypt(c []byte) ([]byte, error) {
	s, err := openSession(k.c.reader)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", k.c.info, err)
	}
	defer s.close()
	if err := s.checkSerial(k.c.serial, k.c.fw); err != nil {
		return nil, err
	}
	if k.pinPol != pivgo.PINPolicyNever {
		if k.pin == nil {
			return nil, errors.New("the key was opened without its PIN")
		}
		if err := s.verifyPIN(k.c.info, k.pin); err != nil {
			return nil, err
		}
	}
	if k.touch == pivgo.TouchPolicyAlways || k.touch == pivgo.TouchPolicyCached {
		if k.opts.Touch != nil {
			k.opts.Touch(k.c.info)
		}
	}
	em, err := s.rawRSA(k.slotID, k.pub.N.BitLen(), c)
	if err != nil {
		return nil, fmt.Errorf("decrypting with slot %s of %s: %w", k.slot, k.c.info, err)
	}
	return em, nil
}

// Attest returns the attestation of the key's slot, checked against the
// provider's attestation roots.
func (k *Key) Attest(ctx context.Context) (*token.Attestation, error) {
	yk, err := k.p.open(k.c)
	if err != nil {
		return nil, err
	}
	defer yk.Close()
	return k.p.attest(yk, k.c, k.slot, k.cert)
}

// Close wipes the cached PIN. The card itself is not held between
// operations.
func (k *Key) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	token.WipeBytes(k.pin)
	k.pin = nil
	k.closed = true
	return nil
}
