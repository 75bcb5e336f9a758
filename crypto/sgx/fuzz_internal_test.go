package sgx

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/custodian-hsm/custodian/internal/testvectors"
)

// FuzzVerifyExtension runs the whole verification (chain parsing, Intel's
// PCK extension, every signature) on hostile extension bytes: it must
// return failures, never panic or hang.
func FuzzVerifyExtension(f *testing.F) {
	cert, err := x509.ParseCertificate(testvectors.Read(f, "live-2025-04", "exchange.der"))
	if err != nil {
		f.Fatal(err)
	}
	val, _ := extensionValue(cert)
	f.Add(val)
	f.Add(val[:600])
	at := time.Date(2025, 4, 23, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		res := &Result{At: at}
		verifyValue(res, b, cert, []*Root{intelRoot}, at)
		// The header, report body and QE report are signed: no other
		// bytes there can verify. (The PCK chain's text is not signed by
		// the quote; its certificates are, by their issuers.)
		const signed = oeHeaderSize + signedQuoteSize + 4 + 64 + 64 + ReportBodySize
		body := oeHeaderSize + signedQuoteSize // then the 4-byte signature data length, which may differ
		if res.verdict() == Genuine && (len(b) < signed || string(b[16:body]) != string(val[16:body]) || string(b[body+4:signed]) != string(val[body+4:signed])) {
			t.Fatalf("changed signed bytes verified as genuine")
		}
	})
}
