package cli

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custodian-hsm/custodian/crypto/jwe"
	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/internal/testvectors"
)

// run executes one command line through the dispatcher, as main does.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut,
		ReadSecret: func(string) ([]byte, error) { return nil, fmt.Errorf("no terminal in tests") }}
	err := Run(env, args)
	if err != nil {
		errOut.WriteString("custodian: " + err.Error() + "\n")
	}
	return out.String(), errOut.String(), ExitCode(err)
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := run(t, args...)
	if code != 0 {
		t.Fatalf("custodian %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func vec(t *testing.T, elem ...string) string {
	return testvectors.Path(t, append([]string{"sd-3of2"}, elem...)...)
}

// openBlob opens a blob with the vectors' exchange private key and
// compares every item with expected.json.
func openBlob(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sd.ParseRestoreBlob(data)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(testvectors.Read(t, "sd-3of2", "exchange.key"))
	k, _ := x509.ParsePKCS8PrivateKey(block.Bytes)
	o, err := sd.OpenRestoreBlob(b, jwe.RSAKeyDecrypter{Key: k.(*rsa.PrivateKey)})
	if err != nil {
		t.Fatal(err)
	}
	var exp struct {
		ContentsHex map[string]string `json:"contents_hex"`
	}
	json.Unmarshal(testvectors.Read(t, "sd-3of2", "expected.json"), &exp)
	for i, tag := range o.Tags {
		if hex.EncodeToString(o.Items[i]) != exp.ContentsHex[tag] {
			t.Errorf("blob item %s differs from the vector", tag)
		}
	}
}

func TestVectorsThroughTheCLI(t *testing.T) {
	out := mustRun(t, "sd verify", "--sd-file", vec(t, "sd.json"), "--cert", vec(t, "keys", "cert_0.cer"), "--cert", vec(t, "keys", "cert_1.cer"), "--cert", vec(t, "keys", "cert_2.cer"), "--quorum", "2")
	if !strings.Contains(out, "verification passed") {
		t.Errorf("sd verify:\n%s", out)
	}
	for _, pair := range [][2]string{{"cert_0", "cert_2"}, {"cert_1", "cert_0"}} {
		blob := filepath.Join(t.TempDir(), "blob.json")
		_, errOut, code := run(t, "sd", "restore-blob", "--sd-file", vec(t, "sd.json"), "--sd-exchange-key", vec(t, "exchange.cer"), acceptVectorKey,
			"--key", "file:"+vec(t, "keys", pair[0]+".key"), "--key", "file:"+vec(t, "keys", pair[1]+".key"), "--out", blob, "--exchange-key-sha256", exchangeSHA(t).WordString())
		if code != 0 {
			t.Fatalf("restore-blob %v: %d %s", pair, code, errOut)
		}
		if !strings.Contains(errOut, "093a 787f") || !strings.Contains(errOut, "words:") {
			t.Errorf("the exchange key fingerprint is not shown as hex and words:\n%s", errOut)
		}
		openBlob(t, blob)
	}
	// All three keys: the cross-check runs and still succeeds.
	blob := filepath.Join(t.TempDir(), "blob.json")
	mustRun(t, "sd", "restore-blob", "--sd-file", vec(t, "sd.json"), "--sd-exchange-key", vec(t, "exchange.cer"), acceptVectorKey,
		"--key", "file:"+vec(t, "keys", "cert_0.key"), "--key", "file:"+vec(t, "keys", "cert_1.key"), "--key", "file:"+vec(t, "keys", "cert_2.key"), "--out", blob, "--exchange-key-sha256", exchangeSHA(t).Hex())
	openBlob(t, blob)
	// The download request for the vector certificates.
	req := filepath.Join(t.TempDir(), "req.json")
	mustRun(t, "sd", "request", "--cert", vec(t, "keys", "cert_0.cer"), "--cert", vec(t, "keys", "cert_1.cer"), "--cert", vec(t, "keys", "cert_2.cer"), "--quorum", "2", "--out", req)
	if b, _ := os.ReadFile(req); !bytes.Contains(b, []byte(`"required": 2}`)) {
		t.Errorf("request body %s", b)
	}
}

// A drill through the CLI only, as an operator's script would run it.
func TestDrillRoundTripsThroughTheCLI(t *testing.T) {
	cases := []struct {
		n, m, bits, items int
	}{
		{3, 2, 4096, 0},
		{5, 3, 3072, 1},
		{10, 10, 2048, 8},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("N%d-M%d-%dbit-%ditems", c.n, c.m, c.bits, c.items), func(t *testing.T) {
			dir := t.TempDir()
			keys, hsm := filepath.Join(dir, "keys"), filepath.Join(dir, "hsm")
			mustRun(t, "drill", "keys", "--dir", keys, "--count", fmt.Sprint(c.n), "--bits", fmt.Sprint(c.bits))
			var certs, certFlags []string
			for i := 0; i < c.n; i++ {
				p := filepath.Join(keys, fmt.Sprintf("cert_%d.cer", i))
				certs = append(certs, p)
				certFlags = append(certFlags, "--cert", p)
			}
			sdPath := filepath.Join(dir, "sd.json")
			args := []string{"drill", "hsm", "activate", "--hsm-dir", hsm, "--quorum", fmt.Sprint(c.m), "--out", sdPath}
			if c.items > 0 {
				args = append(args, "--items", fmt.Sprint(c.items))
			}
			mustRun(t, append(args, certs...)...)
			if f, err := sd.ParseFile(mustRead(t, sdPath)); err != nil || (c.items > 0 && len(f.EncData.Data) != c.items) {
				t.Fatalf("SD from the drill HSM: %v", err)
			}
			mustRun(t, append([]string{"sd", "verify", "--sd-file", sdPath, "--quorum", fmt.Sprint(c.m)}, certFlags...)...)
			sde := filepath.Join(dir, "sde.cer")
			mustRun(t, "drill", "hsm", "init-recovery", "--hsm-dir", hsm, "--out", sde)
			rb := []string{"sd", "restore-blob", "--drill", "--sd-file", sdPath, "--sd-exchange-key", sde, "--out", filepath.Join(dir, "blob.json")}
			for i := c.n - c.m; i < c.n; i++ {
				rb = append(rb, "--key", "file:"+filepath.Join(keys, fmt.Sprintf("cert_%d.key", i)))
			}
			mustRun(t, rb...)
			out := mustRun(t, "drill", "hsm", "upload", "--hsm-dir", hsm, "--blob", filepath.Join(dir, "blob.json"))
			if !strings.Contains(out, "restored") {
				t.Errorf("upload: %s", out)
			}
		})
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// editSD rewrites the vector SD as generic JSON.
func editSD(t *testing.T, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	json.Unmarshal(testvectors.Read(t, "sd-3of2", "sd.json"), &m)
	edit(m)
	b, _ := json.Marshal(m)
	return b
}

func shares(m map[string]any) []any {
	return m["SharedKeys"].(map[string]any)["enc_shares"].([]any)
}

func items(m map[string]any) []any {
	return m["EncData"].(map[string]any)["data"].([]any)
}

// reencryptShare decrypts share i with its vector key, lets f damage the
// plaintext, and encrypts it back to the same certificate.
func reencryptShare(t *testing.T, m map[string]any, i int, f func([]byte)) {
	t.Helper()
	block, _ := pem.Decode(testvectors.Read(t, "sd-3of2", "keys", fmt.Sprintf("cert_%d.key", i)))
	k, _ := x509.ParsePKCS8PrivateKey(block.Bytes)
	priv := k.(*rsa.PrivateKey)
	s := shares(m)[i].(map[string]any)
	o, err := jwe.Parse(s["enc_key"].(string))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := o.Decrypt(jwe.RSAKeyDecrypter{Key: priv})
	if err != nil {
		t.Fatal(err)
	}
	f(plain)
	enc, err := jwe.EncryptRSAOAEP256(&priv.PublicKey, "not used", plain, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s["enc_key"] = enc
}

func certFile(t *testing.T, dir string, pub, priv any) string {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bad"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, fmt.Sprintf("cert-%d.cer", time.Now().UnixNano()))
	os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	return p
}

// Every bad input gets a specific message, the right exit code, and no
// output file.
func TestBadInputIsRefusedPrecisely(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sdVec := testvectors.Read(t, "sd-3of2", "sd.json")
	k0, k1, k2 := "file:"+vec(t, "keys", "cert_0.key"), "file:"+vec(t, "keys", "cert_1.key"), "file:"+vec(t, "keys", "cert_2.key")
	ex := vec(t, "exchange.cer")
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	smallKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	existing := write("existing.json", []byte("keep me"))

	flipShare := editSD(t, func(m map[string]any) {
		s := shares(m)[0].(map[string]any)
		parts := strings.Split(s["enc_key"].(string), ".")
		ct := []byte(parts[3])
		ct[10] ^= 0x01
		if ct[10] == '_' || ct[10] == '-' {
			ct[10] = 'A'
		}
		parts[3] = string(ct)
		s["enc_key"] = strings.Join(parts, ".")
	})
	mixedX := editSD(t, func(m map[string]any) { reencryptShare(t, m, 0, func(p []byte) { p[3] ^= 0x02 }) })
	wrongTag := editSD(t, func(m map[string]any) { items(m)[1].(map[string]any)["tag"] = "renamed_backup" })

	restore := func(sdPath string, keys ...string) []string {
		a := []string{"sd", "restore-blob", "--sd-file", sdPath, "--sd-exchange-key", ex, acceptVectorKey, "--out", filepath.Join(dir, "never.json"), "--exchange-key-sha256", exchangeSHA(t).Hex()}
		for _, k := range keys {
			a = append(a, "--key", k)
		}
		return a
	}
	verify := func(sdPath string) []string {
		return []string{"sd", "verify", "--sd-file", sdPath, "--cert", vec(t, "keys", "cert_0.cer"), "--cert", vec(t, "keys", "cert_1.cer"), "--cert", vec(t, "keys", "cert_2.cer"), "--quorum", "2"}
	}
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"truncated JSON", restore(write("trunc.json", sdVec[:len(sdVec)/3]), k0, k2), 2, "truncated"},
		{"invalid JSON", restore(write("invalid.json", []byte(`{"EncData": [}`)), k0, k2), 2, "invalid JSON"},
		{"missing field", verify(write("missing.json", editSD(t, func(m map[string]any) { delete(m, "SharedKeys") }))), 2, "SharedKeys: missing"},
		{"wrong type", verify(write("type.json", editSD(t, func(m map[string]any) { m["SharedKeys"].(map[string]any)["required"] = "two" }))), 2, "must be an integer"},
		{"required out of range", verify(write("req11.json", editSD(t, func(m map[string]any) { m["SharedKeys"].(map[string]any)["required"] = 11 }))), 2, "required: is 11"},
		{"required above shares", verify(write("req4.json", editSD(t, func(m map[string]any) { m["SharedKeys"].(map[string]any)["required"] = 4 }))), 2, "only 3 shares"},
		{"duplicate thumbprints", verify(write("dup.json", editSD(t, func(m map[string]any) {
			shares(m)[2].(map[string]any)["x5t_256"] = shares(m)[1].(map[string]any)["x5t_256"]
		}))), 2, "duplicates share 1"},
		{"unknown thumbprint", verify(write("unknown.json", editSD(t, func(m map[string]any) {
			shares(m)[1].(map[string]any)["x5t_256"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		}))), 1, "share 2 (x5t_256 AAAA"},
		{"share with a flipped bit", restore(write("flip.json", flipShare), k0, k2), 1, "key 1 (file:"},
		{"share with mixed x", restore(write("mixed.json", mixedX), k0, k2), 1, "decrypts but is malformed"},
		{"EncData item with a wrong tag", restore(write("tag.json", wrongTag), k0, k2), 1, `"renamed_backup"`},
		{"exchange key not RSA", []string{"sd", "restore-blob", "--sd-file", vec(t, "sd.json"), "--sd-exchange-key", certFile(t, dir, &ecKey.PublicKey, ecKey), "--key", k0, "--key", k2, "--out", filepath.Join(dir, "never.json")}, 2, "needs RSA"},
		{"exchange key under 2048 bits", []string{"sd", "restore-blob", "--sd-file", vec(t, "sd.json"), "--sd-exchange-key", certFile(t, dir, &smallKey.PublicKey, smallKey), acceptVectorKey, "--key", k0, "--key", k2, "--out", filepath.Join(dir, "never.json")}, 1, "1024-bit"},
		{"key that matches no share", restore(vec(t, "sd.json"), k0, "file:"+vec(t, "exchange.key")), 1, "matches no share"},
		{"fewer keys than the quorum", restore(vec(t, "sd.json"), k1), 2, "needs 2"},
		{"output exists", []string{"sd", "restore-blob", "--sd-file", vec(t, "sd.json"), "--sd-exchange-key", ex, acceptVectorKey, "--key", k0, "--key", k2, "--out", existing}, 2, "already exists"},
		{"file over 10 MiB", verify(write("huge.json", make([]byte, sd.MaxFileSize+1))), 2, "over the"},
		{"unknown command", []string{"sd", "frobnicate"}, 2, "unknown command"},
		{"bad flag", []string{"sd", "verify", "--no-such-flag"}, 2, "flag provided but not defined"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := run(t, c.args...)
			if code != c.code || !strings.Contains(out+errOut, c.want) {
				t.Errorf("exit %d (want %d), stderr:\n%s\nwant it to contain %q", code, c.code, errOut, c.want)
			}
			if strings.Count(strings.TrimSpace(errOut), "custodian:") > 1 {
				t.Errorf("more than one error line:\n%s", errOut)
			}
			if _, err := os.Stat(filepath.Join(dir, "never.json")); err == nil {
				t.Fatal("an output file was written for bad input")
			}
		})
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Error("an existing output file was changed")
	}
}

func TestTranscriptVerifyThroughTheCLI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "drill")
	mustRun(t, "drill", "run", "--custodians", "3", "--quorum", "2", "--dir", dir)
	matches, _ := filepath.Glob(filepath.Join(dir, "*transcript.jsonl"))
	if len(matches) != 1 {
		t.Fatalf("transcripts: %v", matches)
	}
	out := mustRun(t, "transcript", "verify", matches[0])
	if !strings.Contains(out, "transcript OK") || !strings.Contains(out, "DRILL drill ceremony") {
		t.Errorf("verify:\n%s", out)
	}
	data := mustRead(t, matches[0])
	tampered := bytes.Replace(data, []byte("Custodian 2"), []byte("Custodian 9"), 1)
	bad := filepath.Join(t.TempDir(), "tampered.jsonl")
	os.WriteFile(bad, tampered, 0o600)
	out, errOut, code := run(t, "transcript", "verify", bad)
	if code != 1 || !strings.Contains(out, "ALTERED line") || !strings.Contains(errOut, "failed verification") {
		t.Errorf("tampered transcript: exit %d\n%s%s", code, out, errOut)
	}
}

func TestTranscriptPrintThroughTheCLI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "drill")
	mustRun(t, "drill", "run", "--dir", dir)
	matches, _ := filepath.Glob(filepath.Join(dir, "*transcript.jsonl"))
	pdf := filepath.Join(t.TempDir(), "record.pdf")
	mustRun(t, "transcript", "print", matches[0], "--out", pdf)
	if b := mustRead(t, pdf); !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Fatal("not a PDF")
	}
	pdf2 := filepath.Join(t.TempDir(), "again.pdf")
	mustRun(t, "transcript", "print", matches[0], "--out", pdf2)
	if !bytes.Equal(mustRead(t, pdf), mustRead(t, pdf2)) {
		t.Error("printing the same transcript twice gave different PDFs")
	}
	tampered := filepath.Join(t.TempDir(), "t.jsonl")
	os.WriteFile(tampered, bytes.Replace(mustRead(t, matches[0]), []byte("Custodian 1"), []byte("Custodian 7"), 1), 0o600)
	if _, _, code := run(t, "transcript", "print", tampered, "--out", filepath.Join(t.TempDir(), "x.pdf")); code != 1 {
		t.Errorf("an altered transcript printed without --force: exit %d", code)
	}
	mustRun(t, "transcript", "print", tampered, "--out", filepath.Join(t.TempDir(), "forced.pdf"), "--force")
}
