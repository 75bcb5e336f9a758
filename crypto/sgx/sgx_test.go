package sgx_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/sgx"
	"github.com/custodian-hsm/custodian/crypto/sgx/quotegen"
	"github.com/custodian-hsm/custodian/internal/testvectors"
)

var liveAt = time.Date(2025, 4, 23, 0, 0, 0, 0, time.UTC)

// The facts of shared/vectors/live-2025-04/README.md, verified independently.
const (
	liveMRENCLAVE  = "5986123b3a753671389708d2c8fc9be4080c95146fba37a0adbc66676e49fb36"
	liveMRSIGNER   = "db55904b231f08298eb093180562d07631c3cab9b7706b2efa53da58b42c943a"
	liveQEMRSIGNER = "8c4f5775d796503e96137f77c68a829a0056ac8ded70140b081b094490c57bff"
	liveHost       = "test-mhsm-sd2q2avldvp4tl.managedhsm.azure.net"
)

func liveCert(t testing.TB) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(testvectors.Read(t, "live-2025-04", "exchange.der"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func liveExtension(t testing.TB) []byte {
	t.Helper()
	for _, e := range liveCert(t).Extensions {
		if e.Id.Equal(sgx.OIDAttestation) {
			return e.Value
		}
	}
	t.Fatal("the live certificate has no attestation extension")
	return nil
}

var (
	keyOnce sync.Once
	key4096 *rsa.PrivateKey
)

// otherKey is one RSA-4096 key made per test run, for certificates the
// tests make (the live key's private half is not public).
func otherKey(t testing.TB) *rsa.PrivateKey {
	keyOnce.Do(func() {
		var err error
		if key4096, err = rsa.GenerateKey(rand.Reader, 4096); err != nil {
			t.Fatal(err)
		}
	})
	return key4096
}

func certWith(t testing.TB, key *rsa.PrivateKey, ext []byte, nb, na time.Time) *x509.Certificate {
	t.Helper()
	der, err := quotegen.ExchangeCertificate(rand.Reader, key, quotegen.CertSpec{CommonName: "forged." + liveHost, NotBefore: nb, NotAfter: na, Extension: ext})
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func hx(b []byte) string { return hex.EncodeToString(b) }

// onlyFailed checks the result failed exactly the named checks.
func onlyFailed(t *testing.T, r *sgx.Result, want ...sgx.Check) {
	t.Helper()
	var got []sgx.Check
	for _, f := range r.Failures {
		got = append(got, f.Check)
	}
	if len(got) != len(want) {
		t.Fatalf("failed checks %q, want %q (%s)", got, want, r.Reason())
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("failed checks %q, want %q (%s)", got, want, r.Reason())
		}
	}
}

func TestLiveGenuine(t *testing.T) {
	for _, name := range []string{"exchange.der", "exchange.cer", "transfer-key.json"} {
		t.Run(name, func(t *testing.T) {
			ex, err := sd.ParseExchangeKey(testvectors.Read(t, "live-2025-04", name))
			if err != nil {
				t.Fatal(err)
			}
			r := sgx.Verify(ex.Certificate, sgx.Options{At: liveAt})
			onlyFailed(t, r)
			if r.Verdict != sgx.Genuine || r.Drill() {
				t.Fatalf("verdict %v drill %v", r.Verdict, r.Drill())
			}
			f := r.Facts
			for _, c := range []struct{ got, want string }{
				{hx(f.MRENCLAVE[:]), liveMRENCLAVE}, {hx(f.MRSIGNER[:]), liveMRSIGNER}, {hx(f.QEMRSIGNER[:]), liveQEMRSIGNER},
				{hx(f.FMSPC[:]), "00606a000000"}, {hx(f.PCEID[:]), "0000"}, {hx(f.QEVendorID[:]), "939a7233f79c4ca9940a0db3957f0607"},
				{f.HostName, liveHost}, {f.Root.Name, "Intel SGX Root CA"}, {hx(f.Root.SHA256[:]), sgx.IntelRootSHA256},
			} {
				if c.got != c.want {
					t.Errorf("got %s, want %s", c.got, c.want)
				}
			}
			if f.ISVProdID != 1 || f.ISVSVN != 1 || f.QEISVSVN != 8 || f.QEISVProdID != 1 || f.Debug || f.Attributes != 5 || !f.KeyBound || f.KeyBits != 4096 {
				t.Errorf("facts %+v", f)
			}
			if f.PCKTCB.PCESVN != 13 || f.PCKTCB.CompSVN != [16]uint8{11, 11, 3, 3, 255, 255} {
				t.Errorf("PCK TCB %+v", f.PCKTCB)
			}
			if f.PCKNotAfter.Format("2006-01-02") != "2031-06-07" || f.NotAfter.Format("2006-01-02") != "2026-04-22" {
				t.Errorf("validity: PCK to %s, certificate to %s", f.PCKNotAfter, f.NotAfter)
			}
		})
	}
}

func TestLiveExpiredToday(t *testing.T) {
	r := sgx.Verify(liveCert(t), sgx.Options{At: time.Date(2026, 4, 22, 12, 0, 0, 0, time.UTC)})
	onlyFailed(t, r, sgx.CheckCertValidity)
	if r.Verdict != sgx.Stale || !strings.Contains(r.Reason(), "to 2026-04-22") {
		t.Fatalf("%v: %s", r.Verdict, r.Reason())
	}
	// And with the real clock (the test runs after the expiry).
	if now := sgx.Verify(liveCert(t), sgx.Options{}); now.Verdict != sgx.Stale {
		t.Fatalf("today: %v %s", now.Verdict, now.Reason())
	}
}

// The pin is the hash, cross-checked against the vector's README and the
// root at the end of the live chain.
func TestPinnedRoot(t *testing.T) {
	root := sgx.IntelRoot()
	sum := sha256.Sum256(root.Cert.Raw)
	if hx(sum[:]) != sgx.IntelRootSHA256 || root.Kind != sgx.RootIntel || root.Drill() {
		t.Fatal("the embedded root is not the pinned one")
	}
	if !bytes.Contains(testvectors.Read(t, "live-2025-04", "README.md"), []byte(sgx.IntelRootSHA256)) {
		t.Fatal("the pin differs from the vector README's")
	}
	ev, err := sgx.ParseEvidence(liveExtension(t))
	if err != nil {
		t.Fatal(err)
	}
	rest, last := ev.CertData, []byte(nil)
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		last = b.Bytes
	}
	if !bytes.Equal(last, root.Cert.Raw) {
		t.Fatal("the live chain's root differs from the embedded one")
	}
	if sgx.DrillRoot().Kind != sgx.RootDrill || !strings.Contains(sgx.DrillRoot().Name, "DRILL") {
		t.Fatal("the drill root is not marked DRILL")
	}
}

func TestEvidenceRoundTrip(t *testing.T) {
	ext := liveExtension(t)
	ev, err := sgx.ParseEvidence(ext)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ev.Marshal(), ext) {
		t.Fatal("Marshal does not give back the live bytes")
	}
}

func TestNoExtension(t *testing.T) {
	c := certWith(t, otherKey(t), nil, liveAt.Add(-time.Hour), liveAt.AddDate(1, 0, 0))
	r := sgx.Verify(c, sgx.Options{At: liveAt})
	onlyFailed(t, r, sgx.CheckExtension)
	if r.Verdict != sgx.Unattested || sgx.HasAttestation(c) {
		t.Fatal(r.Verdict)
	}
}

// Every prefix of the live extension is refused with a FormatError, and
// so is every corrupted length field.
func TestTruncatedAndWrongLengths(t *testing.T) {
	ext := liveExtension(t)
	for n := 0; n < len(ext); n++ {
		_, err := sgx.ParseEvidence(ext[:n])
		var fe *sgx.FormatError
		if !errors.As(err, &fe) {
			t.Fatalf("prefix of %d bytes: %v", n, err)
		}
	}
	sigData := 16 + 432
	auth := sigData + 4 + 64 + 64 + 384 + 64
	cases := []struct {
		name  string
		off   int
		width int
		field string
	}{
		{"OE size", 8, 8, "Open Enclave report size"},
		{"signature data length", sigData, 4, "signature data length"},
		{"QE auth data length", auth, 2, "QE auth data"},
		{"certification data size", auth + 2 + 32 + 2, 4, "certification data size"},
	}
	for _, c := range cases {
		for _, delta := range []int{1, -1, 1 << 20} {
			b := bytes.Clone(ext)
			switch c.width {
			case 2:
				if delta == 1<<20 {
					delta = 1000 // over the 1,024-byte limit
				}
				binary.LittleEndian.PutUint16(b[c.off:], uint16(int(binary.LittleEndian.Uint16(b[c.off:]))+delta))
			case 4:
				binary.LittleEndian.PutUint32(b[c.off:], uint32(int(binary.LittleEndian.Uint32(b[c.off:]))+delta))
			case 8:
				binary.LittleEndian.PutUint64(b[c.off:], uint64(int(binary.LittleEndian.Uint64(b[c.off:]))+delta))
			}
			_, err := sgx.ParseEvidence(b)
			if err == nil || !strings.Contains(err.Error(), "(") {
				t.Fatalf("%s %+d: %v", c.name, delta, err)
			}
		}
	}
	// In a certificate: the verdict is Malformed, naming the check.
	c := certWith(t, otherKey(t), ext[:len(ext)-100], liveAt.Add(-time.Hour), liveAt.AddDate(1, 0, 0))
	r := sgx.Verify(c, sgx.Options{At: liveAt})
	onlyFailed(t, r, sgx.CheckFormat)
	if r.Verdict != sgx.Malformed || !strings.Contains(r.Reason(), "Open Enclave report size") {
		t.Fatalf("%v: %s", r.Verdict, r.Reason())
	}
}

// The genuine quote moved to another RSA key: every quote check passes
// except the binding.
func TestGenuineQuoteOnAnotherKey(t *testing.T) {
	c := certWith(t, otherKey(t), liveExtension(t), liveAt.Add(-time.Hour), liveAt.AddDate(1, 0, 0))
	r := sgx.Verify(c, sgx.Options{At: liveAt})
	onlyFailed(t, r, sgx.CheckReportData)
	if r.Verdict != sgx.Failed || r.Facts.KeyBound {
		t.Fatal(r.Verdict)
	}
}

func TestFlippedBitInReportBody(t *testing.T) {
	der := testvectors.Read(t, "live-2025-04", "exchange.der")
	ext := liveExtension(t)
	at := bytes.Index(der, ext)
	isvsvn := at + 16 + 48 + 258 // ISVSVN in the report body
	der = bytes.Clone(der)
	der[isvsvn] ^= 0x04
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	r := sgx.Verify(c, sgx.Options{At: liveAt})
	// The certificate's own signature breaks too: the bit is inside it.
	onlyFailed(t, r, sgx.CheckCertSignature, sgx.CheckQuoteSignature)
	if r.Facts.ISVSVN != 5 {
		t.Fatalf("ISVSVN read as %d", r.Facts.ISVSVN)
	}
}

func TestDebugEnclave(t *testing.T) {
	// The live quote with the debug flag set: refused as debug, and its
	// signature no longer verifies.
	ev, _ := sgx.ParseEvidence(liveExtension(t))
	ev.Body[48] |= sgx.AttributeDebug
	r := sgx.Verify(certWith(t, otherKey(t), ev.Marshal(), liveAt.Add(-time.Hour), liveAt.AddDate(1, 0, 0)), sgx.Options{At: liveAt})
	onlyFailed(t, r, sgx.CheckQuoteSignature, sgx.CheckReportData, sgx.CheckDebug)

	// A self-consistent debug enclave under a test root: only debug fails.
	chain, root := testChain(t, quotegen.IntelNames, quotegen.ChainSpec{})
	der, err := chain.AttestedCertificate(otherKey(t), quotegen.CertSpec{CommonName: "debug", NotBefore: liveAt.Add(-time.Hour), NotAfter: liveAt.AddDate(1, 0, 0)},
		quotegen.Enclave{Attributes: 0x07})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	r = sgx.Verify(c, sgx.Options{At: time.Now(), Roots: []*sgx.Root{root}})
	onlyFailed(t, r, sgx.CheckCertValidity, sgx.CheckDebug)
	if !r.Facts.Debug || !strings.Contains(r.Reason(), "DEBUG") {
		t.Fatal(r.Reason())
	}
}

func testChain(t *testing.T, names quotegen.Names, spec quotegen.ChainSpec) (*quotegen.Chain, *sgx.Root) {
	t.Helper()
	spec.Names = names
	spec.FMSPC = [6]byte{0, 0x60, 0x6a}
	chain, err := quotegen.NewChain(spec)
	if err != nil {
		t.Fatal(err)
	}
	root, err := sgx.TestRoot(chain.Root.Raw)
	if err != nil {
		t.Fatal(err)
	}
	return chain, root
}

func TestBrokenPCKChain(t *testing.T) {
	// The live quote without its Platform CA certificate.
	ev, _ := sgx.ParseEvidence(liveExtension(t))
	first, rest := pem.Decode(ev.CertData)
	_, rest = pem.Decode(rest)
	ev.CertData = append(pem.EncodeToMemory(first), rest...)
	r := sgx.Verify(certWith(t, otherKey(t), ev.Marshal(), liveAt.Add(-time.Hour), liveAt.AddDate(1, 0, 0)), sgx.Options{At: liveAt})
	onlyFailed(t, r, sgx.CheckPCKChain, sgx.CheckReportData)

	// A self-consistent quote whose PCK certificate is signed by a CA of
	// another root: only the chain fails.
	chain, root := testChain(t, quotegen.IntelNames, quotegen.ChainSpec{})
	other, _ := testChain(t, quotegen.IntelNames, quotegen.ChainSpec{})
	chain.CA = other.CA
	r = attested(t, chain, root, quotegen.Enclave{})
	onlyFailed(t, r, sgx.CheckPCKChain)
	if r.Facts.Root != nil || r.Verdict != sgx.Failed {
		t.Fatal("a broken chain named a root")
	}
}

func attested(t *testing.T, chain *quotegen.Chain, root *sgx.Root, enc quotegen.Enclave) *sgx.Result {
	t.Helper()
	now := time.Now()
	der, err := chain.AttestedCertificate(otherKey(t), quotegen.CertSpec{CommonName: liveHost, NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0)}, enc)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	var roots []*sgx.Root
	if root != nil {
		roots = []*sgx.Root{root}
	}
	return sgx.Verify(c, sgx.Options{At: now, Roots: roots})
}

// A complete, self-consistent quote under a made-up root with Intel's
// names: genuine under that root, refused under the pinned one.
func TestMadeUpRootWithIntelNames(t *testing.T) {
	chain, root := testChain(t, quotegen.IntelNames, quotegen.ChainSpec{})
	var mrsigner [32]byte
	hex.Decode(mrsigner[:], []byte(liveMRSIGNER))
	enc := quotegen.Enclave{MRSIGNER: mrsigner, ISVProdID: 1, ISVSVN: 1}
	if r := attested(t, chain, root, enc); r.Verdict != sgx.Genuine || !r.Drill() || r.Facts.Root.Kind != sgx.RootTest {
		t.Fatalf("under its own root: %v %s", r.Verdict, r.Reason())
	}
	r := attested(t, chain, nil, enc)
	onlyFailed(t, r, sgx.CheckPCKChain)
	if !strings.Contains(r.Reason(), "Intel SGX Root CA (pinned") {
		t.Fatal(r.Reason())
	}
}

func TestExpiredPCK(t *testing.T) {
	now := time.Now()
	chain, root := testChain(t, quotegen.IntelNames, quotegen.ChainSpec{PCKNotBefore: now.AddDate(-7, 0, 0), PCKNotAfter: now.AddDate(0, 0, -1)})
	r := attested(t, chain, root, quotegen.Enclave{})
	onlyFailed(t, r, sgx.CheckPCKValidity)
	if r.Verdict != sgx.Stale || !strings.Contains(r.Reason(), "Intel SGX PCK Certificate") {
		t.Fatalf("%v %s", r.Verdict, r.Reason())
	}
}

func TestSmallKeys(t *testing.T) {
	chain, root := testChain(t, quotegen.IntelNames, quotegen.ChainSpec{})
	now := time.Now()
	for _, bits := range []int{1024, 2048} {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			t.Fatal(err)
		}
		der, err := chain.AttestedCertificate(k, quotegen.CertSpec{CommonName: "small", NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0)}, quotegen.Enclave{})
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		r := sgx.Verify(c, sgx.Options{At: now, Roots: []*sgx.Root{root}})
		onlyFailed(t, r, sgx.CheckKeySize)
		if r.Facts.KeyBits != bits || (bits < 2048) != strings.Contains(r.Reason(), "never") {
			t.Fatalf("%d bits: %s", bits, r.Reason())
		}
	}
}

func FuzzParseEvidence(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	hdr := []byte{1, 0, 0, 0, 2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 3, 0, 2, 0}
	f.Add(hdr)
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := sgx.ParseEvidence(b)
		if err != nil {
			return
		}
		if !bytes.Equal(ev.Marshal(), b) {
			t.Fatal("parsed evidence does not marshal back to its bytes")
		}
	})
}

func BenchmarkVerifyLive(b *testing.B) {
	c := liveCert(b)
	for b.Loop() {
		if r := sgx.Verify(c, sgx.Options{At: liveAt}); r.Verdict != sgx.Genuine {
			b.Fatal(r.Reason())
		}
	}
}

func TestKnownSigner(t *testing.T) {
	r := sgx.Verify(liveCert(t), sgx.Options{At: liveAt})
	id, ok := sgx.KnownSigner(r)
	if !ok || id.Since != "2025-04" || id.Drill || !strings.Contains(id.Observed, "2025-04-22") {
		t.Fatalf("the live signer is not known: %+v", id)
	}
	if hx(id.MRSIGNER[:]) != liveMRSIGNER || id.ISVProdID != 1 {
		t.Fatal("the shipped signer is not the vector README's")
	}
	// The live signer's identity under a test root is not the known one:
	// known identities are matched with the root they were seen under.
	chain, root := testChain(t, quotegen.IntelNames, quotegen.ChainSpec{})
	var mrsigner [32]byte
	hex.Decode(mrsigner[:], []byte(liveMRSIGNER))
	if _, ok := sgx.KnownSigner(attested(t, chain, root, quotegen.Enclave{MRSIGNER: mrsigner, ISVProdID: 1})); ok {
		t.Fatal("a test root's quote matched the production signer")
	}
}
