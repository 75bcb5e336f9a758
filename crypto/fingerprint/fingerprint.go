// Package fingerprint shows SHA-256 digests the way people compare them at
// a ceremony: lowercase hex in groups of four, and Bytewords to read aloud
// (one word per byte, so a misheard word changes exactly one byte).
package fingerprint

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/custodian-hsm/custodian/crypto/bytewords"
)

// Fingerprint is a SHA-256 digest.
type Fingerprint [32]byte

// Of fingerprints data (for a certificate: its DER bytes).
func Of(data []byte) Fingerprint { return sha256.Sum256(data) }

// FromHex parses a 64-digit hex digest.
func FromHex(s string) (Fingerprint, bool) {
	var f Fingerprint
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil || len(b) != len(f) {
		return f, false
	}
	copy(f[:], b)
	return f, true
}

// Hex is the digest as 64 lowercase hex digits.
func (f Fingerprint) Hex() string { return hex.EncodeToString(f[:]) }

// GroupedHex is the digest in groups of four hex digits.
func (f Fingerprint) GroupedHex() string {
	h := f.Hex()
	var groups []string
	for i := 0; i < len(h); i += 4 {
		groups = append(groups, h[i:i+4])
	}
	return strings.Join(groups, " ")
}

// Words is the digest as 32 Bytewords.
func (f Fingerprint) Words() []string { return bytewords.Words(f[:]) }

// WordString is the words in groups of four, separated by " · ", so that a
// reader can pause and the listener can find their place.
func (f Fingerprint) WordString() string {
	w := f.Words()
	var groups []string
	for i := 0; i < len(w); i += 4 {
		groups = append(groups, strings.Join(w[i:i+4], " "))
	}
	return strings.Join(groups, " · ")
}

// String is the grouped hex.
func (f Fingerprint) String() string { return f.GroupedHex() }
