package drillhsm

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/custodian-hsm/custodian/crypto/jwe"
	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/sgx"
	"github.com/custodian-hsm/custodian/internal/testvectors"
)

type softKey struct {
	cert *x509.Certificate
	priv *rsa.PrivateKey
}

func (k softKey) Certificate() *x509.Certificate { return k.cert }
func (k softKey) DecryptKey(alg string, ek []byte) ([]byte, error) {
	return jwe.RSAKeyDecrypter{Key: k.priv}.DecryptKey(alg, ek)
}

var (
	keyCache   = map[int][]softKey{}
	keyCacheMu sync.Mutex
)

// keys returns n custodian keys of the given size, generated once per test
// binary (RSA generation dominates the run time otherwise).
func keys(t *testing.T, n, bits int) []softKey {
	t.Helper()
	keyCacheMu.Lock()
	defer keyCacheMu.Unlock()
	for len(keyCache[bits]) < n {
		priv, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(len(keyCache[bits]) + 1)), Subject: pkix.Name{CommonName: "custodian"},
			NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageKeyEncipherment}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
		if err != nil {
			t.Fatal(err)
		}
		cert, _ := x509.ParseCertificate(der)
		keyCache[bits] = append(keyCache[bits], softKey{cert, priv})
	}
	return keyCache[bits][:n]
}

func certs(ks []softKey) []*x509.Certificate {
	var c []*x509.Certificate
	for _, k := range ks {
		c = append(c, k.cert)
	}
	return c
}

func newHSM(t *testing.T) *HSM {
	t.Helper()
	h, err := Create(filepath.Join(t.TempDir(), "hsm"))
	if err != nil {
		t.Fatal(err)
	}
	h.ExchangeBits = 2048
	return h
}

// roundTrip activates, opens M shares, recovers, builds a blob and uploads.
func roundTrip(t *testing.T, n, m, bits int, opts ActivateOptions) {
	t.Helper()
	h := newHSM(t)
	ks := keys(t, n, bits)
	sdBytes, err := h.Activate(certs(ks), m, opts)
	if err != nil {
		t.Fatal(err)
	}
	f, err := sd.ParseFile(sdBytes)
	if err != nil {
		t.Fatalf("our own SD does not parse: %v", err)
	}
	if r := sd.Verify(f, certs(ks), m); !r.OK() {
		t.Fatalf("our own SD does not verify:\n%s", r)
	}
	if string(f.Marshal()) != string(sdBytes) {
		t.Error("SD not in the live canonical form")
	}
	var shares []*sd.Share
	for _, k := range ks[n-m:] {
		s, err := sd.OpenShare(f, k)
		if err != nil {
			t.Fatal(err)
		}
		shares = append(shares, s)
	}
	rec, err := sd.Recover(f, shares)
	if err != nil {
		t.Fatal(err)
	}
	exPEM, err := h.InitRecovery()
	if err != nil {
		t.Fatal(err)
	}
	ex, err := sd.ParseExchangeKey(exPEM)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := sd.BuildRestoreBlob(rec, ex, rand.Reader)
	rec.Wipe()
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.Upload(blob)
	if err != nil || !res.Restored {
		t.Fatalf("upload: %v %v", res, err)
	}
}

func TestRoundTrips(t *testing.T) {
	cases := []struct {
		n, m, bits, items int
	}{
		{3, 2, 2048, 0},
		{3, 2, 2048, 1},
		{3, 2, 2048, 8},
		{5, 3, 3072, 0},
		{10, 10, 2048, 0},
	}
	for _, c := range cases {
		roundTrip(t, c.n, c.m, c.bits, ActivateOptions{Items: c.items})
	}
}

func TestActivationLooksLikeALiveHSM(t *testing.T) {
	h := newHSM(t)
	sdBytes, err := h.Activate(certs(keys(t, 3, 2048)), 2, ActivateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := sd.ParseFile(sdBytes)
	var tags []string
	sizes := map[int]bool{}
	for _, it := range f.EncData.Data {
		tags = append(tags, it.Tag)
		sizes[len(it.CompactJWE)] = true
	}
	if strings.Join(tags, ",") != "hsm_backup,base_enclave_backup,partition_enclave_backup" || len(sizes) != 3 {
		t.Errorf("items %v with %d distinct sizes", tags, len(sizes))
	}
	o, _ := jwe.Parse(f.SharedKeys.EncShares[0].EncKey)
	if len(o.Header.Kid) != 36 || o.Header.Alg != jwe.AlgRSAOAEP256 {
		t.Errorf("share header %+v: want RSA-OAEP-256 with a GUID kid", o.Header)
	}
	state, _ := os.ReadFile(filepath.Join(h.Dir(), stateFile))
	if !strings.Contains(string(state), `"drill": true`) {
		t.Error("state file does not say drill")
	}
	if _, err := h.Activate(certs(keys(t, 3, 2048)), 2, ActivateOptions{}); err == nil {
		t.Error("activated twice")
	}
}

func TestActivateValidates(t *testing.T) {
	ks := keys(t, 3, 2048)
	for _, c := range []struct {
		certs  []*x509.Certificate
		quorum int
		want   string
	}{
		{certs(ks[:2]), 2, "3 to 10"},
		{certs(ks), 4, "between 2 and 3"},
		{[]*x509.Certificate{ks[0].cert, ks[1].cert, ks[0].cert}, 2, "same as certificate 1"},
	} {
		if _, err := newHSM(t).Activate(c.certs, c.quorum, ActivateOptions{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Activate: %v, want %q", err, c.want)
		}
	}
}

func TestInitRecoveryWritesWhatAzWrites(t *testing.T) {
	h := newHSM(t)
	h.Activate(certs(keys(t, 3, 2048)), 2, ActivateOptions{})
	pemBytes, err := h.InitRecovery()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(pemBytes), "\n")
	if lines[len(lines)-1] != "-----END CERTIFICATE-----" {
		t.Error("a final newline or no END line")
	}
	for _, l := range lines[1 : len(lines)-2] {
		if len(l) != 65 {
			t.Fatalf("line of %d characters; az writes 65", len(l))
		}
	}
	ex, err := sd.ParseExchangeKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ex.Certificate.Subject.CommonName, "DRILL") || ex.Certificate.KeyUsage != x509.KeyUsageKeyEncipherment {
		t.Errorf("exchange certificate %v, key usage %v", ex.Certificate.Subject, ex.Certificate.KeyUsage)
	}
}

func TestUploadRejects(t *testing.T) {
	h := newHSM(t)
	ks := keys(t, 3, 2048)
	sdBytes, _ := h.Activate(certs(ks), 2, ActivateOptions{})
	f, _ := sd.ParseFile(sdBytes)
	s0, _ := sd.OpenShare(f, ks[0])
	s1, _ := sd.OpenShare(f, ks[1])
	rec, err := sd.Recover(f, []*sd.Share{s0, s1})
	if err != nil {
		t.Fatal(err)
	}
	exPEM, _ := h.InitRecovery()
	ex, _ := sd.ParseExchangeKey(exPEM)

	other := newHSM(t)
	other.Activate(certs(ks), 2, ActivateOptions{})
	otherPEM, _ := other.InitRecovery()
	otherEx, _ := sd.ParseExchangeKey(otherPEM)
	foreignBlob, _ := sd.BuildRestoreBlob(rec, otherEx, rand.Reader)
	if _, err := h.Upload(foreignBlob); err == nil || !strings.Contains(err.Error(), "not this HSM's current one") {
		t.Errorf("blob for another exchange key: %v", err)
	}

	good, _ := sd.BuildRestoreBlob(rec, ex, rand.Reader)
	b, _ := sd.ParseRestoreBlob(good)
	// A missing item.
	missing := *b
	missing.EncData.Data = b.EncData.Data[:2]
	if res, err := h.Upload(missing.Marshal()); err != nil || res.Restored || !strings.Contains(res.String(), "2 items uploaded, 3 activated") {
		t.Errorf("missing item: %v %v", res, err)
	}
	// Items swapped: each authenticates, but the contents differ.
	swapped := *b
	swapped.EncData.Data = []sd.EncItem{b.EncData.Data[1], b.EncData.Data[0], b.EncData.Data[2]}
	if res, err := h.Upload(swapped.Marshal()); err != nil || res.Restored {
		t.Errorf("swapped items: %v %v", res, err)
	}
	// A tampered item fails authentication.
	o, _ := jwe.Parse(b.EncData.Data[2].CompactJWE)
	o.Ciphertext[0] ^= 1
	tampered := *b
	tampered.EncData.Data = append([]sd.EncItem{}, b.EncData.Data...)
	tampered.EncData.Data[2].CompactJWE = o.Compact()
	if _, err := h.Upload(tampered.Marshal()); err == nil || !strings.Contains(err.Error(), "does not authenticate") {
		t.Errorf("tampered item: %v", err)
	}
	if res, err := h.Upload(good); err != nil || !res.Restored {
		t.Errorf("good blob: %v %v", res, err)
	}
}

func TestVectorBlobIsAccepted(t *testing.T) {
	var exp struct {
		ContentsHex map[string]string `json:"contents_hex"`
	}
	json.Unmarshal(testvectors.Read(t, "sd-3of2", "expected.json"), &exp)
	contents := map[string][]byte{}
	for tag, h := range exp.ContentsHex {
		contents[tag], _ = hex.DecodeString(h)
	}
	h, err := Import(filepath.Join(t.TempDir(), "hsm"), testvectors.Read(t, "sd-3of2", "sd.json"),
		testvectors.Read(t, "sd-3of2", "exchange.cer"), testvectors.Read(t, "sd-3of2", "exchange.key"), contents)
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.Upload(testvectors.Read(t, "sd-3of2", "blob.json"))
	if err != nil || !res.Restored {
		t.Fatalf("vector blob: %v %v", res, err)
	}
}

func TestOpenRefusesOtherFolders(t *testing.T) {
	if _, err := Open(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a drill HSM folder") {
		t.Errorf("Open of an empty folder: %v", err)
	}
	h := newHSM(t)
	if _, err := Open(h.Dir()); err != nil {
		t.Errorf("Open of a drill HSM: %v", err)
	}
	if _, err := Create(h.Dir()); err == nil {
		t.Error("Create over an existing HSM")
	}
}

// The drill HSM's exchange key carries a quote in the live layout under
// the DRILL root: genuine (DRILL) to a drill, refused under Intel's root.
func TestDrillAttestation(t *testing.T) {
	h := newHSM(t)
	if _, err := h.Activate(certs(keys(t, 3, 2048)), 2, ActivateOptions{}); err != nil {
		t.Fatal(err)
	}
	exPEM, err := h.InitRecovery()
	if err != nil {
		t.Fatal(err)
	}
	ex, err := sd.ParseExchangeKey(exPEM)
	if err != nil {
		t.Fatal(err)
	}
	drill := sgx.Verify(ex.Certificate, sgx.Options{Roots: []*sgx.Root{sgx.IntelRoot(), sgx.DrillRoot()}})
	// The test's 2048-bit key is the only failure; a drill uses 4096.
	if len(drill.Failures) != 1 || !drill.Failed(sgx.CheckKeySize) || !drill.Drill() || drill.Facts.Root != sgx.DrillRoot() || !drill.Facts.KeyBound {
		t.Fatalf("under the DRILL root: %s", drill.Reason())
	}
	if id, ok := sgx.KnownSigner(drill); !ok || !id.Drill {
		t.Fatal("the drill signer is not known as a drill identity")
	}
	prod := sgx.Verify(ex.Certificate, sgx.Options{})
	if !prod.Failed(sgx.CheckPCKChain) || prod.Drill() || prod.Verdict == sgx.Genuine {
		t.Fatalf("under Intel's root: %v %s", prod.Verdict, prod.Reason())
	}
	if _, ok := sgx.KnownSigner(prod); ok {
		t.Fatal("production knows the drill signer")
	}
}
