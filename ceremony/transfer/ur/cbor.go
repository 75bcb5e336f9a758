package ur

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Just enough CBOR (RFC 8949) for UR bodies: unsigned integers, byte and
// text strings, arrays and maps, definite lengths only. Heads are written in
// their shortest form and the reader insists on that too, so one message has
// exactly one encoding.

const (
	majorUint  = 0
	majorBytes = 2
	majorText  = 3
	majorArray = 4
	majorMap   = 5
)

func appendHead(b []byte, major byte, v uint64) []byte {
	m := major << 5
	switch {
	case v < 24:
		return append(b, m|byte(v))
	case v <= 0xff:
		return append(b, m|24, byte(v))
	case v <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(v))
	case v <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(b, m|27), v)
	}
}

func appendBytes(b []byte, data []byte) []byte {
	return append(appendHead(b, majorBytes, uint64(len(data))), data...)
}

func appendText(b []byte, s string) []byte {
	return append(appendHead(b, majorText, uint64(len(s))), s...)
}

var errCBORShort = errors.New("cbor: data ends early")

type cborReader struct {
	b   []byte
	off int
}

// head reads one item head of the wanted major type.
func (r *cborReader) head(want byte) (uint64, error) {
	if r.off >= len(r.b) {
		return 0, errCBORShort
	}
	ib := r.b[r.off]
	major, info := ib>>5, ib&0x1f
	if major != want {
		return 0, fmt.Errorf("cbor: at byte %d: found major type %d, expected %d", r.off, major, want)
	}
	r.off++
	var v uint64
	var n int
	switch {
	case info < 24:
		return uint64(info), nil
	case info == 24:
		n = 1
	case info == 25:
		n = 2
	case info == 26:
		n = 4
	case info == 27:
		n = 8
	default:
		return 0, fmt.Errorf("cbor: at byte %d: indefinite or reserved length (info %d) is not allowed", r.off-1, info)
	}
	if len(r.b)-r.off < n {
		return 0, errCBORShort
	}
	for _, c := range r.b[r.off : r.off+n] {
		v = v<<8 | uint64(c)
	}
	r.off += n
	if len(appendHead(nil, 0, v)) != n+1 {
		return 0, fmt.Errorf("cbor: at byte %d: value %d not in its shortest form", r.off-n-1, v)
	}
	return v, nil
}

func (r *cborReader) uint() (uint64, error) { return r.head(majorUint) }

func (r *cborReader) bytes(major byte) ([]byte, error) {
	n, err := r.head(major)
	if err != nil {
		return nil, err
	}
	if n > uint64(len(r.b)-r.off) {
		return nil, errCBORShort
	}
	out := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return out, nil
}

func (r *cborReader) end() error {
	if r.off != len(r.b) {
		return fmt.Errorf("cbor: %d unexpected bytes after the item", len(r.b)-r.off)
	}
	return nil
}
