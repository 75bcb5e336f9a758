package ceremony

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/custodian-hsm/custodian/crypto/token"
)

// This file is the one admission policy: which custodian keys a workflow
// may use. Every production and drill workflow (activation enrollment,
// share self-test, recovery, rotation, and the CLI's token enroll,
// sd check-share and sd restore-blob) goes through AdmissionPolicy.Enroll
// or AdmissionPolicy.OpenKey. It decides on typed facts — the parsed
// reference's scheme, the token's kind, whether the token is a drill token,
// the attestation status — never on how someone spelled a reference.

// KeyClass is what a custodian key is, for admission.
type KeyClass int

// Key classes.
const (
	// HardwareKey: a YubiKey or a PKCS#11 hardware token.
	HardwareKey KeyClass = iota + 1
	// SoftwareKey: a file: PEM key made outside Custodian (openssl, as
	// Microsoft's quickstart teaches).
	SoftwareKey
	// DrillKey: anything a drill made or that exists only for drills — every
	// SoftHSM token, virtual cards, keys from `custodian drill keys` or a
	// drill session.
	DrillKey
)

func (c KeyClass) String() string {
	switch c {
	case HardwareKey:
		return "hardware"
	case SoftwareKey:
		return "software"
	case DrillKey:
		return "drill"
	}
	return "unknown"
}

// KeyUse is what a workflow does with a key.
type KeyUse int

// Key uses.
const (
	// NewKey: enrollment generates a new custodian key.
	NewKey KeyUse = iota + 1
	// ExistingKey: recovery or a share self-test opens a key enrolled
	// earlier.
	ExistingKey
)

// KeyFacts are what admission decides on.
type KeyFacts struct {
	// Ref is the parsed reference (its Scheme is lowercased by the
	// parser, so "FILE:" and "file:" are the same fact).
	Ref *token.URI
	// Token is what the backend says about the token, found without
	// logging in (and again once the key is open).
	Token token.Info
	// Attestation is the evidence of an enrollment; nil before one.
	Attestation *token.Attestation
}

// Class derives the key's class from the facts. A drill mark wins: a
// drill token is a drill token whatever its scheme.
func (f KeyFacts) Class() KeyClass {
	switch {
	case f.Token.Drill:
		return DrillKey
	case f.Ref != nil && f.Ref.Scheme == token.SchemeFile, f.Token.Kind == token.KindSoftware:
		return SoftwareKey
	}
	return HardwareKey
}

// kind is the token kind, from the backend or else from the scheme.
func (f KeyFacts) kind() token.Kind {
	if f.Token.Kind != "" {
		return f.Token.Kind
	}
	if f.Ref != nil {
		return token.KindOf(f.Ref)
	}
	return ""
}

// WitnessedException is a witness's decision to go on although a check
// failed: to admit a custodian key whose origin cannot be verified (a
// PKCS#11 key, whose attributes are only the token's claim, or a YubiKey
// that cannot attest), or an exchange key whose attestation fails. The
// transcript names it and its witness. It is the one form of such a
// decision, whether the GUI's dialog or a CLI flag made it.
type WitnessedException struct {
	Reason     string
	ApprovedBy string
}

func (e WitnessedException) String() string {
	return e.Reason + "; approved by " + e.ApprovedBy
}

// ParseWitnessedException reads the CLI's --accept-unattested-key and
// --accept-unattested-exchange-key values, "REASON; approved by NAME".
func ParseWitnessedException(s string) (*WitnessedException, error) {
	i := strings.LastIndex(strings.ToLower(s), "; approved by ")
	if i < 0 {
		return nil, fmt.Errorf("exception %q does not say who approved it: write \"REASON; approved by NAME\"", s)
	}
	ex := &WitnessedException{Reason: strings.TrimSpace(s[:i]), ApprovedBy: strings.TrimSpace(s[i+len("; approved by "):])}
	if ex.Reason == "" || ex.ApprovedBy == "" {
		return nil, fmt.Errorf("exception %q needs both a reason and a witness: write \"REASON; approved by NAME\"", s)
	}
	return ex, nil
}

// AdmissionPolicy is the admission policy of one workflow: its mode, and
// the witnessed exception for the key at hand, if any.
type AdmissionPolicy struct {
	Mode      Mode
	Exception *WitnessedException
	// DrillKeysOnly narrows a drill to keys made for drills (drill tokens,
	// drill key files), refusing software keys made elsewhere. It is set
	// when the drill was inferred from a drill HSM's exchange key rather
	// than chosen: anyone can make such a key, so it must never be a way
	// to open a production custodian's key file outside production's checks.
	DrillKeysOnly bool
}

// Admission is a key admitted, and what the record must say about it.
type Admission struct {
	Class KeyClass
	Facts KeyFacts
	// Warning is set when a software key is admitted for recovery or a
	// self-test: the transcript records it and the front-end shows it.
	Warning string
	// Exception is set when the key was admitted under a witnessed
	// exception.
	Exception *WitnessedException
}

// Summary is a one-line record of the admission for a transcript.
func (a *Admission) Summary() string {
	s := fmt.Sprintf("admitted as a %s key", a.Class)
	if at := a.Facts.Attestation; at != nil {
		s += "; attestation " + at.Status.String()
	}
	if a.Exception != nil {
		s += "; under exception: " + a.Exception.String()
	}
	if a.Warning != "" {
		s += "; WARNING: " + a.Warning
	}
	return s
}

// AdmissionError is a key the policy refuses. Front-ends branch on it:
// NeedsException means a witnessed exception would admit it (the GUI
// offers the dialog, the CLI names --accept-unattested-key).
type AdmissionError struct {
	Mode           Mode
	Use            KeyUse
	Class          KeyClass
	Token          token.Info
	Reason         string
	NeedsException bool
	// Generated names the key when the refusal came after enrollment had
	// generated it (its attestation was then found wanting): the key is on
	// the token, unused.
	Generated *token.URI
}

func (e *AdmissionError) Error() string {
	return fmt.Sprintf("%s refused (%s key, %s ceremony): %s", describeToken(e.Token), e.Class, strings.ToLower(e.Mode.String()), e.Reason)
}

func describeToken(t token.Info) string {
	if t.Kind == "" && t.Ref == nil {
		return "the key"
	}
	return t.String()
}

const useHardware = "generate production custodian keys on a YubiKey (yubikey:serial=N;slot=9d) or a PKCS#11 hardware token"

// Check applies the policy to the facts. It is called before any PIN is
// asked (Attestation nil) and again once an enrollment's evidence is in.
func (p AdmissionPolicy) Check(use KeyUse, f KeyFacts) (*Admission, error) {
	class := f.Class()
	refuse := func(needsEx bool, format string, args ...any) (*Admission, error) {
		return nil, &AdmissionError{Mode: p.Mode, Use: use, Class: class, Token: f.Token, Reason: fmt.Sprintf(format, args...), NeedsException: needsEx}
	}
	adm := &Admission{Class: class, Facts: f}
	if p.Mode == Drill {
		if class == HardwareKey {
			return refuse(false, "a drill never touches a real custodian key: rehearse with drill tokens (SoftHSM, virtual YubiKeys) or drill key files")
		}
		if class == SoftwareKey && p.DrillKeysOnly {
			return refuse(false, "this recovery is a drill only because its exchange key is a drill HSM's, and such a drill opens only keys made for drills (custodian drill keys, drill tokens): this key file was not; if this is a rehearsal with your own software keys, give --drill")
		}
		return adm, nil
	}
	switch class {
	case DrillKey:
		return refuse(false, "it is a drill token (SoftHSM, a virtual card or a key a drill made): production ceremonies use only real custodian keys; run drills with --drill")
	case SoftwareKey:
		if use == NewKey {
			return refuse(false, "a software key file is never enrolled in production (its private key would sit on disk): %s", useHardware)
		}
		adm.Warning = "this custodian key is a software key file with no hardware protection: after this ceremony, rotate the custodians onto hardware tokens (custodian rotation)"
		return adm, nil
	}
	if use == ExistingKey {
		return adm, nil
	}
	return p.checkNewHardwareKey(adm, refuse)
}

// checkNewHardwareKey: a YubiKey with a verified attestation is admitted;
// an attestation that chains to another root, or a token that says its
// key was not generated on it, is refused outright; a PKCS#11 key (a claim
// only) or a YubiKey that cannot attest needs a witnessed exception.
func (p AdmissionPolicy) checkNewHardwareKey(adm *Admission, refuse func(bool, string, ...any) (*Admission, error)) (*Admission, error) {
	f := adm.Facts
	status := token.AttestNone
	if f.Attestation != nil {
		status = f.Attestation.Status
	}
	switch {
	case status == token.AttestRejected:
		return refuse(false, "its attestation does not prove the key was generated on a genuine token (%s); no exception can admit it", attestationFinding(f.Attestation))
	case status == token.AttestVerified:
		return adm, nil
	case f.kind() == token.KindYubiKey && f.Attestation == nil && !firmwareBefore(f.Token.Firmware, 4, 3):
		// Before enrollment: the attestation is checked once the key exists.
		return adm, nil
	case f.kind() == token.KindYubiKey && f.Attestation == nil:
		// Known before any key is generated: this firmware cannot attest.
		f.Attestation = &token.Attestation{Kind: token.KindYubiKey, Status: token.AttestUnavailable,
			Facts: []token.Fact{{Name: "attestation", Value: "not available: firmware " + f.Token.Firmware + " cannot attest keys (attestation needs 4.3 or later)"}}}
	}
	what := "a PKCS#11 token's key attributes (CKA_LOCAL, CKA_NEVER_EXTRACTABLE, CKA_ALWAYS_SENSITIVE) are the token's claim, not a cryptographic attestation"
	if f.kind() == token.KindYubiKey {
		what = "this YubiKey cannot attest its key (" + attestationFinding(f.Attestation) + ")"
	}
	if p.Exception == nil {
		return refuse(true, "%s: it is admitted only with a witnessed exception (CLI: --accept-unattested-key \"REASON; approved by NAME\"; GUI: the witness's exception dialog)", what)
	}
	adm.Exception = p.Exception
	return adm, nil
}

// firmwareBefore reports a YubiKey firmware version ("4.2.7") older than
// major.minor; an unreadable version is not "older" (the attestation,
// checked after enrollment, then decides).
func firmwareBefore(fw string, major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(fw, "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma < major || ma == major && mi < minor
}

func attestationFinding(a *token.Attestation) string {
	if a == nil {
		return "no attestation"
	}
	var f []string
	for _, x := range a.Facts {
		if x.Name == "chain" || x.Name == "attestation" || x.Name == "finding" {
			f = append(f, x.Value)
		}
	}
	if len(f) == 0 {
		return "attestation " + a.Status.String()
	}
	return strings.Join(f, "; ")
}

// facts parses a reference and identifies its token without logging in.
func facts(ctx context.Context, m *token.Manager, ref string) (KeyFacts, error) {
	u, info, err := m.Describe(ctx, ref)
	if err != nil {
		return KeyFacts{}, err
	}
	if info.Ref == nil {
		info.Ref = u
	}
	return KeyFacts{Ref: u, Token: info}, nil
}

// Enroll is the only way a workflow generates a custodian key: the token
// is identified and checked before any PIN is asked, the key is generated,
// and its attestation is checked. A key generated but then refused (a
// YubiKey whose attestation chains to another root) stays on the token,
// unused; the error says so.
func (p AdmissionPolicy) Enroll(ctx context.Context, m *token.Manager, ref string, req token.EnrollRequest, opts token.OpenOptions) (*token.Enrollment, *Admission, error) {
	f, err := facts(ctx, m, ref)
	if err != nil {
		return nil, nil, err
	}
	if _, err := p.Check(NewKey, f); err != nil {
		return nil, nil, err
	}
	req.Drill = p.Mode == Drill
	enr, err := m.Enroll(ctx, ref, req, opts)
	if err != nil {
		return nil, nil, err
	}
	f.Token, f.Attestation = enr.Token, enr.Attestation
	if f.Attestation == nil {
		f.Attestation = &token.Attestation{Kind: f.kind(), Status: token.AttestNone}
	}
	adm, err := p.Check(NewKey, f)
	if err != nil {
		var ae *AdmissionError
		if errors.As(err, &ae) {
			ae.Generated = enr.Ref
			ae.Reason += fmt.Sprintf(" (the key %s was generated but is not admitted: delete it or reset the token)", enr.Ref)
		}
		return nil, nil, err
	}
	return enr, adm, nil
}

// OpenKey is the only way a workflow opens an existing custodian key: the
// token is identified and checked before any PIN is asked, and checked
// again with what the open key says about itself (a key file's
// certificate tells a drill's key from one made elsewhere).
func (p AdmissionPolicy) OpenKey(ctx context.Context, m *token.Manager, ref string, opts token.OpenOptions) (token.Key, *Admission, error) {
	f, err := facts(ctx, m, ref)
	if err != nil {
		return nil, nil, err
	}
	if _, err := p.Check(ExistingKey, f); err != nil {
		return nil, nil, err
	}
	key, err := m.OpenKey(ctx, ref, opts)
	if err != nil {
		return nil, nil, err
	}
	f.Token = key.Token()
	adm, err := p.Check(ExistingKey, f)
	if err != nil {
		key.Close()
		return nil, nil, err
	}
	return key, adm, nil
}

// IsAdmissionError reports whether err is a refusal by the policy.
func IsAdmissionError(err error) bool {
	var ae *AdmissionError
	return errors.As(err, &ae)
}
