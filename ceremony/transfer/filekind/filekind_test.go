package filekind

import (
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/internal/strictjson"
	"github.com/custodian-hsm/custodian/internal/testvectors"
)

// vector reads a file of the contract's test vectors (see their README.md)
// through internal/testvectors: the repository's own copy unless
// CUSTODIAN_VECTORS points elsewhere.
func vector(t *testing.T, name string) []byte {
	t.Helper()
	return testvectors.Read(t, name)
}

func TestDetectTranscript(t *testing.T) {
	data := []byte("{\"seq\":0,\"prev\":\"\",\"event\":\"opened\"}\n{\"seq\":1,\"prev\":\"9f\",\"event\":\"closed\"}\n")
	r := Detect(data)
	if r.Kind != Transcript || r.Err != nil || !strings.HasPrefix(r.Summary, "2 entries") {
		t.Errorf("%+v", r)
	}
	if r.SHA256 != sha256.Sum256(data) {
		t.Error("SHA256 is not the file's digest")
	}
	one := Detect([]byte(`{"seq":0,"prev":"","event":"opened"}`))
	if one.Kind != Transcript || !strings.HasPrefix(one.Summary, "1 entry") {
		t.Errorf("one-entry transcript: %+v", one)
	}
	damaged := Detect([]byte("{\"seq\":0,\"prev\":\"\"}\n{\"seq\":1,\"pr"))
	if damaged.Kind != Transcript || !errors.Is(damaged.Err, ErrInvalid) || !strings.Contains(damaged.String(), "looks like a ceremony transcript but: line 2") {
		t.Errorf("truncated transcript: %v", damaged)
	}
	other := Detect([]byte("{\"a\":1}\n{\"b\":2}\n"))
	if other.Kind != Unknown {
		t.Errorf("JSON Lines without seq/prev: %+v", other)
	}
}

func TestDetectChecksums(t *testing.T) {
	line := strings.Repeat("ab", 32)
	r := Detect([]byte(line + "  sd.json\n" + line + " *blob.json\n"))
	if r.Kind != Checksums || r.Err != nil || r.Summary != "2 entries (sd.json, blob.json)" {
		t.Errorf("%+v", r)
	}
	dup := Detect([]byte(line + "  sd.json\n" + line + "  sd.json\n"))
	if dup.Kind != Checksums || dup.Err == nil || !strings.Contains(dup.Err.Error(), "listed twice") {
		t.Errorf("duplicate entry: %+v", dup)
	}
}

func TestParseChecksums(t *testing.T) {
	h := strings.Repeat("0f", 32)
	got, err := ParseChecksums([]byte(h + "  a b.txt\r\n\n" + `\` + h + `  new\nline\\x` + "\n" + strings.ToUpper(h) + " *bin"))
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"a b.txt", "new\nline\\x", "bin"}
	if len(got) != 3 {
		t.Fatalf("got %d entries", len(got))
	}
	for i, n := range names {
		if got[i].Name != n || got[i].SHA256[0] != 0x0f {
			t.Errorf("entry %d: %+v", i, got[i])
		}
	}
	if l := (Checksum{Name: "sd.json", SHA256: got[0].SHA256}).Line(); l != h+"  sd.json\n" {
		t.Errorf("Line() = %q", l)
	}
	for _, bad := range []string{"", "\n\n", h + " sd.json", h[:62] + "  x", strings.Repeat("zz", 32) + "  x", h + "  ", `\` + h + `  a\q`} {
		if _, err := ParseChecksums([]byte(bad)); !errors.Is(err, ErrBadChecksums) {
			t.Errorf("ParseChecksums(%q) = %v, want ErrBadChecksums", bad, err)
		}
	}
}

func TestDetectCustodianManifest(t *testing.T) {
	r := Detect([]byte(`{"custodian_kind":"operator-package","files":[]}`))
	if r.Kind != CustodianManifest || r.Err != nil || r.Summary != `custodian_kind "operator-package"` {
		t.Errorf("%+v", r)
	}
	op := Detect([]byte(`{"custodian_kind":"operator-package","mode":"DRILL","ceremony_id":"c1","hsm_name":"contoso-hsm","quorum":2,"custodians":[{},{},{}]}`))
	if op.Summary != `DRILL custodian_kind "operator-package", HSM "contoso-hsm", quorum 2 of 3 custodians` {
		t.Errorf("operator manifest: %v", op)
	}
	if r := Detect([]byte(`{"custodian_kind":7}`)); r.Kind != CustodianManifest || r.Err == nil {
		t.Errorf("non-string kind: %+v", r)
	}
}

func TestDetectPDF(t *testing.T) {
	pdf := []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n")
	if r := Detect(pdf); r.Kind != PDF || r.Err != nil || !strings.HasPrefix(r.Summary, "version 1.7") {
		t.Errorf("%+v", r)
	}
	if r := Detect(pdf[:30]); r.Kind != PDF || r.Err == nil || !strings.Contains(r.Err.Error(), "truncated") {
		t.Errorf("truncated PDF: %+v", r)
	}
}

func TestDetectPrivateKeyIsFlagged(t *testing.T) {
	r := Detect(vector(t, "sd-3of2/keys/cert_0.key"))
	if r.Kind != PrivateKey || r.Err == nil || !strings.Contains(r.Err.Error(), "air gap") {
		t.Errorf("%+v", r)
	}
}

func TestDetectUnknown(t *testing.T) {
	for _, c := range []struct {
		data, want string
	}{
		{"", "the file is empty"},
		{"PK\x03\x04rest", "a ZIP archive (or an Office document), 8 bytes"},
		{"hello\nworld\n", "text, 2 lines, 12 bytes"},
		{"\x00\x01\x02\xff", "binary data, 4 bytes"},
		{`{"name":"x","size":3}`, "JSON object with members name, size, not a format Custodian knows"},
		{"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", `PEM "PUBLIC KEY" block, not a certificate`},
	} {
		r := Detect([]byte(c.data))
		if r.Kind != Unknown || r.Summary != c.want || r.Err != nil {
			t.Errorf("Detect(%q) = %+v, want Unknown %q", c.data, r, c.want)
		}
	}
}

func TestDetectDownloadResponseEnvelope(t *testing.T) {
	r := Detect([]byte(`{"value": "{\"EncData\":{},\"SharedKeys\":{},\"version\":2}"}`))
	if r.Kind != SecurityDomain || r.Err == nil || !strings.Contains(r.Err.Error(), "value") {
		t.Errorf("%+v", r)
	}
}

func TestKindString(t *testing.T) {
	if SecurityDomain.String() != "security domain file" || Kind(99).String() != "Kind(99)" {
		t.Error(SecurityDomain.String(), Kind(99).String())
	}
}

// Detect must never panic, whatever the bytes.
func FuzzDetect(f *testing.F) {
	for _, s := range []string{"", "{", "[", `{"seq":0,"prev":""}` + "\n{", "%PDF-", "-----BEGIN CERTIFICATE-----\n", "\x30\x82\x00\x01\x00", "eyJ", strings.Repeat("a", 64) + "  x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := Detect(data)
		_ = r.String()
	})
}

// Whatever ParseChecksums accepts survives a round trip through Line for
// names sha256sum writes without escaping.
func FuzzParseChecksums(f *testing.F) {
	f.Add([]byte(strings.Repeat("ab", 32) + "  sd.json\n"))
	f.Add([]byte(`\` + strings.Repeat("00", 32) + `  a\nb` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sums, err := ParseChecksums(data)
		if err != nil {
			return
		}
		var b strings.Builder
		for _, s := range sums {
			if strings.ContainsAny(s.Name, "\\\n\r") {
				return
			}
			b.WriteString(s.Line())
		}
		again, err := ParseChecksums([]byte(b.String()))
		if err != nil || len(again) != len(sums) {
			t.Fatalf("round trip: %v", err)
		}
		for i := range sums {
			if again[i] != sums[i] {
				t.Fatalf("entry %d: %+v != %+v", i, again[i], sums[i])
			}
		}
	})
}

func TestDuplicateMemberAndUTF16AreNamed(t *testing.T) {
	r := Detect([]byte(`{"custodian_kind":"x","custodian_kind":"y"}`))
	if !errors.Is(r.Err, strictjson.ErrDuplicate) || !strings.Contains(r.String(), "custodian_kind: duplicate member") {
		t.Errorf("duplicate: %s", r)
	}
	r = Detect([]byte("\xff\xfe{\x00}\x00"))
	if !strings.Contains(r.String(), "saved as UTF-16; save it as UTF-8") {
		t.Errorf("UTF-16: %s", r)
	}
}
