package sgx

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/custodian-hsm/custodian/internal/safefile"
)

// Collateral file names in a bundle folder, as Intel's provisioning
// certification service (API v3) serves them.
const (
	FileTCBInfo      = "tcb-info.json"
	FileQEIdentity   = "qe-identity.json"
	FileSigningChain = "tcb-signing-chain.pem"
	FilePCKCRL       = "pck-crl.der" // the PCK Platform (or Processor) CA's CRL, DER or PEM
	FileRootCRL      = "root-crl.der"
	maxCollateral    = 256 << 10
)

// Collateral is Intel's TCB collateral for one platform, brought on USB.
type Collateral struct {
	TCBInfo, QEIdentity, SigningChain []byte
	PCKCRL, RootCRL                   []byte // nil: not brought
}

// LoadCollateral reads a bundle folder. TCB Info, QE Identity and the
// signing chain are required; the CRLs are optional.
func LoadCollateral(dir string) (*Collateral, error) {
	read := func(name string, required bool) ([]byte, error) {
		p := filepath.Join(dir, name)
		b, err := safefile.ReadLimited(p, maxCollateral)
		if err != nil && !required && errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("collateral: %w (a bundle holds %s, %s and %s, and optionally %s and %s)", err, FileTCBInfo, FileQEIdentity, FileSigningChain, FilePCKCRL, FileRootCRL)
		}
		return b, nil
	}
	c := &Collateral{}
	var err error
	for _, f := range []struct {
		dst      *[]byte
		name     string
		required bool
	}{{&c.TCBInfo, FileTCBInfo, true}, {&c.QEIdentity, FileQEIdentity, true}, {&c.SigningChain, FileSigningChain, true},
		{&c.PCKCRL, FilePCKCRL, false}, {&c.RootCRL, FileRootCRL, false}} {
		if *f.dst, err = read(f.name, f.required); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Collateral checks.
const (
	CheckCollateralFormat    Check = "collateral well formed"
	CheckCollateralChain     Check = "collateral signing chain to the pinned root"
	CheckCollateralSignature Check = "collateral signature"
	CheckCollateralPlatform  Check = "collateral is for this platform"
	CheckQEIdentity          Check = "QE matches Intel's QE Identity"
	CheckRevocation          Check = "PCK chain not revoked"
)

// TCBReport is the evaluation of a collateral bundle against a quote's
// facts. A status other than UpToDate is a warning for the ceremony to
// show and record, not a failure: Failures lists only collateral that
// cannot be trusted or does not match.
type TCBReport struct {
	Root *Root

	TCBInfoIssued, TCBInfoNextUpdate       time.Time
	TCBEvaluationDataNumber                int
	QEIdentityIssued, QEIdentityNextUpdate time.Time

	PlatformStatus  string // UpToDate, SWHardeningNeeded, OutOfDate, … ("" when not found)
	PlatformTCBDate time.Time
	QEStatus        string
	QETCBDate       time.Time

	// Stale: checked at At, the collateral is outside its issue date to
	// next update window; StaleDays says by how many days.
	Stale     bool
	StaleDays int
	At        time.Time

	RevocationChecked bool
	Revoked           []string // what is revoked, by subject
	crls              int      // CRLs brought

	Failures []*Failure
}

func (t *TCBReport) fail(c Check, format string, args ...any) {
	t.Failures = append(t.Failures, &Failure{Check: c, Detail: fmt.Sprintf(format, args...)})
}

// OK reports whether the collateral is trusted, current and matches.
func (t *TCBReport) OK() bool { return len(t.Failures) == 0 && !t.Stale && len(t.Revoked) == 0 }

// Lines is the report in words, one fact per line.
func (t *TCBReport) Lines() []string {
	var l []string
	for _, f := range t.Failures {
		l = append(l, "collateral check failed: "+f.Error())
	}
	if t.PlatformStatus != "" {
		l = append(l, fmt.Sprintf("platform TCB status: %s (TCB level of %s; TCB Info issued %s, evaluation data number %d)",
			t.PlatformStatus, day(t.PlatformTCBDate), day(t.TCBInfoIssued), t.TCBEvaluationDataNumber))
	}
	if t.QEStatus != "" {
		l = append(l, fmt.Sprintf("QE TCB status: %s (TCB level of %s)", t.QEStatus, day(t.QETCBDate)))
	}
	next := t.TCBInfoNextUpdate
	if !t.QEIdentityNextUpdate.IsZero() && t.QEIdentityNextUpdate.Before(next) {
		next = t.QEIdentityNextUpdate
	}
	if t.Stale {
		l = append(l, fmt.Sprintf("collateral STALE by %d days at %s (issued %s, next update %s): the statuses above may no longer be current; bring collateral fetched after %s",
			t.StaleDays, t.At.Format(time.RFC3339), day(t.TCBInfoIssued), day(next), day(t.At)))
	} else if !next.IsZero() {
		l = append(l, fmt.Sprintf("collateral current at %s (next update %s)", t.At.Format(time.RFC3339), day(next)))
	}
	switch {
	case len(t.Revoked) > 0:
		l = append(l, "REVOKED: "+strings.Join(t.Revoked, ", "))
	case !t.RevocationChecked && t.crls == 0:
		l = append(l, "revocation not checked (no CRLs)")
	case !t.RevocationChecked:
		l = append(l, fmt.Sprintf("revocation NOT fully checked: bring both %s and %s", FilePCKCRL, FileRootCRL))
	default:
		l = append(l, "revocation checked: the PCK chain is not revoked")
	}
	return l
}

// NotEvaluated is what to say when no collateral was brought.
const NotEvaluated = "TCB status not evaluated (no collateral)"

// EvaluateCollateral verifies the bundle's signatures to the same roots as
// opts (Intel's pinned root by default), its dates at opts.At, and
// evaluates the platform's and the QE's TCB status for the quote's facts.
// pckChain is the quote's PCK certificate chain (for revocation).
func EvaluateCollateral(c *Collateral, facts *Facts, opts Options) *TCBReport {
	at := opts.At
	if at.IsZero() {
		at = time.Now()
	}
	roots := opts.Roots
	if roots == nil {
		roots = []*Root{intelRoot}
	}
	t := &TCBReport{At: at.UTC()}
	signer := t.signingKey(c.SigningChain, roots, at)
	tcbRaw := t.signedBody(c.TCBInfo, "tcbInfo", FileTCBInfo, signer)
	qeRaw := t.signedBody(c.QEIdentity, "enclaveIdentity", FileQEIdentity, signer)
	if tcbRaw != nil {
		t.evalPlatform(tcbRaw, facts)
	}
	if qeRaw != nil {
		t.evalQE(qeRaw, facts)
	}
	t.checkDates(at)
	t.checkRevocation(c, facts, at)
	return t
}

// checkRevocation checks the PCK certificate against its CA's CRL and the
// CA against the root's CRL, each CRL verified to its issuer in the chain.
func (t *TCBReport) checkRevocation(c *Collateral, f *Facts, at time.Time) {
	if c.PCKCRL == nil && c.RootCRL == nil {
		return
	}
	if len(f.Chain) < 2 {
		t.fail(CheckRevocation, "the quote's PCK chain did not verify: its revocation cannot be checked")
		return
	}
	checked := 0
	for _, crl := range []struct {
		data            []byte
		file            string
		subject, issuer *x509.Certificate
	}{{c.PCKCRL, FilePCKCRL, f.Chain[0], f.Chain[1]}, {c.RootCRL, FileRootCRL, f.Chain[len(f.Chain)-2], f.Chain[len(f.Chain)-1]}} {
		if crl.data == nil {
			continue
		}
		t.crls++
		der := crl.data
		if b, _ := pem.Decode(der); b != nil {
			der = b.Bytes
		}
		l, err := x509.ParseRevocationList(der)
		if err != nil {
			t.fail(CheckCollateralFormat, "%s does not parse as a CRL: %v", crl.file, err)
			continue
		}
		if err := l.CheckSignatureFrom(crl.issuer); err != nil {
			t.fail(CheckCollateralSignature, "%s is not signed by %q: %v", crl.file, crl.issuer.Subject.CommonName, err)
			continue
		}
		if at.Before(l.ThisUpdate) || (!l.NextUpdate.IsZero() && at.After(l.NextUpdate)) {
			t.Stale = true
			t.fail(CheckRevocation, "%s is valid from %s to %s, not at %s", crl.file, day(l.ThisUpdate), day(l.NextUpdate), at.UTC().Format(time.RFC3339))
		}
		for _, e := range l.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(crl.subject.SerialNumber) == 0 {
				t.Revoked = append(t.Revoked, fmt.Sprintf("%q (serial %x) revoked on %s", crl.subject.Subject.CommonName, crl.subject.SerialNumber, day(e.RevocationTime)))
			}
		}
		checked++
	}
	t.RevocationChecked = checked == 2
}

// signingKey verifies the TCB signing certificate to a pinned root and
// returns its key. Its validity is checked with the other dates.
func (t *TCBReport) signingKey(chainPEM []byte, roots []*Root, at time.Time) *ecdsa.PublicKey {
	certs, err := parseChain(chainPEM)
	if err != nil {
		t.fail(CheckCollateralFormat, "%s: %v", FileSigningChain, err)
		return nil
	}
	pool, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r.Cert)
	}
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	// Signatures first, at a time inside the signer's validity; whether
	// the bundle is current is the dates' question.
	opts := x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: certs[0].NotBefore.Add(time.Second), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	chains, err := certs[0].Verify(opts)
	if err != nil {
		t.fail(CheckCollateralChain, "the TCB signing certificate %q does not chain to %s: %v", certs[0].Subject.CommonName, rootNames(roots), err)
		return nil
	}
	top := chains[0][len(chains[0])-1]
	for _, r := range roots {
		if bytes.Equal(r.Cert.Raw, top.Raw) {
			t.Root = r
		}
	}
	if at.Before(certs[0].NotBefore) || at.After(certs[0].NotAfter) {
		t.Stale = true
		t.fail(CheckCollateralChain, "the TCB signing certificate is valid from %s to %s, not at %s", day(certs[0].NotBefore), day(certs[0].NotAfter), at.UTC().Format(time.RFC3339))
	}
	k, ok := certs[0].PublicKey.(*ecdsa.PublicKey)
	if !ok {
		t.fail(CheckCollateralChain, "the TCB signing certificate's key is not ECDSA")
		return nil
	}
	return k
}

// signedBody returns the exact bytes of member (as they stand in the
// file: they are what Intel signed) when the signature verifies.
func (t *TCBReport) signedBody(doc []byte, member, file string, key *ecdsa.PublicKey) []byte {
	var w map[string]json.RawMessage
	if err := json.Unmarshal(doc, &w); err != nil {
		t.fail(CheckCollateralFormat, "%s is not JSON: %v", file, err)
		return nil
	}
	body, ok := w[member]
	var sigHex string
	if !ok || json.Unmarshal(w["signature"], &sigHex) != nil || len(w) != 2 {
		t.fail(CheckCollateralFormat, "%s must be {%q: …, \"signature\": \"hex\"}", file, member)
		return nil
	}
	sig, err := hex.DecodeString(sigHex)
	if err != nil || len(sig) != 64 {
		t.fail(CheckCollateralFormat, "%s: the signature is not 64 bytes of hex (r‖s)", file)
		return nil
	}
	if key == nil {
		return nil
	}
	if !verifyRS(key, body, [64]byte(sig)) {
		t.fail(CheckCollateralSignature, "%s: the signature over %s does not verify with the TCB signing key: the file was altered or is not Intel's", file, member)
		return nil
	}
	return body
}

type tcbInfo struct {
	Version    int       `json:"version"`
	IssueDate  time.Time `json:"issueDate"`
	NextUpdate time.Time `json:"nextUpdate"`
	FMSPC      string    `json:"fmspc"`
	PCEID      string    `json:"pceId"`
	EvalNumber int       `json:"tcbEvaluationDataNumber"`
	TCBLevels  []struct {
		TCB       map[string]int `json:"tcb"`
		TCBDate   time.Time      `json:"tcbDate"`
		TCBStatus string         `json:"tcbStatus"`
	} `json:"tcbLevels"`
}

var knownStatuses = map[string]bool{"UpToDate": true, "SWHardeningNeeded": true, "ConfigurationNeeded": true,
	"ConfigurationAndSWHardeningNeeded": true, "OutOfDate": true, "OutOfDateConfigurationNeeded": true, "Revoked": true}

// evalPlatform finds the first TCB level (they are in descending order)
// that the PCK certificate's TCB meets, component by component.
func (t *TCBReport) evalPlatform(raw []byte, f *Facts) {
	var ti tcbInfo
	if err := json.Unmarshal(raw, &ti); err != nil || ti.Version < 2 || len(ti.TCBLevels) == 0 {
		t.fail(CheckCollateralFormat, "%s: not a TCB Info version 2 or 3 document", FileTCBInfo)
		return
	}
	t.TCBInfoIssued, t.TCBInfoNextUpdate, t.TCBEvaluationDataNumber = ti.IssueDate.UTC(), ti.NextUpdate.UTC(), ti.EvalNumber
	if !strings.EqualFold(ti.FMSPC, hex.EncodeToString(f.FMSPC[:])) || !strings.EqualFold(ti.PCEID, hex.EncodeToString(f.PCEID[:])) {
		t.fail(CheckCollateralPlatform, "the TCB Info is for FMSPC %s PCE ID %s; the quote's platform is FMSPC %x PCE ID %x: bring the TCB Info for FMSPC %x",
			ti.FMSPC, ti.PCEID, f.FMSPC, f.PCEID, f.FMSPC)
		return
	}
	for _, lvl := range ti.TCBLevels {
		if !knownStatuses[lvl.TCBStatus] {
			t.fail(CheckCollateralFormat, "%s: unknown TCB status %q", FileTCBInfo, lvl.TCBStatus)
			return
		}
		meets := int(f.PCKTCB.PCESVN) >= lvl.TCB["pcesvn"]
		for i := 0; i < 16 && meets; i++ {
			meets = int(f.PCKTCB.CompSVN[i]) >= lvl.TCB[fmt.Sprintf("sgxtcbcomp%02dsvn", i+1)]
		}
		if meets {
			t.PlatformStatus, t.PlatformTCBDate = lvl.TCBStatus, lvl.TCBDate.UTC()
			return
		}
	}
	t.PlatformStatus = "TCBLevelNotSupported"
}

type qeIdentity struct {
	ID             string    `json:"id"`
	Version        int       `json:"version"`
	IssueDate      time.Time `json:"issueDate"`
	NextUpdate     time.Time `json:"nextUpdate"`
	MiscSelect     string    `json:"miscselect"`
	MiscSelectMask string    `json:"miscselectMask"`
	Attributes     string    `json:"attributes"`
	AttributesMask string    `json:"attributesMask"`
	MRSIGNER       string    `json:"mrsigner"`
	ISVProdID      int       `json:"isvprodid"`
	TCBLevels      []struct {
		TCB       struct{ ISVSVN int } `json:"tcb"`
		TCBDate   time.Time            `json:"tcbDate"`
		TCBStatus string               `json:"tcbStatus"`
	} `json:"tcbLevels"`
}

func (t *TCBReport) evalQE(raw []byte, f *Facts) {
	var q qeIdentity
	if err := json.Unmarshal(raw, &q); err != nil || q.ID != "QE" || q.Version < 2 {
		t.fail(CheckCollateralFormat, "%s: not a QE Identity version 2 document", FileQEIdentity)
		return
	}
	t.QEIdentityIssued, t.QEIdentityNextUpdate = q.IssueDate.UTC(), q.NextUpdate.UTC()
	ms, _ := hex.DecodeString(q.MiscSelect)
	msm, _ := hex.DecodeString(q.MiscSelectMask)
	at, _ := hex.DecodeString(q.Attributes)
	atm, _ := hex.DecodeString(q.AttributesMask)
	var misc [4]byte
	misc[0], misc[1], misc[2], misc[3] = byte(f.QEMiscSelect), byte(f.QEMiscSelect>>8), byte(f.QEMiscSelect>>16), byte(f.QEMiscSelect>>24)
	switch {
	case !strings.EqualFold(q.MRSIGNER, hex.EncodeToString(f.QEMRSIGNER[:])):
		t.fail(CheckQEIdentity, "the quoting enclave's MRSIGNER %x is not Intel's %s", f.QEMRSIGNER, strings.ToLower(q.MRSIGNER))
	case q.ISVProdID != int(f.QEISVProdID):
		t.fail(CheckQEIdentity, "the quoting enclave's ISVPRODID %d is not %d", f.QEISVProdID, q.ISVProdID)
	case !masked(misc[:], ms, msm):
		t.fail(CheckQEIdentity, "the quoting enclave's MISCSELECT differs from Intel's QE Identity")
	case !masked(f.QEAttributes[:], at, atm):
		t.fail(CheckQEIdentity, "the quoting enclave's attributes differ from Intel's QE Identity (a debug QE?)")
	default:
		for _, lvl := range q.TCBLevels {
			if int(f.QEISVSVN) >= lvl.TCB.ISVSVN {
				t.QEStatus, t.QETCBDate = lvl.TCBStatus, lvl.TCBDate.UTC()
				return
			}
		}
		t.QEStatus = "TCBLevelNotSupported"
	}
}

// masked: value & mask == want & mask, byte by byte (equal lengths).
func masked(value, want, mask []byte) bool {
	if len(want) != len(value) || len(mask) != len(value) {
		return false
	}
	for i := range value {
		if value[i]&mask[i] != want[i]&mask[i] {
			return false
		}
	}
	return true
}

func (t *TCBReport) checkDates(at time.Time) {
	worst := 0.0
	for _, w := range [][2]time.Time{{t.TCBInfoIssued, t.TCBInfoNextUpdate}, {t.QEIdentityIssued, t.QEIdentityNextUpdate}} {
		if w[0].IsZero() {
			continue
		}
		switch {
		case at.After(w[1]):
			worst = math.Max(worst, at.Sub(w[1]).Hours()/24)
			t.Stale = true
		case at.Before(w[0]):
			worst = math.Max(worst, w[0].Sub(at).Hours()/24)
			t.Stale = true
		}
	}
	t.StaleDays = int(math.Round(worst))
}

// CollateralDownloads lists what the online operator downloads from
// Intel's provisioning certification service (API v3, which serves TCB
// Info version 2) for the platform in facts, and the file name each is
// saved under in the bundle folder.
func CollateralDownloads(f *Facts) []string {
	ca := "platform"
	if len(f.Chain) > 1 && strings.Contains(f.Chain[1].Subject.CommonName, "Processor") {
		ca = "processor"
	}
	base := "https://api.trustedservices.intel.com/sgx/certification/v3/"
	return []string{
		fmt.Sprintf("%s: the body of %stcb?fmspc=%x", FileTCBInfo, base, f.FMSPC),
		fmt.Sprintf("%s: that answer's TCB-Info-Issuer-Chain header, URL-decoded (PEM)", FileSigningChain),
		fmt.Sprintf("%s: the body of %sqe/identity", FileQEIdentity, base),
		fmt.Sprintf("%s: the body of %spckcrl?ca=%s&encoding=der", FilePCKCRL, base, ca),
		fmt.Sprintf("%s: https://certificates.trustedservices.intel.com/IntelSGXRootCA.der", FileRootCRL),
	}
}
