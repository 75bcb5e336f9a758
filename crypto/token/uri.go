package token

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Schemes of key references.
const (
	SchemePKCS11  = "pkcs11"  // RFC 7512
	SchemeYubiKey = "yubikey" // yubikey:serial=…;slot=9d
	SchemeFile    = "file"    // file:PATH — software keys, drills only
)

// URI is a reference to a token or to a key on it, printed and parsed only
// here so that every front-end and the transcript spell references the same
// way.
//
// pkcs11 and yubikey references share RFC 7512's syntax: path attributes
// separated by ';', then optionally '?' and query attributes separated by
// '&', values percent-encoded. file references carry a path.
type URI struct {
	Scheme string
	// Path holds the decoded path attributes (for pkcs11: token, serial,
	// object, id, …; for yubikey: serial, slot).
	Path map[string]string
	// Query holds the decoded query attributes (module-path, pin-source).
	Query map[string]string
	// File is the path of a file: reference.
	File string
}

// The order in which known attributes are printed; others follow sorted.
var attrOrder = map[string][]string{
	SchemePKCS11:  {"library-manufacturer", "library-description", "library-version", "manufacturer", "model", "serial", "token", "slot-manufacturer", "slot-description", "slot-id", "type", "object", "id"},
	SchemeYubiKey: {"serial", "slot"},
}

var queryOrder = []string{"module-name", "module-path", "pin-source"}

// URIError is a malformed key or token reference: bad input, never a
// token failure.
type URIError struct{ Err error }

func (e *URIError) Error() string { return e.Err.Error() }
func (e *URIError) Unwrap() error { return e.Err }

// ParseURI parses a key or token reference. Its errors are *URIError.
func ParseURI(s string) (*URI, error) {
	u, err := parseURI(s)
	if err != nil {
		return nil, &URIError{Err: err}
	}
	return u, nil
}

// ErrPINInReference is wrapped by the URIError for a reference that carries
// a PIN (pin-value), in its path or its query, under any spelling.
var ErrPINInReference = errors.New("never put a PIN in a reference (pin-value): it ends up in shell history, process lists and logs; use pin-source=file:PATH or let Custodian ask")

func parseURI(s string) (*URI, error) {
	if hasPINValue(s) {
		return nil, fmt.Errorf("key reference %q carries a PIN: %w", Redact(s), ErrPINInReference)
	}
	// From here on, messages quote the reference with its PIN attributes
	// (pin-source) hidden: no error prints any part of them.
	shown := Redact(s)
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || scheme == "" || strings.ContainsAny(scheme, "=;&?") {
		return nil, fmt.Errorf("key reference %q has no scheme: use pkcs11:…, yubikey:serial=…;slot=9d or file:PATH", shown)
	}
	scheme = strings.ToLower(scheme)
	switch scheme {
	case SchemeFile:
		path := strings.TrimPrefix(rest, "//")
		if path == "" {
			return nil, fmt.Errorf("key reference %q names no file: use file:PATH", shown)
		}
		return &URI{Scheme: SchemeFile, File: path}, nil
	case SchemePKCS11, SchemeYubiKey:
	default:
		return nil, fmt.Errorf("key reference %q has unknown scheme %q: use pkcs11:…, yubikey:… or file:…", shown, scheme)
	}
	u := &URI{Scheme: scheme, Path: map[string]string{}, Query: map[string]string{}}
	pathPart, queryPart, _ := strings.Cut(rest, "?")
	if err := parseAttrs(pathPart, ";", u.Path); err != nil {
		return nil, fmt.Errorf("key reference %q: %w", shown, err)
	}
	if err := parseAttrs(queryPart, "&", u.Query); err != nil {
		return nil, fmt.Errorf("key reference %q: %w", shown, err)
	}
	if scheme == SchemeYubiKey {
		if err := u.checkYubiKey(); err != nil {
			return nil, fmt.Errorf("key reference %q: %w", shown, err)
		}
	}
	return u, nil
}

// pinAttrs are RFC 7512's PIN attributes: their values never appear in a
// message.
var pinAttrs = map[string]bool{"pin-value": true, "pin-source": true}

// attrName decodes an attribute name as the parser would see it, so that
// PIN-VALUE or pin%2dvalue are recognised too.
func attrName(k string) string {
	if d, err := pctDecode(k); err == nil {
		k = d
	}
	return strings.ToLower(strings.TrimSpace(k))
}

// hasPINValue reports whether any attribute of s, path or query, is a
// pin-value.
func hasPINValue(s string) bool {
	// The whole text is searched, scheme included: "pin-value=1:…" has no
	// scheme but still carries a PIN.
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return isAttrSep(r) || r == ':' }) {
		k, _, _ := strings.Cut(part, "=")
		if attrName(k) == "pin-value" {
			return true
		}
	}
	return false
}

func isAttrSep(r rune) bool { return r == ';' || r == '&' || r == '?' }

// Redact returns a reference as given with the value of every PIN
// attribute (pin-value, pin-source) replaced by REDACTED: the only form
// of a reference an error message or log may print.
func Redact(s string) string {
	scheme, rest, ok := strings.Cut(s, ":")
	if strings.EqualFold(scheme, SchemeFile) {
		return s
	}
	var b strings.Builder
	if ok && !strings.ContainsAny(scheme, "=;&?") {
		b.WriteString(scheme + ":")
	} else {
		rest = s // no scheme: still attributes to hide
	}
	start := 0
	for i := 0; i <= len(rest); i++ {
		if i < len(rest) && !isAttrSep(rune(rest[i])) {
			continue
		}
		part := rest[start:i]
		if k, _, hasValue := strings.Cut(part, "="); hasValue && pinAttrs[attrName(k)] {
			part = k + "=REDACTED"
		}
		b.WriteString(part)
		if i < len(rest) {
			b.WriteByte(rest[i])
		}
		start = i + 1
	}
	return b.String()
}

func (u *URI) checkYubiKey() error {
	for k := range u.Path {
		if k != "serial" && k != "slot" {
			return fmt.Errorf("unknown attribute %q (a yubikey reference takes serial and slot)", k)
		}
	}
	if s, ok := u.Path["serial"]; ok {
		if _, err := strconv.ParseUint(s, 10, 32); err != nil {
			return fmt.Errorf("serial %q is not a decimal number", s)
		}
	}
	if s, ok := u.Path["slot"]; ok {
		if _, err := ParsePIVSlot(s); err != nil {
			return err
		}
	}
	return nil
}

// ParsePIVSlot checks a PIV slot name: 9a, 9c, 9d, 9e or a retired slot
// 82–95, as two hex digits. Custodian keys go in 9d (key management) or a
// retired key-management slot.
func ParsePIVSlot(s string) (uint8, error) {
	v, err := strconv.ParseUint(strings.ToLower(s), 16, 8)
	if err != nil || len(s) != 2 {
		return 0, fmt.Errorf("slot %q is not a PIV slot: use 9d (key management) or a retired slot 82–95", s)
	}
	switch {
	case v == 0x9a || v == 0x9c || v == 0x9d || v == 0x9e:
	case v >= 0x82 && v <= 0x95:
	default:
		return 0, fmt.Errorf("slot %q is not a PIV key slot: use 9d (key management) or a retired slot 82–95", s)
	}
	return uint8(v), nil
}

func parseAttrs(s, sep string, into map[string]string) error {
	if s == "" {
		return nil
	}
	for _, part := range strings.Split(s, sep) {
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok || k == "" {
			return fmt.Errorf("attribute %q is not name=value", part)
		}
		k = strings.ToLower(k)
		dv, err := pctDecode(v)
		if err != nil {
			if pinAttrs[k] {
				return fmt.Errorf("attribute %s: bad percent-encoding", k)
			}
			return fmt.Errorf("attribute %s: %w", k, err)
		}
		if _, dup := into[k]; dup {
			return fmt.Errorf("attribute %s appears twice", k)
		}
		into[k] = dv
	}
	return nil
}

func pctDecode(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", errors.New("truncated percent-encoding")
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("bad percent-encoding %q", s[i:i+3])
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}

// pctEncode encodes everything outside RFC 3986 unreserved characters and
// the characters RFC 7512 allows unencoded (pk11-res-avail, plus "/?|" in
// query values so module paths stay readable); binary attributes such as id
// are encoded byte by byte (all).
func pctEncode(s string, all, query bool) string {
	allowed := "-._~:[]@!$'()*+,"
	if query {
		allowed += "/?|"
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !all && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(allowed, c) >= 0) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02x", c)
	}
	return b.String()
}

func orderedKeys(m map[string]string, known []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, k := range known {
		if _, ok := m[k]; ok {
			out = append(out, k)
			seen[k] = true
		}
	}
	var rest []string
	for k := range m {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// String prints the reference in its canonical form.
func (u *URI) String() string {
	if u == nil {
		return ""
	}
	if u.Scheme == SchemeFile {
		return "file:" + u.File
	}
	var b strings.Builder
	b.WriteString(u.Scheme)
	b.WriteByte(':')
	for i, k := range orderedKeys(u.Path, attrOrder[u.Scheme]) {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(k + "=" + pctEncode(u.Path[k], k == "id", false))
	}
	if len(u.Query) > 0 {
		b.WriteByte('?')
		for i, k := range orderedKeys(u.Query, queryOrder) {
			if i > 0 {
				b.WriteByte('&')
			}
			v := pctEncode(u.Query[k], false, true)
			if k == "pin-value" {
				v = "REDACTED" // never parsed; only a hand-built URI could hold one
			}
			b.WriteString(k + "=" + v)
		}
	}
	return b.String()
}

// Get returns a path attribute ("" when absent).
func (u *URI) Get(name string) string { return u.Path[name] }

// With returns a copy with a path attribute set.
func (u *URI) With(name, value string) *URI {
	c := &URI{Scheme: u.Scheme, File: u.File, Path: map[string]string{}, Query: map[string]string{}}
	for k, v := range u.Path {
		c.Path[k] = v
	}
	for k, v := range u.Query {
		c.Query[k] = v
	}
	c.Path[name] = value
	return c
}
