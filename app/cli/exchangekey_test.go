package cli

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custodian-hsm/custodian/crypto/drillhsm"
	"github.com/custodian-hsm/custodian/crypto/sgx"
	"github.com/custodian-hsm/custodian/crypto/sgx/quotegen"
	"github.com/custodian-hsm/custodian/internal/testvectors"
)

const liveAtFlag = "--at=2025-04-23T00:00:00Z"

// acceptVectorKey is the witnessed exception the tests record for exchange
// keys that carry no genuine attestation (the vectors' key comes from no
// HSM; a drill HSM's is under the DRILL root, which production refuses).
var acceptVectorKey = "--accept-unattested-exchange-key=test exchange key from a simulator, not an HSM; approved by the test"

func live(t *testing.T, name string) string { return testvectors.Path(t, "live-2025-04", name) }

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// The done-when lines of issue 11.
func TestExchangeKeyCommandLive(t *testing.T) {
	for _, name := range []string{"exchange.cer", "exchange.der", "transfer-key.json"} {
		out, errOut, code := run(t, "sd", "exchange-key", "--sd-exchange-key", live(t, name), liveAtFlag)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, errOut)
		}
		for _, want := range []string{"verdict: GENUINE", "MRENCLAVE: 5986123b3a753671389708d2c8fc9be4080c95146fba37a0adbc66676e49fb36",
			"MRSIGNER: db55904b231f08298eb093180562d07631c3cab9b7706b2efa53da58b42c943a", "ISVPRODID: 1  ISVSVN: 1", "(not debug)",
			"the key is bound to the quote", "checked at: 2025-04-23T00:00:00Z", "TCB status not evaluated (no collateral)", "tcb?fmspc=00606a000000"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: missing %q in\n%s", name, want, out)
			}
		}
	}
	_, errOut, code := run(t, "sd", "exchange-key", "--sd-exchange-key", live(t, "exchange.cer"))
	if code != 1 || !strings.Contains(lastLine(errOut), "expired on 2026-04-22") || !strings.HasPrefix(lastLine(errOut), "custodian: ") {
		t.Fatalf("today: exit %d, %s", code, errOut)
	}
	out, errOut, code := run(t, "sd", "exchange-key", "--sd-exchange-key", live(t, "exchange.cer"), "--collateral", live(t, "collateral"), liveAtFlag)
	if code != 0 {
		t.Fatalf("with collateral: exit %d %s", code, errOut)
	}
	for _, want := range []string{"platform TCB status: OutOfDateConfigurationNeeded (TCB level of 2023-02-15", "QE TCB status: UpToDate",
		"collateral STALE", "next update 2025-04-11", "revocation not checked (no CRLs)"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	for _, bad := range [][]string{
		{"--sd-exchange-key", live(t, "sd.json")},
		{"--sd-exchange-key", live(t, "exchange.cer"), "--at", "yesterday"},
		{"--sd-exchange-key", live(t, "exchange.cer"), "--collateral", t.TempDir()},
		{},
	} {
		if _, errOut, code := run(t, append([]string{"sd", "exchange-key"}, bad...)...); code != 2 {
			t.Errorf("%v: exit %d %s", bad, code, errOut)
		}
	}
}

func writeCert(t *testing.T, dir, name string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Issue 11 item 6, through the CLI: each refused with exit 1 and a reason
// naming the failed check.
func TestExchangeKeyCommandBadInputs(t *testing.T) {
	dir := t.TempDir()
	liveDER := testvectors.Read(t, "live-2025-04", "exchange.der")
	c, _ := x509.ParseCertificate(liveDER)
	var ext []byte
	for _, e := range c.Extensions {
		if e.Id.Equal(sgx.OIDAttestation) {
			ext = e.Value
		}
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	at := time.Date(2025, 4, 22, 0, 0, 0, 0, time.UTC)
	mk := func(name string, k *rsa.PrivateKey, ext []byte) string {
		der, err := quotegen.ExchangeCertificate(rand.Reader, k, quotegen.CertSpec{CommonName: "forged", NotBefore: at, NotAfter: at.AddDate(1, 0, 0), Extension: ext})
		if err != nil {
			t.Fatal(err)
		}
		return writeCert(t, dir, name, der)
	}
	flipped := bytes.Clone(liveDER)
	flipped[bytes.Index(liveDER, ext)+16+48+258] ^= 1
	ev, _ := sgx.ParseEvidence(ext)
	ev.Body[48] |= sgx.AttributeDebug
	debug := ev.Marshal()
	ev, _ = sgx.ParseEvidence(ext)
	first, rest := pem.Decode(ev.CertData)
	_, rest = pem.Decode(rest)
	ev.CertData = append(pem.EncodeToMemory(first), rest...)
	broken := ev.Marshal()
	chain, err := quotegen.NewChain(quotegen.ChainSpec{Names: quotegen.IntelNames, PCKNotBefore: at.AddDate(-1, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	madeUp, err := chain.AttestedCertificate(key, quotegen.CertSpec{CommonName: "made-up", NotBefore: at, NotAfter: at.AddDate(1, 0, 0)}, quotegen.Enclave{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, file, want string }{
		{"no extension", testvectors.Path(t, "sd-3of2", "exchange.cer"), "attestation extension present"},
		{"truncated extension", mk("trunc.cer", key, ext[:len(ext)-1]), "attestation well formed"},
		{"wrong length", mk("len.cer", key, append(bytes.Clone(ext), 0)), "attestation well formed: the attestation extension (4751 bytes) is malformed: at byte 8 (Open Enclave report size)"},
		{"genuine quote on another key", mk("other.cer", key, ext), "report data binds the certificate's key"},
		{"a flipped bit in the report body", writeCert(t, dir, "flip.cer", flipped), "quote signed by the attestation key"},
		{"debug attribute", mk("debug.cer", key, debug), "not a debug enclave"},
		{"broken PCK chain", mk("broken.cer", key, broken), "PCK chain to the pinned root"},
		{"made-up root with Intel's names", writeCert(t, dir, "madeup.cer", madeUp), "PCK chain to the pinned root"},
		{"key under 2048 bits", mk("small.cer", small, ext), "RSA key size: 1024-bit RSA key: under 2048 bits is never accepted"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := run(t, "sd", "exchange-key", "--sd-exchange-key", c.file, "--at=2025-04-23T00:00:00Z")
			if code != 1 || !strings.Contains(out, "FAILED: "+c.want) || !strings.HasPrefix(lastLine(errOut), "custodian: ") {
				t.Errorf("exit %d, want 1 and %q:\n%s%s", code, c.want, out, errOut)
			}
			// And restore-blob writes nothing for it, before any share opens.
			blob := filepath.Join(dir, "never-"+filepath.Base(c.file)+".json")
			_, errOut, code = run(t, "sd", "restore-blob", "--sd-file", vec(t, "sd.json"), "--sd-exchange-key", c.file, liveAtFlag,
				"--key", "file:"+vec(t, "keys", "cert_0.key"), "--key", "file:"+vec(t, "keys", "cert_2.key"), "--out", blob)
			if code != 1 || !strings.Contains(lastLine(errOut), "nothing was written") || strings.Contains(errOut, "opens") {
				t.Errorf("restore-blob: exit %d:\n%s", code, errOut)
			}
			if _, err := os.Lstat(blob); err == nil {
				t.Error("a blob was written")
			}
		})
	}
}

// A custodian's own certificate of the same security domain is refused
// whatever the exception; an exception admits an unattested key and is
// repeated in the output.
func TestRestoreBlobExchangeKeyPolicy(t *testing.T) {
	dir := t.TempDir()
	blob := filepath.Join(dir, "blob.json")
	_, errOut, code := run(t, "sd", "restore-blob", "--sd-file", live(t, "sd.json"), "--sd-exchange-key", live(t, "cert_1.cer"), acceptVectorKey,
		"--key", "file:"+vec(t, "keys", "cert_0.key"), "--out", blob)
	if code != 1 || !strings.Contains(lastLine(errOut), "custodian certificate 2 of this security domain") {
		t.Fatalf("custodian certificate: exit %d %s", code, errOut)
	}
	_, errOut, code = run(t, "sd", "restore-blob", "--sd-file", vec(t, "sd.json"), "--sd-exchange-key", vec(t, "exchange.cer"),
		"--key", "file:"+vec(t, "keys", "cert_0.key"), "--key", "file:"+vec(t, "keys", "cert_2.key"), "--out", blob)
	if code != 1 || !strings.Contains(lastLine(errOut), "no SGX attestation") {
		t.Fatalf("unattested without the exception: exit %d %s", code, errOut)
	}
	_, errOut, code = run(t, "sd", "restore-blob", "--sd-file", vec(t, "sd.json"), "--sd-exchange-key", vec(t, "exchange.cer"), "--accept-unattested-exchange-key", "no reason",
		"--key", "file:"+vec(t, "keys", "cert_0.key"), "--key", "file:"+vec(t, "keys", "cert_2.key"), "--out", blob)
	if code != 2 || !strings.Contains(errOut, "approved by NAME") {
		t.Fatalf("a malformed exception: exit %d %s", code, errOut)
	}
	out, errOut, code := run(t, "sd", "restore-blob", "--sd-file", vec(t, "sd.json"), "--sd-exchange-key", vec(t, "exchange.cer"), acceptVectorKey,
		"--key", "file:"+vec(t, "keys", "cert_0.key"), "--key", "file:"+vec(t, "keys", "cert_2.key"), "--out", blob, "--exchange-key-sha256", exchangeSHA(t).Hex())
	if code != 0 || !strings.Contains(out, "EXCEPTION: exchange key accepted although") || !strings.Contains(out, "approved by the test") {
		t.Fatalf("with the exception: exit %d\n%s%s", code, out, errOut)
	}
}

// The drill HSM's exchange key: "DRILL attestation" under --drill, refused
// without it (production never accepts the DRILL root).
func TestExchangeKeyCommandDrill(t *testing.T) {
	h, err := drillhsm.Create(filepath.Join(t.TempDir(), "hsm"))
	if err != nil {
		t.Fatal(err)
	}
	var certs []*x509.Certificate
	for i := 0; i < 3; i++ {
		k, _ := rsa.GenerateKey(rand.Reader, 2048)
		der, _ := quotegen.ExchangeCertificate(rand.Reader, k, quotegen.CertSpec{CommonName: "custodian", NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0)})
		c, _ := x509.ParseCertificate(der)
		certs = append(certs, c)
	}
	if _, err := h.Activate(certs, 2, drillhsm.ActivateOptions{}); err != nil {
		t.Fatal(err)
	}
	exPEM, err := h.InitRecovery() // 4096 bits, as a drill
	if err != nil {
		t.Fatal(err)
	}
	ex := filepath.Join(t.TempDir(), "DRILL-exchange-key.cer")
	os.WriteFile(ex, exPEM, 0o600)
	out, errOut, code := run(t, "sd", "exchange-key", "--sd-exchange-key", ex, "--drill")
	if code != 0 || !strings.Contains(out, "DRILL attestation") || !strings.Contains(out, "DRILL attestation root (not Intel") {
		t.Fatalf("--drill: exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := run(t, "sd", "exchange-key", "--sd-exchange-key", ex); code != 1 || !strings.Contains(errOut, "PCK chain") {
		t.Fatalf("production: exit %d %s", code, errOut)
	}
}

// --known-identities: an earlier transcript's identity with a higher
// ISVSVN makes the live key need an exception.
func TestExchangeKeyCommandKnownIdentities(t *testing.T) {
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.txt")
	os.WriteFile(plan, []byte("enclave identity: MRSIGNER db55904b231f08298eb093180562d07631c3cab9b7706b2efa53da58b42c943a ISVPRODID 1 ISVSVN 1\n"), 0o600)
	if _, errOut, code := run(t, "sd", "exchange-key", "--sd-exchange-key", live(t, "exchange.cer"), liveAtFlag, "--known-identities", plan); code != 0 {
		t.Fatalf("same identity: exit %d %s", code, errOut)
	}
	os.WriteFile(plan+"2", []byte("enclave identity: MRSIGNER db55904b231f08298eb093180562d07631c3cab9b7706b2efa53da58b42c943a ISVPRODID 1 ISVSVN 3\n"), 0o600)
	out, _, code := run(t, "sd", "exchange-key", "--sd-exchange-key", live(t, "exchange.cer"), liveAtFlag, "--known-identities", plan+"2")
	if code != 1 || !strings.Contains(out, "went down from 3") {
		t.Fatalf("downgrade: exit %d\n%s", code, out)
	}
	os.WriteFile(plan+"3", []byte("nothing here"), 0o600)
	if _, _, code := run(t, "sd", "exchange-key", "--sd-exchange-key", live(t, "exchange.cer"), liveAtFlag, "--known-identities", plan+"3"); code != 2 {
		t.Fatalf("a plan without identities: exit %d", code)
	}
}

// A drill HSM's exchange key makes restore-blob a drill by itself, but
// anyone can make such a key (the DRILL root's private key is public), so
// a drill decided that way opens only keys made for drills: a production
// software key (an openssl key file, like the vectors') is refused and no
// blob is written. Keys from custodian drill keys are admitted.
func TestRestoreBlobInferredDrillOpensOnlyDrillKeys(t *testing.T) {
	dir := t.TempDir()
	hsm := filepath.Join(dir, "hsm")
	sdPath, sde := filepath.Join(dir, "sd.json"), filepath.Join(dir, "sde.cer")
	mustRun(t, "drill", "hsm", "activate", "--hsm-dir", hsm, "--quorum", "2", "--out", sdPath,
		vec(t, "keys", "cert_0.cer"), vec(t, "keys", "cert_1.cer"), vec(t, "keys", "cert_2.cer"))
	mustRun(t, "drill", "hsm", "init-recovery", "--hsm-dir", hsm, "--out", sde)
	blob := filepath.Join(dir, "blob.json")
	out, errOut, code := run(t, "sd", "restore-blob", "--sd-file", sdPath, "--sd-exchange-key", sde, "--out", blob,
		"--key", "file:"+vec(t, "keys", "cert_0.key"), "--key", "file:"+vec(t, "keys", "cert_1.key"))
	if code != 2 || !strings.Contains(lastLine(errOut), "opens only keys made for drills") {
		t.Fatalf("production key files in an inferred drill: exit %d:\n%s%s", code, out, errOut)
	}
	if _, err := os.Lstat(blob); err == nil {
		t.Fatal("a blob was written")
	}

	keys := filepath.Join(dir, "keys")
	mustRun(t, "drill", "keys", "--dir", keys, "--count", "3", "--bits", "2048")
	hsm2, sd2, sde2 := filepath.Join(dir, "hsm2"), filepath.Join(dir, "sd2.json"), filepath.Join(dir, "sde2.cer")
	mustRun(t, "drill", "hsm", "activate", "--hsm-dir", hsm2, "--quorum", "2", "--out", sd2,
		filepath.Join(keys, "cert_0.cer"), filepath.Join(keys, "cert_1.cer"), filepath.Join(keys, "cert_2.cer"))
	mustRun(t, "drill", "hsm", "init-recovery", "--hsm-dir", hsm2, "--out", sde2)
	out = mustRun(t, "sd", "restore-blob", "--sd-file", sd2, "--sd-exchange-key", sde2, "--out", filepath.Join(dir, "blob2.json"),
		"--key", "file:"+filepath.Join(keys, "cert_0.key"), "--key", "file:"+filepath.Join(keys, "cert_1.key"))
	if !strings.HasPrefix(out, "mode: DRILL") {
		t.Errorf("an inferred drill does not say so on its first line:\n%s", out)
	}
}
