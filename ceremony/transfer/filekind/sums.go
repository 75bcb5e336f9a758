package filekind

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// ChecksumsName is the file name of the checksum list written next to
// exported files, the name GNU coreutils users expect (`sha256sum -c
// SHA256SUMS` checks a medium on any Linux machine).
const ChecksumsName = "SHA256SUMS"

// Checksum is one line of a SHA256SUMS file.
type Checksum struct {
	Name   string
	SHA256 [32]byte
}

// Line is the entry in the form sha256sum prints: the hex digest, two
// spaces (text mode, which on Linux is the same as binary), the name.
func (c Checksum) Line() string {
	return hex.EncodeToString(c.SHA256[:]) + "  " + c.Name + "\n"
}

// ErrBadChecksums marks a SHA256SUMS file that is not in sha256sum's format.
var ErrBadChecksums = errors.New("not a SHA256SUMS file")

// ParseChecksums reads a checksum list in GNU coreutils format: lines
// "<64 hex>  <name>" or "<64 hex> *<name>", optionally with sha256sum's
// backslash escaping of names that contain a newline or a backslash. Blank
// lines are skipped. A name listed twice is an error, because a reader
// could not know which digest to trust.
func ParseChecksums(data []byte) ([]Checksum, error) {
	var out []Checksum
	seen := map[string]int{}
	lines := bytes.Split(data, []byte("\n"))
	for i, raw := range lines {
		lineNo := i + 1
		line := strings.TrimSuffix(string(raw), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		escaped := false
		if strings.HasPrefix(line, `\`) {
			escaped = true
			line = line[1:]
		}
		if len(line) < 64+2 || (line[64] != ' ') || (line[65] != ' ' && line[65] != '*') {
			return nil, fmt.Errorf("line %d is not \"<SHA-256 hex>  <name>\": %w", lineNo, ErrBadChecksums)
		}
		var c Checksum
		if _, err := hex.Decode(c.SHA256[:], []byte(line[:64])); err != nil {
			return nil, fmt.Errorf("line %d: the digest is not 64 hex digits: %w", lineNo, ErrBadChecksums)
		}
		name := line[66:]
		if escaped {
			var err error
			if name, err = unescapeName(name); err != nil {
				return nil, fmt.Errorf("line %d: %v: %w", lineNo, err, ErrBadChecksums)
			}
		}
		if name == "" {
			return nil, fmt.Errorf("line %d has no file name: %w", lineNo, ErrBadChecksums)
		}
		c.Name = name
		if prev, ok := seen[name]; ok {
			return nil, fmt.Errorf("%q is listed twice (lines %d and %d): %w", name, prev, lineNo, ErrBadChecksums)
		}
		seen[name] = lineNo
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no entries: %w", ErrBadChecksums)
	}
	return out, nil
}

// unescapeName undoes sha256sum's escaping (\\ and \n; coreutils 9 also
// writes \r).
func unescapeName(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		if i == len(s) {
			return "", errors.New("the name ends with a lone backslash")
		}
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		default:
			return "", fmt.Errorf("unknown escape \\%c in the name", s[i])
		}
	}
	return b.String(), nil
}

// looksLikeChecksums is the cheap test used by Detect before parsing.
func looksLikeChecksums(data []byte) bool {
	first, _, _ := bytes.Cut(bytes.TrimLeft(data, "\n"), []byte("\n"))
	first = bytes.TrimPrefix(first, []byte(`\`))
	if len(first) < 67 {
		return false
	}
	for _, c := range first[:64] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return first[64] == ' ' && (first[65] == ' ' || first[65] == '*')
}
