package sd

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/custodian-hsm/custodian/crypto/jwe"
	"github.com/custodian-hsm/custodian/crypto/kdf"
)

// RestoreBlob is what a recovering HSM accepts: the EncData items
// re-encrypted under a fresh master key, and that key wrapped to the HSM's
// exchange key.
type RestoreBlob struct {
	EncData    EncData
	WrappedKey WrappedKey
}

// WrappedKey is the new master key wrapped to the exchange key.
type WrappedKey struct {
	// EncKey is the plain compact JWE (the 2020 base64url-wrapped form is
	// unwrapped on reading).
	EncKey  string
	X5tS256 string
}

// wrappedKeyKid is what the Azure tools put in the wrapped key's header.
const wrappedKeyKid = "not used"

// BuildRestoreBlob re-encrypts the recovered security domain for an
// exchange key (spec §8): a fresh random 32-byte master key K'; each item
// re-encrypted with KDF(K', tag), same tags, same order; K' wrapped with
// RSA-OAEP-256 to the exchange key. The output is laid out as the Azure CLI
// writes it (Python json.dumps: ", " and ": " separators, no trailing
// newline), the form the live service was seen to accept.
func BuildRestoreBlob(rec *Recovered, exchange *ExchangeKey, random io.Reader) ([]byte, error) {
	if rec == nil || rec.master == nil {
		return nil, errors.New("the security domain has not been recovered (or was wiped)")
	}
	if exchange == nil || exchange.PublicKey == nil {
		return nil, errors.New("no exchange key")
	}
	if random == nil {
		random = rand.Reader
	}
	newMaster := make([]byte, 32)
	defer clear(newMaster)
	if _, err := io.ReadFull(random, newMaster); err != nil {
		return nil, fmt.Errorf("drawing the new master key: %w", err)
	}
	out := EncData{KDF: KDFName}
	for i, it := range rec.file.EncData.Data {
		cek, err := kdf.EncDataKey(newMaster, it.Tag)
		if err != nil {
			return nil, err
		}
		compact, err := jwe.EncryptDir(cek, it.Tag, rec.items[i], random)
		clear(cek)
		if err != nil {
			return nil, fmt.Errorf("re-encrypting item %q: %w", it.Tag, err)
		}
		out.Data = append(out.Data, EncItem{CompactJWE: compact, Tag: it.Tag})
	}
	wrapped, err := jwe.EncryptRSAOAEP256(exchange.PublicKey, wrappedKeyKid, newMaster, random)
	if err != nil {
		return nil, fmt.Errorf("wrapping the new master key to the exchange key: %w", err)
	}
	blob := &RestoreBlob{EncData: out, WrappedKey: WrappedKey{EncKey: wrapped, X5tS256: exchange.Thumbprint}}
	return blob.Marshal(), nil
}

// Marshal writes the blob in the Azure CLI's json.dumps layout.
func (b *RestoreBlob) Marshal() []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"EncData": `)
	writeEncData(&buf, &b.EncData, true)
	buf.WriteString(`, "WrappedKey": {"enc_key": `)
	writeString(&buf, b.WrappedKey.EncKey)
	buf.WriteString(`, "x5t_256": `)
	writeString(&buf, b.WrappedKey.X5tS256)
	buf.WriteString(`}}`)
	return buf.Bytes()
}

func blobErr(where, format string, args ...any) error {
	return &FormatError{What: "restore blob", Where: where, Err: fmt.Errorf(format, args...)}
}

// ParseRestoreBlob reads a restore blob in either layout (the CLI's
// json.dumps or PowerShell's compact JSON) and either enc_key form (a plain
// compact JWE, or the base64url of one written by a 2020 CLI snapshot).
func ParseRestoreBlob(data []byte) (*RestoreBlob, error) {
	if len(data) > MaxFileSize {
		return nil, blobErr("", "the file is %d bytes, over the %d-byte limit", len(data), MaxFileSize)
	}
	data, err := prepare(data, "restore blob")
	if err != nil {
		return nil, err
	}
	raw, err := decodeObject(bytes.TrimSpace(data), "restore blob")
	if err != nil {
		return nil, err
	}
	if _, ok := raw["SharedKeys"]; ok {
		return nil, blobErr("", "this is a security domain file (it has SharedKeys), not a restore blob")
	}
	b := &RestoreBlob{}
	encData, err := objectMember(raw, "EncData", "EncData")
	if err != nil {
		return nil, relabel(err)
	}
	if err := parseEncData(encData, "EncData", &b.EncData, "restore blob"); err != nil {
		return nil, err
	}
	wk, err := objectMember(raw, "WrappedKey", "WrappedKey")
	if err != nil {
		return nil, relabel(err)
	}
	encKey, err := stringMember(wk, "enc_key", "WrappedKey.enc_key")
	if err != nil {
		return nil, relabel(err)
	}
	x5t, err := stringMember(wk, "x5t_256", "WrappedKey.x5t_256")
	if err != nil {
		return nil, relabel(err)
	}
	if dec, err := base64.RawURLEncoding.Strict().DecodeString(x5t); err != nil || len(dec) != 32 {
		return nil, blobErr("WrappedKey.x5t_256", "%q is not the base64url SHA-256 of a certificate", x5t)
	}
	if strings.Count(encKey, ".") != 4 {
		// The 2020 form: base64url of the compact JWE.
		dec, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(encKey, "="))
		if err != nil || strings.Count(string(dec), ".") != 4 {
			return nil, blobErr("WrappedKey.enc_key", "is neither a compact JWE nor base64url of one")
		}
		encKey = string(dec)
	}
	o, err := jwe.Parse(encKey)
	if err != nil {
		return nil, blobErr("WrappedKey.enc_key", "%v", err)
	}
	switch o.Header.Alg {
	case jwe.AlgRSAOAEP256, jwe.AlgRSAOAEP, jwe.AlgRSA15:
	default:
		return nil, blobErr("WrappedKey.enc_key", "header alg is %q; the wrapped key is RSA-OAEP-256", o.Header.Alg)
	}
	b.WrappedKey = WrappedKey{EncKey: encKey, X5tS256: x5t}
	return b, nil
}

func relabel(err error) error {
	var fe *FormatError
	if errors.As(err, &fe) {
		fe.What = "restore blob"
	}
	return err
}

// OpenedBlob is a restore blob opened with the exchange private key (the
// drill HSM's job, and tests'). Secret: callers Wipe it.
type OpenedBlob struct {
	MasterKey []byte
	Tags      []string
	Items     [][]byte
}

// Wipe zeroes the opened contents.
func (o *OpenedBlob) Wipe() {
	clear(o.MasterKey)
	for _, it := range o.Items {
		clear(it)
	}
}

// OpenRestoreBlob unwraps a blob's master key with the exchange private key
// and decrypts every item; every item must authenticate.
func OpenRestoreBlob(b *RestoreBlob, kd jwe.KeyDecrypter) (*OpenedBlob, error) {
	o, err := jwe.Parse(b.WrappedKey.EncKey)
	if err != nil {
		return nil, err
	}
	master, err := o.Decrypt(kd)
	if err != nil {
		return nil, fmt.Errorf("unwrapping the blob's master key: %w", err)
	}
	out := &OpenedBlob{MasterKey: master}
	for i, it := range b.EncData.Data {
		plain, err := openItem(master, it)
		if err != nil {
			out.Wipe()
			return nil, fmt.Errorf("blob item %d (tag %q) does not authenticate: %w", i+1, it.Tag, err)
		}
		out.Tags = append(out.Tags, it.Tag)
		out.Items = append(out.Items, plain)
	}
	return out, nil
}
