package ceremony

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/sgx"
	"github.com/custodian-hsm/custodian/crypto/sgx/quotegen"
	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/crypto/token/soft"
	"github.com/custodian-hsm/custodian/internal/testvectors"
)

var liveAt = time.Date(2025, 4, 23, 0, 0, 0, 0, time.UTC)

func liveExchange(t *testing.T) *x509.Certificate {
	t.Helper()
	c, _, err := sd.ReadExchangeCertificate(testvectors.Read(t, "live-2025-04", "exchange.cer"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func witnessed() *WitnessedException {
	return &WitnessedException{Reason: "rehearsal", ApprovedBy: "Wendy"}
}

func TestExchangeKeyLiveGenuine(t *testing.T) {
	c, err := CheckExchangeKey(liveExchange(t), ExchangeKeyPolicy{Mode: Production, At: liveAt})
	if err != nil || !c.Admitted() || len(c.Problems) != 0 {
		t.Fatalf("%v %v", err, c.Problems)
	}
	if got, want := c.Sentence(), "made inside a genuine Intel SGX enclave, signer known since 2025-04, not a debug enclave"; got != want {
		t.Fatalf("sentence %q", got)
	}
	text := strings.Join(c.Lines(), "\n")
	for _, want := range []string{"verdict: GENUINE", "MRENCLAVE: 5986123b3a753671389708d2c8fc9be4080c95146fba37a0adbc66676e49fb36",
		"MRSIGNER: db55904b231f08298eb093180562d07631c3cab9b7706b2efa53da58b42c943a", "ISVPRODID: 1  ISVSVN: 1", "not debug",
		"the key is bound to the quote", sgx.NotEvaluated, "decision: accepted", "checked at: 2025-04-23T00:00:00Z"} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
	if e := c.Event("x"); e.Exception != nil || !strings.Contains(e.Decision, "verified") {
		t.Errorf("event %+v", e)
	}
}

func TestExchangeKeyStaleNeedsException(t *testing.T) {
	c, err := CheckExchangeKey(liveExchange(t), ExchangeKeyPolicy{Mode: Production})
	var re *ExchangeKeyRefusedError
	if !errors.As(err, &re) || c.Hard || !strings.Contains(err.Error(), "2026-04-22") || !strings.Contains(c.Sentence(), "expired on 2026-04-22") {
		t.Fatalf("%v / %s", err, c.Sentence())
	}
	c, err = CheckExchangeKey(liveExchange(t), ExchangeKeyPolicy{Mode: Production, Exception: witnessed()})
	if err != nil || !c.Admitted() || c.Event("x").Exception == nil || !strings.Contains(c.Sentence(), "accepted by exception: rehearsal; approved by Wendy") {
		t.Fatalf("%v %s", err, c.Sentence())
	}
}

func TestExchangeKeyUnattestedAndHardRefusals(t *testing.T) {
	vec, _, _ := sd.ReadExchangeCertificate(testvectors.Read(t, "sd-3of2", "exchange.cer"))
	if _, err := CheckExchangeKey(vec, ExchangeKeyPolicy{Mode: Production}); err == nil || !strings.Contains(err.Error(), "no SGX attestation") {
		t.Fatalf("unattested: %v", err)
	}
	if _, err := CheckExchangeKey(vec, ExchangeKeyPolicy{Mode: Drill}); err == nil {
		t.Fatal("a drill admitted an unattested key without an exception")
	}
	if c, err := CheckExchangeKey(vec, ExchangeKeyPolicy{Mode: Production, Exception: witnessed()}); err != nil || !strings.Contains(c.Sentence(), "NOT attested") {
		t.Fatalf("with the exception: %v", err)
	}
	// A custodian's own certificate of the same security domain: refused
	// whatever the exception (the live SD and its custodian certificate).
	f, err := sd.ParseFile(testvectors.Read(t, "live-2025-04", "sd.json"))
	if err != nil {
		t.Fatal(err)
	}
	own, _, _ := sd.ReadExchangeCertificate(testvectors.Read(t, "live-2025-04", "cert_1.cer"))
	c, err := CheckExchangeKey(own, ExchangeKeyPolicy{Mode: Production, SD: f, Exception: witnessed()})
	if err == nil || !c.Hard || !strings.Contains(err.Error(), "custodian certificate 2 of this security domain") {
		t.Fatalf("custodian certificate: %v", err)
	}
	// A key under 2048 bits: refused whatever the exception.
	k, _ := rsa.GenerateKey(rand.Reader, 1024)
	der, _ := quotegen.ExchangeCertificate(rand.Reader, k, quotegen.CertSpec{CommonName: "small", NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)})
	small, _ := x509.ParseCertificate(der)
	if c, err := CheckExchangeKey(small, ExchangeKeyPolicy{Mode: Production, Exception: witnessed()}); err == nil || !c.Hard || !strings.Contains(err.Error(), "1024-bit") {
		t.Fatalf("1024-bit key: %v", err)
	}
}

func TestExchangeKeyEarlierIdentities(t *testing.T) {
	ids, err := IdentitiesFrom("plan.txt", []byte("# known\n"+IdentityLine(sgx.Identity{MRSIGNER: sgx.KnownSigners[0].MRSIGNER, ISVProdID: 1, ISVSVN: 1})+"\n"))
	if err != nil || len(ids) != 1 {
		t.Fatal(err)
	}
	if _, err := CheckExchangeKey(liveExchange(t), ExchangeKeyPolicy{Mode: Production, At: liveAt, Earlier: ids}); err != nil {
		t.Fatalf("same identity: %v", err)
	}
	higher := ids[0]
	higher.ISVSVN = 2
	if _, err := CheckExchangeKey(liveExchange(t), ExchangeKeyPolicy{Mode: Production, At: liveAt, Earlier: []sgx.Identity{higher}}); err == nil || !strings.Contains(err.Error(), "went down from 2") {
		t.Fatalf("downgrade: %v", err)
	}
	other := ids[0]
	other.MRSIGNER[0] ^= 1
	if _, err := CheckExchangeKey(liveExchange(t), ExchangeKeyPolicy{Mode: Production, At: liveAt, Earlier: []sgx.Identity{other}}); err == nil || !strings.Contains(err.Error(), "signer changed since plan.txt") {
		t.Fatalf("other signer: %v", err)
	}
	// A transcript records the identity and gives it back.
	c, _ := CheckExchangeKey(liveExchange(t), ExchangeKeyPolicy{Mode: Production, At: liveAt})
	back, err := IdentitiesFrom("T-1 transcript", []byte(c.Event("recovery.exchange-key.attestation").Message))
	if err != nil || back[0].MRSIGNER != sgx.KnownSigners[0].MRSIGNER || back[0].ISVSVN != 1 {
		t.Fatalf("%v %+v", err, back)
	}
	if _, err := IdentitiesFrom("empty", []byte("nothing")); err == nil {
		t.Fatal("an empty plan gave identities")
	}
}

func TestParseWitnessedExceptionOfAnExchangeKey(t *testing.T) {
	e, err := ParseWitnessedException("drill against another simulator; approved by Wendy Witness")
	if err != nil || e.Reason != "drill against another simulator" || e.ApprovedBy != "Wendy Witness" {
		t.Fatalf("%+v %v", e, err)
	}
	for _, bad := range []string{"", "because", "; approved by W", "reason; approved by "} {
		if _, err := ParseWitnessedException(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// A production recovery refuses a forged exchange key (the live quote on
// another key) before any share can be opened, and records why.
func TestRecoveryRefusesForgedExchangeKey(t *testing.T) {
	rec := &MemoryRecorder{}
	r, err := NewRecovery(RecoveryConfig{Mode: Production, HSMName: "h", CeremonyID: "R", Witness: "W"}, token.NewManager(soft.New()), rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.LoadSD("sd.json", testvectors.Read(t, "sd-3of2", "sd.json")); err != nil {
		t.Fatal(err)
	}
	var ext []byte
	for _, e := range liveExchange(t).Extensions {
		if e.Id.Equal(sgx.OIDAttestation) {
			ext = e.Value
		}
	}
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	now := time.Now()
	der, _ := quotegen.ExchangeCertificate(rand.Reader, k, quotegen.CertSpec{CommonName: "forged", NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0), Extension: ext})
	_, err = r.LoadExchangeKey("forged.cer", der)
	var re *ExchangeKeyRefusedError
	if !errors.As(err, &re) || !re.Check.Result.Failed(sgx.CheckReportData) {
		t.Fatalf("forged key: %v", err)
	}
	if r.Step() != RecLoad || r.ExchangeKey() != nil {
		t.Fatal("a refused exchange key was loaded")
	}
	last := rec.Events[len(rec.Events)-1]
	if last.Step != "recovery.exchange-key.attestation" || !strings.Contains(last.Decision, "refused") {
		t.Fatalf("last event %+v", last)
	}
	if err := r.ConfirmExchangeKey("O", true); err == nil {
		t.Fatal("confirmed a refused key")
	}
}

// A custodian certificate loaded before the security domain is refused at
// the confirm step, before any share is opened.
func TestRecoveryRefusesCustodianCertificateAtConfirm(t *testing.T) {
	r, err := NewRecovery(RecoveryConfig{Mode: Production, HSMName: "h", CeremonyID: "R", Witness: "W"}, token.NewManager(soft.New()), &MemoryRecorder{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetExchangeKeyPolicy(ExchangeKeyPolicy{Exception: witnessed()}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.LoadExchangeKey("cert_0.cer", testvectors.Read(t, "live-2025-04", "cert_0.cer")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.LoadSD("sd.json", testvectors.Read(t, "live-2025-04", "sd.json")); err != nil {
		t.Fatal(err)
	}
	err = r.ConfirmExchangeKey("O", true)
	var re *ExchangeKeyRefusedError
	if !errors.As(err, &re) || !re.Check.Hard || r.Step() != RecLoad {
		t.Fatalf("%v, step %s", err, r.Step())
	}
}

// A drill shows the DRILL attestation verdict for the drill HSM's key.
func TestRecoveryDrillAttestation(t *testing.T) {
	h := newTestHSM(t)
	h.ExchangeBits = 4096 // as a drill does: the size is checked too
	ks := make([]*x509.Certificate, 0, 3)
	for i := 0; i < 3; i++ {
		k, _ := rsa.GenerateKey(rand.Reader, 2048)
		der, _ := quotegen.ExchangeCertificate(rand.Reader, k, quotegen.CertSpec{CommonName: "c", NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0)})
		c, _ := x509.ParseCertificate(der)
		ks = append(ks, c)
	}
	sdBytes, err := h.Activate(ks, 2, drillActivateDefaults())
	if err != nil {
		t.Fatal(err)
	}
	exPEM, err := h.InitRecovery()
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []Mode{Drill, Production} {
		r, err := NewRecovery(RecoveryConfig{Mode: mode, HSMName: "h", CeremonyID: "R", Witness: "W"}, token.NewManager(soft.New()), &MemoryRecorder{})
		if err != nil {
			t.Fatal(err)
		}
		r.LoadSD("sd.json", sdBytes)
		_, err = r.LoadExchangeKey("DRILL-exchange-key.cer", exPEM)
		if mode == Production {
			if err == nil || !strings.Contains(err.Error(), "PCK chain") {
				t.Fatalf("production accepted a DRILL attestation: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if s := r.ExchangeKeyCheck().Sentence(); !strings.HasPrefix(s, "DRILL attestation") || !strings.Contains(s, "signer known (drill)") {
			t.Fatalf("drill sentence %q", s)
		}
	}
}

// An enclave of the known signer with an ISVSVN below the shipped one is
// a downgrade; an unknown signer needs the exception (under a test root,
// through the same policy code).
func TestExchangeKeyIdentityProblems(t *testing.T) {
	r := &sgx.Result{Facts: sgx.Facts{MRSIGNER: sgx.KnownSigners[0].MRSIGNER, ISVProdID: 1, ISVSVN: 0}}
	known := sgx.KnownSigners[0]
	if p := identityProblems(r, &known, nil); len(p) != 1 || !strings.Contains(p[0], "ISVSVN 0 is lower than the 1") {
		t.Fatalf("downgrade below the shipped identity: %v", p)
	}
	if p := identityProblems(r, nil, nil); len(p) != 1 || !strings.Contains(p[0], "unknown enclave signer") {
		t.Fatalf("unknown signer: %v", p)
	}
	r.Facts.ISVSVN = 1
	if p := identityProblems(r, &known, nil); len(p) != 0 {
		t.Fatalf("the known identity: %v", p)
	}
}

func TestExchangeKeyCollateralDownloads(t *testing.T) {
	c, _ := CheckExchangeKey(liveExchange(t), ExchangeKeyPolicy{Mode: Production, At: liveAt})
	if d := strings.Join(c.CollateralDownloads(), "\n"); !strings.Contains(d, "tcb?fmspc=00606a000000") {
		t.Fatalf("downloads %q", d)
	}
	coll, err := sgx.LoadCollateral(testvectors.Path(t, "live-2025-04", "collateral"))
	if err != nil {
		t.Fatal(err)
	}
	c, _ = CheckExchangeKey(liveExchange(t), ExchangeKeyPolicy{Mode: Production, At: liveAt, Collateral: coll})
	if c.CollateralDownloads() != nil || c.TCB.PlatformStatus != "OutOfDateConfigurationNeeded" {
		t.Fatal("collateral brought, yet downloads listed")
	}
	vec, _, _ := sd.ReadExchangeCertificate(testvectors.Read(t, "sd-3of2", "exchange.cer"))
	c, _ = CheckExchangeKey(vec, ExchangeKeyPolicy{Mode: Production, Exception: witnessed()})
	if c.CollateralDownloads() != nil {
		t.Fatal("downloads listed for an unattested key")
	}
}
