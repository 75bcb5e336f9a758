package sgx

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"
)

// Verify checks an exchange certificate and its SGX attestation as of
// opts.At, under opts.Roots (Intel's pinned root by default). It always
// returns a Result; every failed check is listed, not only the first.
func Verify(cert *x509.Certificate, opts Options) *Result {
	at := opts.At
	if at.IsZero() {
		at = time.Now()
	}
	roots := opts.Roots
	if roots == nil {
		roots = []*Root{intelRoot}
	}
	res := &Result{At: at.UTC()}
	checkCertificate(res, cert, at)
	val, ok := extensionValue(cert)
	if !ok {
		res.fail(CheckExtension, "the certificate carries no SGX attestation (extension %s): it was not made inside a Managed HSM enclave, or the attestation was removed", OIDAttestation)
		res.Verdict = res.verdict()
		return res
	}
	verifyValue(res, val, cert, roots, at)
	res.Verdict = res.verdict()
	return res
}

// verifyValue checks the extension's bytes (the fuzz target's entry).
func verifyValue(res *Result, val []byte, cert *x509.Certificate, roots []*Root, at time.Time) {
	ev, err := ParseEvidence(val)
	if err != nil {
		res.fail(CheckFormat, "the attestation extension (%d bytes) is malformed: %v", len(val), err)
		return
	}
	verifyEvidence(res, ev, cert, roots, at)
}

func checkCertificate(res *Result, cert *x509.Certificate, at time.Time) {
	f := &res.Facts
	f.Subject, f.HostName = cert.Subject.String(), cert.Subject.CommonName
	f.NotBefore, f.NotAfter = cert.NotBefore.UTC(), cert.NotAfter.UTC()
	f.SPKISHA256 = sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		res.fail(CheckCertSignature, "the certificate is not signed by its own key (%v): it was altered", err)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	switch {
	case !ok:
		res.fail(CheckKeySize, "the certificate carries a %s key, not RSA", cert.PublicKeyAlgorithm)
	case pub.N.BitLen() < MinRSABits:
		f.KeyBits = pub.N.BitLen()
		res.fail(CheckKeySize, "%d-bit RSA key: under %d bits is never accepted", f.KeyBits, MinRSABits)
	case pub.N.BitLen() != ExpectedRSABits:
		f.KeyBits = pub.N.BitLen()
		res.fail(CheckKeySize, "%d-bit RSA key; a Managed HSM makes %d-bit exchange keys", f.KeyBits, ExpectedRSABits)
	default:
		f.KeyBits = pub.N.BitLen()
	}
	if at.Before(cert.NotBefore) || at.After(cert.NotAfter) {
		res.fail(CheckCertValidity, "the certificate is valid from %s to %s, not at %s: an exchange key is made for one recovery; it is stale, ask the HSM for a new one (init-recovery)",
			day(cert.NotBefore), day(cert.NotAfter), at.UTC().Format(time.RFC3339))
	}
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

func verifyEvidence(res *Result, ev *Evidence, cert *x509.Certificate, roots []*Root, at time.Time) {
	f := &res.Facts
	body, qe := DecodeReport(&ev.Body), DecodeReport(&ev.QEReport)
	f.MRENCLAVE, f.MRSIGNER, f.ISVProdID, f.ISVSVN = body.MRENCLAVE, body.MRSIGNER, body.ISVProdID, body.ISVSVN
	f.Attributes, f.Debug = body.Attributes, body.Attributes&AttributeDebug != 0
	f.QEVendorID, f.QEMRSIGNER, f.QEISVProdID, f.QEISVSVN = ev.QEVendorID(), qe.MRSIGNER, qe.ISVProdID, qe.ISVSVN
	f.QEMiscSelect = qe.MiscSelect
	copy(f.QEAttributes[:], ev.QEReport[48:64])

	chain, err := parseChain(ev.CertData)
	if err != nil {
		res.fail(CheckFormat, "the quote's PCK certificate chain: %v", err)
		return
	}
	pck := chain[0]
	f.PCKSubject, f.PCKNotBefore, f.PCKNotAfter = pck.Subject.String(), pck.NotBefore.UTC(), pck.NotAfter.UTC()
	if f.FMSPC, f.PCEID, f.PCKTCB, err = pckFacts(pck); err != nil {
		res.fail(CheckFormat, "%v", err)
		return
	}
	verifyChain(res, chain, roots, at)

	pckKey, ok := pck.PublicKey.(*ecdsa.PublicKey)
	if !ok || pckKey.Curve != elliptic.P256() {
		res.fail(CheckQESignature, "the PCK certificate's key is not ECDSA P-256")
	} else if !verifyRS(pckKey, ev.QEReport[:], ev.QEReportSignature) {
		res.fail(CheckQESignature, "the QE report's signature does not verify with the PCK certificate's key")
	}
	want := sha256.Sum256(append(append([]byte(nil), ev.AttestationKey[:]...), ev.QEAuthData...))
	if !bytes.Equal(qe.ReportData[:32], want[:]) || !zero(qe.ReportData[32:]) {
		res.fail(CheckQEReportData, "the QE report data is not SHA-256(attestation key ‖ QE auth data) followed by zeros")
	}
	attKey, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, ev.AttestationKey[:]...))
	if err != nil {
		res.fail(CheckQuoteSignature, "the attestation key is not a P-256 point")
	} else if !verifyRS(attKey, ev.SignedBytes(), ev.Signature) {
		res.fail(CheckQuoteSignature, "the quote's signature (over its header and report body) does not verify with the attestation key: the quote was altered")
	}
	spki := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	f.KeyBound = bytes.Equal(body.ReportData[:32], spki[:]) && zero(body.ReportData[32:])
	if !f.KeyBound {
		res.fail(CheckReportData, "the enclave's report data is %s, not SHA-256 of this certificate's public key (%s) followed by zeros: the quote was made for another key",
			hex.EncodeToString(body.ReportData[:32]), hex.EncodeToString(spki[:]))
	}
	if f.Debug {
		res.fail(CheckDebug, "the enclave runs in DEBUG mode (attributes 0x%02x): its memory can be read by the host, so its keys are not protected", body.Attributes)
	}
}

// parseChain reads the PEM PCK chain: at most MaxChainCerts certificates,
// the PCK certificate first. A trailing NUL (as the live quote has) and
// whitespace are allowed; anything else is not.
func parseChain(data []byte) ([]*x509.Certificate, error) {
	rest := bytes.TrimRight(data, "\x00\r\n\t ")
	var chain []*x509.Certificate
	for len(bytes.TrimSpace(rest)) > 0 {
		if len(chain) == MaxChainCerts {
			return nil, fmt.Errorf("more than %d certificates", MaxChainCerts)
		}
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil || b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("certificate %d is not a PEM CERTIFICATE block", len(chain)+1)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d does not parse: %v", len(chain)+1, err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("no certificate")
	}
	return chain, nil
}

// verifyChain verifies the PCK certificate to one of roots through the
// quote's other certificates. Validity is reported apart from the
// signatures: a chain that verifies only inside its certificates' common
// validity window is a stale chain, not a forged one.
func verifyChain(res *Result, chain []*x509.Certificate, roots []*Root, at time.Time) {
	pool, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r.Cert)
	}
	latest := chain[0].NotBefore
	for _, c := range chain[1:] {
		inter.AddCert(c)
		if c.NotBefore.After(latest) {
			latest = c.NotBefore
		}
	}
	opts := x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	chains, err := chain[0].Verify(opts)
	if err != nil {
		opts.CurrentTime = latest.Add(time.Second)
		chains, err = chain[0].Verify(opts)
	}
	if err != nil {
		res.fail(CheckPCKChain, "the PCK certificate does not chain to %s: %v", rootNames(roots), err)
		return
	}
	path := chains[0]
	top := path[len(path)-1]
	sum := sha256.Sum256(top.Raw)
	for _, r := range roots {
		if r.SHA256 == sum {
			res.Facts.Root, res.Facts.Chain = r, path
		}
	}
	if res.Facts.Root == nil { // cannot happen: the pool holds only roots
		res.fail(CheckPCKChain, "the chain ends in an unpinned root (SHA-256 %s)", hex.EncodeToString(sum[:]))
		return
	}
	for _, c := range path {
		if at.Before(c.NotBefore) || at.After(c.NotAfter) {
			res.fail(CheckPCKValidity, "%q is valid from %s to %s, not at %s", c.Subject.CommonName, day(c.NotBefore), day(c.NotAfter), at.UTC().Format(time.RFC3339))
		}
	}
}

func rootNames(roots []*Root) string {
	s := ""
	for i, r := range roots {
		if i > 0 {
			s += " or "
		}
		s += r.String()
	}
	return s
}

func verifyRS(pub *ecdsa.PublicKey, msg []byte, sig [64]byte) bool {
	h := sha256.Sum256(msg)
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	return ecdsa.Verify(pub, h[:], r, s)
}

func zero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
