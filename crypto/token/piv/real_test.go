package piv

import (
	"context"
	"flag"
	"testing"

	"github.com/custodian-hsm/custodian/crypto/token"
)

var (
	realYubiKey = flag.Bool("custodian.real-yubikey", false, "run the suite against the one real YubiKey plugged in")
	wipeYubiKey = flag.Bool("custodian.wipe-yubikey", false, "allow the real-YubiKey suite to RESET the YubiKey's PIV application (destroys its PIV keys)")
)

// TestRealYubiKey runs the suite on a real YubiKey. It is opt-in: it
// resets the PIV application of the YubiKey again and again.
//
//	go test ./crypto/token/piv -run Real -args -custodian.real-yubikey -custodian.wipe-yubikey
func TestRealYubiKey(t *testing.T) {
	if !*realYubiKey {
		t.Skip("no -custodian.real-yubikey: not touching real YubiKeys")
	}
	p := New(Options{})
	cards, err := p.cards(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var real []card
	for _, c := range cards {
		if !c.info.Drill {
			real = append(real, c)
		}
	}
	if len(real) != 1 {
		t.Fatalf("found %d real YubiKeys; plug in exactly one spare YubiKey", len(real))
	}
	t.Logf("using %s in reader %q", real[0].info, real[0].reader)
	if !*wipeYubiKey {
		t.Skip("add -custodian.wipe-yubikey: the suite resets this YubiKey's PIV application, destroying its PIV keys")
	}
	e := &env{p: p, refs: []*token.URI{real[0].info.Ref}}
	runSuite(t, e)
	e.reset(t, 0)
}
