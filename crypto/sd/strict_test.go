package sd

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/custodian-hsm/custodian/internal/strictjson"
	"github.com/custodian-hsm/custodian/internal/testvectors"
)

// A second SharedKeys member with another quorum: encoding/json keeps the
// last one, so the quorum silently became 3 instead of 2. It must be refused.
func TestDuplicateSharedKeysIsRefused(t *testing.T) {
	data := testvectors.Read(t, "sd-3of2", "sd.json")
	f, err := ParseFile(data)
	if err != nil || f.SharedKeys.Required != 2 {
		t.Fatalf("vector: %v", err)
	}
	i := bytes.Index(data, []byte(`"SharedKeys":`))
	j := bytes.Index(data, []byte(`,"version"`))
	if i < 0 || j < i {
		t.Fatal("vector layout changed")
	}
	second := bytes.Replace(data[i:j], []byte(`"required":2`), []byte(`"required":3`), 1)
	dup := append(append(append(append([]byte{}, data[:j]...), ",\n"...), second...), data[j:]...)
	_, err = ParseFile(dup)
	if !errors.Is(err, strictjson.ErrDuplicate) {
		t.Fatalf("duplicate SharedKeys: ParseFile = %v", err)
	}
	if !strings.Contains(err.Error(), "line 2, SharedKeys") || !strings.Contains(err.Error(), "duplicate member") {
		t.Fatalf("message does not say where: %v", err)
	}
	// Deeper: a duplicate "required" inside SharedKeys.
	deep := bytes.Replace(data, []byte(`"required":2`), []byte(`"required":2,"required":3`), 1)
	if _, err := ParseFile(deep); !errors.Is(err, strictjson.ErrDuplicate) || !strings.Contains(err.Error(), "SharedKeys.required") {
		t.Fatalf("duplicate required: %v", err)
	}
}

func TestByteOrderMarks(t *testing.T) {
	data := testvectors.Read(t, "sd-3of2", "sd.json")
	f, err := ParseFile(append([]byte("\xef\xbb\xbf"), data...))
	if err != nil || !bytes.Equal(f.Marshal(), data) {
		t.Fatalf("UTF-8 BOM SD: %v", err)
	}
	var wide []byte
	wide = append(wide, 0xff, 0xfe)
	for _, u := range utf16.Encode([]rune(string(data))) {
		wide = append(wide, byte(u), byte(u>>8))
	}
	for name, parse := range map[string]func([]byte) error{
		"sd":       func(b []byte) error { _, err := ParseFile(b); return err },
		"blob":     func(b []byte) error { _, err := ParseRestoreBlob(b); return err },
		"exchange": func(b []byte) error { _, err := ParseExchangeKey(b); return err },
	} {
		for _, in := range [][]byte{wide, wide[2:]} {
			if err := parse(in); !errors.Is(err, strictjson.ErrUTF16) || !strings.Contains(err.Error(), "saved as UTF-16; save it as UTF-8") {
				t.Errorf("%s UTF-16: %v", name, err)
			}
		}
	}
	blob := testvectors.Read(t, "sd-3of2", "blob.json")
	if _, err := ParseRestoreBlob(append([]byte("\xef\xbb\xbf"), blob...)); err != nil {
		t.Fatalf("UTF-8 BOM blob: %v", err)
	}
	ex := testvectors.Read(t, "sd-3of2", "exchange.cer")
	if _, err := ParseExchangeKey(append([]byte("\xef\xbb\xbf"), ex...)); err != nil {
		t.Fatalf("UTF-8 BOM PEM exchange key: %v", err)
	}
}

// The Azure CLI writes the blob with Python's json.dumps defaults: a
// non-ASCII tag appears as \uXXXX escapes, and so must ours.
func TestBlobTagEscapedAsJSONDumps(t *testing.T) {
	b := &RestoreBlob{
		EncData:    EncData{KDF: KDFName, Data: []EncItem{{CompactJWE: "a.b.c.d.e", Tag: "clé_日本"}}},
		WrappedKey: WrappedKey{EncKey: "f.g.h.i.j", X5tS256: "x"},
	}
	// python3 -c 'import json; print(json.dumps({"EncData": {"data": [{"compact_jwe": "a.b.c.d.e", "tag": "clé_日本"}], "kdf": "sp108_kdf"}, "WrappedKey": {"enc_key": "f.g.h.i.j", "x5t_256": "x"}}))'
	want := `{"EncData": {"data": [{"compact_jwe": "a.b.c.d.e", "tag": "cl\u00e9_\u65e5\u672c"}], "kdf": "sp108_kdf"}, "WrappedKey": {"enc_key": "f.g.h.i.j", "x5t_256": "x"}}`
	if got := string(b.Marshal()); got != want {
		t.Fatalf("blob\n got %s\nwant %s", got, want)
	}
}

func TestWrongFileGivenAsSD(t *testing.T) {
	_, err := ParseFile(testvectors.Read(t, "sd-3of2", "blob.json"))
	if err == nil || !strings.Contains(err.Error(), "this is a restore blob") {
		t.Fatalf("blob as SD: %v", err)
	}
}

// Custodian certificates arrive from outside (PEM or DER).
func FuzzParseCertificate(f *testing.F) {
	f.Add(testvectors.Read(f, "sd-3of2", "keys", "cert_0.cer"))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMII=\n-----END CERTIFICATE-----\n"))
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCertificate(b)
		if err == nil && c == nil {
			t.Fatal("nil certificate without an error")
		}
	})
}
