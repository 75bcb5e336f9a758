package virtualpiv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"math/big"
)

// isKeySlot reports whether a key reference can hold an asymmetric key
// (9A, 9C, 9D, 9E and the retired key-management slots 82–95).
func isKeySlot(ref byte) bool {
	switch ref {
	case 0x9A, 0x9C, 0x9D, 0x9E:
		return true
	}
	return ref >= 0x82 && ref <= 0x95
}

// defaultPolicies are a YubiKey's policies for a slot when the command
// leaves them out.
func defaultPolicies(slot byte) (pin, touch byte) {
	switch slot {
	case 0x9C:
		return PINPolicyAlways, TouchPolicyNever
	case 0x9E:
		return PINPolicyNever, TouchPolicyNever
	}
	return PINPolicyOnce, TouchPolicyNever
}

func rsaBits(alg byte) int {
	switch alg {
	case AlgRSA1024:
		return 1024
	case AlgRSA2048:
		return 2048
	case AlgRSA3072:
		return 3072
	case AlgRSA4096:
		return 4096
	}
	return 0
}

func curve(alg byte) elliptic.Curve {
	switch alg {
	case AlgECCP256:
		return elliptic.P256()
	case AlgECCP384:
		return elliptic.P384()
	}
	return nil
}

// publicKeyTemplate is the content of the 7F49 template: 81 modulus and
// 82 exponent for RSA, 86 uncompressed point for EC.
func (k *slotKey) publicKeyTemplate() []byte {
	var t []byte
	if k.rsa != nil {
		t = appendTLV(t, 0x81, k.rsa.N.Bytes())
		t = appendTLV(t, 0x82, big.NewInt(int64(k.rsa.E)).Bytes())
		return t
	}
	pub, err := k.ec.PublicKey.ECDH()
	if err != nil {
		return nil
	}
	return appendTLV(t, 0x86, pub.Bytes())
}

// metadata is Yubico's GET METADATA for the PIN, PUK, management key or a
// key slot. It spends no retry and needs no authentication.
func (c *Card) metadata(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0 {
		return nil, swIncorrectP1P2
	}
	var t []byte
	switch ref := cmd.p2; {
	case ref == refPIN || ref == refPUK:
		r, def := &c.pin, DefaultPIN
		if ref == refPUK {
			r, def = &c.puk, DefaultPUK
		}
		t = appendTLV(t, 0x01, []byte{algPINOrPUK})
		t = appendTLV(t, 0x05, []byte{boolByte(r.isDefault(def))})
		t = appendTLV(t, 0x06, []byte{byte(r.maxRetries), byte(r.retries)})
	case ref == refManagement:
		touch := byte(TouchPolicyNever)
		if c.mgmTouch {
			touch = TouchPolicyAlways
		}
		isDefault := string(c.mgmKey) == string(DefaultManagementKey) &&
			(c.mgmAlg == Alg3DES || c.mgmAlg == AlgAES192)
		t = appendTLV(t, 0x01, []byte{c.mgmAlg})
		t = appendTLV(t, 0x02, []byte{0x00, touch})
		t = appendTLV(t, 0x05, []byte{boolByte(isDefault)})
	case ref == slotAttestation:
		k := &slotKey{ec: c.attestKey}
		t = appendTLV(t, 0x01, []byte{AlgECCP256})
		t = appendTLV(t, 0x02, []byte{PINPolicyNever, TouchPolicyNever})
		t = appendTLV(t, 0x03, []byte{originImported})
		t = appendTLV(t, 0x04, k.publicKeyTemplate())
	case isKeySlot(ref):
		k := c.slots[ref]
		if k == nil {
			return nil, swRefDataNotFound
		}
		t = appendTLV(t, 0x01, []byte{k.alg})
		t = appendTLV(t, 0x02, []byte{k.pinPolicy, k.touchPolicy})
		t = appendTLV(t, 0x03, []byte{k.origin})
		t = appendTLV(t, 0x04, k.publicKeyTemplate())
	default:
		return nil, swRefDataNotFound
	}
	return t, swOK
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// policies reads the optional AA (PIN policy) and AB (touch policy) tags.
func policies(fields []tlv, slot byte) (pin, touch byte, ok bool) {
	pin, touch = defaultPolicies(slot)
	if v, present := find(fields, 0xAA); present {
		if len(v) != 1 || v[0] > PINPolicyAlways {
			return 0, 0, false
		}
		if v[0] != PINPolicyDefault {
			pin = v[0]
		}
	}
	if v, present := find(fields, 0xAB); present {
		if len(v) != 1 || v[0] > TouchPolicyCached {
			return 0, 0, false
		}
		if v[0] != TouchPolicyDefault {
			touch = v[0]
		}
	}
	return pin, touch, true
}

// generate is GENERATE ASYMMETRIC KEY PAIR (SP 800-73-4 3.3.2) with
// Yubico's policy tags: data AC { 80 alg [AA pin] [AB touch] }; the answer
// is the public key in a 7F49 template.
func (c *Card) generate(cmd command) ([]byte, uint16) {
	if !c.mgmAuthed {
		return nil, swSecurityStatus
	}
	if cmd.p1 != 0 || !isKeySlot(cmd.p2) {
		return nil, swIncorrectP1P2
	}
	outer, err := parseTLVs(cmd.data)
	if err != nil || len(outer) != 1 || outer[0].tag != 0xAC {
		return nil, swIncorrectData
	}
	fields, err := parseTLVs(outer[0].value)
	if err != nil {
		return nil, swIncorrectData
	}
	algv, ok := find(fields, 0x80)
	if !ok || len(algv) != 1 {
		return nil, swIncorrectData
	}
	pin, touch, ok := policies(fields, cmd.p2)
	if !ok {
		return nil, swIncorrectData
	}
	k := &slotKey{alg: algv[0], pinPolicy: pin, touchPolicy: touch, origin: originGenerated}
	switch {
	case rsaBits(k.alg) != 0:
		priv, err := c.rsaKeys(rsaBits(k.alg))
		if err != nil || priv.N.BitLen() != rsaBits(k.alg) {
			return nil, swUnknown
		}
		priv.Precompute()
		k.rsa = priv
	case curve(k.alg) != nil:
		priv, err := ecdsa.GenerateKey(curve(k.alg), c.rand)
		if err != nil {
			return nil, swUnknown
		}
		k.ec = priv
	default:
		return nil, swIncorrectData
	}
	c.slots[cmd.p2] = k
	return encodeTLV(0x7F49, k.publicKeyTemplate()), swOK
}

// importKey is Yubico's IMPORT ASYMMETRIC KEY: P1 algorithm, P2 slot,
// data 01 P, 02 Q, 03 dP, 04 dQ, 05 qInv for RSA or 06 private scalar for
// EC, then the optional policy tags.
func (c *Card) importKey(cmd command) ([]byte, uint16) {
	if !c.mgmAuthed {
		return nil, swSecurityStatus
	}
	if !isKeySlot(cmd.p2) {
		return nil, swIncorrectP1P2
	}
	fields, err := parseTLVs(cmd.data)
	if err != nil {
		return nil, swIncorrectData
	}
	pin, touch, ok := policies(fields, cmd.p2)
	if !ok {
		return nil, swIncorrectData
	}
	k := &slotKey{alg: cmd.p1, pinPolicy: pin, touchPolicy: touch, origin: originImported}
	switch {
	case rsaBits(k.alg) != 0:
		var parts [5]*big.Int
		for i := range parts {
			v, ok := find(fields, uint32(0x01+i))
			if !ok || len(v) == 0 {
				return nil, swIncorrectData
			}
			parts[i] = new(big.Int).SetBytes(v)
		}
		p, q := parts[0], parts[1]
		n := new(big.Int).Mul(p, q)
		if n.BitLen() != rsaBits(k.alg) {
			return nil, swIncorrectData
		}
		phi := new(big.Int).Mul(new(big.Int).Sub(p, big.NewInt(1)), new(big.Int).Sub(q, big.NewInt(1)))
		e := big.NewInt(65537)
		d := new(big.Int).ModInverse(e, phi)
		if d == nil {
			return nil, swIncorrectData
		}
		priv := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: 65537}, D: d, Primes: []*big.Int{p, q}}
		if priv.Validate() != nil {
			return nil, swIncorrectData
		}
		priv.Precompute()
		if priv.Precomputed.Dp.Cmp(parts[2]) != 0 || priv.Precomputed.Dq.Cmp(parts[3]) != 0 || priv.Precomputed.Qinv.Cmp(parts[4]) != 0 {
			return nil, swIncorrectData
		}
		k.rsa = priv
	case curve(k.alg) != nil:
		v, ok := find(fields, 0x06)
		if !ok {
			return nil, swIncorrectData
		}
		var priv *ecdsa.PrivateKey
		var err error
		switch k.alg {
		case AlgECCP256:
			priv, err = ecdsa.ParseRawPrivateKey(elliptic.P256(), v)
		default:
			priv, err = ecdsa.ParseRawPrivateKey(elliptic.P384(), v)
		}
		if err != nil {
			return nil, swIncorrectData
		}
		k.ec = priv
	default:
		return nil, swIncorrectData
	}
	c.slots[cmd.p2] = k
	return nil, swOK
}

// moveKey is Yubico's MOVE KEY (firmware 5.7): P1 destination slot (FF:
// delete), P2 source slot.
func (c *Card) moveKey(cmd command) ([]byte, uint16) {
	if !c.mgmAuthed {
		return nil, swSecurityStatus
	}
	if !isKeySlot(cmd.p2) || (cmd.p1 != 0xFF && !isKeySlot(cmd.p1)) || cmd.p1 == cmd.p2 {
		return nil, swIncorrectP1P2
	}
	k := c.slots[cmd.p2]
	if k == nil {
		return nil, swRefDataNotFound
	}
	delete(c.slots, cmd.p2)
	if cmd.p1 != 0xFF {
		c.slots[cmd.p1] = k
	}
	return nil, swOK
}

// useKey is GENERAL AUTHENTICATE with a slot's private key: 7C { 82 00,
// 81 input } signs or decrypts (for RSA the card computes input^d mod n
// and does no padding), 7C { 82 00, 85 point } is ECDH. The PIN and touch
// policies of the slot are enforced.
func (c *Card) useKey(cmd command, justVerified bool) ([]byte, uint16) {
	if !isKeySlot(cmd.p2) {
		return nil, swIncorrectP1P2
	}
	k := c.slots[cmd.p2]
	if k == nil || k.alg != cmd.p1 {
		return nil, swIncorrectData
	}
	outer, err := parseTLVs(cmd.data)
	if err != nil || len(outer) != 1 || outer[0].tag != 0x7C {
		return nil, swIncorrectData
	}
	fields, err := parseTLVs(outer[0].value)
	if err != nil {
		return nil, swIncorrectData
	}
	if v, ok := find(fields, 0x82); !ok || len(v) != 0 {
		return nil, swIncorrectData
	}
	input, isSign := find(fields, 0x81)
	point, isECDH := find(fields, 0x85)
	if isSign == isECDH {
		return nil, swIncorrectData
	}

	switch k.pinPolicy {
	case PINPolicyOnce:
		if !c.pinVerified {
			return nil, swSecurityStatus
		}
	case PINPolicyAlways:
		if !c.pinVerified || !justVerified {
			return nil, swSecurityStatus
		}
	}
	if k.touchPolicy != TouchPolicyNever && !c.waitTouch(cmd.p2, k.touchPolicy) {
		return nil, swSecurityStatus
	}

	var out []byte
	switch {
	case k.rsa != nil && isSign:
		out = rawRSA(k.rsa, input)
	case k.ec != nil && isSign:
		size := (k.ec.Curve.Params().BitSize + 7) / 8
		if len(input) == 0 || len(input) > size {
			return nil, swIncorrectData
		}
		sig, err := ecdsa.SignASN1(c.rand, k.ec, input)
		if err != nil {
			return nil, swUnknown
		}
		out = sig
	case k.ec != nil && isECDH:
		priv, err := k.ec.ECDH()
		if err != nil {
			return nil, swUnknown
		}
		peer, err := priv.Curve().NewPublicKey(point)
		if err != nil {
			return nil, swIncorrectData
		}
		out, err = priv.ECDH(peer)
		if err != nil {
			return nil, swIncorrectData
		}
	}
	if out == nil {
		return nil, swIncorrectData
	}
	return encodeTLV(0x7C, encodeTLV(0x82, out)), swOK
}

// rawRSA returns input^d mod n, left-padded to the modulus length, or nil
// when the input is not exactly the modulus length or not below n. It
// uses the CRT and checks the result against the public exponent, as
// cards do to stop fault attacks.
func rawRSA(priv *rsa.PrivateKey, input []byte) []byte {
	k := priv.Size()
	if len(input) != k {
		return nil
	}
	ci := new(big.Int).SetBytes(input)
	if ci.Cmp(priv.N) >= 0 {
		return nil
	}
	p, q := priv.Primes[0], priv.Primes[1]
	pre := priv.Precomputed
	m1 := new(big.Int).Exp(ci, pre.Dp, p)
	m2 := new(big.Int).Exp(ci, pre.Dq, q)
	h := m1.Sub(m1, m2)
	h.Mul(h, pre.Qinv)
	h.Mod(h, p)
	m := h.Mul(h, q)
	m.Add(m, m2)
	check := new(big.Int).Exp(m, big.NewInt(int64(priv.E)), priv.N)
	if check.Cmp(ci) != 0 {
		return nil
	}
	return m.FillBytes(make([]byte, k))
}
