package ur

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// CBOR (RFC 8949) of UR bodies goes through github.com/fxamacker/cbor/v2,
// the audited, maintained Go CBOR library, with its decoding limits set
// tight for the three shapes a UR body has here: a part ([seq, len,
// messageLen, checksum, bytes]), the file envelope ({1: text, 2: text,
// 3: bytes}) and a bare byte string. The fountain code stays ours (no
// maintained Go BC-UR library exists) and is checked against the BC-UR
// vectors.
//
// Every decoded value is encoded again and compared with the input, so a
// message has exactly one accepted encoding: shortest-form heads, definite
// lengths, no tags, keys in order, nothing extra.

// partCBOR is a fountain part as BC-UR writes it.
type partCBOR struct {
	_          struct{} `cbor:",toarray"`
	SeqNum     uint64
	SeqLen     uint64
	MessageLen uint64
	Checksum   uint64
	Data       []byte
}

// fileCBOR is the custodian-file envelope.
type fileCBOR struct {
	Kind string `cbor:"1,keyasint"`
	Name string `cbor:"2,keyasint"`
	Data []byte `cbor:"3,keyasint"`
}

var (
	cborEnc cbor.EncMode
	cborDec cbor.DecMode
)

func init() {
	var err error
	cborEnc, err = cbor.EncOptions{Sort: cbor.SortNone, IndefLength: cbor.IndefLengthForbidden, TagsMd: cbor.TagsForbidden, NilContainers: cbor.NilContainerAsEmpty}.EncMode()
	if err != nil {
		panic(err) // constant options: a programming error
	}
	cborDec, err = cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		MaxNestedLevels:   4,
		MaxArrayElements:  16,
		MaxMapPairs:       16,
		UTF8:              cbor.UTF8RejectInvalid,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

var errNotCanonical = errors.New("cbor: not in the one accepted encoding (shortest heads, definite lengths, keys 1, 2, 3 in order)")

// decodeExact decodes b into v and insists that encoding v gives b back.
func decodeExact(b []byte, v any) error {
	if err := cborDec.Unmarshal(b, v); err != nil {
		return fmt.Errorf("cbor: %w", err)
	}
	again, err := cborEnc.Marshal(v)
	if err != nil {
		return fmt.Errorf("cbor: %w", err)
	}
	if !bytes.Equal(again, b) {
		return errNotCanonical
	}
	return nil
}

func mustMarshal(v any) []byte {
	b, err := cborEnc.Marshal(v)
	if err != nil {
		panic(err) // plain structs of integers, strings and bytes always encode
	}
	return b
}

// appendBytes appends a CBOR byte string (the "bytes" UR body).
func appendBytes(b []byte, data []byte) []byte { return append(b, mustMarshal(data)...) }
