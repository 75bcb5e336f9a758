// Package sd reads and writes the files of an Azure Key Vault Managed HSM
// security domain: the security domain (SD) file the HSM returns at
// activation, the download request, the exchange key of a recovering HSM
// and the restore blob uploaded to it. It also checks an SD file against
// the enrolled certificates, opens shares through any jwe.KeyDecrypter (a
// hardware token or a software key), rebuilds the security domain from a
// quorum and wraps it for the exchange key.
//
// The contract is ../shared/spec/security-domain.md. Readers are strict:
// a file that deviates from what the HSM writes is refused with a message
// that says where. Writers produce exactly the bytes the Azure tools do, so
// that what Custodian writes is accepted and what it verifies is what the
// HSM will use.
package sd

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/custodian-hsm/custodian/crypto/jwe"
	"github.com/custodian-hsm/custodian/internal/pyjson"
	"github.com/custodian-hsm/custodian/internal/strictjson"
)

// MaxFileSize bounds every file this package reads. A live SD is about
// 15 KB and an exchange key about 6 KB; 10 MiB leaves room for any
// plausible growth and refuses the wrong file fast.
const MaxFileSize = 10 << 20

// Limits of the security domain (spec §1, §4).
const (
	MinShares   = 3
	MaxShares   = 10
	MinRequired = 2
	MaxRequired = 10
	// KDFName is the only EncData kdf the HSM uses.
	KDFName = "sp108_kdf"
	// KeyAlgorithm is the only share algorithm of version 2.
	KeyAlgorithm = "shamir_share"
)

// File is a version 2 security domain file.
type File struct {
	EncData    EncData    `json:"EncData"`
	SharedKeys SharedKeys `json:"SharedKeys"`
	Version    int        `json:"version"`
}

// EncData holds the HSM's encrypted contents. Their number, tags and
// sizes are the HSM's business: Custodian keeps them opaque and in order.
type EncData struct {
	Data []EncItem `json:"data"`
	KDF  string    `json:"kdf"`
}

// EncItem is one encrypted content item.
type EncItem struct {
	CompactJWE string `json:"compact_jwe"`
	Tag        string `json:"tag"`
}

// SharedKeys holds the shares, each encrypted to one custodian.
type SharedKeys struct {
	EncShares    []EncShare `json:"enc_shares"`
	KeyAlgorithm string     `json:"key_algorithm"`
	Required     int        `json:"required"`
}

// EncShare is one custodian's encrypted share, named by the SHA-256
// thumbprint of the custodian certificate's DER bytes.
type EncShare struct {
	EncKey  string `json:"enc_key"`
	X5tS256 string `json:"x5t_256"`
}

// FormatError says what is wrong with a file and where.
type FormatError struct {
	What  string // "security domain file", "restore blob", …
	Where string // "SharedKeys.enc_shares[2].enc_key", "byte 1234", …
	Err   error
}

func (e *FormatError) Error() string {
	if e.Where == "" {
		return fmt.Sprintf("%s: %v", e.What, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.What, e.Where, e.Err)
}

func (e *FormatError) Unwrap() error { return e.Err }

func sdErr(where, format string, args ...any) error {
	return &FormatError{What: "security domain file", Where: where, Err: fmt.Errorf(format, args...)}
}

// ErrLegacyVersion1 is returned for a version 1 (xor_split) security domain,
// which only old PowerShell modules write.
var ErrLegacyVersion1 = errors.New("this is a legacy version 1 security domain (SplitKeys, xor_split): Custodian reads version 2, which every current HSM writes; recover it with Import-AzKeyVaultSecurityDomain, which still reads version 1")

// ParseFile reads and strictly validates an SD file in the form the HSM
// returns (raw JSON); the base64 text form of an old REST example is also
// accepted.
func ParseFile(data []byte) (*File, error) {
	if len(data) > MaxFileSize {
		return nil, sdErr("", "the file is %d bytes, over the %d-byte limit: is it the right file?", len(data), MaxFileSize)
	}
	data, err := prepare(data, "security domain file")
	if err != nil {
		return nil, err
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, sdErr("", "the file is empty")
	}
	if trimmed[0] == '[' {
		return nil, sdErr("", "the top level is an array, not a JSON object: is this a security domain file?")
	}
	if trimmed[0] != '{' {
		dec, err := base64.StdEncoding.DecodeString(string(trimmed))
		if err != nil || len(bytes.TrimSpace(dec)) == 0 || bytes.TrimSpace(dec)[0] != '{' {
			return nil, sdErr("", "not JSON (it starts with %q): is this a security domain file?", preview(trimmed))
		}
		trimmed = bytes.TrimSpace(dec)
	}
	raw, err := decodeObject(trimmed, "security domain file")
	if err != nil {
		return nil, err
	}
	if _, blob := raw["WrappedKey"]; blob {
		return nil, sdErr("", "this is a restore blob (it has WrappedKey), not a security domain file: give the SD file downloaded at activation (az keyvault security-domain download)")
	}
	if _, ok := raw["transfer_key"]; ok {
		return nil, sdErr("", "this is an exchange key (it has transfer_key), not a security domain file: give the SD file downloaded at activation")
	}
	version, err := intMember(raw, "version", "version")
	if err != nil {
		if _, v1 := raw["SplitKeys"]; v1 {
			return nil, ErrLegacyVersion1
		}
		return nil, err
	}
	switch version {
	case 2:
	case 1:
		return nil, ErrLegacyVersion1
	default:
		return nil, sdErr("version", "unknown version %d: Custodian reads version 2", version)
	}
	f := &File{Version: version}
	encData, err := objectMember(raw, "EncData", "EncData")
	if err != nil {
		return nil, err
	}
	if err := parseEncData(encData, "EncData", &f.EncData, "security domain file"); err != nil {
		return nil, err
	}
	shared, err := objectMember(raw, "SharedKeys", "SharedKeys")
	if err != nil {
		return nil, err
	}
	if err := parseSharedKeys(shared, &f.SharedKeys); err != nil {
		return nil, err
	}
	return f, nil
}

func preview(b []byte) string {
	if len(b) > 16 {
		return string(b[:16]) + "…"
	}
	return string(b)
}

// prepare strips the UTF-8 byte-order mark PowerShell 5.1 writes and names
// a UTF-16 file for what it is.
func prepare(data []byte, what string) ([]byte, error) {
	out, err := strictjson.Prepare(data)
	if err != nil {
		return nil, &FormatError{What: what, Err: err}
	}
	return out, nil
}

// decodeObject decodes a JSON object into raw members after strictjson has
// checked the whole document: a duplicate member anywhere (a second
// SharedKeys that would silently change the quorum) is refused with its
// line and path.
func decodeObject(data []byte, what string) (map[string]json.RawMessage, error) {
	if err := strictjson.Check(data, strictjson.Limits{MaxBytes: MaxFileSize}); err != nil {
		var se *strictjson.Error
		if errors.As(err, &se) {
			where := se.Path
			if se.Line > 0 {
				where = strings.TrimSuffix(fmt.Sprintf("line %d, %s", se.Line, se.Path), ", ")
			}
			if errors.Is(err, strictjson.ErrSyntax) && se.Path == "" && bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) && strings.Contains(se.Msg, "truncated") {
				return nil, &FormatError{What: what, Where: where, Err: errors.New("the JSON is truncated")}
			}
			return nil, &FormatError{What: what, Where: where, Err: kindError{se.Msg, se.Err}}
		}
		return nil, &FormatError{What: what, Err: err}
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, &FormatError{What: what, Where: fmt.Sprintf("byte %d", se.Offset), Err: fmt.Errorf("invalid JSON: %v", se)}
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, &FormatError{What: what, Err: errors.New("the JSON is truncated")}
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, &FormatError{What: what, Err: errors.New("the top level is not a JSON object")}
		}
		return nil, &FormatError{What: what, Err: fmt.Errorf("invalid JSON: %v", err)}
	}
	if raw == nil {
		return nil, &FormatError{What: what, Err: errors.New("the top level is null, not a JSON object")}
	}
	if dec.More() {
		return nil, &FormatError{What: what, Where: fmt.Sprintf("byte %d", dec.InputOffset()), Err: errors.New("trailing data after the JSON object")}
	}
	return raw, nil
}

// kindError keeps strictjson's kind (ErrDuplicate, …) for errors.Is
// without repeating the place the FormatError already gives.
type kindError struct {
	msg  string
	kind error
}

func (e kindError) Error() string { return e.msg }
func (e kindError) Unwrap() error { return e.kind }

func member(raw map[string]json.RawMessage, name, where string) (json.RawMessage, error) {
	v, ok := raw[name]
	if !ok {
		return nil, sdErr(where, "missing")
	}
	if string(v) == "null" {
		return nil, sdErr(where, "is null")
	}
	return v, nil
}

func objectMember(raw map[string]json.RawMessage, name, where string) (map[string]json.RawMessage, error) {
	v, err := member(raw, name, where)
	if err != nil {
		return nil, err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(v, &obj); err != nil || obj == nil {
		return nil, sdErr(where, "must be a JSON object, found %s", jsonKind(v))
	}
	return obj, nil
}

func stringMember(raw map[string]json.RawMessage, name, where string) (string, error) {
	v, err := member(raw, name, where)
	if err != nil {
		return "", err
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", sdErr(where, "must be a string, found %s", jsonKind(v))
	}
	return s, nil
}

func intMember(raw map[string]json.RawMessage, name, where string) (int, error) {
	v, err := member(raw, name, where)
	if err != nil {
		return 0, err
	}
	if t := bytes.TrimSpace(v); len(t) == 0 || (t[0] != '-' && (t[0] < '0' || t[0] > '9')) {
		return 0, sdErr(where, "must be an integer, found %s", jsonKind(v))
	}
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	if err := dec.Decode(&n); err != nil {
		return 0, sdErr(where, "must be an integer, found %s", jsonKind(v))
	}
	i, err := n.Int64()
	if err != nil || i < -1<<31 || i > 1<<31 {
		return 0, sdErr(where, "must be an integer, found %s", string(v))
	}
	return int(i), nil
}

func arrayMember(raw map[string]json.RawMessage, name, where string) ([]json.RawMessage, error) {
	v, err := member(raw, name, where)
	if err != nil {
		return nil, err
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(v, &arr); err != nil {
		return nil, sdErr(where, "must be an array, found %s", jsonKind(v))
	}
	return arr, nil
}

func jsonKind(v json.RawMessage) string {
	t := bytes.TrimSpace(v)
	if len(t) == 0 {
		return "nothing"
	}
	switch t[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func parseEncData(raw map[string]json.RawMessage, where string, out *EncData, what string) error {
	wrap := func(err error) error {
		var fe *FormatError
		if errors.As(err, &fe) {
			fe.What = what
		}
		return err
	}
	kdf, err := stringMember(raw, "kdf", where+".kdf")
	if err != nil {
		return wrap(err)
	}
	if kdf != KDFName {
		return wrap(sdErr(where+".kdf", "is %q; the HSM uses %q", kdf, KDFName))
	}
	out.KDF = kdf
	items, err := arrayMember(raw, "data", where+".data")
	if err != nil {
		return wrap(err)
	}
	if len(items) == 0 {
		return wrap(sdErr(where+".data", "is empty: there is nothing to recover"))
	}
	tags := map[string]int{}
	for i, itemRaw := range items {
		at := fmt.Sprintf("%s.data[%d]", where, i)
		var item map[string]json.RawMessage
		if err := json.Unmarshal(itemRaw, &item); err != nil || item == nil {
			return wrap(sdErr(at, "must be an object, found %s", jsonKind(itemRaw)))
		}
		compact, err := stringMember(item, "compact_jwe", at+".compact_jwe")
		if err != nil {
			return wrap(err)
		}
		tag, err := stringMember(item, "tag", at+".tag")
		if err != nil {
			return wrap(err)
		}
		if tag == "" {
			return wrap(sdErr(at+".tag", "is empty"))
		}
		if j, dup := tags[tag]; dup {
			return wrap(sdErr(at+".tag", "%q already tags item %d", tag, j))
		}
		tags[tag] = i
		o, err := jwe.Parse(compact)
		if err != nil {
			return wrap(sdErr(at+".compact_jwe", "%v", err))
		}
		if o.Header.Alg != jwe.AlgDir {
			return wrap(sdErr(at+".compact_jwe", "header alg is %q; EncData items use \"dir\"", o.Header.Alg))
		}
		out.Data = append(out.Data, EncItem{CompactJWE: compact, Tag: tag})
	}
	return nil
}

func parseSharedKeys(raw map[string]json.RawMessage, out *SharedKeys) error {
	alg, err := stringMember(raw, "key_algorithm", "SharedKeys.key_algorithm")
	if err != nil {
		return err
	}
	if alg != KeyAlgorithm {
		return sdErr("SharedKeys.key_algorithm", "is %q; version 2 uses %q", alg, KeyAlgorithm)
	}
	out.KeyAlgorithm = alg
	required, err := intMember(raw, "required", "SharedKeys.required")
	if err != nil {
		return err
	}
	shares, err := arrayMember(raw, "enc_shares", "SharedKeys.enc_shares")
	if err != nil {
		return err
	}
	if len(shares) == 0 {
		return sdErr("SharedKeys.enc_shares", "is empty")
	}
	if len(shares) > MaxShares {
		return sdErr("SharedKeys.enc_shares", "holds %d shares; a security domain has at most %d", len(shares), MaxShares)
	}
	if required < MinRequired || required > MaxRequired {
		return sdErr("SharedKeys.required", "is %d; the quorum is between %d and %d", required, MinRequired, MaxRequired)
	}
	if required > len(shares) {
		return sdErr("SharedKeys.required", "is %d but there are only %d shares: this security domain can never be recovered", required, len(shares))
	}
	out.Required = required
	seen := map[string]int{}
	for i, sRaw := range shares {
		at := fmt.Sprintf("SharedKeys.enc_shares[%d]", i)
		var s map[string]json.RawMessage
		if err := json.Unmarshal(sRaw, &s); err != nil || s == nil {
			return sdErr(at, "must be an object, found %s", jsonKind(sRaw))
		}
		encKey, err := stringMember(s, "enc_key", at+".enc_key")
		if err != nil {
			return err
		}
		x5t, err := stringMember(s, "x5t_256", at+".x5t_256")
		if err != nil {
			return err
		}
		if b, err := base64.RawURLEncoding.Strict().DecodeString(x5t); err != nil || len(b) != 32 {
			return sdErr(at+".x5t_256", "%q is not the base64url SHA-256 of a certificate", x5t)
		}
		if j, dup := seen[x5t]; dup {
			return sdErr(at+".x5t_256", "duplicates share %d's thumbprint: two shares for one certificate", j)
		}
		seen[x5t] = i
		o, err := jwe.Parse(encKey)
		if err != nil {
			return sdErr(at+".enc_key", "%v", err)
		}
		switch o.Header.Alg {
		case jwe.AlgRSAOAEP256, jwe.AlgRSAOAEP, jwe.AlgRSA15:
		default:
			return sdErr(at+".enc_key", "header alg is %q; shares are RSA-OAEP-256, RSA-OAEP or RSA1_5", o.Header.Alg)
		}
		out.EncShares = append(out.EncShares, EncShare{EncKey: encKey, X5tS256: x5t})
	}
	return nil
}

// Marshal writes the file in the live HSM's form: compact JSON, members in
// the order EncData, SharedKeys, version, no trailing newline.
func (f *File) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(`{"EncData":`)
	writeEncData(&b, &f.EncData, false)
	b.WriteString(`,"SharedKeys":{"enc_shares":[`)
	for i, s := range f.SharedKeys.EncShares {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"enc_key":`)
		writeString(&b, s.EncKey)
		b.WriteString(`,"x5t_256":`)
		writeString(&b, s.X5tS256)
		b.WriteByte('}')
	}
	b.WriteString(`],"key_algorithm":`)
	writeString(&b, f.SharedKeys.KeyAlgorithm)
	fmt.Fprintf(&b, `,"required":%d},"version":%d}`, f.SharedKeys.Required, f.Version)
	return b.Bytes()
}

// writeEncData writes {"data": [...], "kdf": "…"}; spaced selects Python
// json.dumps separators (", " and ": ").
func writeEncData(b *bytes.Buffer, e *EncData, spaced bool) {
	colon, comma := ":", ","
	if spaced {
		colon, comma = ": ", ", "
	}
	b.WriteString(`{"data"` + colon + `[`)
	for i, it := range e.Data {
		if i > 0 {
			b.WriteString(comma)
		}
		b.WriteString(`{"compact_jwe"` + colon)
		writeString(b, it.CompactJWE)
		b.WriteString(comma + `"tag"` + colon)
		if spaced {
			// The blob is the Azure CLI's json.dumps output: a non-ASCII
			// tag is written as \uXXXX escapes, as Python does.
			tag, err := pyjson.AppendString(nil, it.Tag)
			if err != nil {
				tag, _ = json.Marshal(it.Tag) // unreachable: tags come from decoded JSON
			}
			b.Write(tag)
		} else {
			writeString(b, it.Tag)
		}
		b.WriteByte('}')
	}
	b.WriteString(`]` + comma + `"kdf"` + colon)
	writeString(b, e.KDF)
	b.WriteByte('}')
}

// writeString writes a JSON string. The values written here (compact JWEs,
// base64url thumbprints, ASCII tags) never need escaping beyond what
// encoding/json does without HTML escaping.
func writeString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	b.Truncate(b.Len() - 1) // Encode appends a newline
}
