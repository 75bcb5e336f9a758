package ceremony

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/ceremony/airgap"
	"github.com/custodian-hsm/custodian/crypto/drillhsm"
	"github.com/custodian-hsm/custodian/crypto/jwe"
	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/crypto/token/soft"
	"github.com/custodian-hsm/custodian/internal/testvectors"
)

func TestGuardRails(t *testing.T) {
	cases := []struct {
		n, m    int
		blocker bool
		want    string
	}{
		{3, 2, false, "a quorum of 2 is weak"},
		{3, 2, false, "if 2 of the 3 custodian tokens are lost"},
		{5, 3, false, "if 3 of the 5"},
		{4, 4, false, "losing any single token"},
		{3, 4, true, "cannot exceed the number of custodians"},
		{2, 2, true, "3 to 10 custodian certificates"},
		{11, 3, true, "3 to 10 custodian certificates"},
		{5, 1, true, "quorum must be between 2 and 10"},
	}
	for _, c := range cases {
		rails := GuardRails(c.n, c.m)
		found, blocked := false, false
		for _, g := range rails {
			found = found || strings.Contains(g.Message, c.want)
			blocked = blocked || g.Severity == Blocker
		}
		if !found || blocked != c.blocker {
			t.Errorf("GuardRails(%d, %d) = %+v; want %q, blocker %v", c.n, c.m, rails, c.want, c.blocker)
		}
		if (CheckQuorum(c.n, c.m) != nil) != c.blocker {
			t.Errorf("CheckQuorum(%d, %d) disagrees with the guard rails", c.n, c.m)
		}
	}
}

func TestDrillModeNamesFiles(t *testing.T) {
	if got := Drill.FileName("cert_0.cer"); got != "DRILL-cert_0.cer" {
		t.Errorf("drill file name %q", got)
	}
	if got := Production.FileName("cert_0.cer"); got != "cert_0.cer" {
		t.Errorf("production file name %q", got)
	}
}

// activationWithSoftKeys runs an activation with software keys against a
// drill HSM up to the loaded SD.
func activationWithSoftKeys(t *testing.T, n, m int, rec Recorder) (*Activation, *drillhsm.HSM, []byte, DrillTokens) {
	t.Helper()
	dir := t.TempDir()
	tokens := newSoftDrillTokens(dir)
	a, err := NewActivation(ActivationConfig{Mode: Drill, HSMName: "test-hsm", CeremonyID: "T-1", Custodians: n, Quorum: m, Witness: "Wendy"}, tokens.Manager(), rec)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if k, total := a.NextCustodian(); k != i+1 || total != n {
			t.Fatalf("NextCustodian = %d of %d", k, total)
		}
		if _, err := a.Enroll(context.Background(), "Custodian "+string(rune('A'+i)), tokens.Ref(i), token.EnrollRequest{}, tokens.Options(i)); err != nil {
			t.Fatal(err)
		}
	}
	if a.Step() != ActPackage {
		t.Fatalf("after enrolling all: step %s", a.Step())
	}
	pkg, err := a.WritePackage(filepath.Join(dir, "pkg"))
	if err != nil {
		t.Fatal(err)
	}
	instr, _ := os.ReadFile(filepath.Join(dir, "pkg", "DRILL-INSTRUCTIONS.txt"))
	for _, want := range []string{"az keyvault security-domain download --hsm-name test-hsm", "--sd-wrapping-keys DRILL-cert_0.cer DRILL-cert_1.cer", "--sd-quorum " + string(rune('0'+m)), "Export-AzKeyVaultSecurityDomain -Name test-hsm", "DRILL"} {
		if !strings.Contains(string(instr), want) {
			t.Errorf("instructions lack %q:\n%s", want, instr)
		}
	}
	if len(pkg.Manifest.Custodians) != n {
		t.Errorf("manifest lists %d custodians", len(pkg.Manifest.Custodians))
	}
	hsm, err := drillhsm.Create(filepath.Join(dir, "hsm"))
	if err != nil {
		t.Fatal(err)
	}
	sdBytes, err := hsm.Activate(a.certificates(), m, drillhsm.ActivateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return a, hsm, sdBytes, tokens
}

func TestActivationVerifiesSelfTestsAndProvesQuorum(t *testing.T) {
	rec := &MemoryRecorder{}
	a, _, sdBytes, tokens := activationWithSoftKeys(t, 4, 2, rec)
	if _, err := a.LoadSD("sd.json", sdBytes); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := a.SelfTest(context.Background(), i, tokens.Options(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.SelfTest(context.Background(), 0, tokens.Options(0)); err == nil {
		t.Error("a custodian opened their share twice")
	}
	if err := a.SkipSelfTest(3, "", ""); err == nil {
		t.Error("skip without reason and approver accepted")
	}
	if err := a.SkipSelfTest(3, "away on leave", "Wendy"); err != nil {
		t.Fatal(err)
	}
	if a.Step() != ActProve {
		t.Fatalf("step %s", a.Step())
	}
	if err := a.ProveQuorum(); err != nil {
		t.Fatal(err)
	}
	steps := strings.Join(rec.Steps(), " ")
	for _, want := range []string{"activation.setup", "activation.enroll", "activation.operator-package", "activation.sd.verified", "activation.self-test", "activation.self-test.skipped", "activation.quorum.proven"} {
		if !strings.Contains(steps, want) {
			t.Errorf("record lacks %s: %s", want, steps)
		}
	}
	last := rec.Events[len(rec.Events)-1]
	if !strings.Contains(last.Message, "two different quorums") {
		t.Errorf("with 3 shares for quorum 2 the proof must cross-check: %q", last.Message)
	}
}

func TestActivationRefusesWrongOrder(t *testing.T) {
	dir := t.TempDir()
	tokens := newSoftDrillTokens(dir)
	a, err := NewActivation(ActivationConfig{Mode: Drill, HSMName: "h", CeremonyID: "T", Custodians: 3, Quorum: 2, Witness: "W"}, tokens.Manager(), &MemoryRecorder{})
	if err != nil {
		t.Fatal(err)
	}
	var se *StepError
	if _, err := a.LoadSD("sd.json", []byte("{}")); !errors.As(err, &se) {
		t.Errorf("LoadSD before enrollment: %v", err)
	}
	if err := a.Cancel("W", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Enroll(context.Background(), "X", tokens.Ref(0), token.EnrollRequest{}, token.OpenOptions{}); !errors.Is(err, ErrCancelled) {
		t.Errorf("Enroll after Cancel: %v", err)
	}
}

// Every tampered SD is caught when loaded at activation, naming the culprit.
func TestActivationCatchesTamperedSD(t *testing.T) {
	a0, _, sdBytes, _ := activationWithSoftKeys(t, 3, 2, &MemoryRecorder{})
	foreign, err := soft.GenerateFiles(filepath.Join(t.TempDir(), "f.key"), token.EnrollRequest{Name: "Mallory"})
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(*sd.File)) []byte {
		file, err := sd.ParseFile(sdBytes)
		if err != nil {
			t.Fatal(err)
		}
		f(file)
		return file.Marshal()
	}
	cases := map[string][]byte{
		"share removed": mutate(func(f *sd.File) { f.SharedKeys.EncShares = f.SharedKeys.EncShares[:2] }),
		"share duplicated": mutate(func(f *sd.File) {
			f.SharedKeys.EncShares = append(f.SharedKeys.EncShares[:2], f.SharedKeys.EncShares[0])
		}),
		"foreign certificate": mutate(func(f *sd.File) {
			f.SharedKeys.EncShares[1].X5tS256 = sd.Thumbprint(foreign.Raw)
		}),
		"required changed": mutate(func(f *sd.File) { f.SharedKeys.Required = 3 }),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			// A fresh activation per case, at the await-SD step.
			a := &Activation{Lifecycle: newLifecycle("activation", Drill, &MemoryRecorder{}), cfg: a0.cfg, tokens: a0.tokens, step: ActAwaitSD, custodians: a0.custodians,
				opened: map[int]*sd.Share{}, selfTested: map[int]bool{}, skipped: map[int]Exception{}}
			if _, err := a.LoadSD("sd.json", data); err == nil {
				t.Fatal("tampered SD accepted")
			}
			if a.Step() != ActAwaitSD {
				t.Errorf("a rejected SD moved the ceremony to %s", a.Step())
			}
		})
	}
}

// A bit flipped in a share or in an EncData item is caught by the self-test
// or the quorum proof, naming the culprit.
func TestActivationCatchesFlippedBits(t *testing.T) {
	t.Run("share", func(t *testing.T) {
		a, _, sdBytes, tokens := activationWithSoftKeys(t, 3, 2, &MemoryRecorder{})
		bad, err := corruptShare(sdBytes, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.LoadSD("sd.json", bad); err != nil {
			t.Fatal(err) // structure is fine; the damage is inside the ciphertext
		}
		err = a.SelfTest(context.Background(), 1, tokens.Options(1))
		if err == nil || !strings.Contains(err.Error(), "Custodian B") {
			t.Errorf("flipped share: %v", err)
		}
	})
	t.Run("encdata", func(t *testing.T) {
		a, _, sdBytes, tokens := activationWithSoftKeys(t, 3, 2, &MemoryRecorder{})
		f, _ := sd.ParseFile(sdBytes)
		o, err := jwe.Parse(f.EncData.Data[1].CompactJWE)
		if err != nil {
			t.Fatal(err)
		}
		o.Ciphertext[0] ^= 0x80
		f.EncData.Data[1].CompactJWE = o.Compact()
		if _, err := a.LoadSD("sd.json", f.Marshal()); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			if err := a.SelfTest(context.Background(), i, tokens.Options(i)); err != nil {
				t.Fatal(err)
			}
		}
		err = a.ProveQuorum()
		if err == nil || !strings.Contains(err.Error(), f.EncData.Data[1].Tag) {
			t.Errorf("flipped EncData item: %v", err)
		}
	})
}

// Recovery with the shared vectors: two software custodians, the vector
// exchange key; the blob opens with exchange.key to the expected contents.
func TestRecoveryWithVectors(t *testing.T) {
	dir := testvectors.Path(t, "sd-3of2")
	sdBytes := testvectors.Read(t, "sd-3of2", "sd.json")
	exBytes := testvectors.Read(t, "sd-3of2", "exchange.cer")
	rec := &MemoryRecorder{}
	r, err := NewRecovery(RecoveryConfig{Mode: Drill, HSMName: "vector-hsm", CeremonyID: "R-1", Witness: "Wendy"}, token.NewManager(soft.New()), rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.LoadSD("sd.json", sdBytes); err != nil {
		t.Fatal(err)
	}
	// The vector's exchange key is not attested (it comes from no HSM):
	// the witness records the exception, as for any other simulator.
	if _, err := r.LoadExchangeKey("exchange.cer", exBytes); err == nil || !strings.Contains(err.Error(), "no SGX attestation") {
		t.Fatalf("an unattested exchange key was accepted without an exception: %v", err)
	}
	if err := r.SetExchangeKeyPolicy(ExchangeKeyPolicy{Exception: &WitnessedException{Reason: "test vector from no HSM", ApprovedBy: "Wendy"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.LoadExchangeKey("exchange.cer", exBytes); err != nil {
		t.Fatal(err)
	}
	if _, err := r.OpenShare(context.Background(), "Alice", "file:"+filepath.Join(dir, "keys", "cert_0.key"), token.OpenOptions{}); err == nil {
		t.Fatal("opened a share before the operator confirmed the exchange key")
	}
	if err := r.ConfirmExchangeKey("Olivia", true); err != nil {
		t.Fatal(err)
	}
	if _, err := r.OpenShare(context.Background(), "Alice", "file:"+filepath.Join(dir, "keys", "cert_0.key"), token.OpenOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.OpenShare(context.Background(), "Alice", "file:"+filepath.Join(dir, "keys", "cert_2.key"), token.OpenOptions{}); err == nil {
		t.Error("the same custodian counted twice")
	}
	if _, err := r.OpenShare(context.Background(), "Mallory", "file:"+filepath.Join(dir, "keys", "cert_0.key"), token.OpenOptions{}); err == nil || !strings.Contains(err.Error(), "cannot count twice") {
		t.Errorf("the same key counted twice: %v", err)
	}
	if _, err := r.BuildBlob(rand.Reader); err == nil || !strings.Contains(err.Error(), "call 1 more") {
		t.Errorf("blob below quorum: %v", err)
	}
	if k, m := r.Progress(); k != 1 || m != 2 {
		t.Errorf("progress %d of %d", k, m)
	}
	if _, err := r.OpenShare(context.Background(), "Carol", "file:"+filepath.Join(dir, "keys", "cert_2.key"), token.OpenOptions{}); err != nil {
		t.Fatal(err)
	}
	blob, err := r.BuildBlob(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	path, err := r.Export(out)
	if err != nil {
		t.Fatal(err)
	}
	if onDisk, _ := os.ReadFile(path); string(onDisk) != string(blob) {
		t.Error("exported blob differs")
	}
	instr, _ := os.ReadFile(filepath.Join(out, "DRILL-UPLOAD-INSTRUCTIONS.txt"))
	for _, want := range []string{"az keyvault security-domain upload --hsm-name vector-hsm --sd-file DRILL-vector-hsm-restore-blob.json --restore-blob", "Import-AzKeyVaultSecurityDomain -Name vector-hsm", "-ImportRestoredBlob",
		"Exchange key attestation: NOT attested", "accepted by exception: test vector from no HSM; approved by Wendy"} {
		if !strings.Contains(string(instr), want) {
			t.Errorf("upload instructions lack %q", want)
		}
	}
	openBlobWithVectorKey(t, blob)
}

func TestRecoveryRefusesMismatchedExchangeKey(t *testing.T) {
	r, err := NewRecovery(RecoveryConfig{Mode: Drill, HSMName: "h", CeremonyID: "R", Witness: "W"}, token.NewManager(soft.New()), &MemoryRecorder{})
	if err != nil {
		t.Fatal(err)
	}
	r.LoadSD("sd.json", testvectors.Read(t, "sd-3of2", "sd.json"))
	r.SetExchangeKeyPolicy(ExchangeKeyPolicy{Exception: &WitnessedException{Reason: "test vector", ApprovedBy: "W"}})
	r.LoadExchangeKey("ex.cer", testvectors.Read(t, "sd-3of2", "exchange.cer"))
	if err := r.ConfirmExchangeKey("Olivia", false); err == nil {
		t.Fatal("a mismatched exchange key let the recovery go on")
	}
	if r.Step() != RecConfirm {
		t.Errorf("step %s after a mismatch", r.Step())
	}
}

// openBlobWithVectorKey opens a blob with the vectors' exchange private key
// and compares every item with expected.json.
func openBlobWithVectorKey(t *testing.T, blob []byte) {
	t.Helper()
	var exp struct {
		ContentsHex map[string]string `json:"contents_hex"`
	}
	if err := json.Unmarshal(testvectors.Read(t, "sd-3of2", "expected.json"), &exp); err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(testvectors.Read(t, "sd-3of2", "exchange.key"))
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sd.ParseRestoreBlob(blob)
	if err != nil {
		t.Fatal(err)
	}
	opened, err := sd.OpenRestoreBlob(b, jwe.RSAKeyDecrypter{Key: k.(*rsa.PrivateKey)})
	if err != nil {
		t.Fatal(err)
	}
	defer opened.Wipe()
	for i, tag := range opened.Tags {
		if hex.EncodeToString(opened.Items[i]) != exp.ContentsHex[tag] {
			t.Errorf("blob item %s differs from the vector", tag)
		}
	}
}

func newTestHSM(t *testing.T) *drillhsm.HSM {
	t.Helper()
	h, err := drillhsm.Create(filepath.Join(t.TempDir(), "hsm"))
	if err != nil {
		t.Fatal(err)
	}
	h.ExchangeBits = 2048
	return h
}

func drillActivateDefaults() drillhsm.ActivateOptions { return drillhsm.ActivateOptions{} }

func TestAirGapFindingsAreRecordedLoudlyInProduction(t *testing.T) {
	findings := &airgap.Report{Findings: []airgap.Finding{{Check: "network", Severity: airgap.Warning, Message: "network interface(s) up: eth0"}}}
	for _, mode := range []Mode{Production, Drill} {
		rec := &MemoryRecorder{}
		_, err := NewActivation(ActivationConfig{Mode: mode, HSMName: "h", CeremonyID: "A", Custodians: 3, Quorum: 2, Witness: "Wendy", AirGap: findings}, token.NewManager(), rec)
		if err != nil {
			t.Fatal(err)
		}
		var e *Event
		for i := range rec.Events {
			if rec.Events[i].Step == "airgap.check" {
				e = &rec.Events[i]
			}
		}
		if e == nil || !strings.Contains(e.Message, "eth0") {
			t.Fatalf("%s: air-gap check not recorded: %v", mode, rec.Steps())
		}
		if mode == Production && !strings.Contains(e.Decision, "not fully air-gapped") {
			t.Errorf("production decision %q", e.Decision)
		}
		if mode == Drill && e.Decision != "noted (drill)" {
			t.Errorf("drill decision %q", e.Decision)
		}
	}
}
