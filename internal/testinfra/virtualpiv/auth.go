package virtualpiv

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/subtle"
	"io"
	"time"
)

// validPIN reports whether a padded PIN or PUK is 6–8 bytes of non-0xFF
// followed by 0xFF padding, as a YubiKey requires of new values.
func validPIN(p []byte) bool {
	if len(p) != 8 {
		return false
	}
	n := bytes.IndexByte(p, 0xFF)
	if n < 0 {
		n = 8
	}
	if n < 6 {
		return false
	}
	for _, b := range p[n:] {
		if b != 0xFF {
			return false
		}
	}
	return true
}

// check compares a presented value with the reference, counting the
// attempt. It returns 9000, 63Cx or 6983.
func (r *reference) check(presented []byte) uint16 {
	if r.retries == 0 {
		return swAuthBlocked
	}
	if len(presented) == 8 && subtle.ConstantTimeCompare(presented, r.value[:]) == 1 {
		r.retries = r.maxRetries
		return swOK
	}
	r.retries--
	if r.retries == 0 {
		return swAuthBlocked
	}
	return swVerifyFail | uint16(min(r.retries, 15))
}

func (r *reference) isDefault(def []byte) bool {
	d := newReference(def, 0)
	return subtle.ConstantTimeCompare(d.value[:], r.value[:]) == 1
}

// verify is VERIFY (SP 800-73-4 3.2.1) for the PIN: with data it checks
// the PIN, without data it reports the status (9000 when verified, 63Cx
// otherwise), with P1 FF it resets the verification.
func (c *Card) verify(cmd command) ([]byte, uint16) {
	if cmd.p2 != refPIN {
		return nil, swRefDataNotFound
	}
	switch cmd.p1 {
	case 0xFF:
		if len(cmd.data) != 0 {
			return nil, swWrongLength
		}
		c.pinVerified = false
		return nil, swOK
	case 0x00:
	default:
		return nil, swIncorrectP1P2
	}
	if len(cmd.data) == 0 {
		switch {
		case c.pin.retries == 0:
			return nil, swAuthBlocked
		case c.pinVerified:
			return nil, swOK
		}
		return nil, swVerifyFail | uint16(min(c.pin.retries, 15))
	}
	if len(cmd.data) != 8 {
		return nil, swIncorrectData
	}
	sw := c.pin.check(cmd.data)
	c.pinVerified = sw == swOK
	c.justVerified = c.pinVerified
	return nil, sw
}

// changeReference is CHANGE REFERENCE DATA for the PIN (80) or PUK (81):
// data is the current value and the new one, 8 bytes each.
func (c *Card) changeReference(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0x00 {
		return nil, swIncorrectP1P2
	}
	var ref *reference
	switch cmd.p2 {
	case refPIN:
		ref = &c.pin
	case refPUK:
		ref = &c.puk
	default:
		return nil, swRefDataNotFound
	}
	if len(cmd.data) != 16 {
		return nil, swIncorrectData
	}
	// The current value first, counting a wrong one, and only then the
	// new value's format, in this order as on a YubiKey 5.7 (see
	// resetRetryCounter).
	sw := ref.check(cmd.data[:8])
	if sw != swOK {
		if cmd.p2 == refPIN {
			c.pinVerified = false
		}
		return nil, sw
	}
	if !validPIN(cmd.data[8:]) {
		return nil, swIncorrectData
	}
	copy(ref.value[:], cmd.data[8:])
	return nil, swOK
}

// resetRetryCounter is RESET RETRY COUNTER: the PUK unblocks the PIN and
// sets a new one. The PUK is checked (and a wrong one counted) before the
// new PIN's format, as a YubiKey does: ykman piv reset blocks the PUK
// with RESET RETRY COUNTER commands carrying an empty PUK and an empty new
// PIN, and needs 63Cx, then 6983, to get to the RESET.
func (c *Card) resetRetryCounter(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0x00 || cmd.p2 != refPIN {
		return nil, swIncorrectP1P2
	}
	if len(cmd.data) != 16 {
		return nil, swIncorrectData
	}
	if sw := c.puk.check(cmd.data[:8]); sw != swOK {
		return nil, sw
	}
	if !validPIN(cmd.data[8:]) {
		return nil, swIncorrectData
	}
	copy(c.pin.value[:], cmd.data[8:])
	c.pin.retries = c.pin.maxRetries
	c.pinVerified = false
	return nil, swOK
}

// setRetries is Yubico's SET PIN RETRIES: it needs the management key and
// the PIN, sets both counters and puts PIN and PUK back to their defaults.
func (c *Card) setRetries(cmd command) ([]byte, uint16) {
	if !c.mgmAuthed || !c.pinVerified {
		return nil, swSecurityStatus
	}
	if cmd.p1 == 0 || cmd.p2 == 0 {
		return nil, swIncorrectP1P2
	}
	c.pin = newReference(DefaultPIN, int(cmd.p1))
	c.puk = newReference(DefaultPUK, int(cmd.p2))
	c.pinVerified = false
	return nil, swOK
}

// reset is Yubico's RESET: only when PIN and PUK are both blocked.
func (c *Card) reset(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0 || cmd.p2 != 0 {
		return nil, swIncorrectP1P2
	}
	if c.pin.retries != 0 || c.puk.retries != 0 {
		return nil, swConditionsNotMet
	}
	c.factoryReset()
	c.selected = appPIV
	return nil, swOK
}

// mgmBlock returns the block cipher of the management key.
func mgmBlock(alg byte, key []byte) (cipher.Block, bool) {
	switch alg {
	case Alg3DES:
		if len(key) != 24 {
			return nil, false
		}
		b, err := des.NewTripleDESCipher(key)
		return b, err == nil
	case AlgAES128, AlgAES192, AlgAES256:
		if len(key) != map[byte]int{AlgAES128: 16, AlgAES192: 24, AlgAES256: 32}[alg] {
			return nil, false
		}
		b, err := aes.NewCipher(key)
		return b, err == nil
	}
	return nil, false
}

// setManagementKey is Yubico's SET MANAGEMENT KEY: P1 FF, P2 FF (or FE:
// touch required), data alg, 9B, length, key.
func (c *Card) setManagementKey(cmd command) ([]byte, uint16) {
	if !c.mgmAuthed {
		return nil, swSecurityStatus
	}
	if cmd.p1 != 0xFF || (cmd.p2 != 0xFF && cmd.p2 != 0xFE) {
		return nil, swIncorrectP1P2
	}
	d := cmd.data
	if len(d) < 3 || d[1] != refManagement || int(d[2]) != len(d)-3 {
		return nil, swIncorrectData
	}
	alg, key := d[0], d[3:]
	if alg != Alg3DES && !c.atLeast(5, 4, 0) {
		return nil, swIncorrectData
	}
	if _, ok := mgmBlock(alg, key); !ok {
		return nil, swIncorrectData
	}
	c.mgmAlg = alg
	clear(c.mgmKey)
	c.mgmKey = append([]byte(nil), key...)
	c.mgmTouch = cmd.p2 == 0xFE
	return nil, swOK
}

// authenticateManagement is GENERAL AUTHENTICATE with key reference 9B:
// mutual authentication (witness, then witness + challenge) as piv-go
// and yubico-piv-tool do it, or external authentication (challenge, then
// response).
func (c *Card) authenticateManagement(cmd command) ([]byte, uint16) {
	if cmd.p1 != c.mgmAlg {
		// A YubiKey 5.7 answers a key of the wrong algorithm with 6A80
		// (incorrect data), not 6A86; yubikit and yubico-piv-tool map the
		// answer to their own "wrong key type" messages by it.
		c.witness, c.challenge = nil, nil
		return nil, swIncorrectData
	}
	block, ok := mgmBlock(c.mgmAlg, c.mgmKey)
	if !ok {
		return nil, swUnknown
	}
	n := block.BlockSize()
	outer, err := parseTLVs(cmd.data)
	if err != nil || len(outer) != 1 || outer[0].tag != 0x7C {
		return nil, swIncorrectData
	}
	fields, err := parseTLVs(outer[0].value)
	if err != nil {
		return nil, swIncorrectData
	}
	witness, hasWitness := find(fields, 0x80)
	challenge, hasChallenge := find(fields, 0x81)
	response, hasResponse := find(fields, 0x82)

	switch {
	case hasWitness && len(witness) == 0 && !hasChallenge && !hasResponse:
		// Step 1 of mutual authentication: the card's witness, encrypted.
		c.mgmAuthed = false
		c.challenge = nil
		w := make([]byte, n)
		if _, err := io.ReadFull(c.rand, w); err != nil {
			return nil, swUnknown
		}
		c.witness = w
		enc := make([]byte, n)
		block.Encrypt(enc, w)
		return encodeTLV(0x7C, encodeTLV(0x80, enc)), swOK

	case hasWitness && hasChallenge && len(witness) > 0:
		// Step 2: the host decrypted the witness and sends its challenge.
		expected := c.witness
		c.witness = nil
		if expected == nil {
			return nil, swConditionsNotMet
		}
		if len(witness) != n || len(challenge) != n || subtle.ConstantTimeCompare(witness, expected) != 1 {
			return nil, swSecurityStatus
		}
		if c.mgmTouch && !c.waitTouch(refManagement, TouchPolicyAlways) {
			return nil, swSecurityStatus
		}
		c.mgmAuthed = true
		enc := make([]byte, n)
		block.Encrypt(enc, challenge)
		return encodeTLV(0x7C, encodeTLV(0x82, enc)), swOK

	case hasChallenge && len(challenge) == 0 && !hasWitness && !hasResponse:
		// External authentication, step 1: a challenge in the clear.
		c.mgmAuthed = false
		c.witness = nil
		ch := make([]byte, n)
		if _, err := io.ReadFull(c.rand, ch); err != nil {
			return nil, swUnknown
		}
		c.challenge = ch
		return encodeTLV(0x7C, encodeTLV(0x81, ch)), swOK

	case hasResponse && len(response) > 0 && !hasWitness:
		// External authentication, step 2: the challenge, encrypted.
		expected := c.challenge
		c.challenge = nil
		if expected == nil {
			return nil, swConditionsNotMet
		}
		want := make([]byte, n)
		block.Encrypt(want, expected)
		if len(response) != n || subtle.ConstantTimeCompare(response, want) != 1 {
			return nil, swSecurityStatus
		}
		if c.mgmTouch && !c.waitTouch(refManagement, TouchPolicyAlways) {
			return nil, swSecurityStatus
		}
		c.mgmAuthed = true
		return nil, swOK
	}
	return nil, swIncorrectData
}

// touchCacheFor is how long a touch satisfies the "cached" policy.
const touchCacheFor = 15 * time.Second

// waitTouch asks the Touch hook for a touch; nil hook means touched.
func (c *Card) waitTouch(slot, policy byte) bool {
	if policy == TouchPolicyCached && !c.lastTouch.IsZero() && time.Since(c.lastTouch) < touchCacheFor {
		return true
	}
	ok := true
	if c.touch != nil {
		ok = c.touch(TouchRequest{Serial: c.serial, Slot: slot, Policy: policy})
	}
	if ok {
		c.lastTouch = time.Now()
	}
	return ok
}
