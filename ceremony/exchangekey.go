package ceremony

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/custodian-hsm/custodian/crypto/fingerprint"
	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/sgx"
)

// ExchangeKeyPolicy is what an exchange key is checked against.
type ExchangeKeyPolicy struct {
	Mode Mode
	// At is the ceremony's clock (zero: now); recorded when set.
	At time.Time
	// Exception, when set, admits a key whose attestation fails. It never
	// admits a custodian's own certificate nor a key under 2048 bits.
	Exception *WitnessedException
	// Collateral is Intel's TCB collateral, when the operator brought it.
	Collateral *sgx.Collateral
	// SD is the security domain being recovered: its custodians'
	// certificates are refused as the exchange key.
	SD *sd.File
	// Earlier are enclave identities from an earlier ceremony's
	// transcript or a plan file: a different signer or a lower ISVSVN
	// needs the exception.
	Earlier []sgx.Identity
	// Prior is a check CheckExchangeKey already made of this certificate
	// in this mode at this clock (the CLI checks before it writes
	// anything): its attestation verification — three ECDSA and an
	// RSA-4096 signature — is reused instead of repeated. Every decision
	// of the policy is still made again. Only a check CheckExchangeKey
	// returned carries a verification to reuse; any other is ignored.
	Prior *ExchangeKeyCheck
}

// ExchangeKeyCheck is the decision on an exchange key, with everything
// the ceremony shows and records.
type ExchangeKeyCheck struct {
	Result *sgx.Result
	Known  *sgx.Identity  // the shipped identity matched (nil: unknown)
	TCB    *sgx.TCBReport // nil: no collateral
	// Problems are what needs the exception (empty: admitted on its own).
	Problems []string
	// Refused: the key is not to be used; Hard: no exception can change it.
	Refused, Hard bool
	Reason        string
	Exception     *WitnessedException
	Mode          Mode
	SHA256        string // of the certificate

	// verified is what the attestation was verified for, set only by
	// CheckExchangeKey (ExchangeKeyPolicy.Prior).
	verified *verifiedAttestation
}

// verifiedAttestation is one sgx.Verify: its inputs and its result.
type verifiedAttestation struct {
	raw    []byte
	mode   Mode
	at     time.Time
	result *sgx.Result
}

// reuse is the prior verification when it was made of the same
// certificate bytes, in the same mode (hence the same roots) and at the
// same ceremony clock; nil otherwise.
func (v *verifiedAttestation) reuse(cert *x509.Certificate, p ExchangeKeyPolicy) *sgx.Result {
	if v == nil || v.mode != p.Mode || !v.at.Equal(p.At) || !bytes.Equal(v.raw, cert.Raw) {
		return nil
	}
	return v.result
}

// ExchangeKeyRefusedError is returned when an exchange key is refused.
type ExchangeKeyRefusedError struct{ Check *ExchangeKeyCheck }

func (e *ExchangeKeyRefusedError) Error() string { return e.Check.Reason }

// CheckExchangeKey verifies an exchange certificate's attestation and
// decides, under the policy, whether the ceremony may wrap to it. It
// returns the check and, when refused, an *ExchangeKeyRefusedError.
func CheckExchangeKey(cert *x509.Certificate, p ExchangeKeyPolicy) (*ExchangeKeyCheck, error) {
	opts := sgx.Options{At: p.At}
	if p.Mode == Drill {
		opts.Roots = []*sgx.Root{sgx.IntelRoot(), sgx.DrillRoot()}
	}
	var res *sgx.Result
	if p.Prior != nil {
		res = p.Prior.verified.reuse(cert, p)
	}
	if res == nil {
		res = sgx.Verify(cert, opts)
	}
	c := &ExchangeKeyCheck{Result: res, Mode: p.Mode, SHA256: fingerprint.Of(cert.Raw).Hex(),
		verified: &verifiedAttestation{raw: cert.Raw, mode: p.Mode, at: p.At, result: res}}
	if p.Collateral != nil {
		c.TCB = sgx.EvaluateCollateral(p.Collateral, &res.Facts, opts)
	}
	if id, ok := sgx.KnownSigner(res); ok {
		c.Known = &id
	}
	if hard := hardRefusal(cert, res, p.SD); hard != "" {
		c.Refused, c.Hard, c.Reason = true, true, hard
		return c, &ExchangeKeyRefusedError{c}
	}
	for _, f := range res.Failures {
		c.Problems = append(c.Problems, f.Error())
	}
	if res.Verdict != sgx.Unattested && res.Verdict != sgx.Malformed {
		c.Problems = append(c.Problems, identityProblems(res, c.Known, p.Earlier)...)
	}
	if res.Drill() && p.Mode != Drill {
		c.Problems = append(c.Problems, "the attestation is under the DRILL root: never a production HSM") // cannot happen: production passes no DRILL root
	}
	switch {
	case len(c.Problems) == 0:
	case p.Exception != nil:
		c.Exception = p.Exception
	default:
		c.Refused = true
		c.Reason = fmt.Sprintf("exchange key refused: %s; if the witness accepts it anyway, record the exception (CLI: --accept-unattested-exchange-key \"REASON; approved by NAME\")", c.Problems[0])
		if len(c.Problems) > 1 {
			c.Reason = fmt.Sprintf("exchange key refused: %s (and %d more: %s); if the witness accepts it anyway, record the exception (CLI: --accept-unattested-exchange-key \"REASON; approved by NAME\")",
				c.Problems[0], len(c.Problems)-1, strings.Join(c.Problems[1:], "; "))
		}
		return c, &ExchangeKeyRefusedError{c}
	}
	return c, nil
}

// hardRefusal is what no exception overrides: a key under 2048 bits, a
// key that is not RSA, and a custodian's own certificate.
func hardRefusal(cert *x509.Certificate, res *sgx.Result, f *sd.File) string {
	if res.Facts.KeyBits < sgx.MinRSABits {
		return fmt.Sprintf("exchange key refused whatever the exception: %s", firstFailure(res, sgx.CheckKeySize))
	}
	if f != nil {
		tp := sd.Thumbprint(cert.Raw)
		for i, s := range f.SharedKeys.EncShares {
			if s.X5tS256 == tp {
				return fmt.Sprintf("exchange key refused whatever the exception: it is custodian certificate %d of this security domain (%q), not a new HSM's exchange key: wrapping to it would hand the security domain to one custodian; download the exchange key with init-recovery", i+1, cert.Subject.CommonName)
			}
		}
	}
	return ""
}

func firstFailure(res *sgx.Result, c sgx.Check) string {
	for _, f := range res.Failures {
		if f.Check == c {
			return f.Error()
		}
	}
	return string(c)
}

// identityProblems compares the enclave identity with the shipped ones
// and with those seen before.
func identityProblems(res *sgx.Result, known *sgx.Identity, earlier []sgx.Identity) []string {
	var p []string
	id := sgx.IdentityOf(res)
	switch {
	case known == nil:
		p = append(p, fmt.Sprintf("unknown enclave signer (%s): not the Managed HSM signer Custodian knows", id))
	case id.ISVSVN < known.ISVSVN:
		p = append(p, fmt.Sprintf("the enclave's ISVSVN %d is lower than the %d Custodian knows for %s: a downgrade", id.ISVSVN, known.ISVSVN, known.Name))
	}
	for _, e := range earlier {
		switch {
		case e.MRSIGNER != id.MRSIGNER || e.ISVProdID != id.ISVProdID:
			p = append(p, fmt.Sprintf("the enclave signer changed since %s: was %s, now %s", orEarlier(e.Observed), e, id))
		case id.ISVSVN < e.ISVSVN:
			p = append(p, fmt.Sprintf("the enclave's ISVSVN went down from %d (%s) to %d: a downgrade", e.ISVSVN, orEarlier(e.Observed), id.ISVSVN))
		}
	}
	return p
}

func orEarlier(s string) string {
	if s == "" {
		return "the earlier ceremony"
	}
	return s
}

// Admitted reports whether the ceremony may wrap to the key.
func (c *ExchangeKeyCheck) Admitted() bool { return !c.Refused }

// Sentence is the verdict in words a custodian understands, for the
// confirm screen beside the fingerprint.
func (c *ExchangeKeyCheck) Sentence() string {
	r := c.Result
	f := r.Facts
	debug := "not a debug enclave"
	if f.Debug {
		debug = "a DEBUG enclave (its memory is readable)"
	}
	where := "made inside a genuine Intel SGX enclave"
	if r.Drill() {
		where = "DRILL attestation: made inside the drill HSM's simulated enclave (DRILL root, not Intel)"
	}
	signer := "signer UNKNOWN"
	if c.Known != nil {
		signer = "signer known since " + c.Known.Since
		if c.Known.Drill {
			signer = "signer known (drill)"
		}
	}
	var s string
	switch r.Verdict {
	case sgx.Genuine:
		s = fmt.Sprintf("%s, %s, %s", where, signer, debug)
	case sgx.Stale:
		s = fmt.Sprintf("%s, %s, %s — but STALE: %s", where, signer, debug, staleWhat(r))
	case sgx.Unattested:
		s = "NOT attested: the certificate carries no proof that it was made inside an HSM enclave"
	case sgx.Malformed:
		s = "NOT attested: the attestation is malformed"
	default:
		s = "attestation FAILED: " + r.Failures[0].Error()
	}
	switch {
	case c.Hard:
		s += " — REFUSED: " + c.Reason
	case c.Exception != nil:
		s += " — accepted by exception: " + c.Exception.String()
	case c.Refused:
		s += " — REFUSED"
	}
	return s
}

func staleWhat(r *sgx.Result) string {
	if r.Failed(sgx.CheckCertValidity) {
		if r.At.After(r.Facts.NotAfter) {
			return "the certificate expired on " + r.Facts.NotAfter.Format("2006-01-02")
		}
		return "the certificate is not valid until " + r.Facts.NotBefore.Format("2006-01-02")
	}
	return firstFailure(r, sgx.CheckPCKValidity)
}

// IdentityLine is how an enclave identity is written in the transcript
// and read back by IdentitiesFrom.
func IdentityLine(id sgx.Identity) string { return "enclave identity: " + id.String() }

var identityRE = regexp.MustCompile(`enclave identity: MRSIGNER ([0-9a-f]{64}) ISVPRODID (\d{1,5}) ISVSVN (\d{1,5})`)

// IdentitiesFrom reads the enclave identities recorded in an earlier
// ceremony's transcript, or listed in a plan file (one IdentityLine per
// line). Custodian keeps no state between runs: this is how a ceremony
// learns what the HSM was before.
func IdentitiesFrom(name string, data []byte) ([]sgx.Identity, error) {
	var ids []sgx.Identity
	for _, m := range identityRE.FindAllSubmatch(data, 64) {
		var id sgx.Identity
		hex.Decode(id.MRSIGNER[:], m[1])
		p, err1 := strconv.ParseUint(string(m[2]), 10, 16)
		s, err2 := strconv.ParseUint(string(m[3]), 10, 16)
		if err1 != nil || err2 != nil {
			continue
		}
		id.ISVProdID, id.ISVSVN, id.Observed = uint16(p), uint16(s), name
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%s records no enclave identity (a line %q)", name, "enclave identity: MRSIGNER <64 hex> ISVPRODID <n> ISVSVN <n>")
	}
	return ids, nil
}

// Lines are the verdict and every fact, identities in full hex: for the
// CLI, the printed record and the transcript.
func (c *ExchangeKeyCheck) Lines() []string {
	r := c.Result
	f := r.Facts
	l := []string{
		fmt.Sprintf("verdict: %s (%s)", strings.ToUpper(r.Verdict.String()), c.Sentence()),
		fmt.Sprintf("checked at: %s", r.At.Format(time.RFC3339)),
		fmt.Sprintf("certificate: SHA-256 %s, subject %q, valid %s to %s, RSA-%d", c.SHA256, f.Subject, day(f.NotBefore), day(f.NotAfter), f.KeyBits),
	}
	for _, fl := range r.Failures {
		l = append(l, "FAILED: "+fl.Error())
	}
	if r.Verdict == sgx.Unattested || r.Verdict == sgx.Malformed {
		return append(l, c.decisionLines()...)
	}
	bound := "the key is bound to the quote (report data = SHA-256 of its SubjectPublicKeyInfo)"
	if !f.KeyBound {
		bound = "the key is NOT bound to the quote"
	}
	debug := "not debug"
	if f.Debug {
		debug = "DEBUG"
	}
	root := "none (the PCK chain did not verify)"
	if f.Root != nil {
		root = f.Root.String()
	}
	l = append(l,
		"MRENCLAVE: "+hex.EncodeToString(f.MRENCLAVE[:]),
		"MRSIGNER: "+hex.EncodeToString(f.MRSIGNER[:]),
		fmt.Sprintf("ISVPRODID: %d  ISVSVN: %d", f.ISVProdID, f.ISVSVN),
		fmt.Sprintf("attributes: 0x%02x (%s)", f.Attributes, debug),
		bound,
		IdentityLine(sgx.IdentityOf(r)),
		fmt.Sprintf("QE: MRSIGNER %s ISVPRODID %d ISVSVN %d", hex.EncodeToString(f.QEMRSIGNER[:]), f.QEISVProdID, f.QEISVSVN),
		fmt.Sprintf("PCK certificate: %q, valid %s to %s; FMSPC %x, PCE ID %x", f.PCKSubject, day(f.PCKNotBefore), day(f.PCKNotAfter), f.FMSPC, f.PCEID),
		"attestation root: "+root,
	)
	if c.Known != nil {
		l = append(l, fmt.Sprintf("known signer: %s, seen in %s", c.Known.Name, c.Known.Observed))
	}
	if c.TCB == nil {
		l = append(l, sgx.NotEvaluated)
	} else {
		l = append(l, c.TCB.Lines()...)
	}
	return append(l, c.decisionLines()...)
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

func (c *ExchangeKeyCheck) decisionLines() []string {
	var l []string
	for _, p := range c.Problems {
		l = append(l, "needs an exception: "+p)
	}
	switch {
	case c.Refused:
		l = append(l, "decision: REFUSED — "+c.Reason)
	case c.Exception != nil:
		l = append(l, "decision: ACCEPTED BY EXCEPTION — "+c.Exception.String())
	default:
		l = append(l, "decision: accepted")
	}
	return l
}

// CollateralDownloads lists what the online operator downloads from Intel
// for the platform (FMSPC) in the quote, so that the TCB status can be
// evaluated offline (--collateral); nil when the quote gave no platform
// or the collateral was already brought, and for a DRILL platform (Intel
// publishes nothing for it).
func (c *ExchangeKeyCheck) CollateralDownloads() []string {
	r := c.Result
	if c.TCB != nil || r.Drill() || r.Verdict == sgx.Unattested || r.Verdict == sgx.Malformed || r.Facts.FMSPC == [6]byte{} {
		return nil
	}
	return sgx.CollateralDownloads(&r.Facts)
}

// Event is the transcript event for the check.
func (c *ExchangeKeyCheck) Event(step string) Event {
	e := Event{Step: step, Actor: System, Message: strings.Join(c.Lines(), "\n")}
	switch {
	case c.Refused:
		e.Decision = "exchange key refused: " + c.Reason
	case c.Exception != nil:
		e.Decision = "exchange key accepted by exception"
		e.Actor = Actor{RoleWitness, c.Exception.ApprovedBy}
		e.Exception = &Exception{What: "exchange key accepted although: " + strings.Join(c.Problems, "; ") + " — because " + c.Exception.Reason, ApprovedBy: c.Exception.ApprovedBy}
	default:
		e.Decision = "exchange key attestation verified: " + c.Sentence()
	}
	return e
}

// SetExchangeKeyPolicy sets, before the exchange key is loaded, the
// witnessed exception, the collateral, the clock and the identities seen
// before. The mode and the security domain are the ceremony's own.
func (r *Recovery) SetExchangeKeyPolicy(p ExchangeKeyPolicy) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.need(RecLoad); err != nil {
		return err
	}
	if r.exchange != nil {
		return errors.New("the exchange key is already loaded: set its policy before loading it")
	}
	if e := p.Exception; e != nil && (strings.TrimSpace(e.Reason) == "" || strings.TrimSpace(e.ApprovedBy) == "") {
		return errors.New("an exchange key exception needs a reason and who approved it")
	}
	r.exPolicy = p
	return nil
}

// ExchangeKeyCheck returns the loaded exchange key's attestation verdict
// and decision (nil before one is loaded).
func (r *Recovery) ExchangeKeyCheck() *ExchangeKeyCheck {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.exCheck
}

// readExchangeKey reads the exchange key, checks its attestation under
// the ceremony's policy and records the verdict; a refused key is not
// loaded. Called with r.mu held.
func (r *Recovery) readExchangeKey(name string, data []byte) (*sd.ExchangeKey, error) {
	cert, _, err := sd.ReadExchangeCertificate(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p := r.exPolicy
	p.Mode, p.SD = r.cfg.Mode, r.sdFile
	check, refused := CheckExchangeKey(cert, p)
	if err := r.record(check.Event("recovery.exchange-key.attestation")); err != nil {
		return nil, err
	}
	if refused != nil {
		return nil, fmt.Errorf("%s: %w", name, refused)
	}
	ex, err := sd.ParseExchangeKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	r.exCheck = check
	return ex, nil
}

// recheckExchangeKey repeats, once both files are loaded, the refusal of
// a custodian's own certificate (the key may have been loaded before the
// security domain). A refused key is unloaded. Called with r.mu held.
func (r *Recovery) recheckExchangeKey() error {
	if r.exCheck == nil || r.exchange == nil {
		return errors.New("no exchange key loaded")
	}
	hard := hardRefusal(r.exchange.Certificate, r.exCheck.Result, r.sdFile)
	if hard == "" {
		return nil
	}
	c := *r.exCheck
	c.Refused, c.Hard, c.Reason, c.Exception = true, true, hard, nil
	_ = r.record(c.Event("recovery.exchange-key.attestation"))
	r.exchange, r.exCheck, r.step = nil, nil, RecLoad
	return &ExchangeKeyRefusedError{&c}
}
