package ceremony

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/crypto/token/pkcs11"
	"github.com/custodian-hsm/custodian/crypto/token/pkcs11/softhsm"
	"github.com/custodian-hsm/custodian/crypto/token/soft"
	"github.com/custodian-hsm/custodian/internal/testinfra/hardwarepkcs11"
	"github.com/custodian-hsm/custodian/internal/testvectors"
)

func productionActivation(t *testing.T, m *token.Manager, rec Recorder) *Activation {
	t.Helper()
	a, err := NewActivation(ActivationConfig{Mode: Production, HSMName: "h", CeremonyID: "T", Custodians: 3, Quorum: 2, Witness: "W"}, m, rec)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func wantRefused(t *testing.T, what string, err error, class KeyClass, text string) *AdmissionError {
	t.Helper()
	var ae *AdmissionError
	if !errors.As(err, &ae) {
		t.Fatalf("%s: want an admission refusal, got %v", what, err)
	}
	if ae.Class != class || !strings.Contains(err.Error(), text) {
		t.Errorf("%s: refused as %s with %q; want %s and %q", what, ae.Class, err, class, text)
	}
	return ae
}

// Production enrollment refuses key files however the scheme is spelled:
// the policy reads the parsed scheme, and no key is written.
func TestProductionEnrollmentRefusesKeyFiles(t *testing.T) {
	dir := t.TempDir()
	rec := &MemoryRecorder{}
	a := productionActivation(t, token.NewManager(soft.New()), rec)
	for _, scheme := range []string{"file", "FILE", "File"} {
		path := filepath.Join(dir, scheme+".pem")
		_, err := a.Enroll(context.Background(), "Alice", scheme+":"+path, token.EnrollRequest{}, token.OpenOptions{})
		wantRefused(t, scheme+":", err, SoftwareKey, "never enrolled in production")
		if !strings.Contains(err.Error(), "yubikey:serial=") {
			t.Errorf("%s: the refusal does not say what to use instead: %v", scheme, err)
		}
		if _, err := os.Stat(path); err == nil {
			t.Errorf("%s: an unencrypted private key was written to %s", scheme, path)
		}
	}
	refused := 0
	for _, e := range rec.Events {
		if e.Step == "activation.enroll.refused" {
			refused++
		}
	}
	if refused != 3 {
		t.Errorf("%d refusals recorded, want 3", refused)
	}
}

// startSoftHSM gives a test a private SoftHSM with n drill tokens.
func startSoftHSM(t *testing.T, n int) *softHSMDrillTokens {
	t.Helper()
	if _, err := softhsm.Module(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	d, err := newSoftHSMDrillTokens(t.TempDir(), n)
	if err != nil {
		t.Fatal(err)
	}
	// One private SoftHSM per process: close it before the next test.
	t.Cleanup(func() { d.Close() })
	return d.(*softHSMDrillTokens)
}

// A SoftHSM token is a drill token: production enrollment refuses it
// before any PIN is asked, whether the manager would load SoftHSM (the
// GUI's old path) or not (the production manager refuses the module).
func TestProductionEnrollmentRefusesSoftHSM(t *testing.T) {
	hsm := startSoftHSM(t, 1)
	asked := false
	opts := token.OpenOptions{PIN: func(context.Context, token.PINRequest) ([]byte, error) { asked = true; return []byte(drillPIN), nil }}
	a := productionActivation(t, hsm.Manager(), &MemoryRecorder{})
	_, err := a.Enroll(context.Background(), "Alice", hsm.Ref(0), token.EnrollRequest{}, opts)
	wantRefused(t, "SoftHSM via a drill-capable manager", err, DrillKey, "drill token")
	a = productionActivation(t, Tokens(), &MemoryRecorder{})
	_, err = a.Enroll(context.Background(), "Alice", hsm.Ref(0), token.EnrollRequest{}, opts)
	var me *pkcs11.ModuleError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "drill module") {
		t.Errorf("SoftHSM via the production manager: %v", err)
	}
	if asked {
		t.Error("a PIN was asked for a drill token in production")
	}
	// The same token is admitted in a drill.
	d, err := NewActivation(ActivationConfig{Mode: Drill, HSMName: "h", CeremonyID: "T", Custodians: 3, Quorum: 2, Witness: "W"}, hsm.Manager(), &MemoryRecorder{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Enroll(context.Background(), "Alice", hsm.Ref(0), token.EnrollRequest{}, hsm.Options(0)); err != nil {
		t.Errorf("drill enrollment on SoftHSM: %v", err)
	}
}

// A PKCS#11 key's attributes are a claim: production enrollment refuses
// it without a witnessed exception, before any PIN is asked, and admits
// it with one; the transcript names the exception and its witness.
func TestProductionPKCS11NeedsWitnessedException(t *testing.T) {
	hsm := startSoftHSM(t, 1)
	m := token.NewManager(hardwarepkcs11.New(pkcs11.New(pkcs11.Options{ModulePath: hsm.hsm.Module, Drill: true, ConfigFile: "-"})))
	rec := &MemoryRecorder{}
	a := productionActivation(t, m, rec)
	asked := false
	noPIN := token.OpenOptions{PIN: func(context.Context, token.PINRequest) ([]byte, error) { asked = true; return nil, errors.New("no") }}
	_, err := a.Enroll(context.Background(), "Alice", hsm.Ref(0), token.EnrollRequest{}, noPIN)
	ae := wantRefused(t, "PKCS#11 without exception", err, HardwareKey, "claim")
	if !ae.NeedsException || !strings.Contains(err.Error(), "--accept-unattested-key") {
		t.Errorf("the refusal does not offer the exception: %v", err)
	}
	if asked {
		t.Error("a PIN was asked before the policy refused")
	}
	ex := &WitnessedException{Reason: "Nitrokey HSM has no attestation", ApprovedBy: "Wendy Witness"}
	c, err := a.EnrollWithException(context.Background(), "Alice", hsm.Ref(0), token.EnrollRequest{}, hsm.Options(0), ex)
	if err != nil {
		t.Fatal(err)
	}
	if c.Attestation.Status != token.AttestClaimed || c.Attestation.Verified {
		t.Errorf("PKCS#11 attestation status %v verified %v: it is a claim", c.Attestation.Status, c.Attestation.Verified)
	}
	var ev *Event
	for i := range rec.Events {
		if rec.Events[i].Step == "activation.enroll" {
			ev = &rec.Events[i]
		}
	}
	if ev == nil || ev.Exception == nil || ev.Exception.ApprovedBy != "Wendy Witness" || !strings.Contains(ev.Exception.What, "Nitrokey HSM has no attestation") {
		t.Fatalf("the transcript does not name the exception and witness: %+v", ev)
	}
	if !strings.Contains(ev.Message, "claimed by the token, not verified") || strings.Contains(ev.Message, "verified=true") {
		t.Errorf("enrollment record: %s", ev.Message)
	}
}

// The rules themselves, on facts: YubiKey attestation, exceptions, the
// drill side, existing keys.
func TestAdmissionRules(t *testing.T) {
	yk := &token.URI{Scheme: token.SchemeYubiKey, Path: map[string]string{"serial": "1"}}
	p11 := &token.URI{Scheme: token.SchemePKCS11, Path: map[string]string{}}
	file := &token.URI{Scheme: token.SchemeFile, File: "/k.pem"}
	att := func(s token.AttestationStatus) *token.Attestation { return &token.Attestation{Status: s} }
	ex := &WitnessedException{Reason: "r", ApprovedBy: "w"}
	ykInfo := token.Info{Kind: token.KindYubiKey}
	cases := []struct {
		name   string
		policy AdmissionPolicy
		use    KeyUse
		facts  KeyFacts
		admit  bool
		needEx bool
		warn   bool
	}{
		{"verified YubiKey", AdmissionPolicy{Mode: Production}, NewKey, KeyFacts{Ref: yk, Token: ykInfo, Attestation: att(token.AttestVerified)}, true, false, false},
		{"YubiKey before enrollment", AdmissionPolicy{Mode: Production}, NewKey, KeyFacts{Ref: yk, Token: ykInfo}, true, false, false},
		{"YubiKey 4.2 before enrollment", AdmissionPolicy{Mode: Production}, NewKey, KeyFacts{Ref: yk, Token: token.Info{Kind: token.KindYubiKey, Firmware: "4.2.7"}}, false, true, false},
		{"YubiKey 4.2 before enrollment, with exception", AdmissionPolicy{Mode: Production, Exception: ex}, NewKey, KeyFacts{Ref: yk, Token: token.Info{Kind: token.KindYubiKey, Firmware: "4.2.7"}}, true, false, false},
		{"YubiKey 5.7 before enrollment", AdmissionPolicy{Mode: Production}, NewKey, KeyFacts{Ref: yk, Token: token.Info{Kind: token.KindYubiKey, Firmware: "5.7.1"}}, true, false, false},
		{"YubiKey chained to another root", AdmissionPolicy{Mode: Production}, NewKey, KeyFacts{Ref: yk, Token: ykInfo, Attestation: att(token.AttestRejected)}, false, false, false},
		{"YubiKey chained to another root, with exception", AdmissionPolicy{Mode: Production, Exception: ex}, NewKey, KeyFacts{Ref: yk, Token: ykInfo, Attestation: att(token.AttestRejected)}, false, false, false},
		{"YubiKey that cannot attest", AdmissionPolicy{Mode: Production}, NewKey, KeyFacts{Ref: yk, Token: ykInfo, Attestation: att(token.AttestUnavailable)}, false, true, false},
		{"YubiKey that cannot attest, with exception", AdmissionPolicy{Mode: Production, Exception: ex}, NewKey, KeyFacts{Ref: yk, Token: ykInfo, Attestation: att(token.AttestUnavailable)}, true, false, false},
		{"PKCS#11 claims", AdmissionPolicy{Mode: Production}, NewKey, KeyFacts{Ref: p11, Token: token.Info{Kind: token.KindPKCS11}, Attestation: att(token.AttestClaimed)}, false, true, false},
		{"PKCS#11 says imported, with exception", AdmissionPolicy{Mode: Production, Exception: ex}, NewKey, KeyFacts{Ref: p11, Token: token.Info{Kind: token.KindPKCS11}, Attestation: att(token.AttestRejected)}, false, false, false},
		{"virtual YubiKey", AdmissionPolicy{Mode: Production, Exception: ex}, NewKey, KeyFacts{Ref: yk, Token: token.Info{Kind: token.KindYubiKey, Drill: true}}, false, false, false},
		{"existing software key", AdmissionPolicy{Mode: Production}, ExistingKey, KeyFacts{Ref: file, Token: token.Info{Kind: token.KindSoftware}}, true, false, true},
		{"existing drill key", AdmissionPolicy{Mode: Production}, ExistingKey, KeyFacts{Ref: file, Token: token.Info{Kind: token.KindSoftware, Drill: true}}, false, false, false},
		{"existing hardware key", AdmissionPolicy{Mode: Production}, ExistingKey, KeyFacts{Ref: yk, Token: ykInfo}, true, false, false},
		{"drill: hardware YubiKey", AdmissionPolicy{Mode: Drill}, ExistingKey, KeyFacts{Ref: yk, Token: ykInfo}, false, false, false},
		{"drill: hardware PKCS#11 enrollment", AdmissionPolicy{Mode: Drill, Exception: ex}, NewKey, KeyFacts{Ref: p11, Token: token.Info{Kind: token.KindPKCS11}}, false, false, false},
		{"drill: drill token", AdmissionPolicy{Mode: Drill}, NewKey, KeyFacts{Ref: p11, Token: token.Info{Kind: token.KindPKCS11, Drill: true}}, true, false, false},
		{"drill: software key", AdmissionPolicy{Mode: Drill}, ExistingKey, KeyFacts{Ref: file, Token: token.Info{Kind: token.KindSoftware}}, true, false, false},
	}
	for _, c := range cases {
		adm, err := c.policy.Check(c.use, c.facts)
		if (err == nil) != c.admit {
			t.Errorf("%s: admitted=%v (%v), want %v", c.name, err == nil, err, c.admit)
			continue
		}
		if err != nil {
			var ae *AdmissionError
			if !errors.As(err, &ae) || ae.NeedsException != c.needEx {
				t.Errorf("%s: %v; needs exception %v, want %v", c.name, err, ae != nil && ae.NeedsException, c.needEx)
			}
			continue
		}
		if (adm.Warning != "") != c.warn {
			t.Errorf("%s: warning %q", c.name, adm.Warning)
		}
		if c.policy.Exception != nil && c.needEx == false && adm.Exception == nil && c.facts.Attestation != nil && c.facts.Attestation.Status == token.AttestUnavailable {
			t.Errorf("%s: the exception is not recorded on the admission", c.name)
		}
	}
}

func TestParseWitnessedExceptionOfAKey(t *testing.T) {
	ex, err := ParseWitnessedException("vendor HSM without attestation; approved by Wendy Witness")
	if err != nil || ex.Reason != "vendor HSM without attestation" || ex.ApprovedBy != "Wendy Witness" {
		t.Errorf("%+v %v", ex, err)
	}
	for _, bad := range []string{"", "no witness", "; approved by Wendy", "reason; approved by "} {
		if _, err := ParseWitnessedException(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Production recovery: an openssl key file (Microsoft's quickstart) is
// admitted with the warning recorded; a key a drill made is refused.
func TestProductionRecoveryAdmitsSoftwareKeysWithWarningAndRefusesDrillKeys(t *testing.T) {
	dir := testvectors.Path(t, "sd-3of2")
	rec := &MemoryRecorder{}
	r, err := NewRecovery(RecoveryConfig{Mode: Production, HSMName: "vector-hsm", CeremonyID: "R-1", Witness: "Wendy"}, token.NewManager(soft.New()), rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetExchangeKeyPolicy(ExchangeKeyPolicy{Exception: &WitnessedException{Reason: "test vector from no HSM", ApprovedBy: "Wendy"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.LoadSD("sd.json", testvectors.Read(t, "sd-3of2", "sd.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.LoadExchangeKey("exchange.cer", testvectors.Read(t, "sd-3of2", "exchange.cer")); err != nil {
		t.Fatal(err)
	}
	if err := r.ConfirmExchangeKey("Olivia", true); err != nil {
		t.Fatal(err)
	}
	c, err := r.OpenShare(context.Background(), "Alice", "FILE:"+filepath.Join(dir, "keys", "cert_0.key"), token.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.Warning, "rotate the custodians onto hardware") {
		t.Errorf("no warning for a software key: %q", c.Warning)
	}
	last := rec.Events[len(rec.Events)-1]
	if last.Step != "recovery.share.opened" || !strings.Contains(last.Message, "WARNING") || !strings.Contains(last.Message, "software key") {
		t.Errorf("the warning is not in the transcript: %+v", last)
	}
	drillKey := filepath.Join(t.TempDir(), "cert_9.key")
	if _, err := soft.GenerateFiles(drillKey, token.EnrollRequest{Name: "Bob"}); err != nil {
		t.Fatal(err)
	}
	_, err = r.OpenShare(context.Background(), "Bob", "file:"+drillKey, token.OpenOptions{})
	wantRefused(t, "drill key in production recovery", err, DrillKey, "drill token")
}
