package ur

import (
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
)

// part is one fountain-coded part: [seqNum, seqLen, messageLen, checksum, data].
type part struct {
	seqNum     uint32
	seqLen     int
	messageLen int
	checksum   uint32
	data       []byte
}

func (p *part) cbor() []byte {
	return mustMarshal(partCBOR{SeqNum: uint64(p.seqNum), SeqLen: uint64(p.seqLen), MessageLen: uint64(p.messageLen), Checksum: uint64(p.checksum), Data: p.data})
}

func parsePart(b []byte) (*part, error) {
	var c partCBOR
	if err := decodeExact(b, &c); err != nil {
		return nil, err
	}
	v, data := [4]uint64{c.SeqNum, c.SeqLen, c.MessageLen, c.Checksum}, c.Data
	switch {
	case v[0] > math.MaxUint32:
		return nil, fmt.Errorf("sequence number %d is out of range", v[0])
	case v[1] == 0 || v[1] > maxFragments:
		return nil, fmt.Errorf("sequence length %d is out of range 1..%d", v[1], maxFragments)
	case v[2] == 0 || v[2] > maxMessage:
		return nil, fmt.Errorf("message length %d is out of range 1..%d", v[2], maxMessage)
	case v[3] > math.MaxUint32:
		return nil, fmt.Errorf("checksum %d does not fit 32 bits", v[3])
	case len(data) == 0:
		return nil, errors.New("empty fragment")
	}
	seqLen, messageLen := int(v[1]), int(v[2])
	if (messageLen+len(data)-1)/len(data) != seqLen {
		return nil, fmt.Errorf("%d fragments of %d bytes do not make a %d-byte message", seqLen, len(data), messageLen)
	}
	return &part{seqNum: uint32(v[0]), seqLen: seqLen, messageLen: messageLen, checksum: uint32(v[3]), data: data}, nil
}

const (
	// MaxPayload is the largest file Custodian moves by QR code.
	MaxPayload = 10 << 20
	// maxMessage leaves room for the envelope around MaxPayload bytes.
	maxMessage = MaxPayload + 1024
	// maxFragments bounds the work a hostile header can ask for.
	maxFragments = 1 << 16
)

// nominalFragmentLen is the reference's choice: the smallest number of
// equal fragments no longer than maxLen (never shorter than minLen).
func nominalFragmentLen(messageLen, minLen, maxLen int) int {
	maxCount := max(messageLen/minLen, 1)
	fragLen := messageLen
	for count := 1; count <= maxCount; count++ {
		fragLen = (messageLen + count - 1) / count
		if fragLen <= maxLen {
			break
		}
	}
	return fragLen
}

// partition pads message with zeros to whole fragments.
func partition(message []byte, fragLen int) [][]byte {
	n := (len(message) + fragLen - 1) / fragLen
	padded := make([]byte, n*fragLen)
	copy(padded, message)
	out := make([][]byte, n)
	for i := range out {
		out[i] = padded[i*fragLen : (i+1)*fragLen]
	}
	return out
}

func xorInto(dst, src []byte) {
	for i := range dst {
		dst[i] ^= src[i]
	}
}

// fountainEncoder produces an endless run of parts for one message.
type fountainEncoder struct {
	fragments  [][]byte
	messageLen int
	checksum   uint32
	seqNum     uint32
}

func newFountainEncoder(message []byte, maxFragmentLen, minFragmentLen int, firstSeqNum uint32) (*fountainEncoder, error) {
	if len(message) == 0 {
		return nil, errors.New("ur: nothing to encode: the message is empty")
	}
	if len(message) > maxMessage {
		return nil, fmt.Errorf("ur: message of %d bytes exceeds the %d-byte limit", len(message), maxMessage)
	}
	if minFragmentLen < 1 || maxFragmentLen < minFragmentLen {
		return nil, fmt.Errorf("ur: fragment length bounds %d..%d are invalid", minFragmentLen, maxFragmentLen)
	}
	fragLen := nominalFragmentLen(len(message), minFragmentLen, maxFragmentLen)
	f := &fountainEncoder{
		fragments:  partition(message, fragLen),
		messageLen: len(message),
		checksum:   crc32.ChecksumIEEE(message),
		seqNum:     firstSeqNum,
	}
	if len(f.fragments) > maxFragments {
		return nil, fmt.Errorf("ur: %d fragments exceed the limit of %d: use larger fragments", len(f.fragments), maxFragments)
	}
	return f, nil
}

func (f *fountainEncoder) seqLen() int { return len(f.fragments) }

func (f *fountainEncoder) nextPart() *part {
	f.seqNum++
	idx := chooseFragments(f.seqNum, len(f.fragments), f.checksum)
	data := make([]byte, len(f.fragments[0]))
	for _, i := range idx {
		xorInto(data, f.fragments[i])
	}
	return &part{seqNum: f.seqNum, seqLen: len(f.fragments), messageLen: f.messageLen, checksum: f.checksum, data: data}
}

// ErrInconsistent reports a part that belongs to a different message than
// the parts before it (another file's QR codes, or a corrupted header).
var ErrInconsistent = errors.New("ur: part does not belong to the message being received")

// ErrChecksum reports a reassembled message whose CRC-32 is wrong.
var ErrChecksum = errors.New("ur: reassembled message fails its CRC-32 check")

// mixedPart is a received part still XORing several unknown fragments.
type mixedPart struct {
	indexes []int
	data    []byte
}

func indexKey(idx []int) string {
	b := make([]byte, 0, 3*len(idx))
	for _, i := range idx {
		b = append(b, byte(i>>16), byte(i>>8), byte(i))
	}
	return string(b)
}

// isSubset reports whether sorted a is a subset of sorted b.
func isSubset(a, b []int) bool {
	j := 0
	for _, x := range a {
		for j < len(b) && b[j] < x {
			j++
		}
		if j == len(b) || b[j] != x {
			return false
		}
	}
	return true
}

func minus(a, b []int) []int {
	var out []int
	for _, x := range a {
		if _, found := slices.BinarySearch(b, x); !found {
			out = append(out, x)
		}
	}
	return out
}

// fountainDecoder gathers parts in any order until the message is whole.
type fountainDecoder struct {
	started    bool
	seqLen     int
	messageLen int
	checksum   uint32
	fragLen    int

	seen   map[uint32]bool
	simple map[int][]byte
	mixed  map[string]*mixedPart
	parts  int // distinct parts processed

	message []byte
}

func (d *fountainDecoder) receive(p *part) error {
	if d.message != nil {
		return nil
	}
	if !d.started {
		d.started = true
		d.seqLen, d.messageLen, d.checksum, d.fragLen = p.seqLen, p.messageLen, p.checksum, len(p.data)
		d.seen = map[uint32]bool{}
		d.simple = map[int][]byte{}
		d.mixed = map[string]*mixedPart{}
	} else if p.seqLen != d.seqLen || p.messageLen != d.messageLen || p.checksum != d.checksum || len(p.data) != d.fragLen {
		return fmt.Errorf("%w: it has %d parts, %d bytes, checksum %08x, fragments of %d bytes; the first had %d parts, %d bytes, checksum %08x, fragments of %d bytes",
			ErrInconsistent, p.seqLen, p.messageLen, p.checksum, len(p.data), d.seqLen, d.messageLen, d.checksum, d.fragLen)
	}
	if d.seen[p.seqNum] {
		return nil
	}
	d.seen[p.seqNum] = true
	d.parts++
	queue := []*mixedPart{{indexes: chooseFragments(p.seqNum, p.seqLen, p.checksum), data: slices.Clone(p.data)}}
	for len(queue) > 0 && d.message == nil {
		m := queue[0]
		queue = queue[1:]
		queue = d.process(m, queue)
	}
	if len(d.simple) == d.seqLen && d.message == nil {
		msg := make([]byte, 0, d.seqLen*d.fragLen)
		for i := 0; i < d.seqLen; i++ {
			msg = append(msg, d.simple[i]...)
		}
		msg = msg[:d.messageLen]
		if crc32.ChecksumIEEE(msg) != d.checksum {
			return ErrChecksum
		}
		d.message = msg
		d.mixed = nil
	}
	return nil
}

func (d *fountainDecoder) process(m *mixedPart, queue []*mixedPart) []*mixedPart {
	// Remove fragments already known.
	var known []int
	for _, i := range m.indexes {
		if s, ok := d.simple[i]; ok {
			xorInto(m.data, s)
			known = append(known, i)
		}
	}
	if len(known) > 0 {
		m.indexes = minus(m.indexes, known)
	}
	// Remove mixed parts wholly contained in this one.
	if len(m.indexes) > 1 {
		for _, o := range d.mixed {
			if len(o.indexes) < len(m.indexes) && isSubset(o.indexes, m.indexes) {
				xorInto(m.data, o.data)
				m.indexes = minus(m.indexes, o.indexes)
				if len(m.indexes) <= 1 {
					break
				}
			}
		}
	}
	switch len(m.indexes) {
	case 0:
		return queue
	case 1:
		i := m.indexes[0]
		if _, ok := d.simple[i]; ok {
			return queue
		}
		d.simple[i] = m.data
		// Reduce every mixed part holding this fragment.
		for k, o := range d.mixed {
			if _, found := slices.BinarySearch(o.indexes, i); found {
				delete(d.mixed, k)
				xorInto(o.data, m.data)
				o.indexes = minus(o.indexes, []int{i})
				queue = append(queue, o)
			}
		}
		return queue
	default:
		k := indexKey(m.indexes)
		if _, ok := d.mixed[k]; ok {
			return queue
		}
		// Reduce larger mixed parts that contain this one.
		for ok, o := range d.mixed {
			if len(o.indexes) > len(m.indexes) && isSubset(m.indexes, o.indexes) {
				delete(d.mixed, ok)
				xorInto(o.data, m.data)
				o.indexes = minus(o.indexes, m.indexes)
				queue = append(queue, o)
			}
		}
		d.mixed[k] = m
		return queue
	}
}

// progress estimates completion: the reference's rule of thumb is that
// about 1.75×seqLen distinct parts always suffice; recovered fragments give
// a floor. Both only grow, so the estimate never goes back.
func (d *fountainDecoder) progress() float64 {
	if d.message != nil {
		return 1
	}
	if !d.started {
		return 0
	}
	byParts := float64(d.parts) / (float64(d.seqLen) * 1.75)
	byFragments := float64(len(d.simple)) / float64(d.seqLen)
	return min(0.99, max(byParts, byFragments))
}
