package virtualpiv

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"io"
	"math/big"
	"sync"
	"time"
)

// Status words the card answers with (ISO 7816-4 and SP 800-73-4).
const (
	swOK                  = 0x9000
	swVerifyFail          = 0x63C0 // | retries left
	swWrongLength         = 0x6700
	swChainNotLast        = 0x6883
	swSecurityStatus      = 0x6982
	swAuthBlocked         = 0x6983
	swConditionsNotMet    = 0x6985
	swIncorrectData       = 0x6A80
	swFuncNotSupported    = 0x6A81
	swNotFound            = 0x6A82
	swNoMemory            = 0x6A84
	swIncorrectP1P2       = 0x6A86
	swRefDataNotFound     = 0x6A88
	swInsNotSupported     = 0x6D00
	swClaNotSupported     = 0x6E00
	swUnknown             = 0x6F00
	swMoreData            = 0x6100 // | bytes available (00 = 256 or more)
	maxChainedCommandData = 16 << 10
	maxObjectSize         = 3052 // what a YubiKey 5 stores in one data object
)

// Instructions.
const (
	insVerify       = 0x20
	insChangeRef    = 0x24
	insResetRetry   = 0x2C
	insGenerate     = 0x47
	insGeneralAuth  = 0x87
	insSelect       = 0xA4
	insGetResponse  = 0xC0
	insGetData      = 0xCB
	insPutData      = 0xDB
	insMoveKey      = 0xF6 // Yubico, 5.7
	insGetMetadata  = 0xF7 // Yubico, 5.3
	insGetSerial    = 0xF8 // Yubico, 5.0
	insAttest       = 0xF9 // Yubico, 4.3
	insSetRetries   = 0xFA // Yubico
	insReset        = 0xFB // Yubico
	insGetVersion   = 0xFD // Yubico
	insImportKey    = 0xFE // Yubico
	insSetMgmKey    = 0xFF // Yubico
	insOTPSerial    = 0x01 // OTP application, P1 0x10
	insReadConfig   = 0x1D // management application
	refPIN          = 0x80
	refPUK          = 0x81
	refManagement   = 0x9B
	slotAttestation = 0xF9
)

// Algorithm identifiers (SP 800-78-4 and Yubico's AES/25519 extensions).
const (
	Alg3DES     = 0x03
	AlgAES128   = 0x08
	AlgAES192   = 0x0A
	AlgAES256   = 0x0C
	AlgRSA1024  = 0x06
	AlgRSA2048  = 0x07
	AlgRSA3072  = 0x05
	AlgRSA4096  = 0x16
	AlgECCP256  = 0x11
	AlgECCP384  = 0x14
	algPINOrPUK = 0xFF // what GET METADATA reports for the PIN and PUK
)

// PIN and touch policies as the card encodes them (Yubico tags AA/AB).
const (
	PINPolicyDefault = 0x00
	PINPolicyNever   = 0x01
	PINPolicyOnce    = 0x02
	PINPolicyAlways  = 0x03

	TouchPolicyDefault = 0x00
	TouchPolicyNever   = 0x01
	TouchPolicyAlways  = 0x02
	TouchPolicyCached  = 0x03
)

// Key origins in GET METADATA.
const (
	originGenerated = 0x01
	originImported  = 0x02
)

// Factory credentials of a YubiKey's PIV application.
var (
	DefaultPIN           = []byte("123456")
	DefaultPUK           = []byte("12345678")
	DefaultManagementKey = []byte{
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	}
)

// Application identifiers.
var (
	aidPIV        = []byte{0xA0, 0x00, 0x00, 0x03, 0x08}
	aidManagement = []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17}
	aidOTP        = []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x20, 0x01, 0x01}
)

// application is the applet a SELECT made current.
type application int

const (
	appNone application = iota
	appPIV
	appManagement
	appOTP
)

// RSAKeySource returns a fresh RSA private key of the given size. Tests
// pass a KeyPool's Key method to avoid waiting for generation.
type RSAKeySource func(bits int) (*rsa.PrivateKey, error)

// TouchRequest describes an operation waiting for the user's touch.
type TouchRequest struct {
	Serial uint32
	Slot   byte // 9B for the management key
	Policy byte // TouchPolicyAlways or TouchPolicyCached
}

// Options configure a virtual card. The zero value is a factory-fresh
// YubiKey 5 (firmware 5.7.1, USB-A keychain) with a random serial.
type Options struct {
	// Serial is the YubiKey serial number; 0 picks a random one.
	Serial uint32
	// Version is the firmware version; zero means 5.7.1.
	Version [3]byte
	// FormFactor is Yubico's form-factor byte; 0 means USB-A keychain (1).
	FormFactor byte
	// LegacyManagementKey makes the factory management key 3DES (as on
	// firmware before 5.7) instead of AES-192. The key bytes are the same.
	LegacyManagementKey bool
	// Authority signs the card's attestation certificate (slot F9); nil
	// means the process-wide TestAuthority.
	Authority *Authority
	// RSAKeys supplies keys for GENERATE ASYMMETRIC KEY PAIR; nil
	// generates them with crypto/rand.
	RSAKeys RSAKeySource
	// Touch is called, with the card locked, when an operation waits for
	// a touch; it must not use the card. It returns whether the user
	// touched. Nil means an immediate touch.
	Touch func(TouchRequest) bool
	// Rand is the source of challenges, witnesses and EC keys; nil means
	// crypto/rand.
	Rand io.Reader
}

// slotKey is a private key held by the card. It never leaves the card
// object: no method returns it.
type slotKey struct {
	alg         byte
	rsa         *rsa.PrivateKey
	ec          *ecdsa.PrivateKey
	pinPolicy   byte
	touchPolicy byte
	origin      byte
}

// reference is the PIN or the PUK with its retry counter.
type reference struct {
	value      [8]byte // padded with 0xFF
	retries    int     // remaining
	maxRetries int
}

// Card is a virtual YubiKey PIV application that answers command APDUs.
// It is safe for concurrent use; commands are processed one at a time.
type Card struct {
	mu sync.Mutex

	serial     uint32
	version    [3]byte
	formFactor byte
	authority  *Authority
	rsaKeys    RSAKeySource
	touch      func(TouchRequest) bool
	rand       io.Reader

	// persistent state
	pin, puk   reference
	mgmAlg     byte
	mgmKey     []byte
	mgmTouch   bool
	legacyMgm  bool
	slots      map[byte]*slotKey
	objects    map[uint32][]byte
	attestKey  *ecdsa.PrivateKey
	attestCert *x509.Certificate

	// volatile state, cleared by SELECT, power off and reset
	selected     application
	pinVerified  bool
	justVerified bool // VERIFY was the previous command (PIN policy "always")
	mgmAuthed    bool
	witness      []byte // pending mutual authentication
	challenge    []byte // pending external authentication
	lastTouch    time.Time
	chainHeader  [4]byte
	chainData    []byte
	chaining     bool
	pending      []byte // response data not yet fetched with GET RESPONSE
}

// New returns a factory-fresh virtual card.
func New(opts Options) (*Card, error) {
	c := &Card{
		serial:     opts.Serial,
		version:    opts.Version,
		formFactor: opts.FormFactor,
		authority:  opts.Authority,
		rsaKeys:    opts.RSAKeys,
		touch:      opts.Touch,
		rand:       opts.Rand,
		legacyMgm:  opts.LegacyManagementKey,
	}
	if c.rand == nil {
		c.rand = rand.Reader
	}
	if c.version == [3]byte{} {
		c.version = [3]byte{5, 7, 1}
	}
	if c.formFactor == 0 {
		c.formFactor = 0x01
	}
	if c.serial == 0 {
		n, err := rand.Int(c.rand, big.NewInt(30_000_000))
		if err != nil {
			return nil, fmt.Errorf("virtualpiv: choosing a serial number: %w", err)
		}
		c.serial = 10_000_000 + uint32(n.Int64())
	}
	if c.rsaKeys == nil {
		c.rsaKeys = func(bits int) (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, bits) }
	}
	if c.authority == nil {
		a, err := TestAuthority()
		if err != nil {
			return nil, err
		}
		c.authority = a
	}
	key, cert, err := c.authority.issueDeviceCertificate(c.serial, c.version, c.rand)
	if err != nil {
		return nil, fmt.Errorf("virtualpiv: issuing the attestation certificate of card %d: %w", c.serial, err)
	}
	c.attestKey, c.attestCert = key, cert
	c.factoryReset()
	return c, nil
}

// factoryReset restores what the PIV reset restores: credentials, retry
// counters, keys and data objects. The attestation key and certificate
// (slot F9) survive, as on a YubiKey.
func (c *Card) factoryReset() {
	c.pin = newReference(DefaultPIN, 3)
	c.puk = newReference(DefaultPUK, 3)
	c.mgmAlg = AlgAES192
	if c.legacyMgm || !c.atLeast(5, 7, 0) {
		c.mgmAlg = Alg3DES
	}
	c.mgmKey = append([]byte(nil), DefaultManagementKey...)
	c.mgmTouch = false
	c.slots = map[byte]*slotKey{}
	c.objects = map[uint32][]byte{
		0x5FFF01: certificateObject(c.attestCert.Raw),
	}
	c.resetSession()
}

func newReference(v []byte, retries int) reference {
	r := reference{retries: retries, maxRetries: retries}
	for i := range r.value {
		r.value[i] = 0xFF
	}
	copy(r.value[:], v)
	return r
}

// resetSession forgets everything a card forgets when it is powered off,
// reset or when the PIV application is selected again.
func (c *Card) resetSession() {
	c.pinVerified = false
	c.justVerified = false
	c.mgmAuthed = false
	c.witness = nil
	c.challenge = nil
	c.chaining = false
	c.chainData = nil
	c.pending = nil
}

func (c *Card) atLeast(major, minor, patch byte) bool {
	v := c.version
	if v[0] != major {
		return v[0] > major
	}
	if v[1] != minor {
		return v[1] > minor
	}
	return v[2] >= patch
}

// Serial returns the card's serial number.
func (c *Card) Serial() uint32 { return c.serial }

// Version returns the firmware version the card reports.
func (c *Card) Version() [3]byte { return c.version }

// AttestationCertificate returns the certificate of the card's attestation
// key (slot F9), issued by the card's Authority.
func (c *Card) AttestationCertificate() *x509.Certificate { return c.attestCert }

// Authority returns the authority that issued the card's attestation
// certificate.
func (c *Card) Authority() *Authority { return c.authority }

// ATR returns the answer to reset: a YubiKey 5's, T=1.
func (c *Card) ATR() []byte {
	historical := []byte{0x80, 0x73, 0xC0, 0x21, 0xC0, 0x57, 'Y', 'u', 'b', 'i', 'K', 'e', 'y'}
	atr := []byte{0x3B, 0xF0 | byte(len(historical)), 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x15}
	atr = append(atr, historical...)
	var tck byte
	for _, b := range atr[1:] {
		tck ^= b
	}
	return append(atr, tck)
}

// PowerOff models removing power: the session state is lost (PIN and
// management-key authentication, pending responses); keys, objects and
// retry counters stay.
func (c *Card) PowerOff() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resetSession()
	c.selected = appNone
}

// Transmit processes one command APDU and returns the response APDU (data
// and status word). It never fails: malformed commands get an error
// status word.
func (c *Card) Transmit(apdu []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	data, sw := c.transmit(apdu)
	out := make([]byte, 0, len(data)+2)
	out = append(out, data...)
	return append(out, byte(sw>>8), byte(sw))
}

// command is a parsed command APDU.
type command struct {
	cla, ins, p1, p2 byte
	data             []byte
	ne               int // 0: no Le; otherwise 1–65536
}

// parseAPDU parses short and extended command APDUs.
func parseAPDU(b []byte) (command, bool) {
	if len(b) < 4 {
		return command{}, false
	}
	cmd := command{cla: b[0], ins: b[1], p1: b[2], p2: b[3]}
	body := b[4:]
	switch {
	case len(body) == 0:
	case len(body) == 1:
		cmd.ne = int(body[0])
		if cmd.ne == 0 {
			cmd.ne = 256
		}
	case body[0] != 0:
		n := int(body[0])
		switch len(body) {
		case 1 + n:
		case 2 + n:
			cmd.ne = int(body[1+n])
			if cmd.ne == 0 {
				cmd.ne = 256
			}
		default:
			return command{}, false
		}
		cmd.data = body[1 : 1+n]
	default: // extended length
		if len(body) == 3 {
			cmd.ne = int(body[1])<<8 | int(body[2])
			if cmd.ne == 0 {
				cmd.ne = 65536
			}
			break
		}
		if len(body) < 3 {
			return command{}, false
		}
		n := int(body[1])<<8 | int(body[2])
		switch len(body) {
		case 3 + n:
		case 5 + n:
			cmd.ne = int(body[3+n])<<8 | int(body[4+n])
			if cmd.ne == 0 {
				cmd.ne = 65536
			}
		default:
			return command{}, false
		}
		if n == 0 {
			return command{}, false
		}
		cmd.data = body[3 : 3+n]
	}
	return cmd, true
}

func (c *Card) transmit(apdu []byte) ([]byte, uint16) {
	cmd, ok := parseAPDU(apdu)
	if !ok {
		c.pending = nil
		c.chaining = false
		return nil, swWrongLength
	}
	if cmd.cla&^0x10 != 0 {
		return nil, swClaNotSupported
	}
	if cmd.ins == insGetResponse && cmd.cla == 0 {
		if c.pending == nil {
			return nil, swConditionsNotMet
		}
		out := c.pending
		c.pending = nil
		return c.respond(out, cmd.ne)
	}
	c.pending = nil

	// Command chaining (ISO 7816-4 5.1.1): collect the links, answer
	// each with 9000, and run the command when the last one arrives.
	header := [4]byte{0, cmd.ins, cmd.p1, cmd.p2}
	if c.chaining && header != c.chainHeader {
		c.chaining, c.chainData = false, nil
		return nil, swChainNotLast
	}
	if cmd.cla&0x10 != 0 {
		if len(c.chainData)+len(cmd.data) > maxChainedCommandData {
			c.chaining, c.chainData = false, nil
			return nil, swWrongLength
		}
		c.chaining, c.chainHeader = true, header
		c.chainData = append(c.chainData, cmd.data...)
		return nil, swOK
	}
	if c.chaining {
		cmd.data = append(c.chainData, cmd.data...)
		c.chaining, c.chainData = false, nil
	}

	// PIN policy "always" needs VERIFY as the command right before.
	justVerified := c.justVerified
	c.justVerified = false

	var out []byte
	var sw uint16
	if cmd.ins == insSelect {
		out, sw = c.selectApp(cmd)
	} else {
		switch c.selected {
		case appPIV:
			out, sw = c.piv(cmd, justVerified)
		case appManagement:
			out, sw = c.management(cmd)
		case appOTP:
			out, sw = c.otp(cmd)
		default:
			sw = swInsNotSupported
		}
	}
	if sw != swOK {
		return nil, sw
	}
	return c.respond(out, cmd.ne)
}

// respond returns at most one short response's worth of data (256 bytes,
// or Ne when the command asked for fewer) and keeps the rest for GET
// RESPONSE, announcing it with 61xx.
func (c *Card) respond(out []byte, ne int) ([]byte, uint16) {
	limit := 256
	if ne > 0 && ne < limit {
		limit = ne
	}
	if len(out) <= limit {
		return out, swOK
	}
	c.pending = out[limit:]
	rest := len(c.pending)
	if rest > 255 {
		rest = 0
	}
	return out[:limit], swMoreData | uint16(rest)
}

func (c *Card) selectApp(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0x04 {
		return nil, swIncorrectP1P2
	}
	c.resetSession()
	switch {
	case len(cmd.data) >= len(aidPIV) && bytes.HasPrefix(aidPIV11(), cmd.data):
		c.selected = appPIV
		// Application property template: PIX of the application and the
		// coexistent tag allocation authority (SP 800-73-4 3.1.1).
		var t []byte
		t = appendTLV(t, 0x4F, []byte{0x00, 0x00, 0x10, 0x00, 0x01, 0x00})
		t = appendTLV(t, 0x79, encodeTLV(0x4F, aidPIV))
		return encodeTLV(0x61, t), swOK
	case bytes.Equal(cmd.data, aidManagement):
		c.selected = appManagement
		return []byte(fmt.Sprintf("%d.%d.%d", c.version[0], c.version[1], c.version[2])), swOK
	case bytes.Equal(cmd.data, aidOTP):
		c.selected = appOTP
		return []byte{c.version[0], c.version[1], c.version[2], 0x00, 0x00, 0x00}, swOK
	}
	c.selected = appNone
	return nil, swNotFound
}

// aidPIV11 is the full PIV AID with version (A0 00 00 03 08 00 00 10 00 01 00);
// SELECT accepts any prefix of it that includes the RID and PIX start.
func aidPIV11() []byte {
	return []byte{0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00}
}

func (c *Card) management(cmd command) ([]byte, uint16) {
	if cmd.ins != insReadConfig {
		return nil, swInsNotSupported
	}
	// Device information as yubikit reads it: one length byte, then TLVs.
	var t []byte
	t = appendTLV(t, 0x01, []byte{0x02, 0x3B}) // USB applications supported
	t = appendTLV(t, 0x02, binary.BigEndian.AppendUint32(nil, c.serial))
	t = appendTLV(t, 0x03, []byte{0x02, 0x3B}) // USB applications enabled
	t = appendTLV(t, 0x04, []byte{c.formFactor})
	t = appendTLV(t, 0x05, c.version[:])
	t = appendTLV(t, 0x0A, []byte{0x00}) // configuration not locked
	return append([]byte{byte(len(t))}, t...), swOK
}

func (c *Card) otp(cmd command) ([]byte, uint16) {
	if cmd.ins == insOTPSerial && cmd.p1 == 0x10 {
		return binary.BigEndian.AppendUint32(nil, c.serial), swOK
	}
	return nil, swInsNotSupported
}

// piv dispatches the PIV application's instructions.
func (c *Card) piv(cmd command, justVerified bool) ([]byte, uint16) {
	switch cmd.ins {
	case insGetVersion:
		return c.version[:], swOK
	case insGetSerial:
		if !c.atLeast(5, 0, 0) {
			return nil, swInsNotSupported
		}
		return binary.BigEndian.AppendUint32(nil, c.serial), swOK
	case insVerify:
		return c.verify(cmd)
	case insChangeRef:
		return c.changeReference(cmd)
	case insResetRetry:
		return c.resetRetryCounter(cmd)
	case insSetRetries:
		return c.setRetries(cmd)
	case insReset:
		return c.reset(cmd)
	case insSetMgmKey:
		return c.setManagementKey(cmd)
	case insGeneralAuth:
		if cmd.p2 == refManagement {
			return c.authenticateManagement(cmd)
		}
		return c.useKey(cmd, justVerified)
	case insGetMetadata:
		if !c.atLeast(5, 3, 0) {
			return nil, swInsNotSupported
		}
		return c.metadata(cmd)
	case insGenerate:
		return c.generate(cmd)
	case insImportKey:
		return c.importKey(cmd)
	case insMoveKey:
		if !c.atLeast(5, 7, 0) {
			return nil, swInsNotSupported
		}
		return c.moveKey(cmd)
	case insAttest:
		return c.attest(cmd)
	case insGetData:
		return c.getData(cmd)
	case insPutData:
		return c.putData(cmd)
	}
	return nil, swInsNotSupported
}
