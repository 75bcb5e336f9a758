// Package pyjson writes JSON strings byte for byte as Python's json.dumps
// does by default (ensure_ascii=True), which is what the Azure CLI writes:
// every character outside printable ASCII becomes a \uXXXX escape
// (lowercase hex, UTF-16 surrogate pairs above U+FFFF), and \b \f \n \r \t
// \" \\ use their short forms. Custodian writes the restore blob and the
// JWE headers in it this way so that its bytes are the CLI's.
//
// It must never change a value: a string that is not valid UTF-8 (which
// Python cannot hold either) is refused, not repaired.
package pyjson

import (
	"errors"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrInvalidUTF8 is returned for a string json.dumps could not have written.
var ErrInvalidUTF8 = errors.New("the text is not valid UTF-8 and cannot be written as JSON unchanged")

const hex = "0123456789abcdef"

// AppendString appends s as a quoted JSON string in json.dumps's default
// form.
func AppendString(dst []byte, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return dst, ErrInvalidUTF8
	}
	dst = append(dst, '"')
	for _, r := range s {
		switch {
		case r == '"':
			dst = append(dst, '\\', '"')
		case r == '\\':
			dst = append(dst, '\\', '\\')
		case r == '\b':
			dst = append(dst, '\\', 'b')
		case r == '\f':
			dst = append(dst, '\\', 'f')
		case r == '\n':
			dst = append(dst, '\\', 'n')
		case r == '\r':
			dst = append(dst, '\\', 'r')
		case r == '\t':
			dst = append(dst, '\\', 't')
		case r >= 0x20 && r <= 0x7e:
			dst = append(dst, byte(r))
		case r > 0xffff:
			hi, lo := utf16.EncodeRune(r)
			dst = appendU(appendU(dst, hi), lo)
		default:
			dst = appendU(dst, r)
		}
	}
	return append(dst, '"'), nil
}

func appendU(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
}
