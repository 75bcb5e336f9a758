package ur

import (
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Kind says what a transferred file is.
type Kind string

// The kinds of file Custodian moves across the air gap.
const (
	KindCertificate     Kind = "certificate"
	KindSDFile          Kind = "sd-file"
	KindExchangeKey     Kind = "exchange-key"
	KindRestoreBlob     Kind = "restore-blob"
	KindOperatorPackage Kind = "operator-package"
	KindTranscript      Kind = "transcript"
	KindOther           Kind = "other"
)

// Kinds lists every valid Kind.
var Kinds = []Kind{KindCertificate, KindSDFile, KindExchangeKey, KindRestoreBlob, KindOperatorPackage, KindTranscript, KindOther}

// ParseKind checks a kind name.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	return "", fmt.Errorf("ur: unknown file kind %q (use one of %s)", s, strings.Join(names, ", "))
}

// File is the envelope carried by a "custodian-file" UR.
type File struct {
	Kind Kind
	Name string
	Data []byte
}

const maxNameLen = 255

func checkName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("ur: file name %q is not usable", name)
	case len(name) > maxNameLen:
		return fmt.Errorf("ur: file name is %d bytes, over the %d-byte limit", len(name), maxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("ur: file name %q is not valid UTF-8", name)
	case strings.ContainsAny(name, "/\\\x00") || filepath.Base(name) != name:
		return fmt.Errorf("ur: file name %q must be a bare name without directories", name)
	}
	return nil
}

// MarshalFile encodes f as the envelope's CBOR map (see the package doc).
func MarshalFile(f File) ([]byte, error) {
	if _, err := ParseKind(string(f.Kind)); err != nil {
		return nil, err
	}
	if err := checkName(f.Name); err != nil {
		return nil, err
	}
	if len(f.Data) > MaxPayload {
		return nil, fmt.Errorf("ur: %q is %d bytes; QR transfer is limited to %d bytes (use USB)", f.Name, len(f.Data), MaxPayload)
	}
	return mustMarshal(fileCBOR{Kind: string(f.Kind), Name: f.Name, Data: f.Data}), nil
}

// UnmarshalFile decodes and checks an envelope.
func UnmarshalFile(b []byte) (File, error) {
	bad := func(err error) (File, error) {
		return File{}, fmt.Errorf("ur: the received file envelope is damaged: %w", err)
	}
	var c fileCBOR
	if err := decodeExact(b, &c); err != nil {
		return bad(err)
	}
	f := File{Kind: Kind(c.Kind), Name: c.Name, Data: c.Data}
	if _, err := ParseKind(string(f.Kind)); err != nil {
		return File{}, err
	}
	if err := checkName(f.Name); err != nil {
		return File{}, err
	}
	if len(f.Data) > MaxPayload {
		return File{}, fmt.Errorf("ur: received file is %d bytes, over the %d-byte limit", len(f.Data), MaxPayload)
	}
	return f, nil
}

// FileUR wraps f in a "custodian-file" UR.
func FileUR(f File) (UR, error) {
	b, err := MarshalFile(f)
	if err != nil {
		return UR{}, err
	}
	return UR{Type: TypeFile, CBOR: b}, nil
}

// BytesUR wraps a bare payload in a "bytes" UR.
func BytesUR(data []byte) (UR, error) {
	if len(data) > MaxPayload {
		return UR{}, fmt.Errorf("ur: payload of %d bytes exceeds the %d-byte limit", len(data), MaxPayload)
	}
	return UR{Type: TypeBytes, CBOR: appendBytes(nil, data)}, nil
}

// FileFromUR extracts the file from a received UR of type custodian-file,
// or a bare payload from type bytes (kind other, no name).
func FileFromUR(u UR) (File, error) {
	switch u.Type {
	case TypeFile:
		return UnmarshalFile(u.CBOR)
	case TypeBytes:
		var v []byte
		if err := decodeExact(u.CBOR, &v); err != nil {
			return File{}, fmt.Errorf("ur: the received bytes payload is damaged: %w", err)
		}
		return File{Kind: KindOther, Data: append([]byte(nil), v...)}, nil
	}
	return File{}, &WrongTypeError{Got: u.Type, Want: TypeFile}
}
