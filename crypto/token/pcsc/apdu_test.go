package pcsc

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// scriptedCard is a fake transmit function for the APDU framing only: it
// checks each command against the expected bytes and plays back a
// response. The PC/SC path itself is tested against a real pcscd in
// crypto/token/piv.
type scriptedCard struct {
	t     *testing.T
	steps []step
}

type step struct {
	want string // hex of the expected command; "" accepts any
	resp string // hex of the response (data and SW)
}

func (s *scriptedCard) Transmit(cmd []byte) ([]byte, error) {
	s.t.Helper()
	if len(s.steps) == 0 {
		s.t.Fatalf("unexpected command %X", cmd)
	}
	st := s.steps[0]
	s.steps = s.steps[1:]
	if st.want != "" && !strings.EqualFold(hex.EncodeToString(cmd), st.want) {
		s.t.Fatalf("command\n got %X\nwant %s", cmd, strings.ToUpper(st.want))
	}
	b, err := hex.DecodeString(st.resp)
	if err != nil {
		s.t.Fatal(err)
	}
	return b, nil
}

func (s *scriptedCard) done() {
	s.t.Helper()
	if len(s.steps) != 0 {
		s.t.Fatalf("%d expected commands were never sent", len(s.steps))
	}
}

func TestExchangeShortCommand(t *testing.T) {
	c := &scriptedCard{t: t, steps: []step{
		{"00a4040005a000000308", "9000"},
	}}
	r, err := Exchange(c, Command{INS: 0xA4, P1: 4, Data: []byte{0xA0, 0, 0, 3, 8}})
	if err != nil || !r.OK() || len(r.Data) != 0 {
		t.Fatalf("got %+v, %v", r, err)
	}
	c.done()
}

func TestExchangeChainsLongData(t *testing.T) {
	data := bytes.Repeat([]byte{0xAB}, 300)
	first := "10878207ff" + strings.Repeat("ab", 255)
	last := "008782072d" + strings.Repeat("ab", 45) + "00"
	c := &scriptedCard{t: t, steps: []step{
		{first, "9000"},
		{last, "01029000"},
	}}
	r, err := Exchange(c, Command{INS: 0x87, P1: 0x82, P2: 0x07, Data: data, Ne: 256})
	if err != nil || r.SW != 0x9000 || !bytes.Equal(r.Data, []byte{1, 2}) {
		t.Fatalf("got %+v, %v", r, err)
	}
	c.done()
}

func TestExchangeChainExactly255IsNotChained(t *testing.T) {
	data := bytes.Repeat([]byte{1}, 255)
	c := &scriptedCard{t: t, steps: []step{
		{"00db3fffff" + strings.Repeat("01", 255), "9000"},
	}}
	if _, err := Exchange(c, Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: data}); err != nil {
		t.Fatal(err)
	}
	c.done()
}

func TestExchangeStopsAtRefusedLink(t *testing.T) {
	data := bytes.Repeat([]byte{0}, 600)
	c := &scriptedCard{t: t, steps: []step{
		{"", "9000"},
		{"", "6a80"},
	}}
	r, err := Exchange(c, Command{INS: 0x87, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	if r.SW != 0x6A80 {
		t.Fatalf("SW = %04X, want 6A80 from the refused link", r.SW)
	}
	var se *StatusError
	if e := r.Err(0x87); !errors.As(e, &se) || se.SW != 0x6A80 || !strings.Contains(e.Error(), "incorrect data") {
		t.Fatalf("Err = %v", e)
	}
	c.done()
}

func TestExchangeCollectsGetResponse(t *testing.T) {
	part1 := strings.Repeat("11", 256)
	part2 := strings.Repeat("22", 256)
	part3 := strings.Repeat("33", 10)
	c := &scriptedCard{t: t, steps: []step{
		{"00cb3fff055c035fc10b00", part1 + "6100"},
		{"00c0000000", part2 + "610a"},
		{"00c000000a", part3 + "9000"},
	}}
	r, err := Exchange(c, Command{INS: 0xCB, P1: 0x3F, P2: 0xFF, Data: []byte{0x5C, 3, 0x5F, 0xC1, 0x0B}, Ne: 256})
	if err != nil || !r.OK() {
		t.Fatalf("got SW %04X, %v", r.SW, err)
	}
	if hex.EncodeToString(r.Data) != part1+part2+part3 {
		t.Fatalf("joined response is wrong: %d bytes", len(r.Data))
	}
	c.done()
}

func TestExchangeResendsOnWrongLe(t *testing.T) {
	c := &scriptedCard{t: t, steps: []step{
		{"00fd000000", "6c03"},
		{"00fd000003", "0507019000"},
	}}
	r, err := Exchange(c, Command{INS: 0xFD, Ne: 256})
	if err != nil || !r.OK() || !bytes.Equal(r.Data, []byte{5, 7, 1}) {
		t.Fatalf("got %+v, %v", r, err)
	}
	c.done()
}

func TestExchangeRejectsRunawayCard(t *testing.T) {
	steps := []step{{"", "6100"}}
	for i := 0; i < maxGetRespRnd+1; i++ {
		steps = append(steps, step{"", strings.Repeat("00", 256) + "6100"})
	}
	c := &scriptedCard{t: t, steps: steps}
	_, err := Exchange(c, Command{INS: 0xCB})
	if err == nil || !strings.Contains(err.Error(), "too long") {
		t.Fatalf("err = %v, want a too-long error", err)
	}
}

func TestExchangeRejectsMalformed(t *testing.T) {
	c := &scriptedCard{t: t, steps: []step{{"", "90"}}}
	if _, err := Exchange(c, Command{INS: 0xFD}); err == nil {
		t.Fatal("a one-byte response was accepted")
	}
	if _, err := Exchange(c, Command{CLA: 0x10, INS: 0xFD}); err == nil {
		t.Fatal("a caller-set chaining bit was accepted")
	}
	if _, err := Exchange(c, Command{INS: 0xFD, Ne: 257}); err == nil {
		t.Fatal("Ne 257 was accepted")
	}
}

func TestErrorNamesTheReturnCode(t *testing.T) {
	err := error(&Error{Op: "SCardConnect", Reader: "Virtual PCD 00 00", Code: ErrNoSmartcard})
	if !errors.Is(err, ErrNoSmartcard) {
		t.Fatal("errors.Is does not find the code")
	}
	for _, want := range []string{"SCardConnect", "Virtual PCD 00 00", "SCARD_E_NO_SMARTCARD"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	if got := Code(0x80100099).Name(); got != "SCARD_0x80100099" {
		t.Errorf("unknown code name = %q", got)
	}
}
