package ceremony

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/ceremony/transcript"
	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/crypto/token/pkcs11"
	"github.com/custodian-hsm/custodian/crypto/token/pkcs11/softhsm"
	"github.com/custodian-hsm/custodian/crypto/token/soft"
)

func TestDrillSoftTokens(t *testing.T) {
	for _, c := range []struct {
		n, m   int
		faults Faults
	}{
		{3, 2, Faults{}},
		{5, 3, Faults{}},
		{5, 3, Faults{LostToken: true, CorruptShare: true}},
	} {
		dir := filepath.Join(t.TempDir(), "drill")
		var steps []string
		report, err := RunDrill(context.Background(), DrillConfig{Custodians: c.n, Quorum: c.m, Tokens: SoftTokens, Dir: dir, Faults: c.faults,
			Progress: func(s string) { steps = append(steps, s) }})
		if err != nil {
			t.Fatalf("(%d,%d) %+v: %v\n%v", c.n, c.m, c.faults, err, report)
		}
		if !report.Accepted || !strings.Contains(report.String(), "accepted the restore blob") {
			t.Errorf("report: %s", report)
		}
		if c.faults.CorruptShare && !strings.Contains(report.String(), "corrupted — named and refused") {
			t.Errorf("corrupted-share drill not reported: %s", report)
		}
		if len(steps) < c.n+4 {
			t.Errorf("progress steps: %v", steps)
		}
		v, err := transcript.VerifyFile(report.Transcript)
		if err != nil || !v.OK() || !v.Closed || v.Final != report.Digest {
			t.Fatalf("drill transcript: %v %v", v.Summary(), err)
		}
		if v.Ending() != "signed off" {
			t.Errorf("the drill transcript ends %q", v.Ending())
		}
		for _, e := range v.Entries {
			if !e.Drill {
				t.Errorf("transcript entry %d (%s) is not marked drill", e.Seq, e.Step)
			}
		}
		if !strings.Contains(report.String(), "final digest") {
			t.Errorf("the report does not show the final digest:\n%s", report)
		}
		assertDrillNames(t, dir)
		assertNoSecrets(t, dir, nil)
	}
}

// SoftHSM drills run in a subprocess each: SoftHSM takes its configuration
// once per process.
func TestDrillSoftHSMTokens(t *testing.T) {
	if os.Getenv("CUSTODIAN_DRILL_CHILD") == "" {
		needSoftHSM(t)
		for _, c := range []string{"3,2,", "5,3,", "4,2,faults"} {
			cmd := exec.Command(os.Args[0], "-test.run=^TestDrillSoftHSMTokens$", "-test.v")
			cmd.Env = append(os.Environ(), "CUSTODIAN_DRILL_CHILD="+c)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("SoftHSM drill %s: %v\n%s", c, err, out)
			}
		}
		return
	}
	var n, m int
	var faults string
	fmt.Sscanf(strings.ReplaceAll(os.Getenv("CUSTODIAN_DRILL_CHILD"), ",", " "), "%d %d %s", &n, &m, &faults)
	dir := filepath.Join(t.TempDir(), "drill")
	f := Faults{}
	if faults == "faults" {
		f = Faults{WrongPIN: true, LostToken: true}
	}
	report, err := RunDrill(context.Background(), DrillConfig{Custodians: n, Quorum: m, Tokens: SoftHSMTokens, Dir: dir, Faults: f})
	if err != nil || !report.Accepted {
		t.Fatalf("(%d,%d): %v\n%v", n, m, err, report)
	}
	if f.WrongPIN && !strings.Contains(report.String(), "wrong PIN") {
		t.Errorf("wrong-PIN fault not reported:\n%s", report)
	}
	assertDrillNames(t, dir)
	// The drill put the process's SoftHSM configuration back when it
	// ended; the scan opens the drill's tokens, so it points at them again.
	t.Setenv(softhsm.EnvConf, filepath.Join(dir, "DRILL-softhsm", "softhsm2.conf"))
	assertNoSecrets(t, dir, [][]byte{drillSOPIN})
}

func needSoftHSM(t *testing.T) {
	t.Helper()
	if _, err := softhsm.Module(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("SoftHSM2 missing under CI (make test-deps installs softhsm2): %v", err)
		}
		t.Skip(err)
	}
}

// A drill leaves nothing behind in the process: after a SoftHSM drill the
// environment is as it was, and a production token listing in the same
// process shows exactly the tokens it showed before, none of the drill's.
func TestDrillLeavesNothingBehind(t *testing.T) {
	needSoftHSM(t)
	// The machine's own SoftHSM configuration, with no tokens.
	machine := t.TempDir()
	conf := filepath.Join(machine, "softhsm2.conf")
	os.WriteFile(conf, []byte("directories.tokendir = "+machine+"\nobjectstore.backend = file\n"), 0o600)
	t.Setenv(softhsm.EnvConf, conf)
	t.Setenv("PCSCLITE_CSOCK_NAME", "/nonexistent/custodian-test-pcscd.comm")
	env := func() string { return os.Getenv(softhsm.EnvConf) + "|" + os.Getenv("PCSCLITE_CSOCK_NAME") }
	listing := func() []string {
		infos, _ := Tokens().List(context.Background())
		var out []string
		for _, i := range infos {
			out = append(out, i.String())
		}
		return out
	}
	envBefore, before := env(), listing()

	dir := filepath.Join(t.TempDir(), "drill")
	report, err := RunDrill(context.Background(), DrillConfig{Custodians: 3, Quorum: 2, Tokens: SoftHSMTokens, Dir: dir})
	if err != nil || !report.Accepted {
		t.Fatalf("%v\n%v", err, report)
	}
	if got := env(); got != envBefore {
		t.Errorf("after the drill the environment is %q, before it was %q", got, envBefore)
	}
	after := listing()
	if strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("a production listing after the drill shows\n%s\nbefore the drill it showed\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
	}
	for _, tok := range after {
		if strings.Contains(tok, "DRILL-custodian") {
			t.Errorf("a production listing after the drill shows the drill token %s", tok)
		}
	}
}

func TestDrillRefusesImpossibleFaults(t *testing.T) {
	_, err := RunDrill(context.Background(), DrillConfig{Custodians: 3, Quorum: 3, Dir: filepath.Join(t.TempDir(), "d"), Faults: Faults{LostToken: true}})
	if err == nil || !strings.Contains(err.Error(), "one custodian more than the quorum") {
		t.Errorf("lost token with N = M: %v", err)
	}
}

// scanFor fails if any file under dir contains one of the secrets.
func scanFor(t *testing.T, dir string, secrets [][]byte) {
	t.Helper()
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		data, _ := os.ReadFile(p)
		for _, s := range secrets {
			if bytes.Contains(data, s) {
				t.Errorf("%s contains a secret", p)
			}
		}
		return nil
	})
}

// assertDrillNames checks that every file the drill wrote says DRILL in its
// name or in a DRILL folder.
func assertDrillNames(t *testing.T, dir string) {
	t.Helper()
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if !strings.Contains(rel, "DRILL") {
			t.Errorf("drill file %s does not say DRILL", rel)
		}
		return nil
	})
}

// assertNoSecrets opens the drill's security domain with its software keys
// to learn every share and the master key, then scans every file the drill
// wrote for them (raw, hex, base64, base64url) and for the drill PIN.
func assertNoSecrets(t *testing.T, dir string, extra [][]byte) {
	t.Helper()
	sdPath := filepath.Join(dir, "DRILL-drill-hsm-SD.json")
	sdBytes, err := os.ReadFile(sdPath)
	if err != nil {
		t.Fatal(err)
	}
	f, err := sd.ParseFile(sdBytes)
	if err != nil {
		t.Fatal(err)
	}
	secrets := append([][]byte{drillPIN}, extra...)
	var shares []*sd.Share
	for i := 0; i < len(f.SharedKeys.EncShares); i++ {
		var k sd.ShareKey
		if sk, err := soft.Open(context.Background(), filepath.Join(dir, "DRILL-custodian-"+string(rune('1'+i))+".key"), nil); err == nil {
			k = sk
		} else if mod, err := softhsm.Module(); err == nil {
			ref := fmt.Sprintf("pkcs11:token=DRILL-custodian-%d?module-path=%s", i+1, mod)
			tk, err := token.NewManager(pkcs11.New(pkcs11.Options{Drill: true, ConfigFile: "-"})).OpenKey(context.Background(), ref, token.OpenOptions{PIN: pinFunc(drillPIN)})
			if err != nil {
				continue // a lost token
			}
			defer tk.Close()
			k = tk
		} else {
			continue
		}
		s, err := sd.OpenShare(f, k)
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, append([]byte(nil), s.Bytes()...))
		shares = append(shares, s)
	}
	if len(shares) >= f.SharedKeys.Required {
		rec, err := sd.Recover(f, shares[:f.SharedKeys.Required])
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, append([]byte(nil), rec.MasterKey()...))
		rec.Wipe()
	}
	if len(secrets) < 2 {
		t.Fatal("the scan learned no secret to look for")
	}
	forms := func(s []byte) [][]byte {
		return [][]byte{s, []byte(hex.EncodeToString(s)), []byte(strings.ToUpper(hex.EncodeToString(s))),
			[]byte(base64.StdEncoding.EncodeToString(s)), []byte(base64.RawURLEncoding.EncodeToString(s))}
	}
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			for _, form := range forms(s) {
				if len(form) >= 6 && bytes.Contains(data, form) {
					t.Errorf("%s contains a secret (%d bytes)", p, len(s))
				}
			}
		}
		return nil
	})
}
