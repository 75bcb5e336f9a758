// This file runs the card suite against the project's virtual YubiKeys
// (internal/testinfra/virtualpiv/rig): piv-go and our raw PC/SC path through a
// private pcscd with vpcd on loopback.

package piv

import (
	"context"
	"testing"

	"github.com/custodian-hsm/custodian/internal/testinfra/rigtest"
)

// TestVirtualYubiKeys runs the whole suite, the three-key recovery
// included, on three virtual YubiKeys (firmware 5.7) behind a private
// pcscd. The rig skips without pcscd/vpcd, and fails under CI=true.
func TestVirtualYubiKeys(t *testing.T) {
	r := rigtest.StartForTest(t, 3) // sets PCSCLITE_CSOCK_NAME before any PC/SC use
	defer r.Close()
	// AttestationRoot is assumed to be a *x509.CertPool; wrap a
	// certificate in one if the rig returns that.
	p := New(Options{AttestationRoots: r.AttestationRoot(), DrillSerials: r.Serials()})
	cards, err := p.cards(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(cards) != 3 {
		t.Fatalf("the rig started 3 virtual cards, the provider sees %d", len(cards))
	}
	// Drill cards are known by how they were made, never by their
	// readers' names: a provider not told the rig's serials sees three
	// YubiKeys, none of them a drill card.
	plain, err := New(Options{}).List(context.Background())
	if err != nil || len(plain) != 3 {
		t.Fatalf("a provider without the rig's serials lists %d cards: %v", len(plain), err)
	}
	for _, info := range plain {
		if info.Drill {
			t.Errorf("%s is a drill card to a provider that was not told so (reader names must decide nothing)", info)
		}
	}
	e := &env{p: p, virtual: true}
	for _, c := range cards {
		e.refs = append(e.refs, c.info.Ref)
	}
	runSuite(t, e)
}
