package sd

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/custodian-hsm/custodian/crypto/jwe"
	"github.com/custodian-hsm/custodian/internal/testvectors"
)

type vectorKey struct {
	cert *x509.Certificate
	priv *rsa.PrivateKey
}

func (k vectorKey) Certificate() *x509.Certificate { return k.cert }
func (k vectorKey) DecryptKey(alg string, ek []byte) ([]byte, error) {
	return jwe.RSAKeyDecrypter{Key: k.priv}.DecryptKey(alg, ek)
}

func loadKey(t testing.TB, name string) vectorKey {
	t.Helper()
	cert, err := ParseCertificate(testvectors.Read(t, "sd-3of2", "keys", name+".cer"))
	if err != nil {
		t.Fatal(err)
	}
	return vectorKey{cert: cert, priv: parsePKCS8(t, testvectors.Read(t, "sd-3of2", "keys", name+".key"))}
}

func parsePKCS8(t testing.TB, pemBytes []byte) *rsa.PrivateKey {
	t.Helper()
	block, _ := pem.Decode(pemBytes)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PrivateKey)
}

type expected struct {
	MasterKeyHex string            `json:"master_key_hex"`
	ContentsHex  map[string]string `json:"contents_hex"`
}

func loadExpected(t testing.TB) expected {
	t.Helper()
	var e expected
	if err := json.Unmarshal(testvectors.Read(t, "sd-3of2", "expected.json"), &e); err != nil {
		t.Fatal(err)
	}
	return e
}

func vectorSD(t testing.TB) (*File, []byte) {
	t.Helper()
	data := testvectors.Read(t, "sd-3of2", "sd.json")
	f, err := ParseFile(data)
	if err != nil {
		t.Fatal(err)
	}
	return f, data
}

func TestVectorSDRoundTripsByteForByte(t *testing.T) {
	f, data := vectorSD(t)
	if got := f.Marshal(); !bytes.Equal(got, data) {
		t.Fatalf("Marshal(ParseFile(sd.json)) differs from sd.json at byte %d", firstDiff(got, data))
	}
	if len(f.EncData.Data) != 3 || f.SharedKeys.Required != 2 || len(f.SharedKeys.EncShares) != 3 {
		t.Errorf("unexpected shape: %d items, required %d, %d shares", len(f.EncData.Data), f.SharedKeys.Required, len(f.SharedKeys.EncShares))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestVectorEveryPairRecoversTheMasterKeyAndContents(t *testing.T) {
	f, _ := vectorSD(t)
	exp := loadExpected(t)
	keys := []vectorKey{loadKey(t, "cert_0"), loadKey(t, "cert_1"), loadKey(t, "cert_2")}
	for _, pair := range [][2]int{{0, 1}, {0, 2}, {1, 2}, {2, 0}} {
		var shares []*Share
		for _, i := range pair {
			s, err := OpenShare(f, keys[i])
			if err != nil {
				t.Fatal(err)
			}
			shares = append(shares, s)
		}
		rec, err := Recover(f, shares)
		if err != nil {
			t.Fatalf("pair %v: %v", pair, err)
		}
		if hex.EncodeToString(rec.MasterKey()) != exp.MasterKeyHex {
			t.Errorf("pair %v: master key %x", pair, rec.MasterKey())
		}
		for i, tag := range rec.Tags() {
			if hex.EncodeToString(rec.Items()[i]) != exp.ContentsHex[tag] {
				t.Errorf("pair %v: item %s differs", pair, tag)
			}
		}
		rec.Wipe()
		if rec.MasterKey() != nil {
			t.Error("Wipe left the master key")
		}
	}
}

func TestAllThreeSharesCrossCheck(t *testing.T) {
	f, _ := vectorSD(t)
	var shares []*Share
	for _, n := range []string{"cert_0", "cert_1", "cert_2"} {
		s, err := OpenShare(f, loadKey(t, n))
		if err != nil {
			t.Fatal(err)
		}
		shares = append(shares, s)
	}
	rec, err := Recover(f, shares)
	if err != nil {
		t.Fatal(err)
	}
	rec.Wipe()
	// Corrupt one share's value (still well-formed): it must be named.
	v := shares[1].value
	v[0] ^= 0x01 // the low bit of the first word's value
	_, err = Recover(f, shares)
	if err == nil || !strings.Contains(err.Error(), "bad share: share x=2") {
		t.Fatalf("corrupted share not named: %v", err)
	}
}

func TestRecoverNeedsTheQuorumAndDistinctCustodians(t *testing.T) {
	f, _ := vectorSD(t)
	s0, _ := OpenShare(f, loadKey(t, "cert_0"))
	if _, err := Recover(f, []*Share{s0}); err == nil || !strings.Contains(err.Error(), "1 more custodians") {
		t.Errorf("one share: %v", err)
	}
	s0b, _ := OpenShare(f, loadKey(t, "cert_0"))
	if _, err := Recover(f, []*Share{s0, s0b}); err == nil || !strings.Contains(err.Error(), "cannot count twice") {
		t.Errorf("same share twice: %v", err)
	}
}

func TestOurBlobOpensWithTheExchangeKey(t *testing.T) {
	f, _ := vectorSD(t)
	exp := loadExpected(t)
	ex, err := ParseExchangeKey(testvectors.Read(t, "sd-3of2", "exchange.cer"))
	if err != nil {
		t.Fatal(err)
	}
	s0, _ := OpenShare(f, loadKey(t, "cert_0"))
	s2, _ := OpenShare(f, loadKey(t, "cert_2"))
	rec, err := Recover(f, []*Share{s0, s2})
	if err != nil {
		t.Fatal(err)
	}
	blob, err := BuildRestoreBlob(rec, ex, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.HasSuffix(blob, []byte("\n")) || !bytes.HasPrefix(blob, []byte(`{"EncData": {"data": [{"compact_jwe": "`)) || !bytes.Contains(blob, []byte(`], "kdf": "sp108_kdf"}, "WrappedKey": {"enc_key": "`)) {
		t.Errorf("blob is not in the CLI's json.dumps layout: %.120s…", blob)
	}
	b, err := ParseRestoreBlob(blob)
	if err != nil {
		t.Fatal(err)
	}
	if b.WrappedKey.X5tS256 != ex.Thumbprint {
		t.Error("blob names another exchange key")
	}
	hdr, _ := jwe.Parse(b.WrappedKey.EncKey)
	if hdr.RawHeader != base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RSA-OAEP-256","enc":"A256CBC-HS512","kid":"not used"}`)) {
		t.Errorf("wrapped key header %s", hdr.RawHeader)
	}
	opened, err := OpenRestoreBlob(b, jwe.RSAKeyDecrypter{Key: parsePKCS8(t, testvectors.Read(t, "sd-3of2", "exchange.key"))})
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(opened.MasterKey) == exp.MasterKeyHex {
		t.Error("the blob reuses the old master key: it must be fresh")
	}
	for i, tag := range opened.Tags {
		if hex.EncodeToString(opened.Items[i]) != exp.ContentsHex[tag] {
			t.Errorf("blob item %s differs", tag)
		}
	}
}

func TestVectorBlobOpensInBothLayoutsAndForms(t *testing.T) {
	exp := loadExpected(t)
	data := testvectors.Read(t, "sd-3of2", "blob.json")
	b, err := ParseRestoreBlob(data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Marshal(), data) {
		t.Errorf("Marshal(ParseRestoreBlob(blob.json)) differs at byte %d", firstDiff(b.Marshal(), data))
	}
	priv := parsePKCS8(t, testvectors.Read(t, "sd-3of2", "exchange.key"))
	check := func(b *RestoreBlob) {
		t.Helper()
		o, err := OpenRestoreBlob(b, jwe.RSAKeyDecrypter{Key: priv})
		if err != nil {
			t.Fatal(err)
		}
		for i, tag := range o.Tags {
			if hex.EncodeToString(o.Items[i]) != exp.ContentsHex[tag] {
				t.Errorf("item %s differs", tag)
			}
		}
	}
	check(b)
	// PowerShell's compact layout.
	var generic map[string]any
	json.Unmarshal(data, &generic)
	compact, _ := json.Marshal(generic)
	b2, err := ParseRestoreBlob(compact)
	if err != nil {
		t.Fatal(err)
	}
	check(b2)
	// The 2020 CLI snapshot's base64url-wrapped enc_key.
	wk := generic["WrappedKey"].(map[string]any)
	wk["enc_key"] = base64.RawURLEncoding.EncodeToString([]byte(wk["enc_key"].(string)))
	old, _ := json.Marshal(generic)
	b3, err := ParseRestoreBlob(old)
	if err != nil {
		t.Fatal(err)
	}
	check(b3)
}

func TestExchangeKeyForms(t *testing.T) {
	pemData := testvectors.Read(t, "sd-3of2", "exchange.cer")
	ex, err := ParseExchangeKey(pemData)
	if err != nil {
		t.Fatal(err)
	}
	der := ex.Certificate.Raw
	jwk := map[string]any{"e": b64uInt(big.NewInt(int64(ex.PublicKey.E))), "key_ops": []string{"wrapKey"}, "kid": "not used", "kty": "RSA",
		"n": b64uInt(ex.PublicKey.N), "x5c": []string{base64.StdEncoding.EncodeToString(der)}, "x5t": ThumbprintSHA1(der), "x5t#S256": Thumbprint(der)}
	jwkText, _ := json.Marshal(jwk)
	asString, _ := json.Marshal(map[string]any{"key_format": "jwk", "transfer_key": string(jwkText)})
	asObject, _ := json.Marshal(map[string]any{"key_format": "jwk", "transfer_key": jwk})
	asPEM, _ := json.Marshal(map[string]any{"key_format": "pem", "transfer_key": string(pemData)})
	pem64 := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	for name, data := range map[string][]byte{"PEM 65": pemData, "PEM 64": pem64, "DER": der, "JWK": jwkText,
		"transfer string": asString, "transfer object": asObject, "transfer pem": asPEM} {
		got, err := ParseExchangeKey(data)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.Equal(got.Certificate.Raw, der) || got.Thumbprint != Thumbprint(der) {
			t.Errorf("%s: another certificate", name)
		}
	}
	jwk["n"] = b64uInt(big.NewInt(12345))
	forged, _ := json.Marshal(jwk)
	if _, err := ParseExchangeKey(forged); err == nil || !strings.Contains(err.Error(), "differs from its certificate") {
		t.Errorf("JWK whose n differs from x5c: %v", err)
	}
}

func TestExchangeKeyMustBeRSA2048(t *testing.T) {
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	if _, err := ParseExchangeKey(selfSigned(t, small)); err == nil || !strings.Contains(err.Error(), "1024-bit") {
		t.Errorf("1024-bit exchange key: %v", err)
	}
	if _, err := ParseExchangeKey([]byte("hello")); err == nil || !strings.Contains(err.Error(), "not a certificate") {
		t.Errorf("garbage: %v", err)
	}
	if _, err := ParseExchangeKey(ecCert(t)); err == nil || !strings.Contains(err.Error(), "needs RSA") {
		t.Errorf("ECDSA exchange key: %v", err)
	}
}

func selfSigned(t testing.TB, key *rsa.PrivateKey) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "t"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestDownloadRequest(t *testing.T) {
	var certs []*x509.Certificate
	for _, n := range []string{"cert_0", "cert_1", "cert_2"} {
		certs = append(certs, loadKey(t, n).cert)
	}
	body, err := BuildDownloadRequest(certs, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(body, []byte(`{"certificates": [{"x5c": ["`)) || !bytes.HasSuffix(body, []byte(`], "required": 2}`)) {
		t.Errorf("layout: %.80s … %s", body, body[len(body)-30:])
	}
	var req struct {
		Certificates []map[string]json.RawMessage `json:"certificates"`
		Required     int                          `json:"required"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		t.Fatal(err)
	}
	jwk := req.Certificates[1]
	var x5t256, alg string
	json.Unmarshal(jwk["x5t#S256"], &x5t256)
	json.Unmarshal(jwk["alg"], &alg)
	if x5t256 != Thumbprint(certs[1].Raw) || alg != "RSA-OAEP-256" || req.Required != 2 {
		t.Errorf("JWK 2: %s", jwk)
	}
	for _, c := range []struct {
		certs  []*x509.Certificate
		quorum int
		want   string
	}{
		{certs[:2], 2, "3 to 10"},
		{certs, 4, "between 2 and the number"},
		{certs, 1, "between 2"},
		{[]*x509.Certificate{certs[0], certs[1], certs[0]}, 2, "same as certificate 1"},
	} {
		if _, err := BuildDownloadRequest(c.certs, c.quorum); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("BuildDownloadRequest(%d certs, %d) = %v, want %q", len(c.certs), c.quorum, err, c.want)
		}
	}
}

func TestVerifyNamesEveryMismatch(t *testing.T) {
	f, _ := vectorSD(t)
	c0, c1, c2 := loadKey(t, "cert_0").cert, loadKey(t, "cert_1").cert, loadKey(t, "cert_2").cert
	if r := Verify(f, []*x509.Certificate{c0, c1, c2}, 2); !r.OK() {
		t.Fatalf("vector fails verification:\n%s", r)
	}
	foreignKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	foreign, _ := ParseCertificate(selfSigned(t, foreignKey))
	cases := []struct {
		certs  []*x509.Certificate
		quorum int
		want   string
	}{
		{[]*x509.Certificate{c0, c1, c2}, 3, "quorum chosen at activation is 3"},
		{[]*x509.Certificate{c0, c1}, 2, "share 3 (x5t_256"},
		{[]*x509.Certificate{c0, c1, c2, foreign}, 2, "certificate 4 (t, x5t_256"},
		{[]*x509.Certificate{c0, c1, foreign}, 2, "belongs to no enrolled certificate"},
	}
	for _, c := range cases {
		r := Verify(f, c.certs, c.quorum)
		if r.OK() || !strings.Contains(r.String(), c.want) {
			t.Errorf("Verify: want a failure naming %q, got\n%s", c.want, r)
		}
	}
}

// mutateSD edits the vector SD as generic JSON.
func mutateSD(t *testing.T, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	json.Unmarshal(testvectors.Read(t, "sd-3of2", "sd.json"), &m)
	edit(m)
	b, _ := json.Marshal(m)
	return b
}

func TestParseFileRejectsBadInputPrecisely(t *testing.T) {
	_, data := vectorSD(t)
	shares := func(m map[string]any) []any { return m["SharedKeys"].(map[string]any)["enc_shares"].([]any) }
	cases := map[string]struct {
		data []byte
		want string
	}{
		"empty":             {nil, "empty"},
		"truncated":         {data[:len(data)/2], "truncated"},
		"not json":          {[]byte("hello world"), "not JSON"},
		"syntax":            {[]byte(`{"EncData": }`), "line 1, EncData"},
		"array":             {[]byte(`[1,2]`), "not a JSON object"},
		"trailing":          {append(append([]byte{}, data...), []byte("{}")...), "trailing data"},
		"v1":                {[]byte(`{"SplitKeys": {}, "version": 1}`), "legacy version 1"},
		"v3":                {mutateSD(t, func(m map[string]any) { m["version"] = 3 }), "unknown version 3"},
		"version string":    {mutateSD(t, func(m map[string]any) { m["version"] = "2" }), "version: must be an integer"},
		"missing EncData":   {mutateSD(t, func(m map[string]any) { delete(m, "EncData") }), "EncData: missing"},
		"missing shares":    {mutateSD(t, func(m map[string]any) { delete(m["SharedKeys"].(map[string]any), "enc_shares") }), "enc_shares: missing"},
		"shares not array":  {mutateSD(t, func(m map[string]any) { m["SharedKeys"].(map[string]any)["enc_shares"] = "x" }), "must be an array"},
		"required 1":        {mutateSD(t, func(m map[string]any) { m["SharedKeys"].(map[string]any)["required"] = 1 }), "required: is 1"},
		"required 11":       {mutateSD(t, func(m map[string]any) { m["SharedKeys"].(map[string]any)["required"] = 11 }), "required: is 11"},
		"required > shares": {mutateSD(t, func(m map[string]any) { m["SharedKeys"].(map[string]any)["required"] = 4 }), "only 3 shares"},
		"required float":    {mutateSD(t, func(m map[string]any) { m["SharedKeys"].(map[string]any)["required"] = 2.5 }), "must be an integer"},
		"wrong algorithm":   {mutateSD(t, func(m map[string]any) { m["SharedKeys"].(map[string]any)["key_algorithm"] = "xor_split" }), "key_algorithm"},
		"wrong kdf":         {mutateSD(t, func(m map[string]any) { m["EncData"].(map[string]any)["kdf"] = "hkdf" }), "EncData.kdf"},
		"no items":          {mutateSD(t, func(m map[string]any) { m["EncData"].(map[string]any)["data"] = []any{} }), "nothing to recover"},
		"duplicate thumb": {mutateSD(t, func(m map[string]any) {
			shares(m)[1].(map[string]any)["x5t_256"] = shares(m)[0].(map[string]any)["x5t_256"]
		}), "enc_shares[1].x5t_256: duplicates share 0"},
		"bad thumb":     {mutateSD(t, func(m map[string]any) { shares(m)[2].(map[string]any)["x5t_256"] = "abc" }), "enc_shares[2].x5t_256"},
		"share not jwe": {mutateSD(t, func(m map[string]any) { shares(m)[0].(map[string]any)["enc_key"] = "a.b" }), "enc_shares[0].enc_key"},
		"share number":  {mutateSD(t, func(m map[string]any) { shares(m)[0].(map[string]any)["enc_key"] = 5 }), "must be a string"},
		"item missing tag": {mutateSD(t, func(m map[string]any) {
			delete(m["EncData"].(map[string]any)["data"].([]any)[1].(map[string]any), "tag")
		}), "data[1].tag: missing"},
		"duplicate item tag": {mutateSD(t, func(m map[string]any) {
			m["EncData"].(map[string]any)["data"].([]any)[2].(map[string]any)["tag"] = "hsm_backup"
		}), "already tags item 0"},
		"too big": {make([]byte, MaxFileSize+1), "over the"},
	}
	for name, c := range cases {
		_, err := ParseFile(c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: ParseFile = %v, want an error containing %q", name, err, c.want)
		}
	}
}

func TestParseFileAcceptsTheBase64TextForm(t *testing.T) {
	_, data := vectorSD(t)
	f, err := ParseFile([]byte(base64.StdEncoding.EncodeToString(data)))
	if err != nil || !bytes.Equal(f.Marshal(), data) {
		t.Fatalf("base64 form: %v", err)
	}
}

func TestOpenShareFailures(t *testing.T) {
	f, _ := vectorSD(t)
	foreignKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	foreign, _ := ParseCertificate(selfSigned(t, foreignKey))
	if _, err := OpenShare(f, vectorKey{cert: foreign, priv: foreignKey}); err == nil || !strings.Contains(err.Error(), "matches no share") {
		t.Errorf("foreign key: %v", err)
	}
	// The right certificate but the wrong private key: decryption fails and
	// names the share.
	k := loadKey(t, "cert_1")
	k.priv = foreignKey
	if _, err := OpenShare(f, k); err == nil || !strings.Contains(err.Error(), "share 2 for certificate") {
		t.Errorf("wrong private key: %v", err)
	}
	// A share whose plaintext has mixed x values is named as malformed.
	good := loadKey(t, "cert_0")
	s, _ := OpenShare(f, good)
	mixed := append([]byte(nil), s.Bytes()...)
	mixed[3] ^= 0x02 // second word's x changes
	enc, err := jwe.EncryptRSAOAEP256(good.priv.Public().(*rsa.PublicKey), "not used", mixed, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f.SharedKeys.EncShares[0].EncKey = enc
	if _, err := OpenShare(f, good); err == nil || !strings.Contains(err.Error(), "decrypts but is malformed") {
		t.Errorf("mixed x: %v", err)
	}
}

func FuzzParseFile(f *testing.F) {
	_, data := vectorSD(f)
	f.Add(data)
	f.Add(data[:100])
	f.Add([]byte(`{"EncData":{"data":[],"kdf":"sp108_kdf"},"SharedKeys":{"enc_shares":[],"key_algorithm":"shamir_share","required":2},"version":2}`))
	f.Add([]byte(`{"version":1,"SplitKeys":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := ParseFile(b)
		if err != nil {
			return
		}
		again, err := ParseFile(file.Marshal())
		if err != nil || !bytes.Equal(again.Marshal(), file.Marshal()) {
			t.Fatalf("a parsed file does not round-trip: %v", err)
		}
	})
}

func FuzzParseExchangeKey(f *testing.F) {
	f.Add(testvectors.Read(f, "sd-3of2", "exchange.cer"))
	f.Add([]byte(`{"key_format":"jwk","transfer_key":"{\"kty\":\"RSA\",\"x5c\":[\"MII=\"]}"}`))
	f.Add([]byte{0x30, 0x82, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		ex, err := ParseExchangeKey(b)
		if err == nil && (ex.PublicKey.N.BitLen() < MinRSABits || ex.Thumbprint != Thumbprint(ex.Certificate.Raw)) {
			t.Fatal("accepted a key Azure would not use")
		}
	})
}

func FuzzParseRestoreBlob(f *testing.F) {
	f.Add(testvectors.Read(f, "sd-3of2", "blob.json"))
	f.Add([]byte(`{"EncData":{"data":[],"kdf":"sp108_kdf"},"WrappedKey":{"enc_key":"x","x5t_256":"y"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		blob, err := ParseRestoreBlob(b)
		if err != nil {
			return
		}
		if _, err := ParseRestoreBlob(blob.Marshal()); err != nil {
			t.Fatalf("a parsed blob does not round-trip: %v", err)
		}
	})
}
