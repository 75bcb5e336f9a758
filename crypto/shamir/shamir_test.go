package shamir

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"github.com/custodian-hsm/custodian/internal/testvectors"
	"io"
	mathrand "math/rand/v2"
	"os"
	"strings"
	"testing"
)

type shamirVector struct {
	SecretHex string   `json:"secret_hex"`
	N         int      `json:"n"`
	Required  int      `json:"required"`
	SharesHex []string `json:"shares_hex_le_uint16"`
}

func loadVector(t *testing.T) (secret []byte, v shamirVector, shares [][]byte) {
	t.Helper()
	data, err := os.ReadFile(testvectors.Path(t, "primitives.json"))
	if err != nil {
		t.Fatalf("reading primitives.json: %v", err)
	}
	var file struct {
		Shamir shamirVector `json:"shamir"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	v = file.Shamir
	secret, err = hex.DecodeString(v.SecretHex)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range v.SharesHex {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		shares = append(shares, b)
	}
	if len(shares) != v.N {
		t.Fatalf("vector has %d shares, n = %d", len(shares), v.N)
	}
	return secret, v, shares
}

// subsets calls f with every k-subset of {0..n-1}, as index slices.
func subsets(n, k int, f func([]int)) {
	idx := make([]int, k)
	var rec func(start, depth int)
	rec = func(start, depth int) {
		if depth == k {
			f(idx)
			return
		}
		for i := start; i <= n-(k-depth); i++ {
			idx[depth] = i
			rec(i+1, depth+1)
		}
	}
	rec(0, 0)
}

func pick(shares [][]byte, idx []int) [][]byte {
	out := make([][]byte, len(idx))
	for i, j := range idx {
		out[i] = shares[j]
	}
	return out
}

func TestVector(t *testing.T) {
	secret, v, shares := loadVector(t)
	for i, s := range shares {
		x, err := Validate(s, v.N)
		if err != nil {
			t.Fatalf("vector share %d: %v", i, err)
		}
		if x != i+1 {
			t.Fatalf("vector share %d has x = %d, want %d", i, x, i+1)
		}
	}
	count := 0
	subsets(v.N, v.Required, func(idx []int) {
		count++
		got, err := Combine(pick(shares, idx))
		if err != nil {
			t.Fatalf("subset %v: %v", idx, err)
		}
		if !bytes.Equal(got, secret) {
			t.Fatalf("subset %v: got %x, want %x", idx, got, secret)
		}
	})
	if count != 10 {
		t.Fatalf("tried %d subsets, want 10", count)
	}
	subsets(v.N, 2, func(idx []int) {
		got, err := Combine(pick(shares, idx))
		if err == nil && bytes.Equal(got, secret) {
			t.Fatalf("2 shares %v recovered the secret of a 3-of-5 split", idx)
		}
	})
}

func TestRoundTripAllParameters(t *testing.T) {
	rng := mathrand.New(mathrand.NewPCG(1, 2))
	check := func(n, m int, secret []byte, idx []int, shares [][]byte) {
		t.Helper()
		got, err := Combine(pick(shares, idx))
		if err != nil {
			t.Fatalf("N=%d M=%d subset %v: %v", n, m, idx, err)
		}
		if !bytes.Equal(got, secret) {
			t.Fatalf("N=%d M=%d subset %v: wrong secret", n, m, idx)
		}
	}
	run := func(n, m int) {
		secret := make([]byte, 1+rng.IntN(40))
		rand.Read(secret)
		shares, err := Split(secret, n, m, nil)
		if err != nil {
			t.Fatalf("Split N=%d M=%d: %v", n, m, err)
		}
		if len(shares) != n {
			t.Fatalf("N=%d: got %d shares", n, len(shares))
		}
		for i, s := range shares {
			if x, err := Validate(s, n); err != nil || x != i+1 {
				t.Fatalf("N=%d M=%d share %d: x=%d err=%v", n, m, i, x, err)
			}
			if len(s) != 2*len(secret) {
				t.Fatalf("share length %d for a %d-byte secret", len(s), len(secret))
			}
		}
		if n <= 8 {
			// Every subset of size M and larger.
			for k := m; k <= n; k++ {
				subsets(n, k, func(idx []int) { check(n, m, secret, idx, shares) })
			}
		} else {
			for range 8 {
				idx := rng.Perm(n)[:m]
				check(n, m, secret, idx, shares)
			}
			all := rng.Perm(n)
			check(n, m, secret, all, shares)
		}
	}
	for n := 2; n <= 30; n++ {
		for m := 2; m <= min(10, n); m++ {
			run(n, m)
		}
	}
	for _, m := range []int{2, 3, 10, 64, 125, 126} {
		run(MaxShares, m)
	}
}

// TestBelowThreshold checks that M−1 shares do not reproduce the secret
// (they interpolate a different polynomial).
func TestBelowThreshold(t *testing.T) {
	secret := make([]byte, 32)
	rand.Read(secret)
	for _, p := range [][2]int{{3, 2}, {5, 3}, {10, 10}, {126, 10}} {
		n, m := p[0], p[1]
		shares, err := Split(secret, n, m, nil)
		if err != nil {
			t.Fatal(err)
		}
		for start := 0; start+m-1 <= n && start < 4; start++ {
			idx := make([]int, m-1)
			for i := range idx {
				idx[i] = start + i
			}
			if m-1 < 2 {
				continue
			}
			got, err := Combine(pick(shares, idx))
			if err == nil && bytes.Equal(got, secret) {
				t.Fatalf("N=%d M=%d: %d shares recovered the secret", n, m, m-1)
			}
		}
	}
}

func TestReduce(t *testing.T) {
	for v := uint32(0); v < 1<<24; v++ {
		if reduce(v) != v%prime {
			t.Fatalf("reduce(%d) = %d, want %d", v, reduce(v), v%prime)
		}
	}
}

func TestInverse(t *testing.T) {
	for a := uint32(1); a < prime; a++ {
		if a*inverse(a)%prime != 1 {
			t.Fatalf("inverse(%d) = %d is wrong", a, inverse(a))
		}
	}
}

// TestEncoding pins the word layout: x in the top 7 bits, v in the low 9
// bits, little-endian, using a reader that makes the coefficient known.
func TestEncoding(t *testing.T) {
	// M = 2, coefficient a₁ = 3 (little-endian word 0x0003): f(x) = 0xFE + 3x.
	random := bytes.NewReader(append([]byte{3, 0}, make([]byte, 510)...))
	shares, err := Split([]byte{0xFE}, 3, 2, random)
	if err != nil {
		t.Fatal(err)
	}
	// f(1) = 257 ≡ 0, f(2) = 260 ≡ 3, f(3) = 263 ≡ 6.
	want := []uint16{1<<9 | 0, 2<<9 | 3, 3<<9 | 6}
	for i, s := range shares {
		if len(s) != 2 {
			t.Fatalf("share %d is %d bytes", i, len(s))
		}
		if got := binary.LittleEndian.Uint16(s); got != want[i] {
			t.Errorf("share %d word = %#04x, want %#04x", i, got, want[i])
		}
	}
	// The same words as bytes, little-endian.
	if !bytes.Equal(shares[0], []byte{0x00, 0x02}) || !bytes.Equal(shares[1], []byte{0x03, 0x04}) ||
		!bytes.Equal(shares[2], []byte{0x06, 0x06}) {
		t.Errorf("shares = %x", shares)
	}
}

// TestRejectionSampling shows that the word 0xFFFF is skipped rather than
// reduced (65535 mod 257 = 0 would bias towards 0).
func TestRejectionSampling(t *testing.T) {
	stream := append([]byte{0xFF, 0xFF, 0x05, 0x00}, make([]byte, 508)...)
	shares, err := Split([]byte{0}, 2, 2, bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	// a₁ must be 5, so f(1) = 5 and f(2) = 10.
	if v := binary.LittleEndian.Uint16(shares[0]) & valueMask; v != 5 {
		t.Fatalf("f(1) = %d, want 5 (0xFFFF was not rejected)", v)
	}
	if v := binary.LittleEndian.Uint16(shares[1]) & valueMask; v != 10 {
		t.Fatalf("f(2) = %d, want 10", v)
	}
}

// TestFreshCoefficients fails if coefficients are reused across bytes (as
// the Azure CLI's test splitter does) or are badly distributed. With a
// secret of identical bytes and M = 2, share 1's values are exactly the
// per-byte coefficients a₁ + b, so they must look uniform over GF(257).
func TestFreshCoefficients(t *testing.T) {
	const perBin = 100
	secret := make([]byte, prime*perBin)
	for i := range secret {
		secret[i] = 0x42
	}
	shares, err := Split(secret, 2, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	var counts [prime]int
	for j := 0; j < len(secret); j++ {
		counts[binary.LittleEndian.Uint16(shares[0][2*j:])&valueMask]++
	}
	// Pearson χ² with 256 degrees of freedom: mean 256, sd ≈ 22.6. A
	// threshold of 400 (≈ 6 sd) fails a correct sampler with probability
	// below 1e-8, while reuse (one bin holds everything) gives ≈ 6.6 million
	// and a sampler that never yields 256 (byte-sized draws) gives > 100.
	chi2 := 0.0
	for _, c := range counts {
		d := float64(c - perBin)
		chi2 += d * d / perBin
	}
	if chi2 > 400 {
		t.Fatalf("share values are not uniform over GF(257): χ² = %.1f (counts %v)", chi2, counts)
	}
	if counts[256] == 0 {
		t.Fatal("value 256 never occurs: coefficients are not drawn from all of GF(257)")
	}
	// Reuse across bytes within one share would make equal secret bytes map
	// to equal share values; count how many positions repeat position 0.
	same := 0
	for j := 1; j < len(secret); j++ {
		if binary.LittleEndian.Uint16(shares[0][2*j:]) == binary.LittleEndian.Uint16(shares[0]) {
			same++
		}
	}
	if same > 3*perBin {
		t.Fatalf("%d of %d equal secret bytes got the same share value as byte 0", same, len(secret)-1)
	}
}

func TestSplitErrors(t *testing.T) {
	secret := []byte{1, 2, 3}
	cases := []struct {
		secret []byte
		n, m   int
		want   string
	}{
		{nil, 3, 2, "secret is empty"},
		{secret, 3, 1, "threshold must be at least 2"},
		{secret, 3, 0, "threshold must be at least 2"},
		{secret, 3, -1, "threshold must be at least 2"},
		{secret, 2, 3, "larger than the number of shares"},
		{secret, 127, 2, "at most 126 shares"},
		{secret, 1, 2, "larger than the number of shares"},
	}
	for _, c := range cases {
		_, err := Split(c.secret, c.n, c.m, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Split(len %d, n=%d, m=%d) = %v, want error containing %q", len(c.secret), c.n, c.m, err, c.want)
		}
	}
	// A failing random source is reported, not ignored.
	_, err := Split(secret, 3, 2, io.LimitReader(rand.Reader, 10))
	if err == nil || !strings.Contains(err.Error(), "randomness") {
		t.Errorf("short random source: got %v", err)
	}
}

func word(x, v int) []byte {
	return binary.LittleEndian.AppendUint16(nil, uint16(x<<9|v))
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestValidate(t *testing.T) {
	cases := []struct {
		name  string
		share []byte
		n     int
		x     int    // want x on success
		want  string // want error substring
	}{
		{"ok", cat(word(3, 0), word(3, 256), word(3, 17)), 5, 3, ""},
		{"ok without n", cat(word(126, 1)), 0, 126, ""},
		{"empty", nil, 0, 0, "share is empty"},
		{"odd length", []byte{1, 2, 3}, 0, 0, "odd length of 3 bytes"},
		{"one byte", []byte{1}, 0, 0, "odd length of 1 bytes"},
		{"x zero", cat(word(0, 5), word(0, 5)), 0, 0, "word 0 (byte offset 0) has x = 0"},
		{"x 127", cat(word(127, 5)), 0, 0, "has x = 127; x must be between 1 and 126"},
		{"x above n", cat(word(4, 5)), 3, 0, "x = 4 is larger than the number of shares 3"},
		{"mixed x", cat(word(2, 5), word(2, 6), word(3, 7)), 0, 0, "word 2 (byte offset 4) has x = 3, but word 0 has x = 2"},
		{"value 257", cat(word(2, 5), word(2, 257)), 0, 0, "word 1 (byte offset 2) has a value above 256"},
		{"value 511", cat(word(2, 511)), 0, 0, "word 0 (byte offset 0) has a value above 256"},
		{"all ones", []byte{0xFF, 0xFF}, 0, 0, "x = 127"},
	}
	for _, c := range cases {
		x, err := Validate(c.share, c.n)
		if c.want == "" {
			if err != nil || x != c.x {
				t.Errorf("%s: got x=%d err=%v, want x=%d", c.name, x, err, c.x)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want error containing %q", c.name, err, c.want)
			continue
		}
		var se *ShareError
		if !errors.As(err, &se) || se.Index != -1 {
			t.Errorf("%s: error %v is not a *ShareError with Index -1", c.name, err)
		}
	}
}

func TestCombineErrors(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	shares, err := Split(secret, 5, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	clone := func(b []byte) []byte { return append([]byte(nil), b...) }

	if _, err := Combine(nil); err == nil || !strings.Contains(err.Error(), "at least 2 shares") {
		t.Errorf("no shares: %v", err)
	}
	if _, err := Combine(shares[:1]); err == nil || !strings.Contains(err.Error(), "got 1") {
		t.Errorf("one share: %v", err)
	}

	type want struct {
		index, x int
		reason   string
	}
	cases := []struct {
		name   string
		shares [][]byte
		want   want
	}{
		{"duplicate x", [][]byte{shares[0], shares[1], shares[0]}, want{2, 1, "same x as shares[0]"}},
		{"different length", [][]byte{shares[0], shares[1][:62], shares[2]}, want{1, 2, "62 bytes long but shares[0] is 64"}},
		{"odd length", [][]byte{shares[0], shares[1], shares[2][:63]}, want{2, 0, "odd length"}},
		{"empty share", [][]byte{shares[0], {}, shares[2]}, want{1, 0, "empty"}},
		{"mixed x inside", [][]byte{shares[0], cat(shares[1][:10], word(4, 1), shares[1][12:]), shares[2]}, want{1, 2, "word 5 (byte offset 10) has x = 4"}},
		{"value too big", [][]byte{shares[0], shares[1], cat(shares[2][:30], word(3, 300), shares[2][32:])}, want{2, 3, "word 15 (byte offset 30) has a value above 256"}},
		{"nil share", [][]byte{shares[0], shares[1], nil}, want{2, 0, "empty"}},
	}
	for _, c := range cases {
		got, err := Combine(c.shares)
		var se *ShareError
		if !errors.As(err, &se) {
			t.Errorf("%s: got (%x, %v), want a *ShareError", c.name, got, err)
			continue
		}
		if se.Index != c.want.index || se.X != c.want.x || !strings.Contains(se.Reason, c.want.reason) {
			t.Errorf("%s: got %#v, want index %d x %d reason ~%q", c.name, se, c.want.index, c.want.x, c.want.reason)
		}
		if !strings.Contains(err.Error(), "shares[") {
			t.Errorf("%s: message %q does not name the share", c.name, err)
		}
	}

	// A share from a different split (same x) gives a value > 255 for a
	// given byte with probability 1/257. With a 1024-byte secret that happens
	// in a trial with probability 1 − (256/257)^1024 ≈ 0.98, so requiring it
	// in at least one of 20 trials cannot flake (failure chance ≈ 1e-34).
	long := make([]byte, 1024)
	rand.Read(long)
	longShares, _ := Split(long, 5, 3, nil)
	detected := 0
	for range 20 {
		other, _ := Split(long, 5, 3, nil)
		got, err := Combine([][]byte{longShares[0], other[1], longShares[2]})
		switch {
		case errors.Is(err, ErrSharesDoNotFit):
			detected++
			if got != nil {
				t.Fatal("secret returned alongside ErrSharesDoNotFit")
			}
		case err != nil:
			t.Fatalf("foreign share: unexpected error %v", err)
		case bytes.Equal(got, long):
			t.Fatal("a foreign share recovered the secret")
		}
	}
	if detected == 0 {
		t.Fatal("ErrSharesDoNotFit never triggered in 20 combinations with a foreign share")
	}

	// A single flipped value bit must never silently give the right secret.
	for bit := 0; bit < 9; bit++ {
		bad := clone(shares[1])
		v := binary.LittleEndian.Uint16(bad[20:])
		nv := v ^ 1<<bit
		if nv&valueMask > 256 {
			continue
		}
		binary.LittleEndian.PutUint16(bad[20:], nv)
		got, err := Combine([][]byte{shares[0], bad, shares[2]})
		if err == nil && bytes.Equal(got, secret) {
			t.Fatalf("flipping bit %d of a share value went unnoticed", bit)
		}
	}
}

// TestCombineDoesNotModifyInput guards against wiping or reordering the
// caller's shares.
func TestCombineDoesNotModifyInput(t *testing.T) {
	shares, _ := Split([]byte("secret"), 3, 2, nil)
	before := make([][]byte, len(shares))
	for i, s := range shares {
		before[i] = append([]byte(nil), s...)
	}
	if _, err := Combine(shares); err != nil {
		t.Fatal(err)
	}
	for i := range shares {
		if !bytes.Equal(before[i], shares[i]) {
			t.Fatalf("share %d changed", i)
		}
	}
}

func BenchmarkCombine32M10(b *testing.B) {
	secret := make([]byte, 32)
	rand.Read(secret)
	shares, err := Split(secret, 10, 10, nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		out, err := Combine(shares)
		if err != nil {
			b.Fatal(err)
		}
		clear(out)
	}
}

func BenchmarkSplit32N10M10(b *testing.B) {
	secret := make([]byte, 32)
	rand.Read(secret)
	for b.Loop() {
		if _, err := Split(secret, 10, 10, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSplit32N126M10(b *testing.B) {
	secret := make([]byte, 32)
	rand.Read(secret)
	for b.Loop() {
		if _, err := Split(secret, 126, 10, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzCombine feeds arbitrary bytes as shares: Combine and Validate must
// never panic, and whatever Combine accepts must pass Validate.
func FuzzCombine(f *testing.F) {
	shares, _ := Split([]byte("fuzz seed"), 3, 2, nil)
	f.Add(shares[0], shares[1], shares[2])
	f.Add([]byte{}, []byte{1}, []byte{0xFF, 0xFF})
	f.Add(word(1, 256), word(2, 256), word(1, 0))
	f.Fuzz(func(t *testing.T, a, b, c []byte) {
		for _, s := range [][]byte{a, b, c} {
			Validate(s, 0)
			Validate(s, 3)
		}
		secret, err := Combine([][]byte{a, b, c})
		if err != nil {
			return
		}
		if len(secret) != len(a)/2 {
			t.Fatalf("secret of %d bytes from %d-byte shares", len(secret), len(a))
		}
		for _, s := range [][]byte{a, b, c} {
			if _, err := Validate(s, 0); err != nil {
				t.Fatalf("Combine accepted a share Validate rejects: %v", err)
			}
		}
	})
}
