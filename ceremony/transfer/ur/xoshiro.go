package ur

import (
	"crypto/sha256"
	"encoding/binary"
	"math/bits"
	"slices"
)

// xoshiro is Xoshiro256** seeded as BCR-2020-005 prescribes: the 32-byte
// SHA-256 of the seed, read as four big-endian words. Encoder and decoder
// must draw the same numbers, so every step mirrors the reference.
type xoshiro struct{ s [4]uint64 }

func newXoshiro(seed []byte) *xoshiro {
	h := sha256.Sum256(seed)
	var x xoshiro
	for i := range x.s {
		x.s[i] = binary.BigEndian.Uint64(h[8*i:])
	}
	return &x
}

func (x *xoshiro) next() uint64 {
	s := &x.s
	result := bits.RotateLeft64(s[1]*5, 7) * 9
	t := s[1] << 17
	s[2] ^= s[0]
	s[3] ^= s[1]
	s[1] ^= s[2]
	s[0] ^= s[3]
	s[2] ^= t
	s[3] = bits.RotateLeft64(s[3], 45)
	return result
}

// nextDouble is in [0, 1): the reference divides by 2^64 in double precision.
func (x *xoshiro) nextDouble() float64 {
	return float64(x.next()) / 18446744073709551616.0
}

// nextInt is uniform in [low, high].
func (x *xoshiro) nextInt(low, high int) int {
	return int(x.nextDouble()*float64(high-low+1)) + low
}

func (x *xoshiro) nextBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(x.nextInt(0, 255))
	}
	return b
}

// sampler is Walker's alias method with the reference's index ordering, so
// that the same two doubles pick the same index.
type sampler struct {
	probs   []float64
	aliases []int
}

func newSampler(weights []float64) *sampler {
	n := len(weights)
	sum := 0.0
	for _, w := range weights {
		sum += w
	}
	p := make([]float64, n)
	for i, w := range weights {
		p[i] = w * float64(n) / sum
	}
	var small, large []int
	for i := n - 1; i >= 0; i-- {
		if p[i] < 1 {
			small = append(small, i)
		} else {
			large = append(large, i)
		}
	}
	s := &sampler{probs: make([]float64, n), aliases: make([]int, n)}
	for len(small) > 0 && len(large) > 0 {
		a := small[len(small)-1]
		small = small[:len(small)-1]
		g := large[len(large)-1]
		large = large[:len(large)-1]
		s.probs[a] = p[a]
		s.aliases[a] = g
		p[g] += p[a] - 1
		if p[g] < 1 {
			small = append(small, g)
		} else {
			large = append(large, g)
		}
	}
	for _, i := range large {
		s.probs[i] = 1
	}
	for _, i := range small {
		s.probs[i] = 1
	}
	return s
}

func (s *sampler) next(x *xoshiro) int {
	r1, r2 := x.nextDouble(), x.nextDouble()
	i := int(float64(len(s.probs)) * r1)
	if r2 < s.probs[i] {
		return i
	}
	return s.aliases[i]
}

// shuffled returns a permutation of items drawn as the reference does.
func shuffled(items []int, x *xoshiro) []int {
	remaining := append([]int(nil), items...)
	out := make([]int, 0, len(items))
	for len(remaining) > 0 {
		i := x.nextInt(0, len(remaining)-1)
		out = append(out, remaining[i])
		remaining = append(remaining[:i], remaining[i+1:]...)
	}
	return out
}

// chooseDegree draws how many fragments a mixed part XORs, with
// probability proportional to 1/degree.
func chooseDegree(seqLen int, x *xoshiro) int {
	w := make([]float64, seqLen)
	for i := range w {
		w[i] = 1 / float64(i+1)
	}
	return newSampler(w).next(x) + 1
}

// chooseFragments returns the sorted fragment indexes part seqNum carries.
func chooseFragments(seqNum uint32, seqLen int, checksum uint32) []int {
	if int64(seqNum) <= int64(seqLen) {
		return []int{int(seqNum) - 1}
	}
	var seed [8]byte
	binary.BigEndian.PutUint32(seed[:4], seqNum)
	binary.BigEndian.PutUint32(seed[4:], checksum)
	x := newXoshiro(seed[:])
	degree := chooseDegree(seqLen, x)
	chosen := firstShuffled(seqLen, degree, x)
	slices.Sort(chosen)
	return chosen
}

// firstShuffled returns the first k items of shuffled([0..n-1], x) without
// the rest: later draws cannot change the first k, and a hostile header
// (n up to maxFragments, k up to n) must not cost O(n²). Remaining items
// are kept in a Fenwick tree so the i-th remaining one is found in
// O(log n).
func firstShuffled(n, k int, x *xoshiro) []int {
	tree := make([]int32, n+1) // 1-based; every item present once
	for i := 1; i <= n; i++ {
		tree[i] = int32(i & -i)
	}
	top := 1
	for top*2 <= n {
		top *= 2
	}
	out := make([]int, 0, k)
	for remaining := n; len(out) < k; remaining-- {
		want := int32(x.nextInt(0, remaining-1)) + 1 // 1-based rank
		pos := 0
		for step := top; step > 0; step /= 2 {
			if next := pos + step; next <= n && tree[next] < want {
				pos = next
				want -= tree[next]
			}
		}
		// pos+1 is the item's 1-based position; remove it.
		for i := pos + 1; i <= n; i += i & -i {
			tree[i]--
		}
		out = append(out, pos)
	}
	return out
}
