package pcsc

import (
	"errors"
	"fmt"
)

// Transmitter sends one raw command APDU and returns the raw response with
// its status word. *Card is one.
type Transmitter interface {
	Transmit(cmd []byte) ([]byte, error)
}

// Command is an ISO 7816-4 command APDU in short form.
type Command struct {
	CLA, INS, P1, P2 byte
	// Data is the command data. Longer than 255 bytes, it is sent in a
	// chain of commands (CLA bit 0x10 on all but the last).
	Data []byte
	// Ne is the number of response bytes expected: 0 sends no Le byte,
	// 1–256 sends Le (256 as 0x00).
	Ne int
}

// Response is a response APDU: the data (joined across GET RESPONSE
// rounds) and the final status word.
type Response struct {
	Data []byte
	SW   uint16
}

// OK reports status 9000.
func (r Response) OK() bool { return r.SW == 0x9000 }

// StatusError is a status word other than 9000.
type StatusError struct {
	INS byte
	SW  uint16
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("card answered %04X to instruction %02X%s", e.SW, e.INS, swMeaning(e.SW))
}

func swMeaning(sw uint16) string {
	switch {
	case sw&0xFFF0 == 0x63C0:
		return fmt.Sprintf(" (verification failed, %d retries left)", sw&0x0F)
	}
	switch sw {
	case 0x6300:
		return " (verification failed)"
	case 0x6581:
		return " (memory failure)"
	case 0x6700:
		return " (wrong length)"
	case 0x6982:
		return " (security status not satisfied: PIN or touch missing)"
	case 0x6983:
		return " (authentication method blocked)"
	case 0x6985:
		return " (conditions of use not satisfied)"
	case 0x6A80:
		return " (incorrect data)"
	case 0x6A81:
		return " (function not supported)"
	case 0x6A82:
		return " (not found)"
	case 0x6A86:
		return " (incorrect P1/P2)"
	case 0x6A88:
		return " (referenced data not found)"
	case 0x6D00:
		return " (instruction not supported)"
	case 0x6E00:
		return " (class not supported)"
	}
	return ""
}

// Err returns nil for 9000 and a *StatusError otherwise.
func (r Response) Err(ins byte) error {
	if r.OK() {
		return nil
	}
	return &StatusError{INS: ins, SW: r.SW}
}

// Wipe zeroes the response data; use it when the data is secret.
func (r *Response) Wipe() { clear(r.Data) }

const (
	chainBit      = 0x10
	insGetResp    = 0xC0
	maxShortData  = 255
	maxTotalResp  = 1 << 16 // far beyond any PIV object; stops a runaway card
	maxGetRespRnd = 300
)

// Exchange sends a command, chaining it when its data is longer than 255
// bytes, and collects a long response with GET RESPONSE while the card
// answers 61xx. A 6Cxx (wrong Le) is answered by resending with the Le the
// card asked for. A chained command stops at the first link the card does
// not accept with 9000 and returns that status. The returned error is
// about transport or a malformed exchange; a card's refusal is in
// Response.SW (see Response.Err).
func Exchange(t Transmitter, cmd Command) (Response, error) {
	if cmd.Ne < 0 || cmd.Ne > 256 {
		return Response{}, fmt.Errorf("apdu: Ne %d is outside 0–256", cmd.Ne)
	}
	if cmd.CLA&chainBit != 0 {
		return Response{}, errors.New("apdu: CLA must not carry the chaining bit; Exchange sets it")
	}
	data := cmd.Data
	for len(data) > maxShortData {
		link := encode(cmd.CLA|chainBit, cmd.INS, cmd.P1, cmd.P2, data[:maxShortData], 0)
		raw, err := t.Transmit(link)
		clear(link)
		if err != nil {
			return Response{}, err
		}
		r, err := split(raw)
		if err != nil {
			return Response{}, err
		}
		if !r.OK() {
			return r, nil
		}
		clear(r.Data)
		data = data[maxShortData:]
	}
	last := encode(cmd.CLA, cmd.INS, cmd.P1, cmd.P2, data, cmd.Ne)
	raw, err := t.Transmit(last)
	if err != nil {
		clear(last)
		return Response{}, err
	}
	r, err := split(raw)
	if err != nil {
		clear(last)
		return Response{}, err
	}
	if r.SW&0xFF00 == 0x6C00 {
		// Wrong Le: the card tells us how many bytes it has; ask again.
		ne := int(r.SW & 0xFF)
		if ne == 0 {
			ne = 256
		}
		clear(last)
		last = encode(cmd.CLA, cmd.INS, cmd.P1, cmd.P2, data, ne)
		raw, err = t.Transmit(last)
		if err != nil {
			clear(last)
			return Response{}, err
		}
		if r, err = split(raw); err != nil {
			clear(last)
			return Response{}, err
		}
	}
	clear(last)
	out := r.Data
	for rounds := 0; r.SW&0xFF00 == 0x6100; rounds++ {
		if rounds >= maxGetRespRnd || len(out) > maxTotalResp {
			clear(out)
			return Response{}, fmt.Errorf("apdu: card keeps answering 61xx after %d bytes: response too long", len(out))
		}
		ne := int(r.SW & 0xFF)
		if ne == 0 {
			ne = 256
		}
		raw, err := t.Transmit(encode(cmd.CLA, insGetResp, 0, 0, nil, ne))
		if err != nil {
			clear(out)
			return Response{}, err
		}
		if r, err = split(raw); err != nil {
			clear(out)
			return Response{}, err
		}
		out = appendWiping(out, r.Data)
		clear(r.Data)
	}
	return Response{Data: out, SW: r.SW}, nil
}

// encode builds a short APDU: header, Lc and data when there is data, Le
// when ne > 0.
func encode(cla, ins, p1, p2 byte, data []byte, ne int) []byte {
	b := make([]byte, 0, 4+1+len(data)+1)
	b = append(b, cla, ins, p1, p2)
	if len(data) > 0 {
		b = append(b, byte(len(data)))
		b = append(b, data...)
	}
	if ne > 0 {
		b = append(b, byte(ne)) // 256 → 0x00
	}
	return b
}

// split separates the status word from a raw response. The data keeps
// pointing into raw (no copy of secrets).
func split(raw []byte) (Response, error) {
	if len(raw) < 2 {
		return Response{}, fmt.Errorf("apdu: response of %d bytes has no status word", len(raw))
	}
	n := len(raw) - 2
	return Response{Data: raw[:n:n], SW: uint16(raw[n])<<8 | uint16(raw[n+1])}, nil
}

// appendWiping appends more to out; when that needs a new array it zeroes
// the old one, so that a secret response leaves no stray copies behind.
func appendWiping(out, more []byte) []byte {
	if len(out)+len(more) <= cap(out) {
		return append(out, more...)
	}
	grown := make([]byte, len(out), 2*(len(out)+len(more)))
	copy(grown, out)
	clear(out)
	return append(grown, more...)
}
