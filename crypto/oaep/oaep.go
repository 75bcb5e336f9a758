// Package oaep decodes the padding of RSA decryption results produced by
// tokens that can only do raw RSA (the RSA primitive without padding).
//
// Security domain shares are encrypted with RSA-OAEP-256 (OAEP with SHA-256
// and MGF1-SHA-256, empty label). Not every token Custodian supports can
// remove that padding itself:
//
//   - piv-go's (*piv.YubiKey).PrivateKey Decrypt only implements PKCS#1 v1.5;
//     the YubiKey PIV applet itself performs only the raw RSA operation.
//   - SoftHSM2 as packaged by Debian cannot do CKM_RSA_PKCS_OAEP with SHA-256,
//     and some smart-card PKCS#11 modules offer only CKM_RSA_X_509.
//
// For those tokens Custodian asks for the raw result m = c^d mod n, which
// never leaves the air-gapped machine, and removes the padding here. The
// decoding follows RFC 8017 §7.1.2 (EME-OAEP) and §7.2.2 (EME-PKCS1-v1_5, for
// the JWE algorithm RSA1_5), and examines every byte regardless of where an
// error is, reporting all failures as the single error ErrDecryption, so that
// neither timing nor error text tells which check failed (no padding
// oracle).
//
// Raw RSA results are sometimes returned without leading zero bytes; the
// encoded message must be exactly k bytes (the modulus size), so use
// DecodeSize or LeftPad when the token may strip them.
package oaep

import (
	"crypto"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"

	// Register the hash functions OAEP may use with crypto.Hash.
	_ "crypto/sha1"
	_ "crypto/sha256"
	_ "crypto/sha512"
)

// ErrDecryption is the only error returned for a malformed encoded message,
// whatever the reason (RFC 8017 insists on one indistinguishable error). It
// means the ciphertext was not encrypted to this key with this padding and
// hash, or was corrupted.
var ErrDecryption = errors.New("oaep: decryption error: the ciphertext was not made for this key, padding and hash, or is corrupted")

// LeftPad returns b left-padded with zero bytes to k bytes: raw RSA results
// are big-endian integers and may lack leading zeros. It fails if b is
// longer than k. The result is a new slice; the caller should wipe both.
func LeftPad(b []byte, k int) ([]byte, error) {
	if k <= 0 {
		return nil, fmt.Errorf("oaep: modulus size must be positive, got %d bytes", k)
	}
	if len(b) > k {
		return nil, fmt.Errorf("oaep: raw RSA result is %d bytes, longer than the %d-byte modulus", len(b), k)
	}
	out := make([]byte, k)
	copy(out[k-len(b):], b)
	return out, nil
}

// checkHash accepts the hashes OAEP is used with in JWE and by tokens.
func checkHash(h crypto.Hash) error {
	switch h {
	case crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512:
		return nil
	}
	return fmt.Errorf("oaep: unsupported hash %v; use SHA-256 (RSA-OAEP-256) or SHA-1 (RSA-OAEP)", h)
}

// Decode removes EME-OAEP padding (RFC 8017 §7.1.2 step 3) from em, the raw
// RSA decryption result, which must be exactly as long as the modulus. The
// hash h is used both for the label hash and MGF1 (as in RSA-OAEP, which
// uses SHA-1, and RSA-OAEP-256, which uses SHA-256). label is normally
// empty. Apart from an unsupported hash, every failure is ErrDecryption.
//
// The caller owns the returned message and should wipe it, and em.
func Decode(h crypto.Hash, em []byte, label []byte) ([]byte, error) {
	if err := checkHash(h); err != nil {
		return nil, err
	}
	hLen := h.Size()
	k := len(em)
	// The lengths are public (k is the modulus size), so this may branch.
	if k < 2*hLen+2 {
		return nil, ErrDecryption
	}

	lHash := h.New()
	lHash.Write(label)
	wantLHash := lHash.Sum(nil)

	// EM = Y ‖ maskedSeed ‖ maskedDB.
	y := em[0]
	seed := make([]byte, hLen)
	db := make([]byte, k-hLen-1)
	defer clear(seed)
	defer clear(db)
	copy(seed, em[1:1+hLen])
	copy(db, em[1+hLen:])

	mgf1XOR(seed, h, db) // seed = maskedSeed ⊕ MGF(maskedDB, hLen)
	mgf1XOR(db, h, seed) // DB = maskedDB ⊕ MGF(seed, k − hLen − 1)

	// DB = lHash' ‖ PS ‖ 0x01 ‖ M. Scan all of it: ok stays 1 only if the
	// label hash matches, Y is zero and a 0x01 follows a run of zeros.
	ok := subtle.ConstantTimeCompare(db[:hLen], wantLHash)
	ok &= subtle.ConstantTimeByteEq(y, 0)

	rest := db[hLen:]
	looking := 1 // still inside PS
	index := 0   // position of the 0x01 separator within rest
	badByte := 0 // a byte other than 0x00 met before the separator
	for i, b := range rest {
		isOne := subtle.ConstantTimeByteEq(b, 0x01)
		isZero := subtle.ConstantTimeByteEq(b, 0x00)
		index = subtle.ConstantTimeSelect(looking&isOne, i, index)
		badByte |= looking &^ isOne &^ isZero & 1
		looking &^= isOne
	}
	ok &= ^looking & 1 // a separator was found
	ok &^= badByte

	if ok != 1 {
		return nil, ErrDecryption
	}
	return append([]byte(nil), rest[index+1:]...), nil
}

// DecodeSize is Decode for a raw RSA result that may have lost leading zero
// bytes: em is left-padded to k, the modulus size in bytes, first.
func DecodeSize(h crypto.Hash, em []byte, k int, label []byte) ([]byte, error) {
	padded, err := LeftPad(em, k)
	if err != nil {
		return nil, err
	}
	defer clear(padded)
	return Decode(h, padded, label)
}

// DecodePKCS1v15 removes EME-PKCS1-v1_5 padding (RFC 8017 §7.2.2) from em,
// the raw RSA decryption result, which must be exactly as long as the
// modulus: EM = 0x00 ‖ 0x02 ‖ PS (≥ 8 non-zero bytes) ‖ 0x00 ‖ M. Every
// failure is ErrDecryption. It exists for the JWE algorithm RSA1_5, which
// the Azure tools still accept.
func DecodePKCS1v15(em []byte) ([]byte, error) {
	k := len(em)
	if k < 11 {
		return nil, ErrDecryption
	}
	ok := subtle.ConstantTimeByteEq(em[0], 0x00) & subtle.ConstantTimeByteEq(em[1], 0x02)

	looking := 1
	index := 0 // position of the 0x00 separator
	for i := 2; i < k; i++ {
		isZero := subtle.ConstantTimeByteEq(em[i], 0x00)
		index = subtle.ConstantTimeSelect(looking&isZero, i, index)
		looking &^= isZero
	}
	ok &= ^looking & 1
	// PS runs from 2 to index−1 and must be at least 8 bytes: index ≥ 10.
	ok &= subtle.ConstantTimeLessOrEq(10, index)

	if ok != 1 {
		return nil, ErrDecryption
	}
	return append([]byte(nil), em[index+1:]...), nil
}

// DecodePKCS1v15Size is DecodePKCS1v15 for a raw RSA result that may have
// lost leading zero bytes: em is left-padded to k, the modulus size, first.
func DecodePKCS1v15Size(em []byte, k int) ([]byte, error) {
	padded, err := LeftPad(em, k)
	if err != nil {
		return nil, err
	}
	defer clear(padded)
	return DecodePKCS1v15(padded)
}

// mgf1XOR XORs out with MGF1(seed) using hash h (RFC 8017 B.2.1):
// T = Hash(seed ‖ be32(0)) ‖ Hash(seed ‖ be32(1)) ‖ ….
func mgf1XOR(out []byte, h crypto.Hash, seed []byte) {
	d := h.New()
	var counter [4]byte
	var block []byte
	for done, i := 0, uint32(0); done < len(out); i++ {
		binary.BigEndian.PutUint32(counter[:], i)
		d.Reset()
		d.Write(seed)
		d.Write(counter[:])
		block = d.Sum(block[:0])
		n := subtle.XORBytes(out[done:], out[done:], block)
		done += n
	}
	clear(block)
}
