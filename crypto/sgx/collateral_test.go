package sgx_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custodian-hsm/custodian/crypto/sgx"
	"github.com/custodian-hsm/custodian/crypto/sgx/quotegen"
	"github.com/custodian-hsm/custodian/internal/testvectors"
)

// The evaluation of shared/vectors/live-2025-04/collateral/README.md.
func TestLiveCollateral(t *testing.T) {
	res := sgx.Verify(liveCert(t), sgx.Options{At: liveAt})
	c, err := sgx.LoadCollateral(testvectors.Path(t, "live-2025-04", "collateral"))
	if err != nil {
		t.Fatal(err)
	}
	rep := sgx.EvaluateCollateral(c, &res.Facts, sgx.Options{At: liveAt})
	if len(rep.Failures) != 0 || rep.Root != sgx.IntelRoot() {
		t.Fatalf("failures %v root %v", rep.Failures, rep.Root)
	}
	if rep.PlatformStatus != "OutOfDateConfigurationNeeded" || day(rep.PlatformTCBDate) != "2023-02-15" {
		t.Fatalf("platform %s %s", rep.PlatformStatus, rep.PlatformTCBDate)
	}
	if rep.QEStatus != "UpToDate" || rep.TCBEvaluationDataNumber != 17 {
		t.Fatalf("QE %s, evaluation %d", rep.QEStatus, rep.TCBEvaluationDataNumber)
	}
	// At the certificate's own time too: stale by 11 days.
	for _, at := range []time.Time{liveAt, res.Facts.NotBefore} {
		r := sgx.EvaluateCollateral(c, &res.Facts, sgx.Options{At: at})
		if !r.Stale || r.StaleDays != 11 || r.OK() {
			t.Fatalf("at %s: stale %v by %d", at, r.Stale, r.StaleDays)
		}
	}
	text := strings.Join(rep.Lines(), "\n")
	for _, want := range []string{"platform TCB status: OutOfDateConfigurationNeeded (TCB level of 2023-02-15", "QE TCB status: UpToDate",
		"STALE by 11 days", "next update 2025-04-11", "revocation not checked (no CRLs)"} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
	// Inside the bundle's window it is current.
	if r := sgx.EvaluateCollateral(c, &res.Facts, sgx.Options{At: time.Date(2025, 3, 20, 0, 0, 0, 0, time.UTC)}); r.Stale {
		t.Fatal("stale inside its window")
	}
	// Today the signing certificate itself has expired as well.
	if r := sgx.EvaluateCollateral(c, &res.Facts, sgx.Options{}); !r.Stale || !hasCheck(r.Failures, sgx.CheckCollateralChain) {
		t.Fatal("today's evaluation is not stale")
	}
}

func day(t time.Time) string { return t.Format("2006-01-02") }

func hasCheck(fs []*sgx.Failure, c sgx.Check) bool {
	for _, f := range fs {
		if f.Check == c {
			return true
		}
	}
	return false
}

func TestLiveCollateralTampered(t *testing.T) {
	res := sgx.Verify(liveCert(t), sgx.Options{At: liveAt})
	c, err := sgx.LoadCollateral(testvectors.Path(t, "live-2025-04", "collateral"))
	if err != nil {
		t.Fatal(err)
	}
	// "OutOfDateConfigurationNeeded" → "UpToDate" would be the attack; any
	// change to the signed bytes is refused.
	c.TCBInfo = bytes.Replace(c.TCBInfo, []byte(`"sgxtcbcomp07svn":0`), []byte(`"sgxtcbcomp07svn":1`), 1)
	rep := sgx.EvaluateCollateral(c, &res.Facts, sgx.Options{At: liveAt})
	if !hasCheck(rep.Failures, sgx.CheckCollateralSignature) || rep.PlatformStatus != "" || rep.QEStatus != "UpToDate" {
		t.Fatalf("%v %q", rep.Failures, rep.PlatformStatus)
	}
	if _, err := sgx.LoadCollateral(t.TempDir()); err == nil || !strings.Contains(err.Error(), sgx.FileTCBInfo) {
		t.Fatalf("empty folder: %v", err)
	}
}

// collateralSigner signs collateral under a test chain's root.
type collateralSigner struct {
	key  *ecdsa.PrivateKey
	pem  []byte
	root *sgx.Root
}

func newCollateralSigner(t *testing.T, chain *quotegen.Chain) *collateralSigner {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Intel SGX TCB Signing"}, NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(5, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, chain.Root, &k.PublicKey, chain.RootKey)
	if err != nil {
		t.Fatal(err)
	}
	p := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: chain.Root.Raw})...)
	root, _ := sgx.TestRoot(chain.Root.Raw)
	return &collateralSigner{key: k, pem: p, root: root}
}

func (s *collateralSigner) doc(t *testing.T, member string, v any) []byte {
	body, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(body)
	r, ss, _ := ecdsa.Sign(rand.Reader, s.key, h[:])
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])
	return []byte(`{"` + member + `":` + string(body) + `,"signature":"` + hex.EncodeToString(sig) + `"}`)
}

func level(comps []int, pcesvn int, date, status string) map[string]any {
	tcb := map[string]any{"pcesvn": pcesvn}
	for i := 0; i < 16; i++ {
		v := 0
		if i < len(comps) {
			v = comps[i]
		}
		tcb["sgxtcbcomp"+two(i+1)+"svn"] = v
	}
	return map[string]any{"tcb": tcb, "tcbDate": date + "T00:00:00Z", "tcbStatus": status}
}

func two(i int) string { return string(rune('0'+i/10)) + string(rune('0'+i%10)) }

func tcbInfoDoc(fmspc string, levels ...map[string]any) map[string]any {
	now := time.Now().UTC()
	return map[string]any{"version": 2, "issueDate": now.AddDate(0, 0, -1).Format(time.RFC3339), "nextUpdate": now.AddDate(0, 0, 29).Format(time.RFC3339),
		"fmspc": fmspc, "pceId": "0000", "tcbType": 0, "tcbEvaluationDataNumber": 18, "tcbLevels": levels}
}

func qeIdentityDoc(mrsigner string, svnStatus ...any) map[string]any {
	now := time.Now().UTC()
	var levels []map[string]any
	for i := 0; i < len(svnStatus); i += 2 {
		levels = append(levels, map[string]any{"tcb": map[string]int{"isvsvn": svnStatus[i].(int)}, "tcbDate": "2024-03-13T00:00:00Z", "tcbStatus": svnStatus[i+1]})
	}
	return map[string]any{"id": "QE", "version": 2, "issueDate": now.AddDate(0, 0, -1).Format(time.RFC3339), "nextUpdate": now.AddDate(0, 0, 29).Format(time.RFC3339),
		"tcbEvaluationDataNumber": 18, "miscselect": "00000000", "miscselectMask": "FFFFFFFF", "attributes": "11000000000000000000000000000000",
		"attributesMask": "FBFFFFFFFFFFFFFF0000000000000000", "mrsigner": mrsigner, "isvprodid": 1, "tcbLevels": levels}
}

// testPlatform is a quote under a test root with PCK TCB 11,11,3,3 / 13
// and QE ISVSVN 8.
func testPlatform(t *testing.T) (*quotegen.Chain, *sgx.Result) {
	chain, root := testChain(t, quotegen.IntelNames, quotegen.ChainSpec{TCB: [16]byte{11, 11, 3, 3}, PCESVN: 13})
	var qe [32]byte
	hex.Decode(qe[:], []byte(liveQEMRSIGNER))
	r := attested(t, chain, root, quotegen.Enclave{QEMRSIGNER: qe, QEISVSVN: 8})
	if r.Verdict != sgx.Genuine {
		t.Fatal(r.Reason())
	}
	return chain, r
}

func TestCollateralStatuses(t *testing.T) {
	chain, res := testPlatform(t)
	s := newCollateralSigner(t, chain)
	opts := sgx.Options{Roots: []*sgx.Root{s.root}}
	qe := s.doc(t, "enclaveIdentity", qeIdentityDoc(strings.ToUpper(liveQEMRSIGNER), 9, "UpToDate", 8, "SWHardeningNeeded", 1, "OutOfDate"))
	for _, status := range []string{"UpToDate", "SWHardeningNeeded", "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded", "OutOfDate", "Revoked"} {
		tcb := s.doc(t, "tcbInfo", tcbInfoDoc("00606a000000",
			level([]int{12, 12, 3, 3}, 13, "2024-03-13", "UpToDate"), // not met: components 1–2 are 11
			level([]int{11, 11, 3, 3}, 14, "2024-01-01", "UpToDate"), // not met: PCESVN is 13
			level([]int{11, 11, 3, 3}, 13, "2023-02-15", status),
			level([]int{1}, 1, "2018-01-04", "OutOfDate")))
		rep := sgx.EvaluateCollateral(&sgx.Collateral{TCBInfo: tcb, QEIdentity: qe, SigningChain: s.pem}, &res.Facts, opts)
		if len(rep.Failures) != 0 || rep.Stale || rep.PlatformStatus != status || day(rep.PlatformTCBDate) != "2023-02-15" || rep.QEStatus != "SWHardeningNeeded" {
			t.Fatalf("%s: %v platform %s QE %s stale %v", status, rep.Failures, rep.PlatformStatus, rep.QEStatus, rep.Stale)
		}
	}
	// No level met, an unknown status, another platform, another QE.
	cases := []struct {
		name string
		tcb  map[string]any
		qe   map[string]any
		want sgx.Check
	}{
		{"unknown status", tcbInfoDoc("00606a000000", level(nil, 0, "2018-01-04", "Fine")), nil, sgx.CheckCollateralFormat},
		{"other FMSPC", tcbInfoDoc("00906ed50000", level(nil, 0, "2018-01-04", "UpToDate")), nil, sgx.CheckCollateralPlatform},
		{"other QE signer", nil, qeIdentityDoc(strings.Repeat("AB", 32), 1, "UpToDate"), sgx.CheckQEIdentity},
	}
	for _, c := range cases {
		tcb, q := s.doc(t, "tcbInfo", tcbInfoDoc("00606a000000", level(nil, 0, "2018-01-04", "UpToDate"))), qe
		if c.tcb != nil {
			tcb = s.doc(t, "tcbInfo", c.tcb)
		}
		if c.qe != nil {
			q = s.doc(t, "enclaveIdentity", c.qe)
		}
		rep := sgx.EvaluateCollateral(&sgx.Collateral{TCBInfo: tcb, QEIdentity: q, SigningChain: s.pem}, &res.Facts, opts)
		if !hasCheck(rep.Failures, c.want) {
			t.Errorf("%s: %v", c.name, rep.Failures)
		}
	}
	none := s.doc(t, "tcbInfo", tcbInfoDoc("00606a000000", level([]int{20}, 0, "2024-01-01", "UpToDate")))
	if rep := sgx.EvaluateCollateral(&sgx.Collateral{TCBInfo: none, QEIdentity: qe, SigningChain: s.pem}, &res.Facts, opts); rep.PlatformStatus != "TCBLevelNotSupported" {
		t.Errorf("no level met: %q", rep.PlatformStatus)
	}
}

func TestCollateralSignatureFailures(t *testing.T) {
	chain, res := testPlatform(t)
	s := newCollateralSigner(t, chain)
	tcb := s.doc(t, "tcbInfo", tcbInfoDoc("00606a000000", level(nil, 0, "2018-01-04", "UpToDate")))
	qe := s.doc(t, "enclaveIdentity", qeIdentityDoc(liveQEMRSIGNER, 1, "UpToDate"))
	good := &sgx.Collateral{TCBInfo: tcb, QEIdentity: qe, SigningChain: s.pem}
	if rep := sgx.EvaluateCollateral(good, &res.Facts, sgx.Options{Roots: []*sgx.Root{s.root}}); !rep.OK() || rep.PlatformStatus != "UpToDate" {
		t.Fatalf("%v %s", rep.Failures, rep.PlatformStatus)
	}
	// Under the pinned Intel root, a test root's collateral is refused.
	if rep := sgx.EvaluateCollateral(good, &res.Facts, sgx.Options{}); !hasCheck(rep.Failures, sgx.CheckCollateralChain) || rep.PlatformStatus != "" {
		t.Fatalf("under Intel's root: %v", rep.Failures)
	}
	other := newCollateralSigner(t, chain) // same root, another signing key
	for name, c := range map[string]*sgx.Collateral{
		"TCB Info signed by another key":    {TCBInfo: other.doc(t, "tcbInfo", tcbInfoDoc("00606a000000", level(nil, 0, "2018-01-04", "UpToDate"))), QEIdentity: qe, SigningChain: s.pem},
		"QE Identity signed by another key": {TCBInfo: tcb, QEIdentity: other.doc(t, "enclaveIdentity", qeIdentityDoc(liveQEMRSIGNER, 1, "UpToDate")), SigningChain: s.pem},
		"a byte changed":                    {TCBInfo: bytes.Replace(tcb, []byte(`"version":2`), []byte(`"version":3`), 1), QEIdentity: qe, SigningChain: s.pem},
		"signature not hex":                 {TCBInfo: bytes.Replace(tcb, []byte(`"signature":"`), []byte(`"signature":"zz`), 1), QEIdentity: qe, SigningChain: s.pem},
	} {
		rep := sgx.EvaluateCollateral(c, &res.Facts, sgx.Options{Roots: []*sgx.Root{s.root}})
		if !hasCheck(rep.Failures, sgx.CheckCollateralSignature) && !hasCheck(rep.Failures, sgx.CheckCollateralFormat) {
			t.Errorf("%s: %v", name, rep.Failures)
		}
	}
	// Expired signing chain relative to the clock: stale.
	if rep := sgx.EvaluateCollateral(good, &res.Facts, sgx.Options{At: time.Now().AddDate(10, 0, 0), Roots: []*sgx.Root{s.root}}); !rep.Stale {
		t.Fatal("ten years on the collateral is not stale")
	}
}

func TestCollateralCRLs(t *testing.T) {
	chain, res := testPlatform(t)
	s := newCollateralSigner(t, chain)
	tcb := s.doc(t, "tcbInfo", tcbInfoDoc("00606a000000", level(nil, 0, "2018-01-04", "UpToDate")))
	qe := s.doc(t, "enclaveIdentity", qeIdentityDoc(liveQEMRSIGNER, 1, "UpToDate"))
	crl := func(issuer *x509.Certificate, key *ecdsa.PrivateKey, revoked ...*big.Int) []byte {
		var entries []x509.RevocationListEntry
		for _, r := range revoked {
			entries = append(entries, x509.RevocationListEntry{SerialNumber: r, RevocationTime: time.Now().Add(-time.Hour)})
		}
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Hour),
			NextUpdate: time.Now().AddDate(0, 1, 0), RevokedCertificateEntries: entries}, issuer, key)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	opts := sgx.Options{Roots: []*sgx.Root{s.root}}
	dir := t.TempDir()
	for name, b := range map[string][]byte{sgx.FileTCBInfo: tcb, sgx.FileQEIdentity: qe, sgx.FileSigningChain: s.pem,
		sgx.FilePCKCRL: crl(chain.CA, chain.CAKey, big.NewInt(99)), sgx.FileRootCRL: crl(chain.Root, chain.RootKey)} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err := sgx.LoadCollateral(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rep := sgx.EvaluateCollateral(c, &res.Facts, opts); !rep.OK() || !rep.RevocationChecked || !strings.Contains(strings.Join(rep.Lines(), "\n"), "not revoked") {
		t.Fatalf("good CRLs: %v %v", rep.Failures, rep.Lines())
	}
	c.PCKCRL = crl(chain.CA, chain.CAKey, chain.PCK.SerialNumber)
	if rep := sgx.EvaluateCollateral(c, &res.Facts, opts); len(rep.Revoked) != 1 || rep.OK() {
		t.Fatalf("revoked PCK: %v", rep.Revoked)
	}
	c.PCKCRL = crl(chain.Root, chain.RootKey) // signed by the wrong issuer
	if rep := sgx.EvaluateCollateral(c, &res.Facts, opts); !hasCheck(rep.Failures, sgx.CheckCollateralSignature) || rep.RevocationChecked {
		t.Fatalf("CRL from the wrong issuer: %v", rep.Failures)
	}
}

func TestCollateralDownloads(t *testing.T) {
	res := sgx.Verify(liveCert(t), sgx.Options{At: liveAt})
	d := strings.Join(sgx.CollateralDownloads(&res.Facts), "\n")
	if !strings.Contains(d, "tcb?fmspc=00606a000000") || !strings.Contains(d, "pckcrl?ca=platform") {
		t.Fatal(d)
	}
}
