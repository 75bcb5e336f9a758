// Package fingerprint shows SHA-256 digests the way people compare them at
// a ceremony: lowercase hex in groups of four, and Bytewords to read aloud
// (one word per byte, so a misheard word changes exactly one byte).
package fingerprint

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
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

// Parse reads a digest as people copy it from a screen or the paper
// record: 64 hex digits, grouped or not, or the 32 words, separated by
// spaces, hyphens, "·" or "/" (the PDF's separator). Case is ignored.
func Parse(s string) (Fingerprint, error) {
	var f Fingerprint
	fields := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '-' || r == '/' || r == '·' || r == ':'
	})
	if len(fields) == 0 {
		return f, errors.New("the digest is empty: give 64 hex digits or 32 words")
	}
	joined := strings.Join(fields, "")
	if isHex(joined) {
		if len(joined) != 2*len(f) {
			return f, fmt.Errorf("the digest has %d hex digits where a SHA-256 digest has 64", len(joined))
		}
		b, _ := hex.DecodeString(joined)
		copy(f[:], b)
		return f, nil
	}
	if len(fields) != len(f) {
		return f, fmt.Errorf("the digest has %d words where a SHA-256 digest has 32 (or give its 64 hex digits)", len(fields))
	}
	for i, w := range fields {
		b, ok := bytewords.Lookup(w)
		if !ok {
			return f, fmt.Errorf("word %d of the digest, %q, is not a byteword: check it against the paper", i+1, w)
		}
		f[i] = b
	}
	return f, nil
}

func isHex(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}
