// Package shamir implements Shamir secret sharing over GF(257) with the share
// encoding used by Azure Key Vault Managed HSM security domains.
//
// # Scheme
//
// The secret (the 32-byte SD master key in practice; any length ≥ 1 here) is
// split byte by byte. For each byte b a fresh polynomial of degree M−1 over
// GF(257) is drawn, f(z) = b + a₁z + … + a_{M−1}z^{M−1}, with every aᵢ uniform
// in 0..256, and share x (x = 1..N) receives f(x). Any M shares recover b as
// f(0) by Lagrange interpolation; fewer than M reveal nothing about it.
//
// The field has 257 elements rather than 256 so that plain modular
// arithmetic works; the price is that share values need 9 bits and that a
// reconstructed value can be 256, which no secret byte can be. Combine uses
// that as a free integrity check: a result above 255 proves that a share is
// wrong or corrupted (the converse does not hold: a bad share yields a value
// ≤ 255 for a given byte with probability 256/257).
//
// # Encoding
//
// A share holds one 16-bit word per secret byte, stored little-endian:
//
//	word = x<<9 | v     x: 7 bits, 1..126   v: 9 bits, 0..256
//
// so a share of a 32-byte key is 64 bytes and carries its own x in every
// word. That redundancy lets Validate check a single decrypted share before
// any other share is available, which is how Custodian names a bad token.
//
// # Why fresh coefficients for every byte
//
// The Azure CLI's test-only splitter reuses one polynomial for all bytes, so
// a single share leaks the differences between key bytes. Split draws new
// coefficients for every byte by rejection sampling from the random source,
// so there is no modulo bias either.
package shamir

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	// MaxShares is the largest number of shares (and the largest x): x is a
	// 7-bit field and the Azure format limits it to 1..126.
	MaxShares = 126
	// MinThreshold is the smallest quorum M that makes sense.
	MinThreshold = 2
	// prime is the field order.
	prime = 257
	// maxValue is the largest share value v.
	maxValue = prime - 1
	// xShift is the bit position of x in a share word.
	xShift = 9
	// valueMask selects v in a share word.
	valueMask = 1<<xShift - 1
)

// ErrSharesDoNotFit is returned (wrapped) by Combine when interpolation
// yields a value that cannot be a byte: at least one share is wrong (from a
// different split) or corrupted. Which one cannot be told from the given set
// alone; combine other subsets to find it.
var ErrSharesDoNotFit = errors.New("shamir: the shares do not fit together: at least one share is wrong or corrupted")

// ShareError reports a problem with one particular share, so that callers
// can name the custodian or token it came from.
type ShareError struct {
	// Index is the share's position in the slice passed to Combine, or -1
	// when the share was checked on its own (Validate).
	Index int
	// X is the share's x coordinate when it could be read, else 0.
	X int
	// Reason says what is wrong, in words; it never contains share values.
	Reason string
}

// Error names the share by position and x, then says what is wrong.
func (e *ShareError) Error() string {
	where := "share"
	if e.Index >= 0 {
		where = fmt.Sprintf("shares[%d]", e.Index)
	}
	if e.X > 0 {
		where += fmt.Sprintf(" (x=%d)", e.X)
	}
	return "shamir: " + where + ": " + e.Reason
}

// Split splits secret into n shares of which any m recover it. Share i (0-based)
// has x = i+1. It requires 2 ≤ m ≤ n ≤ 126 and len(secret) ≥ 1. Randomness
// is read from random; nil means crypto/rand.Reader.
//
// The caller owns the returned shares and should wipe them after use.
func Split(secret []byte, n, m int, random io.Reader) ([][]byte, error) {
	switch {
	case len(secret) == 0:
		return nil, errors.New("shamir: secret is empty")
	case m < MinThreshold:
		return nil, fmt.Errorf("shamir: threshold must be at least %d, got %d", MinThreshold, m)
	case n > MaxShares:
		return nil, fmt.Errorf("shamir: at most %d shares are possible, got %d", MaxShares, n)
	case m > n:
		return nil, fmt.Errorf("shamir: threshold %d is larger than the number of shares %d", m, n)
	}
	if random == nil {
		random = rand.Reader
	}

	// coeffs[1..m-1] are the random coefficients of the current byte's
	// polynomial; coeffs[0] is the secret byte.
	coeffs := make([]uint32, m)
	defer clear(coeffs)
	sampler := newSampler(random)
	defer sampler.wipe()

	shares := make([][]byte, n)
	for i := range shares {
		shares[i] = make([]byte, 2*len(secret))
	}
	for j, b := range secret {
		coeffs[0] = uint32(b)
		for k := 1; k < m; k++ {
			c, err := sampler.next()
			if err != nil {
				for _, s := range shares {
					clear(s)
				}
				return nil, fmt.Errorf("shamir: reading randomness: %w", err)
			}
			coeffs[k] = c
		}
		for i := range shares {
			x := uint32(i + 1)
			// Horner: f(x) = (…(a_{m-1}·x + a_{m-2})·x + …)·x + a₀.
			var y uint32
			for k := m - 1; k >= 0; k-- {
				y = reduce(y*x + coeffs[k])
			}
			binary.LittleEndian.PutUint16(shares[i][2*j:], uint16(x<<xShift|y))
		}
	}
	return shares, nil
}

// sampler draws uniform elements of GF(257) from a byte stream. It reads
// 16-bit words and rejects 0xFFFF: the remaining 65535 = 255·257 words map
// onto each residue exactly 255 times, so the result is unbiased, and only
// one word in 65536 is thrown away.
type sampler struct {
	r   io.Reader
	buf []byte
	pos int
}

func newSampler(r io.Reader) *sampler {
	b := make([]byte, 512)
	return &sampler{r: r, buf: b, pos: len(b)}
}

func (s *sampler) next() (uint32, error) {
	for {
		if s.pos+2 > len(s.buf) {
			if _, err := io.ReadFull(s.r, s.buf); err != nil {
				return 0, err
			}
			s.pos = 0
		}
		w := uint32(binary.LittleEndian.Uint16(s.buf[s.pos:]))
		s.pos += 2
		if w != 0xFFFF {
			return reduce(w), nil
		}
	}
}

func (s *sampler) wipe() { clear(s.buf) }

// reduce returns t mod 257 for t < 2^24 without a data-dependent division
// (secret values pass through here). q approximates t/257 with the Barrett
// constant ⌈2^32/257⌉, whose excess error t·256/(257·2^32) stays below 1/257
// for t < 2^24, so q is exact; the masked subtraction is a branch-free
// safety net. TestReduce checks every t < 2^24.
func reduce(t uint32) uint32 {
	q := uint32((uint64(t) * 16711936) >> 32)
	r := t - q*prime
	// r is in [0, 2·257); subtract 257 if r ≥ 257.
	mask := uint32(int32(r-prime) >> 31) // all ones if r < 257
	return r - prime&^mask
}

// inverse returns a⁻¹ mod 257 for a ≠ 0 (a^255 by Fermat). Only used on x
// coordinates, which are public.
func inverse(a uint32) uint32 {
	result, base := uint32(1), reduce(a)
	for e := uint32(prime - 2); e > 0; e >>= 1 {
		if e&1 == 1 {
			result = reduce(result * base)
		}
		base = reduce(base * base)
	}
	return result
}

// Validate checks a single encoded share on its own: non-empty, even length,
// every word carries the same x with 1 ≤ x ≤ 126 (and x ≤ n when n > 0), and
// every value is at most 256. It returns the share's x. Errors are
// *ShareError with Index -1 and say which word (and byte offset) is wrong.
func Validate(share []byte, n int) (x int, err error) {
	return validate(share, n, -1)
}

func validate(share []byte, n, index int) (int, error) {
	fail := func(x int, format string, args ...any) (int, error) {
		return 0, &ShareError{Index: index, X: x, Reason: fmt.Sprintf(format, args...)}
	}
	if len(share) == 0 {
		return fail(0, "share is empty")
	}
	if len(share)%2 != 0 {
		return fail(0, "share has an odd length of %d bytes; it must be a whole number of 16-bit words", len(share))
	}
	first := int(binary.LittleEndian.Uint16(share) >> xShift)
	if first < 1 || first > MaxShares {
		return fail(0, "word 0 (byte offset 0) has x = %d; x must be between 1 and %d", first, MaxShares)
	}
	if n > 0 && first > n {
		return fail(first, "x = %d is larger than the number of shares %d", first, n)
	}
	bad := -1
	badReason := ""
	for j := 0; j < len(share); j += 2 {
		w := binary.LittleEndian.Uint16(share[j:])
		if x := int(w >> xShift); x != first {
			bad, badReason = j, fmt.Sprintf("has x = %d, but word 0 has x = %d", x, first)
			break
		}
		if w&valueMask > maxValue {
			bad, badReason = j, fmt.Sprintf("has a value above %d", maxValue)
			break
		}
	}
	if bad >= 0 {
		return fail(first, "word %d (byte offset %d) %s", bad/2, bad, badReason)
	}
	return first, nil
}

// Combine recovers the secret from shares by Lagrange interpolation at 0.
// Pass exactly the shares to use (normally M of them; more is fine). It
// checks that there are at least two, that each is well-formed (Validate),
// that they have equal lengths and distinct x; such problems are reported as
// *ShareError naming the share. If interpolation gives a value above 255 the
// shares cannot belong together and the error wraps ErrSharesDoNotFit.
//
// Given fewer shares than the threshold used for splitting, Combine returns
// a wrong secret without error in most cases: Shamir sharing cannot detect
// that. Callers must verify the result (the SD's EncData tags do that).
//
// The caller owns the returned secret and should wipe it after use.
func Combine(shares [][]byte) ([]byte, error) {
	if len(shares) < 2 {
		return nil, fmt.Errorf("shamir: need at least 2 shares to combine, got %d", len(shares))
	}
	if len(shares) > MaxShares {
		return nil, fmt.Errorf("shamir: at most %d shares can be combined, got %d", MaxShares, len(shares))
	}
	xs := make([]uint32, len(shares))
	seen := make(map[int]int, len(shares)) // x → index
	for i, s := range shares {
		x, err := validate(s, 0, i)
		if err != nil {
			return nil, err
		}
		if len(s) != len(shares[0]) {
			return nil, &ShareError{Index: i, X: x, Reason: fmt.Sprintf(
				"share is %d bytes long but shares[0] is %d bytes; shares of one secret have equal lengths", len(s), len(shares[0]))}
		}
		if j, dup := seen[x]; dup {
			return nil, &ShareError{Index: i, X: x, Reason: fmt.Sprintf(
				"has the same x as shares[%d]; each share must come from a different custodian", j)}
		}
		seen[x] = i
		xs[i] = uint32(x)
	}

	// Lagrange basis at 0: l_i = Π_{k≠i} x_k / (x_k − x_i). The x are public,
	// so these are computed once and reused for every byte.
	basis := make([]uint32, len(xs))
	for i, xi := range xs {
		num, den := uint32(1), uint32(1)
		for k, xk := range xs {
			if k == i {
				continue
			}
			num = reduce(num * xk)
			den = reduce(den * reduce(xk+prime-xi))
		}
		basis[i] = reduce(num * inverse(den))
	}

	secret := make([]byte, len(shares[0])/2)
	var overflow uint32 // becomes non-zero if any byte is 256; no early exit
	for j := range secret {
		var acc uint32
		for i, s := range shares {
			v := uint32(binary.LittleEndian.Uint16(s[2*j:])) & valueMask
			// v·l ≤ 256², so 126 terms stay below 2^24 as reduce requires;
			// reducing each term keeps that true regardless of the count.
			acc += reduce(v * basis[i])
		}
		b := reduce(acc)
		overflow |= b >> 8
		secret[j] = byte(b)
	}
	if overflow != 0 {
		clear(secret)
		return nil, fmt.Errorf("%w (interpolation gave a value above 255)", ErrSharesDoNotFit)
	}
	return secret, nil
}
