// Package strictjson is the one JSON reader every Custodian format goes
// through (security domain, restore blob, exchange key, manifests,
// transcripts): it checks a document before encoding/json decodes it.
//
// encoding/json keeps the last of two members with the same name, so a
// security domain with a second "SharedKeys" silently gets another quorum.
// Check refuses duplicate members and says where (line and member path),
// bounds the nesting depth and the size, and refuses trailing data.
// Prepare accepts the UTF-8 byte-order mark that PowerShell 5.1 writes and
// names UTF-16 and UTF-32 files for what they are, so that the person
// holding one knows how to fix it.
//
// It must never guess: a document it passes is one value of valid JSON
// whose every object has distinct member names. It never prints member
// values in its errors (they may be key material), only names and places.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Limits bound what Check accepts.
type Limits struct {
	// MaxBytes is the largest document; 0 means DefaultMaxBytes.
	MaxBytes int
	// MaxDepth is the deepest nesting of objects and arrays; 0 means
	// DefaultMaxDepth.
	MaxDepth int
}

// Default limits: every Custodian format is far smaller and shallower.
const (
	DefaultMaxBytes = 10 << 20
	DefaultMaxDepth = 32
)

// ErrUTF16 is returned (wrapped) for a UTF-16 or UTF-32 file.
var ErrUTF16 = errors.New("the file is saved as UTF-16; save it as UTF-8 (in PowerShell: Set-Content -Encoding utf8, or Out-File -Encoding utf8)")

// ErrBOM is returned (wrapped) by PrepareExact for a UTF-8 byte-order mark.
var ErrBOM = errors.New("the file starts with a UTF-8 byte-order mark, which this format does not allow: its exact bytes are the record")

// Error says what is wrong with a document and where.
type Error struct {
	Line int    // 1-based line, 0 when not about a place
	Path string // member path, e.g. SharedKeys.enc_shares[2]; "" at the top
	Msg  string
	Err  error // ErrDuplicate, ErrTooDeep, ErrTooLarge, ErrSyntax, ErrUTF16, ErrBOM
}

// Kinds of Error, for errors.Is.
var (
	ErrDuplicate = errors.New("duplicate member")
	ErrTooDeep   = errors.New("nested too deeply")
	ErrTooLarge  = errors.New("too large")
	ErrSyntax    = errors.New("invalid JSON")
	ErrTrailing  = errors.New("trailing data")
)

func (e *Error) Error() string {
	where := ""
	if e.Line > 0 {
		where = fmt.Sprintf("line %d: ", e.Line)
	}
	if e.Path != "" {
		where += e.Path + ": "
	}
	return where + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Prepare strips a UTF-8 byte-order mark and refuses UTF-16 and UTF-32
// text, returning the bytes to decode (a subslice of data).
func Prepare(data []byte) ([]byte, error) {
	if err := checkWide(data); err != nil {
		return nil, err
	}
	return bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), nil
}

// PrepareExact is Prepare for formats whose bytes are the record
// (transcripts): a byte-order mark is refused, not stripped.
func PrepareExact(data []byte) ([]byte, error) {
	if err := checkWide(data); err != nil {
		return nil, err
	}
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		return nil, &Error{Msg: ErrBOM.Error(), Err: ErrBOM}
	}
	return data, nil
}

// checkWide recognises UTF-16/32 by their byte-order marks, and without
// one by the zero bytes ASCII JSON text has in every other byte.
func checkWide(data []byte) error {
	wide := bytes.HasPrefix(data, []byte{0xff, 0xfe}) || bytes.HasPrefix(data, []byte{0xfe, 0xff}) ||
		bytes.HasPrefix(data, []byte{0, 0, 0xfe, 0xff})
	if !wide && len(data) >= 2 {
		printable := func(c byte) bool { return c >= 0x20 && c < 0x7f || c == '\n' || c == '\r' || c == '\t' }
		wide = data[0] == 0 && printable(data[1]) || printable(data[0]) && data[1] == 0
	}
	if wide {
		return &Error{Msg: ErrUTF16.Error(), Err: ErrUTF16}
	}
	return nil
}

// Check verifies that data is exactly one JSON value (surrounding white
// space allowed) within the limits, with no duplicate member in any object.
func Check(data []byte, lim Limits) error {
	if lim.MaxBytes == 0 {
		lim.MaxBytes = DefaultMaxBytes
	}
	if lim.MaxDepth == 0 {
		lim.MaxDepth = DefaultMaxDepth
	}
	if len(data) > lim.MaxBytes {
		return &Error{Msg: fmt.Sprintf("the document is %d bytes, over the %d-byte limit", len(data), lim.MaxBytes), Err: ErrTooLarge}
	}
	s := &scanner{data: data, maxDepth: lim.MaxDepth}
	s.skipSpace()
	if s.pos == len(data) {
		return s.fail("", ErrSyntax, "the document is empty")
	}
	if err := s.value("", 0); err != nil {
		return err
	}
	s.skipSpace()
	if s.pos != len(data) {
		return s.fail("", ErrTrailing, "trailing data after the JSON value")
	}
	return nil
}

// Unmarshal checks data (after Prepare) and decodes it into v.
func Unmarshal(data []byte, v any, lim Limits) error {
	data, err := Prepare(data)
	if err != nil {
		return err
	}
	if err := Check(data, lim); err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// UnmarshalKnown is Unmarshal refusing members v has no field for.
func UnmarshalKnown(data []byte, v any, lim Limits) error {
	data, err := Prepare(data)
	if err != nil {
		return err
	}
	if err := Check(data, lim); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

type scanner struct {
	data     []byte
	pos      int
	maxDepth int
}

// line is the 1-based line of the current position.
func (s *scanner) line() int { return 1 + bytes.Count(s.data[:min(s.pos, len(s.data))], []byte("\n")) }

func (s *scanner) fail(path string, kind error, format string, args ...any) error {
	return &Error{Line: s.line(), Path: path, Msg: fmt.Sprintf(format, args...), Err: kind}
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) value(path string, depth int) error {
	if s.pos >= len(s.data) {
		return s.fail(path, ErrSyntax, "the JSON is truncated")
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		return s.object(path, depth+1)
	case c == '[':
		return s.array(path, depth+1)
	case c == '"':
		_, err := s.str(path)
		return err
	case c == '-' || c >= '0' && c <= '9':
		return s.number(path)
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if bytes.HasPrefix(s.data[s.pos:], []byte(lit)) {
				s.pos += len(lit)
				return nil
			}
		}
		return s.fail(path, ErrSyntax, "invalid JSON: unexpected %s", describe(s.data[s.pos:]))
	}
}

func (s *scanner) object(path string, depth int) error {
	if depth > s.maxDepth {
		return s.fail(path, ErrTooDeep, "nested more than %d levels deep", s.maxDepth)
	}
	s.pos++ // {
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		return nil
	}
	seen := map[string]int{}
	for {
		s.skipSpace()
		if s.pos >= len(s.data) {
			return s.fail(path, ErrSyntax, "the JSON is truncated")
		}
		if s.data[s.pos] != '"' {
			return s.fail(path, ErrSyntax, "invalid JSON: expected a member name in quotes, found %s", describe(s.data[s.pos:]))
		}
		keyLine := s.line()
		name, err := s.str(path)
		if err != nil {
			return err
		}
		child := join(path, name)
		if first, dup := seen[name]; dup {
			return &Error{Line: keyLine, Path: child, Err: ErrDuplicate,
				Msg: fmt.Sprintf("duplicate member (first on line %d): a second copy would silently replace the first; the file is damaged or tampered with", first)}
		}
		seen[name] = keyLine
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return s.fail(child, ErrSyntax, "invalid JSON: expected ':' after the member name")
		}
		s.pos++
		s.skipSpace()
		if err := s.value(child, depth); err != nil {
			return err
		}
		s.skipSpace()
		if s.pos >= len(s.data) {
			return s.fail(path, ErrSyntax, "the JSON is truncated")
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return s.fail(child, ErrSyntax, "invalid JSON: expected ',' or '}' after the member, found %s", describe(s.data[s.pos:]))
		}
	}
}

func (s *scanner) array(path string, depth int) error {
	if depth > s.maxDepth {
		return s.fail(path, ErrTooDeep, "nested more than %d levels deep", s.maxDepth)
	}
	s.pos++ // [
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		return nil
	}
	for i := 0; ; i++ {
		s.skipSpace()
		elem := path + "[" + strconv.Itoa(i) + "]"
		if err := s.value(elem, depth); err != nil {
			return err
		}
		s.skipSpace()
		if s.pos >= len(s.data) {
			return s.fail(path, ErrSyntax, "the JSON is truncated")
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return s.fail(elem, ErrSyntax, "invalid JSON: expected ',' or ']' after the element, found %s", describe(s.data[s.pos:]))
		}
	}
}

// str scans a string and returns its decoded value. Only member names need
// the value; a name with escapes is decoded by encoding/json so that two
// spellings of one name ("a" and "\u0061") are the same member, as they are
// to the decoder.
func (s *scanner) str(path string) (string, error) {
	start := s.pos
	s.pos++ // "
	escaped := false
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			raw := s.data[start:s.pos]
			if !escaped {
				if !utf8.Valid(raw) {
					return "", s.fail(path, ErrSyntax, "invalid UTF-8 in a string: save the file as UTF-8")
				}
				return string(raw[1 : len(raw)-1]), nil
			}
			var v string
			if err := json.Unmarshal(raw, &v); err != nil {
				return "", s.fail(path, ErrSyntax, "invalid JSON string: %v", err)
			}
			return v, nil
		case c == '\\':
			escaped = true
			if s.pos+1 >= len(s.data) {
				return "", s.fail(path, ErrSyntax, "the JSON is truncated")
			}
			if s.data[s.pos+1] == 'u' {
				if s.pos+6 > len(s.data) || !isHex4(s.data[s.pos+2:s.pos+6]) {
					return "", s.fail(path, ErrSyntax, "invalid JSON: bad \\u escape in a string")
				}
				s.pos += 6
				continue
			}
			if !bytes.ContainsRune([]byte(`"\/bfnrt`), rune(s.data[s.pos+1])) {
				return "", s.fail(path, ErrSyntax, "invalid JSON: bad escape \\%c in a string", s.data[s.pos+1])
			}
			s.pos += 2
		case c < 0x20:
			return "", s.fail(path, ErrSyntax, "invalid JSON: a control character inside a string (a string cut by a line break?)")
		default:
			s.pos++
		}
	}
	s.pos = len(s.data)
	return "", s.fail(path, ErrSyntax, "the JSON is truncated inside a string")
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// number scans an RFC 8259 number.
func (s *scanner) number(path string) error {
	start := s.pos
	bad := func() error {
		s.pos = start
		return s.fail(path, ErrSyntax, "invalid JSON: malformed number")
	}
	if s.data[s.pos] == '-' {
		s.pos++
	}
	if s.pos >= len(s.data) {
		return bad()
	}
	if s.data[s.pos] == '0' {
		s.pos++
	} else if !s.digits() {
		return bad()
	}
	if s.pos < len(s.data) && s.data[s.pos] == '.' {
		s.pos++
		if !s.digits() {
			return bad()
		}
	}
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.data) && (s.data[s.pos] == '+' || s.data[s.pos] == '-') {
			s.pos++
		}
		if !s.digits() {
			return bad()
		}
	}
	return nil
}

func (s *scanner) digits() bool {
	start := s.pos
	for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		s.pos++
	}
	return s.pos > start
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// describe names what was found without quoting much of it (it may be
// key material).
func describe(b []byte) string {
	if len(b) == 0 {
		return "the end of the file"
	}
	r, _ := utf8.DecodeRune(b)
	if r == utf8.RuneError {
		return fmt.Sprintf("byte 0x%02x", b[0])
	}
	return strconv.QuoteRune(r)
}
