package filekind

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/internal/testvectors"
)

func derOf(t *testing.T, pemData []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(pemData)
	if block == nil {
		t.Fatal("vector is not PEM")
	}
	return block.Bytes
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestDetectSecurityDomainFile(t *testing.T) {
	data := vector(t, "sd-3of2/sd.json")
	r := Detect(data)
	want := "security domain file: 3 shares, quorum 2, 3 EncData items (hsm_backup, base_enclave_backup, partition_enclave_backup)"
	if r.Kind != SecurityDomain || r.Err != nil || r.String() != want {
		t.Errorf("got  %v (err %v)\nwant %s", r, r.Err, want)
	}
	// The base64 text form of an old REST example is read too.
	if r := Detect([]byte(base64.StdEncoding.EncodeToString(data))); r.Kind != SecurityDomain || r.Err != nil {
		t.Errorf("base64 SD: %v", r)
	}
}

func TestDetectDamagedSecurityDomainFile(t *testing.T) {
	data := vector(t, "sd-3of2/sd.json")
	var f map[string]any
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	shares := f["SharedKeys"].(map[string]any)["enc_shares"].([]any)
	shares[1].(map[string]any)["enc_key"] = "not.a.jwe"
	broken, _ := json.Marshal(f)

	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"bad share JWE": {broken, "looks like a security domain file but: SharedKeys.enc_shares[1]"},
		"truncated":     {data[:len(data)/2], "looks like a security domain file but: "},
		"version 1":     {[]byte(`{"SplitKeys":{"key_algorithm":"xor_split"},"EncData":{},"version":1}`), "legacy version 1"},
	} {
		r := Detect(c.data)
		if r.Kind != SecurityDomain || !errors.Is(r.Err, ErrInvalid) || !strings.Contains(r.String(), c.want) {
			t.Errorf("%s: %v, want it to contain %q", name, r, c.want)
			continue
		}
		var fe *sd.FormatError
		if name != "version 1" && !errors.As(r.Err, &fe) {
			t.Errorf("%s: the crypto/sd error is not reachable with errors.As: %v", name, r.Err)
		}
		if strings.Contains(r.String(), "but: security domain file:") {
			t.Errorf("%s: the kind is said twice: %v", name, r)
		}
		t.Logf("%s: %v", name, r)
	}
}

func TestDetectRestoreBlob(t *testing.T) {
	exchangeDER := derOf(t, vector(t, "sd-3of2/exchange.cer"))
	r := Detect(vector(t, "sd-3of2/blob.json"))
	if r.Kind != RestoreBlob || r.Err != nil {
		t.Fatalf("%v", r)
	}
	// The blob names its exchange key by the same SHA-256 the exchange key
	// file shows, so the two can be compared.
	if !strings.Contains(r.Summary, "3 EncData items") || !strings.Contains(r.Summary, sha256Hex(exchangeDER)) {
		t.Errorf("summary %q lacks the item count or the exchange key's SHA-256 %s", r.Summary, sha256Hex(exchangeDER))
	}
}

func TestDetectExchangeKeyAsAzWritesIt(t *testing.T) {
	pemData := vector(t, "sd-3of2/exchange.cer")
	der := derOf(t, pemData)
	r := Detect(pemData)
	if r.Kind != ExchangeKey || r.Err != nil {
		t.Fatalf("%v", r)
	}
	for _, want := range []string{sha256Hex(der), "65-character lines", "RSA-"} {
		if !strings.Contains(r.Summary, want) {
			t.Errorf("summary %q lacks %q", r.Summary, want)
		}
	}
}

func TestDetectExchangeKeyJSONForms(t *testing.T) {
	der := derOf(t, vector(t, "sd-3of2/exchange.cer"))
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pub := cert.PublicKey.(*rsa.PublicKey)
	jwk := map[string]any{
		"e":       base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		"key_ops": []string{"wrapKey", "encrypt"},
		"kid":     "not used",
		"kty":     "RSA",
		"n":       base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"x5c":     []string{base64.StdEncoding.EncodeToString(der)},
	}
	jwkText, _ := json.Marshal(jwk)
	asString, _ := json.Marshal(map[string]any{"key_format": "jwk", "transfer_key": string(jwkText)})
	asObject, _ := json.Marshal(map[string]any{"key_format": "jwk", "transfer_key": jwk})
	for name, data := range map[string][]byte{"JWK": jwkText, "transfer_key string": asString, "transfer_key object": asObject} {
		r := Detect(data)
		if r.Kind != ExchangeKey || r.Err != nil || !strings.Contains(r.Summary, sha256Hex(der)) {
			t.Errorf("%s: %v (%v)", name, r, r.Err)
		}
	}
	jwk["n"] = base64.RawURLEncoding.EncodeToString([]byte("another modulus"))
	mismatched, _ := json.Marshal(jwk)
	if r := Detect(mismatched); r.Kind != ExchangeKey || r.Err == nil {
		t.Errorf("JWK whose n does not match its certificate: %v", r)
	}
}

func TestDetectCustodianCertificate(t *testing.T) {
	pemData := vector(t, "sd-3of2/keys/cert_0.cer")
	der := derOf(t, pemData)
	for form, data := range map[string][]byte{"PEM": pemData, "DER": der} {
		r := Detect(data)
		if r.Kind != Certificate || r.Err != nil {
			t.Errorf("%s: %v", form, r)
			continue
		}
		for _, want := range []string{`"CN=custodian 0"`, "RSA-2048", sha256Hex(der), "(" + form + ")"} {
			if !strings.Contains(r.Summary, want) {
				t.Errorf("%s summary %q lacks %q", form, r.Summary, want)
			}
		}
	}
}

// selfSigned makes a certificate as a test input.
func selfSigned(t *testing.T, bits int, ext []pkix.Extension) []byte {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hsm.example"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageKeyEncipherment, ExtraExtensions: ext,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// The live exchange key carries the HSM's SGX attestation extension: a
// certificate with it is an exchange key in any encoding.
func TestDetectExchangeKeyByAttestationExtension(t *testing.T) {
	der := selfSigned(t, 2048, []pkix.Extension{{Id: []int{1, 2, 840, 113556, 10, 1, 1}, Value: []byte{0x04, 0x02, 0xde, 0xad}}})
	pem64 := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	for form, data := range map[string][]byte{"DER": der, "PEM": pem64} {
		if r := Detect(data); r.Kind != ExchangeKey || r.Err != nil {
			t.Errorf("%s: %v", form, r)
		}
	}
}

func TestDetectWeakCertificate(t *testing.T) {
	der := selfSigned(t, 1024, nil)
	r := Detect(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	if r.Kind != Certificate || r.Err == nil || !strings.Contains(r.String(), "looks like a certificate but") {
		t.Errorf("RSA-1024: %v", r)
	}
	if r := Detect(der[:len(der)-10]); r.Kind == Certificate && r.Err == nil {
		t.Errorf("truncated DER accepted: %v", r)
	}
}

func TestDetectDownloadRequest(t *testing.T) {
	r := Detect([]byte(`{"certificates":[{"kty":"RSA"}],"required":2}`))
	if r.Kind != Unknown || !strings.Contains(r.Summary, "download request") {
		t.Errorf("%v", r)
	}
}

func BenchmarkDetectSecurityDomainFile(b *testing.B) {
	data := testvectors.Read(b, "sd-3of2/sd.json")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if r := Detect(data); r.Kind != SecurityDomain || r.Err != nil {
			b.Fatal(r)
		}
	}
}
