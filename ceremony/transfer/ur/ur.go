package ur

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/custodian-hsm/custodian/crypto/bytewords"
)

// Type names used by Custodian.
const (
	TypeFile  = "custodian-file" // a File envelope
	TypeBytes = "bytes"          // a bare CBOR byte string
)

// UR is a Uniform Resource: a type and its CBOR message.
type UR struct {
	Type string
	CBOR []byte
}

// ErrNotUR reports text that is not a UR at all (another QR code).
var ErrNotUR = errors.New("ur: not a Uniform Resource (expected text starting with \"ur:\")")

// WrongTypeError reports a UR of a type the receiver did not ask for.
type WrongTypeError struct{ Got, Want string }

func (e *WrongTypeError) Error() string {
	return fmt.Sprintf("ur: this code carries a %q resource, not %q: it is not a Custodian transfer (or from another tool)", e.Got, e.Want)
}

// MalformedError reports a UR whose structure or body is damaged.
type MalformedError struct {
	Reason string
	Err    error
}

func (e *MalformedError) Error() string {
	if e.Err != nil {
		return "ur: malformed part: " + e.Reason + ": " + e.Err.Error()
	}
	return "ur: malformed part: " + e.Reason
}
func (e *MalformedError) Unwrap() error { return e.Err }

func validType(t string) bool {
	if t == "" {
		return false
	}
	for _, c := range t {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Encode returns the single-part form "ur:type/<minimal bytewords>".
func Encode(u UR) (string, error) {
	if !validType(u.Type) {
		return "", fmt.Errorf("ur: type %q must be lower-case letters, digits and dashes", u.Type)
	}
	return "ur:" + u.Type + "/" + bytewords.Encode(bytewords.Minimal, u.CBOR), nil
}

// parsed is one UR string split into its pieces.
type parsed struct {
	typ    string
	seqNum uint32
	seqLen int
	multi  bool
	body   []byte
}

func parse(s string) (*parsed, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	rest, ok := strings.CutPrefix(s, "ur:")
	if !ok {
		return nil, ErrNotUR
	}
	comps := strings.Split(rest, "/")
	p := &parsed{typ: comps[0]}
	if !validType(p.typ) {
		return nil, &MalformedError{Reason: fmt.Sprintf("type %q is not valid", p.typ)}
	}
	var body string
	switch len(comps) {
	case 2:
		body = comps[1]
	case 3:
		a, b, ok := strings.Cut(comps[1], "-")
		n, err1 := strconv.ParseUint(a, 10, 32)
		l, err2 := strconv.ParseUint(b, 10, 32)
		if !ok || err1 != nil || err2 != nil || n == 0 || l == 0 {
			return nil, &MalformedError{Reason: fmt.Sprintf("sequence %q is not <number>-<count>", comps[1])}
		}
		p.multi, p.seqNum, p.seqLen = true, uint32(n), int(l)
		body = comps[2]
	default:
		return nil, &MalformedError{Reason: fmt.Sprintf("expected 2 or 3 path components, found %d", len(comps))}
	}
	data, err := bytewords.Decode(bytewords.Minimal, body)
	if err != nil {
		return nil, &MalformedError{Reason: "body", Err: err}
	}
	p.body = data
	return p, nil
}

// Decode reads a single-part UR.
func Decode(s string) (UR, error) {
	p, err := parse(s)
	if err != nil {
		return UR{}, err
	}
	if p.multi {
		return UR{}, &MalformedError{Reason: "this is one part of a multi-part UR; use a Decoder"}
	}
	return UR{Type: p.typ, CBOR: p.body}, nil
}

// Encoder yields the parts of one UR: a single part when the message fits in
// one fragment, otherwise the seqLen pure fragments followed by an endless
// run of mixed fountain parts.
type Encoder struct {
	typ string
	f   *fountainEncoder
}

// DefaultMinFragmentLen is the reference encoder's lower bound.
const DefaultMinFragmentLen = 10

// NewEncoder splits u into fragments of at most maxFragmentLen bytes.
func NewEncoder(u UR, maxFragmentLen int) (*Encoder, error) {
	if !validType(u.Type) {
		return nil, fmt.Errorf("ur: type %q must be lower-case letters, digits and dashes", u.Type)
	}
	f, err := newFountainEncoder(u.CBOR, maxFragmentLen, min(DefaultMinFragmentLen, maxFragmentLen), 0)
	if err != nil {
		return nil, err
	}
	return &Encoder{typ: u.Type, f: f}, nil
}

// SeqLen is the number of pure fragments.
func (e *Encoder) SeqLen() int { return e.f.seqLen() }

// SinglePart reports whether the whole UR fits in one part.
func (e *Encoder) SinglePart() bool { return e.f.seqLen() == 1 }

// NextPart returns the next UR string.
func (e *Encoder) NextPart() string {
	if e.SinglePart() {
		s, _ := Encode(UR{Type: e.typ, CBOR: e.f.fragments[0][:e.f.messageLen]})
		return s
	}
	p := e.f.nextPart()
	return fmt.Sprintf("ur:%s/%d-%d/%s", e.typ, p.seqNum, p.seqLen, bytewords.Encode(bytewords.Minimal, p.cbor()))
}

// Progress describes how far a Decoder has got.
type Progress struct {
	Fragments int     // pure fragments recovered ("k of n")
	Total     int     // n; 0 until the first part arrives
	Parts     int     // distinct parts accepted
	Estimate  float64 // estimated fraction complete, 0..1
	Complete  bool
}

func (p Progress) String() string {
	if p.Total == 0 {
		return "waiting for the first code"
	}
	return fmt.Sprintf("%d of %d fragments, about %.0f%%", p.Fragments, p.Total, 100*p.Estimate)
}

// Decoder accepts the parts of one UR in any order; duplicates are ignored.
type Decoder struct {
	want   string // expected type; "" accepts any
	typ    string
	single []byte
	f      fountainDecoder
}

// NewDecoder returns a Decoder that refuses URs of any type but want
// (want "" accepts the first type seen).
func NewDecoder(want string) *Decoder { return &Decoder{want: want} }

// Receive feeds one scanned UR string. A duplicate returns a nil error. A
// part from another message returns an error wrapping ErrInconsistent and
// leaves the decoder as it was.
func (d *Decoder) Receive(s string) error {
	if d.Complete() {
		return nil
	}
	p, err := parse(s)
	if err != nil {
		return err
	}
	if d.want != "" && p.typ != d.want {
		return &WrongTypeError{Got: p.typ, Want: d.want}
	}
	if d.typ != "" && p.typ != d.typ {
		return fmt.Errorf("%w: type %q after parts of type %q", ErrInconsistent, p.typ, d.typ)
	}
	if !p.multi {
		if d.f.started {
			return fmt.Errorf("%w: a single-part UR among multi-part ones", ErrInconsistent)
		}
		if len(p.body) > maxMessage {
			return &MalformedError{Reason: fmt.Sprintf("message of %d bytes exceeds the limit", len(p.body))}
		}
		d.typ, d.single = p.typ, p.body
		return nil
	}
	fp, err := parsePart(p.body)
	if err != nil {
		return &MalformedError{Reason: "part header", Err: err}
	}
	if fp.seqNum != p.seqNum || fp.seqLen != p.seqLen {
		return &MalformedError{Reason: fmt.Sprintf("label %d-%d disagrees with header %d-%d", p.seqNum, p.seqLen, fp.seqNum, fp.seqLen)}
	}
	if err := d.f.receive(fp); err != nil {
		return err
	}
	d.typ = p.typ
	return nil
}

// Complete reports whether the whole UR has been received and checked.
func (d *Decoder) Complete() bool { return d.single != nil || d.f.message != nil }

// Progress reports how far decoding has got.
func (d *Decoder) Progress() Progress {
	if d.single != nil {
		return Progress{Fragments: 1, Total: 1, Parts: 1, Estimate: 1, Complete: true}
	}
	return Progress{Fragments: len(d.f.simple), Total: d.f.seqLen, Parts: d.f.parts, Estimate: d.f.progress(), Complete: d.f.message != nil}
}

// Result returns the received UR once Complete.
func (d *Decoder) Result() (UR, error) {
	switch {
	case d.single != nil:
		return UR{Type: d.typ, CBOR: d.single}, nil
	case d.f.message != nil:
		return UR{Type: d.typ, CBOR: d.f.message}, nil
	}
	return UR{}, fmt.Errorf("ur: incomplete: %s", d.Progress())
}
