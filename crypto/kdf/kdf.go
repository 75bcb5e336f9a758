// Package kdf implements the key derivation function of the Managed HSM
// security domain: NIST SP 800-108 in counter mode with HMAC-SHA-512 as the
// pseudo-random function.
//
// The security domain file holds its payload ("EncData") as a list of "dir"
// JWEs. Each item's 64-byte content-encryption key is not stored anywhere; it
// is derived from the 32-byte SD master key with the item's tag as the label
// and an empty context:
//
//	CEK = SP800108(master, tag, "", 512)
//
// The exact input layout matters because Azure must accept what we write; it
// follows SP 800-108 §5.1 as the Azure CLI implements it:
//
//	K(i) = HMAC-SHA512(key, be32(i) ‖ UTF-8(label) ‖ 0x00 ‖ UTF-8(context) ‖ be32(L))
//
// with i = 1, 2, … and the output being the first L bits of K(1) ‖ K(2) ‖ ….
//
// The Azure CLI's implementation is only correct for L ≤ 512 (for longer
// outputs it returns just the first block); the security domain always uses
// L = 512, so we implement the standard as written.
package kdf

import (
	"crypto/hmac"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
)

// EncDataKeySize is the size in bytes of the content-encryption key of an
// EncData item (A256CBC-HS512 needs a 64-byte key).
const EncDataKeySize = 64

// MaxBits is the largest output length SP800108 accepts. It is far above
// anything the security domain needs and keeps allocations bounded.
const MaxBits = 1 << 20

// SP800108 derives bits/8 bytes from key with NIST SP 800-108 counter-mode
// KDF using HMAC-SHA-512. The label and context are used as their UTF-8
// bytes, exactly as given (no normalisation). bits must be a positive
// multiple of 8 and at most MaxBits.
//
// An empty key is allowed (HMAC accepts it); callers that need a real secret
// must check its length themselves.
func SP800108(key []byte, label, context string, bits int) ([]byte, error) {
	if bits <= 0 {
		return nil, fmt.Errorf("kdf: output length must be positive, got %d bits", bits)
	}
	if bits%8 != 0 {
		return nil, fmt.Errorf("kdf: output length must be a multiple of 8 bits, got %d", bits)
	}
	if bits > MaxBits {
		return nil, fmt.Errorf("kdf: output length %d bits exceeds the limit of %d bits", bits, MaxBits)
	}
	outLen := bits / 8

	// fixed = label ‖ 0x00 ‖ context ‖ be32(L); the counter is prepended per block.
	fixed := make([]byte, 0, len(label)+1+len(context)+4)
	fixed = append(fixed, label...)
	fixed = append(fixed, 0x00)
	fixed = append(fixed, context...)
	fixed = binary.BigEndian.AppendUint32(fixed, uint32(bits))

	mac := hmac.New(sha512.New, key)
	out := make([]byte, 0, outLen+sha512.Size)
	var counter [4]byte
	for i := uint32(1); len(out) < outLen; i++ {
		mac.Reset()
		binary.BigEndian.PutUint32(counter[:], i)
		mac.Write(counter[:])
		mac.Write(fixed)
		out = mac.Sum(out)
	}
	// HMAC keeps the padded key internally and Go offers no way to erase it;
	// Reset at least drops the state of the last block.
	mac.Reset()
	// Zero the surplus of the last block before truncating so no derived
	// material lingers in the backing array beyond len(out).
	clear(out[outLen:])
	return out[:outLen:outLen], nil
}

// EncDataKey derives the 64-byte content-encryption key of the EncData item
// tagged tag from the security domain master key (SP 800-108, label = tag,
// empty context, 512 bits). The caller owns the result and must wipe it.
func EncDataKey(master []byte, tag string) ([]byte, error) {
	if len(master) == 0 {
		return nil, errors.New("kdf: master key is empty")
	}
	return SP800108(master, tag, "", EncDataKeySize*8)
}
