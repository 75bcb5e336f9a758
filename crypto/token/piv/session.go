package piv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/crypto/token/pcsc"
)

// PIV and Yubico instruction bytes and references used on Custodian's own
// path (NIST SP 800-73-4 part 2; Yubico's PIV extensions).
const (
	insVerify       = 0x20
	insGeneralAuth  = 0x87
	insSelect       = 0xA4
	insGetMetadata  = 0xF7 // Yubico, firmware ≥ 5.3
	insGetSerial    = 0xF8 // Yubico, firmware ≥ 5
	insGetVersion   = 0xFD // Yubico
	refPIN          = 0x80
	refPUK          = 0x81
	refManagement   = 0x9B
	tagDynAuth      = 0x7C
	tagDynResponse  = 0x82
	tagDynChallenge = 0x81
)

var aidPIV = []byte{0xA0, 0x00, 0x00, 0x03, 0x08}

// PIV algorithm identifiers for RSA keys, as GENERAL AUTHENTICATE and GET
// METADATA use them (SP 800-78-4 table 6-2; Yubico "Get metadata":
// 07 RSA-2048, 05 RSA-3072, 16 RSA-4096 — the last two on firmware 5.7).
func rsaAlgorithmID(bits int) (byte, error) {
	switch bits {
	case 2048:
		return 0x07, nil
	case 3072:
		return 0x05, nil
	case 4096:
		return 0x16, nil
	}
	return 0, fmt.Errorf("RSA-%d keys are not used by Custodian (2048, 3072 or 4096)", bits)
}

// session is one transaction on a card over Custodian's own PC/SC path:
// connect (shared), begin a transaction, select the PIV application. It is
// used for the raw RSA operation (which piv-go cannot do, see the package
// comment) and for the Yubico GET METADATA queries piv-go does not expose
// (default-credential flags, PIN and PUK retries without spending one).
type session struct {
	ctx    *pcsc.Context
	card   *pcsc.Card
	reader string
	// disposition is what happens to the card at close: a session that
	// verified the PIN resets the card, so the PIN does not stay verified
	// for whatever program talks to the card next.
	disposition pcsc.Disposition
}

func openSession(reader string) (*session, error) {
	ctx, err := pcsc.EstablishContext()
	if err != nil {
		return nil, err
	}
	card, err := ctx.Connect(reader)
	if err != nil {
		ctx.Release()
		return nil, err
	}
	if err := card.BeginTransaction(); err != nil {
		card.Disconnect(pcsc.LeaveCard)
		ctx.Release()
		return nil, err
	}
	s := &session{ctx: ctx, card: card, reader: reader, disposition: pcsc.LeaveCard}
	r, err := s.exchange(pcsc.Command{INS: insSelect, P1: 0x04, Data: aidPIV, Ne: 256})
	if err == nil {
		err = r.Err(insSelect)
	}
	if err != nil {
		s.close()
		return nil, fmt.Errorf("selecting the PIV application on %q: %w", reader, err)
	}
	return s, nil
}

func (s *session) close() {
	s.card.EndTransaction(pcsc.LeaveCard)
	s.card.Disconnect(s.disposition)
	s.ctx.Release()
}

func (s *session) exchange(cmd pcsc.Command) (pcsc.Response, error) {
	return pcsc.Exchange(s.card, cmd)
}

// serial reads the YubiKey's serial number (firmware 5 and later).
func (s *session) serial() (uint32, error) {
	r, err := s.exchange(pcsc.Command{INS: insGetSerial, Ne: 256})
	if err != nil {
		return 0, err
	}
	if err := r.Err(insGetSerial); err != nil {
		return 0, err
	}
	if len(r.Data) != 4 {
		return 0, fmt.Errorf("serial number of %d bytes, want 4", len(r.Data))
	}
	return binary.BigEndian.Uint32(r.Data), nil
}

// checkSerial makes sure the card in the reader is still the YubiKey we
// looked up (a key swapped between two steps must not get our PIN).
func (s *session) checkSerial(want uint32, fw version) error {
	if fw.major < 5 {
		return nil // the serial needs the OTP application there; piv-go checked it moments ago
	}
	got, err := s.serial()
	if err != nil {
		return fmt.Errorf("reading the serial number: %w", err)
	}
	if got != want {
		return fmt.Errorf("the YubiKey in reader %q is now serial %d, not %d: was it swapped? Insert YubiKey %d and try again", s.reader, got, want, want)
	}
	return nil
}

// metadata is the answer to Yubico's GET METADATA for one reference.
type metadata struct {
	isDefault  token.Tristate
	retries    int // remaining; -1 when absent
	algorithm  byte
	pinPolicy  byte
	touch      byte
	hasKeyInfo bool
}

// getMetadata asks for the metadata of a slot or of the PIN (80), PUK (81)
// or management key (9B). It reads, it never spends a retry. A slot with
// no key answers ErrNotFound.
func (s *session) getMetadata(ref byte) (metadata, error) {
	md := metadata{retries: -1}
	r, err := s.exchange(pcsc.Command{INS: insGetMetadata, P2: ref, Ne: 256})
	if err != nil {
		return md, err
	}
	if r.SW == 0x6A82 || r.SW == 0x6A88 {
		return md, token.ErrNotFound
	}
	if err := r.Err(insGetMetadata); err != nil {
		return md, err
	}
	tlvs, err := parseTLVs(r.Data)
	if err != nil {
		return md, fmt.Errorf("metadata of %02X: %w", ref, err)
	}
	for _, t := range tlvs {
		switch t.tag {
		case 0x01:
			if len(t.value) == 1 {
				md.algorithm = t.value[0]
				md.hasKeyInfo = true
			}
		case 0x02:
			if len(t.value) == 2 {
				md.pinPolicy, md.touch = t.value[0], t.value[1]
			}
		case 0x05:
			if len(t.value) == 1 {
				md.isDefault = token.No
				if t.value[0] != 0 {
					md.isDefault = token.Yes
				}
			}
		case 0x06:
			if len(t.value) == 2 {
				md.retries = int(t.value[1])
			}
		}
	}
	return md, nil
}

// pinRetries returns the PIN retries left without spending one: from GET
// METADATA on firmware 5.3 and later, otherwise from an empty VERIFY,
// which answers 63Cx while the PIN is not verified. -1 means the card did
// not say (the PIN is already verified on an old firmware).
func (s *session) pinRetries(fw version) (int, error) {
	if fw.atLeast(5, 3, 0) {
		md, err := s.getMetadata(refPIN)
		if err != nil {
			return -1, fmt.Errorf("reading the PIN retry counter: %w", err)
		}
		return md.retries, nil
	}
	r, err := s.exchange(pcsc.Command{INS: insVerify, P2: refPIN})
	if err != nil {
		return -1, err
	}
	switch {
	case r.SW&0xFFF0 == 0x63C0:
		return int(r.SW & 0x0F), nil
	case r.SW == 0x6983:
		return 0, nil
	case r.OK():
		return -1, nil
	}
	return -1, r.Err(insVerify)
}

// encodePIN pads a PIN or PUK to the 8 bytes PIV expects (0xFF filler).
func encodePIN(what string, pin []byte) ([]byte, error) {
	if len(pin) == 0 || len(pin) > 8 {
		return nil, fmt.Errorf("a YubiKey %s has 1 to 8 characters (6 to 8 when set), not %d", what, len(pin))
	}
	if bytes.IndexByte(pin, 0xFF) >= 0 {
		return nil, fmt.Errorf("the %s contains a 0xFF byte, which PIV reserves for padding", what)
	}
	b := bytes.Repeat([]byte{0xFF}, 8)
	copy(b, pin)
	return b, nil
}

// verifyPIN presents the PIN. A rejection is a *token.PINError with the
// retries left.
func (s *session) verifyPIN(tok token.Info, pin []byte) error {
	data, err := encodePIN("PIN", pin)
	if err != nil {
		return err
	}
	r, err := s.exchange(pcsc.Command{INS: insVerify, P2: refPIN, Data: data})
	clear(data)
	if err != nil {
		return err
	}
	s.disposition = pcsc.ResetCard
	return pinStatus(tok, "PIN", r.SW, insVerify)
}

// pinStatus turns the status of a VERIFY, CHANGE REFERENCE or RESET RETRY
// into nil or a *token.PINError.
func pinStatus(tok token.Info, what string, sw uint16, ins byte) error {
	switch {
	case sw == 0x9000:
		return nil
	case sw == 0x6983 || sw == 0x63C0:
		return &token.PINError{Token: tok, What: what, Blocked: true}
	case sw&0xFFF0 == 0x63C0:
		return &token.PINError{Token: tok, What: what, RetriesLeft: int(sw & 0x0F)}
	case sw == 0x6300:
		return &token.PINError{Token: tok, What: what, RetriesLeft: -1}
	}
	return &pcsc.StatusError{INS: ins, SW: sw}
}

// rawRSA runs GENERAL AUTHENTICATE with the slot's RSA key on the
// ciphertext c (exactly the modulus length) and returns c^d mod n, the
// padded message, still padded. The caller wipes it.
func (s *session) rawRSA(slot byte, bits int, c []byte) ([]byte, error) {
	alg, err := rsaAlgorithmID(bits)
	if err != nil {
		return nil, err
	}
	// 7C { 82 00 (ask for the response) 81 <challenge> }
	inner := append([]byte{tagDynResponse, 0x00}, tlv(tagDynChallenge, c)...)
	data := tlv(tagDynAuth, inner)
	r, err := s.exchange(pcsc.Command{INS: insGeneralAuth, P1: alg, P2: slot, Data: data, Ne: 256})
	clear(inner)
	clear(data)
	if err != nil {
		return nil, err
	}
	defer r.Wipe()
	switch r.SW {
	case 0x9000:
	case 0x6982:
		return nil, errors.New("the YubiKey refused the decryption: security status not satisfied (PIN not verified, or the touch was not given in time)")
	case 0x6A80, 0x6A86:
		return nil, fmt.Errorf("the YubiKey refused the decryption (%04X): slot %02X does not hold an RSA-%d key", r.SW, slot, bits)
	default:
		return nil, fmt.Errorf("the YubiKey refused the decryption: %w", r.Err(insGeneralAuth))
	}
	outer, err := parseTLVs(r.Data)
	if err != nil || len(outer) != 1 || outer[0].tag != tagDynAuth {
		return nil, errors.New("the YubiKey's decryption answer is not a dynamic authentication template (7C)")
	}
	fields, err := parseTLVs(outer[0].value)
	if err != nil {
		return nil, fmt.Errorf("the YubiKey's decryption answer is malformed: %w", err)
	}
	for _, f := range fields {
		if f.tag == tagDynResponse {
			return append([]byte(nil), f.value...), nil
		}
	}
	return nil, errors.New("the YubiKey's decryption answer has no response (82)")
}

type tlvItem struct {
	tag   byte
	value []byte
}

// parseTLVs reads a sequence of one-byte-tag BER-TLVs with definite
// lengths (short form, 81 xx or 82 xx xx), which is all PIV answers use
// on this path.
func parseTLVs(b []byte) ([]tlvItem, error) {
	var out []tlvItem
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, errors.New("truncated TLV")
		}
		tag := b[0]
		n := int(b[1])
		b = b[2:]
		switch {
		case n < 0x80:
		case n == 0x81:
			if len(b) < 1 {
				return nil, errors.New("truncated TLV length")
			}
			n, b = int(b[0]), b[1:]
		case n == 0x82:
			if len(b) < 2 {
				return nil, errors.New("truncated TLV length")
			}
			n, b = int(b[0])<<8|int(b[1]), b[2:]
		default:
			return nil, fmt.Errorf("unsupported TLV length byte %02X", n)
		}
		if n > len(b) {
			return nil, fmt.Errorf("TLV %02X claims %d bytes, %d left", tag, n, len(b))
		}
		out = append(out, tlvItem{tag: tag, value: b[:n]})
		b = b[n:]
	}
	return out, nil
}

// tlv encodes one BER-TLV with a definite length.
func tlv(tag byte, value []byte) []byte {
	n := len(value)
	var b []byte
	switch {
	case n < 0x80:
		b = []byte{tag, byte(n)}
	case n < 0x100:
		b = []byte{tag, 0x81, byte(n)}
	default:
		b = []byte{tag, 0x82, byte(n >> 8), byte(n)}
	}
	return append(b, value...)
}

// version is a firmware version.
type version struct{ major, minor, patch int }

func (v version) atLeast(major, minor, patch int) bool {
	if v.major != major {
		return v.major > major
	}
	if v.minor != minor {
		return v.minor > minor
	}
	return v.patch >= patch
}

func (v version) String() string { return fmt.Sprintf("%d.%d.%d", v.major, v.minor, v.patch) }
