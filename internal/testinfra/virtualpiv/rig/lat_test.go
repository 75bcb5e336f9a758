package rig_test

import (
	"testing"

	"github.com/custodian-hsm/custodian/crypto/token/pcsc"
	"github.com/custodian-hsm/custodian/internal/testinfra/rigtest"
)

// BenchmarkAPDURoundTrip measures one GET SERIAL through libpcsclite,
// pcscd, vpcd and the card. It should be well under a millisecond; tens
// of milliseconds means delayed ACKs are back (see quickACK).
func BenchmarkAPDURoundTrip(b *testing.B) {
	r := rigtest.StartForTest(b, 1)
	ctx, err := pcsc.EstablishContext()
	if err != nil {
		b.Fatal(err)
	}
	defer ctx.Release()
	card, err := ctx.Connect(r.Readers()[0])
	if err != nil {
		b.Fatal(err)
	}
	defer card.Disconnect(pcsc.LeaveCard)
	if _, err := pcsc.Exchange(card, pcsc.Command{INS: 0xA4, P1: 4, Data: []byte{0xA0, 0, 0, 3, 8}}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := pcsc.Exchange(card, pcsc.Command{INS: 0xF8, Ne: 256})
		if err != nil || !resp.OK() {
			b.Fatalf("GET SERIAL: %04X, %v", resp.SW, err)
		}
	}
}
