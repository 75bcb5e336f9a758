package piv

import (
	"crypto/x509"
	"testing"

	"github.com/custodian-hsm/custodian/crypto/drillhsm"
	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/token"
)

// testRecovery is a full recovery drill: three YubiKeys enroll, the drill
// HSM activates a 2-of-3 security domain for their certificates, and two
// of the keys open their shares on the card to build the restore blob the
// HSM accepts.
func testRecovery(t *testing.T, e *env) {
	if len(e.refs) < 3 {
		t.Skipf("needs three YubiKeys, have %d", len(e.refs))
	}
	var certs []*x509.Certificate
	var refs []*token.URI
	for i := 0; i < 3; i++ {
		e.prepare(t, i)
		en := e.enroll(t, i, token.EnrollRequest{Name: []string{"Alice", "Bob", "Carol"}[i], CeremonyID: "recovery-drill"})
		certs = append(certs, en.Certificate)
		refs = append(refs, en.Ref)
	}
	hsm, err := drillhsm.Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sdFile, err := hsm.Activate(certs, 2, drillhsm.ActivateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	exchangePEM, err := hsm.InitRecovery()
	if err != nil {
		t.Fatal(err)
	}
	f, err := sd.ParseFile(sdFile)
	if err != nil {
		t.Fatal(err)
	}
	var shares []*sd.Share
	for _, i := range []int{0, 2} {
		k := e.open(t, refs[i], token.OpenOptions{PIN: pinFunc(testPIN)})
		s, err := sd.OpenShare(f, k)
		if err != nil {
			t.Fatalf("opening the share of custodian %d on %s: %v", i, k.Token(), err)
		}
		defer s.Wipe()
		if k.DecryptPath() != DecryptPath {
			t.Errorf("DecryptPath %q", k.DecryptPath())
		}
		shares = append(shares, s)
	}
	rec, err := sd.Recover(f, shares)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Wipe()
	exchange, err := sd.ParseExchangeKey(exchangePEM)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := sd.BuildRestoreBlob(rec, exchange, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := hsm.Upload(blob)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Restored {
		t.Fatalf("the drill HSM did not accept the blob: %s", res)
	}
}
