// Package token is Custodian's one model of the hardware that holds custodian
// keys: YubiKeys through PIV, PKCS#11 tokens, and — for drills only —
// software key files and virtual cards.
//
// The ceremony code sees only this package's types. A backend (a Provider)
// serves one URI scheme: RFC 7512 "pkcs11:" references, "yubikey:serial=…;
// slot=9d" references, or "file:PATH" software keys. A Key opens security
// domain shares through [Key.DecryptKey], which is the crypto/jwe
// KeyDecrypter interface: it receives the JWE's encrypted key and algorithm
// and returns the content-encryption key, so the private key never leaves
// the token.
//
// PINs reach backends only through a PINFunc callback: the GUI asks in a
// masked field, the CLI on the terminal, automation through a
// pin-source=file: attribute. PINs are never flags, never logged, and the
// backend wipes them after use. A wrong PIN is a *PINError carrying the
// retries left; with one retry left a backend refuses to try unless the
// caller sets OpenOptions.AllowLastRetry after asking the person.
package token

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
)

// Kind is the family of a token.
type Kind string

// Token kinds.
const (
	KindYubiKey  Kind = "yubikey"
	KindPKCS11   Kind = "pkcs11"
	KindSoftware Kind = "file"
)

// Info identifies a token. It is safe to record in a transcript.
type Info struct {
	Kind         Kind
	Manufacturer string
	Model        string
	Serial       string
	Firmware     string
	Label        string
	// Ref references the token itself (no key attributes).
	Ref *URI
	// Drill is true for drill tokens: anything a drill made or that exists
	// only for drills — every SoftHSM token (decided by the module's
	// identity), virtual cards, and key files whose certificate a drill
	// made (IsDrillCertificate). A key file is not a drill token by
	// itself: Kind says it is software, and the ceremony's admission
	// policy treats software and drill apart.
	Drill bool
}

// String is a one-line description for people: "YubiKey 5 NFC (serial
// 12345678, firmware 5.7.1)".
func (i Info) String() string {
	name := i.Model
	if name == "" {
		name = string(i.Kind)
	}
	if i.Manufacturer != "" && i.Kind == KindPKCS11 {
		name = i.Manufacturer + " " + name
	}
	s := name
	if i.Label != "" {
		s += fmt.Sprintf(" %q", i.Label)
	}
	var details []string
	if i.Serial != "" {
		details = append(details, "serial "+i.Serial)
	}
	if i.Firmware != "" {
		details = append(details, "firmware "+i.Firmware)
	}
	if len(details) > 0 {
		s += " (" + joinComma(details) + ")"
	}
	if i.Drill {
		s += " [DRILL]"
	}
	return s
}

func joinComma(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ", "
		}
		out += v
	}
	return out
}

// Tristate is yes, no or unknown: some tokens cannot say whether a credential
// is still the factory default.
type Tristate int8

// Tristate values.
const (
	Unknown Tristate = iota
	Yes
	No
)

func (t Tristate) String() string {
	switch t {
	case Yes:
		return "yes"
	case No:
		return "no"
	}
	return "unknown"
}

// Health is what a custodian and a witness check before using a token.
type Health struct {
	PINRetries int // -1 when the token cannot say
	PUKRetries int // -1 when unknown or not applicable
	// Factory defaults still in place: a YubiKey with a default PIN, PUK or
	// management key must be changed before enrollment.
	DefaultPIN           Tristate
	DefaultPUK           Tristate
	DefaultManagementKey Tristate
	// FreeSlots lists key slots (PIV) that hold no key.
	FreeSlots []string
	// Warnings are human-readable findings ("PIN blocked", …).
	Warnings []string
}

// PINRequest tells a PINFunc what is being asked for and why.
type PINRequest struct {
	Token Info
	// What is "PIN", "PUK" or "passphrase".
	What string
	// Reason is shown to the person: "open the share of custodian Alice".
	Reason string
	// RetriesLeft is -1 when unknown.
	RetriesLeft int
}

// PINFunc obtains a PIN from a person or a pin-source. The backend wipes the
// returned slice after use.
type PINFunc func(ctx context.Context, req PINRequest) ([]byte, error)

// TouchFunc is told that the token is waiting for a touch, so a front-end
// can show "touch your YubiKey now". It must not block.
type TouchFunc func(tok Info)

// OpenOptions configure how a key is opened.
type OpenOptions struct {
	PIN   PINFunc
	Touch TouchFunc
	// AllowLastRetry lets the backend try a PIN when one retry is left.
	// Without it the backend returns a *PINError with LastRetry set and
	// does not touch the counter, so the front-end can warn the person.
	AllowLastRetry bool
}

// PINError reports a rejected or blocked PIN (or PUK). Callers branch on it
// with errors.As.
type PINError struct {
	Token       Info
	What        string // "PIN" or "PUK"
	RetriesLeft int    // -1 when unknown
	Blocked     bool
	// LastRetry is set when the backend refused to try the PIN because
	// only one retry was left and AllowLastRetry was not given.
	LastRetry bool
}

func (e *PINError) Error() string {
	what := e.What
	if what == "" {
		what = "PIN"
	}
	switch {
	case e.Blocked:
		return fmt.Sprintf("%s of %s is blocked: %s", what, e.Token, unblockHint(e.Token.Kind, what))
	case e.LastRetry:
		return fmt.Sprintf("%s of %s has one retry left: a wrong %s will block it; confirm before trying", what, e.Token, what)
	case e.RetriesLeft >= 0:
		return fmt.Sprintf("wrong %s for %s: %d retries left", what, e.Token, e.RetriesLeft)
	}
	return fmt.Sprintf("wrong %s for %s", what, e.Token)
}

// unblockHint says how a blocked PIN or PUK is cleared. A reset clears
// a blocked PIN too, but it also destroys the custodian's key, so it is
// named only where nothing else is left.
func unblockHint(k Kind, what string) string {
	switch {
	case k == KindYubiKey && what == "PUK":
		return "only a reset of the PIV application (ykman piv reset) clears it, and a reset destroys the key on it"
	case k == KindYubiKey:
		return "unblock it with the PUK (Custodian's Tokens screen, or ykman piv access unblock-pin); do not reset it, a reset destroys the key"
	case k == KindPKCS11:
		return "unblock it with the token vendor's tool (with the Security Officer PIN)"
	}
	return "it cannot be unblocked from Custodian"
}

// AmbiguousError is returned, before any login, when a reference matches
// more than one token: a PIN must never reach a token the custodian did
// not choose (two PIV cards without a CHUID both report serial 00000000
// through OpenSC).
type AmbiguousError struct {
	Ref     string
	Matches []Info
	// Distinguish names the reference attributes whose values differ
	// between the matches ("serial", "token", "module-path", "slot-id").
	Distinguish []string
}

func (e *AmbiguousError) Error() string {
	var names []string
	for _, m := range e.Matches {
		names = append(names, m.String())
	}
	hint := "no attribute tells them apart: give the tokens distinct labels with their vendor's tool, or remove all but one"
	switch len(e.Distinguish) {
	case 0:
	case 1:
		hint = "add " + e.Distinguish[0] + "= to the reference to name one of them"
	default:
		hint = "add one of " + joinComma(e.Distinguish) + " to the reference to name one of them"
	}
	return fmt.Sprintf("%d tokens match %s (%s): refusing before any PIN is asked; %s", len(e.Matches), e.Ref, joinComma(names), hint)
}

// ErrNotFound is returned (wrapped) when no token or key matches a reference.
var ErrNotFound = errors.New("not found")

// ErrUnsupported is returned (wrapped) when a token cannot do what is asked
// (a key size, a slot, attestation).
var ErrUnsupported = errors.New("not supported by this token")

// TouchPolicy says when a YubiKey requires a touch to use a key.
type TouchPolicy string

// Touch policies (PIV).
const (
	TouchNever  TouchPolicy = "never"
	TouchAlways TouchPolicy = "always"
	TouchCached TouchPolicy = "cached"
)

// ParseTouchPolicy checks a touch policy name.
func ParseTouchPolicy(s string) (TouchPolicy, error) {
	switch TouchPolicy(s) {
	case TouchNever, TouchAlways, TouchCached:
		return TouchPolicy(s), nil
	case "":
		return TouchNever, nil
	}
	return "", fmt.Errorf("touch policy %q is not never, always or cached", s)
}

// EnrollRequest describes a custodian key to generate on a token.
type EnrollRequest struct {
	// Name is the custodian's name; it becomes the certificate's CN.
	Name string
	// CeremonyID identifies the activation ceremony; it is recorded in the
	// certificate subject (OU) so that a certificate names its ceremony.
	CeremonyID string
	// Bits is 2048 (default), 3072 or 4096.
	Bits int
	// Slot is the PIV slot ("9d" default, or a retired slot "82"–"95").
	Slot string
	// Touch is the PIV touch policy (default never).
	Touch TouchPolicy
	// Label names PKCS#11 objects (default: "custodian key"). It is
	// readable without logging in, so it never carries the custodian's
	// name.
	Label string
	// Drill marks the certificate as a drill's (OIDDrillKey).
	Drill bool
	// Progress is told each stage ("generating key pair on the token", …).
	Progress func(stage string)
}

// NeutralLabel is the default CKA_LABEL of custodian keys: anyone holding
// the token can list labels without the PIN, so the label says what the
// object is, not whose it is.
const NeutralLabel = "custodian key"

// Validate checks the request and fills defaults.
func (r *EnrollRequest) Validate() error {
	if r.Name == "" {
		return errors.New("enrollment needs the custodian's name")
	}
	switch r.Bits {
	case 0:
		r.Bits = 2048
	case 2048, 3072, 4096:
	default:
		return fmt.Errorf("key size %d is not 2048, 3072 or 4096 bits (Azure needs RSA ≥ 2048)", r.Bits)
	}
	if r.Slot == "" {
		r.Slot = "9d"
	}
	if _, err := ParsePIVSlot(r.Slot); err != nil {
		return err
	}
	t, err := ParseTouchPolicy(string(r.Touch))
	if err != nil {
		return err
	}
	r.Touch = t
	if r.Label == "" {
		r.Label = NeutralLabel
	}
	return nil
}

// Report tells the request's Progress callback, if any, about a stage.
func (r *EnrollRequest) Report(stage string) {
	if r.Progress != nil {
		r.Progress(stage)
	}
}

// Enrollment is the result of generating a custodian key.
type Enrollment struct {
	// Ref references the new key.
	Ref *URI
	// Token identifies the token the key was generated on.
	Token Info
	// Certificate is the self-signed certificate stored on the token next
	// to the key. Its exact DER bytes are recovery material: the security
	// domain names shares by their SHA-256.
	Certificate *x509.Certificate
	// Attestation is the evidence that the key was generated on the token.
	Attestation *Attestation
}

// AttestationStatus is what the evidence for a key amounts to. The
// ceremony's admission policy branches on it; people read the Facts.
type AttestationStatus int

// Attestation statuses.
const (
	// AttestNone: there is no evidence at all (a software key file).
	AttestNone AttestationStatus = iota
	// AttestVerified: checked cryptographically — a YubiKey slot
	// attestation that chains to Yubico's roots and attests this key,
	// this serial and this slot.
	AttestVerified
	// AttestClaimed: the token's own word (PKCS#11 CKA_LOCAL,
	// CKA_NEVER_EXTRACTABLE, CKA_ALWAYS_SENSITIVE), which a token can
	// state for a key imported from a file. Never "verified".
	AttestClaimed
	// AttestUnavailable: the token cannot attest (YubiKey firmware before
	// 4.3, attestation certificate missing).
	AttestUnavailable
	// AttestRejected: evidence was presented and is wrong — a chain to
	// another root (the virtual card's test root included), another
	// serial or slot, or a token that itself says the key was imported or
	// can be extracted.
	AttestRejected
)

func (s AttestationStatus) String() string {
	switch s {
	case AttestVerified:
		return "verified"
	case AttestClaimed:
		return "claimed by the token, not verified"
	case AttestUnavailable:
		return "not available from this token"
	case AttestRejected:
		return "REJECTED"
	}
	return "none"
}

// Attestation is evidence, recorded in the ceremony transcript, that a key
// was generated on a token and cannot leave it.
type Attestation struct {
	Kind Kind
	// Status says what the evidence amounts to.
	Status AttestationStatus
	// Verified is Status == AttestVerified, kept for front-ends that show
	// a yes/no.
	Verified bool
	// Chain is the attestation chain, leaf first (YubiKey: slot
	// attestation, then the F9 attestation certificate).
	Chain []*x509.Certificate
	// Facts are the attested properties, as name/value pairs in a stable
	// order (serial, firmware, PIN policy, touch policy, CKA_LOCAL, …).
	Facts []Fact
}

// Fact is one attested property.
type Fact struct {
	Name, Value string
}

// Key is a custodian key on a token.
type Key interface {
	// Ref references this key.
	Ref() *URI
	// Token describes the token holding the key.
	Token() Info
	// Certificate is the certificate stored next to the key.
	Certificate() *x509.Certificate
	// Public is the key's public half.
	Public() *rsa.PublicKey
	// DecryptKey unwraps a JWE content-encryption key on the token. It
	// implements crypto/jwe.KeyDecrypter; alg is RSA-OAEP-256, RSA-OAEP or
	// RSA1_5.
	DecryptKey(alg string, encryptedKey []byte) ([]byte, error)
	// DecryptPath says how the last DecryptKey was done, for the record:
	// e.g. "OAEP on the token" or "raw RSA on the token, OAEP decoded in
	// Custodian".
	DecryptPath() string
	// Attest returns the evidence for the key.
	Attest(ctx context.Context) (*Attestation, error)
	// Close releases the token session and wipes cached PINs.
	Close() error
}

// Provider is a token backend serving one URI scheme.
type Provider interface {
	// Scheme is the URI scheme served ("pkcs11", "yubikey", "file").
	Scheme() string
	// List returns the tokens present.
	List(ctx context.Context) ([]Info, error)
	// Health reports PIN retries, default credentials and free slots of
	// the token named by ref.
	Health(ctx context.Context, ref *URI, opts OpenOptions) (Health, error)
	// Enroll generates a key pair on the token named by ref, signs a
	// self-signed certificate on the token and stores it next to the key.
	Enroll(ctx context.Context, ref *URI, req EnrollRequest, opts OpenOptions) (*Enrollment, error)
	// OpenKey opens the key named by ref.
	OpenKey(ctx context.Context, ref *URI, opts OpenOptions) (Key, error)
}

// WipeBytes zeroes a secret slice.
func WipeBytes(b []byte) {
	clear(b)
}
