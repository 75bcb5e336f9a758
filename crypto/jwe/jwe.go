// Package jwe reads and writes the compact JSON Web Encryption objects of a
// Managed HSM security domain (RFC 7516, algorithms from RFC 7518).
//
// # Format
//
// A compact JWE is five base64url parts (no padding) joined by dots:
//
//	b64u(protected header) . b64u(encrypted key) . b64u(IV) . b64u(ciphertext) . b64u(tag)
//
// The security domain uses exactly one content encryption, A256CBC-HS512
// (RFC 7518 §5.2.5): the 64-byte content-encryption key (CEK) is split into
// a MAC key (bytes 0–31) and an AES-256 key (bytes 32–63); the plaintext is
// PKCS#7-padded and encrypted with AES-CBC under a random 16-byte IV; the
// tag is the first 32 bytes of HMAC-SHA-512 over
// AAD ‖ IV ‖ ciphertext ‖ be64(bit length of AAD), where the AAD is the
// protected header exactly as received, in its base64url form.
//
// The CEK reaches the reader in one of two ways, named by the header's alg:
//
//   - "dir": EncData items. The CEK is derived from the SD master key and the
//     item's tag (see crypto/kdf); the encrypted-key part is empty.
//   - "RSA-OAEP-256" (and, read only, "RSA-OAEP" and "RSA1_5"): shares and the
//     restore blob's wrapped key. A random CEK is RSA-encrypted to a
//     custodian's or the exchange key's certificate.
//
// # Choices
//
// Reading is strict where strictness costs nothing and catches damage early
// (exact base64url, a JSON object with no duplicate members, the expected
// part sizes), and tolerant where the Azure tools differ (header member
// order, unknown members, kid values). Writing is exact: headers are
// compact JSON with members in the order alg, enc, kid, as the Azure CLI
// writes them, so our output matches the tools byte for byte given the same
// keys and IV.
//
// The tag is verified in constant time before anything is decrypted, so a
// modified object is rejected with ErrAuthentication and padding is never
// examined for unauthenticated data.
//
// RSA1_5 is read without the RFC 7516 §11.5 countermeasure (substituting a
// random CEK when the padding is bad): decryption happens offline on an
// air-gapped machine, so there is no oracle to protect, and a clear "not
// encrypted to this key" is worth more to a custodian than a uniform error.
//
// Private RSA keys live on tokens. Decryption therefore goes through the
// KeyDecrypter interface, which a token backend implements; RSAKeyDecrypter
// is the software implementation used in tests and drills.
package jwe

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" // RSA-OAEP (read only) uses SHA-1; nothing else does
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/custodian-hsm/custodian/internal/pyjson"
)

// Algorithm names (the header's alg and enc members).
const (
	// AlgRSAOAEP256 is RSA-OAEP with SHA-256 and MGF1-SHA-256: how the HSM
	// wraps shares and how the restore blob's key is wrapped.
	AlgRSAOAEP256 = "RSA-OAEP-256"
	// AlgRSAOAEP is RSA-OAEP with SHA-1 and MGF1-SHA-1 (read only).
	AlgRSAOAEP = "RSA-OAEP"
	// AlgRSA15 is RSAES-PKCS1-v1_5 (read only; the Azure tools accept it).
	AlgRSA15 = "RSA1_5"
	// AlgDir means the CEK is known to both sides (derived by the SD KDF).
	AlgDir = "dir"
	// EncA256CBCHS512 is AES-256-CBC with HMAC-SHA-512, the only content
	// encryption used by security domains.
	EncA256CBCHS512 = "A256CBC-HS512"
)

// Sizes of A256CBC-HS512 and limits that keep hostile input small.
const (
	// CEKSize is the content-encryption key size of A256CBC-HS512.
	CEKSize = 64
	// IVSize is the AES-CBC IV size.
	IVSize = 16
	// TagSize is the size of the truncated HMAC-SHA-512 tag.
	TagSize = 32
	// MaxCompactLength bounds the compact serialization accepted by Parse.
	// A live SD's largest item is a few kilobytes; 16 MiB leaves ample room.
	MaxCompactLength = 16 << 20
	// MaxHeaderLength bounds the decoded protected header.
	MaxHeaderLength = 16 << 10
	// MaxEncryptedKeyLength bounds the encrypted key (an RSA-16384 result).
	MaxEncryptedKeyLength = 2048
	// MinRSABits is the smallest RSA modulus EncryptRSAOAEP256 encrypts to.
	MinRSABits = 2048
)

// ErrAuthentication means the authentication tag did not verify: the key is
// wrong or the object was modified. Test with errors.Is.
var ErrAuthentication = errors.New("jwe: authentication tag does not match: wrong key, or the data was modified")

// FormatError reports a malformed compact JWE and names the part at fault.
type FormatError struct {
	// Part is the part at fault: "compact serialization", "protected
	// header", "encrypted key", "IV", "ciphertext" or "tag".
	Part string
	// Reason says what is wrong with it.
	Reason string
}

// Error names the part and says what is wrong with it.
func (e *FormatError) Error() string { return "jwe: " + e.Part + ": " + e.Reason }

func formatErr(part, format string, args ...any) error {
	return &FormatError{Part: part, Reason: fmt.Sprintf(format, args...)}
}

// Names of the five parts, in order, as used in FormatError.Part.
var partNames = [5]string{"protected header", "encrypted key", "IV", "ciphertext", "tag"}

// KeyDecrypter recovers a JWE's content-encryption key. It is the interface
// hardware tokens implement: the private key stays on the token, which is
// handed the encrypted-key part and the header's alg and returns the CEK.
//
// DecryptKey receives alg exactly as it appears in the JWE header — one of
// AlgRSAOAEP256, AlgRSAOAEP or AlgRSA15 — and encryptedKey, the raw bytes of
// the encrypted-key part (as long as the RSA modulus). It must return the
// unpadded CEK (64 bytes for A256CBC-HS512; Decrypt checks this), in a new
// slice that the caller wipes after use. An implementation must:
//
//   - refuse an alg it cannot perform with an error saying so, never guess;
//   - remove the padding that alg names — OAEP with SHA-256 and MGF1-SHA-256
//     and an empty label for RSA-OAEP-256, OAEP with SHA-1 for RSA-OAEP,
//     PKCS#1 v1.5 for RSA1_5. A token that can only perform raw RSA may
//     return the padded result to UnpadRawKey, which does that in software;
//   - return an error (not garbage) when the padding does not verify, which
//     is what a share encrypted to a different key looks like;
//   - keep PINs and key material out of error messages.
//
// DecryptKey may block for user interaction (PIN entry, touch).
type KeyDecrypter interface {
	DecryptKey(alg string, encryptedKey []byte) ([]byte, error)
}

// RSAKeyDecrypter is a KeyDecrypter for an RSA private key held in memory:
// test keys, drills, and the exchange key of the drill HSM. Custodian keys
// on tokens use their token backend instead.
type RSAKeyDecrypter struct {
	Key *rsa.PrivateKey
}

// DecryptKey implements KeyDecrypter for RSA-OAEP-256, RSA-OAEP and RSA1_5.
func (d RSAKeyDecrypter) DecryptKey(alg string, encryptedKey []byte) ([]byte, error) {
	if d.Key == nil {
		return nil, errors.New("jwe: RSAKeyDecrypter has no key")
	}
	if len(encryptedKey) != d.Key.Size() {
		return nil, fmt.Errorf("jwe: encrypted key is %d bytes but the %d-bit RSA key needs %d: it was encrypted to a different key",
			len(encryptedKey), d.Key.N.BitLen(), d.Key.Size())
	}
	var cek []byte
	var err error
	switch alg {
	case AlgRSAOAEP256:
		cek, err = rsa.DecryptOAEP(sha256.New(), nil, d.Key, encryptedKey, nil)
	case AlgRSAOAEP:
		cek, err = rsa.DecryptOAEP(sha1.New(), nil, d.Key, encryptedKey, nil)
	case AlgRSA15:
		cek, err = rsa.DecryptPKCS1v15(nil, d.Key, encryptedKey)
	default:
		return nil, fmt.Errorf("jwe: RSA key cannot decrypt alg %q; expected %s, %s or %s", alg, AlgRSAOAEP256, AlgRSAOAEP, AlgRSA15)
	}
	if err != nil {
		return nil, fmt.Errorf("jwe: %s key decryption failed: encrypted to a different key, or corrupted: %w", alg, err)
	}
	return cek, nil
}

// Header is the parsed protected header. Members other than alg, enc and
// kid are tolerated on read and ignored (except crit and zip, which Parse
// refuses because honouring them would change the meaning).
type Header struct {
	Alg string // key management algorithm: AlgDir or an RSA alg
	Enc string // content encryption: always EncA256CBCHS512
	Kid string // key ID: the item tag for dir; a GUID or "not used" for shares
}

// Object is a parsed compact JWE.
type Object struct {
	// Header is the decoded protected header.
	Header Header
	// RawHeader is the protected header's base64url text exactly as
	// received. It is the AAD, so it is kept rather than re-encoded.
	RawHeader string
	// EncryptedKey is the RSA-encrypted CEK; empty for dir.
	EncryptedKey []byte
	// IV is the 16-byte AES-CBC initialization vector.
	IV []byte
	// Ciphertext is the AES-CBC ciphertext (a whole number of blocks).
	Ciphertext []byte
	// Tag is the 32-byte authentication tag.
	Tag []byte
}

// Parse parses a compact JWE and checks its structure: five parts, strict
// base64url without padding, a JSON object header with string alg and enc,
// enc A256CBC-HS512, a known alg, an empty encrypted key for dir and a
// non-empty one otherwise, a 16-byte IV, a non-empty ciphertext of whole AES
// blocks and a 32-byte tag. Errors are *FormatError naming the part. Parse
// does not decrypt or authenticate anything.
func Parse(compact string) (*Object, error) {
	if len(compact) > MaxCompactLength {
		return nil, formatErr("compact serialization", "%d characters exceeds the limit of %d", len(compact), MaxCompactLength)
	}
	parts := strings.Split(compact, ".")
	if len(parts) != 5 {
		return nil, formatErr("compact serialization", "has %d dot-separated parts, want 5 (header.key.iv.ciphertext.tag)", len(parts))
	}
	var raw [5][]byte
	for i, p := range parts {
		b, err := decodeB64URL(p)
		if err != nil {
			return nil, formatErr(partNames[i], "%v", err)
		}
		raw[i] = b
	}

	o := &Object{RawHeader: parts[0], EncryptedKey: raw[1], IV: raw[2], Ciphertext: raw[3], Tag: raw[4]}
	h, err := parseHeader(raw[0])
	if err != nil {
		return nil, err
	}
	o.Header = h

	switch h.Alg {
	case AlgDir:
		if len(o.EncryptedKey) != 0 {
			return nil, formatErr("encrypted key", "must be empty for alg %q, got %d bytes", AlgDir, len(o.EncryptedKey))
		}
	case AlgRSAOAEP256, AlgRSAOAEP, AlgRSA15:
		if len(o.EncryptedKey) == 0 {
			return nil, formatErr("encrypted key", "is empty, but alg %q needs an RSA-encrypted key", h.Alg)
		}
		if len(o.EncryptedKey) > MaxEncryptedKeyLength {
			return nil, formatErr("encrypted key", "%d bytes exceeds the limit of %d", len(o.EncryptedKey), MaxEncryptedKeyLength)
		}
	default:
		return nil, formatErr("protected header", "unsupported alg %q; expected %s, %s, %s or %s",
			h.Alg, AlgDir, AlgRSAOAEP256, AlgRSAOAEP, AlgRSA15)
	}
	if len(o.IV) != IVSize {
		return nil, formatErr("IV", "is %d bytes, want %d", len(o.IV), IVSize)
	}
	if len(o.Ciphertext) == 0 || len(o.Ciphertext)%aes.BlockSize != 0 {
		return nil, formatErr("ciphertext", "is %d bytes, want a non-zero multiple of %d", len(o.Ciphertext), aes.BlockSize)
	}
	if len(o.Tag) != TagSize {
		return nil, formatErr("tag", "is %d bytes, want %d", len(o.Tag), TagSize)
	}
	return o, nil
}

// decodeB64URL decodes unpadded base64url strictly: only the URL alphabet
// (Go's decoder would otherwise skip CR and LF), no padding, and zero
// unused trailing bits, so that every object has exactly one encoding.
func decodeB64URL(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		case c == '=':
			return nil, fmt.Errorf("has base64 padding '=' at offset %d; JWE uses base64url without padding", i)
		case c == '+' || c == '/':
			return nil, fmt.Errorf("has %q at offset %d: standard base64, not base64url", c, i)
		default:
			return nil, fmt.Errorf("has character %q at offset %d, not base64url", c, i)
		}
	}
	if len(s)%4 == 1 {
		return nil, fmt.Errorf("has a base64url length of %d, which no byte string encodes to (truncated?)", len(s))
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("is not canonical base64url (non-zero trailing bits at the end): %w", err)
	}
	return b, nil
}

// parseHeader decodes the protected header: a single JSON object, valid
// UTF-8, no duplicate members (which readers could resolve differently),
// alg and enc strings, kid a string if present.
func parseHeader(b []byte) (Header, error) {
	const part = "protected header"
	var h Header
	if len(b) == 0 {
		return h, formatErr(part, "is empty")
	}
	if len(b) > MaxHeaderLength {
		return h, formatErr(part, "%d bytes exceeds the limit of %d", len(b), MaxHeaderLength)
	}
	if !utf8.Valid(b) {
		return h, formatErr(part, "is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return h, formatErr(part, "is not a JSON object")
	}
	members := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return h, formatErr(part, "is not valid JSON: %v", err)
		}
		name, _ := tok.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return h, formatErr(part, "is not valid JSON: member %q: %v", name, err)
		}
		if _, dup := members[name]; dup {
			return h, formatErr(part, "has member %q twice", name)
		}
		members[name] = value
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return h, formatErr(part, "is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return h, formatErr(part, "has data after the JSON object")
	}

	str := func(name string, required bool) (string, error) {
		v, ok := members[name]
		if !ok {
			if required {
				return "", formatErr(part, "has no %q member", name)
			}
			return "", nil
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", formatErr(part, "member %q is not a string", name)
		}
		return s, nil
	}
	var err error
	if h.Alg, err = str("alg", true); err != nil {
		return h, err
	}
	if h.Enc, err = str("enc", true); err != nil {
		return h, err
	}
	if h.Kid, err = str("kid", false); err != nil {
		return h, err
	}
	if h.Enc != EncA256CBCHS512 {
		return h, formatErr(part, "unsupported enc %q; security domains use %s", h.Enc, EncA256CBCHS512)
	}
	if _, ok := members["zip"]; ok {
		return h, formatErr(part, "has a zip member: compressed JWEs are not used by security domains and not supported")
	}
	if _, ok := members["crit"]; ok {
		return h, formatErr(part, "has a crit member: no header extensions are supported")
	}
	return h, nil
}

// Compact returns the compact serialization. The header is RawHeader as
// received, so Compact(Parse(s)) == s for every s that Parse accepts.
func (o *Object) Compact() string {
	enc := base64.RawURLEncoding
	var sb strings.Builder
	sb.WriteString(o.RawHeader)
	for _, p := range [][]byte{o.EncryptedKey, o.IV, o.Ciphertext, o.Tag} {
		sb.WriteByte('.')
		sb.WriteString(enc.EncodeToString(p))
	}
	return sb.String()
}

// DecryptDir authenticates and decrypts a dir JWE with cek (64 bytes,
// normally kdf.EncDataKey(master, o.Header.Kid)). It fails with
// ErrAuthentication when the key is wrong or the object was modified.
func (o *Object) DecryptDir(cek []byte) ([]byte, error) {
	if o.Header.Alg != AlgDir {
		return nil, fmt.Errorf("jwe: DecryptDir needs alg %q, this JWE has alg %q", AlgDir, o.Header.Alg)
	}
	return OpenA256CBCHS512(cek, o.IV, []byte(o.RawHeader), o.Ciphertext, o.Tag)
}

// Decrypt recovers the CEK of an RSA JWE with kd (typically a token),
// checks that it is 64 bytes, and authenticates and decrypts the content.
// The CEK is wiped before Decrypt returns. The caller owns the plaintext
// (a share or a master key) and must wipe it.
func (o *Object) Decrypt(kd KeyDecrypter) ([]byte, error) {
	switch o.Header.Alg {
	case AlgRSAOAEP256, AlgRSAOAEP, AlgRSA15:
	default:
		return nil, fmt.Errorf("jwe: Decrypt needs an RSA alg, this JWE has alg %q (use DecryptDir)", o.Header.Alg)
	}
	if kd == nil {
		return nil, errors.New("jwe: no key decrypter given")
	}
	cek, err := kd.DecryptKey(o.Header.Alg, o.EncryptedKey)
	defer clear(cek)
	if err != nil {
		return nil, fmt.Errorf("jwe: decrypting the content key: %w", err)
	}
	if len(cek) != CEKSize {
		return nil, fmt.Errorf("jwe: decrypted content key is %d bytes, want %d for %s: wrong key or not a security domain JWE",
			len(cek), CEKSize, EncA256CBCHS512)
	}
	return OpenA256CBCHS512(cek, o.IV, []byte(o.RawHeader), o.Ciphertext, o.Tag)
}

// headerJSON writes a protected header as the Azure CLI does: compact JSON,
// members in the order alg, enc, kid, strings escaped as Python's json.dumps
// does by default (a non-ASCII tag becomes \uXXXX escapes). Tags are opaque
// and must round-trip, so a kid that JSON cannot carry unchanged (invalid
// UTF-8) is refused.
func headerJSON(alg, kid string) (string, error) {
	b := []byte(`{"alg":`)
	b, _ = pyjson.AppendString(b, alg)
	b = append(b, `,"enc":`...)
	b, _ = pyjson.AppendString(b, EncA256CBCHS512)
	b = append(b, `,"kid":`...)
	b, err := pyjson.AppendString(b, kid)
	if err != nil {
		return "", errors.New("jwe: kid is not valid UTF-8 and cannot be written to a JSON header unchanged")
	}
	b = append(b, '}')
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func readIV(random io.Reader) ([]byte, error) {
	iv := make([]byte, IVSize)
	if _, err := io.ReadFull(random, iv); err != nil {
		return nil, fmt.Errorf("jwe: reading randomness for the IV: %w", err)
	}
	return iv, nil
}

// EncryptDir encrypts plaintext as a dir JWE with header exactly
// {"alg":"dir","enc":"A256CBC-HS512","kid":<kid>} under cek (64 bytes), with
// an IV read from random (nil means crypto/rand.Reader). This is how EncData
// items are written, with cek = kdf.EncDataKey(master, tag) and kid = tag.
func EncryptDir(cek []byte, kid string, plaintext []byte, random io.Reader) (string, error) {
	if random == nil {
		random = rand.Reader
	}
	if len(cek) != CEKSize {
		return "", fmt.Errorf("jwe: content key is %d bytes, want %d", len(cek), CEKSize)
	}
	header, err := headerJSON(AlgDir, kid)
	if err != nil {
		return "", err
	}
	iv, err := readIV(random)
	if err != nil {
		return "", err
	}
	ct, tag, err := SealA256CBCHS512(cek, iv, []byte(header), plaintext)
	if err != nil {
		return "", err
	}
	o := Object{RawHeader: header, IV: iv, Ciphertext: ct, Tag: tag}
	return o.Compact(), nil
}

// EncryptRSAOAEP256 encrypts plaintext to pub: a random 64-byte CEK is
// RSA-OAEP-256-encrypted, and the header is exactly
// {"alg":"RSA-OAEP-256","enc":"A256CBC-HS512","kid":<kid>}. The restore
// blob's wrapped key uses kid "not used", as the Azure CLI does. The CEK and
// IV come from random (nil means crypto/rand.Reader); the OAEP seed comes
// from crypto/rsa's own source. pub must have at least 2048 bits.
func EncryptRSAOAEP256(pub *rsa.PublicKey, kid string, plaintext []byte, random io.Reader) (string, error) {
	if random == nil {
		random = rand.Reader
	}
	if pub == nil || pub.N == nil {
		return "", errors.New("jwe: no RSA public key given")
	}
	if bits := pub.N.BitLen(); bits < MinRSABits {
		return "", fmt.Errorf("jwe: RSA key has %d bits, at least %d are required", bits, MinRSABits)
	}
	header, err := headerJSON(AlgRSAOAEP256, kid)
	if err != nil {
		return "", err
	}
	cek := make([]byte, CEKSize)
	defer clear(cek)
	if _, err := io.ReadFull(random, cek); err != nil {
		return "", fmt.Errorf("jwe: reading randomness for the content key: %w", err)
	}
	ek, err := rsa.EncryptOAEP(sha256.New(), random, pub, cek, nil)
	if err != nil {
		return "", fmt.Errorf("jwe: RSA-OAEP-256 encryption of the content key: %w", err)
	}
	iv, err := readIV(random)
	if err != nil {
		return "", err
	}
	ct, tag, err := SealA256CBCHS512(cek, iv, []byte(header), plaintext)
	if err != nil {
		return "", err
	}
	o := Object{RawHeader: header, EncryptedKey: ek, IV: iv, Ciphertext: ct, Tag: tag}
	return o.Compact(), nil
}

// macA256CBCHS512 computes the 32-byte tag: HMAC-SHA-512 with the MAC key
// over aad ‖ iv ‖ ciphertext ‖ be64(len(aad)·8), truncated (RFC 7518 §5.2.2.1).
func macA256CBCHS512(macKey, iv, aad, ciphertext []byte) []byte {
	m := hmac.New(sha512.New, macKey)
	m.Write(aad)
	m.Write(iv)
	m.Write(ciphertext)
	var al [8]byte
	binary.BigEndian.PutUint64(al[:], uint64(len(aad))*8)
	m.Write(al[:])
	return m.Sum(nil)[:TagSize]
}

func checkKeyIV(cek, iv []byte) error {
	if len(cek) != CEKSize {
		return fmt.Errorf("jwe: %s key is %d bytes, want %d", EncA256CBCHS512, len(cek), CEKSize)
	}
	if len(iv) != IVSize {
		return fmt.Errorf("jwe: IV is %d bytes, want %d", len(iv), IVSize)
	}
	return nil
}

// SealA256CBCHS512 encrypts plaintext with A256CBC-HS512 (RFC 7518 §5.2):
// MAC key = cek[0:32], AES key = cek[32:64], PKCS#7 padding, AES-CBC with
// iv, tag = first 32 bytes of HMAC-SHA-512(aad ‖ iv ‖ ciphertext ‖
// be64(len(aad)·8)). For a JWE the aad is the base64url protected header.
func SealA256CBCHS512(cek, iv, aad, plaintext []byte) (ciphertext, tag []byte, err error) {
	if err := checkKeyIV(cek, iv); err != nil {
		return nil, nil, err
	}
	block, err := aes.NewCipher(cek[32:])
	if err != nil {
		return nil, nil, fmt.Errorf("jwe: %w", err)
	}
	pad := aes.BlockSize - len(plaintext)%aes.BlockSize
	ciphertext = make([]byte, len(plaintext)+pad)
	copy(ciphertext, plaintext)
	for i := len(plaintext); i < len(ciphertext); i++ {
		ciphertext[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ciphertext, ciphertext)
	return ciphertext, macA256CBCHS512(cek[:32], iv, aad, ciphertext), nil
}

// OpenA256CBCHS512 verifies the tag in constant time and only then
// decrypts ciphertext and removes the PKCS#7 padding. A tag mismatch is
// ErrAuthentication. Bad padding under a valid tag means the sender's
// encryption was faulty and is reported as such.
func OpenA256CBCHS512(cek, iv, aad, ciphertext, tag []byte) ([]byte, error) {
	if err := checkKeyIV(cek, iv); err != nil {
		return nil, err
	}
	if len(tag) != TagSize {
		return nil, fmt.Errorf("jwe: tag is %d bytes, want %d", len(tag), TagSize)
	}
	if len(ciphertext) == 0 || len(ciphertext)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("jwe: ciphertext is %d bytes, want a non-zero multiple of %d", len(ciphertext), aes.BlockSize)
	}
	if !hmac.Equal(macA256CBCHS512(cek[:32], iv, aad, ciphertext), tag) {
		return nil, ErrAuthentication
	}
	block, err := aes.NewCipher(cek[32:])
	if err != nil {
		return nil, fmt.Errorf("jwe: %w", err)
	}
	plaintext := make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plaintext, ciphertext)
	pad := int(plaintext[len(plaintext)-1])
	ok := pad >= 1 && pad <= aes.BlockSize
	if ok {
		for _, b := range plaintext[len(plaintext)-pad:] {
			ok = ok && int(b) == pad
		}
	}
	if !ok {
		clear(plaintext)
		return nil, errors.New("jwe: authenticated, but the PKCS#7 padding is invalid: the sender encrypted incorrectly")
	}
	n := len(plaintext) - pad
	clear(plaintext[n:])
	return plaintext[:n:n], nil
}
