// Package filekind tells what a file that crossed the air gap is: a
// custodian certificate, a security domain file, an exchange key, a restore
// blob, a SHA256SUMS list, a ceremony transcript, a Custodian manifest, a
// PDF, or something else, and says so in one plain line.
//
// People carry these files on whatever stick is at hand and open them on a
// machine that has no other way to check them, so a wrong file (last
// year's SD, a private key, a Word document renamed .json) must be named
// before anyone acts on it. Detection is two steps: a cheap look at the
// shape of the bytes decides what the file claims to be, then the real
// reader for that kind (crypto/sd for the Azure formats) checks it. A file
// that looks like X but fails X's checks is reported as X with the reader's
// error, never as "unknown", because that is what the person needs to hear.
package filekind

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/custodian-hsm/custodian/internal/strictjson"
)

// Kind is what a file is.
type Kind int

const (
	Unknown           Kind = iota
	Certificate            // a custodian's X.509 certificate (PEM or DER)
	SecurityDomain         // the SD file the HSM returns at activation
	ExchangeKey            // the new HSM's exchange key (certificate or JWK/transfer_key JSON)
	RestoreBlob            // the restore blob uploaded to the new HSM
	Checksums              // a SHA256SUMS list
	Transcript             // a ceremony transcript (JSON Lines with seq and prev)
	CustodianManifest      // a Custodian JSON document carrying custodian_kind (operator package, …)
	PDF                    // a PDF document (printed instructions, reports)
	PrivateKey             // a private key: it should never have crossed the air gap
)

var kindNames = [...]string{
	Unknown:           "unknown file",
	Certificate:       "certificate",
	SecurityDomain:    "security domain file",
	ExchangeKey:       "exchange key",
	RestoreBlob:       "restore blob",
	Checksums:         "SHA256SUMS checksum list",
	Transcript:        "ceremony transcript",
	CustodianManifest: "Custodian manifest",
	PDF:               "PDF document",
	PrivateKey:        "private key",
}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Result is what Detect found.
type Result struct {
	Kind Kind
	// Summary is one line for a person, without the kind's name, e.g.
	// "3 shares, quorum 2, 3 EncData items".
	Summary string
	// SHA256 is the digest of the whole file as read.
	SHA256 [32]byte
	// Err is set when the file looks like Kind but fails Kind's checks (or,
	// for PrivateKey, because such a file must not be carried at all). It
	// wraps ErrInvalid and the reader's own error.
	Err error
}

// ErrInvalid is wrapped by Result.Err: the file has a known shape but is
// not a valid file of that kind.
var ErrInvalid = errors.New("invalid file")

// invalidError carries the reader's error unchanged in its message and
// matches both it and ErrInvalid with errors.Is/As.
type invalidError struct {
	err error
	msg string // what to show instead of err's own text ("" for that)
}

func (e invalidError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return e.err.Error()
}

func (e invalidError) Unwrap() []error { return []error{e.err, ErrInvalid} }

// String is the one-line description: "security domain file: 3 shares, …".
//
// For a file that fails its kind's checks it is "looks like a security
// domain file but: …" with the reader's error.
func (r Result) String() string {
	if r.Kind == PrivateKey && r.Err != nil {
		return "PRIVATE KEY (" + r.Summary + "): " + r.Err.Error()
	}
	if r.Err != nil {
		name := r.Kind.String()
		article := "a "
		if strings.ContainsRune("aeiouAEIOU", rune(name[0])) {
			article = "an "
		}
		return "looks like " + article + name + " but: " + r.Err.Error()
	}
	if r.Summary == "" {
		return r.Kind.String()
	}
	return r.Kind.String() + ": " + r.Summary
}

// SHA256Hex is the file digest as lower-case hex, as sha256sum prints it.
func (r Result) SHA256Hex() string { return hex.EncodeToString(r.SHA256[:]) }

// invalid makes Result.Err for a file that looks like kind.
func invalid(err error) error { return invalidError{err: err} }

// Detect tells what data is. It never fails: a file it cannot place is
// Unknown with a summary describing what it saw.
func Detect(data []byte) Result {
	r := detect(data)
	r.SHA256 = sha256.Sum256(data)
	return r
}

func detect(data []byte) Result {
	if len(data) == 0 {
		return Result{Kind: Unknown, Summary: "the file is empty"}
	}
	if bytes.HasPrefix(data, []byte("%PDF-")) {
		return detectPDF(data)
	}
	if _, err := strictjson.Prepare(data); err != nil && !looksLikeDER(data) {
		return Result{Kind: Unknown, Summary: fmt.Sprintf("text %v, %d bytes", strings.TrimPrefix(err.Error(), "the file is "), len(data))}
	}
	text := bytes.TrimSpace(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))
	if bytes.HasPrefix(text, []byte("-----BEGIN ")) {
		return detectPEM(data)
	}
	if len(text) > 0 && text[0] == '{' {
		return detectJSON(text)
	}
	if looksLikeChecksums(text) {
		return detectChecksums(data)
	}
	if looksLikeDER(data) {
		return detectDER(data)
	}
	if looksLikeBase64JSON(text) {
		// The download response once carried the SD base64-encoded;
		// crypto/sd decides whether it accepts that form.
		return detectSD(data)
	}
	return describeUnknown(data)
}

func detectPDF(data []byte) Result {
	version := ""
	if line, _, ok := bytes.Cut(data[5:], []byte("\n")); ok || len(line) < 16 {
		version = strings.TrimSpace(string(bytes.TrimRight(line, "\r")))
		if len(version) > 8 {
			version = version[:8]
		}
	}
	if !bytes.Contains(data[max(0, len(data)-1024):], []byte("%%EOF")) {
		return Result{Kind: PDF, Summary: fmt.Sprintf("version %s, %d bytes", version, len(data)),
			Err: invalid(errors.New("no %%EOF marker at the end: the file is truncated"))}
	}
	return Result{Kind: PDF, Summary: fmt.Sprintf("version %s, %d bytes", version, len(data))}
}

// detectPEM looks at the first PEM block's type.
func detectPEM(data []byte) Result {
	block, _ := pem.Decode(data)
	if block == nil {
		return Result{Kind: Certificate, Err: invalid(errors.New("the PEM armour is damaged (missing END line or bad base64)"))}
	}
	switch {
	case block.Type == "CERTIFICATE":
		if pemLineLength(data) == 65 {
			// `az keyvault security-domain init-recovery` writes the
			// exchange key with 65-character lines; nothing else does.
			return detectExchangeKey(data, "PEM certificate with 65-character lines, as az init-recovery writes it")
		}
		return detectCertificate(data, "PEM")
	case strings.Contains(block.Type, "PRIVATE KEY"):
		return Result{Kind: PrivateKey, Summary: "PEM " + strings.ToLower(block.Type),
			Err: errors.New("a private key must never be carried across the air gap: custodian keys live on tokens; remove this file from the medium and treat the key as exposed")}
	}
	return Result{Kind: Unknown, Summary: fmt.Sprintf("PEM %q block, not a certificate", block.Type)}
}

// pemLineLength is the length of the first base64 line of a PEM file.
func pemLineLength(data []byte) int {
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "-----BEGIN ") && i+1 < len(lines) {
			return len(lines[i+1])
		}
	}
	return 0
}

// looksLikeDER: a DER SEQUENCE with a long-form length that spans the
// file, which is how every X.509 certificate starts.
func looksLikeDER(data []byte) bool {
	if len(data) < 4 || data[0] != 0x30 {
		return false
	}
	switch data[1] {
	case 0x81:
		return int(data[2])+3 == len(data)
	case 0x82:
		return int(data[2])<<8|int(data[3])+4 == len(data)
	case 0x83:
		return len(data) > 5 && int(data[2])<<16|int(data[3])<<8|int(data[4])+5 == len(data)
	}
	return false
}

func looksLikeBase64JSON(text []byte) bool {
	// "{"" in base64 starts with "eyI" (standard and URL alphabets).
	if !bytes.HasPrefix(text, []byte("eyJ")) && !bytes.HasPrefix(text, []byte("eyA")) {
		return false
	}
	for _, c := range text {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '+' || c == '/' || c == '-' || c == '_' || c == '=' || c == '\n' || c == '\r') {
			return false
		}
	}
	return true
}

// detectJSON places a JSON document by its members. The Azure formats are
// recognised by the members the Azure tools write; Custodian's own
// documents carry custodian_kind; a transcript is JSON Lines.
func detectJSON(text []byte) Result {
	first, rest, multiline := bytes.Cut(text, []byte("\n"))
	if multiline && len(bytes.TrimSpace(rest)) > 0 && json.Valid(bytes.TrimSpace(first)) {
		// More than one JSON value, one per line: JSON Lines.
		return detectJSONLines(text)
	}
	r := detectJSONObject(text)
	if r.Err == nil {
		// A duplicate member anywhere is refused whatever the kind: the
		// decoder would silently keep the last copy.
		if err := strictjson.Check(text, strictjson.Limits{}); errors.Is(err, strictjson.ErrDuplicate) || errors.Is(err, strictjson.ErrTooDeep) {
			r.Err = invalid(err)
		}
	}
	return r
}

func detectJSONObject(text []byte) Result {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(text, &members); err != nil {
		// A truncated or damaged file (a stick pulled out mid-copy) is
		// still recognisable by its member names; the reader then says
		// what is wrong with it.
		switch {
		case bytes.Contains(text, []byte(`"SharedKeys"`)), bytes.Contains(text, []byte(`"SplitKeys"`)):
			return detectSD(text)
		case bytes.Contains(text, []byte(`"WrappedKey"`)):
			return detectRestoreBlob(text)
		case bytes.Contains(text, []byte(`"EncData"`)):
			return detectSD(text)
		case bytes.Contains(text, []byte(`"transfer_key"`)):
			return detectExchangeKey(text, "")
		}
		return Result{Kind: Unknown, Summary: fmt.Sprintf("text starting with { that is not valid JSON (%v)", err)}
	}
	has := func(names ...string) bool {
		for _, n := range names {
			if _, ok := members[n]; !ok {
				return false
			}
		}
		return true
	}
	switch {
	case has("EncData", "SharedKeys"), has("SplitKeys"), has("EncData", "version"):
		return detectSD(text)
	case has("EncData", "WrappedKey"):
		return detectRestoreBlob(text)
	case has("transfer_key"), has("kty", "n", "e"), has("x5c"):
		return detectExchangeKey(text, "")
	case has("custodian_kind"):
		return detectCustodianManifest(members)
	case has("seq", "prev"):
		return detectJSONLines(text)
	case has("value"):
		var v string
		if json.Unmarshal(members["value"], &v) == nil && strings.Contains(v, "SharedKeys") {
			return Result{Kind: SecurityDomain, Summary: "the HSM's whole download response ({\"value\": …})",
				Err: invalid(errors.New("this is the HTTP response body, not the SD file the Azure tools save: save the \"value\" string alone (az keyvault security-domain download does this)"))}
		}
	}
	if has("certificates", "required") {
		return Result{Kind: Unknown, Summary: "the activation download request body (certificates and required), which goes to the HSM, not to a custodian"}
	}
	names := make([]string, 0, len(members))
	for n := range members {
		names = append(names, n)
	}
	return Result{Kind: Unknown, Summary: fmt.Sprintf("JSON object with members %s, not a format Custodian knows", strings.Join(sortedShort(names), ", "))}
}

func sortedShort(names []string) []string {
	for i := 1; i < len(names); i++ {
		for j := i; j > 0 && names[j] < names[j-1]; j-- {
			names[j], names[j-1] = names[j-1], names[j]
		}
	}
	if len(names) > 6 {
		names = append(names[:6], "…")
	}
	return names
}

// detectJSONLines recognises a ceremony transcript: JSON Lines whose first
// entry has seq and prev. The hash chain itself is checked by the
// transcript reader, not here.
func detectJSONLines(text []byte) Result {
	lines := bytes.Split(text, []byte("\n"))
	var first struct {
		Seq  *json.RawMessage `json:"seq"`
		Prev *json.RawMessage `json:"prev"`
	}
	if err := json.Unmarshal(lines[0], &first); err != nil || first.Seq == nil || first.Prev == nil {
		return Result{Kind: Unknown, Summary: fmt.Sprintf("JSON Lines, %d lines, without seq/prev: not a Custodian transcript", len(lines))}
	}
	n := 0
	for i, l := range lines {
		l = bytes.TrimSpace(l)
		if len(l) == 0 {
			continue
		}
		if !json.Valid(l) {
			return Result{Kind: Transcript, Summary: fmt.Sprintf("%d entries", n),
				Err: invalid(fmt.Errorf("line %d is not valid JSON: the transcript is damaged or truncated", i+1))}
		}
		n++
	}
	return Result{Kind: Transcript, Summary: plural(n, "entry") + " (hash chain not checked here: open it with the transcript viewer)"}
}

func detectCustodianManifest(members map[string]json.RawMessage) Result {
	var kind string
	if err := json.Unmarshal(members["custodian_kind"], &kind); err != nil || kind == "" {
		return Result{Kind: CustodianManifest, Err: invalid(errors.New("custodian_kind is not a non-empty string"))}
	}
	summary := fmt.Sprintf("custodian_kind %q", kind)
	// The operator package's manifest (ceremony.Manifest) says which HSM
	// and how many custodians; other kinds show only their name.
	var m struct {
		Mode       string            `json:"mode"`
		HSMName    string            `json:"hsm_name"`
		Quorum     int               `json:"quorum"`
		Custodians []json.RawMessage `json:"custodians"`
	}
	raw, _ := json.Marshal(members)
	if json.Unmarshal(raw, &m) == nil && m.HSMName != "" {
		summary += fmt.Sprintf(", HSM %q, quorum %d of %s", m.HSMName, m.Quorum, plural(len(m.Custodians), "custodian"))
	}
	if strings.EqualFold(m.Mode, "drill") {
		summary = "DRILL " + summary
	}
	return Result{Kind: CustodianManifest, Summary: summary}
}

func detectChecksums(data []byte) Result {
	sums, err := ParseChecksums(data)
	if err != nil {
		return Result{Kind: Checksums, Err: invalid(err)}
	}
	names := make([]string, len(sums))
	for i, s := range sums {
		names[i] = s.Name
	}
	return Result{Kind: Checksums, Summary: fmt.Sprintf("%s (%s)", plural(len(sums), "entry"), strings.Join(shortList(names), ", "))}
}

func shortList(names []string) []string {
	if len(names) > 5 {
		return append(append([]string{}, names[:5]...), fmt.Sprintf("and %d more", len(names)-5))
	}
	return names
}

// describeUnknown says what the bytes look like so a person can recognise
// the wrong file ("a ZIP archive", "text, 3 lines").
func describeUnknown(data []byte) Result {
	magic := []struct {
		prefix, what string
	}{
		{"PK\x03\x04", "a ZIP archive (or an Office document)"},
		{"\x1f\x8b", "a gzip archive"},
		{"\x89PNG", "a PNG image"},
		{"\xff\xd8\xff", "a JPEG image"},
		{"\x7fELF", "a Linux program"},
		{"MZ", "a Windows program"},
		{"\xd0\xcf\x11\xe0", "an old Office document"},
	}
	for _, m := range magic {
		if bytes.HasPrefix(data, []byte(m.prefix)) {
			return Result{Kind: Unknown, Summary: fmt.Sprintf("%s, %d bytes", m.what, len(data))}
		}
	}
	if utf8.Valid(data) && !bytes.ContainsRune(data, 0) {
		lines := bytes.Count(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) + 1
		return Result{Kind: Unknown, Summary: fmt.Sprintf("text, %s, %d bytes", plural(lines, "line"), len(data))}
	}
	return Result{Kind: Unknown, Summary: fmt.Sprintf("binary data, %d bytes", len(data))}
}

// plural writes "1 entry", "2 entries", "3 lines".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	if strings.HasSuffix(word, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(word, "y"))
	}
	return fmt.Sprintf("%d %ss", n, word)
}
